// SPDX-License-Identifier: Apache-2.0
#include "vsst/sim/sparse_memory.h"

#include <algorithm>
#include <cstring>

namespace vsst::sim {

bool SparseMemory::read(uint64_t addr, void *out, size_t len) const
{
	if (!in_range(addr, len))
		return false;
	auto *dst = static_cast<uint8_t *>(out);
	while (len > 0) {
		const uint64_t page = addr / kPage;
		const size_t off = addr % kPage;
		const size_t chunk = std::min<size_t>(len, kPage - off);
		auto it = pages_.find(page);
		if (it == pages_.end()) {
			std::memset(dst, 0, chunk);
		} else {
			std::memcpy(dst, it->second->data() + off, chunk);
		}
		dst += chunk;
		addr += chunk;
		len -= chunk;
	}
	return true;
}

bool SparseMemory::write(uint64_t addr, const void *in, size_t len)
{
	if (!in_range(addr, len))
		return false;
	if (budget_ && len > 0) {
		// Charge every page the write adds before writing any byte, so a
		// refused write leaves the memory as it was.
		uint64_t missing = 0;
		for (uint64_t p = addr / kPage; p <= (addr + len - 1) / kPage; ++p)
			missing += pages_.count(p) == 0;
		if (missing > 0 && !budget_->try_charge(missing * kPage))
			return false;
	}
	auto *src = static_cast<const uint8_t *>(in);
	while (len > 0) {
		const uint64_t page = addr / kPage;
		const size_t off = addr % kPage;
		const size_t chunk = std::min<size_t>(len, kPage - off);
		auto &slot = pages_[page];
		if (!slot)
			slot = std::make_unique<Page>(Page{});
		std::memcpy(slot->data() + off, src, chunk);
		src += chunk;
		addr += chunk;
		len -= chunk;
	}
	return true;
}

void SparseMemory::clear()
{
	if (budget_)
		budget_->release(committed_bytes());
	pages_.clear();
}

void SparseMemory::resize(uint64_t size)
{
	size_ = size;
	for (auto it = pages_.begin(); it != pages_.end();) {
		const uint64_t base = it->first * kPage;
		if (base >= size) {
			it = pages_.erase(it);
			if (budget_)
				budget_->release(kPage);
		} else {
			if (base + kPage > size) { // partial page: zero the cut-off tail
				std::memset(it->second->data() + (size - base), 0, base + kPage - size);
			}
			++it;
		}
	}
}

} // namespace vsst::sim
