// SPDX-License-Identifier: Apache-2.0
// virtio-mmio transport, version 2 (virtio 1.2, 4.2): one register window
// at a guest-physical base, one interrupt line acknowledged through
// InterruptStatus/InterruptACK. Legacy (version 1) devices are refused.
#pragma once

#include "vsst/virtio/accessor.h"
#include "vsst/virtio/transport.h"

namespace vsst::virtio {

class VirtioMmioTransport final : public Transport {
public:
	// config_size: bytes of device configuration the driver may touch
	// (the register window is 0x100 + config_size bytes).
	VirtioMmioTransport(MemoryAccessor &mem, uint64_t base, InterruptSource &irq,
			    unsigned config_size = 0x100,
			    std::chrono::milliseconds reset_timeout = std::chrono::milliseconds(2000));

	std::string name() const override { return name_; }
	uint32_t device_id() const override { return device_id_; }
	uint8_t status() override;
	void set_status(uint8_t s) override;
	void reset() override;
	uint64_t device_features() override;
	void set_driver_features(uint64_t f) override;
	uint16_t num_queues() override;
	uint16_t queue_max_size(uint16_t q) override;
	void enable_queue(uint16_t q, uint16_t size, const QueueAddresses &addr) override;
	void notify(uint16_t q) override;
	uint32_t read_config(unsigned offset, unsigned len) override;
	void write_config(unsigned offset, unsigned len, uint32_t value) override;
	uint32_t config_generation() override;
	unsigned config_size() const override { return config_size_; }
	void setup_interrupts(uint16_t nqueues) override { nqueues_ = nqueues; }
	InterruptReport wait_interrupt(std::chrono::milliseconds timeout) override;
	std::string interrupt_mode() const override { return "line"; }

private:
	uint32_t reg(unsigned off) { return static_cast<uint32_t>(mem_.read(base_ + off, 4)); }
	void set_reg(unsigned off, uint32_t v) { mem_.write(base_ + off, 4, v); }

	MemoryAccessor &mem_;
	uint64_t base_;
	InterruptSource &irq_;
	unsigned config_size_;
	std::chrono::milliseconds reset_timeout_;
	std::string name_;
	uint32_t device_id_ = 0;
	uint16_t nqueues_ = 0;
};

} // namespace vsst::virtio
