// SPDX-License-Identifier: Apache-2.0
// GuestMemory over one contiguous mapped range of guest RAM: first-fit
// allocation with coalescing free. Used by the RPC platform (a window of the
// shared memfd) and by the unit tests (a heap-backed fake RAM).
#pragma once

#include <map>
#include <mutex>

#include "vsst/virtio/accessor.h"

namespace vsst::virtio {

class RegionAllocator final : public GuestMemory {
public:
	// host..host+size is mapped and corresponds to gpa..gpa+size.
	RegionAllocator(std::byte *host, uint64_t gpa, size_t size);

	DmaRegion alloc(size_t size, size_t align) override;
	void free(const DmaRegion &region) override;

	size_t bytes_free() const;
	// Whether [gpa, gpa+len) lies inside the managed range.
	bool contains(uint64_t gpa, size_t len) const;

private:
	std::byte *host_;
	uint64_t gpa_;
	size_t size_;
	mutable std::mutex mu_;
	std::map<size_t, size_t> free_; // offset -> length
	std::map<size_t, size_t> used_; // offset -> length (to validate free)
};

} // namespace vsst::virtio
