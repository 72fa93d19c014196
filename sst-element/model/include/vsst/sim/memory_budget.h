// SPDX-License-Identifier: Apache-2.0
// A byte budget shared by several device memories: sst-sim gives one to all
// its connections, so their committed memory together stays below a bound
// (--memory-budget) however many connections there are and however large
// each one CONFIGUREs its memory. Only committed bytes are charged: the
// SparseMemory pages, when first written.
#pragma once

#include <atomic>
#include <cstdint>

namespace vsst::sim {

class MemoryBudget {
public:
	explicit MemoryBudget(uint64_t limit) : limit_(limit) {}
	MemoryBudget(const MemoryBudget &) = delete;
	MemoryBudget &operator=(const MemoryBudget &) = delete;

	// Charges `bytes` if the total stays within the limit; otherwise charges
	// nothing and returns false. Atomic, so models on several threads may share
	// one budget.
	bool try_charge(uint64_t bytes)
	{
		uint64_t cur = used_.load(std::memory_order_relaxed);
		do {
			if (bytes > limit_ || cur > limit_ - bytes)
				return false;
		} while (!used_.compare_exchange_weak(cur, cur + bytes, std::memory_order_relaxed));
		uint64_t peak = peak_.load(std::memory_order_relaxed);
		while (cur + bytes > peak &&
		       !peak_.compare_exchange_weak(peak, cur + bytes, std::memory_order_relaxed)) {
		}
		return true;
	}
	void release(uint64_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }

	uint64_t limit() const { return limit_; }
	uint64_t used() const { return used_.load(std::memory_order_relaxed); }
	uint64_t peak() const { return peak_.load(std::memory_order_relaxed); }

private:
	const uint64_t limit_;
	std::atomic<uint64_t> used_{0};
	std::atomic<uint64_t> peak_{0};
};

// One budget for a whole process: the SST-core element library's device
// memories (every vsst.Bridge's embedded model and every vsst.Memory of one
// `sst` process) share it, as sst-sim's connections share --memory-budget.
// The first call fixes the limit; later calls get the same budget (compare
// limit() with what they asked for).
inline MemoryBudget &process_memory_budget(uint64_t limit)
{
	static MemoryBudget budget(limit);
	return budget;
}

} // namespace vsst::sim
