// SPDX-License-Identifier: Apache-2.0
#include "vsst/virtio/region_allocator.h"

#include <cstring>
#include <string>

#include "vsst/virtio/error.h"

namespace vsst::virtio {

RegionAllocator::RegionAllocator(std::byte *host, uint64_t gpa, size_t size)
	: host_(host), gpa_(gpa), size_(size)
{
	if (size)
		free_.emplace(0, size);
}

DmaRegion RegionAllocator::alloc(size_t size, size_t align)
{
	if (size == 0 || align == 0 || (align & (align - 1)) != 0)
		throw Error("guest memory: bad allocation request");
	std::lock_guard lock(mu_);
	for (auto it = free_.begin(); it != free_.end(); ++it) {
		const size_t off = it->first, len = it->second;
		// Align the guest-physical address, which is what the device sees.
		const uint64_t gpa = gpa_ + off;
		const size_t pad = static_cast<size_t>(((gpa + align - 1) & ~(uint64_t{align} - 1)) - gpa);
		if (pad > len || len - pad < size)
			continue;
		free_.erase(it);
		if (pad)
			free_.emplace(off, pad);
		if (len - pad > size)
			free_.emplace(off + pad + size, len - pad - size);
		used_.emplace(off + pad, size);
		std::byte *host = host_ + off + pad;
		std::memset(host, 0, size);
		return DmaRegion{host, gpa_ + off + pad, size};
	}
	throw Error("guest memory exhausted: no " + std::to_string(size) + " byte block");
}

void RegionAllocator::free(const DmaRegion &region)
{
	if (!region.host)
		return;
	std::lock_guard lock(mu_);
	const size_t off = static_cast<size_t>(region.host - host_);
	auto u = used_.find(off);
	if (u == used_.end() || u->second != region.size)
		throw Error("guest memory: freeing a block that was not allocated");
	used_.erase(u);
	size_t start = off, len = region.size;
	auto next = free_.lower_bound(off);
	if (next != free_.end() && next->first == start + len) {
		len += next->second;
		next = free_.erase(next);
	}
	if (next != free_.begin()) {
		auto prev = std::prev(next);
		if (prev->first + prev->second == start) {
			start = prev->first;
			len += prev->second;
			free_.erase(prev);
		}
	}
	free_.emplace(start, len);
}

size_t RegionAllocator::bytes_free() const
{
	std::lock_guard lock(mu_);
	size_t n = 0;
	for (auto &[off, len] : free_)
		n += len;
	return n;
}

bool RegionAllocator::contains(uint64_t gpa, size_t len) const
{
	return gpa >= gpa_ && len <= size_ && gpa - gpa_ <= size_ - len;
}

} // namespace vsst::virtio
