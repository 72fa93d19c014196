// SPDX-License-Identifier: Apache-2.0
#include "vsst/sim/server.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "connection.h"
#include "stats_out.h"
#include "vsst/posix/atomic_file.h"

namespace vsst::sim {

namespace {

enum : uint64_t { kListenId = 1, kStopId = 2, kSignalId = 3, kStatusId = 4, kPaceId = 5 };

bool add_fd(int epfd, int fd, uint64_t id, uint32_t events)
{
	epoll_event ev{};
	ev.events = events;
	ev.data.u64 = id;
	return ::epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0;
}

std::string format_ps(uint64_t ps)
{
	const double v = static_cast<double>(ps);
	if (ps >= 1'000'000'000'000ull)
		return fmt::format("{:.3f} s", v / 1e12);
	if (ps >= 1'000'000'000ull)
		return fmt::format("{:.3f} ms", v / 1e9);
	if (ps >= 1'000'000ull)
		return fmt::format("{:.3f} us", v / 1e6);
	return fmt::format("{:.3f} ns", v / 1e3);
}

const char *type_name(int t)
{
	static const char *kNames[SST_REQ_MAX] = {"NOOP",  "ECHO",  "COMPUTE",  "READ",
						  "WRITE", "RESET", "GET_INFO", "CONFIGURE"};
	return kNames[t];
}

} // namespace

Server::Server(ServerOptions opts) : opts_(std::move(opts)), budget_(opts_.memory_budget)
{
}

Server::~Server()
{
	conns_.clear();
	// listener_ removes the socket file only if it is still ours.
}

bool Server::open(std::string *err)
{
	auto fail = [err](std::string why) {
		if (err)
			*err = std::move(why);
		return false;
	};
	if (!opts_.stats_out.empty()) {
		std::string why;
		if (!stats_path_usable(opts_.stats_out, why))
			return fail(why);
	}
	if (opts_.socket_path.empty()) {
		// The default lives in a directory only we can enter: a fixed name in
		// a world-writable folder could be taken over by anyone first.
		std::string why;
		if (!ensure_private_dir(default_socket_dir(), why))
			return fail(why);
		opts_.socket_path = default_socket_path();
	}
	bool replaced = false;
	std::string why;
	if (!listener_.open(opts_.socket_path, 128, why, &replaced))
		return fail(why);
	if (replaced)
		spdlog::info("replaced stale socket {}", opts_.socket_path);

	epoll_fd_.reset(::epoll_create1(EPOLL_CLOEXEC));
	stop_fd_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
	pace_timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
	if (!epoll_fd_ || !stop_fd_ || !pace_timer_)
		return fail(std::string("epoll/eventfd/timerfd: ") + std::strerror(errno));
	if (!add_fd(epoll_fd_.get(), listener_.fd(), kListenId, EPOLLIN) ||
	    !add_fd(epoll_fd_.get(), stop_fd_.get(), kStopId, EPOLLIN) ||
	    !add_fd(epoll_fd_.get(), pace_timer_.get(), kPaceId, EPOLLIN)) {
		return fail(std::string("epoll_ctl: ") + std::strerror(errno));
	}
	if (opts_.handle_signals) {
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGINT);
		sigaddset(&set, SIGTERM);
		// Blocked here (the caller blocks them before starting threads, too) and
		// taken through a signalfd, so a stop is an ordinary loop event.
		::pthread_sigmask(SIG_BLOCK, &set, nullptr);
		signal_fd_.reset(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
		if (!signal_fd_ || !add_fd(epoll_fd_.get(), signal_fd_.get(), kSignalId, EPOLLIN)) {
			return fail(std::string("signalfd: ") + std::strerror(errno));
		}
	}
	if (opts_.status_interval_s > 0) {
		status_timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
		itimerspec its{};
		const auto ns = static_cast<int64_t>(opts_.status_interval_s * 1e9);
		its.it_interval.tv_sec = ns / 1'000'000'000;
		its.it_interval.tv_nsec = ns % 1'000'000'000;
		if (its.it_interval.tv_sec == 0 && its.it_interval.tv_nsec == 0)
			its.it_interval.tv_nsec = 1'000'000;
		its.it_value = its.it_interval;
		if (!status_timer_ || ::timerfd_settime(status_timer_.get(), 0, &its, nullptr) != 0 ||
		    !add_fd(epoll_fd_.get(), status_timer_.get(), kStatusId, EPOLLIN)) {
			return fail(std::string("status timer: ") + std::strerror(errno));
		}
	}
	return true;
}

void Server::stop()
{
	const uint64_t one = 1;
	if (stop_fd_ && ::write(stop_fd_.get(), &one, sizeof one) < 0) {
		// The counter is saturated: a stop is already pending.
	}
}

int Server::run()
{
	start_ns_ = last_status_ns_ = monotonic_ns();
	{
		timespec ts{};
		clock_gettime(CLOCK_REALTIME, &ts);
		start_unix_ns_ = static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
	}
	spdlog::info("sst-sim listening on {} (protocol {}, {} units, {} latency model, clock {} Hz{}; "
		     "memory budget {} bytes, idle timeout {})",
		     opts_.socket_path, protocol_name(opts_.protocol), opts_.model.compute_units,
		     latency_model_name(opts_.model.latency_model), opts_.model.clock_hz,
		     opts_.paced ? fmt::format(", paced x{}", opts_.pace_scale) : "", opts_.memory_budget,
		     opts_.idle_timeout_s > 0 ? fmt::format("{:g} s", opts_.idle_timeout_s) : "off");
	bool running = true;
	epoll_event events[64];
	while (running) {
		const int n = ::epoll_wait(epoll_fd_.get(), events, 64, 1000);
		if (n < 0 && errno != EINTR) {
			spdlog::error("epoll_wait: {}", std::strerror(errno));
			break;
		}
		for (int i = 0; i < n; ++i) {
			const uint64_t id = events[i].data.u64;
			uint64_t scratch;
			switch (id) {
			case kListenId:
				accept_all();
				break;
			case kStopId:
				running = false;
				spdlog::info("stop requested");
				break;
			case kSignalId: {
				signalfd_siginfo si{};
				if (::read(signal_fd_.get(), &si, sizeof si) == sizeof si) {
					spdlog::info("received {}, stopping",
						     strsignal(static_cast<int>(si.ssi_signo)));
				}
				running = false;
				break;
			}
			case kStatusId:
				if (::read(status_timer_.get(), &scratch, sizeof scratch) > 0)
					log_status();
				break;
			case kPaceId:
				if (::read(pace_timer_.get(), &scratch, sizeof scratch) < 0)
					scratch = 0;
				break;
			default:
				handle_connection(id, events[i].events);
				break;
			}
		}
		if (opts_.paced)
			release_paced();
		// Lingering connections (closing, peer gone) are checked every pass.
		const int64_t now = monotonic_ns();
		for (auto it = conns_.begin(); it != conns_.end();) {
			auto next = std::next(it);
			if (it->second->finished(now))
				close_connection(it->first, nullptr);
			it = next;
		}
		// epoll_wait wakes at least once a second, so this runs at that pace.
		close_idle(now);
		if (opts_.paced)
			arm_pace_timer();
	}
	while (!conns_.empty())
		close_connection(conns_.begin()->first, "server stopping");
	listener_.close(); // the socket file goes only if it is still ours
	log_totals();
	if (!opts_.stats_out.empty() && !write_stats())
		return 3;
	return 0;
}

bool Server::write_stats()
{
	StatsDocument doc;
	doc.argv = opts_.argv;
	doc.start_params = opts_.model;
	doc.start_unix_ns = start_unix_ns_;
	doc.wall_s = static_cast<double>(monotonic_ns() - start_ns_) / 1e9;
	doc.sample_cap = opts_.stats_samples;
	doc.rejected_connections = totals_.rejected_connections;
	doc.devices = std::move(records_);
	records_.clear();
	std::sort(doc.devices.begin(), doc.devices.end(),
		  [](const DeviceRecord &a, const DeviceRecord &b) { return a.connection < b.connection; });
	std::string err;
	if (!write_file_atomically(opts_.stats_out, stats_json(doc), err)) {
		spdlog::error("statistics file not written: {}", err);
		return false;
	}
	uint64_t samples = 0, dropped = 0;
	for (const DeviceRecord &d : doc.devices) {
		samples += d.samples.samples.size();
		dropped += d.samples.dropped;
	}
	spdlog::info("statistics written to {} ({} devices, {} samples, {} dropped)", opts_.stats_out,
		     doc.devices.size(), samples, dropped);
	return true;
}

void Server::accept_all()
{
	for (;;) {
		std::vector<std::string> refused;
		UniqueFd fd = accept_admitted(listener_.fd(), opts_.peers, refused);
		const int err = errno;
		for (const std::string &who : refused) {
			++totals_.rejected_connections;
			spdlog::warn("refusing connection from {}: --peer-uids admits {}", who,
				     opts_.peers.describe());
		}
		if (!fd) {
			if (err != EAGAIN && err != EWOULDBLOCK)
				spdlog::warn("accept: {}", std::strerror(err));
			return;
		}
		if (conns_.size() >= opts_.max_connections) {
			++totals_.rejected_connections;
			spdlog::warn("refusing connection: already serving {} (--max-connections)",
				     conns_.size());
			continue; // fd closes here
		}
		const uint64_t id = next_id_++;
		auto conn = std::make_unique<Connection>(std::move(fd), opts_, start_ns_, &budget_);
		conn->index = totals_.connections;
		if (!add_fd(epoll_fd_.get(), conn->fd(), id, EPOLLIN | EPOLLRDHUP)) {
			spdlog::warn("epoll_ctl: {}", std::strerror(errno));
			continue;
		}
		conn->registered_events = EPOLLIN | EPOLLRDHUP;
		if (opts_.resume_window_s > 0)
			conn->set_model_source([this](uint32_t device) { return unpark(device); });
		++totals_.connections;
		spdlog::info("connection {} accepted ({} open)", id, conns_.size() + 1);
		conns_.emplace(id, std::move(conn));
	}
}

void Server::handle_connection(uint64_t id, uint32_t events)
{
	auto it = conns_.find(id);
	if (it == conns_.end())
		return;
	Connection &c = *it->second;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c.on_readable();
	if (events & EPOLLOUT)
		c.flush();
	c.resume();
	if (c.finished(monotonic_ns())) {
		close_connection(id, nullptr);
		return;
	}
	update_interest(id, c);
}

void Server::update_interest(uint64_t id, Connection &c)
{
	epoll_event ev{};
	ev.events = (c.wants_read() ? EPOLLIN | EPOLLRDHUP : 0u) | (c.wants_write() ? EPOLLOUT : 0u);
	if (ev.events == c.registered_events)
		return;
	ev.data.u64 = id;
	::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, c.fd(), &ev);
	c.registered_events = ev.events;
}

void Server::collect(Connection &c, const char *why)
{
	if (!opts_.stats_out.empty())
		records_.push_back(c.take_record(monotonic_ns(), why));
	const ModelStats &s = c.model().stats();
	const SessionCounters &k = c.session().counters();
	for (int t = 0; t < SST_REQ_MAX; ++t)
		totals_.requests_by_type[t] += s.requests[t];
	totals_.requests += s.total();
	totals_.unknown_type += s.unknown_type;
	totals_.invalid += s.invalid;
	totals_.memory_refused += s.memory_refused;
	totals_.events += k.events;
	totals_.responses += k.responses;
	totals_.errors_sent += k.errors_sent;
	totals_.bytes_read += s.bytes_read;
	totals_.bytes_written += s.bytes_written;
	totals_.max_sim_ps = std::max(totals_.max_sim_ps, c.model().now_ps());
	if (c.closed_for_protocol_error())
		++totals_.protocol_closes;
}

void Server::close_connection(uint64_t id, const char *why)
{
	auto it = conns_.find(id);
	if (it == conns_.end())
		return;
	Connection &c = *it->second;
	c.flush();
	collect(c, why);
	spdlog::info("connection {} (device {}, {}) closed: {}; {} requests, simulated {}{}", id,
		     c.session().device_id(), protocol_name(c.session().protocol()),
		     why ? why : c.finish_reason().c_str(), c.model().stats().total(),
		     format_ps(c.model().now_ps()),
		     c.model().stats().memory_refused
			     ? fmt::format(", {} WRITEs refused by the memory budget",
					   c.model().stats().memory_refused)
			     : "");
	::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, c.fd(), nullptr);
	park(c);
	conns_.erase(it);
}

