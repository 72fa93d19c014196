// SPDX-License-Identifier: Apache-2.0
// virtio-rng (entropy device, ID 4) driver: one queue of device-writable
// buffers the device fills with random bytes.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "vsst/virtio/device.h"

namespace vsst::virtio {

class RngDriver final : public Driver {
public:
	struct Options {
		uint16_t queue_size = 8;
		uint32_t buffer_size = 4096; // bytes asked per request
	};
	RngDriver(Transport &t, GuestMemory &mem, Options opt);
	RngDriver(Transport &t, GuestMemory &mem) : RngDriver(t, mem, Options{}) {}
	~RngDriver() override { quiesce(); }
	const char *name() const override { return "virtio-rng"; }

	// Exactly n random bytes; throws TimeoutError when the device stalls.
	std::vector<uint8_t> read(size_t n, std::chrono::milliseconds timeout);
	uint64_t interrupts() const { return interrupts_; }

private:
	Options opt_;
	std::vector<DmaBuffer> bufs_;
	uint64_t interrupts_ = 0;
};

} // namespace vsst::virtio
