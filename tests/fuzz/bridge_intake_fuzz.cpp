// SPDX-License-Identifier: Apache-2.0
// Fuzz target bridge_intake: the SST-core bridge's client intake
// (sst-element/session sim::ClientIntake, which bridge.cpp drives; it builds
// without SST-core) over a socketpair. The input sets the limits (read
// budget, max in flight, output high-water, idle timeout), then scripts the
// client (raw bytes, HELLO, well-formed requests, reading some or none of
// the answers, half-closing) and the simulation (pumps, answers to requests
// in flight in any order, events, flushes, the clock jumping).
//
// Invariants: a pump reads at most the read budget; requests in flight never
// exceed max_in_flight; buffered input stays below one read chunk plus one
// frame; queued output stays below the high-water mark plus the answers to
// what is in flight plus one pump's immediate replies; the idle timeout fires
// exactly when nothing moved for that long with nothing in flight; once the
// client has left, reading everything or (deaf) nothing more, the intake
// finishes (no hang: a deaf one within the linger time), and a client that
// broke no rule received exactly one response per request taken.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_formats.h"
#include "fuzz_support.h"
#include "sim_bytes.h"
#include "vsst/posix/unique_fd.h"
#include "vsst/protocol/byte_buffer.h"
#include "vsst/sim-wire.h"
#include "vsst/sim/client_intake.h"
#include "vsst/sst-protocol.h"

