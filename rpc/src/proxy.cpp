// SPDX-License-Identifier: Apache-2.0
// Proxy endpoint (guest VM side). Several vCPU threads issue synchronous
// MMIO; a main loop receives events. Completions and events share one
// doorbell (to_proxy), so waking is organised as follows (rpc/README.md,
// "Waiting and kicks"):
//  - a vCPU thread first spins, draining the completions ring itself;
//  - then at most one waiting thread, the "leader", sleeps on to_proxy
//    (plus a local leader_efd); the others ("followers") sleep on a local
//    futex and are woken when the leader delivers their completion or
//    leaves, so one of them takes over;
//  - the main loop polls an epoll fd holding to_proxy and a local event_efd.
// Whoever reads the to_proxy counter may have taken a kick meant for the
// other party, so it passes it on: a leader kicks event_efd when events
// are pending, the main loop drains completions and kicks leader_efd.
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <cerrno>
#include <cstdio>

#include "channel_state.hpp"
#include "sys.hpp"

namespace vsst::rpc {
namespace detail {

namespace {
enum SlotState : uint32_t { kFree = 0, kWaiting = 1, kDone = 2, kAbandoned = 3 };
// Half the slots held by requests the device VM never answered: it is not going to.
constexpr uint32_t kLostSlotsToDeath = kMaxSlots / 2;
} // namespace

class ProxyState {
public:
	explicit ProxyState(ChannelState &ch) : ch_(ch) {}

	bool init(std::string *err);
	int mmio(unsigned as, uint64_t addr, unsigned len, Dir dir, uint64_t *data, int timeout_ms);
	int post(const Message &m, int timeout_ms);
	int recv_event(Message &ev);
	int wait_event(Message &ev, int timeout_ms);
	int event_fd() const { return epoll_.get(); }
	void wake_all_local();

private:
	struct Slot {
		std::atomic<uint32_t> state{kFree};
		Message req;       // written by the owner before kWaiting
		uint64_t data = 0; // written by the dispatcher before kDone
		bool error = false;
	};

	int alloc_slot();
	void free_slot(unsigned s) { free_mask_.fetch_or(uint64_t{1} << s, std::memory_order_release); }
	int wait_slot(unsigned s, const sys::Deadline &dl);
	int take_result(unsigned s, uint64_t *data);
	int lead(unsigned s, const sys::Deadline &dl);
	int drain_completions_locked(); // requires cpl_mtx_
	void forward_events_if_pending();
	bool slot_done(unsigned s) const { return slots_[s].state.load(std::memory_order_acquire) == kDone; }

	ChannelState &ch_;
	RingProducer req_;
	std::mutex req_mtx_;
	RingConsumer cpl_;
	std::mutex cpl_mtx_;
	RingConsumer evt_;
	std::mutex evt_mtx_;

	Slot slots_[kMaxSlots];
	std::atomic<uint64_t> free_mask_{~uint64_t{0}};
	// Slots whose requester timed out and whose completion never came: held until it
	// does. A device VM that answers some requests but not others would otherwise leak
	// them one by one until every access fails with -EBUSY and nobody calls it dead.
	std::atomic<uint32_t> abandoned_{0};
	std::atomic<uint64_t> token_seq_{0};

	std::mutex lead_mtx_;
	std::atomic<bool> leader_active_{false};
	std::atomic<uint32_t> epoch_{0};
	std::atomic<uint32_t> followers_{0};

