// SPDX-License-Identifier: Apache-2.0
#include "vsst/protocol/frame_codec.h"

#include <cstring>

namespace vsst {

ParsedFrame parse_frame(std::span<const uint8_t> in)
{
	ParsedFrame r;
	auto bad = [&r](uint32_t code, std::string_view why) {
		r.status = ParsedFrame::Status::bad;
		r.error = code;
		r.why = why;
		return r;
	};
	// Judge the magic as soon as its bytes are there, so garbage is rejected
	// without waiting for a whole header that may never come.
	if (in.size() >= sizeof(uint32_t)) {
		uint32_t magic;
		std::memcpy(&magic, in.data(), sizeof(magic));
		if (magic != VSST_SIM_MAGIC)
			return bad(VSST_SIM_ERR_BAD_MAGIC, "bad frame magic");
	}
	if (in.size() < kFrameHeaderSize)
		return r;
	std::memcpy(&r.hdr, in.data(), kFrameHeaderSize);
	if (r.hdr.version != VSST_SIM_VERSION)
		return bad(VSST_SIM_ERR_BAD_VERSION, "unsupported frame version");
	if (r.hdr.length > VSST_SIM_MAX_PAYLOAD)
		return bad(VSST_SIM_ERR_BAD_LENGTH, "frame length above VSST_SIM_MAX_PAYLOAD");
	if (in.size() - kFrameHeaderSize < r.hdr.length)
		return r;
	r.status = ParsedFrame::Status::frame;
	r.payload = in.subspan(kFrameHeaderSize, r.hdr.length);
	r.consumed = kFrameHeaderSize + r.hdr.length;
	return r;
}

void encode_frame(ByteBuffer &out, uint16_t type, uint64_t tag,
		  std::initializer_list<std::span<const uint8_t>> parts)
{
	size_t len = 0;
	for (auto p : parts)
		len += p.size();
	vsst_sim_frame_hdr hdr{};
	hdr.magic = VSST_SIM_MAGIC;
	hdr.version = VSST_SIM_VERSION;
	hdr.type = type;
	hdr.length = static_cast<uint32_t>(len);
	hdr.flags = 0;
	hdr.tag = tag;
	out.append(&hdr, sizeof hdr);
	for (auto p : parts)
		if (!p.empty())
			out.append(p.data(), p.size());
}

void encode_error(ByteBuffer &out, uint64_t tag, uint32_t code, std::string_view message)
{
	vsst_sim_error err{};
	err.code = code;
	if (message.size() > VSST_SIM_MAX_PAYLOAD - sizeof err)
		message = message.substr(0, VSST_SIM_MAX_PAYLOAD - sizeof err);
	encode_frame(out, VSST_SIM_ERROR, tag, {as_bytes(err), as_bytes(message.data(), message.size())});
}

void encode_request_at(ByteBuffer &out, uint64_t tag, uint64_t submit_ps, std::span<const uint8_t> request)
{
	vsst_sim_submit sub{};
	sub.submit_ps = submit_ps;
	encode_frame(out, VSST_SIM_REQUEST_AT, tag, {as_bytes(sub), request});
}

std::optional<TimedRequest> parse_request_at(std::span<const uint8_t> payload)
{
	if (payload.size() < sizeof(vsst_sim_submit))
		return std::nullopt;
	TimedRequest r;
	vsst_sim_submit sub;
	std::memcpy(&sub, payload.data(), sizeof sub);
	r.submit_ps = sub.submit_ps;
	r.request = payload.subspan(sizeof sub);
	return r;
}

std::string_view frame_type_name(uint16_t type)
{
	switch (type) {
	case VSST_SIM_HELLO:
		return "HELLO";
	case VSST_SIM_REQUEST:
		return "REQUEST";
	case VSST_SIM_RESPONSE:
		return "RESPONSE";
	case VSST_SIM_EVENT:
		return "EVENT";
	case VSST_SIM_ERROR:
		return "ERROR";
	case VSST_SIM_PING:
		return "PING";
	case VSST_SIM_PONG:
		return "PONG";
	case VSST_SIM_REQUEST_AT:
		return "REQUEST_AT";
	default:
		return "UNKNOWN";
	}
}

} // namespace vsst
