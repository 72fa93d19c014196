// SPDX-License-Identifier: Apache-2.0
// The cases of sst-test. Each runs against a Channel and says PASS, FAIL or
// SKIP (a prerequisite the device does not offer) with a short detail.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sst_channel.h"

namespace vsst::guest {

struct CaseContext {
	Channel &ch;               // the main channel
	ChannelOpener open;        // opens more channels (extra fds, child processes)
	std::string sysfs_dir;     // /sys/class/misc/sstN, empty when unknown
	uint64_t memory_size = 0;  // device memory, from GET_INFO
	uint32_t capabilities = 0; // feature bits, from GET_INFO
	uint64_t seed = 1;
	unsigned procs = 4;        // processes of the concurrency case
	unsigned iterations = 200; // requests per process there
	int child_timeout_s = 120; // bound on the concurrency case
};

struct CaseResult {
	enum class Outcome { pass, fail, skip } outcome;
	std::string detail;
};

struct TestCase {
	std::string_view name;
	std::string_view what;
	CaseResult (*run)(CaseContext &ctx);
};

const std::vector<TestCase> &all_cases();

// Reads and drops responses a failed case left behind, so that the next
// case starts clean. Returns how many there were.
unsigned drain_channel(Channel &ch);

// Sends GET_INFO and fills ctx.memory_size and ctx.capabilities.
// Returns 0 or -errno / a positive SST status on failure.
int probe_device(CaseContext &ctx);

} // namespace vsst::guest
