// SPDX-License-Identifier: Apache-2.0
// Frame parsing: whole frames, partial input, and headers that must be
// rejected as soon as they are complete.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "frame_codec.h"

namespace vsst {
namespace {

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

TEST(Codec, RoundTrip)
{
	ByteBuffer b;
	const char payload[] = "abcdef";
	wire::append(b, VSST_SIM_REQUEST, 77, payload, 6);
	ASSERT_EQ(b.size(), 30u);
	wire::Frame f;
	ASSERT_EQ(wire::parse(b.data(), b.size(), f), wire::Parse::frame);
	EXPECT_EQ(f.type, VSST_SIM_REQUEST);
	EXPECT_EQ(f.tag, 77u);
	EXPECT_EQ(f.length, 6u);
	EXPECT_EQ(f.total, 30u);
	EXPECT_EQ(0, std::memcmp(f.payload, payload, 6));
}

TEST(Codec, PartialInputNeedsMore)
{
	auto f = frame(VSST_SIM_RESPONSE, 1, 100);
	wire::Frame out;
	for (size_t n = 0; n < f.size(); n++)
		ASSERT_EQ(wire::parse(f.data(), n, out), wire::Parse::need_more) << n;
	EXPECT_EQ(wire::parse(f.data(), f.size(), out), wire::Parse::frame);
}

TEST(Codec, BadHeadersAreRejectedWithoutWaitingForPayload)
{
	wire::Frame out;
	auto m = frame(VSST_SIM_RESPONSE, 1, 100, 0x12345678);
	EXPECT_EQ(wire::parse(m.data(), sizeof(vsst_sim_frame_hdr), out), wire::Parse::bad_magic);
	auto v = frame(VSST_SIM_RESPONSE, 1, 100, VSST_SIM_MAGIC, 2);
	EXPECT_EQ(wire::parse(v.data(), sizeof(vsst_sim_frame_hdr), out), wire::Parse::bad_version);
	auto o = frame(VSST_SIM_RESPONSE, 1, VSST_SIM_MAX_PAYLOAD + 1);
	EXPECT_EQ(wire::parse(o.data(), sizeof(vsst_sim_frame_hdr), out), wire::Parse::oversize);
	auto max = frame(VSST_SIM_RESPONSE, 1, VSST_SIM_MAX_PAYLOAD);
	EXPECT_EQ(wire::parse(max.data(), max.size(), out), wire::Parse::frame);
}

TEST(Codec, ByteBufferKeepsOrderAcrossCompaction)
{
	ByteBuffer b;
	std::vector<uint8_t> expect;
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
	uint8_t first = static_cast<uint8_t>(200 * 30);
	for (size_t i = 0; i < b.size(); i++)
		ASSERT_EQ(b.data()[i], static_cast<uint8_t>(first + i));
}

} // namespace
} // namespace vsst
