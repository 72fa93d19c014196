// SPDX-License-Identifier: Apache-2.0
// A guest process killed mid-request (sst-fault load --kill-every): a
// victim process keeps requests in flight on a device and is SIGKILLed
// while the device still holds some of them. The driver must reclaim them
// without disturbing anyone else; wait_driver_quiet() checks afterwards that
// every request the driver handed to the device came back exactly once.
#pragma once

#include <cstdint>
#include <string>

#include "sst_channel.h"

namespace vsst::guest {

struct VictimResult {
	bool killed = false;          // SIGKILLed while it had requests in flight
	uint64_t in_flight = 0;       // requests written and not read back at the kill
	uint64_t answered = 0;        // answers it had read before
	std::string error;            // why no victim could be killed ("" if killed)
};

// Forks a victim on `device` that keeps `depth` COMPUTEs of `units` in
// flight, waits (at most bound_s) until it has answers flowing and requests
// outstanding, lets it run delay_ms more, then SIGKILLs and reaps it.
VictimResult kill_one_victim(const std::string &device, unsigned depth, uint64_t units,
			     unsigned delay_ms, double bound_s);

// Waits (at most bound_s) until the driver has nothing in flight on the
// channel's device, then checks that the driver's totals balance
// (submitted = completed: every request it gave the device came back once).
// Returns "" when they do, else the reason. *out gets the last statistics.
std::string wait_driver_quiet(Channel &ch, double bound_s, sst_ioc_stats *out);

} // namespace vsst::guest
