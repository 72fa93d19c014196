// SPDX-License-Identifier: Apache-2.0
#include "vsst/virtio/rng_driver.h"

#include "vsst/virtio/error.h"
#include "vsst/virtio/spec.h"

namespace vsst::virtio {

RngDriver::RngDriver(Transport &t, GuestMemory &mem, Options opt) : Driver(t, mem), opt_(opt)
{
	if (t.device_id() != device_id::kEntropy)
		throw Error(t.name() + ": not a virtio-rng device (id " + std::to_string(t.device_id()) +
			    ")");
	if (opt.buffer_size == 0)
		throw Error("rng: buffer size 0");
	dev_.negotiate(0);
	const uint16_t sizes[1] = {opt.queue_size};
	dev_.setup_queues(sizes);
	bufs_.resize(dev_.queue(0).size());
	for (auto &b : bufs_)
		b = DmaBuffer(mem, opt.buffer_size, 64);
	dev_.queue(0).disable_cb();
	dev_.driver_ok();
}

std::vector<uint8_t> RngDriver::read(size_t n, std::chrono::milliseconds timeout)
{
	SplitVirtqueue &q = dev_.queue(0);
	const auto deadline = std::chrono::steady_clock::now() + timeout;
	std::vector<uint8_t> out;
	out.reserve(n);
	std::vector<bool> posted(bufs_.size(), false);
	size_t asked = 0; // bytes requested and not yet returned
	for (;;) {
		// Keep enough buffers posted to cover what is still missing.
		for (uint16_t i = 0; i < bufs_.size() && out.size() + asked < n; i++) {
			if (posted[i])
				continue;
			const BufferRef in{bufs_[i].gpa(), opt_.buffer_size};
			if (q.add_buffer({}, {&in, 1}, i) != AddResult::kOk)
				break;
			posted[i] = true;
			asked += opt_.buffer_size;
		}
		q.kick();
		while (auto used = q.get_buffer()) {
			const uint16_t i = static_cast<uint16_t>(used->token);
			posted[i] = false;
			asked -= opt_.buffer_size;
			const size_t take = std::min<size_t>(used->len, n - out.size());
			const uint8_t *p = reinterpret_cast<const uint8_t *>(bufs_[i].host());
			out.insert(out.end(), p, p + take);
		}
		if (q.broken())
			throw Error("rng: " + q.broken_reason());
		if (out.size() >= n && q.in_flight() == 0)
			return out;
		const auto now = std::chrono::steady_clock::now();
		if (now >= deadline)
			throw TimeoutError("rng: " + std::to_string(out.size()) + " of " + std::to_string(n) +
					   " bytes before the timeout");
		if (q.enable_cb()) {
			q.disable_cb();
			continue;
		}
		if (dev_.wait_interrupt(
				std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) +
				std::chrono::milliseconds(1))
			    .any())
			interrupts_++;
		q.disable_cb();
	}
}

} // namespace vsst::virtio
