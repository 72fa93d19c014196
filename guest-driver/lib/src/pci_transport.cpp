// SPDX-License-Identifier: Apache-2.0
#include "vsst/virtio/pci_transport.h"

#include <thread>

#include "vsst/virtio/error.h"
#include "vsst/virtio/spec.h"

namespace vsst::virtio {

VirtioPciTransport::VirtioPciTransport(PciFunction &fn, MemoryAccessor &mem, InterruptSource &irq,
				       Options opt)
	: fn_(fn), mem_(mem), irq_(irq), opt_(opt)
{
	if (fn.vendor_id() != pci::kVirtioVendor)
		throw Error("virtio-pci: vendor " + hex(fn.vendor_id()) + " is not virtio");
	const uint16_t did = fn.device_id();
	if (did >= pci::kModernDeviceBase && did < pci::kModernDeviceBase + 64)
		virtio_id_ = did - pci::kModernDeviceBase;
	else if (did >= pci::kTransitionalFirst && did <= pci::kTransitionalLast)
		virtio_id_ = fn.subsystem_id(); // transitional devices carry the ID here
	else
		throw Error("virtio-pci: device id " + hex(did) + " outside the virtio range");
	name_ = "virtio-pci(" + hex(did) + ")";

	bool have_common = false, have_isr = false;
	for (const PciCapability &cap : fn.capabilities()) {
		if (cap.id == pci::kCapMsix) {
			msix_cap_ = cap;
			continue;
		}
		if (cap.id != pci::kCapVendor)
			continue;
		const uint8_t type = fn.config().read8(cap.offset + pci::kCapOffCfgType);
		// The first capability of each type is the preferred one (4.1.4).
		switch (type) {
		case pci::kCapCommonCfg:
			if (!have_common) {
				common_ = map_cap(cap.offset, type);
				if (common_.length < pci::common::kSize)
					throw Error(name_ + ": common config structure too short");
				have_common = true;
			}
			break;
		case pci::kCapNotifyCfg:
			if (!notify_) {
				if (fn.config().read8(cap.offset + pci::kCapOffLen) < 20)
					throw Error(name_ + ": notify capability too short");
				notify_ = map_cap(cap.offset, type);
				notify_multiplier_ =
					fn.config().read32(cap.offset + pci::kCapOffNotifyMultiplier);
			}
			break;
		case pci::kCapIsrCfg:
			if (!have_isr) {
				isr_ = map_cap(cap.offset, type);
				have_isr = true;
			}
			break;
		case pci::kCapDeviceCfg:
			if (!device_cfg_)
				device_cfg_ = map_cap(cap.offset, type);
			break;
		default:
			break; // PCI_CFG access window and unknown types: not used
		}
	}
	if (!have_common || !notify_ || !have_isr)
		throw Error(name_ + ": missing modern virtio capabilities (legacy-only device?)");
}

VirtioPciTransport::Region VirtioPciTransport::map_cap(uint8_t cap_off, uint8_t cfg_type)
{
	ConfigAccessor &cfg = fn_.config();
	if (cfg.read8(cap_off + pci::kCapOffLen) < 16)
		throw Error(name_ + ": virtio capability at " + hex(cap_off) + " too short");
	const uint8_t bar = cfg.read8(cap_off + pci::kCapOffBar);
	const uint32_t offset = cfg.read32(cap_off + pci::kCapOffOffset);
	const uint32_t length = cfg.read32(cap_off + pci::kCapOffLength);
	if (bar > 5)
		throw Error(name_ + ": capability type " + std::to_string(cfg_type) + " names BAR" +
			    std::to_string(bar));
	const PciBar &b = fn_.bar(bar);
	if (b.size == 0 || b.io || b.addr == 0)
		throw Error(name_ + ": capability type " + std::to_string(cfg_type) + " in BAR" +
			    std::to_string(bar) + ", which is not an assigned memory BAR");
	if (length == 0 || offset > b.size || length > b.size - offset)
		throw Error(name_ + ": capability type " + std::to_string(cfg_type) + " (" + hex(offset) +
			    "+" + hex(length) + ") exceeds BAR" + std::to_string(bar));
	return Region{b.addr + offset, length};
}

uint8_t VirtioPciTransport::status()
{
	return static_cast<uint8_t>(mem_.read(common(pci::common::kDeviceStatus), 1));
}

void VirtioPciTransport::set_status(uint8_t s)
{
	mem_.write(common(pci::common::kDeviceStatus), 1, s);
}

void VirtioPciTransport::reset()
{
	set_status(0);
	const auto deadline = std::chrono::steady_clock::now() + opt_.reset_timeout;
	while (status() != 0) {
		if (std::chrono::steady_clock::now() > deadline)
			throw TimeoutError(name_ + ": device did not complete reset");
		std::this_thread::sleep_for(std::chrono::microseconds(200));
	}
}

uint64_t VirtioPciTransport::device_features()
{
	uint64_t f = 0;
	for (uint32_t sel = 0; sel < 2; sel++) {
		mem_.write(common(pci::common::kDeviceFeatureSelect), 4, sel);
		f |= mem_.read(common(pci::common::kDeviceFeature), 4) << (32 * sel);
	}
	return f;
}

void VirtioPciTransport::set_driver_features(uint64_t f)
{
	for (uint32_t sel = 0; sel < 2; sel++) {
		mem_.write(common(pci::common::kDriverFeatureSelect), 4, sel);
		mem_.write(common(pci::common::kDriverFeature), 4, (f >> (32 * sel)) & 0xffffffffu);
	}
}

uint16_t VirtioPciTransport::num_queues()
{
	return static_cast<uint16_t>(mem_.read(common(pci::common::kNumQueues), 2));
}

uint16_t VirtioPciTransport::queue_max_size(uint16_t q)
{
	if (q >= num_queues())
		return 0;
	mem_.write(common(pci::common::kQueueSelect), 2, q);
	return static_cast<uint16_t>(mem_.read(common(pci::common::kQueueSize), 2));
}

void VirtioPciTransport::enable_queue(uint16_t q, uint16_t size, const QueueAddresses &addr)
{
	using namespace pci::common;
	mem_.write(common(kQueueSelect), 2, q);
	mem_.write(common(kQueueSize), 2, size);
	auto write64 = [&](unsigned reg, uint64_t v) {
		mem_.write(common(reg), 4, v & 0xffffffffu);
		mem_.write(common(reg + 4), 4, v >> 32);
	};
	write64(kQueueDesc, addr.desc);
	write64(kQueueDriver, addr.avail);
	write64(kQueueDevice, addr.used);
	if (msix_) {
		const uint16_t vec = static_cast<uint16_t>(1 + q);
		mem_.write(common(kQueueMsixVector), 2, vec);
		if (mem_.read(common(kQueueMsixVector), 2) != vec)
			throw Error(name_ + ": device refused MSI-X vector for queue " + std::to_string(q));
	}
	mem_.write(common(kQueueEnable), 2, 1);
	(void)notify_address(q); // validate the doorbell now, not at the first kick
}

uint64_t VirtioPciTransport::notify_address(uint16_t q)
{
	mem_.write(common(pci::common::kQueueSelect), 2, q);
	const uint64_t off =
		mem_.read(common(pci::common::kQueueNotifyOff), 2) * uint64_t{notify_multiplier_};
	if (off > notify_->length || notify_->length - off < 2)
		throw Error(name_ + ": notify offset of queue " + std::to_string(q) +
			    " outside the notify region");
	return notify_->addr + off;
}

void VirtioPciTransport::notify(uint16_t q)
{
	// Looking the offset up costs a select + read (two round trips through
	// a channel); the address cannot change while the queue is enabled.
	uint64_t addr;
	if (q < notify_cache_.size() && notify_cache_[q])
		addr = notify_cache_[q];
	else {
		addr = notify_address(q);
		if (q >= notify_cache_.size())
			notify_cache_.resize(q + 1, 0);
		notify_cache_[q] = addr;
	}
	mem_.notify(addr, 2, q);
}

uint32_t VirtioPciTransport::read_config(unsigned offset, unsigned len)
{
	if (!device_cfg_ || offset > device_cfg_->length || len > device_cfg_->length - offset)
		throw Error(name_ + ": device config access outside the structure");
	return static_cast<uint32_t>(mem_.read(device_cfg_->addr + offset, len));
}

void VirtioPciTransport::write_config(unsigned offset, unsigned len, uint32_t value)
{
	if (!device_cfg_ || offset > device_cfg_->length || len > device_cfg_->length - offset)
		throw Error(name_ + ": device config access outside the structure");
	mem_.write(device_cfg_->addr + offset, len, value);
}

uint32_t VirtioPciTransport::config_generation()
{
	return static_cast<uint32_t>(mem_.read(common(pci::common::kConfigGeneration), 1));
}

void VirtioPciTransport::setup_interrupts(uint16_t nqueues)
{
	nqueues_irq_ = nqueues;
	notify_cache_.clear();
	msix_ = false;
	const unsigned needed = 1u + nqueues;
	ConfigAccessor &cfg = fn_.config();
	if (opt_.allow_msix && msix_cap_ && irq_.msi_vectors() >= needed) {
		const uint16_t ctrl = cfg.read16(msix_cap_->offset + pci::kMsixOffControl);
		const unsigned table_size = (ctrl & 0x7ff) + 1u;
		const uint32_t table = cfg.read32(msix_cap_->offset + pci::kMsixOffTable);
		const unsigned bir = table & 7;
		const uint64_t table_off = table & ~7u;
		if (table_size >= needed && bir < 6) {
			const PciBar &b = fn_.bar(bir);
			const uint64_t bytes = uint64_t{needed} * pci::kMsixEntrySize;
			if (b.size == 0 || b.io || b.addr == 0 || table_off > b.size ||
			    bytes > b.size - table_off)
				throw Error(name_ + ": MSI-X table outside BAR" + std::to_string(bir));
			// Mask the function while the table is written, then enable.
			cfg.write16(msix_cap_->offset + pci::kMsixOffControl,
				    static_cast<uint16_t>(ctrl | pci::kMsixEnable | pci::kMsixFunctionMask));
			for (unsigned v = 0; v < needed; v++) {
				const auto [addr, data] = irq_.msi_message(v);
				const uint64_t e = b.addr + table_off + v * pci::kMsixEntrySize;
				mem_.write(e + 0, 4, addr & 0xffffffffu);
				mem_.write(e + 4, 4, addr >> 32);
				mem_.write(e + 8, 4, data);
				mem_.write(e + 12, 4, 0); // vector control: unmasked
			}
			cfg.write16(
				msix_cap_->offset + pci::kMsixOffControl,
				static_cast<uint16_t>((ctrl | pci::kMsixEnable) & ~pci::kMsixFunctionMask));
			fn_.set_command_bits(pci::kCmdIntxDisable);
			msix_ = true;
			mem_.write(common(pci::common::kMsixConfig), 2, 0);
			if (mem_.read(common(pci::common::kMsixConfig), 2) != 0)
				throw Error(name_ + ": device refused the MSI-X config vector");
			return;
		}
	}
	// INTx: make sure MSI-X is off so the device uses the pin.
	if (msix_cap_) {
		const uint16_t ctrl = cfg.read16(msix_cap_->offset + pci::kMsixOffControl);
		cfg.write16(msix_cap_->offset + pci::kMsixOffControl, ctrl & ~pci::kMsixEnable);
	}
	fn_.set_command_bits(0, pci::kCmdIntxDisable);
}

InterruptReport VirtioPciTransport::wait_interrupt(std::chrono::milliseconds timeout)
{
	InterruptReport r;
	for (uint32_t v : irq_.wait(timeout)) {
		if (v == InterruptSource::kLineVector) {
			// Reading ISR acknowledges it and lowers the line.
			const uint8_t isr = static_cast<uint8_t>(mem_.read(isr_.addr, 1));
			if (isr & kIsrConfig)
				r.config_changed = true;
			if (isr & kIsrQueue)
				for (uint16_t q = 0; q < nqueues_irq_; q++)
					r.queues.push_back(q);
		} else if (v == 0) {
			r.config_changed = true;
		} else if (v - 1 < nqueues_irq_) {
			r.queues.push_back(static_cast<uint16_t>(v - 1));
		}
	}
	return r;
}

} // namespace vsst::virtio
