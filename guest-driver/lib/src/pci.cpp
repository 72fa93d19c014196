// SPDX-License-Identifier: Apache-2.0
#include "vsst/virtio/pci.h"

#include "vsst/virtio/error.h"
#include "vsst/virtio/spec.h"

namespace vsst::virtio {

uint64_t PciWindow::allocate(uint64_t size)
{
	if (size == 0 || (size & (size - 1)) != 0)
		throw Error("pci window: BAR size " + hex(size) + " is not a power of two");
	const uint64_t addr = (next_ + size - 1) & ~(size - 1);
	if (addr < next_ || addr > end_ || size > end_ - addr)
		throw Error("pci window " + hex(base_) + ".." + hex(end_) + " too small for a " + hex(size) +
			    " byte BAR");
	next_ = addr + size;
	return addr;
}

PciFunction::PciFunction(ConfigAccessor &cfg) : cfg_(cfg)
{
	vendor_ = cfg_.read16(pci::kVendorId);
	if (vendor_ == 0xffff || vendor_ == 0)
		throw Error("pci: no function present (vendor " + hex(vendor_) + ")");
	device_ = cfg_.read16(pci::kDeviceId);
	subsystem_ = cfg_.read16(pci::kSubsystemId);
	class_code_ = cfg_.read32(pci::kRevision) >> 8;
	if ((cfg_.read8(pci::kHeaderType) & 0x7f) != 0)
		throw Error("pci: not a type 0 (endpoint) header");
	walk_capabilities();
}

void PciFunction::walk_capabilities()
{
	caps_.clear();
	if (!(cfg_.read16(pci::kStatus) & pci::kStatusCapList))
		return;
	uint8_t ptr = cfg_.read8(pci::kCapPtr) & 0xfc;
	// 48 capabilities fill the 192 bytes after the header; more means a loop.
	for (int n = 0; ptr != 0; n++) {
		if (n >= 48)
			throw Error("pci: capability list does not terminate (loop?)");
		if (ptr < 0x40)
			throw Error("pci: capability pointer " + hex(ptr) + " inside the header");
		const uint16_t hdr = cfg_.read16(ptr);
		caps_.push_back({static_cast<uint8_t>(hdr & 0xff), ptr});
		ptr = static_cast<uint8_t>(hdr >> 8) & 0xfc;
	}
}

std::optional<PciCapability> PciFunction::find_capability(uint8_t id) const
{
	for (auto &c : caps_)
		if (c.id == id)
			return c;
	return std::nullopt;
}

void PciFunction::set_command_bits(uint16_t set, uint16_t clear)
{
	const uint16_t cmd = cfg_.read16(pci::kCommand);
	cfg_.write16(pci::kCommand, static_cast<uint16_t>((cmd & ~clear) | set));
}

void PciFunction::probe_bars()
{
	const uint16_t cmd = cfg_.read16(pci::kCommand);
	cfg_.write16(pci::kCommand, cmd & ~(pci::kCmdMemory | pci::kCmdIo));
	for (unsigned i = 0; i < 6; i++) {
		PciBar &b = bars_[i];
		b = PciBar{};
		b.index = i;
		const unsigned off = pci::kBar0 + 4 * i;
		const uint32_t orig = cfg_.read32(off);
		cfg_.write32(off, 0xffffffffu);
		const uint32_t probe = cfg_.read32(off);
		cfg_.write32(off, orig);
		if (probe == 0 || probe == 0xffffffffu)
			continue; // not implemented (all-ones: the access itself failed)
		if (orig & 1) {
			b.io = true;
			b.size = static_cast<uint32_t>(~(probe & ~0x3u) + 1) & 0xffff;
			b.addr = orig & ~0x3u;
			continue;
		}
		const unsigned type = (orig >> 1) & 3;
		b.prefetchable = orig & 8;
		uint64_t mask = probe & ~0xfull;
		uint64_t addr = orig & ~0xfull;
		if (type == 2) {
			if (i == 5)
				throw Error("pci: 64-bit BAR5 has no upper half");
			const unsigned hi = off + 4;
			const uint32_t orig_hi = cfg_.read32(hi);
			cfg_.write32(hi, 0xffffffffu);
			const uint32_t probe_hi = cfg_.read32(hi);
			cfg_.write32(hi, orig_hi);
			mask |= uint64_t{probe_hi} << 32;
			addr |= uint64_t{orig_hi} << 32;
			b.is64 = true;
		} else {
			mask |= 0xffffffff00000000ull;
		}
		b.size = ~mask + 1;
		b.addr = addr;
		if (b.size == 0 || (b.size & (b.size - 1)) != 0)
			throw Error("pci: BAR" + std::to_string(i) + " reports a bad size mask " + hex(mask));
		if (b.is64)
			i++; // the upper half is not a BAR of its own
	}
	cfg_.write16(pci::kCommand, cmd);
}

void PciFunction::assign_bars(PciWindow &window)
{
	probe_bars();
	const uint16_t cmd = cfg_.read16(pci::kCommand);
	cfg_.write16(pci::kCommand, cmd & ~(pci::kCmdMemory | pci::kCmdIo));
	for (auto &b : bars_) {
		if (b.size == 0 || b.io)
			continue;
		if (!b.is64 && window.end() > 0x100000000ull && window.base() >= 0x100000000ull)
			throw Error("pci: 32-bit BAR" + std::to_string(b.index) +
				    " cannot live in a window above 4 GiB");
		b.addr = window.allocate(b.size);
		const unsigned off = pci::kBar0 + 4 * b.index;
		const uint32_t low_flags = cfg_.read32(off) & 0xf;
		cfg_.write32(off, static_cast<uint32_t>(b.addr) | low_flags);
		if (b.is64)
			cfg_.write32(off + 4, static_cast<uint32_t>(b.addr >> 32));
		const uint32_t readback = cfg_.read32(off) & ~0xfu;
		if (readback != static_cast<uint32_t>(b.addr))
			throw Error("pci: BAR" + std::to_string(b.index) + " did not take address " +
				    hex(b.addr));
	}
	cfg_.write16(pci::kCommand,
		     static_cast<uint16_t>((cmd & ~pci::kCmdIo) | pci::kCmdMemory | pci::kCmdBusMaster));
}

} // namespace vsst::virtio
