// SPDX-License-Identifier: Apache-2.0
#include "channel_state.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include "sys.hpp"

namespace vsst::rpc {

namespace {

int fail(std::string *err, int rc, const std::string &what)
{
	if (err)
		*err = what;
	return rc;
}

std::string errno_text(const char *what, int e)
{
	return std::string(what) + ": " + std::strerror(e);
}

} // namespace

int create_channel(const ChannelParams &params, ChannelFds &out, std::string *err)
{
	const uint32_t cap = params.ring_capacity ? params.ring_capacity : layout::kDefaultCapacity;
	if (!layout::valid_capacity(cap))
		return fail(err, -EINVAL,
			    "ring capacity " + std::to_string(cap) + " is not a power of two in [2, 65536]");
	const size_t size = layout::region_size(cap);

	UniqueFd region(::memfd_create("vsst-rpc", MFD_CLOEXEC | MFD_ALLOW_SEALING));
	if (!region)
		return fail(err, -errno, errno_text("memfd_create", errno));
	if (::ftruncate(region.get(), static_cast<off_t>(size)) < 0)
		return fail(err, -errno, errno_text("ftruncate", errno));
	void *p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, region.get(), 0);
	if (p == MAP_FAILED)
		return fail(err, -errno, errno_text("mmap", errno));
	auto *h = static_cast<layout::Header *>(p);
	// The file is fresh (all zero): rings empty, healthy, nobody sleeping.
	h->version = layout::kVersion;
	h->header_size = sizeof(layout::Header);
	h->ring_capacity = cap;
	h->message_size = sizeof(Message);
	h->features = layout::kFeatures;
	h->region_size = size;
	h->spin_us = params.spin_us;
	// Consumers that poll a doorbell before their first receive call (the
	// proxy main loop, a device dispatcher) count as asleep, so the first
	// message always kicks.
	h->proxy_sleeping_events = 1;
	h->device_sleeping = 1;
	std::atomic_ref<uint64_t>(h->magic).store(layout::kMagic, std::memory_order_release);
	::munmap(p, size);
	// A peer must never be able to shrink the file under our mapping (SIGBUS).
	if (::fcntl(region.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		return fail(err, -errno, errno_text("seal region", errno));

	UniqueFd to_device(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	UniqueFd to_proxy(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	if (!to_device || !to_proxy)
		return fail(err, -errno, errno_text("eventfd", errno));
	out.region = std::move(region);
	out.to_device = std::move(to_device);
	out.to_proxy = std::move(to_proxy);
	return 0;
}

namespace detail {

void Mapping::reset()
{
	if (p_)
		::munmap(p_, n_);
	p_ = nullptr;
}

namespace {

bool is_eventfd(int fd)
{
	char path[64], target[64] = {};
	std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	const ssize_t n = ::readlink(path, target, sizeof target - 1);
	if (n < 0)
		return true; // no /proc: cannot tell, the poll/read calls will fail cleanly
	return std::strcmp(target, "anon_inode:[eventfd]") == 0;
}

UniqueFd dup_fd(int fd)
{
	return UniqueFd(fd >= 0 ? ::fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1);
}

} // namespace

std::unique_ptr<ChannelState> ChannelState::attach(const vsst_rpc_fds &fds, Role role, std::string *err)
{
	std::unique_ptr<ChannelState> st(new ChannelState()); // private constructor
	st->role_ = role;
	st->region_fd_ = dup_fd(fds.region);
	st->to_device_ = dup_fd(fds.to_device);
	st->to_proxy_ = dup_fd(fds.to_proxy);
	if (!st->region_fd_ || !st->to_device_ || !st->to_proxy_)
		return fail(err, 0, errno_text("dup channel fd", errno)), nullptr;
	if (!is_eventfd(fds.to_device) || !is_eventfd(fds.to_proxy))
		return fail(err, 0, "doorbell fd is not an eventfd"), nullptr;
	if (sys::set_nonblock(st->to_device_.get()) < 0 || sys::set_nonblock(st->to_proxy_.get()) < 0)
		return fail(err, 0, errno_text("O_NONBLOCK on eventfd", errno)), nullptr;

	struct stat sb;
	if (::fstat(st->region_fd_.get(), &sb) < 0)
		return fail(err, 0, errno_text("fstat region", errno)), nullptr;
	const size_t size = static_cast<size_t>(sb.st_size);
	if (size < sizeof(layout::Header) || size > layout::region_size(layout::kMaxCapacity))
		return fail(err, 0, "region size " + std::to_string(size) + " impossible"), nullptr;
	const int seals = ::fcntl(st->region_fd_.get(), F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK))
		return fail(err, 0, "region is not a memfd sealed against shrinking"), nullptr;

	void *p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, st->region_fd_.get(), 0);
	if (p == MAP_FAILED)
		return fail(err, 0, errno_text("mmap region", errno)), nullptr;
	st->map_ = Mapping(p, size);
	auto *h = static_cast<layout::Header *>(p);
	const uint64_t magic = std::atomic_ref<uint64_t>(h->magic).load(std::memory_order_acquire);
	if (magic != layout::kMagic)
		return fail(err, 0, "region has a bad magic"), nullptr;
	if (h->version != layout::kVersion)
		return fail(err, 0,
			    "region version " + std::to_string(h->version) + ", expected " +
				    std::to_string(layout::kVersion)),
		       nullptr;
	const uint32_t cap = h->ring_capacity;
	if (!layout::valid_capacity(cap))
		return fail(err, 0, "region ring capacity " + std::to_string(cap) + " invalid"), nullptr;
	if (h->message_size != sizeof(Message) || h->header_size != sizeof(layout::Header))
		return fail(err, 0, "region message or header size mismatch"), nullptr;
	if (h->region_size != size || layout::region_size(cap) != size)
		return fail(err, 0,
			    "region size " + std::to_string(size) + " does not match capacity " +
				    std::to_string(cap)),
		       nullptr;
	st->hdr_ = h;
	st->capacity_ = cap;
	// From here on, only locally computed offsets and the local capacity are used.
	for (Ring r : {Ring::Requests, Ring::Completions, Ring::Events}) {
		layout::RingControl *c = st->ring_control(r);
		const uint32_t prod = std::atomic_ref<uint32_t>(c->prod).load(std::memory_order_acquire);
		const uint32_t cons = std::atomic_ref<uint32_t>(c->cons).load(std::memory_order_acquire);
		if (prod - cons > cap)
			return fail(err, 0, std::string(to_string(r)) + " ring indices inconsistent"),
			       nullptr;
	}
	// The creator's suggestion (0: block at once), for the device side only, capped. The
	// proxy side (the guest VM) attaches after a device VM could have rewritten it: it
	// keeps the default until its owner sets its own (vsst_rpc_set_spin_us).
	if (role == Role::Device)
		st->set_spin_us(std::min<uint32_t>(h->spin_us, 100000));
	return st;
}

layout::RingControl *ChannelState::ring_control(Ring r) const
{
	auto *base = static_cast<char *>(map_.get());
	return reinterpret_cast<layout::RingControl *>(
		base + layout::ring_offset(static_cast<size_t>(r), capacity_));
}

Message *ChannelState::ring_slots(Ring r) const
{
	return reinterpret_cast<Message *>(reinterpret_cast<char *>(ring_control(r)) +
					   sizeof(layout::RingControl));
}

uint32_t &ChannelState::sleep_flag(Ring ring) const
{
	switch (ring) {
	case Ring::Requests:
		return hdr_->device_sleeping;
	case Ring::Completions:
		return hdr_->proxy_sleeping_completions;
	case Ring::Events:
		break;
	}
	return hdr_->proxy_sleeping_events;
}

// ---- poisoning ----

bool ChannelState::latch(const char *reason) const
{
	{
		std::lock_guard<std::mutex> lk(poison_mtx_);
		if (poisoned_.load(std::memory_order_relaxed))
			return false;
		size_t i = 0;
		for (; reason[i] && i + 1 < sizeof reason_; ++i) {
			const char c = reason[i];
			reason_[i] = (c >= 0x20 && c < 0x7f) ? c : '?';
		}
		if (i == 0)
			reason_[i++] = '?';
		reason_[i] = '\0';
		poisoned_.store(true, std::memory_order_release);
	}
	// Whoever notices first wakes this side's other sleepers: they may
	// sleep on a doorbell whose kick another local thread consumed.
	if (poison_hook_)
		poison_hook_();
	return true;
}

bool ChannelState::check_poisoned() const
{
	if (poisoned_.load(std::memory_order_acquire))
		return true;
	std::atomic_ref<uint32_t> state(hdr_->poison_state);
	uint32_t s = state.load(std::memory_order_acquire);
	if (s == layout::kHealthy)
		return false;
	// The peer may still be writing its reason: give it a moment, bounded.
	for (int i = 0; i < 2000 && s == layout::kPoisonWriting; ++i) {
		if (i > 100)
			std::this_thread::yield();
		s = state.load(std::memory_order_acquire);
	}
	if (s == layout::kPoisoned) {
		char copy[layout::kReasonMax];
		std::memcpy(copy, hdr_->poison_reason, sizeof copy);
		copy[sizeof copy - 1] = '\0';
		latch(copy);
	} else {
		latch("peer poisoned the channel (no reason given)");
	}
	return true;
}

void ChannelState::poison(std::string_view reason)
{
	std::atomic_ref<uint32_t> state(hdr_->poison_state);
	uint32_t expected = layout::kHealthy;
	if (!poisoned_.load(std::memory_order_acquire) &&
	    state.compare_exchange_strong(expected, layout::kPoisonWriting, std::memory_order_acq_rel)) {
		char text[layout::kReasonMax] = {};
		const size_t n = std::min(reason.size(), sizeof text - 1);
		std::memcpy(text, reason.data(), n);
		std::memcpy(hdr_->poison_reason, text, sizeof text);
		state.store(layout::kPoisoned, std::memory_order_release);
		latch(text);
	} else {
		check_poisoned(); // somebody was first: adopt their reason
	}
	// Wake every sleeper on both sides so they notice.
	sys::kick(to_device());
	sys::kick(to_proxy());
}

const char *ChannelState::poison_reason() const
{
	return check_poisoned() ? reason_ : "";
}

// ---- rings ----

int ChannelState::pop(RingConsumer &ring, Ring which, Message &m)
{
	if (check_poisoned())
		return -EPIPE;
	const RingStatus st = ring.try_pop(m);
	if (st == RingStatus::Empty)
		return 0;
	if (st == RingStatus::Corrupt) {
		const RingFault f = ring.fault();
		cnt_.rejected.fetch_add(1, std::memory_order_relaxed);
		poison(std::string(to_string(which)) + " ring: producer index " + std::to_string(f.prod) +
		       " is more than capacity " + std::to_string(capacity_) + " ahead of consumer index " +
		       std::to_string(f.cons));
		return -EPIPE;
	}
	const DecodeError e = validate(m, which);
	if (e != DecodeError::None) {
		cnt_.rejected.fetch_add(1, std::memory_order_relaxed);
		char hex[80];
		std::snprintf(hex, sizeof hex, " (mr0=0x%llx)", static_cast<unsigned long long>(m.mr0));
		poison(std::string(to_string(which)) + " ring: bad message: " + to_string(e) + hex);
		return -EPIPE;
	}
	bump(cnt_.received[static_cast<size_t>(which)]);
	observe(1, which, m);
	return 1;
}

int ChannelState::check_producer(RingProducer &ring, Ring which)
{
	if (ring.check() == RingStatus::Ok)
		return 0;
	const RingFault f = ring.fault();
	cnt_.rejected.fetch_add(1, std::memory_order_relaxed);
	poison(std::string(to_string(which)) + " ring: consumer index " + std::to_string(f.cons) +
	       " is not within capacity " + std::to_string(capacity_) + " behind producer index " +
	       std::to_string(f.prod));
	return -EPIPE;
}

int ChannelState::ring_empty(RingConsumer &ring, Ring which, bool &empty)
{
	if (ring.peek_empty(empty) == RingStatus::Corrupt) {
		Message dummy;
		return pop(ring, which, dummy); // reports and poisons
	}
	return 0;
}

int ChannelState::push(RingProducer &ring, Ring which, const Message &m)
{
	if (check_poisoned())
		return -EPIPE;
	// Observed before it is published: a recorder then never sees the
	// peer's reaction to a message before the message itself.
	const RingStatus st = ring.try_push(m, [&] { observe(0, which, m); });
	if (st == RingStatus::Full)
		return 0;
	if (st == RingStatus::Corrupt)
		return check_producer(ring, which) < 0 ? -EPIPE : 0;
	bump(cnt_.sent[static_cast<size_t>(which)]);
	// Kick only a consumer that announced it is about to sleep, and only
	// once per announcement: taking the flag down means the messages that
	// follow while it wakes up cost no further syscalls.
	std::atomic_ref<uint32_t> flag(sleep_flag(which));
	if (flag.load(std::memory_order_seq_cst) && flag.exchange(0, std::memory_order_seq_cst)) {
		sys::kick(doorbell(which));
		bump(cnt_.kicks_sent[static_cast<size_t>(which)]);
	} else {
		bump(cnt_.kicks_suppressed[static_cast<size_t>(which)]);
	}
	return 1;
}

int ChannelState::push_wait(RingProducer &ring, Ring which, const Message &m, std::mutex &mtx, int timeout_ms)
{
	int r;
	{
		std::lock_guard<std::mutex> lk(mtx);
		r = push(ring, which, m);
	}
	if (r != 0) // fast path: no clock read
		return r < 0 ? r : 0;
	// Full ring: the consumer is behind. There is no doorbell for space, so
	// back off: spin for a while, then sleep in growing steps.
	const sys::Deadline dl(timeout_ms);
	sys::Backoff backoff;
	for (;;) {
		if (dl.expired()) {
			cnt_.timeouts.fetch_add(1, std::memory_order_relaxed);
			return -ETIMEDOUT;
		}
		backoff.pause(dl);
		std::lock_guard<std::mutex> lk(mtx);
		r = push(ring, which, m);
		if (r != 0)
			return r < 0 ? r : 0;
	}
}

Stats ChannelState::stats() const
{
	Stats s;
	for (size_t r = 0; r < 3; ++r) {
		s.sent += cnt_.sent[r].load(std::memory_order_relaxed);
		s.received += cnt_.received[r].load(std::memory_order_relaxed);
		s.kicks_sent += cnt_.kicks_sent[r].load(std::memory_order_relaxed);
		s.kicks_suppressed += cnt_.kicks_suppressed[r].load(std::memory_order_relaxed);
	}
	s.sleeps = cnt_.sleeps.load(std::memory_order_relaxed);
	s.timeouts = cnt_.timeouts.load(std::memory_order_relaxed);
	s.rejected = cnt_.rejected.load(std::memory_order_relaxed);
	return s;
}

void ChannelState::set_observer(vsst_rpc_observer fn, void *opaque)
{
	std::lock_guard<std::mutex> lk(observer_mtx_);
	observer_recs_.push_back(std::make_unique<ObserverRec>(ObserverRec{fn, opaque}));
	observer_.store(observer_recs_.back().get(), std::memory_order_release);
}

} // namespace detail
} // namespace vsst::rpc
