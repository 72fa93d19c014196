// SPDX-License-Identifier: Apache-2.0
// Per-device counters, updated from the caller's thread and the I/O thread.
#pragma once

#include <atomic>
#include <cstdint>

namespace vsst {

struct Stats {
	std::atomic<uint64_t> requests{0};  // accepted submits
	std::atomic<uint64_t> responses{0}; // completions queued for live cookies
	std::atomic<uint64_t> local{0};     // answered by the engine (NOOP/ECHO/GET_INFO/RESET)
	std::atomic<uint64_t> forwarded{0}; // handed to the simulator client
	std::atomic<uint64_t> errors{0};    // ERROR/BUSY/INVALID completions + simulator protocol faults
	std::atomic<uint64_t> no_device{0};
	std::atomic<uint64_t> timeouts{0};
	std::atomic<uint64_t> events{0};     // simulator events queued
	std::atomic<uint64_t> reconnects{0}; // connections established after a lost one
	std::atomic<uint32_t> connected{0};

	static void bump(std::atomic<uint64_t> &c, uint64_t n = 1)
	{
		c.fetch_add(n, std::memory_order_relaxed);
	}
};

} // namespace vsst
