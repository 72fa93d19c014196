// SPDX-License-Identifier: Apache-2.0
// Test kit: direct access to a channel's shared region, to write what the rpc
// library would never send (a hostile peer: any message in any ring, any
// producer index). Used only by the thread that owns the ring being written
// (the library keeps its own producer index locally). kick_fd: the eventfd of
// the side that consumes the written rings.
#pragma once

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "vsst/rpc/layout.hpp"
#include "vsst/rpc/message.hpp"

namespace vsst::rpc::testkit {

class RawRegion {
public:
	bool map(int region_fd, int kick_fd)
	{
		struct stat st {};
		if (fstat(region_fd, &st) < 0 || st.st_size < static_cast<off_t>(sizeof(layout::Header)))
			return false;
		size_ = size_t(st.st_size);
		void *p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, region_fd, 0);
		if (p == MAP_FAILED)
			return false;
		base_ = static_cast<uint8_t *>(p);
		cap_ = reinterpret_cast<layout::Header *>(base_)->ring_capacity;
		kick_fd_ = kick_fd;
		return layout::valid_capacity(cap_) && layout::region_size(cap_) <= size_;
	}
	~RawRegion()
	{
		if (base_)
			munmap(base_, size_);
	}

	layout::RingControl *ctl(Ring r) const
	{
		return reinterpret_cast<layout::RingControl *>(base_ + layout::ring_offset(size_t(r), cap_));
	}
	Message *slot(Ring r, uint32_t index) const
	{
		auto *slots = reinterpret_cast<Message *>(reinterpret_cast<uint8_t *>(ctl(r)) +
							  sizeof(layout::RingControl));
		return &slots[index & (cap_ - 1)];
	}
	uint32_t prod(Ring r) const { return std::atomic_ref<uint32_t>(ctl(r)->prod).load(); }
	uint32_t cons(Ring r) const { return std::atomic_ref<uint32_t>(ctl(r)->cons).load(); }

	// Writes m into the next slot; publishes it (and kicks) only if asked.
	void push(Ring r, const Message &m, bool publish)
	{
		const uint32_t p = prod(r);
		std::memcpy(slot(r, p), &m, sizeof m);
		if (publish) {
			std::atomic_ref<uint32_t>(ctl(r)->prod).store(p + 1, std::memory_order_seq_cst);
			kick();
		}
	}
	void set_prod(Ring r, uint32_t v)
	{
		std::atomic_ref<uint32_t>(ctl(r)->prod).store(v, std::memory_order_seq_cst);
		kick();
	}
	void kick() const
	{
		const uint64_t one = 1;
		(void)!write(kick_fd_, &one, sizeof one);
	}
	uint32_t capacity() const { return cap_; }

private:
	uint8_t *base_ = nullptr;
	size_t size_ = 0;
	uint32_t cap_ = 0;
	int kick_fd_ = -1;
};

} // namespace vsst::rpc::testkit
