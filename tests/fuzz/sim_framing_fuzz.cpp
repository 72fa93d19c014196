// SPDX-License-Identifier: Apache-2.0
// Fuzz target sim_framing: the simulator socket protocols, both ends.
//
// Server modes (sst-element/session ServerSession + the DeviceModel it feeds, as
// sst-sim runs them): a client's byte stream, framed, acalsim, or detected
// (auto). Invariants: requests handed out are 24..4104 bytes (framed) or
// exactly 4104 (acalsim), at most max_requests per feed; once closing, nothing
// more is read; the output is a well-formed stream (whole frames of the
// server's types with sane payload sizes, or whole 4112-byte responses) and
// carries exactly one response per request handed out, with the request's
// tag and a known status.
//
// Client modes (the device core's FramedProtocol / AcalsimProtocol, driven
// the way SimLink drives them: link up, sends, input, timers, cancel,
// faults, reconnects): invariants: every forwarded request is completed
// exactly once (response, ERROR, TIMEOUT or NO_DEVICE when the link goes),
// except those cancelled, which are completed at most once; no completion
// for an unknown cookie or for the core's internal probes; statuses are
// known; what the client writes is well formed (HELLO first, REQUEST frames
// of 24..4104 bytes with fresh tags, PONGs), and acalsim never has more
// than one request on the wire.
//
// Loop modes wire the two together (client -> ServerSession -> DeviceModel
// -> client), optionally corrupting, truncating or splitting the bytes in
// between: on top of the invariants above, every answer the client reports
// (other than NO_DEVICE / TIMEOUT) carries the request_id of the request it
// completes, as long as no byte was corrupted: tags, FIFO order and late
// replies are paired correctly by both ends.
#include <chrono>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

// device core internals (device/src)
#include "acalsim_protocol.h"
#include "framed_protocol.h"
#include "pending.h"
#include "sim_protocol.h"

#include "fuzz_formats.h"
#include "fuzz_support.h"
#include "vsst/protocol/byte_buffer.h"
#include "vsst/protocol/frame_codec.h"
#include "vsst/protocol/wire_size.h"
#include "vsst/sim-wire.h"
#include "vsst/sim/device_model.h"
#include "vsst/sim/server_session.h"
#include "vsst/sst-protocol.h"

