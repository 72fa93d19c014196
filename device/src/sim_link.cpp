// SPDX-License-Identifier: Apache-2.0
#include "sim_link.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace vsst {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr int kMaxReadsPerWake = 16; // stay responsive to commands under a flood
// Far above max_inflight whole requests: only a peer that stopped reading
// (while still sending, e.g. PINGs) gets here.
constexpr size_t kMaxPendingOutput = 64u << 20;

} // namespace

SimLink::SimLink(LinkOptions opts, std::unique_ptr<SimProtocol> proto, CompletionSink &sink, Stats &stats,
		 Logger log)
	: opts_(std::move(opts)), proto_(std::move(proto)), sink_(sink), stats_(stats), log_(log),
	  backoff_(opts_.reconnect_min)
{
}

SimLink::~SimLink()
{
	if (thread_.joinable()) {
		{
			std::lock_guard<std::mutex> g(cmd_mu_);
			stop_ = true;
		}
		const uint64_t one = 1;
		[[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof(one));
		thread_.join();
	}
}

bool SimLink::start(std::string &err)
{
	wake_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
	if (!wake_.valid()) {
		err = std::string("eventfd: ") + std::strerror(errno);
		return false;
	}
	// The I/O thread must not take process signals meant for the host
	// program (QEMU relies on that): it starts with everything blocked.
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	try {
		thread_ = std::thread([this] { run(); });
	} catch (const std::exception &e) {
		pthread_sigmask(SIG_SETMASK, &old, nullptr);
		err = std::string("cannot start the simulator I/O thread: ") + e.what();
		return false;
	}
	pthread_sigmask(SIG_SETMASK, &old, nullptr);
	pthread_setname_np(thread_.native_handle(), "vsst-sim-io");
	return true;
}

void SimLink::submit(ForwardRequest &&req)
{
	bool was_empty;
	{
		std::lock_guard<std::mutex> g(cmd_mu_);
		was_empty = cmds_.empty();
		Command &c = cmds_.emplace_back();
		c.req = std::move(req);
	}
	if (was_empty) {
		const uint64_t one = 1;
		[[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof(one));
	}
}

void SimLink::cancel(uint64_t epoch)
{
	{
		std::lock_guard<std::mutex> g(cmd_mu_);
		Command &c = cmds_.emplace_back();
		c.is_cancel = true;
		c.epoch = epoch;
	}
	const uint64_t one = 1;
	[[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof(one));
}

SimCapacities SimLink::capacities() const
{
	SimCapacities c;
	c.connected = ready_.load(std::memory_order_acquire);
	c.max_compute_units = cap_units_.load(std::memory_order_relaxed);
	c.memory_size = cap_mem_.load(std::memory_order_relaxed);
	return c;
}

void SimLink::set_capacities(uint64_t units, uint64_t mem)
{
	cap_units_.store(units, std::memory_order_relaxed);
	cap_mem_.store(mem, std::memory_order_relaxed);
}

void SimLink::set_observer(Observer fn, void *opaque)
{
	std::lock_guard<std::mutex> g(obs_mu_);
	obs_fn_ = fn;
	obs_opaque_ = opaque;
	obs_whole_ = false;
	if (!fn)
		return;
	// Hand over the current connection from its start if the log has it;
	// otherwise the observer starts with the next connection.
	if (conn_open_ && startup_logging_ && !startup_log_.empty() &&
	    startup_log_.front().what == kSimConnected) {
		for (const LoggedEvent &e : startup_log_)
			fn(opaque, e.what, conn_, e.bytes.data(), e.bytes.size());
		obs_whole_ = true;
	}
	startup_logging_ = false;
	startup_log_.clear();
	startup_bytes_ = 0;
}

void SimLink::observe(int what, const void *data, size_t len)
{
	std::lock_guard<std::mutex> g(obs_mu_);
	if (what == kSimConnected) {
		conn_ = next_conn_++;
		conn_open_ = true;
		obs_whole_ = obs_fn_ != nullptr;
		startup_log_.clear();
		startup_bytes_ = 0;
	}
	if (obs_fn_) {
		if (obs_whole_)
			obs_fn_(obs_opaque_, what, conn_, data, len);
	} else if (startup_logging_) {
		if (startup_bytes_ + len > kStartupLogMax) {
			startup_logging_ = false; // too much to be a start-up: give up
			startup_log_.clear();
		} else {
			const auto *p = static_cast<const uint8_t *>(data);
			startup_log_.push_back({what, std::vector<uint8_t>(p, p + len)});
			startup_bytes_ += len;
		}
	}
	if (what == kSimClosed) {
		conn_open_ = false;
		obs_whole_ = false;
		startup_log_.clear();
		startup_bytes_ = 0;
	}
}

void SimLink::end_startup_log()
{
	std::lock_guard<std::mutex> g(obs_mu_);
	startup_logging_ = false;
	startup_log_.clear();
	startup_bytes_ = 0;
}

void SimLink::run()
{
	attempt_connect();
	for (;;) {
		const int timeout = poll_timeout_ms(Clock::now());
		pollfd pfd[2] = {};
		pfd[0].fd = wake_.get();
		pfd[0].events = POLLIN;
		nfds_t n = 1;
		const int polled_sock = sock_.get();
		if (polled_sock >= 0) {
			pfd[1].fd = polled_sock;
			pfd[1].events = static_cast<short>(POLLIN | (out_.empty() ? 0 : POLLOUT));
			n = 2;
		}
		if (::poll(pfd, n, timeout) < 0 && errno != EINTR) {
			VSST_LOG(log_, error, "poll: %s", std::strerror(errno));
			::usleep(1000); // should never happen; avoid a hot loop if it does
		}
		if (pfd[0].revents & POLLIN) {
			uint64_t v;
			[[maybe_unused]] ssize_t r = ::read(wake_.get(), &v, sizeof(v));
		}
		if (!take_commands())
			break;
		if (n == 2 && sock_.get() == polled_sock && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)))
			read_input();
		run_timers(Clock::now());
		if (sock_.valid() && !out_.empty())
			flush_output();
		if (sock_.valid() && out_.size() > kMaxPendingOutput)
			drop("simulator stopped reading its socket", true);
	}
	ready_.store(false, std::memory_order_release);
	stats_.connected.store(0, std::memory_order_relaxed);
}

bool SimLink::take_commands()
{
	std::deque<Command> batch;
	{
		std::lock_guard<std::mutex> g(cmd_mu_);
		if (stop_)
			return false;
		batch.swap(cmds_);
	}
	for (Command &c : batch) {
		if (c.is_cancel) {
			std::erase_if(waiting_,
				      [&c](const ForwardRequest &r) { return r.info.epoch < c.epoch; });
			proto_->cancel(*this, c.epoch);
		} else {
			dispatch(std::move(c.req));
		}
	}
	return true;
}

void SimLink::dispatch(ForwardRequest &&req)
{
	if (!dispatched_any_) {
		dispatched_any_ = true;
		end_startup_log();
	}
	switch (state_) {
	case State::backoff:
		complete_with_status(sink_, req.info, SST_STATUS_NO_DEVICE);
		break;
	case State::handshake:
		waiting_.push_back(std::move(req));
		break;
	case State::ready:
		proto_->send(*this, std::move(req));
		break;
	}
}

void SimLink::attempt_connect()
{
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	std::memcpy(addr.sun_path, opts_.socket_path.data(),
		    std::min(opts_.socket_path.size(), sizeof(addr.sun_path) - 1));

	UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	int rc = -1;
	if (fd.valid())
		rc = ::connect(fd.get(), reinterpret_cast<const sockaddr *>(&addr), sizeof(addr));
	// EINPROGRESS: the first send or receive reports how the connect went.
	if (!fd.valid() || (rc < 0 && errno != EINPROGRESS)) {
		const int e = errno;
		if (!failure_logged_) {
			VSST_LOG(log_, warn, "simulator %s unreachable (%s); retrying up to every %lld ms",
				 opts_.socket_path.c_str(), std::strerror(e),
				 static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
								opts_.reconnect_max)
								.count()));
			failure_logged_ = true;
		}
		next_attempt_ = Clock::now() + backoff_;
		backoff_ = std::min(backoff_ * 2, opts_.reconnect_max);
		state_ = State::backoff;
		return;
	}
	sock_ = std::move(fd);
	in_.clear();
	out_.clear();
	observe(kSimConnected);
	state_ = State::handshake;
	handshake_deadline_ = Clock::now() + opts_.handshake_timeout;
	VSST_LOG(log_, debug, "connected to %s, protocol %s", opts_.socket_path.c_str(), proto_->name());
	proto_->link_up(*this);
}

