// SPDX-License-Identifier: Apache-2.0
// Single-producer / single-consumer ring over shared memory. Each side keeps
// its own index locally (the shared copy is only published, never trusted)
// and a cached copy of the peer's index, re-read only when the ring looks
// full (producer) or empty (consumer). The peer's index is validated on every
// read: prod - cons must stay within [0, capacity].
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>

#include "vsst/rpc/layout.hpp"
#include "vsst/rpc/message.hpp"

namespace vsst::rpc {

enum class RingStatus { Ok, Full, Empty, Corrupt };

// The offending index pair when a ring reports Corrupt.
struct RingFault {
	uint32_t prod = 0, cons = 0;
};

class RingProducer {
public:
	RingProducer() = default;
	RingProducer(layout::RingControl *ctl, Message *slots, uint32_t capacity)
		: ctl_(ctl), slots_(slots), mask_(capacity - 1),
		  prod_(std::atomic_ref<uint32_t>(ctl->prod).load(std::memory_order_relaxed)),
		  cons_cache_(std::atomic_ref<uint32_t>(ctl->cons).load(std::memory_order_acquire))
	{
	}

	uint32_t capacity() const { return mask_ + 1; }

	// Ok, Full, or Corrupt (the consumer's index is impossible; see fault()).
	RingStatus try_push(const Message &m)
	{
		return try_push(m, [] {});
	}

	// As above; before_publish runs after the slot is written and before
	// the consumer can see it (the endpoint's observer runs there, so a
	// message is observed as sent before anything the peer does in response).
	template <class F> RingStatus try_push(const Message &m, F &&before_publish)
	{
		if (prod_ - cons_cache_ >= capacity()) {
			cons_cache_ = std::atomic_ref<uint32_t>(ctl_->cons).load(std::memory_order_acquire);
			const uint32_t used = prod_ - cons_cache_;
			if (used > capacity()) {
				fault_ = {prod_, cons_cache_};
				return RingStatus::Corrupt;
			}
			if (used == capacity())
				return RingStatus::Full;
		}
		std::memcpy(&slots_[prod_ & mask_], &m, sizeof m);
		before_publish();
		// seq_cst so that the following load of the consumer's "sleeping"
		// flag cannot be reordered before this store (Dekker with the
		// consumer, which stores its flag and then re-reads prod).
		std::atomic_ref<uint32_t>(ctl_->prod).store(++prod_, std::memory_order_seq_cst);
		return RingStatus::Ok;
	}

	// Re-checks the consumer's index: Ok when consistent, Corrupt otherwise.
	RingStatus check()
	{
		const uint32_t cons = std::atomic_ref<uint32_t>(ctl_->cons).load(std::memory_order_acquire);
		if (prod_ - cons > capacity()) {
			fault_ = {prod_, cons};
			return RingStatus::Corrupt;
		}
		return RingStatus::Ok;
	}

	RingFault fault() const { return fault_; }
	uint32_t index() const { return prod_; }

private:
	layout::RingControl *ctl_ = nullptr;
	Message *slots_ = nullptr;
	uint32_t mask_ = 0;
	uint32_t prod_ = 0, cons_cache_ = 0;
	RingFault fault_;
};

class RingConsumer {
public:
	RingConsumer() = default;
	RingConsumer(layout::RingControl *ctl, Message *slots, uint32_t capacity)
		: ctl_(ctl), slots_(slots), mask_(capacity - 1),
		  cons_(std::atomic_ref<uint32_t>(ctl->cons).load(std::memory_order_relaxed)),
		  prod_cache_(cons_)
	{
	}

	uint32_t capacity() const { return mask_ + 1; }

	// Ok (m filled, copied out of shared memory before anything looks at it),
	// Empty, or Corrupt (the producer's index is impossible; see fault()).
	RingStatus try_pop(Message &m)
	{
		if (cons_ == prod_cache_) {
			const RingStatus st = refresh();
			if (st != RingStatus::Ok)
				return st;
			if (cons_ == prod_cache_)
				return RingStatus::Empty;
		}
		std::memcpy(&m, &slots_[cons_ & mask_], sizeof m);
		std::atomic_ref<uint32_t>(ctl_->cons).store(++cons_, std::memory_order_release);
		return RingStatus::Ok;
	}

	// True when the ring (as last seen, refreshed when it looks empty) holds
	// nothing. seq_cst: pairs with the producer's store (see try_push).
	RingStatus peek_empty(bool &empty)
	{
		if (cons_ == prod_cache_) {
			const RingStatus st = refresh();
			if (st != RingStatus::Ok)
				return st;
		}
		empty = cons_ == prod_cache_;
		return RingStatus::Ok;
	}

	RingFault fault() const { return fault_; }
	uint32_t index() const { return cons_; }

private:
	RingStatus refresh()
	{
		const uint32_t prod = std::atomic_ref<uint32_t>(ctl_->prod).load(std::memory_order_seq_cst);
		if (prod - cons_ > capacity()) {
			fault_ = {prod, cons_};
			return RingStatus::Corrupt;
		}
		prod_cache_ = prod;
		return RingStatus::Ok;
	}

	layout::RingControl *ctl_ = nullptr;
	Message *slots_ = nullptr;
	uint32_t mask_ = 0;
	uint32_t cons_ = 0, prod_cache_ = 0;
	RingFault fault_;
};

} // namespace vsst::rpc
