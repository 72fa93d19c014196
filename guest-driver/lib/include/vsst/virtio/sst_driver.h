// SPDX-License-Identifier: Apache-2.0
// virtio-sst driver: speaks the SSTRequest/SSTResponse ABI of
// vsst/sst-protocol.h. Each request travels as one chain {out: SSTRequest,
// in: SSTResponse} on the request queue, from a pool of pre-allocated
// slots in guest memory; the event queue is kept stocked with SSTEvent
// buffers. Many requests may be in flight; completions come back in any
// order and are matched by the slot recorded in the chain token, then
// checked (length, request_id) before they are reported.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <optional>
#include <vector>

#include "vsst/sst-protocol.h"
#include "vsst/virtio/device.h"

namespace vsst::virtio {

struct SstResult {
	uint64_t request_id = 0; // assigned by submit()
	uint32_t len = 0;        // bytes the device wrote
	bool valid = false;      // len covers the header and request_id matches
	SSTResponse resp{};      // copied out of guest memory
	uint32_t status() const { return valid ? resp.status : static_cast<uint32_t>(SST_STATUS_ERROR); }
};

struct SstDriverStats {
	uint64_t submitted = 0, completed = 0, invalid = 0, interrupts = 0, events = 0;
};

class SstDriver final : public Driver {
public:
	struct Options {
		uint16_t queue_size = 256;
		uint16_t max_inflight = 64;
		uint16_t event_buffers = 16;
	};
	static constexpr uint32_t kDeviceId = VIRTIO_ID_SST;

	// Full virtio initialisation (throws Error on failure).
	SstDriver(Transport &t, GuestMemory &mem, Options opt);
	SstDriver(Transport &t, GuestMemory &mem) : SstDriver(t, mem, Options{}) {}
	~SstDriver() override { quiesce(); }
	const char *name() const override { return "virtio-sst"; }

	const SSTConfig &config() const { return config_; }
	uint16_t max_inflight() const { return static_cast<uint16_t>(slots_.size()); }
	size_t in_flight() const { return slots_.size() - free_slots_.size(); }

	// Queues a copy of the first len bytes of req (request_id is replaced
	// by a fresh one, returned). nullopt: no free slot. Call kick() after.
	std::optional<uint64_t> submit(const SSTRequest &req, size_t len = sizeof(SSTRequest));
	void kick();
	// Delivers every finished request and collects events; returns the
	// number of completions delivered.
	size_t reap(const std::function<void(const SstResult &)> &fn);
	// Sleeps until an interrupt (or the timeout); true when something is
	// ready to reap.
	bool wait(std::chrono::milliseconds timeout);
	// submit + kick + wait for this request. Other completions seen
	// meanwhile are kept for the next reap(). Throws TimeoutError.
	SstResult call(const SSTRequest &req, std::chrono::milliseconds timeout,
		       size_t len = sizeof(SSTRequest));
	std::vector<SSTEvent> take_events();

	const SstDriverStats &stats() const { return stats_; }
	// The queue's reason when the device broke the ring protocol.
	std::string broken_reason() const;

private:
	struct Slot {
		DmaBuffer req, resp;
		uint64_t request_id = 0;
	};
	void poll_queues();
	void post_event_buffer(uint16_t i);

	Options opt_;
	SSTConfig config_{};
	std::vector<Slot> slots_;
	std::vector<uint16_t> free_slots_;
	std::vector<DmaBuffer> event_bufs_;
	std::deque<SstResult> done_;
	std::vector<SSTEvent> events_;
	uint64_t next_request_id_ = 1;
	SstDriverStats stats_;
};

} // namespace vsst::virtio
