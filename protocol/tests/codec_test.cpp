// SPDX-License-Identifier: Apache-2.0
// Frame parsing and encoding: whole frames, partial input, headers that must
// be rejected as soon as the bad part is there, and the byte buffer.
#include <gtest/gtest.h>

#include <cstring>
#include <string_view>
#include <vector>

#include "vsst/protocol/frame_codec.h"

namespace vsst {
namespace {

using Status = ParsedFrame::Status;

std::vector<uint8_t> frame(uint16_t type, uint64_t tag, uint32_t len, uint32_t magic = VSST_SIM_MAGIC,
			   uint16_t version = VSST_SIM_VERSION)
{
	std::vector<uint8_t> f(sizeof(vsst_sim_frame_hdr) + (len <= 65536 ? len : 0), 0x5a);
	vsst_sim_frame_hdr h{};
	h.magic = magic;
	h.version = version;
	h.type = type;
	h.length = len;
	h.tag = tag;
	std::memcpy(f.data(), &h, sizeof(h));
	return f;
}

std::span<const uint8_t> first(const std::vector<uint8_t> &v, size_t n)
{
	return {v.data(), n};
}

TEST(Codec, RoundTrip)
{
	ByteBuffer b;
	const char payload[] = "abcdef";
	encode_frame(b, VSST_SIM_REQUEST, 77, {as_bytes(payload, 6)});
	ASSERT_EQ(b.size(), 30u);
	const ParsedFrame f = parse_frame(b.view());
	ASSERT_EQ(f.status, Status::frame);
	EXPECT_EQ(f.hdr.magic, VSST_SIM_MAGIC);
	EXPECT_EQ(f.hdr.version, VSST_SIM_VERSION);
	EXPECT_EQ(f.hdr.type, VSST_SIM_REQUEST);
	EXPECT_EQ(f.hdr.flags, 0u);
	EXPECT_EQ(f.hdr.tag, 77u);
	EXPECT_EQ(f.payload.size(), 6u);
	EXPECT_EQ(f.consumed, 30u);
	EXPECT_EQ(0, std::memcmp(f.payload.data(), payload, 6));
}

TEST(Codec, RequestAtCarriesTheSubmitTime)
{
	ByteBuffer b;
	const uint8_t req[24] = {1, 2, 3};
	encode_request_at(b, 9, 123456789012ull, {req, sizeof req});
	const ParsedFrame f = parse_frame(b.view());
	ASSERT_EQ(f.status, Status::frame);
	EXPECT_EQ(f.hdr.type, VSST_SIM_REQUEST_AT);
	EXPECT_EQ(frame_type_name(f.hdr.type), "REQUEST_AT");
	const auto t = parse_request_at(f.payload);
	ASSERT_TRUE(t.has_value());
	EXPECT_EQ(t->submit_ps, 123456789012ull);
	ASSERT_EQ(t->request.size(), sizeof req);
	EXPECT_EQ(std::memcmp(t->request.data(), req, sizeof req), 0);
	// Too short for the submit time: refused, not read past the end.
	EXPECT_FALSE(parse_request_at(f.payload.first(7)).has_value());
}

TEST(Codec, PartsAreConcatenated)
{
	ByteBuffer b;
	const vsst_sim_resp_meta meta{11, 22};
	const char tail[] = "xyz";
	encode_frame(b, VSST_SIM_RESPONSE, 3, {as_bytes(meta), as_bytes(tail, 3), {}});
	const ParsedFrame f = parse_frame(b.view());
	ASSERT_EQ(f.status, Status::frame);
	ASSERT_EQ(f.payload.size(), sizeof(meta) + 3);
	EXPECT_EQ(0, std::memcmp(f.payload.data(), &meta, sizeof(meta)));
	EXPECT_EQ(0, std::memcmp(f.payload.data() + sizeof(meta), tail, 3));
}

TEST(Codec, PartialInputNeedsMore)
{
	auto f = frame(VSST_SIM_RESPONSE, 1, 100);
	for (size_t n = 0; n < f.size(); n++)
		ASSERT_EQ(parse_frame(first(f, n)).status, Status::need_more) << n;
	EXPECT_EQ(parse_frame(first(f, f.size())).status, Status::frame);

	ByteBuffer ping;
	encode_frame(ping, VSST_SIM_PING, 5, {});
	const ParsedFrame p = parse_frame(ping.view());
	ASSERT_EQ(p.status, Status::frame);
	EXPECT_EQ(p.hdr.tag, 5u);
	EXPECT_EQ(p.consumed, kFrameHeaderSize);
}

TEST(Codec, BadHeadersAreRejectedWithoutWaitingForPayload)
{
	auto v = frame(VSST_SIM_RESPONSE, 1, 100, VSST_SIM_MAGIC, 2);
	ParsedFrame p = parse_frame(first(v, kFrameHeaderSize));
	EXPECT_EQ(p.status, Status::bad);
	EXPECT_EQ(p.error, uint32_t{VSST_SIM_ERR_BAD_VERSION});
	auto o = frame(VSST_SIM_RESPONSE, 1, VSST_SIM_MAX_PAYLOAD + 1);
	p = parse_frame(first(o, kFrameHeaderSize));
	EXPECT_EQ(p.status, Status::bad);
	EXPECT_EQ(p.error, uint32_t{VSST_SIM_ERR_BAD_LENGTH});
	auto max = frame(VSST_SIM_RESPONSE, 1, VSST_SIM_MAX_PAYLOAD);
	EXPECT_EQ(parse_frame(first(max, max.size())).status, Status::frame);
}

TEST(Codec, BadMagicIsRejectedBeforeAWholeHeader)
{
	auto m = frame(VSST_SIM_RESPONSE, 1, 100, 0x12345678);
	for (size_t n = 0; n < 4; n++)
		EXPECT_EQ(parse_frame(first(m, n)).status, Status::need_more) << n;
	const ParsedFrame p = parse_frame(first(m, 4));
	EXPECT_EQ(p.status, Status::bad);
	EXPECT_EQ(p.error, uint32_t{VSST_SIM_ERR_BAD_MAGIC});
	EXPECT_FALSE(p.why.empty());
}

TEST(Codec, ErrorFrameCarriesCodeAndText)
{
	ByteBuffer b;
	encode_error(b, 9, VSST_SIM_ERR_BAD_TYPE, "nope");
	const ParsedFrame f = parse_frame(b.view());
	ASSERT_EQ(f.status, Status::frame);
	EXPECT_EQ(f.hdr.type, VSST_SIM_ERROR);
	EXPECT_EQ(f.hdr.tag, 9u);
	ASSERT_EQ(f.payload.size(), sizeof(vsst_sim_error) + 4);
	vsst_sim_error e;
	std::memcpy(&e, f.payload.data(), sizeof(e));
	EXPECT_EQ(e.code, uint32_t{VSST_SIM_ERR_BAD_TYPE});
	EXPECT_EQ(std::string_view(reinterpret_cast<const char *>(f.payload.data()) + sizeof(e), 4), "nope");

	// A message too long for one frame is cut to fit.
	ByteBuffer big;
	encode_error(big, 0, VSST_SIM_ERR_INTERNAL, std::string(VSST_SIM_MAX_PAYLOAD * 2, 'x'));
	const ParsedFrame g = parse_frame(big.view());
	ASSERT_EQ(g.status, Status::frame);
	EXPECT_EQ(g.payload.size(), VSST_SIM_MAX_PAYLOAD);
}

TEST(Codec, FrameTypeNames)
{
	EXPECT_EQ(frame_type_name(VSST_SIM_HELLO), "HELLO");
	EXPECT_EQ(frame_type_name(VSST_SIM_PONG), "PONG");
	EXPECT_EQ(frame_type_name(0), "UNKNOWN");
}

TEST(Codec, ByteBufferKeepsOrderAcrossCompaction)
{
	ByteBuffer b;
	uint8_t next = 0;
	for (int round = 0; round < 200; round++) {
		uint8_t *p = b.prepare(37);
		for (int i = 0; i < 37; i++)
			p[i] = next++;
		b.commit(37);
		ASSERT_GE(b.size(), 30u);
		b.consume(30);
	}
	// 200*37 bytes in, 200*30 out: the remaining bytes are the last ones written.
	ASSERT_EQ(b.size(), 200u * 7u);
	uint8_t first_byte = static_cast<uint8_t>(200 * 30);
	for (size_t i = 0; i < b.size(); i++)
		ASSERT_EQ(b.data()[i], static_cast<uint8_t>(first_byte + i));
}

TEST(Codec, ByteBufferConsumeIsBoundedAndCommitKeepsWhatWasFilled)
{
	ByteBuffer b;
	b.append("abc", 3);
	b.append_zeros(2);
	ASSERT_EQ(b.size(), 5u);
	EXPECT_EQ(b.view()[4], 0);
	b.consume(100);
	EXPECT_TRUE(b.empty());
	uint8_t *p = b.prepare(16);
	p[0] = 'q';
	b.commit(1);
	ASSERT_EQ(b.size(), 1u);
	EXPECT_EQ(b.data()[0], 'q');
}

} // namespace
} // namespace vsst