void Server::park(Connection &c)
{
	// A session that never said HELLO or broke the protocol has no device to keep.
	if (opts_.resume_window_s <= 0 || !c.session().hello_done() || c.closed_for_protocol_error())
		return;
	const uint32_t device = c.session().device_id();
	const auto window = static_cast<int64_t>(opts_.resume_window_s * 1e9);
	parked_.insert_or_assign(device, Parked{c.take_model(), monotonic_ns() + window});
	spdlog::info("device {}: kept {} s for a connection that resumes it ({} bytes of device memory)",
		     device, opts_.resume_window_s, parked_.at(device).model.memory().committed_bytes());
}

std::optional<DeviceModel> Server::unpark(uint32_t device_id)
{
	auto it = parked_.find(device_id);
	if (it == parked_.end() || it->second.until_ns < monotonic_ns())
		return std::nullopt;
	std::optional<DeviceModel> m(std::move(it->second.model));
	parked_.erase(it);
	spdlog::info("device {}: resumed by a new connection (device memory, parameters and time kept)",
		     device_id);
	return m;
}

void Server::expire_parked(int64_t now_ns)
{
	for (auto it = parked_.begin(); it != parked_.end();) {
		if (it->second.until_ns < now_ns) {
			spdlog::info("device {}: nobody resumed it within {} s; dropped", it->first,
				     opts_.resume_window_s);
			it = parked_.erase(it);
		} else {
			++it;
		}
	}
}