void SimLink::handshake_done()
{
	state_ = State::ready;
	ready_.store(true, std::memory_order_release);
	stats_.connected.store(1, std::memory_order_relaxed);
	if (ever_ready_)
		Stats::bump(stats_.reconnects);
	ever_ready_ = true;
	failure_logged_ = false;
	VSST_LOG(log_, info, "simulator %s ready (%s protocol)", opts_.socket_path.c_str(), proto_->name());
	std::deque<ForwardRequest> held;
	held.swap(waiting_);
	for (ForwardRequest &r : held)
		proto_->send(*this, std::move(r));
}

void SimLink::drop(const std::string &why, bool fault)
{
	if (fault)
		Stats::bump(stats_.errors);
	if (log_.enabled())
		log_.log(fault ? LogLevel::error : LogLevel::warn, "simulator link %s lost: %s",
			 opts_.socket_path.c_str(), why.c_str());
	if (sock_.valid())
		observe(kSimClosed);
	sock_.reset();
	in_.clear();
	out_.clear();
	state_ = State::backoff;
	ready_.store(false, std::memory_order_release);
	stats_.connected.store(0, std::memory_order_relaxed);
	set_capacities(0, 0);
	failure_logged_ = true; // the loss itself was logged

	proto_->link_down(*this);
	std::deque<ForwardRequest> held;
	held.swap(waiting_);
	for (ForwardRequest &r : held)
		complete_with_status(sink_, r.info, SST_STATUS_NO_DEVICE);

	next_attempt_ = Clock::now() + backoff_;
	backoff_ = std::min(backoff_ * 2, opts_.reconnect_max);
}

