// SPDX-License-Identifier: Apache-2.0
// Device endpoint (device VM side): one thread consumes requests; any thread
// may complete them or emit events (producers are serialised locally).
#include <cerrno>
#include <cstdio>

#include "channel_state.hpp"
#include "sys.hpp"

namespace vsst::rpc {
namespace detail {

class DeviceState {
public:
	explicit DeviceState(ChannelState &ch)
		: ch_(ch),
		  req_(ch.ring_control(Ring::Requests), ch.ring_slots(Ring::Requests), ch.capacity()),
		  cpl_(ch.ring_control(Ring::Completions), ch.ring_slots(Ring::Completions), ch.capacity()),
		  evt_(ch.ring_control(Ring::Events), ch.ring_slots(Ring::Events), ch.capacity())
	{
	}

	int try_request(Message &m);
	int wait_request(Message &m, int timeout_ms);
	int finish(const Message &req, uint64_t data, bool error, int timeout_ms);
	int send_event(const Message &ev, int timeout_ms);

private:
	ChannelState &ch_;
	RingConsumer req_;
	std::mutex req_mtx_;
	RingProducer cpl_;
	std::mutex cpl_mtx_;
	RingProducer evt_;
	std::mutex evt_mtx_;

	// Non-posted requests received and not yet completed, by slot.
	std::mutex inflight_mtx_;
	uint64_t inflight_ = 0;
	Message inflight_req_[kMaxSlots];
};

int DeviceState::try_request(Message &m)
{
	std::lock_guard<std::mutex> lk(req_mtx_);
	const int r = ch_.pop(req_, Ring::Requests, m);
	if (r != 1 || m.op() != Op::Mmio || m.posted())
		return r;
	const unsigned s = m.slot();
	std::lock_guard<std::mutex> il(inflight_mtx_);
	if (inflight_ & (uint64_t{1} << s)) {
		char why[120];
		std::snprintf(why, sizeof why,
			      "requests ring: request on slot %u while slot %u is still in flight", s, s);
		ch_.counters().rejected.fetch_add(1, std::memory_order_relaxed);
		ch_.poison(why);
		return -EPIPE;
	}
	inflight_ |= uint64_t{1} << s;
	inflight_req_[s] = m;
	return 1;
}

int DeviceState::wait_request(Message &m, int timeout_ms)
{
	if (timeout_ms < 0)
		return -EINVAL;
	const sys::Deadline dl(timeout_ms);
	const uint64_t spin = ch_.spin_ns();
	if (spin) {
		const auto spin_end = sys::Clock::now() + std::chrono::nanoseconds(spin);
		for (unsigned i = 0;; ++i) {
			const int r = try_request(m);
			if (r != 0)
				return r;
			if ((i & 63) == 63) {
				const auto now = sys::Clock::now();
				if (now >= spin_end || now >= dl.end())
					break;
			}
			sys::spin_pause(i);
		}
	}
	std::atomic_ref<uint32_t> flag(ch_.sleep_flag(Ring::Requests));
	const int fd = ch_.to_device();
	for (;;) {
		flag.store(1, std::memory_order_seq_cst); // announce, then re-check
		const int r = try_request(m);
		if (r != 0) {
			flag.store(0, std::memory_order_relaxed);
			return r;
		}
		const int64_t ns = dl.remaining_ns();
		if (ns <= 0) {
			// Reset the doorbell (a caller may poll request_fd()), then
			// look once more. The flag stays up: we are going to sleep.
			sys::drain_eventfd(fd);
			const int last = try_request(m);
			if (last != 0) {
				flag.store(0, std::memory_order_relaxed);
				return last;
			}
			ch_.counters().timeouts.fetch_add(1, std::memory_order_relaxed);
			return -ETIMEDOUT;
		}
		ch_.counters().sleeps.fetch_add(1, std::memory_order_relaxed);
		if (sys::wait_readable(&fd, 1, ns) > 0)
			sys::drain_eventfd(fd);
	}
}

int DeviceState::finish(const Message &req, uint64_t data, bool error, int timeout_ms)
{
	if (timeout_ms < 0 || req.op() != Op::Mmio || req.posted())
		return -EINVAL;
	const unsigned s = req.slot();
	const uint64_t bit = uint64_t{1} << s;
	{
		std::lock_guard<std::mutex> il(inflight_mtx_);
		if (!(inflight_ & bit) || !(inflight_req_[s] == req))
			return -EINVAL;
		// Released before the completion is visible: the proxy may reuse
		// the slot as soon as it sees the completion.
		inflight_ &= ~bit;
	}
	const int r = ch_.push_wait(cpl_, Ring::Completions, mmio_completion(req, data, error), cpl_mtx_,
				    timeout_ms);
	if (r < 0 && r != -EPIPE) {
		std::lock_guard<std::mutex> il(inflight_mtx_);
		inflight_ |= bit; // not completed: the caller may retry
	}
	return r;
}

int DeviceState::send_event(const Message &ev, int timeout_ms)
{
	if (timeout_ms < 0 || validate(ev, Ring::Events) != DecodeError::None)
		return -EINVAL;
	return ch_.push_wait(evt_, Ring::Events, ev, evt_mtx_, timeout_ms);
}

} // namespace detail

std::unique_ptr<DeviceEndpoint> DeviceEndpoint::attach(const vsst_rpc_fds &fds, std::string *err)
{
	auto st = detail::ChannelState::attach(fds, detail::Role::Device, err);
	if (!st)
		return nullptr;
	return std::unique_ptr<DeviceEndpoint>(new DeviceEndpoint(std::move(st)));
}

DeviceEndpoint::DeviceEndpoint(std::unique_ptr<detail::ChannelState> st)
	: Endpoint(std::move(st)), dv_(std::make_unique<detail::DeviceState>(*st_))
{
}

DeviceEndpoint::~DeviceEndpoint() = default;

int DeviceEndpoint::try_request(Message &req)
{
	return dv_->try_request(req);
}
int DeviceEndpoint::wait_request(Message &req, int timeout_ms)
{
	return dv_->wait_request(req, timeout_ms);
}
int DeviceEndpoint::complete(const Message &req, uint64_t read_data, int timeout_ms)
{
	return dv_->finish(req, read_data, false, timeout_ms);
}
int DeviceEndpoint::complete_error(const Message &req, int timeout_ms)
{
	return dv_->finish(req, 0, true, timeout_ms);
}
int DeviceEndpoint::finish(const Message &req, uint64_t data, bool error, int timeout_ms)
{
	return dv_->finish(req, data, error, timeout_ms);
}
int DeviceEndpoint::send_event(const Message &ev, int timeout_ms)
{
	return dv_->send_event(ev, timeout_ms);
}
int DeviceEndpoint::request_fd() const
{
	return st_->to_device();
}

// ---- Endpoint (both roles) ----

Endpoint::Endpoint(std::unique_ptr<detail::ChannelState> st) : st_(std::move(st))
{
}
Endpoint::~Endpoint() = default;
void Endpoint::poison(std::string_view reason)
{
	st_->poison(reason);
}
bool Endpoint::poisoned() const
{
	return st_->check_poisoned();
}
const char *Endpoint::poison_reason() const
{
	return st_->poison_reason();
}
Stats Endpoint::stats() const
{
	return st_->stats();
}
void Endpoint::set_observer(Observer fn, void *opaque)
{
	st_->set_observer(fn, opaque);
}
uint32_t Endpoint::spin_us() const
{
	return static_cast<uint32_t>(st_->spin_ns() / 1000);
}

void Endpoint::set_spin_us(uint32_t us)
{
	st_->set_spin_us(us);
}
uint32_t Endpoint::ring_capacity() const
{
	return st_->capacity();
}

} // namespace vsst::rpc