namespace {

using vsst::fuzz::ByteReader;
namespace fmt = vsst::fuzz::sim_framing;

constexpr int kMaxSteps = 128;
constexpr size_t kMetaSize = sizeof(vsst_sim_resp_meta);

// Appends a frame header + zero-filled payload of `len` bytes taken from `in`.
template <typename Buffer>
void append_frame(Buffer &buf, uint16_t type, uint64_t tag, size_t len, ByteReader &in)
{
	vsst_sim_frame_hdr h{};
	h.magic = VSST_SIM_MAGIC;
	h.version = VSST_SIM_VERSION;
	h.type = type;
	h.length = static_cast<uint32_t>(len);
	h.tag = tag;
	std::vector<uint8_t> payload(len);
	in.fill(payload.data(), len);
	buf.append(&h, sizeof h);
	buf.append(payload.data(), payload.size());
}

// ---------------------------------------------------------------- server side

class ServerHarness {
public:
	explicit ServerHarness(vsst::sim::Protocol p) : session_(p, 1'000'000'000) {}

	void step(ByteReader &in)
	{
		switch (in.u8() % fmt::kSrvCount) {
		case fmt::kSrvFeed: {
			auto b = in.bytes(in.u16() % 9000);
			in_.append(b.data(), b.size());
			feed(in.u8());
			break;
		}
		case fmt::kSrvFrame: {
			const uint16_t type = in.u16() % 10;
			const uint64_t tag = in.u64();
			const size_t len = in.u16() % (VSST_SIM_MAX_PAYLOAD + 64);
			append_frame(in_, type, tag, len, in);
			feed(in.u8());
			break;
		}
		case fmt::kSrvDrainModel:
			drain();
			break;
		}
		check_output();
	}

	// Loop mode: bytes from the client, and running the model.
	void deliver(const uint8_t *p, size_t n)
	{
		in_.append(p, n);
		feed(0);
		check_output();
	}
	void run_model()
	{
		drain();
		check_output();
	}
	// When set, everything the server writes is copied here after checking.
	vsst::ByteBuffer *tap = nullptr;

	void finish()
	{
		feed(0);
		drain();
		check_output();
		FUZZ_CHECK(responses_ == requests_, "%llu requests handed out, %llu responses on the wire",
			   static_cast<unsigned long long>(requests_),
			   static_cast<unsigned long long>(responses_));
		FUZZ_CHECK(open_tags_.empty(), "%zu requests without a response", open_tags_.size());
	}

private:
	void feed(uint8_t max)
	{
		const bool was_closing = session_.closing();
		const size_t limit = max ? max : std::numeric_limits<size_t>::max();
		size_t seen = 0;
		const size_t n = session_.feed(
			in_, out_,
			[&](uint64_t token, std::span<const uint8_t> req) {
				++seen;
				on_request(token, req);
			},
			limit);
		FUZZ_CHECK(n == seen && n <= limit, "feed returned %zu, handed out %zu, limit %zu", n, seen,
			   limit);
		if (was_closing)
			FUZZ_CHECK(n == 0 && in_.empty(), "a closing session kept reading");
		if (session_.closing())
			FUZZ_CHECK(!session_.close_reason().empty(), "closing without a reason");
	}

	void on_request(uint64_t token, std::span<const uint8_t> req)
	{
		const bool acalsim = session_.protocol() == vsst::sim::Protocol::kAcalsim;
		FUZZ_CHECK(
			acalsim ? req.size() == vsst::kAcalsimRequestSize
				: req.size() >= SST_REQUEST_HEADER_SIZE && req.size() <= sizeof(SSTRequest),
			"request of %zu bytes handed out (%s)", req.size(), acalsim ? "acalsim" : "framed");
		++requests_;
		open_tags_.insert(token);
		model_.submit(token, req, session_.events_enabled());
	}

	void drain()
	{
		while (auto o = model_.pop()) {
			if (o->kind == vsst::sim::SimOutput::Kind::kEvent) {
				FUZZ_CHECK(o->bytes.size() == sizeof(SSTEvent), "model event of %zu bytes",
					   o->bytes.size());
				session_.emit_event(out_, o->bytes);
				continue;
			}
			FUZZ_CHECK(o->bytes.size() >= SST_RESPONSE_HEADER_SIZE &&
					   o->bytes.size() <= sizeof(SSTResponse),
				   "model response of %zu bytes", o->bytes.size());
			session_.emit_response(out_, o->token, o->cycles, o->complete_ps, o->bytes);
		}
	}

	void response(uint64_t tag, const uint8_t *p, size_t n)
	{
		SSTResponse r{};
		std::memcpy(&r, p, std::min(n, sizeof r));
		FUZZ_CHECK(r.status <= SST_STATUS_NO_DEVICE, "response status %u", r.status);
		auto it = open_tags_.find(tag);
		FUZZ_CHECK(it != open_tags_.end(), "response for tag %llu, which has no request open",
			   static_cast<unsigned long long>(tag));
		open_tags_.erase(it);
		++responses_;
	}

	// Consumes everything the server wrote; it must be whole, well-formed units.
	void check_output()
	{
		if (session_.protocol() == vsst::sim::Protocol::kAcalsim) {
			FUZZ_CHECK(out_.size() % vsst::kAcalsimResponseSize == 0,
				   "acalsim output of %zu bytes", out_.size());
			while (!out_.empty()) {
				response(acalsim_out_++, out_.data(), vsst::kAcalsimResponseSize);
				if (tap)
					tap->append(out_.data(), vsst::kAcalsimResponseSize);
				out_.consume(vsst::kAcalsimResponseSize);
			}
			return;
		}
		while (!out_.empty()) {
			const auto f = vsst::parse_frame(out_.view());
			FUZZ_CHECK(f.status == vsst::ParsedFrame::Status::frame,
				   "server wrote a broken or partial frame (%zu bytes left)", out_.size());
			const size_t len = f.payload.size();
			switch (f.hdr.type) {
			case VSST_SIM_HELLO:
				FUZZ_CHECK(len == sizeof(vsst_sim_hello), "HELLO answer of %zu bytes", len);
				break;
			case VSST_SIM_RESPONSE:
				FUZZ_CHECK(len >= kMetaSize + SST_RESPONSE_HEADER_SIZE &&
						   len <= kMetaSize + sizeof(SSTResponse),
					   "RESPONSE payload of %zu bytes", len);
				response(f.hdr.tag, f.payload.data() + kMetaSize, len - kMetaSize);
				break;
			case VSST_SIM_EVENT:
				FUZZ_CHECK(len == sizeof(SSTEvent) && session_.events_enabled(),
					   "EVENT of %zu bytes", len);
				break;
			case VSST_SIM_ERROR:
				FUZZ_CHECK(len >= sizeof(vsst_sim_error), "ERROR payload of %zu bytes", len);
				break;
			case VSST_SIM_PONG:
				FUZZ_CHECK(len == 0, "PONG with payload");
				break;
			default:
				FUZZ_CHECK(false, "server wrote frame type %u", f.hdr.type);
			}
			FUZZ_CHECK(f.hdr.flags == 0, "server frame flags %#x", f.hdr.flags);
			if (tap)
				tap->append(out_.data(), f.consumed);
			out_.consume(f.consumed);
		}
	}

	vsst::sim::ServerSession session_;
	vsst::sim::DeviceModel model_;
	vsst::ByteBuffer in_, out_;
	uint64_t requests_ = 0, responses_ = 0, acalsim_out_ = 0;
	std::multiset<uint64_t> open_tags_;
};

// ---------------------------------------------------------------- client side

// Plays SimLink around a protocol, deterministically (no socket, no thread).
class ClientHarness final : private vsst::LinkOps, private vsst::CompletionSink {
public:
	explicit ClientHarness(bool acalsim) : acalsim_(acalsim)
	{
		if (acalsim)
			proto_ = std::make_unique<vsst::AcalsimProtocol>();
		else
			proto_ = std::make_unique<vsst::FramedProtocol>();
		connect();
	}

