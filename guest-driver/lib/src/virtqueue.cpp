// SPDX-License-Identifier: Apache-2.0
#include "vsst/virtio/virtqueue.h"

#include <atomic>
#include <bit>
#include <cstring>

#include "vsst/virtio/error.h"
#include "vsst/virtio/spec.h"

static_assert(std::endian::native == std::endian::little,
	      "the ring is little-endian; a big-endian host needs byte swaps here");

namespace vsst::virtio {
namespace {

// Layout offsets inside the avail and used areas (in bytes).
constexpr size_t kAvailFlags = 0, kAvailIdx = 2, kAvailRing = 4;
constexpr size_t kUsedFlags = 0, kUsedIdx = 2, kUsedRing = 4;

template <typename T> T load_acquire(const std::byte *p)
{
	return std::atomic_ref<T>(*reinterpret_cast<T *>(const_cast<std::byte *>(p)))
		.load(std::memory_order_acquire);
}
template <typename T> void store_release(std::byte *p, T v)
{
	std::atomic_ref<T>(*reinterpret_cast<T *>(p)).store(v, std::memory_order_release);
}
// One read of a device-written word (no tearing, no re-fetch).
template <typename T> T load_once(const std::byte *p)
{
	return std::atomic_ref<T>(*reinterpret_cast<T *>(const_cast<std::byte *>(p)))
		.load(std::memory_order_relaxed);
}

// virtio's vring_need_event: notify iff event lies in [old, new).
bool need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
	return static_cast<uint16_t>(new_idx - event - 1) < static_cast<uint16_t>(new_idx - old_idx);
}

} // namespace

SplitVirtqueue::SplitVirtqueue(GuestMemory &mem, uint16_t index, uint16_t size, bool event_idx,
			       Notifier notify)
	: index_(index), size_(size), event_idx_(event_idx), notify_(std::move(notify))
{
	if (size == 0 || size > ring::kMaxSize || (size & (size - 1)) != 0)
		throw Error("virtqueue " + std::to_string(index) + ": size " + std::to_string(size) +
			    " is not a power of two in 1..32768");
	desc_ = DmaBuffer(mem, sizeof(Desc) * size, 16);
	avail_ = DmaBuffer(mem, kAvailRing + 2u * size + 2, 4);
	used_ = DmaBuffer(mem, kUsedRing + sizeof(UsedElem) * size + 2, 4);
	chains_.resize(size);
	next_.resize(size);
	for (uint16_t i = 0; i < size; i++)
		next_[i] = static_cast<uint16_t>(i + 1);
	num_free_ = size;
}

QueueAddresses SplitVirtqueue::addresses() const
{
	return {desc_.gpa(), avail_.gpa(), used_.gpa()};
}

void SplitVirtqueue::mark_broken(std::string reason)
{
	if (broken_reason_.empty())
		broken_reason_ = "virtqueue " + std::to_string(index_) + ": " + std::move(reason);
}

AddResult SplitVirtqueue::add_buffer(std::span<const BufferRef> out, std::span<const BufferRef> in,
				     uint64_t token)
{
	if (broken())
		return AddResult::kBroken;
	const size_t n = out.size() + in.size();
	if (n == 0)
		return AddResult::kInvalid;
	uint64_t writable = 0;
	for (auto *list : {&out, &in})
		for (const BufferRef &b : *list) {
			if (b.len == 0 || b.gpa + b.len < b.gpa)
				return AddResult::kInvalid;
			if (list == &in)
				writable += b.len;
		}
	if (writable > UINT32_MAX)
		return AddResult::kInvalid;
	if (n > num_free_)
		return AddResult::kNoSpace;

	Desc *table = desc_table();
	const uint16_t head = free_head_;
	uint16_t cur = head, prev = head;
	size_t i = 0;
	for (auto *list : {&out, &in})
		for (const BufferRef &b : *list) {
			uint16_t flags = (list == &in) ? ring::kDescWrite : 0;
			if (++i < n)
				flags |= ring::kDescNext;
			table[cur] = Desc{b.gpa, b.len, flags, next_[cur]};
			prev = cur;
			cur = next_[cur];
		}
	table[prev].next = 0;
	free_head_ = cur;
	num_free_ = static_cast<uint16_t>(num_free_ - n);
	chains_[head] = ChainState{token, static_cast<uint32_t>(writable), static_cast<uint16_t>(n), true};
	in_flight_++;

	std::byte *avail = avail_.host();
	std::memcpy(avail + kAvailRing + 2u * (avail_idx_ % size_), &head, 2);
	avail_idx_++;
	// Descriptors and the ring slot become visible before the new index.
	store_release<uint16_t>(avail + kAvailIdx, avail_idx_);
	stats_.added++;
	return AddResult::kOk;
}

