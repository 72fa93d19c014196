// SPDX-License-Identifier: Apache-2.0
#include "bridge.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include <sst/core/unitAlgebra.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "model_params_sst.h"
#include "vsst/sim/latency.h"

namespace vsst::sstcore {

namespace {

uint64_t wall_ns()
{
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// Bridges of one process (several devices, or SST threads) that have work in
// flight. A bridge blocks in wall time on its socket only while this is 0:
// otherwise an idle device would stall every simulated tick of a busy one.
std::atomic<int> g_busy_bridges{0};

} // namespace

Bridge::Bridge(SST::ComponentId_t id, SST::Params &params)
	: SST::Component(id), out_(getSimulationOutput()),
	  model_(read_model_params_with_clock(params, out_, "vsst.Bridge"))
{
	socket_path_ = params.find<std::string>("socket_path", "");
	if (socket_path_.empty())
		out_.fatal(CALL_INFO, -1, "vsst.Bridge: socket_path is required\n");
	device_id_ = params.find<uint32_t>("device_id", 0);
	const std::string proto = params.find<std::string>("protocol", "auto");
	auto p = sim::protocol_by_name(proto);
	if (!p)
		out_.fatal(CALL_INFO, -1, "vsst.Bridge: protocol must be auto, framed or acalsim\n");
	protocol_ = *p;
	idle_wait_ms_ = params.find<int>("idle_wait_ms", 1);
	connect_timeout_s_ = params.find<double>("connect_timeout_s", 0.0);
	session_ = std::make_unique<sim::ServerSession>(protocol_, model_.params().clock_hz);

	// Listen now (construction), so a client can connect before setup().
	sockaddr_un addr{};
	if (socket_path_.size() >= sizeof addr.sun_path) {
		out_.fatal(CALL_INFO, -1, "vsst.Bridge: socket_path too long\n");
	}
	addr.sun_family = AF_UNIX;
	std::memcpy(addr.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
	struct stat st {};
	if (::lstat(socket_path_.c_str(), &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			out_.fatal(CALL_INFO, -1, "vsst.Bridge: %s exists and is not a socket\n",
				   socket_path_.c_str());
		}
		UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
		if (::connect(probe.get(), reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0) {
			out_.fatal(CALL_INFO, -1, "vsst.Bridge: a live server already listens on %s\n",
				   socket_path_.c_str());
		}
		::unlink(socket_path_.c_str()); // stale
	}
	listen_fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	if (!listen_fd_ || ::bind(listen_fd_.get(), reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
	    ::listen(listen_fd_.get(), 4) != 0) {
		out_.fatal(CALL_INFO, -1, "vsst.Bridge: cannot listen on %s: %s\n", socket_path_.c_str(),
			   std::strerror(errno));
	}

	registerAsPrimaryComponent();
	primaryComponentDoNotEndSim();

	compute_link_ = isPortConnected("compute")
				? configureLink("compute", "1ps", VSST_EVENT_HANDLER(Bridge, handle_remote))
				: nullptr;
	memory_link_ = isPortConnected("memory")
			       ? configureLink("memory", "1ps", VSST_EVENT_HANDLER(Bridge, handle_remote))
			       : nullptr;
	due_link_ = configureSelfLink("due", "1ps", VSST_EVENT_HANDLER(Bridge, handle_due));
	registerClock(params.find<std::string>("poll_period", "100ns"), VSST_CLOCK_HANDLER(Bridge, tick));

	stat_requests_ = registerStatistic<uint64_t>("requests");
	stat_invalid_ = registerStatistic<uint64_t>("invalid");
	stat_latency_ = registerStatistic<uint64_t>("latency_cycles");
	stat_events_ = registerStatistic<uint64_t>("events");
	stat_errors_ = registerStatistic<uint64_t>("error_frames");
	out_.verbose(CALL_INFO, 1, 0, "vsst.Bridge %u: listening on %s (%s, compute %s, memory %s)\n",
		     device_id_, socket_path_.c_str(), std::string(sim::protocol_name(protocol_)).c_str(),
		     compute_link_ ? "component" : "embedded", memory_link_ ? "component" : "embedded");
}

Bridge::~Bridge()
{
	set_busy(false); // an emergency shutdown can end the run mid-request
	if (listen_fd_)
		::unlink(socket_path_.c_str());
}

void Bridge::setup()
{
	wall_start_ns_ = wall_ns();
}

uint64_t Bridge::now_ps() const
{
	return getCurrentSimTime("1ps");
}

void Bridge::set_busy(bool busy)
{
	if (busy == busy_)
		return;
	busy_ = busy;
	g_busy_bridges.fetch_add(busy ? 1 : -1, std::memory_order_relaxed);
}

int Bridge::idle_wait_now() const
{
	return g_busy_bridges.load(std::memory_order_relaxed) == 0 ? idle_wait_ms_ : 0;
}

bool Bridge::accept_client()
{
	pollfd p{listen_fd_.get(), POLLIN, 0};
	if (::poll(&p, 1, idle_wait_now()) <= 0)
		return false;
	UniqueFd fd(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
	if (!fd)
		return false;
	client_fd_ = std::move(fd);
	had_client_ = true;
	out_.verbose(CALL_INFO, 1, 0, "vsst.Bridge %u: client connected\n", device_id_);
	return true;
}

bool Bridge::tick(SST::Cycle_t)
{
	if (ended_)
		return true;
	if (!client_fd_) {
		if (!had_client_ && !accept_client() && connect_timeout_s_ > 0 &&
		    static_cast<double>(wall_ns() - wall_start_ns_) / 1e9 > connect_timeout_s_) {
			end_run("no client connected within connect_timeout_s");
			return true;
		}
		return false;
	}
	model_.advance_to(now_ps());
	read_client();
	flush();
	const uint64_t errors = session_->counters().errors_sent;
	if (errors > errors_reported_) {
		stat_errors_->addData(errors - errors_reported_);
		errors_reported_ = errors;
	}
	set_busy(!pending_.empty() || !due_.empty());
	const bool input_over = client_eof_ || session_->closing();
	if (input_over && ((pending_.empty() && due_.empty() && wire_out_.empty()) || session_->closing())) {
		end_run(session_->closing() ? "protocol error from the client" : "client disconnected");
		return true;
	}
	return false;
}

void Bridge::read_client()
{
	bool got = false;
	while (!client_eof_ && !session_->closing()) {
		uint8_t *buf = in_.prepare(64 * 1024);
		const ssize_t n = ::recv(client_fd_.get(), buf, 64 * 1024, 0);
		if (n > 0) {
			in_.commit(static_cast<size_t>(n));
			got = true;
			continue;
		}
		in_.commit(0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			client_eof_ = true;
		break;
	}
	if (got) {
		session_->set_clock_hz(model_.params().clock_hz);
		session_->feed(in_, wire_out_, [this](uint64_t token, std::span<const uint8_t> req) {
			on_request(token, req);
		});
		schedule_local_outputs();
	} else if (!client_eof_ && pending_.empty() && due_.empty() && idle_wait_now() > 0) {
		// Nothing in flight here or in any other bridge: wait in wall time for
		// the device instead of spinning through simulated time.
		pollfd p{client_fd_.get(), POLLIN, 0};
		::poll(&p, 1, idle_wait_now());
	}
}

void Bridge::on_request(uint64_t wire_token, std::span<const uint8_t> request)
{
	stat_requests_->addData(1);
	SSTRequest req{};
	std::memcpy(&req, request.data(), std::min(request.size(), sizeof req));
	SST::Link *remote = nullptr;
	if (req.type == SST_REQ_COMPUTE)
		remote = compute_link_;
	if (req.type == SST_REQ_READ || req.type == SST_REQ_WRITE)
		remote = memory_link_;
	if (!remote) {
		submit_local(wire_token, request);
		if (req.type == SST_REQ_CONFIGURE || req.type == SST_REQ_RESET) {
			// Keep the components in step with what the embedded model accepted.
			if (req.type == SST_REQ_RESET) {
				broadcast(ControlEvent::kReset, 0, 0);
			} else if (sim::get_param(model_.params(), req.payload.config.param) ==
					   req.payload.config.value &&
				   req.payload.config.param < SST_CFG_MAX) {
				broadcast(ControlEvent::kConfigure, req.payload.config.param,
					  req.payload.config.value);
			}
		}
		return;
	}
	const uint64_t id = next_id_++;
	const bool async =
		req.type == SST_REQ_COMPUTE && (req.flags & SST_REQ_FLAG_ASYNC) && session_->events_enabled();
	pending_[id] = Pending{wire_token, now_ps(), req.type, async, req.request_id};
	if (async) {
		// Accepted now; the completion goes out as an event.
		SSTResponse resp{};
		resp.status = SST_STATUS_OK;
		resp.request_id = req.request_id;
		resp.user_data = req.user_data;
		const auto *b = reinterpret_cast<const uint8_t *>(&resp);
		emit_response(wire_token, now_ps(),
			      std::vector<uint8_t>(b, b + SST_RESPONSE_HEADER_SIZE + 16), true);
	}
	remote->send(0, new RequestEvent(id, std::vector<uint8_t>(request.begin(), request.end())));
}

void Bridge::submit_local(uint64_t wire_token, std::span<const uint8_t> request)
{
	model_.advance_to(now_ps());
	model_.submit(wire_token, request, session_->events_enabled());
}

void Bridge::schedule_local_outputs()
{
	const uint64_t now = now_ps();
	while (auto o = model_.pop_scheduled()) {
		const uint64_t id = next_id_++;
		const uint64_t delay = o->complete_ps > now ? o->complete_ps - now : 0;
		due_.emplace(id, std::move(*o));
		due_link_->send(delay, new ResponseEvent(id, {}));
	}
}

void Bridge::handle_due(SST::Event *ev)
{
	auto *e = dynamic_cast<ResponseEvent *>(ev);
	if (e) {
		auto it = due_.find(e->token);
		if (it != due_.end()) {
			const sim::SimOutput &o = it->second;
			if (o.kind == sim::SimOutput::Kind::kEvent) {
				session_->emit_event(wire_out_, o.bytes);
				stat_events_->addData(1);
			} else {
				SSTResponse r{};
				std::memcpy(&r, o.bytes.data(), std::min(o.bytes.size(), sizeof r));
				if (r.status == SST_STATUS_INVALID)
					stat_invalid_->addData(1);
				stat_latency_->addData(o.cycles);
				session_->emit_response(wire_out_, o.token, o.cycles, o.complete_ps, o.bytes);
			}
			due_.erase(it);
			flush();
		}
	}
	delete ev;
}

void Bridge::handle_remote(SST::Event *ev)
{
	auto *e = dynamic_cast<ResponseEvent *>(ev);
	if (e) {
		auto it = pending_.find(e->token);
		if (it != pending_.end()) {
			const Pending p = it->second;
			pending_.erase(it);
			if (p.async_event) {
				SSTEvent done{};
				done.type = SST_EVENT_COMPLETION;
				done.timestamp = now_ps();
				done.data = p.request_id;
				session_->emit_event(wire_out_,
						     {reinterpret_cast<const uint8_t *>(&done), sizeof done});
				stat_events_->addData(1);
				flush();
			} else {
				emit_response(p.wire_token, p.arrival_ps, std::move(e->response),
					      p.type != SST_REQ_READ);
			}
		}
	}
	delete ev;
}

void Bridge::emit_response(uint64_t wire_token, uint64_t arrival_ps, std::vector<uint8_t> bytes,
			   bool timing_in_payload)
{
	const uint64_t now = now_ps();
	const uint64_t cycles = sim::ps_to_cycles(now - arrival_ps, model_.params().clock_hz);
	if (bytes.size() < SST_RESPONSE_HEADER_SIZE)
		bytes.resize(SST_RESPONSE_HEADER_SIZE, 0);
	SSTResponse r{};
	std::memcpy(&r, bytes.data(), std::min(bytes.size(), sizeof r));
	if (timing_in_payload && r.status == SST_STATUS_OK) {
		r.payload.compute.cycles = cycles;
		r.payload.compute.timestamp = now;
		bytes.resize(std::max<size_t>(bytes.size(), SST_RESPONSE_HEADER_SIZE + 16), 0);
		std::memcpy(bytes.data(), &r, SST_RESPONSE_HEADER_SIZE + 16);
	}
	if (r.status == SST_STATUS_INVALID)
		stat_invalid_->addData(1);
	stat_latency_->addData(cycles);
	session_->emit_response(wire_out_, wire_token, cycles, now, bytes);
	flush();
}

void Bridge::broadcast(uint32_t kind, uint32_t param, uint64_t value)
{
	if (compute_link_)
		compute_link_->send(0, new ControlEvent(kind, param, value));
	if (memory_link_)
		memory_link_->send(0, new ControlEvent(kind, param, value));
}

void Bridge::flush()
{
	while (client_fd_ && !wire_out_.empty()) {
		const ssize_t n = ::send(client_fd_.get(), wire_out_.data(), wire_out_.size(),
					 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			wire_out_.consume(static_cast<size_t>(n));
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		client_eof_ = true; // the peer is gone: drop what it would not take
		wire_out_.clear();
		return;
	}
}

void Bridge::end_run(const char *why)
{
	if (ended_)
		return;
	ended_ = true;
	set_busy(false);
	flush();
	out_.verbose(CALL_INFO, 1, 0, "vsst.Bridge %u: ending the run: %s\n", device_id_, why);
	client_fd_.reset();
	primaryComponentOKToEndSim();
}

void Bridge::finish()
{
	const auto &s = model_.stats();
	const auto &c = session_->counters();
	out_.output("vsst.Bridge %u: %llu requests (%llu embedded), %llu responses, %llu events, "
		    "%llu error frames, simulated %llu ps\n",
		    device_id_, static_cast<unsigned long long>(c.requests),
		    static_cast<unsigned long long>(s.total()), static_cast<unsigned long long>(c.responses),
		    static_cast<unsigned long long>(c.events), static_cast<unsigned long long>(c.errors_sent),
		    static_cast<unsigned long long>(now_ps()));
	client_fd_.reset();
	if (listen_fd_) {
		listen_fd_.reset();
		::unlink(socket_path_.c_str());
	}
}

} // namespace vsst::sstcore
