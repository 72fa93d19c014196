// SPDX-License-Identifier: Apache-2.0
#include "vsst/virtio/sst_driver.h"

#include <cstring>
#include <utility>

#include "vsst/virtio/error.h"
#include "vsst/virtio/spec.h"

namespace vsst::virtio {

SstDriver::SstDriver(Transport &t, GuestMemory &mem, Options opt) : Driver(t, mem), opt_(opt)
{
	if (t.device_id() != kDeviceId)
		throw Error(t.name() + ": not a virtio-sst device (id " + std::to_string(t.device_id()) +
			    ")");
	const uint64_t sst_bits = (uint64_t{1} << (SST_FEATURE_RESET + 1)) - 1;
	dev_.negotiate(sst_bits);
	const uint16_t sizes[SST_NUM_VQS] = {opt.queue_size, 4, opt.event_buffers};
	dev_.setup_queues(sizes);
	if (dev_.config_size() >= sizeof(SSTConfig))
		config_ = dev_.read_config<SSTConfig>(0);

	// Two descriptors per request: the slot count follows the queue.
	const uint16_t nslots = std::min<uint16_t>(
		opt.max_inflight, static_cast<uint16_t>(dev_.queue(SST_VQ_REQUEST).size() / 2));
	if (nslots == 0)
		throw Error(t.name() + ": request queue too small");
	slots_.resize(nslots);
	for (uint16_t i = 0; i < nslots; i++) {
		slots_[i].req = DmaBuffer(mem, sizeof(SSTRequest), 64);
		slots_[i].resp = DmaBuffer(mem, sizeof(SSTResponse), 64);
		free_slots_.push_back(static_cast<uint16_t>(nslots - 1 - i));
	}
	SplitVirtqueue &evq = dev_.queue(SST_VQ_EVENT);
	event_bufs_.resize(evq.size());
	for (uint16_t i = 0; i < evq.size(); i++) {
		event_bufs_[i] = DmaBuffer(mem, sizeof(SSTEvent), 8);
		post_event_buffer(i);
	}
	dev_.queue(SST_VQ_REQUEST).disable_cb();
	dev_.driver_ok();
	evq.kick();
}

void SstDriver::post_event_buffer(uint16_t i)
{
	const BufferRef in{event_bufs_[i].gpa(), sizeof(SSTEvent)};
	dev_.queue(SST_VQ_EVENT).add_buffer({}, {&in, 1}, i);
}

std::optional<uint64_t> SstDriver::submit(const SSTRequest &req, size_t len)
{
	if (len == 0 || len > sizeof(SSTRequest))
		throw Error("sst: request length " + std::to_string(len) + " out of range");
	if (free_slots_.empty())
		return std::nullopt;
	const uint16_t s = free_slots_.back();
	Slot &slot = slots_[s];
	const uint64_t id = next_request_id_++;
	SSTRequest *dst = slot.req.as<SSTRequest>();
	std::memcpy(dst, &req, len);
	if (len >= offsetof(SSTRequest, user_data))
		dst->request_id = id;
	std::memset(slot.resp.host(), 0, SST_RESPONSE_HEADER_SIZE);
	const BufferRef out{slot.req.gpa(), static_cast<uint32_t>(len)};
	const BufferRef in{slot.resp.gpa(), sizeof(SSTResponse)};
	const AddResult r = dev_.queue(SST_VQ_REQUEST).add_buffer({&out, 1}, {&in, 1}, s);
	if (r == AddResult::kNoSpace)
		return std::nullopt;
	if (r != AddResult::kOk)
		throw Error("sst: request queue refused the buffer: " + broken_reason());
	free_slots_.pop_back();
	slot.request_id = id;
	stats_.submitted++;
	return id;
}

void SstDriver::kick()
{
	dev_.queue(SST_VQ_REQUEST).kick();
}

void SstDriver::poll_queues()
{
	SplitVirtqueue &rq = dev_.queue(SST_VQ_REQUEST);
	while (auto used = rq.get_buffer()) {
		// The token is our slot index, recorded privately at add time.
		const uint16_t s = static_cast<uint16_t>(used->token);
		Slot &slot = slots_[s];
		SstResult &res = done_.emplace_back();
		res.request_id = slot.request_id;
		res.len = used->len;
		std::memcpy(&res.resp, slot.resp.host(),
			    used->len); // len <= sizeof(SSTResponse), checked by the ring
		res.valid = used->len >= SST_RESPONSE_HEADER_SIZE && res.resp.request_id == slot.request_id;
		if (!res.valid)
			stats_.invalid++;
		free_slots_.push_back(s);
		stats_.completed++;
	}
	SplitVirtqueue &evq = dev_.queue(SST_VQ_EVENT);
	bool reposted = false;
	while (auto used = evq.get_buffer()) {
		const uint16_t i = static_cast<uint16_t>(used->token);
		if (used->len >= sizeof(SSTEvent)) {
			SSTEvent ev;
			std::memcpy(&ev, event_bufs_[i].host(), sizeof ev);
			events_.push_back(ev);
			stats_.events++;
		}
		post_event_buffer(i);
		reposted = true;
	}
	if (reposted)
		evq.kick();
}

size_t SstDriver::reap(const std::function<void(const SstResult &)> &fn)
{
	poll_queues();
	size_t n = 0;
	while (!done_.empty()) {
		SstResult r = std::move(done_.front());
		done_.pop_front();
		fn(r);
		n++;
	}
	return n;
}

bool SstDriver::wait(std::chrono::milliseconds timeout)
{
	SplitVirtqueue &rq = dev_.queue(SST_VQ_REQUEST);
	const auto deadline = std::chrono::steady_clock::now() + timeout;
	for (;;) {
		if (!done_.empty())
			return true;
		if (rq.enable_cb() || dev_.queue(SST_VQ_EVENT).has_used()) {
			rq.disable_cb();
			return true;
		}
		const auto now = std::chrono::steady_clock::now();
		if (now >= deadline) {
			rq.disable_cb();
			return false;
		}
		const InterruptReport r = dev_.wait_interrupt(
			std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) +
			std::chrono::milliseconds(1));
		rq.disable_cb();
		if (r.any())
			stats_.interrupts++;
		// An interrupt can be stale (its buffer was already polled): only
		// something to reap ends the wait early.
		if (rq.has_used() || dev_.queue(SST_VQ_EVENT).has_used())
			return true;
	}
}

