// SPDX-License-Identifier: Apache-2.0
// An in-process stand-in for /dev/sstN (driver + device + simulator) with
// the semantics sst-test expects, plus fault knobs that make it misbehave
// in one precise way each, so the tests can prove every check can fail.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "sst_channel.h"

namespace vsst::guest::testing {

struct FakeFaults {
	bool flip_echo_byte = false;    // ECHO returns one byte changed
	bool no_bounds_check = false;   // READ/WRITE past the end answer OK
	bool wrong_user_data = false;   // NOOP responses carry another user_data
	bool corrupt_read = false;      // READ returns one byte changed
	bool no_async_event = false;    // asynchronous COMPUTE raises no event
	bool no_events_feature = false; // GET_INFO does not offer SST_FEATURE_EVENTS
	bool accept_bad_type = false;   // unknown types answer OK
	bool cross_fds = false;         // responses go to the most recently opened fd
	bool partial_submit = false;    // SUBMIT takes at most 16 requests per call (not a fault)
	int64_t corrupt_addr = -1;      // a READ covering this address returns its byte changed
	bool ignore_write = false;      // WRITE answers OK but stores nothing
	bool fail_compute = false;      // COMPUTE with work answers ERROR
};

struct FakeDevice;

// Opens channels to one fake device; all of them share its memory.
class FakeSst {
public:
	explicit FakeSst(uint64_t memory_size = 4u << 20, FakeFaults faults = {});
	std::unique_ptr<Channel> open();
	ChannelOpener opener();

private:
	std::shared_ptr<FakeDevice> dev_;
};

} // namespace vsst::guest::testing
