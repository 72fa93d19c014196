// SPDX-License-Identifier: Apache-2.0
// Generic PCI function handling over a ConfigAccessor: identification,
// capability walk (bounded and validated: a hostile config space cannot
// loop the walk or point outside the 256-byte header), BAR sizing and
// assignment from an address window, command register.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vsst/virtio/accessor.h"

namespace vsst::virtio {

struct PciBar {
	unsigned index = 0;
	uint64_t addr = 0; // 0: not assigned
	uint64_t size = 0; // 0: not implemented
	bool io = false;
	bool is64 = false;
	bool prefetchable = false;
};

struct PciCapability {
	uint8_t id = 0;
	uint8_t offset = 0; // in config space
};

// Hands out BAR addresses from [base, base+size).
class PciWindow {
public:
	PciWindow(uint64_t base, uint64_t size) : base_(base), end_(base + size), next_(base) {}
	// Naturally aligned to size (a power of two). Throws Error when full.
	uint64_t allocate(uint64_t size);
	uint64_t base() const { return base_; }
	uint64_t end() const { return end_; }

private:
	uint64_t base_, end_, next_;
};

class PciFunction {
public:
	explicit PciFunction(ConfigAccessor &cfg);

	ConfigAccessor &config() { return cfg_; }
	uint16_t vendor_id() const { return vendor_; }
	uint16_t device_id() const { return device_; }
	uint16_t subsystem_id() const { return subsystem_; }
	uint32_t class_code() const { return class_code_; } // class<<16 | subclass<<8 | prog-if

	const std::vector<PciCapability> &capabilities() const { return caps_; }
	std::optional<PciCapability> find_capability(uint8_t id) const;

	// Sizes all BARs (memory decoding off while probing) without assigning.
	void probe_bars();
	// Sizes, then assigns every memory BAR from the window and enables
	// memory decoding and bus mastering. I/O BARs are left unassigned.
	void assign_bars(PciWindow &window);
	const PciBar &bar(unsigned i) const { return bars_.at(i); }

	void set_command_bits(uint16_t set, uint16_t clear = 0);

private:
	void walk_capabilities();

	ConfigAccessor &cfg_;
	uint16_t vendor_ = 0, device_ = 0, subsystem_ = 0;
	uint32_t class_code_ = 0;
	std::vector<PciCapability> caps_;
	std::array<PciBar, 6> bars_{};
};

} // namespace vsst::virtio