SstResult SstDriver::call(const SSTRequest &req, std::chrono::milliseconds timeout, size_t len)
{
	const auto deadline = std::chrono::steady_clock::now() + timeout;
	std::optional<uint64_t> id;
	while (!(id = submit(req, len))) {
		// All slots busy: make room by collecting finished requests.
		poll_queues();
		if (!free_slots_.empty())
			continue;
		if (std::chrono::steady_clock::now() >= deadline)
			throw TimeoutError("sst: no free request slot");
		wait(std::chrono::milliseconds(10));
	}
	kick();
	for (;;) {
		poll_queues();
		for (auto it = done_.begin(); it != done_.end(); ++it)
			if (it->request_id == *id) {
				SstResult r = std::move(*it);
				done_.erase(it);
				return r;
			}
		if (dev_.queue(SST_VQ_REQUEST).broken())
			throw Error("sst: " + broken_reason());
		const auto now = std::chrono::steady_clock::now();
		if (now >= deadline)
			throw TimeoutError("sst: request " + std::to_string(*id) + " (type " +
					   std::to_string(req.type) + ") not completed in time");
		wait(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) +
		     std::chrono::milliseconds(1));
	}
}

std::vector<SSTEvent> SstDriver::take_events()
{
	poll_queues();
	return std::exchange(events_, {});
}

std::string SstDriver::broken_reason() const
{
	for (uint16_t q = 0; q < dev_.queue_count(); q++)
		if (dev_.queue(q).broken())
			return dev_.queue(q).broken_reason();
	return {};
}

} // namespace vsst::virtio
