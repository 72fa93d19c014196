// SPDX-License-Identifier: Apache-2.0
// Sparse byte-addressable device memory: pages are allocated on first write,
// never-written bytes read as zero.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>

namespace vsst::sim {

class SparseMemory {
public:
	explicit SparseMemory(uint64_t size) : size_(size) {}

	uint64_t size() const { return size_; }
	size_t resident_pages() const { return pages_.size(); }

	// True when [addr, addr+len) lies inside the memory (overflow-safe).
	bool in_range(uint64_t addr, uint64_t len) const { return addr <= size_ && len <= size_ - addr; }

	// Both return false (and touch nothing) when the range is outside.
	bool read(uint64_t addr, void *out, size_t len) const;
	bool write(uint64_t addr, const void *in, size_t len);

	void clear() { pages_.clear(); }
	// Changes the size; bytes beyond the new size are dropped.
	void resize(uint64_t size);

private:
	static constexpr uint64_t kPage = 4096;
	using Page = std::array<uint8_t, kPage>;
	uint64_t size_;
	std::unordered_map<uint64_t, std::unique_ptr<Page>> pages_;
};

} // namespace vsst::sim
