// SPDX-License-Identifier: Apache-2.0
#include "bridge.h"

#include <poll.h>
#include <time.h>

#include <sst/core/unitAlgebra.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "model_params_sst.h"
#include "vsst/sim/latency.h"
#include "vsst/sim/memory_budget.h"

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
	  model_(read_model_params_with_clock(params, out_, "vsst.Bridge"),
		 &sim::process_memory_budget(params.find<uint64_t>("memory_budget", uint64_t{1} << 30)))
{
	device_id_ = params.find<uint32_t>("device_id", 0);
	socket_path_ = params.find<std::string>("socket_path", "");
	std::string why;
	if (socket_path_.empty()) {
		// Like sst-sim's default: a directory only we can enter, never a fixed
		// name in a world-writable folder that another user could take first.
		const std::string dir = sim::default_socket_dir();
		if (!sim::ensure_private_dir(dir, why, "set the bridge's socket_path"))
			out_.fatal(CALL_INFO, -1, "vsst.Bridge: %s\n", why.c_str());
		socket_path_ = dir + "/sst" + std::to_string(device_id_) + ".sock";
	}
	const std::string proto = params.find<std::string>("protocol", "auto");
	auto p = sim::protocol_by_name(proto);
	if (!p)
		out_.fatal(CALL_INFO, -1, "vsst.Bridge: protocol must be auto, framed or acalsim\n");
	protocol_ = *p;
	idle_wait_ms_ = params.find<int>("idle_wait_ms", 1);
	connect_timeout_s_ = params.find<double>("connect_timeout_s", 0.0);
	auto peers = sim::PeerPolicy::parse(params.find<std::string>("peer_uids", ""), why);
	if (!peers)
		out_.fatal(CALL_INFO, -1, "vsst.Bridge: %s\n", why.c_str());
	peers_ = *peers;
	const uint64_t budget = params.find<uint64_t>("memory_budget", uint64_t{1} << 30);
	if (sim::process_memory_budget(budget).limit() != budget) {
		out_.output("vsst.Bridge %u: memory_budget %llu ignored: the vsst memories of this process "
			    "already share a budget of %llu bytes\n",
			    device_id_, static_cast<unsigned long long>(budget),
			    static_cast<unsigned long long>(sim::process_memory_budget(budget).limit()));
	}
	limits_.max_in_flight = params.find<uint64_t>("max_in_flight", 4096);
	if (limits_.max_in_flight == 0)
		out_.fatal(CALL_INFO, -1, "vsst.Bridge: max_in_flight must be at least 1\n");
	const double idle_s = params.find<double>("idle_timeout_s", 0.0);
	limits_.idle_timeout_ns = idle_s > 0 ? static_cast<int64_t>(idle_s * 1e9) : 0;
	sync_wait_ns_ = params.find<uint64_t>("sync_wait_us", 200) * 1000;
	// The minimum latency announced to a timed client: NOOP, GET_INFO,
	// CONFIGURE and RESET are always answered by the embedded model, and
	// complete at their entry time, so no request path is shorter than 0 and
	// every one is at least 0. (The components' paths take both links'
	// latencies on top, but one number covers every request type.)
	min_latency_ps_ = 0;
	new_intake();

	// Listen now (construction), so a client can connect before setup().
	bool replaced = false;
	if (!listener_.open(socket_path_, 4, why, &replaced))
		out_.fatal(CALL_INFO, -1, "vsst.Bridge: cannot listen: %s\n", why.c_str());
	if (replaced)
		out_.verbose(CALL_INFO, 1, 0, "vsst.Bridge %u: replaced stale socket %s\n", device_id_,
			     socket_path_.c_str());

	registerAsPrimaryComponent();
	primaryComponentDoNotEndSim();

	compute_link_ = isPortConnected("compute")
				? configureLink("compute", "1ps", VSST_EVENT_HANDLER(Bridge, handle_remote))
				: nullptr;
	memory_link_ = isPortConnected("memory")
			       ? configureLink("memory", "1ps", VSST_EVENT_HANDLER(Bridge, handle_remote))
			       : nullptr;
	due_link_ = configureSelfLink("due", "1ps", VSST_EVENT_HANDLER(Bridge, handle_due));
	entry_link_ = configureSelfLink("entry", "1ps", VSST_EVENT_HANDLER(Bridge, handle_entry));
	hold_link_ = configureSelfLink("hold", "1ps", VSST_EVENT_HANDLER(Bridge, handle_hold));
	clock_handler_ = VSST_CLOCK_HANDLER(Bridge, tick);
	clock_tc_ = registerClock(params.find<std::string>("poll_period", "100ns"), clock_handler_);

	stat_requests_ = registerStatistic<uint64_t>("requests");
	stat_invalid_ = registerStatistic<uint64_t>("invalid");
	stat_latency_ = registerStatistic<uint64_t>("latency_cycles");
	stat_events_ = registerStatistic<uint64_t>("events");
	stat_errors_ = registerStatistic<uint64_t>("error_frames");
	stat_late_ = registerStatistic<uint64_t>("late_requests");
	stat_holds_ = registerStatistic<uint64_t>("horizon_holds");
	stat_hold_us_ = registerStatistic<uint64_t>("hold_wall_us");
	out_.verbose(CALL_INFO, 1, 0,
		     "vsst.Bridge %u: listening on %s (%s, compute %s, memory %s, peers %s)\n", device_id_,
		     socket_path_.c_str(), std::string(sim::protocol_name(protocol_)).c_str(),
		     compute_link_ ? "component" : "embedded", memory_link_ ? "component" : "embedded",
		     peers_.describe().c_str());
}

