// SPDX-License-Identifier: Apache-2.0
// Sparse byte-addressable device memory: pages are allocated on first write,
// never-written bytes read as zero. With a MemoryBudget, every page is
// charged to it while it exists (4 KiB each; the map's own bookkeeping, about
// 1-2% more, is not counted), and a write that needs pages the budget does not
// grant fails without touching anything.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "vsst/sim/memory_budget.h"

namespace vsst::sim {

class SparseMemory {
public:
	explicit SparseMemory(uint64_t size, MemoryBudget *budget = nullptr) : size_(size), budget_(budget) {}
	~SparseMemory() { clear(); }
	// One owner per page charge: not copyable; a move hands the pages and their charge over.
	SparseMemory(const SparseMemory &) = delete;
	SparseMemory &operator=(const SparseMemory &) = delete;
	SparseMemory(SparseMemory &&o) noexcept
		: size_(o.size_), budget_(o.budget_), pages_(std::move(o.pages_))
	{
		o.pages_.clear();
	}
	SparseMemory &operator=(SparseMemory &&o) noexcept
	{
		if (this != &o) {
			clear();
			size_ = o.size_;
			budget_ = o.budget_;
			pages_ = std::move(o.pages_);
			o.pages_.clear();
		}
		return *this;
	}

	uint64_t size() const { return size_; }
	size_t resident_pages() const { return pages_.size(); }
	uint64_t committed_bytes() const { return pages_.size() * kPage; }

	// True when [addr, addr+len) lies inside the memory (overflow-safe).
	bool in_range(uint64_t addr, uint64_t len) const { return addr <= size_ && len <= size_ - addr; }

	// Both return false (and touch nothing) when the range is outside; write
	// also when the budget refuses the pages it would add.
	bool read(uint64_t addr, void *out, size_t len) const;
	bool write(uint64_t addr, const void *in, size_t len);

	void clear();
	// Changes the size; bytes beyond the new size are dropped.
	void resize(uint64_t size);

private:
	static constexpr uint64_t kPage = 4096;
	using Page = std::array<uint8_t, kPage>;
	uint64_t size_;
	MemoryBudget *budget_;
	std::unordered_map<uint64_t, std::unique_ptr<Page>> pages_;
};

} // namespace vsst::sim
