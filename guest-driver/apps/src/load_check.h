// SPDX-License-Identifier: Apache-2.0
// Checked load for fault-injection and soak runs (sst-fault load): keeps
// requests that need the simulator (COMPUTE, WRITE, READ) in flight on
// /dev/sstN and accounts for every one of them. Each request carries a
// unique user_data; a response whose user_data was issued and already
// answered is a duplicate, one that was never issued is unknown, and a
// request still unanswered when the driver says nothing is in flight is lost.
// Statuses are counted per kind, so a run across a simulator restart can
// allow NO_DEVICE while still requiring exactly one answer per request.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "sst_channel.h"

namespace vsst::guest {

// Shared between the worker processes of one run (MAP_SHARED memory), so
// only lock-free atomics.
struct LoadCounters {
	std::atomic<uint64_t> submitted{0};
	std::atomic<uint64_t> answered{0};
	std::atomic<uint64_t> status[6]{};   // by SSTStatus
	std::atomic<uint64_t> bad_status{0}; // a status outside the enum
	std::atomic<uint64_t> duplicate{0};
	std::atomic<uint64_t> unknown{0};
	std::atomic<uint64_t> lost{0};
	std::atomic<uint64_t> mismatch{0};  // READ data differs from the last OK WRITE
	std::atomic<uint64_t> io_errors{0}; // write()/read() failures other than ENODATA
};
static_assert(std::atomic<uint64_t>::is_always_lock_free);

struct LoadWorkerParams {
	unsigned index = 0;          // worker number: part of user_data, picks the memory area
	unsigned depth = 8;          // lanes, i.e. requests in flight
	uint32_t io_size = 256;      // bytes per WRITE/READ
	uint64_t compute_units = 64; // work items per COMPUTE
	bool verify = true;          // compare READ data with the lane's last OK WRITE
	uint64_t max_requests = 0;   // stop after this many submissions (0: only by *stop)
	uint64_t seed = 1;
};

// Runs until *stop becomes true (or max_requests were submitted), then
// drains. Returns 0, or -errno if the channel failed so that the lanes
// cannot be accounted for (those requests count as lost).
int run_load_worker(Channel &ch, const LoadWorkerParams &p, LoadCounters &c, const std::atomic<bool> &stop);

// "submitted=.. answered=.. ok=.. ..." for the report lines.
std::string describe(const LoadCounters &c);

} // namespace vsst::guest