namespace {

using vsst::fuzz::ByteReader;
namespace fmt = vsst::fuzz::bridge_intake;

constexpr int kMaxSteps = 128;
constexpr size_t kChunk = 64 * 1024; // ClientIntake's read chunk
constexpr size_t kMaxFrame = sizeof(vsst_sim_frame_hdr) + VSST_SIM_MAX_PAYLOAD;
constexpr size_t kMaxAnswer = sizeof(vsst_sim_frame_hdr) + sizeof(vsst_sim_resp_meta) + sizeof(SSTResponse);

// The client's view of what came back: whole responses counted.
class Reader {
public:
	void take(const uint8_t *p, size_t n, bool framed)
	{
		buf_.insert(buf_.end(), p, p + n);
		if (!framed) {
			responses += buf_.size() / sizeof(SSTResponse);
			buf_.erase(buf_.begin(),
				   buf_.begin() + static_cast<long>(buf_.size() / sizeof(SSTResponse) *
								    sizeof(SSTResponse)));
			return;
		}
		for (;;) {
			vsst_sim_frame_hdr h{};
			if (buf_.size() < sizeof h)
				return;
			std::memcpy(&h, buf_.data(), sizeof h);
			FUZZ_CHECK(h.magic == VSST_SIM_MAGIC && h.length <= VSST_SIM_MAX_PAYLOAD,
				   "the intake wrote a malformed frame (magic %#x, length %u)", h.magic,
				   h.length);
			if (buf_.size() < sizeof h + h.length)
				return;
			responses += h.type == VSST_SIM_RESPONSE;
			errors += h.type == VSST_SIM_ERROR;
			buf_.erase(buf_.begin(), buf_.begin() + static_cast<long>(sizeof h + h.length));
		}
	}
	uint64_t responses = 0;
	uint64_t errors = 0;

private:
	std::vector<uint8_t> buf_;
};

class Harness {
public:
	Harness(ByteReader &in)
	{
		const uint8_t proto = in.u8() % 3;
		protocol_ = static_cast<vsst::sim::Protocol>(proto);
		limits_.read_budget = size_t{1} << (in.u8() % 21);           // 1 B .. 1 MiB
		limits_.max_in_flight = 1 + in.u16() % 64;                   // 1 .. 64
		limits_.output_high_water = size_t{1} << (8 + in.u8() % 15); // 256 B .. 4 MiB
		const uint8_t idle = in.u8();
		limits_.idle_timeout_ns = idle % 4 == 0 ? 0 : int64_t{idle} * 100'000'000; // up to 25 s
		limits_.linger_ns = 5'000'000'000;
		intake_ = std::make_unique<vsst::sim::ClientIntake>(protocol_, 1'000'000'000, limits_);
		int sv[2];
		FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0,
			   "socketpair: %s", std::strerror(errno));
		ours_.reset(sv[0]);
		peer_.reset(sv[1]);
		// A small buffer towards the client, so one that does not read backs
		// the answers up soon.
		const int small = 16 * 1024;
		::setsockopt(ours_.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
	}

	void step(ByteReader &in)
	{
		switch (in.u8() % fmt::kCount) {
		case fmt::kRaw: {
			auto b = in.bytes(in.u16() % 9000);
			client_send(b.data(), b.size(), true);
			break;
		}
		case fmt::kHello: {
			const auto v = vsst::fuzz::hello_frame(in.u32(), in.u8() & 1);
			client_send(v.data(), v.size(), false);
			break;
		}
		case fmt::kRequests: {
			const int n = 1 + in.u8() % 16;
			std::vector<uint8_t> all;
			for (int i = 0; i < n; ++i) {
				const auto v = vsst::fuzz::request_bytes(in, framed_, next_tag_++);
				all.insert(all.end(), v.begin(), v.end());
			}
			client_send(all.data(), all.size(), false);
			break;
		}
		case fmt::kPump:
			pump();
			break;
		case fmt::kAnswer:
			answer(in.u8(), 1 + in.u8() % 8);
			break;
		case fmt::kEvent: {
			SSTEvent ev{};
			ev.type = SST_EVENT_COMPLETION;
			ev.data = in.u64();
			intake_->session().emit_event(intake_->output(),
						      {reinterpret_cast<const uint8_t *>(&ev), sizeof ev});
			break;
		}
		case fmt::kFlush:
			flush();
			break;
		case fmt::kClientRead:
			client_read(in.u8() == 0 ? SIZE_MAX : in.u16() * 16u);
			break;
		case fmt::kClientShutdown:
			if (peer_.valid())
				::shutdown(peer_.get(), SHUT_WR);
			peer_closed_ = true;
			break;
		case fmt::kTime:
			now_ += int64_t{in.u16()} * 1'000'000;
			idle_check();
			break;
		case fmt::kClientDeaf:
			deaf_ = true;
			break;
		}
		check();
	}

	void finish()
	{
		if (peer_.valid())
			::shutdown(peer_.get(), SHUT_WR);
		peer_closed_ = true;
		bool done = false;
		// One pump reads at most read_budget bytes (1 B at the least), so
		// what the client sent bounds the rounds needed, not a constant.
		// A deaf client is let go by the idle timeout and then the linger
		// time (100 ms of clock per round).
		const uint64_t rounds =
			256 + sent_ / limits_.read_budget +
			static_cast<uint64_t>(limits_.idle_timeout_ns + limits_.linger_ns) / 100'000'000;
		for (uint64_t round = 0; round < rounds && !done; ++round) {
			pump();
			answer(0, in_flight_.size());
			flush();
			client_read(SIZE_MAX);
			flush();
			check();
			now_ += 100'000'000;
			idle_check();
			done = intake_->finished(now_);
		}
		if (!done && deaf_ && !intake_->input_over()) {
			// A deaf client that only half-closed, against an intake too
			// backpressured to read up to its end of file, is a client still
			// connected: only the idle timeout (off here) or the client's
			// close ends that. It closes now; the next write fails.
			peer_.reset();
			for (int round = 0; round < 256 && !done; ++round) {
				pump();
				answer(0, in_flight_.size());
				flush();
				now_ += 100'000'000;
				idle_check();
				done = intake_->finished(now_);
			}
		}
		FUZZ_CHECK(done,
			   "the intake never finished after its client left (reading everything, or nothing "
			   "more when deaf) "
			   "(%zu in flight, %zu bytes queued, input over: %d)",
			   intake_->in_flight(), intake_->output().size(), intake_->input_over());
		client_read(SIZE_MAX);
		const bool rules_broken =
			raw_sent_ || deaf_ || intake_->session().closing() || reader_.errors > 0;
		if (!rules_broken) {
			FUZZ_CHECK(reader_.responses == intake_->handed_out(),
				   "the client got %llu responses for %llu requests taken",
				   static_cast<unsigned long long>(reader_.responses),
				   static_cast<unsigned long long>(intake_->handed_out()));
		}
		FUZZ_CHECK(reader_.responses <= intake_->handed_out(), "%llu responses for %llu requests",
			   static_cast<unsigned long long>(reader_.responses),
			   static_cast<unsigned long long>(intake_->handed_out()));
	}

private:
	void client_send(const uint8_t *p, size_t n, bool raw)
	{
		if (!peer_.valid() || peer_closed_ || n == 0)
			return;
		if (!said_anything_ && n >= 4) {
			uint32_t magic;
			std::memcpy(&magic, p, 4);
			framed_ = protocol_ == vsst::sim::Protocol::kFramed ||
				  (protocol_ == vsst::sim::Protocol::kAuto && magic == VSST_SIM_MAGIC);
		} else if (!said_anything_) {
			framed_ = protocol_ == vsst::sim::Protocol::kFramed;
		}
		said_anything_ = true;
		raw_sent_ |= raw;
		size_t done = 0;
		for (int tries = 0; done < n && tries < 8;) {
			const ssize_t k =
				::send(peer_.get(), p + done, n - done, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (k > 0) {
				done += static_cast<size_t>(k);
				sent_ += static_cast<uint64_t>(k);
				continue;
			}
			if (k < 0 && errno == EINTR)
				continue;
			pump(); // the bridge's next tick makes room, if it has any
			++tries;
		}
		// What did not fit is lost: later bytes would not line up with what the
		// intake saw, so the client stops talking rather than break framing.
		if (done < n) {
			::shutdown(peer_.get(), SHUT_WR);
			peer_closed_ = true;
			raw_sent_ = true; // a cut request is a broken rule
		}
	}

	void pump()
	{
		const uint64_t before = intake_->bytes_received();
		const size_t handed = intake_->pump(
			ours_.get(), now_, [this](uint64_t token, std::span<const uint8_t> req) {
				FUZZ_CHECK(req.size() >= SST_REQUEST_HEADER_SIZE &&
						   req.size() <= sizeof(SSTRequest),
					   "request of %zu bytes handed out", req.size());
				FUZZ_CHECK(in_flight_.size() < limits_.max_in_flight,
					   "a request handed out with %zu in flight (limit %zu)",
					   in_flight_.size(), limits_.max_in_flight);
				// acalsim has no immediate replies: nothing but answers is queued,
				// so a request is taken only below the high-water mark.
				if (intake_->session().protocol() == vsst::sim::Protocol::kAcalsim)
					FUZZ_CHECK(
						intake_->output().size() < limits_.output_high_water,
						"a request taken with %zu bytes of answers queued (high-water %zu)",
						intake_->output().size(), limits_.output_high_water);
				in_flight_.push_back(token);
			});
		const uint64_t got = intake_->bytes_received() - before;
		FUZZ_CHECK(got <= limits_.read_budget, "one pump read %llu bytes, budget %zu",
			   static_cast<unsigned long long>(got), limits_.read_budget);
		FUZZ_CHECK(handed <= limits_.max_in_flight, "one pump handed out %zu", handed);
		if (!started_ || got > 0)
			last_io_ = now_;
		started_ = true;
	}

	void answer(uint8_t pick, size_t n)
	{
		for (size_t i = 0; i < n && !in_flight_.empty(); ++i) {
			const size_t k = (pick + i) % in_flight_.size();
			const uint64_t token = in_flight_[k];
			in_flight_.erase(in_flight_.begin() + static_cast<long>(k));
			SSTResponse r{};
			r.status = SST_STATUS_OK;
			intake_->session().emit_response(
				intake_->output(), token, 1, now_,
				{reinterpret_cast<const uint8_t *>(&r), SST_RESPONSE_HEADER_SIZE});
			FUZZ_CHECK(intake_->retire(), "retire refused with a request in flight");
		}
	}

	void flush()
	{
		const size_t before = intake_->output().size();
		intake_->flush(ours_.get(), now_);
		if (intake_->output().size() < before)
			last_io_ = now_;
	}

	void client_read(size_t max)
	{
		if (!peer_.valid() || deaf_)
			return;
		uint8_t buf[16384];
		size_t got = 0;
		while (got < max) {
			const ssize_t k =
				::recv(peer_.get(), buf, std::min(sizeof buf, max - got), MSG_DONTWAIT);
			if (k > 0) {
				got += static_cast<size_t>(k);
				reader_.take(buf, static_cast<size_t>(k), framed_);
				continue;
			}
			if (k < 0 && errno == EINTR)
				continue;
			break;
		}
	}

	void idle_check()
	{
		const bool over = intake_->input_over();
		const bool expect = limits_.idle_timeout_ns > 0 && started_ && !over &&
				    intake_->in_flight() == 0 && now_ - last_io_ >= limits_.idle_timeout_ns;
		const bool fired = intake_->check_idle(now_);
		FUZZ_CHECK(fired == expect,
			   "idle timeout %s: %lld ms since the last byte moved, %zu in flight, limit %lld ms",
			   fired ? "fired early" : "missed",
			   static_cast<long long>((now_ - last_io_) / 1'000'000), intake_->in_flight(),
			   static_cast<long long>(limits_.idle_timeout_ns / 1'000'000));
		if (fired)
			FUZZ_CHECK(intake_->input_over() && !intake_->end_reason().empty(),
				   "idle without a reason");
	}

	void check()
	{
		FUZZ_CHECK(intake_->in_flight() == in_flight_.size(),
			   "intake counts %zu in flight, %zu handed out", intake_->in_flight(),
			   in_flight_.size());
		FUZZ_CHECK(intake_->in_flight() <= limits_.max_in_flight, "%zu in flight, limit %zu",
			   intake_->in_flight(), limits_.max_in_flight);
		FUZZ_CHECK(intake_->buffered_input() <= kChunk + kMaxFrame, "%zu bytes of input buffered",
			   intake_->buffered_input());
		// Answers to what is in flight cannot be refused; immediate replies
		// (HELLO, PONG, ERROR) come from at most one chunk of input per feed.
		const size_t bound = limits_.output_high_water + limits_.max_in_flight * kMaxAnswer +
				     4 * (kChunk + kMaxFrame) + events_bound_;
		FUZZ_CHECK(intake_->output().size() <= bound, "%zu bytes of output queued, bound %zu",
			   intake_->output().size(), bound);
	}

	vsst::sim::Protocol protocol_;
	vsst::sim::IntakeLimits limits_;
	std::unique_ptr<vsst::sim::ClientIntake> intake_;
	vsst::UniqueFd ours_, peer_;
	std::deque<uint64_t> in_flight_;
	Reader reader_;
	int64_t now_ = 1'000'000'000;
	int64_t last_io_ = 0;
	bool started_ = false;
	bool framed_ = false;
	bool said_anything_ = false;
	bool raw_sent_ = false;
	bool peer_closed_ = false;
	bool deaf_ = false; // the client never reads again
	uint64_t next_tag_ = 1;
	uint64_t sent_ = 0; // bytes the client wrote
	size_t events_bound_ = kMaxSteps * (sizeof(vsst_sim_frame_hdr) + sizeof(SSTEvent));
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ByteReader in(data, size);
	Harness h(in);
	for (int step = 0; step < kMaxSteps && !in.empty(); ++step)
		h.step(in);
	h.finish();
	return 0;
}
