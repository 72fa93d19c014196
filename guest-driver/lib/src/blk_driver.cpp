// SPDX-License-Identifier: Apache-2.0
#include "vsst/virtio/blk_driver.h"

#include <cstring>

#include "vsst/virtio/error.h"
#include "vsst/virtio/spec.h"

namespace vsst::virtio {
namespace {
constexpr uint32_t kTypeIn = 0;
constexpr uint8_t kStatusOk = 0;
constexpr uint32_t kMaxSectorsPerRequest = 256; // 128 KiB
struct BlkReqHeader {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};
} // namespace

BlkDriver::BlkDriver(Transport &t, GuestMemory &mem, uint16_t queue_size) : Driver(t, mem)
{
	if (t.device_id() != device_id::kBlock)
		throw Error(t.name() + ": not a virtio-blk device (id " + std::to_string(t.device_id()) +
			    ")");
	dev_.negotiate(0);
	const uint16_t sizes[1] = {queue_size};
	dev_.setup_queues(sizes);
	capacity_ = dev_.read_config<uint64_t>(0);
	header_ = DmaBuffer(mem, sizeof(BlkReqHeader), 16);
	status_ = DmaBuffer(mem, 1, 1);
	dev_.queue(0).disable_cb();
	dev_.driver_ok();
}

std::vector<uint8_t> BlkDriver::read(uint64_t sector, uint32_t count, std::chrono::milliseconds timeout)
{
	if (count == 0 || count > kMaxSectorsPerRequest)
		throw Error("blk: sector count " + std::to_string(count) + " out of range");
	if (sector > capacity_ || count > capacity_ - sector)
		throw Error("blk: read beyond the disk's " + std::to_string(capacity_) + " sectors");
	SplitVirtqueue &q = dev_.queue(0);
	DmaBuffer data(dev_.memory(), size_t{count} * kSectorSize, 512);
	*header_.as<BlkReqHeader>() = BlkReqHeader{kTypeIn, 0, sector};
	*status_.as<uint8_t>() = 0xff;
	const BufferRef out{header_.gpa(), sizeof(BlkReqHeader)};
	const BufferRef in[2] = {{data.gpa(), static_cast<uint32_t>(data.size())}, {status_.gpa(), 1}};
	if (q.add_buffer({&out, 1}, in, 1) != AddResult::kOk)
		throw Error("blk: queue refused the request");
	q.kick();
	// Whatever ends this call early, `data` must not be freed while the
	// device still owns it: reset the device on every early exit.
	struct ResetUnlessDone {
		BlkDriver *self;
		bool done = false;
		~ResetUnlessDone()
		{
			if (!done)
				self->quiesce();
		}
	} guard{this};
	const auto deadline = std::chrono::steady_clock::now() + timeout;
	for (;;) {
		if (auto used = q.get_buffer()) {
			guard.done = true;
			if (used->len < 1)
				throw Error("blk: device wrote no status byte");
			if (*status_.as<uint8_t>() != kStatusOk)
				throw Error("blk: read of sector " + std::to_string(sector) +
					    " failed, status " + std::to_string(*status_.as<uint8_t>()));
			guard.done = true;
			const uint8_t *p = reinterpret_cast<const uint8_t *>(data.host());
			return std::vector<uint8_t>(p, p + data.size());
		}
		if (q.broken())
			throw Error("blk: " + q.broken_reason());
		const auto now = std::chrono::steady_clock::now();
		if (now >= deadline)
			throw TimeoutError("blk: read of sector " + std::to_string(sector) +
					   " timed out (device reset)");
		if (!q.enable_cb())
			dev_.wait_interrupt(
				std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) +
				std::chrono::milliseconds(1));
		q.disable_cb();
	}
}

} // namespace vsst::virtio