void Server::close_idle(int64_t now_ns)
{
	expire_parked(now_ns);
	if (opts_.idle_timeout_s <= 0)
		return;
	const auto timeout = static_cast<int64_t>(opts_.idle_timeout_s * 1e9);
	for (auto it = conns_.begin(); it != conns_.end();) {
		auto next = std::next(it);
		const std::string why = it->second->idle_reason(now_ns, timeout);
		if (!why.empty()) {
			++totals_.idle_closes;
			close_connection(it->first, why.c_str());
		}
		it = next;
	}
}

void Server::release_paced()
{
	const int64_t now = monotonic_ns();
	for (auto &[id, c] : conns_) {
		if (c->next_release_ns() <= now) {
			c->release_due(now);
			c->resume();
			update_interest(id, *c);
		}
	}
}

void Server::arm_pace_timer()
{
	int64_t next = INT64_MAX;
	for (auto &[id, c] : conns_)
		next = std::min(next, c->next_release_ns());
	itimerspec its{};
	if (next != INT64_MAX) {
		next = std::max<int64_t>(next, 1);
		its.it_value.tv_sec = next / 1'000'000'000;
		its.it_value.tv_nsec = next % 1'000'000'000;
	}
	::timerfd_settime(pace_timer_.get(), TFD_TIMER_ABSTIME, &its, nullptr);
}