	UniqueFd leader_efd_, event_efd_, epoll_;
};

bool ProxyState::init(std::string *err)
{
	req_ = RingProducer(ch_.ring_control(Ring::Requests), ch_.ring_slots(Ring::Requests), ch_.capacity());
	cpl_ = RingConsumer(ch_.ring_control(Ring::Completions), ch_.ring_slots(Ring::Completions),
			    ch_.capacity());
	evt_ = RingConsumer(ch_.ring_control(Ring::Events), ch_.ring_slots(Ring::Events), ch_.capacity());
	leader_efd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	event_efd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
	if (!leader_efd_ || !event_efd_ || !epoll_) {
		if (err)
			*err = "proxy: cannot create local eventfd/epoll";
		return false;
	}
	for (int fd : {ch_.to_proxy(), event_efd_.get()}) {
		epoll_event ev{};
		ev.events = EPOLLIN;
		ev.data.fd = fd;
		if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) {
			if (err)
				*err = "proxy: epoll_ctl failed";
			return false;
		}
	}
	return true;
}

void ProxyState::wake_all_local()
{
	epoch_.fetch_add(1, std::memory_order_seq_cst);
	sys::futex_wake_all(epoch_);
	sys::kick(leader_efd_.get());
	sys::kick(event_efd_.get());
}

int ProxyState::alloc_slot()
{
	uint64_t m = free_mask_.load(std::memory_order_relaxed);
	while (m) {
		const int bit = __builtin_ctzll(m);
		if (free_mask_.compare_exchange_weak(m, m & ~(uint64_t{1} << bit), std::memory_order_acquire,
						     std::memory_order_relaxed))
			return bit;
	}
	return -EBUSY;
}

int ProxyState::drain_completions_locked()
{
	int delivered = 0, rc = 0;
	Message m;
	for (;;) {
		const int r = ch_.pop(cpl_, Ring::Completions, m);
		if (r <= 0) {
			rc = r;
			break;
		}
		const unsigned s = m.slot();
		Slot &sl = slots_[s];
		uint32_t st = sl.state.load(std::memory_order_acquire);
		char why[160] = {};
		if (st != kWaiting && st != kAbandoned)
			std::snprintf(
				why, sizeof why,
				"completions ring: completion for slot %u, which has no request in flight",
				s);
		else if (m.token() != sl.req.token())
			std::snprintf(why, sizeof why,
				      "completions ring: token mismatch on slot %u (got %llu, expected %llu)",
				      s, static_cast<unsigned long long>(m.token()),
				      static_cast<unsigned long long>(sl.req.token()));
		else if (m.addr() != sl.req.addr() || m.as() != sl.req.as() || m.len() != sl.req.len() ||
			 m.dir() != sl.req.dir())
			std::snprintf(why, sizeof why,
				      "completions ring: completion for slot %u does not match its request",
				      s);
		if (why[0]) {
			ch_.counters().rejected.fetch_add(1, std::memory_order_relaxed);
			ch_.poison(why);
			rc = -EPIPE;
			break;
		}
		sl.data = m.data();
		sl.error = m.error();
		if (st == kWaiting &&
		    sl.state.compare_exchange_strong(st, kDone, std::memory_order_acq_rel)) {
			++delivered;
		} else {
			// The requester gave up (timeout): the late completion frees the slot.
			sl.state.store(kFree, std::memory_order_relaxed);
			abandoned_.fetch_sub(1, std::memory_order_relaxed);
			free_slot(s);
		}
	}
	if (delivered) {
		epoch_.fetch_add(1, std::memory_order_seq_cst);
		if (followers_.load(std::memory_order_seq_cst))
			sys::futex_wake_all(epoch_);
	}
	return rc;
}

void ProxyState::forward_events_if_pending()
{
	// Shared indices, read without the events lock: a wrong answer only
	// costs a spurious wakeup of the main loop.
	layout::RingControl *c = ch_.ring_control(Ring::Events);
	const uint32_t prod = std::atomic_ref<uint32_t>(c->prod).load(std::memory_order_acquire);
	const uint32_t cons = std::atomic_ref<uint32_t>(c->cons).load(std::memory_order_acquire);
	if (prod != cons)
		sys::kick(event_efd_.get());
}

int ProxyState::take_result(unsigned s, uint64_t *data)
{
	Slot &sl = slots_[s];
	const bool error = sl.error;
	const uint64_t v = sl.data;
	const bool read = !sl.req.is_write();
	const unsigned len = sl.req.len();
	sl.state.store(kFree, std::memory_order_relaxed);
	free_slot(s);
	if (error) {
		if (read)
			*data = len_mask(len);
		return -EIO;
	}
	if (read)
		*data = v;
	return 0;
}

int ProxyState::lead(unsigned s, const sys::Deadline &dl)
{
	std::atomic_ref<uint32_t> flag(ch_.sleep_flag(Ring::Completions));
	const int fds[2] = {ch_.to_proxy(), leader_efd_.get()};
	int rc = 0;
	for (;;) {
		flag.store(1, std::memory_order_seq_cst); // announce, then re-check
		{
			std::lock_guard<std::mutex> lk(cpl_mtx_);
			rc = drain_completions_locked();
		}
		if (rc < 0 || slot_done(s) || ch_.check_poisoned())
			break;
		const int64_t ns = dl.remaining_ns();
		if (ns <= 0)
			break;
		ch_.counters().sleeps.fetch_add(1, std::memory_order_relaxed);
		const int ready = sys::wait_readable(fds, 2, ns);
		if (ready > 0 && (ready & 2))
			sys::drain_eventfd(leader_efd_.get());
		if (ready > 0 && (ready & 1) && sys::drain_eventfd(ch_.to_proxy()))
			forward_events_if_pending();
	}
	flag.store(0, std::memory_order_relaxed);
	return rc;
}

int ProxyState::wait_slot(unsigned s, const sys::Deadline &dl)
{
	// Spin phase: drain completions ourselves when nobody else is.
	const uint64_t spin = ch_.spin_ns();
	if (spin) {
		const auto spin_end = sys::Clock::now() + std::chrono::nanoseconds(spin);
		for (unsigned i = 0;; ++i) {
			if (slot_done(s))
				return 0;
			if (cpl_mtx_.try_lock()) {
				const int r = drain_completions_locked();
				cpl_mtx_.unlock();
				if (r < 0)
					return r;
				if (slot_done(s))
					return 0;
			}
			if ((i & 63) == 63) {
				if (ch_.check_poisoned())
					return -EPIPE;
				const auto now = sys::Clock::now();
				if (now >= spin_end || now >= dl.end())
					break;
			}
			sys::spin_pause(i);
		}
	}
	// Blocking phase: leader or follower.
	for (;;) {
		if (slot_done(s))
			return 0;
		if (ch_.check_poisoned())
			return -EPIPE;
		const int64_t left = dl.remaining_ns();
		if (left <= 0)
			return -ETIMEDOUT;
		bool leader = false;
		{
			std::lock_guard<std::mutex> lk(lead_mtx_);
			if (!leader_active_.load(std::memory_order_relaxed)) {
				leader_active_.store(true, std::memory_order_seq_cst);
				leader = true;
			}
		}
		if (leader) {
			const int r = lead(s, dl);
			{
				std::lock_guard<std::mutex> lk(lead_mtx_);
				leader_active_.store(false, std::memory_order_seq_cst);
			}
			// Let a follower take over the doorbell.
			epoch_.fetch_add(1, std::memory_order_seq_cst);
			if (followers_.load(std::memory_order_seq_cst))
				sys::futex_wake_all(epoch_);
			if (r < 0)
				return r;
			continue;
		}
		followers_.fetch_add(1, std::memory_order_seq_cst);
		const uint32_t ep = epoch_.load(std::memory_order_seq_cst);
		if (!slot_done(s) && leader_active_.load(std::memory_order_seq_cst))
			sys::futex_wait(epoch_, ep, left);
		followers_.fetch_sub(1, std::memory_order_seq_cst);
	}
}

int ProxyState::mmio(unsigned as, uint64_t addr, unsigned len, Dir dir, uint64_t *data, int timeout_ms)
{
	if (!data || timeout_ms < 0 || as > 0xff || len > 8)
		return -EINVAL;
	const uint64_t wdata = dir == Dir::Write ? (*data & len_mask(len)) : 0;
	Message req = mmio_request(0, as, addr, len, dir, wdata, 0);
	if (validate(req, Ring::Requests) != DecodeError::None)
		return -EINVAL;
	if (ch_.check_poisoned())
		return -EPIPE;
	const sys::Deadline dl(timeout_ms);
	const int s = alloc_slot();
	if (s < 0)
		return s;
	req = mmio_request(static_cast<unsigned>(s), as, addr, len, dir, wdata,
			   token_seq_.fetch_add(1, std::memory_order_relaxed) + 1);
	Slot &sl = slots_[s];
	sl.req = req;
	sl.state.store(kWaiting, std::memory_order_release);
	const int pr = ch_.push_wait(req_, Ring::Requests, req, req_mtx_, timeout_ms);
	if (pr < 0) {
		sl.state.store(kFree, std::memory_order_relaxed);
		free_slot(static_cast<unsigned>(s));
		return pr;
	}
	const int r = wait_slot(static_cast<unsigned>(s), dl);
	if (r == 0)
		return take_result(static_cast<unsigned>(s), data);
	if (r == -ETIMEDOUT) {
		uint32_t st = kWaiting;
		if (!sl.state.compare_exchange_strong(st, kAbandoned, std::memory_order_acq_rel))
			return take_result(static_cast<unsigned>(s), data); // it arrived just now
		ch_.counters().timeouts.fetch_add(1, std::memory_order_relaxed);
		const uint32_t lost = abandoned_.fetch_add(1, std::memory_order_relaxed) + 1;
		if (lost >= kLostSlotsToDeath) {
			char why[128];
			std::snprintf(why, sizeof why,
				      "requests ring: the device VM never answered %u requests; "
				      "%u of %u request slots are lost",
				      lost, lost, kMaxSlots);
			ch_.poison(why);
			return -EPIPE;
		}
	}
	return r;
}

int ProxyState::post(const Message &m, int timeout_ms)
{
	if (timeout_ms < 0 || validate(m, Ring::Requests) != DecodeError::None)
		return -EINVAL;
	if (m.op() == Op::Mmio && !m.posted())
		return -EINVAL; // non-posted MMIO must go through mmio() to own a slot
	return ch_.push_wait(req_, Ring::Requests, m, req_mtx_, timeout_ms);
}

int ProxyState::recv_event(Message &ev)
{
	std::atomic_ref<uint32_t> flag(ch_.sleep_flag(Ring::Events));
	std::lock_guard<std::mutex> lk(evt_mtx_);
	int r = ch_.pop(evt_, Ring::Events, ev);
	if (r != 0) {
		if (r > 0)
			flag.store(0, std::memory_order_relaxed); // awake: no kicks needed
		return r;
	}
	// About to report "nothing": reset our doorbells so a level-triggered
	// main loop does not spin, passing on a kick that was a completion's.
	sys::drain_eventfd(event_efd_.get());
	if (sys::drain_eventfd(ch_.to_proxy())) {
		int dr;
		{
			std::lock_guard<std::mutex> cl(cpl_mtx_);
			dr = drain_completions_locked();
		}
		if (dr < 0)
			return dr;
		if (leader_active_.load(std::memory_order_seq_cst))
			sys::kick(leader_efd_.get());
	}
	flag.store(1, std::memory_order_seq_cst); // announce, then re-check
	r = ch_.pop(evt_, Ring::Events, ev);
	if (r > 0)
		flag.store(0, std::memory_order_relaxed);
	return r;
}

int ProxyState::wait_event(Message &ev, int timeout_ms)
{
	if (timeout_ms < 0)
		return -EINVAL;
	const sys::Deadline dl(timeout_ms);
	for (;;) {
		const int r = recv_event(ev);
		if (r != 0)
			return r;
		const int64_t ns = dl.remaining_ns();
		if (ns <= 0) {
			ch_.counters().timeouts.fetch_add(1, std::memory_order_relaxed);
			return -ETIMEDOUT;
		}
		const int fd = epoll_.get();
		ch_.counters().sleeps.fetch_add(1, std::memory_order_relaxed);
		sys::wait_readable(&fd, 1, ns);
	}
}

} // namespace detail