void SimLink::read_input()
{
	for (int i = 0; i < kMaxReadsPerWake && sock_.valid(); i++) {
		uint8_t *p = in_.prepare(kReadChunk);
		const ssize_t n = ::recv(sock_.get(), p, kReadChunk, MSG_DONTWAIT);
		if (n > 0) {
			in_.commit(static_cast<size_t>(n));
			observe(kSimReceived, p, static_cast<size_t>(n));
			std::string fault;
			if (!proto_->on_input(*this, in_, fault)) {
				drop("protocol violation: " + fault, true);
				return;
			}
			continue;
		}
		in_.commit(0);
		if (n == 0) {
			drop("simulator closed the connection", false);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			drop(std::string("recv: ") + std::strerror(errno), false);
		return;
	}
}

void SimLink::flush_output()
{
	while (!out_.empty()) {
		const ssize_t n = ::send(sock_.get(), out_.data(), out_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			observe(kSimSent, out_.data(), static_cast<size_t>(n));
			out_.consume(static_cast<size_t>(n));
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return; // POLLOUT resumes
		drop(std::string("send: ") + (n < 0 ? std::strerror(errno) : "no progress"), false);
		return;
	}
}

void SimLink::run_timers(Clock::time_point now)
{
	switch (state_) {
	case State::backoff:
		if (now >= next_attempt_)
			attempt_connect();
		break;
	case State::handshake:
		// A failed handshake first: what waited for it is then NO_DEVICE.
		if (now >= handshake_deadline_) {
			drop("no answer to HELLO in time", true);
			break;
		}
		while (!waiting_.empty() && waiting_.front().info.deadline <= now) {
			complete_with_status(sink_, waiting_.front().info, SST_STATUS_TIMEOUT);
			waiting_.pop_front();
		}
		break;
	case State::ready: {
		std::string fault;
		if (!proto_->expire(*this, now, fault))
			drop(fault, true);
		break;
	}
	}
}

int SimLink::poll_timeout_ms(Clock::time_point now) const
{
	std::optional<Clock::time_point> due;
	auto consider = [&due](Clock::time_point t) {
		if (!due || t < *due)
			due = t;
	};
	switch (state_) {
	case State::backoff:
		consider(next_attempt_);
		break;
	case State::handshake:
		consider(handshake_deadline_);
		if (!waiting_.empty())
			consider(waiting_.front().info.deadline);
		break;
	case State::ready:
		if (auto d = proto_->next_deadline())
			consider(*d);
		break;
	}
	if (!due)
		return -1;
	if (*due <= now)
		return 0;
	// Round up so that the loop does not wake just before the deadline.
	const auto us = std::chrono::duration_cast<std::chrono::microseconds>(*due - now).count();
	return static_cast<int>(std::min<long long>((us + 999) / 1000, 60 * 1000));
}

} // namespace vsst