Bridge::~Bridge()
{
	// An emergency shutdown can end the run mid-request. listener_ then
	// removes the socket file, but only while it is still ours.
	set_busy(false);
}

void Bridge::new_intake()
{
	intake_ = std::make_unique<sim::ClientIntake>(protocol_, model_.params().clock_hz, limits_);
	intake_->session().set_timing_supported(true);
	intake_->session().set_min_latency_ps(min_latency_ps_);
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
	pollfd p{listener_.fd(), POLLIN, 0};
	if (::poll(&p, 1, idle_wait_now()) <= 0)
		return false;
	std::vector<std::string> refused;
	UniqueFd fd = sim::accept_admitted(listener_.fd(), peers_, refused);
	for (const std::string &who : refused) {
		out_.output("vsst.Bridge %u: refused a connection from %s (peer_uids admits %s)\n",
			    device_id_, who.c_str(), peers_.describe().c_str());
	}
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
		if (!accept_client() && !had_client_ && connect_timeout_s_ > 0 &&
		    static_cast<double>(wall_ns() - wall_start_ns_) / 1e9 > connect_timeout_s_) {
			end_run("no client connected within connect_timeout_s");
			return true;
		}
		return false;
	}
	model_.advance_to(now_ps());
	const auto now = static_cast<int64_t>(wall_ns());
	read_client(now);
	flush();
	const uint64_t errors = intake_->session().counters().errors_sent;
	if (errors > errors_reported_) {
		stat_errors_->addData(errors - errors_reported_);
		errors_reported_ = errors;
	}
	if (intake_->check_idle(now)) {
		out_.output("vsst.Bridge %u: %s (idle_timeout_s)\n", device_id_,
			    intake_->end_reason().c_str());
	}
	set_busy(owed());
	check_horizon();
	// Answers still owed are awaited, unless the intake gave up on the
	// client (protocol or socket error: in flight, but nobody to answer).
	if (intake_->finished(now) && (!owed() || intake_->in_flight() > 0)) {
		if (intake_->bytes_received() == 0 && intake_->handed_out() == 0) {
			// A probe, or a peer that left before sending a byte: not the
			// device. It must not end the run (the first connector does not
			// win); wait for the next one.
			out_.verbose(CALL_INFO, 1, 0,
				     "vsst.Bridge %u: a client left without sending anything (%s); "
				     "waiting for another\n",
				     device_id_, intake_->end_reason().c_str());
			client_fd_.reset();
			had_client_ = false; // connect_timeout_s still waits for a real one
			new_intake();
			return false;
		}
		end_run(intake_->end_reason().c_str());
		return true;
	}
	// Timed, with only future entries to wait for: nothing the client sends
	// can enter before them (its time is at least the latest submit time), so
	// the clock stops and SST goes straight to the next entry instead of
	// polling the socket every poll_period on the way (which costs seconds of
	// wall time for a guest that idled a few simulated seconds).
	if (intake_->session().timed() && !entries_.empty() && pending_.empty() && due_.empty() &&
	    entries_.front().at_ps > now_ps()) {
		clock_stopped_ = true;
		return true;
	}
	return false;
}

void Bridge::read_client(int64_t now_ns)
{
	intake_->session().set_clock_hz(model_.params().clock_hz);
	const uint64_t before = intake_->bytes_received();
	const size_t handed =
		intake_->pump(client_fd_.get(), now_ns, [this](uint64_t token, std::span<const uint8_t> req) {
			on_request(token, req);
		});
	if (handed > 0) {
		schedule_local_outputs();
	} else if (intake_->bytes_received() == before && !intake_->input_over() && !owed() &&
		   idle_wait_now() > 0) {
		// Nothing in flight here or in any other bridge: wait in wall time for
		// the device instead of spinning through simulated time.
		pollfd p{client_fd_.get(), POLLIN, 0};
		::poll(&p, 1, idle_wait_now());
	}
}

