// SPDX-License-Identifier: Apache-2.0
#include "vsst/virtio/mmio_transport.h"

#include <thread>

#include "vsst/virtio/error.h"
#include "vsst/virtio/spec.h"

namespace vsst::virtio {

using namespace mmio;

VirtioMmioTransport::VirtioMmioTransport(MemoryAccessor &mem, uint64_t base, InterruptSource &irq,
					 unsigned config_size, std::chrono::milliseconds reset_timeout)
	: mem_(mem), base_(base), irq_(irq), config_size_(config_size), reset_timeout_(reset_timeout)
{
	name_ = "virtio-mmio@" + hex(base);
	if (config_size_ > 0x1000 - kConfig)
		throw Error(name_ + ": config size too large");
	const uint32_t magic = reg(kMagic);
	if (magic != kMagicValue)
		throw Error(name_ + ": bad magic " + hex(magic));
	const uint32_t version = reg(kVersion);
	if (version != 2)
		throw Error(name_ + ": version " + std::to_string(version) +
			    " (only 2, non-legacy, is supported)");
	device_id_ = reg(kDeviceId);
	if (device_id_ == 0)
		throw Error(name_ + ": no device behind this window (device id 0)");
}

uint8_t VirtioMmioTransport::status()
{
	return static_cast<uint8_t>(reg(kStatus));
}
void VirtioMmioTransport::set_status(uint8_t s)
{
	set_reg(kStatus, s);
}

void VirtioMmioTransport::reset()
{
	set_reg(kStatus, 0);
	const auto deadline = std::chrono::steady_clock::now() + reset_timeout_;
	while (status() != 0) {
		if (std::chrono::steady_clock::now() > deadline)
			throw TimeoutError(name_ + ": device did not complete reset");
		std::this_thread::sleep_for(std::chrono::microseconds(200));
	}
}

uint64_t VirtioMmioTransport::device_features()
{
	uint64_t f = 0;
	for (uint32_t sel = 0; sel < 2; sel++) {
		set_reg(kDeviceFeaturesSel, sel);
		f |= uint64_t{reg(kDeviceFeatures)} << (32 * sel);
	}
	return f;
}

void VirtioMmioTransport::set_driver_features(uint64_t f)
{
	for (uint32_t sel = 0; sel < 2; sel++) {
		set_reg(kDriverFeaturesSel, sel);
		set_reg(kDriverFeatures, static_cast<uint32_t>(f >> (32 * sel)));
	}
}

uint16_t VirtioMmioTransport::num_queues()
{
	// virtio-mmio has no queue count: probe until QueueNumMax reads 0.
	uint16_t n = 0;
	while (n < 64 && queue_max_size(n) != 0)
		n++;
	return n;
}

uint16_t VirtioMmioTransport::queue_max_size(uint16_t q)
{
	set_reg(kQueueSel, q);
	const uint32_t max = reg(kQueueNumMax);
	return max > ring::kMaxSize ? ring::kMaxSize : static_cast<uint16_t>(max);
}

void VirtioMmioTransport::enable_queue(uint16_t q, uint16_t size, const QueueAddresses &addr)
{
	set_reg(kQueueSel, q);
	if (reg(kQueueReady) != 0)
		throw Error(name_ + ": queue " + std::to_string(q) + " already in use");
	set_reg(kQueueNum, size);
	set_reg(kQueueDescLow, static_cast<uint32_t>(addr.desc));
	set_reg(kQueueDescHigh, static_cast<uint32_t>(addr.desc >> 32));
	set_reg(kQueueDriverLow, static_cast<uint32_t>(addr.avail));
	set_reg(kQueueDriverHigh, static_cast<uint32_t>(addr.avail >> 32));
	set_reg(kQueueDeviceLow, static_cast<uint32_t>(addr.used));
	set_reg(kQueueDeviceHigh, static_cast<uint32_t>(addr.used >> 32));
	set_reg(kQueueReady, 1);
}

void VirtioMmioTransport::notify(uint16_t q)
{
	mem_.notify(base_ + kQueueNotify, 4, q);
}

uint32_t VirtioMmioTransport::read_config(unsigned offset, unsigned len)
{
	if (offset > config_size_ || len > config_size_ - offset)
		throw Error(name_ + ": device config access outside the structure");
	return static_cast<uint32_t>(mem_.read(base_ + kConfig + offset, len));
}

void VirtioMmioTransport::write_config(unsigned offset, unsigned len, uint32_t value)
{
	if (offset > config_size_ || len > config_size_ - offset)
		throw Error(name_ + ": device config access outside the structure");
	mem_.write(base_ + kConfig + offset, len, value);
}

uint32_t VirtioMmioTransport::config_generation()
{
	return reg(kConfigGeneration);
}

InterruptReport VirtioMmioTransport::wait_interrupt(std::chrono::milliseconds timeout)
{
	InterruptReport r;
	if (irq_.wait(timeout).empty())
		return r;
	const uint32_t st = reg(kInterruptStatus);
	if (st)
		set_reg(kInterruptAck, st);
	if (st & kIntConfigChange)
		r.config_changed = true;
	if (st & kIntUsedBuffer)
		for (uint16_t q = 0; q < nqueues_; q++)
			r.queues.push_back(q);
	return r;
}

} // namespace vsst::virtio
