// SPDX-License-Identifier: Apache-2.0
#include "connection.h"

#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

namespace vsst::sim {

namespace {
constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kReadBudget = 1024 * 1024;          // per wakeup, for fairness
constexpr size_t kBatchRequests = 1024;              // requests submitted per model drain
constexpr size_t kOutputHighWater = 4 * 1024 * 1024; // stop reading above this
constexpr size_t kHeldHighWater = 64 * 1024;
constexpr int64_t kLingerNs = 5'000'000'000;    // flush time granted before a close
constexpr uint64_t kSampleReserve = 256 * 1024; // samples reserved per connection (10 MiB)
} // namespace

int64_t monotonic_ns()
{
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

Connection::Connection(UniqueFd fd, const ServerOptions &opts, int64_t epoch_ns, MemoryBudget *budget)
	: fd_(std::move(fd)), opts_(opts), session_(opts.protocol, opts.model.clock_hz),
	  model_(opts.model, budget), last_io_ns_(monotonic_ns()), record_(!opts.stats_out.empty()),
	  epoch_ns_(epoch_ns), open_ns_(last_io_ns_)
{
	samples_.cap = opts.stats_samples;
	// Synchronized time: process() starts timed requests at their submit time. Every
	// request type the model serves completes no earlier than it starts, and CONFIGURE
	// completes at once, so the minimum latency it announces is 0.
	session_.set_timing_supported(true);
	session_.set_min_latency_ps(0);
	// Reserved, not touched: the pages become resident as samples arrive, and
	// the vector never copies itself while it grows up to the default cap
	// (growth by doubling cost ~50 ns per sample in copies and page faults).
	if (record_)
		samples_.samples.reserve(std::min<uint64_t>(opts.stats_samples, kSampleReserve));
}

bool Connection::can_process() const
{
	return !broken_ && !session_.closing() && out_.size() < kOutputHighWater &&
	       held_.size() < kHeldHighWater;
}

bool Connection::wants_read() const
{
	return !peer_eof_ && can_process();
}

void Connection::resume()
{
	if (can_process() && !in_.empty())
		process(monotonic_ns());
	flush();
}

void Connection::fail(std::string why)
{
	broken_ = true;
	if (reason_.empty())
		reason_ = std::move(why);
}

void Connection::on_readable()
{
	size_t total = 0;
	while (wants_read() && total < kReadBudget) {
		uint8_t *buf = in_.prepare(kReadChunk);
		const ssize_t n = ::recv(fd_.get(), buf, kReadChunk, 0);
		if (n > 0) {
			in_.commit(static_cast<size_t>(n));
			total += static_cast<size_t>(n);
			last_io_ns_ = monotonic_ns();
			process(last_io_ns_);
			continue;
		}
		in_.commit(0);
		if (n == 0) {
			peer_eof_ = true;
			if (auto t = session_.truncated_input(in_)) {
				spdlog::warn("device {}: short frame: {}", session_.device_id(), *t);
			}
			if (reason_.empty())
				reason_ = "peer closed";
			linger_deadline_ns_ = monotonic_ns() + kLingerNs;
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			fail(std::string("recv: ") + std::strerror(errno));
		break;
	}
	if (session_.closing() && linger_deadline_ns_ == 0) {
		spdlog::warn("device {}: closing connection: {}", session_.device_id(),
			     session_.close_reason());
		reason_ = "protocol error: " + session_.close_reason();
		linger_deadline_ns_ = monotonic_ns() + kLingerNs;
	}
	flush();
}

void Connection::process(int64_t now_ns)
{
	auto submit = [this](uint64_t token, std::span<const uint8_t> req) {
		// The first request comes after HELLO, which named the device.
		if (!source_asked_) {
			source_asked_ = true;
			if (model_source_)
				if (std::optional<DeviceModel> m = model_source_(session_.device_id())) {
					model_ = std::move(*m);
					resumed_ = true;
				}
		}
		// Synchronized time: the device's clock is max(own time, submit time).
		if (session_.timed())
			model_.advance_to(session_.submit_ps());
		model_.submit(token, req, session_.events_enabled());
	};
	for (;;) {
		session_.set_clock_hz(model_.params().clock_hz);
		const size_t n = session_.feed(in_, out_, submit, kBatchRequests);
		// Everything submitted in this batch arrived at the same simulated time;
		// run the model until it is idle.
		// Free: run the model until idle (time moves to each completion).
		// Timed: time moves only with the submit times the client sends, so
		// a later request that arrives before an earlier one completes starts
		// at its own submit time; answers leave at once with their times.
		while (auto o = session_.timed() ? model_.pop_scheduled() : model_.pop()) {
			// The device's time as reported: its last completion counts too.
			horizon_ps_ = std::max(horizon_ps_, o->complete_ps);
			deliver(std::move(*o), now_ns);
		}
		// The batch's responses are queued for the socket now: one clock read
		// stamps them all (paced responses are stamped at their release).
		if (record_ && !opts_.paced && unstamped_ < samples_.samples.size()) {
			const int64_t done = monotonic_ns() - epoch_ns_;
			for (size_t i = unstamped_; i < samples_.samples.size(); ++i)
				samples_.samples[i].wall_done_ns = done;
		}
		unstamped_ = samples_.samples.size();
		if (n < kBatchRequests || !can_process())
			break;
	}
	// Once per connection: a client filling memory would otherwise log a line
	// per WRITE. The count is in the close line and the statistics.
	if (!budget_logged_ && model_.stats().memory_refused > 0) {
		budget_logged_ = true;
		spdlog::warn("device {}: WRITE answered SST_STATUS_ERROR: the device memory budget is "
			     "exhausted (--memory-budget {} bytes, shared by all connections; this one "
			     "holds {} bytes); later refusals on this connection are only counted",
			     session_.device_id(), opts_.memory_budget, model_.memory().committed_bytes());
	}
}

DeviceModel Connection::take_model()
{
	model_.drop_pending();
	model_.clear_stats();
	return std::move(model_);
}

std::string Connection::idle_reason(int64_t now_ns, int64_t timeout_ns) const
{
	// A response held back (paced) is a request still in flight: not idle.
	if (timeout_ns <= 0 || !held_.empty() || now_ns - last_io_ns_ < timeout_ns)
		return {};
	const double secs = static_cast<double>(now_ns - last_io_ns_) / 1e9;
	if (!out_.empty()) {
		return fmt::format("idle timeout: the peer read none of its {} bytes of answers for "
				   "{:.1f} s (--idle-timeout {:g})",
				   out_.size(), secs, opts_.idle_timeout_s);
	}
	return fmt::format("idle timeout: nothing received for {:.1f} s (--idle-timeout {:g})", secs,
			   opts_.idle_timeout_s);
}

void Connection::emit(const SimOutput &o)
{
	if (o.kind == SimOutput::Kind::kEvent) {
		session_.emit_event(out_, o.bytes);
	} else {
		session_.emit_response(out_, o.token, o.cycles, o.complete_ps, o.bytes);
	}
}

int64_t Connection::record(const SimOutput &o, int64_t arrival_wall_ns)
{
	if (!record_ || o.kind != SimOutput::Kind::kResponse)
		return -1;
	RequestSample s;
	s.wall_submit_ns = arrival_wall_ns - epoch_ns_;
	s.sim_start_ps = o.arrival_ps;
	s.sim_end_ps = o.complete_ps;
	s.type = o.req_type;
	s.status = o.status;
	return samples_.add(s);
}

void Connection::deliver(SimOutput &&o, int64_t arrival_wall_ns)
{
	const int64_t sample = record(o, arrival_wall_ns);
	if (!opts_.paced) {
		emit(o);
		return;
	}
	const double sim_ns = static_cast<double>(o.complete_ps - o.arrival_ps) / 1000.0;
	const double hold = std::min(sim_ns * opts_.pace_scale, 3600e9); // at most an hour
	held_.push_back(
		Held{arrival_wall_ns + static_cast<int64_t>(hold), held_seq_++, std::move(o), sample});
	std::push_heap(held_.begin(), held_.end(), LaterRelease{});
}

void Connection::release_due(int64_t now_ns)
{
	bool any = false;
	while (!held_.empty() && held_.front().release_ns <= now_ns) {
		std::pop_heap(held_.begin(), held_.end(), LaterRelease{});
		emit(held_.back().out);
		if (held_.back().sample >= 0)
			samples_.samples[static_cast<size_t>(held_.back().sample)].wall_done_ns =
				now_ns - epoch_ns_;
		held_.pop_back();
		any = true;
	}
	if (any)
		flush();
}

int64_t Connection::next_release_ns() const
{
	return held_.empty() ? INT64_MAX : held_.front().release_ns;
}

void Connection::flush()
{
	while (!out_.empty() && !broken_) {
		const ssize_t n = ::send(fd_.get(), out_.data(), out_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			out_.consume(static_cast<size_t>(n));
			last_io_ns_ = monotonic_ns();
			// A draining peer keeps its grace period while it makes progress.
			if (linger_deadline_ns_ != 0)
				linger_deadline_ns_ = monotonic_ns() + kLingerNs;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		fail(std::string("send: ") + (n < 0 ? std::strerror(errno) : "no progress"));
	}
}

DeviceRecord Connection::take_record(int64_t now_ns, const char *why)
{
	DeviceRecord r;
	r.connection = index;
	if (session_.protocol() == Protocol::kFramed && session_.hello_done())
		r.device_id = session_.device_id();
	r.protocol = std::string(protocol_name(session_.protocol()));
	r.close_reason = why ? why : reason_;
	r.params = model_.params();
	const ModelStats &s = model_.stats();
	std::copy(std::begin(s.requests), std::end(s.requests), std::begin(r.requests));
	r.unknown_type = s.unknown_type;
	r.invalid = s.invalid;
	r.memory_refused = s.memory_refused;
	r.bytes_read = s.bytes_read;
	r.bytes_written = s.bytes_written;
	r.unit_busy_ps = s.unit_busy_ps;
	r.mem_busy_ps = s.mem_busy_ps;
	r.error_frames = session_.counters().errors_sent;
	r.responses = session_.counters().responses;
	r.events = session_.counters().events;
	r.sim_time_ps = std::max(model_.now_ps(), horizon_ps_);
	r.wall_open_ns = open_ns_ - epoch_ns_;
	r.wall_close_ns = now_ns - epoch_ns_;
	// Held (paced) responses never released have no done time: they are
	// dropped from the samples rather than reported as done at 0.
	if (!held_.empty()) {
		std::vector<bool> unsent(samples_.samples.size(), false);
		for (const Held &h : held_) {
			if (h.sample >= 0)
				unsent[static_cast<size_t>(h.sample)] = true;
		}
		size_t w = 0;
		for (size_t i = 0; i < samples_.samples.size(); ++i) {
			if (unsent[i])
				++samples_.dropped;
			else
				samples_.samples[w++] = samples_.samples[i];
		}
		samples_.samples.resize(w);
	}
	r.samples = std::move(samples_);
	samples_ = SampleLog{};
	return r;
}

bool Connection::finished(int64_t now_ns) const
{
	if (broken_)
		return true;
	const bool input_over = peer_eof_ || session_.closing();
	if (!input_over)
		return false;
	// A half-closed peer still gets its answers (resume() has run what it
	// sent; only a partial frame can be left); a protocol error drops held ones.
	const bool drained = out_.empty() && (session_.closing() || held_.empty()) &&
			     (session_.closing() || in_.empty() || can_process());
	return drained || now_ns >= linger_deadline_ns_;
}

} // namespace vsst::sim