void Bridge::on_request(uint64_t wire_token, std::span<const uint8_t> request)
{
	stat_requests_->addData(1);
	const uint64_t now = now_ps();
	if (!intake_->session().timed()) {
		enter(wire_token, request, now);
		return;
	}
	// Synchronized time: the request enters at max(submit time, SST's time,
	// the previous entry), as sst-sim's device clock max(own time, submit).
	const uint64_t submit = intake_->session().submit_ps();
	latest_submit_ps_ = std::max(latest_submit_ps_, submit);
	const uint64_t at = std::max({submit, now, last_entry_ps_});
	last_entry_ps_ = at;
	if (at > submit) {
		++late_;
		max_late_ps_ = std::max(max_late_ps_, at - submit);
		stat_late_->addData(1);
		SSTRequest head{};
		std::memcpy(&head, request.data(), std::min(request.size(), sizeof head));
		out_.verbose(CALL_INFO, 1, 0,
			     "vsst.Bridge %u: late request (type %u, submit %llu ps) enters at %llu ps\n",
			     device_id_, head.type, static_cast<unsigned long long>(submit),
			     static_cast<unsigned long long>(at));
	} else {
		++on_time_;
	}
	if (at == now && entries_.empty()) {
		enter(wire_token, request, at);
		return;
	}
	entries_.push_back(Entry{at, wire_token, std::vector<uint8_t>(request.begin(), request.end())});
	entry_link_->send(at - now, new ResponseEvent(0, {}));
}

void Bridge::handle_entry(SST::Event *ev)
{
	delete ev;
	const uint64_t now = now_ps();
	if (clock_stopped_) {
		clock_stopped_ = false;
		reregisterClock(clock_tc_, clock_handler_);
	}
	bool entered = false;
	while (!entries_.empty() && entries_.front().at_ps <= now) {
		Entry e = std::move(entries_.front());
		entries_.pop_front();
		enter(e.wire_token, e.request, e.at_ps);
		entered = true;
	}
	if (entered) {
		schedule_local_outputs();
		set_busy(owed());
		check_horizon();
	}
}

void Bridge::handle_hold(SST::Event *ev)
{
	delete ev;
	hold_sent_.reset();
	check_horizon();
}

// Holds SST at the client's horizon: while the client has requests
// outstanding, its time stands at most at (latest submit time + announced
// minimum latency) until it has their answers, and it may still send
// requests for any time up to there. SST must not pass that horizon before
// they are read, so the bridge blocks at the horizon (SST-core has no
// external clock: a handler that does not return holds the whole rank).
void Bridge::check_horizon()
{
	if (!client_fd_ || !intake_->session().timed() || intake_->in_flight() == 0)
		return;
	const uint64_t h = latest_submit_ps_ + min_latency_ps_;
	const uint64_t now = now_ps();
	if (horizon_ != h) {
		horizon_ = h;
		horizon_seen_ps_ = now;
	}
	if (now < h) {
		if (hold_sent_ != h) {
			hold_sent_ = h;
			hold_link_->send(h - now, new ResponseEvent(0, {}));
		}
		return;
	}
	if (held_at_ == h)
		return;
	// Known while SST was not past it, yet passed unheld: the contract is broken.
	if (now > h && horizon_seen_ps_ <= h && unheld_counted_ != h) {
		unheld_counted_ = h;
		++unheld_passes_;
	}
	hold(h);
}

