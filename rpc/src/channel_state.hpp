// SPDX-License-Identifier: Apache-2.0
// What both endpoints share: the mapped region, the doorbells, poisoning,
// statistics, the observer, and validated push/pop on the rings.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "vsst/posix/unique_fd.h"
#include "vsst/rpc.h"
#include "vsst/rpc/channel.hpp"
#include "vsst/rpc/layout.hpp"
#include "vsst/rpc/ring.hpp"

namespace vsst::rpc::detail {

class Mapping {
public:
	Mapping() = default;
	Mapping(void *p, size_t n) : p_(p), n_(n) {}
	Mapping(Mapping &&o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(o.n_) {}
	Mapping &operator=(Mapping &&o) noexcept
	{
		if (this != &o) {
			reset();
			p_ = std::exchange(o.p_, nullptr);
			n_ = o.n_;
		}
		return *this;
	}
	Mapping(const Mapping &) = delete;
	Mapping &operator=(const Mapping &) = delete;
	~Mapping() { reset(); }
	void reset();
	void *get() const { return p_; }
	size_t size() const { return n_; }

private:
	void *p_ = nullptr;
	size_t n_ = 0;
};

enum class Role { Proxy, Device };

class ChannelState {
public:
	static std::unique_ptr<ChannelState> attach(const vsst_rpc_fds &fds, Role role, std::string *err);

	Role role() const { return role_; }
	uint32_t capacity() const { return capacity_; }
	layout::Header *header() const { return hdr_; }
	layout::RingControl *ring_control(Ring r) const;
	Message *ring_slots(Ring r) const;
	int to_device() const { return to_device_.get(); }
	int to_proxy() const { return to_proxy_.get(); }

	// ---- poisoning ----
	// True once this side saw poison (its own or the peer's); latches the reason.
	bool check_poisoned() const;
	void poison(std::string_view reason);
	const char *poison_reason() const;
	// Role-specific wakeups of local waiters when the channel gets poisoned.
	void set_poison_hook(std::function<void()> hook) { poison_hook_ = std::move(hook); }

	// ---- rings ----
	// 1 popped (validated), 0 empty, -EPIPE (poisoned; invalid input poisons).
	int pop(RingConsumer &ring, Ring which, Message &m);
	// 1 pushed (peer kicked if it sleeps), 0 full, -EPIPE.
	int push(RingProducer &ring, Ring which, const Message &m);
	// Re-validates the consumer index seen by a producer: 0 or -EPIPE.
	int check_producer(RingProducer &ring, Ring which);
	// Checks whether a consumer ring is empty (validating the producer index).
	int ring_empty(RingConsumer &ring, Ring which, bool &empty);

	// push() under `mtx`, waiting for space (spin, then sleeps in growing
	// steps) at most timeout_ms: 0, -ETIMEDOUT, -EPIPE.
	int push_wait(RingProducer &ring, Ring which, const Message &m, std::mutex &mtx, int timeout_ms);

	uint64_t spin_ns() const { return spin_ns_.load(std::memory_order_relaxed); }
	void set_spin_us(uint32_t us) { spin_ns_.store(uint64_t{us} * 1000, std::memory_order_relaxed); }

	// Statistics. Per-ring counters are only touched by that ring's
	// producer (or consumer), which holds its local lock: they are bumped
	// with a relaxed load+store, no locked instruction on the hot path.
	struct Counters {
		std::atomic<uint64_t> sent[3] = {}, received[3] = {}, kicks_sent[3] = {},
				      kicks_suppressed[3] = {};
		std::atomic<uint64_t> sleeps{0}, timeouts{0}, rejected{0};
	};
	static void bump(std::atomic<uint64_t> &c)
	{
		c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
	}
	Counters &counters() { return cnt_; }
	Stats stats() const;

	void set_observer(vsst_rpc_observer fn, void *opaque);
	void observe(int dir, Ring ring, const Message &m) const
	{
		const ObserverRec *o = observer_.load(std::memory_order_acquire);
		if (o && o->fn) {
			const vsst_rpcmsg c = m.to_c();
			o->fn(o->opaque, dir, static_cast<int>(ring), &c);
		}
	}

	// The sleeping flag the consumer of `ring` raises, and the doorbell it sleeps on.
	uint32_t &sleep_flag(Ring ring) const;
	int doorbell(Ring ring) const { return ring == Ring::Requests ? to_device() : to_proxy(); }

private:
	ChannelState() = default;
	// Records the reason once; true the first time (then wakes local waiters).
	bool latch(const char *reason) const;

	Role role_ = Role::Proxy;
	UniqueFd region_fd_, to_device_, to_proxy_;
	Mapping map_;
	layout::Header *hdr_ = nullptr;
	uint32_t capacity_ = 0;
	std::atomic<uint64_t> spin_ns_{kDefaultSpinUs * 1000ull};

	mutable std::atomic<bool> poisoned_{false};
	mutable std::mutex poison_mtx_;
	mutable char reason_[layout::kReasonMax] = {};
	std::function<void()> poison_hook_;

	Counters cnt_;

	struct ObserverRec {
		vsst_rpc_observer fn;
		void *opaque;
	};
	std::mutex observer_mtx_;
	std::vector<std::unique_ptr<ObserverRec>> observer_recs_; // kept until close
	std::atomic<const ObserverRec *> observer_{nullptr};
};

} // namespace vsst::rpc::detail
