// SPDX-License-Identifier: Apache-2.0
#include "frame_codec.h"

#include <cstring>

namespace vsst::wire {

Parse parse(const uint8_t *data, size_t size, Frame &out)
{
	if (size < sizeof(vsst_sim_frame_hdr))
		return Parse::need_more;
	vsst_sim_frame_hdr h;
	std::memcpy(&h, data, sizeof(h));
	// Reject a bad header as soon as it is complete: waiting for a bogus
	// length's worth of payload would stall the link instead of failing it.
	if (h.magic != VSST_SIM_MAGIC)
		return Parse::bad_magic;
	if (h.version != VSST_SIM_VERSION)
		return Parse::bad_version;
	if (h.length > VSST_SIM_MAX_PAYLOAD)
		return Parse::oversize;
	if (size < sizeof(h) + h.length)
		return Parse::need_more;
	out.type = h.type;
	out.tag = h.tag;
	out.length = h.length;
	out.payload = data + sizeof(h);
	out.total = sizeof(h) + h.length;
	return Parse::frame;
}

const char *parse_error_name(Parse p)
{
	switch (p) {
	case Parse::bad_magic:
		return "bad magic";
	case Parse::bad_version:
		return "bad version";
	case Parse::oversize:
		return "payload length over VSST_SIM_MAX_PAYLOAD";
	default:
		return "no error";
	}
}

void append2(ByteBuffer &out, uint16_t type, uint64_t tag, const void *a, uint32_t alen, const void *b,
	     uint32_t blen)
{
	vsst_sim_frame_hdr h{};
	h.magic = VSST_SIM_MAGIC;
	h.version = VSST_SIM_VERSION;
	h.type = type;
	h.length = alen + blen;
	h.flags = 0;
	h.tag = tag;
	out.append(&h, sizeof(h));
	if (alen)
		out.append(a, alen);
	if (blen)
		out.append(b, blen);
}

void append(ByteBuffer &out, uint16_t type, uint64_t tag, const void *payload, uint32_t length)
{
	append2(out, type, tag, payload, length, nullptr, 0);
}

} // namespace vsst::wire
