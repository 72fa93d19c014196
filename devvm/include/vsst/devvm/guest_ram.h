// SPDX-License-Identifier: Apache-2.0
// The guest's RAM as one memfd, shared by the guest VM (or whoever plays it) and the
// device VM, with its guest-physical layout.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vsst/posix/unique_fd.h"
#include "vsst/rpc.h"

namespace vsst::devvm {

// One guest-physical range of the RAM file.
struct RamRegion {
	uint64_t gpa;
	uint64_t size;
	uint64_t fd_offset;
};

// Guest-physical layout of the pc (i440fx) machine for a RAM size: QEMU splits RAM
// below and above 4 GiB; one memory backend holds both halves back to back.
std::vector<RamRegion> pc_ram_layout(uint64_t ram_bytes);

// The layout as the setup message (vsst_setup_send) carries it, every region in fd.
// Fails (false) for more regions than the message holds.
bool to_setup_layout(int fd, const std::vector<RamRegion> &layout, vsst_ram_layout &out);

// "-accel rpc,ram=" value: fd@0xGPA+0xSIZE+0xOFFSET, ':'-separated.
std::string ram_option(int fd, const std::vector<RamRegion> &layout);

class GuestRam {
public:
	GuestRam() = default;
	~GuestRam();
	GuestRam(GuestRam &&o) noexcept;
	GuestRam &operator=(GuestRam &&o) noexcept;
	GuestRam(const GuestRam &) = delete;
	GuestRam &operator=(const GuestRam &) = delete;

	// A size-sealed memfd of ram_bytes (sparse: pages appear on first touch) with the
	// pc layout; invalid with error set on failure.
	static GuestRam create(uint64_t ram_bytes, std::string &error);
	// The same with a given layout (regions must lie inside the file).
	static GuestRam create(uint64_t ram_bytes, std::vector<RamRegion> layout, std::string &error);

	bool valid() const { return fd_.valid(); }
	int fd() const { return fd_.get(); }
	uint64_t size() const { return size_; }
	const std::vector<RamRegion> &layout() const { return layout_; }

	// Maps the whole file read/write here (tests, host-side drivers, the replay).
	bool map(std::string &error);
	uint8_t *base() const { return base_; }
	// Host pointer for [gpa, gpa+len) through the layout; nullptr unless mapped and
	// entirely inside one region.
	uint8_t *at(uint64_t gpa, uint64_t len = 1) const;

private:
	UniqueFd fd_;
	uint64_t size_ = 0;
	std::vector<RamRegion> layout_;
	uint8_t *base_ = nullptr;
};

} // namespace vsst::devvm