void Bridge::hold(uint64_t horizon_ps)
{
	held_at_ = horizon_ps;
	++holds_;
	const uint64_t start = wall_ns();
	uint64_t quiet_since = start;
	while (client_fd_ && intake_->wants_read() && !intake_->input_over()) {
		flush();
		const uint64_t t = wall_ns();
		if (t - quiet_since >= sync_wait_ns_)
			break;
		const uint64_t left = sync_wait_ns_ - (t - quiet_since);
		const timespec ts{static_cast<time_t>(left / 1'000'000'000),
				  static_cast<long>(left % 1'000'000'000)};
		pollfd p{client_fd_.get(), POLLIN, 0};
		if (::ppoll(&p, 1, &ts, nullptr) <= 0)
			continue; // timed out (the loop ends above) or EINTR
		const uint64_t before = intake_->bytes_received();
		const size_t handed = intake_->pump(
			client_fd_.get(), static_cast<int64_t>(wall_ns()),
			[this](uint64_t token, std::span<const uint8_t> req) { on_request(token, req); });
		if (handed > 0)
			schedule_local_outputs();
		if (intake_->bytes_received() != before)
			quiet_since = wall_ns();
		// The client's time moved on: SST may go on to the new horizon,
		// where it is held again.
		if (latest_submit_ps_ + min_latency_ps_ > horizon_ps)
			break;
	}
	const uint64_t took = wall_ns() - start;
	hold_wall_ns_ += took;
	max_hold_wall_ns_ = std::max(max_hold_wall_ns_, took);
	stat_holds_->addData(1);
	stat_hold_us_->addData(took / 1000);
	flush();
}

void Bridge::enter(uint64_t wire_token, std::span<const uint8_t> request, uint64_t at_ps)
{
	SSTRequest req{};
	std::memcpy(&req, request.data(), std::min(request.size(), sizeof req));
	SST::Link *remote = nullptr;
	if (req.type == SST_REQ_COMPUTE)
		remote = compute_link_;
	if (req.type == SST_REQ_READ || req.type == SST_REQ_WRITE)
		remote = memory_link_;
	if (!remote) {
		submit_local(wire_token, request, at_ps);
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
	const bool async = req.type == SST_REQ_COMPUTE && (req.flags & SST_REQ_FLAG_ASYNC) &&
			   intake_->session().events_enabled();
	pending_[id] = Pending{wire_token, at_ps, req.type, async, req.request_id};
	if (async) {
		// Accepted now; the completion goes out as an event.
		SSTResponse resp{};
		resp.status = SST_STATUS_OK;
		resp.request_id = req.request_id;
		resp.user_data = req.user_data;
		const auto *b = reinterpret_cast<const uint8_t *>(&resp);
		emit_response(wire_token, at_ps, std::vector<uint8_t>(b, b + SST_RESPONSE_HEADER_SIZE + 16),
			      true);
	}
	remote->send(0, new RequestEvent(id, std::vector<uint8_t>(request.begin(), request.end())));
}

void Bridge::submit_local(uint64_t wire_token, std::span<const uint8_t> request, uint64_t at_ps)
{
	model_.advance_to(at_ps);
	model_.submit(wire_token, request, intake_->session().events_enabled());
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
				intake_->session().emit_event(intake_->output(), o.bytes);
				stat_events_->addData(1);
			} else {
				SSTResponse r{};
				std::memcpy(&r, o.bytes.data(), std::min(o.bytes.size(), sizeof r));
				if (r.status == SST_STATUS_INVALID)
					stat_invalid_->addData(1);
				stat_latency_->addData(o.cycles);
				intake_->session().emit_response(intake_->output(), o.token, o.cycles,
								 o.complete_ps, o.bytes);
				intake_->retire(); // an embedded request is done once answered
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
				intake_->session().emit_event(
					intake_->output(),
					{reinterpret_cast<const uint8_t *>(&done), sizeof done});
				stat_events_->addData(1);
				intake_->retire();
				flush();
			} else {
				emit_response(p.wire_token, p.arrival_ps, std::move(e->response),
					      p.type != SST_REQ_READ);
				intake_->retire();
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
	intake_->session().emit_response(intake_->output(), wire_token, cycles, now, bytes);
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
	if (client_fd_)
		intake_->flush(client_fd_.get(), static_cast<int64_t>(wall_ns()));
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
	const auto &c = intake_->session().counters();
	out_.output("vsst.Bridge %u: %llu requests (%llu embedded), %llu responses, %llu events, "
		    "%llu error frames, simulated %llu ps\n",
		    device_id_, static_cast<unsigned long long>(c.requests),
		    static_cast<unsigned long long>(s.total()), static_cast<unsigned long long>(c.responses),
		    static_cast<unsigned long long>(c.events), static_cast<unsigned long long>(c.errors_sent),
		    static_cast<unsigned long long>(now_ps()));
	if (intake_->session().timed()) {
		out_.output("vsst.Bridge %u: timed: %llu requests at their submit time, %llu late (at most "
			    "%llu ps), %llu horizon holds (%.3f ms wall, at most %.3f ms), %llu horizon "
			    "passes unheld\n",
			    device_id_, static_cast<unsigned long long>(on_time_),
			    static_cast<unsigned long long>(late_),
			    static_cast<unsigned long long>(max_late_ps_),
			    static_cast<unsigned long long>(holds_), static_cast<double>(hold_wall_ns_) / 1e6,
			    static_cast<double>(max_hold_wall_ns_) / 1e6,
			    static_cast<unsigned long long>(unheld_passes_));
	}
	client_fd_.reset();
	listener_.close(); // removes the socket file only if it is still ours
}

} // namespace vsst::sstcore
