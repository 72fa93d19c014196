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
	bool killed = false;    // SIGKILLed while it had requests in flight
	uint64_t in_flight = 0; // requests written and not read back at the kill
	uint64_t answered = 0;  // answers it had read before
	std::string error;      // why no victim could be killed ("" if killed)
};

// Forks a victim on `device` that writes `depth` 4 KiB READs.
// at_once: it SIGKILLs itself as soon as the write returns, so its requests
// may still be in the device (the driver frees those when they come back).
// Otherwise it keeps `depth` in flight (read one answer, write one more) and
// is SIGKILLed delay_ms after its first answer: some of its requests are
// then in the device, some answered and unread (freed at its close).
// Waits at most bound_s for the victim; reaps it.
VictimResult kill_one_victim(const std::string &device, unsigned depth, bool at_once, unsigned delay_ms,
			     double bound_s);

// Waits (at most bound_s) until the driver has nothing in flight on the
// channel's device, then checks that the driver's totals balance
// (submitted = completed: every request it gave the device came back once).
// Returns "" when they do, else the reason. *out gets the last statistics.
std::string wait_driver_quiet(Channel &ch, double bound_s, sst_ioc_stats *out);

// Seconds on CLOCK_MONOTONIC (the load's and the victims' one clock).
double now_s();

} // namespace vsst::guest