	void step(ByteReader &in)
	{
		switch (in.u8() % fmt::kCliCount) {
		case fmt::kCliSend:
			send(in);
			break;
		case fmt::kCliFeed: {
			auto b = in.bytes(in.u16() % 9000);
			input(b.data(), b.size());
			break;
		}
		case fmt::kCliFrame: {
			const uint16_t type = in.u16() % 9;
			const uint64_t pick = in.u8() % 16;
			const uint64_t tag = pick ^ in.u64();
			const size_t len = in.u16() % (VSST_SIM_MAX_PAYLOAD + 64);
			vsst::ByteBuffer b;
			append_frame(b, type, tag, len, in);
			input(b.data(), b.size());
			break;
		}
		case fmt::kCliResponse:
			response(in);
			break;
		case fmt::kCliExpire:
			expire_after(in.u32() % 3000);
			break;
		case fmt::kCliCancel:
			cancel_all();
			break;
		case fmt::kCliReconnect:
			reconnect();
			break;
		}
		check_output();
	}

	// Loop mode.
	void send_from(ByteReader &in)
	{
		send(in);
		check_output();
	}
	void deliver(const uint8_t *p, size_t n)
	{
		input(p, n);
		check_output();
	}
	void expire_after(uint32_t ms)
	{
		now_ += std::chrono::milliseconds(ms);
		if (state_ == State::ready) {
			std::string fault;
			if (!proto_->expire(*this, now_, fault))
				drop(fault);
		} else if (state_ == State::handshake) {
			expire_waiting();
		}
		check_output();
	}
	void cancel_all()
	{
		++epoch_;
		std::erase_if(waiting_,
			      [this](const vsst::ForwardRequest &r) { return r.info.epoch < epoch_; });
		proto_->cancel(*this, epoch_);
		for (auto &[cookie, c] : cookies_)
			c.cancelled |= c.epoch < epoch_;
		check_output();
	}
	void reconnect()
	{
		if (state_ != State::down)
			drop("reconnect");
		connect();
		check_output();
	}
	void flush() { check_output(); }
	// When set, everything the client writes is copied here after checking.
	vsst::ByteBuffer *tap = nullptr;
	// Answers other than NO_DEVICE/TIMEOUT must carry their request's id.
	bool strict_ids = false;

	void finish()
	{
		if (state_ != State::down)
			drop("end of input");
		check_output();
		for (const auto &[cookie, c] : cookies_) {
			FUZZ_CHECK(c.done == 1 || (c.cancelled && c.done == 0),
				   "cookie %llu (type %u%s) completed %d times after the link went down",
				   static_cast<unsigned long long>(cookie), c.type,
				   c.cancelled ? ", cancelled" : "", c.done);
		}
		FUZZ_CHECK(proto_->inflight() == 0, "protocol still holds %zu requests after link_down",
			   proto_->inflight());
	}

private:
	enum class State { down, handshake, ready };
	struct Cookie {
		uint64_t epoch = 0;
		uint32_t type = 0;
		bool cancelled = false;
		int done = 0;
	};