void Server::log_status()
{
	uint64_t requests = totals_.requests;
	uint64_t max_ps = totals_.max_sim_ps;
	unsigned __int128 busy = 0, capacity = 0;
	for (auto &[id, c] : conns_) {
		const DeviceModel &m = c->model();
		requests += m.stats().total();
		max_ps = std::max(max_ps, m.now_ps());
		busy += m.stats().unit_busy_ps;
		capacity += static_cast<unsigned __int128>(m.params().compute_units) * m.now_ps();
	}
	const int64_t now = monotonic_ns();
	const double secs = static_cast<double>(now - last_status_ns_) / 1e9;
	const double rate = secs > 0 ? static_cast<double>(requests - last_status_requests_) / secs : 0;
	last_status_ns_ = now;
	last_status_requests_ = requests;
	const double busy_pct =
		capacity > 0 ? 100.0 * static_cast<double>(busy) / static_cast<double>(capacity) : 0.0;
	spdlog::info("status: {} connections, {:.0f} requests/s, simulated time {}, units busy {:.1f}%",
		     conns_.size(), rate, format_ps(max_ps), std::min(busy_pct, 100.0));
}

void Server::log_totals()
{
	const double secs = static_cast<double>(monotonic_ns() - start_ns_) / 1e9;
	const ServerTotals &t = totals_;
	spdlog::info("statistics: {} connections ({} refused, {} closed for protocol errors, {} for "
		     "idleness), {:.1f} s wall",
		     t.connections, t.rejected_connections, t.protocol_closes, t.idle_closes, secs);
	std::string by_type;
	for (int i = 0; i < SST_REQ_MAX; ++i) {
		by_type += fmt::format("{}{}={}", i ? " " : "", type_name(i), t.requests_by_type[i]);
	}
	spdlog::info("statistics: {} requests ({:.0f}/s avg): {} unknown={}; {} invalid", t.requests,
		     secs > 0 ? static_cast<double>(t.requests) / secs : 0.0, by_type, t.unknown_type,
		     t.invalid);
	spdlog::info("statistics: {} responses, {} events, {} error frames, device memory {} B read / "
		     "{} B written, longest simulated time {}",
		     t.responses, t.events, t.errors_sent, t.bytes_read, t.bytes_written,
		     format_ps(t.max_sim_ps));
	spdlog::info("statistics: device memory committed at most {} of {} bytes (--memory-budget), "
		     "{} WRITEs refused for it",
		     budget_.peak(), budget_.limit(), t.memory_refused);
}

} // namespace vsst::sim
