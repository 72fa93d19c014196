// SPDX-License-Identifier: Apache-2.0
// One open /dev/sstN seen through the driver's user ABI: the plain
// read()/write() interface and the ioctls of <vsst/sst-ioctl.h>. An
// interface, so that the test cases can also run against an in-process
// fake device in host-side tests.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <vsst/sst-ioctl.h>
#include <vsst/sst-protocol.h>

namespace vsst::guest {

// Every call returns 0 (or a byte count) on success and -errno on failure.
class Channel {
public:
	virtual ~Channel() = default;

	// Plain ABI: whole SSTRequests in, whole SSTResponses out.
	virtual ssize_t write_raw(const void *buf, size_t len) = 0;
	virtual ssize_t read_raw(void *buf, size_t len) = 0;
	// Waits up to timeout_ms for any of the poll(2) events; stores what is ready.
	virtual int poll(short events, int timeout_ms, short *revents) = 0;
	virtual int set_nonblock(bool on) = 0;

	// ioctl ABI.
	virtual int info(sst_ioc_info *out) = 0;
	virtual int stats(sst_ioc_stats *out) = 0;
	virtual int submit(const SSTRequest *reqs, uint32_t n, uint64_t *ids, bool nonblock,
			   uint32_t *submitted) = 0;
	virtual int reap(SSTResponse *resps, uint32_t n, uint32_t min_complete, int timeout_ms,
			 uint32_t *reaped) = 0;
	virtual int set_timeout(uint32_t ms) = 0;
	virtual int events_enable(bool on) = 0;
	virtual int get_events(SSTEvent *events, uint32_t n, int timeout_ms, uint32_t *got,
			       uint32_t *dropped) = 0;
};

// Opens a new, independent channel to the same device (used per process).
using ChannelOpener = std::function<std::unique_ptr<Channel>(int *err)>;

// A channel over a real device node.
std::unique_ptr<Channel> open_device(const std::string &path, int *err);

// write() one request, then read() its response: the reference driver's
// synchronous pattern. Returns 0 or -errno (-EIO on a short transfer).
int roundtrip(Channel &ch, const SSTRequest &req, SSTResponse &resp);

} // namespace vsst::guest
