// SPDX-License-Identifier: Apache-2.0
#include "vsst/sim/server_session.h"

#include <algorithm>
#include <cstring>

namespace vsst::sim {

std::optional<Protocol> protocol_by_name(std::string_view name)
{
	if (name == "auto")
		return Protocol::kAuto;
	if (name == "framed")
		return Protocol::kFramed;
	if (name == "acalsim")
		return Protocol::kAcalsim;
	return std::nullopt;
}

std::string_view protocol_name(Protocol p)
{
	switch (p) {
	case Protocol::kAuto:
		return "auto";
	case Protocol::kFramed:
		return "framed";
	case Protocol::kAcalsim:
		return "acalsim";
	}
	return "?";
}

void ServerSession::error(ByteBuffer &out, uint64_t tag, uint32_t code, std::string_view why, bool fatal)
{
	encode_error(out, tag, code, why);
	++counters_.errors_sent;
	if (!fatal && ++recoverable_errors_ > kMaxRecoverableErrors) {
		fatal = true;
		why = "too many malformed frames";
	}
	if (fatal && !closing_) {
		closing_ = true;
		close_reason_ = std::string(why);
	}
}

size_t ServerSession::feed(ByteBuffer &in, ByteBuffer &out, const RequestFn &on_request, size_t max_requests)
{
	if (closing_) {
		in.clear(); // nothing more is read from a peer we are about to drop
		return 0;
	}
	if (protocol_ == Protocol::kAuto) {
		if (in.size() < 4)
			return 0;
		uint32_t magic;
		std::memcpy(&magic, in.data(), 4);
		protocol_ = magic == VSST_SIM_MAGIC ? Protocol::kFramed : Protocol::kAcalsim;
	}
	return protocol_ == Protocol::kFramed ? feed_framed(in, out, on_request, max_requests)
					      : feed_acalsim(in, on_request, max_requests);
}

size_t ServerSession::feed_acalsim(ByteBuffer &in, const RequestFn &on_request, size_t max_requests)
{
	size_t n = 0;
	while (n < max_requests && in.size() >= kAcalsimRequestSize) {
		++counters_.frames_in;
		++counters_.requests;
		on_request(acalsim_next_token_++, {in.data(), kAcalsimRequestSize});
		in.consume(kAcalsimRequestSize);
		++n;
	}
	return n;
}

size_t ServerSession::feed_framed(ByteBuffer &in, ByteBuffer &out, const RequestFn &on_request,
				  size_t max_requests)
{
	size_t n = 0;
	while (n < max_requests && !closing_) {
		const ParsedFrame f = parse_frame(in.view());
		if (f.status == ParsedFrame::Status::need_more)
			break;
		if (f.status == ParsedFrame::Status::bad) {
			// The frame boundary is lost: report and hang up.
			error(out, 0, f.error, f.why, true);
			in.clear();
			break;
		}
		++counters_.frames_in;
		const uint64_t tag = f.hdr.tag;
		switch (f.hdr.type) {
		case VSST_SIM_HELLO: {
			if (f.payload.size() < sizeof(vsst_sim_hello)) {
				error(out, tag, VSST_SIM_ERR_BAD_LENGTH,
				      "HELLO payload shorter than vsst_sim_hello", false);
				break;
			}
			vsst_sim_hello hello;
			std::memcpy(&hello, f.payload.data(), sizeof hello);
			hello_done_ = true;
			device_id_ = hello.device_id;
			events_ = (hello.features & VSST_SIM_FEATURE_EVENTS) != 0;
			timed_ = timing_supported_ && (hello.features & VSST_SIM_FEATURE_TIMED) != 0;
			vsst_sim_hello reply{};
			reply.device_id = hello.device_id;
			reply.features = (events_ ? VSST_SIM_FEATURE_EVENTS : 0u) |
					 (timed_ ? VSST_SIM_FEATURE_TIMED : 0u);
			reply.clock_hz = clock_hz_;
			vsst_sim_hello_timing timing{};
			timing.min_latency_ps = min_latency_ps_;
			if (timed_)
				encode_frame(out, VSST_SIM_HELLO, tag, {as_bytes(reply), as_bytes(timing)});
			else
				encode_frame(out, VSST_SIM_HELLO, tag, {as_bytes(reply)});
			break;
		}
		case VSST_SIM_REQUEST_AT: {
			if (!hello_done_) {
				error(out, tag, VSST_SIM_ERR_NO_HELLO, "REQUEST_AT before HELLO", true);
				break;
			}
			if (!timed_) {
				error(out, tag, VSST_SIM_ERR_BAD_TYPE,
				      "REQUEST_AT without the TIMED feature granted in HELLO", false);
				break;
			}
			const auto t = parse_request_at(f.payload);
			if (!t || t->request.size() < kMinRequestPayload ||
			    t->request.size() > kMaxRequestPayload) {
				error(out, tag, VSST_SIM_ERR_BAD_LENGTH,
				      "REQUEST_AT payload must be 8 + 24..4104 bytes", false);
				break;
			}
			++counters_.requests;
			submit_ps_ = t->submit_ps;
			on_request(tag, t->request);
			++n;
			break;
		}
		case VSST_SIM_REQUEST:
			if (!hello_done_) {
				error(out, tag, VSST_SIM_ERR_NO_HELLO, "REQUEST before HELLO", true);
				break;
			}
			if (f.payload.size() < kMinRequestPayload || f.payload.size() > kMaxRequestPayload) {
				error(out, tag, VSST_SIM_ERR_BAD_LENGTH,
				      "REQUEST payload must be 24..4104 bytes", false);
				break;
			}
			++counters_.requests;
			on_request(tag, f.payload);
			++n;
			break;
		case VSST_SIM_PING:
			++counters_.pings;
			encode_frame(out, VSST_SIM_PONG, tag, {});
			break;
		case VSST_SIM_PONG:
			break; // an answer to nothing we sent; harmless
		default:
			error(out, tag, VSST_SIM_ERR_BAD_TYPE, "frame type not accepted from a client",
			      false);
			break;
		}
		in.consume(f.consumed);
	}
	if (closing_)
		in.clear();
	return n;
}

void ServerSession::emit_response(ByteBuffer &out, uint64_t token, uint64_t cycles, uint64_t complete_ps,
				  std::span<const uint8_t> response)
{
	++counters_.responses;
	if (response.size() > kAcalsimResponseSize)
		response = response.first(kAcalsimResponseSize);
	if (protocol_ != Protocol::kAcalsim) {
		vsst_sim_resp_meta meta{};
		meta.cycles = cycles;
		meta.complete_ps = complete_ps;
		encode_frame(out, VSST_SIM_RESPONSE, token, {as_bytes(meta), response});
		return;
	}
	auto put = [&out](std::span<const uint8_t> r) {
		out.append(r.data(), r.size());
		out.append_zeros(kAcalsimResponseSize - r.size());
	};
	if (token != acalsim_next_out_) {
		acalsim_held_.emplace(token, std::vector<uint8_t>(response.begin(), response.end()));
		return;
	}
	put(response);
	++acalsim_next_out_;
	for (auto it = acalsim_held_.find(acalsim_next_out_); it != acalsim_held_.end();
	     it = acalsim_held_.find(acalsim_next_out_)) {
		put(it->second);
		acalsim_held_.erase(it);
		++acalsim_next_out_;
	}
}

void ServerSession::emit_event(ByteBuffer &out, std::span<const uint8_t> event)
{
	if (protocol_ != Protocol::kFramed || !events_)
		return;
	++counters_.events;
	encode_frame(out, VSST_SIM_EVENT, 0, {event});
}

std::optional<std::string> ServerSession::truncated_input(const ByteBuffer &in) const
{
	if (in.empty() || closing_)
		return std::nullopt;
	if (protocol_ == Protocol::kAcalsim) {
		return "peer closed after " + std::to_string(in.size()) + " of " +
		       std::to_string(kAcalsimRequestSize) + " request bytes";
	}
	return "peer closed inside a frame (" + std::to_string(in.size()) + " bytes pending)";
}

} // namespace vsst::sim