	// ---- LinkOps
	vsst::ByteBuffer &out() override { return out_; }
	vsst::CompletionSink &sink() override { return *this; }
	void handshake_done() override
	{
		FUZZ_CHECK(state_ == State::handshake, "handshake_done outside a handshake");
		state_ = State::ready;
		std::deque<vsst::ForwardRequest> held;
		held.swap(waiting_);
		for (auto &r : held)
			proto_->send(*this, std::move(r));
	}
	void peer_healthy() override {}
	void set_capacities(uint64_t, uint64_t) override {}
	void note_protocol_error() override {}
	const vsst::Logger &log() const override { return log_; }
	vsst::Clock::duration request_timeout() const override { return std::chrono::seconds(1); }
	uint32_t device_id() const override { return 3; }

	// ---- CompletionSink
	void complete(const vsst::PendingInfo &info, SSTResponse &resp) override
	{
		FUZZ_CHECK(!info.internal, "an internal probe reached the sink");
		auto it = cookies_.find(info.cookie);
		FUZZ_CHECK(it != cookies_.end(), "completion for unknown cookie %llu",
			   static_cast<unsigned long long>(info.cookie));
		FUZZ_CHECK(it->second.done == 0, "cookie %llu completed twice (status %u)",
			   static_cast<unsigned long long>(info.cookie), resp.status);
		FUZZ_CHECK(resp.status <= SST_STATUS_NO_DEVICE, "completion status %u", resp.status);
		if (strict_ids && resp.status != SST_STATUS_NO_DEVICE && resp.status != SST_STATUS_TIMEOUT)
			FUZZ_CHECK(
				resp.request_id == info.request_id,
				"cookie %llu (type %u) answered with request_id %#llx, sent %#llx: replies paired wrongly",
				static_cast<unsigned long long>(info.cookie), info.type,
				static_cast<unsigned long long>(resp.request_id),
				static_cast<unsigned long long>(info.request_id));
		++it->second.done;
	}
	void event(const SSTEvent &) override {}

	void connect()
	{
		out_.clear();
		in_.clear();
		sent_tags_.clear();
		wire_requests_ = 0;
		wire_answers_ = 0;
		hello_seen_ = false;
		state_ = State::handshake;
		proto_->link_up(*this);
	}

	void drop(const std::string &)
	{
		state_ = State::down;
		proto_->link_down(*this);
		std::deque<vsst::ForwardRequest> held;
		held.swap(waiting_);
		for (auto &r : held)
			vsst::complete_with_status(*this, r.info, SST_STATUS_NO_DEVICE);
		in_.clear();
	}

	void expire_waiting()
	{
		while (!waiting_.empty() && waiting_.front().info.deadline <= now_) {
			vsst::complete_with_status(*this, waiting_.front().info, SST_STATUS_TIMEOUT);
			waiting_.pop_front();
		}
	}

	void send(ByteReader &in)
	{
		const uint32_t type = in.u8() % SST_REQ_MAX;
		const size_t len = SST_REQUEST_HEADER_SIZE +
				   in.u16() % (sizeof(SSTRequest) - SST_REQUEST_HEADER_SIZE + 1);
		vsst::ForwardRequest r;
		r.body = std::make_unique<SSTRequest>();
		in.fill(r.body.get(), len);
		std::memset(reinterpret_cast<uint8_t *>(r.body.get()) + len, 0, sizeof(SSTRequest) - len);
		r.body->type = type;
		r.wire_len = static_cast<uint32_t>(len);
		r.info.cookie = next_cookie_++;
		r.info.epoch = epoch_;
		r.info.request_id = r.body->request_id;
		r.info.user_data = r.body->user_data;
		r.info.type = type;
		r.info.param = r.body->payload.config.param;
		r.info.deadline = now_ + request_timeout();
		cookies_[r.info.cookie] = Cookie{epoch_, type, false, 0};
		switch (state_) {
		case State::down:
			vsst::complete_with_status(*this, r.info, SST_STATUS_NO_DEVICE);
			break;
		case State::handshake:
			waiting_.push_back(std::move(r));
			break;
		case State::ready:
			proto_->send(*this, std::move(r));
			break;
		}
	}

