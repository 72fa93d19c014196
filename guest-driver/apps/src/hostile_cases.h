// SPDX-License-Identifier: Apache-2.0
// Hostile user space (sst-fault hostile): malformed use of /dev/sstN through
// the raw system calls (short and odd lengths, bad pointers, bad request
// types, out-of-range READ/WRITE, garbage and malformed ioctls, huge counts,
// abandoned requests, random request bytes). Every case expects a clear
// error or an INVALID response, never a hang, and the device must still
// work afterwards (the final "health" case).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vsst::guest {

struct HostileContext {
	std::string device;       // /dev/sstN
	int fd = -1;              // open on device
	uint64_t memory_size = 0; // device memory (GET_INFO)
	uint64_t seed = 1;
	unsigned random_count = 400; // requests of the random_requests case
};

struct HostileResult {
	bool pass = false;
	std::string detail;
};

struct HostileCase {
	std::string_view name;
	std::string_view what;
	HostileResult (*run)(HostileContext &ctx);
};

const std::vector<HostileCase> &hostile_cases();

} // namespace vsst::guest
