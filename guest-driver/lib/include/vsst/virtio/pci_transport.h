// SPDX-License-Identifier: Apache-2.0
// virtio-pci modern transport (virtio 1.2, 4.1): finds the common, notify,
// ISR and device config structures through the vendor capabilities, checks
// each lies inside an assigned memory BAR, and drives them through a
// MemoryAccessor. Interrupts: MSI-X when the function has it and the
// platform can deliver enough vectors (vector 0 = config, 1+q = queue q),
// otherwise INTx with the ISR register read-to-acknowledge.
#pragma once

#include <optional>
#include <vector>

#include "vsst/virtio/accessor.h"
#include "vsst/virtio/pci.h"
#include "vsst/virtio/transport.h"

namespace vsst::virtio {

class VirtioPciTransport final : public Transport {
public:
	struct Options {
		bool allow_msix = true;
		std::chrono::milliseconds reset_timeout{2000};
	};

	// The function's BARs must already be assigned (PciFunction::assign_bars).
	VirtioPciTransport(PciFunction &fn, MemoryAccessor &mem, InterruptSource &irq, Options opt);
	VirtioPciTransport(PciFunction &fn, MemoryAccessor &mem, InterruptSource &irq)
		: VirtioPciTransport(fn, mem, irq, Options{})
	{
	}

	std::string name() const override { return name_; }
	uint32_t device_id() const override { return virtio_id_; }
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
	unsigned config_size() const override { return device_cfg_ ? device_cfg_->length : 0; }
	void setup_interrupts(uint16_t nqueues) override;
	InterruptReport wait_interrupt(std::chrono::milliseconds timeout) override;
	std::string interrupt_mode() const override { return msix_ ? "msix" : "intx"; }

	// Guest-physical address of queue q's doorbell (valid after enable_queue).
	uint64_t notify_address(uint16_t q);

private:
	struct Region {
		uint64_t addr = 0;   // guest-physical
		uint32_t length = 0; // bytes
	};
	Region map_cap(uint8_t cap_off, uint8_t cfg_type);
	uint64_t common(unsigned reg) const { return common_.addr + reg; }

	PciFunction &fn_;
	MemoryAccessor &mem_;
	InterruptSource &irq_;
	Options opt_;
	std::string name_;
	uint32_t virtio_id_ = 0;
	Region common_, isr_;
	std::optional<Region> notify_, device_cfg_;
	uint32_t notify_multiplier_ = 0;
	std::optional<PciCapability> msix_cap_;
	bool msix_ = false;
	uint16_t nqueues_irq_ = 0;
	std::vector<uint64_t> notify_cache_; // doorbell address per queue, 0 = unknown
};

} // namespace vsst::virtio
