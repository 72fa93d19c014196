// SPDX-License-Identifier: Apache-2.0
// guest_ram.h - the guest's RAM as one memfd, shared by the guest VM and the device VM.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vsst/posix/unique_fd.h"

namespace vsst {

struct RamRegion {
	uint64_t gpa;
	uint64_t size;
	uint64_t fd_offset;
};

// Guest-physical layout of the pc (i440fx) machine for a RAM size: QEMU splits RAM
// below and above 4 GiB; one memory backend holds both halves back to back.
std::vector<RamRegion> pc_ram_layout(uint64_t ram_bytes);

class GuestRam {
public:
	// Creates a sealed-size memfd of ram_bytes (sparse: pages appear on first touch).
	static GuestRam create(uint64_t ram_bytes, std::string &error);

	int fd() const { return fd_.get(); }
	uint64_t size() const { return size_; }
	const std::vector<RamRegion> &layout() const { return layout_; }

private:
	UniqueFd fd_;
	uint64_t size_ = 0;
	std::vector<RamRegion> layout_;
};

} // namespace vsst