	// A well-formed answer to one of the requests on the wire (or a stale tag).
	void response(ByteReader &in)
	{
		const uint8_t pick = in.u8();
		const uint32_t status = in.u32() % 8;
		const size_t len = SST_RESPONSE_HEADER_SIZE +
				   in.u16() % (sizeof(SSTResponse) - SST_RESPONSE_HEADER_SIZE + 1);
		SSTResponse resp{};
		resp.status = status;
		if (acalsim_) {
			input(&resp, sizeof resp);
			return;
		}
		const uint64_t tag =
			sent_tags_.empty() ? pick : *std::next(sent_tags_.begin(), pick % sent_tags_.size());
		vsst_sim_frame_hdr h{};
		h.magic = VSST_SIM_MAGIC;
		h.version = VSST_SIM_VERSION;
		h.type = VSST_SIM_RESPONSE;
		h.length = static_cast<uint32_t>(kMetaSize + len);
		h.tag = tag;
		vsst_sim_resp_meta meta{};
		meta.cycles = pick;
		vsst::ByteBuffer b;
		b.append(&h, sizeof h);
		b.append(&meta, sizeof meta);
		b.append(&resp, len);
		input(b.data(), b.size());
	}

	void input(const void *p, size_t n)
	{
		if (state_ == State::down || n == 0)
			return; // nobody is connected: the bytes go nowhere
		in_.append(p, n);
		if (acalsim_)
			wire_answers_ += (in_.size()) / sizeof(SSTResponse);
		std::string fault;
		const bool ok = proto_->on_input(*this, in_, fault);
		if (!ok) {
			FUZZ_CHECK(!fault.empty(), "protocol fault without a reason");
			drop(fault);
			return;
		}
		FUZZ_CHECK(in_.size() < (acalsim_ ? sizeof(SSTResponse)
						  : sizeof(vsst_sim_frame_hdr) + VSST_SIM_MAX_PAYLOAD),
			   "on_input left %zu bytes unconsumed", in_.size());
	}

	// What the client wrote must be well formed.
	void check_output()
	{
		if (acalsim_) {
			FUZZ_CHECK(out_.size() % sizeof(SSTRequest) == 0, "acalsim client wrote %zu bytes",
				   out_.size());
			wire_requests_ += out_.size() / sizeof(SSTRequest);
			if (tap)
				tap->append(out_.data(), out_.size());
			out_.clear();
			FUZZ_CHECK(
				wire_requests_ <= wire_answers_ + 1,
				"acalsim: %llu requests written with %llu answers read: more than one on the wire",
				static_cast<unsigned long long>(wire_requests_),
				static_cast<unsigned long long>(wire_answers_));
			return;
		}
		while (!out_.empty()) {
			const vsst::ParsedFrame f = vsst::parse_frame(out_.view());
			FUZZ_CHECK(f.status == vsst::ParsedFrame::Status::frame,
				   "client wrote a broken or partial frame (%s)",
				   f.status == vsst::ParsedFrame::Status::bad ? std::string(f.why).c_str()
									      : "partial");
			// Copies: the header is packed, its fields cannot be bound to references.
			const uint16_t type = f.hdr.type;
			const uint64_t tag = f.hdr.tag;
			const size_t len = f.payload.size();
			FUZZ_CHECK(hello_seen_ || type == VSST_SIM_HELLO, "client's first frame is type %u",
				   type);
			switch (type) {
			case VSST_SIM_HELLO:
				FUZZ_CHECK(!hello_seen_ && len == sizeof(vsst_sim_hello),
					   "client HELLO twice or malformed");
				hello_seen_ = true;
				break;
			case VSST_SIM_REQUEST:
				FUZZ_CHECK(len >= vsst::kMinRequestPayload && len <= vsst::kMaxRequestPayload,
					   "REQUEST payload of %zu bytes", len);
				FUZZ_CHECK(sent_tags_.insert(tag).second, "tag %llu reused on one connection",
					   static_cast<unsigned long long>(tag));
				break;
			case VSST_SIM_PONG:
				FUZZ_CHECK(len == 0, "PONG with payload");
				break;
			default:
				FUZZ_CHECK(false, "client wrote frame type %u", type);
			}
			if (tap)
				tap->append(out_.data(), f.consumed);
			out_.consume(f.consumed);
		}
	}