bool SplitVirtqueue::kick()
{
	const uint16_t old_idx = kicked_idx_, new_idx = avail_idx_;
	kicked_idx_ = new_idx;
	if (old_idx == new_idx)
		return false;
	// The index store must be visible before reading the device's
	// suppression state, or both sides may decide not to signal.
	std::atomic_thread_fence(std::memory_order_seq_cst);
	bool needed;
	if (event_idx_) {
		const uint16_t avail_event =
			load_once<uint16_t>(used_.host() + kUsedRing + sizeof(UsedElem) * size_);
		needed = need_event(avail_event, new_idx, old_idx);
	} else {
		needed = !(load_once<uint16_t>(used_.host() + kUsedFlags) & ring::kUsedNoNotify);
	}
	if (!needed) {
		stats_.notifies_suppressed++;
		return false;
	}
	stats_.notifies++;
	notify_(index_);
	return true;
}

uint16_t SplitVirtqueue::read_used_idx() const
{
	return load_acquire<uint16_t>(used_.host() + kUsedIdx);
}

bool SplitVirtqueue::has_used() const
{
	return !broken() && read_used_idx() != last_used_;
}

std::optional<UsedBuffer> SplitVirtqueue::get_buffer()
{
	if (broken())
		return std::nullopt;
	const uint16_t used_idx = read_used_idx();
	const uint16_t pending = static_cast<uint16_t>(used_idx - last_used_);
	if (pending == 0)
		return std::nullopt;
	if (pending > in_flight_) {
		mark_broken("device advanced used idx by " + std::to_string(pending) + " with only " +
			    std::to_string(in_flight_) + " buffers in flight");
		return std::nullopt;
	}
	const std::byte *elem = used_.host() + kUsedRing + sizeof(UsedElem) * (last_used_ % size_);
	const uint32_t id = load_once<uint32_t>(elem);
	const uint32_t len = load_once<uint32_t>(elem + 4);
	if (id >= size_) {
		mark_broken("used id " + std::to_string(id) + " out of range (size " + std::to_string(size_) +
			    ")");
		return std::nullopt;
	}
	ChainState &chain = chains_[id];
	if (!chain.active) {
		mark_broken("used id " + std::to_string(id) + " is not the head of a buffer in flight");
		return std::nullopt;
	}
	if (len > chain.writable) {
		mark_broken("used len " + std::to_string(len) + " exceeds the " +
			    std::to_string(chain.writable) + " writable bytes of id " + std::to_string(id));
		return std::nullopt;
	}
	// Return the chain to the free list using the private links only.
	uint16_t tail = static_cast<uint16_t>(id);
	for (uint16_t k = 1; k < chain.ndesc; k++)
		tail = next_[tail];
	next_[tail] = free_head_;
	free_head_ = static_cast<uint16_t>(id);
	num_free_ = static_cast<uint16_t>(num_free_ + chain.ndesc);
	in_flight_--;
	chain.active = false;
	last_used_++;
	if (event_idx_ && cb_enabled_) {
		// Ask for an interrupt at the next completion.
		store_release<uint16_t>(avail_.host() + kAvailRing + 2u * size_, last_used_);
	}
	stats_.used++;
	return UsedBuffer{chain.token, len};
}

void SplitVirtqueue::disable_cb()
{
	cb_enabled_ = false;
	std::byte *avail = avail_.host();
	const uint16_t flags = load_once<uint16_t>(avail + kAvailFlags);
	store_release<uint16_t>(avail + kAvailFlags, flags | ring::kAvailNoInterrupt);
}

bool SplitVirtqueue::enable_cb()
{
	cb_enabled_ = true;
	std::byte *avail = avail_.host();
	if (event_idx_)
		store_release<uint16_t>(avail + kAvailRing + 2u * size_, last_used_);
	const uint16_t flags = load_once<uint16_t>(avail + kAvailFlags);
	store_release<uint16_t>(avail + kAvailFlags, flags & ~ring::kAvailNoInterrupt);
	// Re-check after publishing: a buffer used before the device saw the
	// change would otherwise raise no interrupt.
	std::atomic_thread_fence(std::memory_order_seq_cst);
	return has_used();
}

} // namespace vsst::virtio
