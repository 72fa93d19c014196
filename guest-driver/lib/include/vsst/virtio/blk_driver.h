// SPDX-License-Identifier: Apache-2.0
// Minimal virtio-blk driver (ID 2): capacity and sector reads.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "vsst/virtio/device.h"

namespace vsst::virtio {

class BlkDriver final : public Driver {
public:
	static constexpr uint32_t kSectorSize = 512;
	BlkDriver(Transport &t, GuestMemory &mem, uint16_t queue_size = 16);
	~BlkDriver() override { quiesce(); }
	const char *name() const override { return "virtio-blk"; }

	uint64_t capacity_sectors() const { return capacity_; }
	// Reads count sectors starting at sector; throws Error on an I/O error
	// status and TimeoutError when the device does not answer.
	std::vector<uint8_t> read(uint64_t sector, uint32_t count, std::chrono::milliseconds timeout);

private:
	uint64_t capacity_ = 0;
	DmaBuffer header_, status_;
};

} // namespace vsst::virtio