	bool acalsim_;
	std::unique_ptr<vsst::SimProtocol> proto_;
	vsst::Logger log_;
	State state_ = State::down;
	vsst::ByteBuffer in_, out_;
	std::deque<vsst::ForwardRequest> waiting_;
	std::map<uint64_t, Cookie> cookies_;
	std::set<uint64_t> sent_tags_;
	uint64_t next_cookie_ = 1, epoch_ = 1;
	uint64_t wire_requests_ = 0, wire_answers_ = 0;
	bool hello_seen_ = false;
	vsst::Clock::time_point now_ = vsst::Clock::now();
};

// ------------------------------------------------------------------ the loop

class LoopHarness {
public:
	explicit LoopHarness(bool acalsim) : acalsim_(acalsim), client_(acalsim)
	{
		client_.tap = &to_server_;
		client_.strict_ids = true;
		client_.flush();
		new_server();
	}

	void step(ByteReader &in)
	{
		switch (in.u8() % fmt::kLoopCount) {
		case fmt::kLoopSend:
			client_.send_from(in);
			break;
		case fmt::kLoopToServer: {
			const uint8_t how = in.u8();
			const uint16_t where = in.u16();
			client_.flush();
			std::vector<uint8_t> b(to_server_.data(), to_server_.data() + to_server_.size());
			to_server_.clear();
			carry(b, how, where, [this](const uint8_t *p, size_t n) { server_->deliver(p, n); });
			break;
		}
		case fmt::kLoopToClient: {
			const uint8_t how = in.u8();
			const uint16_t where = in.u16();
			server_->run_model();
			std::vector<uint8_t> b(to_client_.data(), to_client_.data() + to_client_.size());
			to_client_.clear();
			carry(b, how, where, [this](const uint8_t *p, size_t n) { client_.deliver(p, n); });
			break;
		}
		case fmt::kLoopExpire:
			client_.expire_after(in.u32() % 3000);
			break;
		case fmt::kLoopCancel:
			client_.cancel_all();
			break;
		case fmt::kLoopReconnect:
			server_->finish();
			to_server_.clear();
			to_client_.clear();
			client_.reconnect();
			new_server();
			break;
		}
	}

	void finish()
	{
		client_.finish();
		server_->finish();
	}

private:
	void new_server()
	{
		server_ = std::make_unique<ServerHarness>(acalsim_ ? vsst::sim::Protocol::kAcalsim
								   : vsst::sim::Protocol::kAuto);
		server_->tap = &to_client_;
	}

	// Moves bytes across: as they are, with one byte flipped, without their
	// tail, or in two pieces. Corruption ends the request_id pairing check.
	template <typename Fn> void carry(std::vector<uint8_t> &b, uint8_t how, uint16_t where, Fn &&put)
	{
		if (b.empty())
			return;
		const size_t at = where % b.size();
		switch (how % 4) {
		case 1:
			b[at] ^= static_cast<uint8_t>(how | 1);
			client_.strict_ids = false;
			break;
		case 2:
			b.resize(at);
			client_.strict_ids = false;
			break;
		case 3:
			put(b.data(), at);
			put(b.data() + at, b.size() - at);
			return;
		}
		put(b.data(), b.size());
	}

	bool acalsim_;
	ClientHarness client_;
	std::unique_ptr<ServerHarness> server_;
	vsst::ByteBuffer to_server_;
	vsst::ByteBuffer to_client_;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ByteReader in(data, size);
	const uint8_t mode = in.u8() % fmt::kModeCount;
	if (mode <= fmt::kServerAcalsim) {
		const vsst::sim::Protocol p = mode == fmt::kServerAuto     ? vsst::sim::Protocol::kAuto
					      : mode == fmt::kServerFramed ? vsst::sim::Protocol::kFramed
									   : vsst::sim::Protocol::kAcalsim;
		ServerHarness s(p);
		for (int i = 0; i < kMaxSteps && !in.empty(); ++i)
			s.step(in);
		s.finish();
	} else if (mode <= fmt::kClientAcalsim) {
		ClientHarness c(mode == fmt::kClientAcalsim);
		for (int i = 0; i < kMaxSteps && !in.empty(); ++i)
			c.step(in);
		c.finish();
	} else {
		LoopHarness l(mode == fmt::kLoopAcalsim);
		for (int i = 0; i < kMaxSteps && !in.empty(); ++i)
			l.step(in);
		l.finish();
	}
	return 0;
}