// ---- public wrappers ----

std::unique_ptr<ProxyEndpoint> ProxyEndpoint::attach(const vsst_rpc_fds &fds, std::string *err)
{
	auto st = detail::ChannelState::attach(fds, detail::Role::Proxy, err);
	if (!st)
		return nullptr;
	std::unique_ptr<ProxyEndpoint> ep(new ProxyEndpoint(std::move(st)));
	if (!ep->px_->init(err))
		return nullptr;
	return ep;
}

ProxyEndpoint::ProxyEndpoint(std::unique_ptr<detail::ChannelState> st)
	: Endpoint(std::move(st)), px_(std::make_unique<detail::ProxyState>(*st_))
{
	st_->set_poison_hook([px = px_.get()] { px->wake_all_local(); });
}

ProxyEndpoint::~ProxyEndpoint()
{
	st_->set_poison_hook({});
}

int ProxyEndpoint::mmio(unsigned as, uint64_t addr, unsigned len, Dir dir, uint64_t *data, int timeout_ms)
{
	return px_->mmio(as, addr, len, dir, data, timeout_ms);
}

int ProxyEndpoint::post(unsigned as, uint64_t addr, unsigned len, uint64_t data, int timeout_ms)
{
	if (as > 0xff || len > 8)
		return -EINVAL;
	return px_->post(mmio_posted_write(as, addr, len, data & len_mask(len)), timeout_ms);
}

int ProxyEndpoint::send(const Message &m, int timeout_ms)
{
	if (m.op() != Op::Hello && m.op() != Op::Stop)
		return -EINVAL;
	return px_->post(m, timeout_ms);
}

int ProxyEndpoint::event_fd() const
{
	return px_->event_fd();
}
int ProxyEndpoint::recv_event(Message &ev)
{
	return px_->recv_event(ev);
}
int ProxyEndpoint::wait_event(Message &ev, int timeout_ms)
{
	return px_->wait_event(ev, timeout_ms);
}

} // namespace vsst::rpc
