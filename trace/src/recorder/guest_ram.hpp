// SPDX-License-Identifier: Apache-2.0
// Read-only view of guest RAM (the shared memfds at their guest-physical
// layout) for the recorder's virtio tap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "vsst/rpc.h"

namespace vsst::trace {

class GuestRam {
public:
	GuestRam() = default;
	~GuestRam();
	GuestRam(const GuestRam &) = delete;
	GuestRam &operator=(const GuestRam &) = delete;

	// Maps every region read-only. Returns 0 or -errno (nothing mapped then).
	int map(const vsst_ram_layout &layout);
	bool empty() const { return regions_.empty(); }
	// Copies [gpa, gpa+len) out; false if any byte lies outside RAM.
	bool read(uint64_t gpa, void *out, size_t len) const;
	bool contains(uint64_t gpa, uint64_t len) const;

private:
	struct Region {
		uint64_t gpa, size;
		const uint8_t *base;
		size_t map_len;
		void *map_addr;
	};
	std::vector<Region> regions_;
};

} // namespace vsst::trace
