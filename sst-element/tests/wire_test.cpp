// SPDX-License-Identifier: Apache-2.0
// Server session: every malformed frame case, protocol auto-detection,
// acalsim framing and ordering (the frame codec itself: protocol/tests).
#include <gtest/gtest.h>

#include <cstring>

#include "sim_test_util.h"
#include "vsst/protocol/frame_codec.h"
#include "vsst/sim/server_session.h"

namespace vsst::sim {
namespace {

struct Out {
	vsst_sim_frame_hdr hdr;
	std::vector<uint8_t> payload;
};

// Splits a buffer of frames written by the session.
std::vector<Out> frames(const ByteBuffer &buf)
{
	std::vector<Out> v;
	auto view = buf.view();
	while (!view.empty()) {
		ParsedFrame f = parse_frame(view);
		EXPECT_EQ(f.status, ParsedFrame::Status::frame);
		if (f.status != ParsedFrame::Status::frame)
			break;
		v.push_back({f.hdr, {f.payload.begin(), f.payload.end()}});
		view = view.subspan(f.consumed);
	}
	return v;
}

uint32_t error_code(const Out &o)
{
	vsst_sim_error e{};
	std::memcpy(&e, o.payload.data(), std::min(o.payload.size(), sizeof e));
	return e.code;
}

void put_frame(ByteBuffer &in, uint16_t type, uint64_t tag, const void *p, size_t n,
	       uint32_t magic = VSST_SIM_MAGIC, uint16_t version = VSST_SIM_VERSION, int64_t length = -1)
{
	vsst_sim_frame_hdr h{};
	h.magic = magic;
	h.version = version;
	h.type = type;
	h.length = length < 0 ? static_cast<uint32_t>(n) : static_cast<uint32_t>(length);
	h.tag = tag;
	in.append(&h, sizeof h);
	if (n)
		in.append(p, n);
}

void put_hello(ByteBuffer &in, bool events = false)
{
	vsst_sim_hello h{};
	h.device_id = 7;
	h.features = events ? 1 : 0;
	put_frame(in, VSST_SIM_HELLO, 1, &h, sizeof h);
}

struct Harness {
	ServerSession s{Protocol::kFramed, 1'000'000'000};
	ByteBuffer in, out;
	std::vector<std::pair<uint64_t, size_t>> reqs;
	size_t feed()
	{
		return s.feed(in, out, [this](uint64_t t, std::span<const uint8_t> r) {
			reqs.emplace_back(t, r.size());
		});
	}
};

TEST(Session, HelloPingAndRequests)
{
	Harness h;
	vsst_sim_frame_hdr none{};
	put_frame(h.in, VSST_SIM_PING, 77, &none, 0); // allowed before HELLO
	put_hello(h.in, true);
	SSTRequest r = test::make_req(SST_REQ_NOOP);
	put_frame(h.in, VSST_SIM_REQUEST, 1000, &r, SST_REQUEST_HEADER_SIZE);
	put_frame(h.in, VSST_SIM_REQUEST, 1001, &r, sizeof r);
	put_frame(h.in, VSST_SIM_PONG, 3, &none, 0); // ignored
	EXPECT_EQ(h.feed(), 2u);
	ASSERT_EQ(h.reqs.size(), 2u);
	EXPECT_EQ(h.reqs[0], std::make_pair(uint64_t{1000}, size_t{24}));
	EXPECT_EQ(h.reqs[1], std::make_pair(uint64_t{1001}, sizeof(SSTRequest)));
	auto out = frames(h.out);
	ASSERT_EQ(out.size(), 2u);
	EXPECT_EQ(out[0].hdr.type, VSST_SIM_PONG);
	EXPECT_EQ(out[0].hdr.tag, 77u);
	EXPECT_EQ(out[1].hdr.type, VSST_SIM_HELLO);
	vsst_sim_hello reply;
	std::memcpy(&reply, out[1].payload.data(), sizeof reply);
	EXPECT_EQ(reply.device_id, 7u);
	EXPECT_EQ(reply.features, 1u);
	EXPECT_EQ(reply.clock_hz, 1'000'000'000u);
	EXPECT_TRUE(h.s.events_enabled());
	EXPECT_FALSE(h.s.closing());
	EXPECT_TRUE(h.in.empty());
}

// TIMED is granted only by a host that applies submit times (sst-sim opts in; the
// SST-core bridge does not yet): a plain session answers HELLO without it and refuses
// REQUEST_AT with an ERROR frame.
TEST(Session, TimedOnlyWhereSupported)
{
	for (bool supported : {false, true}) {
		Harness h;
		h.s.set_timing_supported(supported);
		h.s.set_min_latency_ps(1234);
		vsst_sim_hello hello{};
		hello.features = VSST_SIM_FEATURE_TIMED;
		put_frame(h.in, VSST_SIM_HELLO, 1, &hello, sizeof hello);
		uint8_t at[8 + SST_REQUEST_HEADER_SIZE] = {};
		const uint64_t submit = 777;
		std::memcpy(at, &submit, sizeof submit);
		put_frame(h.in, VSST_SIM_REQUEST_AT, 5, at, sizeof at);
		EXPECT_EQ(h.feed(), supported ? 1u : 0u);
		EXPECT_EQ(h.s.timed(), supported);
		auto out = frames(h.out);
		ASSERT_GE(out.size(), 1u);
		EXPECT_EQ(out[0].hdr.type, VSST_SIM_HELLO);
		vsst_sim_hello reply;
		std::memcpy(&reply, out[0].payload.data(), sizeof reply);
		EXPECT_EQ((reply.features & VSST_SIM_FEATURE_TIMED) != 0, supported);
		if (supported) {
			ASSERT_EQ(out[0].payload.size(), sizeof reply + sizeof(vsst_sim_hello_timing));
			vsst_sim_hello_timing t;
			std::memcpy(&t, out[0].payload.data() + sizeof reply, sizeof t);
			EXPECT_EQ(t.min_latency_ps, 1234u);
			EXPECT_EQ(h.s.submit_ps(), 777u);
			ASSERT_EQ(h.reqs.size(), 1u);
			EXPECT_EQ(h.reqs[0].second, size_t{SST_REQUEST_HEADER_SIZE});
		} else {
			ASSERT_EQ(out.size(), 2u);
			EXPECT_EQ(out[1].hdr.type, VSST_SIM_ERROR);
		}
	}
}

TEST(Session, ResponseAndEventEncoding)
{
	Harness h;
	put_hello(h.in, true);
	h.feed();
	h.out.clear();
	SSTResponse resp{};
	resp.request_id = 5;
	h.s.emit_response(h.out, 1234, 10, 20000, {reinterpret_cast<uint8_t *>(&resp), 48});
	SSTEvent ev{};
	ev.data = 5;
	h.s.emit_event(h.out, {reinterpret_cast<uint8_t *>(&ev), sizeof ev});
	auto out = frames(h.out);
	ASSERT_EQ(out.size(), 2u);
	EXPECT_EQ(out[0].hdr.type, VSST_SIM_RESPONSE);
	EXPECT_EQ(out[0].hdr.tag, 1234u);
	ASSERT_EQ(out[0].payload.size(), sizeof(vsst_sim_resp_meta) + 48);
	vsst_sim_resp_meta meta;
	std::memcpy(&meta, out[0].payload.data(), sizeof meta);
	EXPECT_EQ(meta.cycles, 10u);
	EXPECT_EQ(meta.complete_ps, 20000u);
	EXPECT_EQ(out[1].hdr.type, VSST_SIM_EVENT);
	EXPECT_EQ(out[1].hdr.tag, 0u);
	EXPECT_EQ(out[1].payload.size(), sizeof(SSTEvent));
	// A peer without the events feature gets none.
	Harness quiet;
	put_hello(quiet.in, false);
	quiet.feed();
	quiet.out.clear();
	quiet.s.emit_event(quiet.out, {reinterpret_cast<uint8_t *>(&ev), sizeof ev});
	EXPECT_TRUE(quiet.out.empty());
}

// Errors the stream cannot recover from: ERROR frame, then closing().
struct FatalCase {
	const char *name;
	uint32_t magic;
	uint16_t version;
	int64_t length;
	bool hello_first;
	uint16_t type;
	uint32_t code;
};

class FatalFrame : public ::testing::TestWithParam<FatalCase> {};

TEST_P(FatalFrame, ErrorFrameThenClose)
{
	const FatalCase &c = GetParam();
	Harness h;
	if (c.hello_first)
		put_hello(h.in);
	SSTRequest r = test::make_req(SST_REQ_NOOP);
	put_frame(h.in, c.type, 55, &r, SST_REQUEST_HEADER_SIZE, c.magic, c.version, c.length);
	put_frame(h.in, VSST_SIM_PING, 56, &r, 0); // must not be served after the error
	EXPECT_EQ(h.feed(), 0u);
	EXPECT_TRUE(h.s.closing()) << c.name;
	EXPECT_FALSE(h.s.close_reason().empty());
	EXPECT_TRUE(h.in.empty());
	auto out = frames(h.out);
	ASSERT_FALSE(out.empty());
	EXPECT_EQ(out.back().hdr.type, VSST_SIM_ERROR);
	EXPECT_EQ(error_code(out.back()), c.code) << c.name;
	for (const Out &o : out)
		EXPECT_NE(o.hdr.type, VSST_SIM_PONG);
	// Nothing more is accepted.
	put_hello(h.in);
	EXPECT_EQ(h.feed(), 0u);
	EXPECT_TRUE(h.in.empty());
}

INSTANTIATE_TEST_SUITE_P(
	Malformed, FatalFrame,
	::testing::Values(FatalCase{"bad_magic", 0xdeadbeef, VSST_SIM_VERSION, -1, true, VSST_SIM_REQUEST,
				    VSST_SIM_ERR_BAD_MAGIC},
			  FatalCase{"bad_version", VSST_SIM_MAGIC, 2, -1, true, VSST_SIM_REQUEST,
				    VSST_SIM_ERR_BAD_VERSION},
			  FatalCase{"oversize", VSST_SIM_MAGIC, VSST_SIM_VERSION, VSST_SIM_MAX_PAYLOAD + 1,
				    true, VSST_SIM_REQUEST, VSST_SIM_ERR_BAD_LENGTH},
			  FatalCase{"huge_length", VSST_SIM_MAGIC, VSST_SIM_VERSION, 0xffffffff, true,
				    VSST_SIM_REQUEST, VSST_SIM_ERR_BAD_LENGTH},
			  FatalCase{"request_before_hello", VSST_SIM_MAGIC, VSST_SIM_VERSION, -1, false,
				    VSST_SIM_REQUEST, VSST_SIM_ERR_NO_HELLO}),
	[](const auto &info) { return std::string(info.param.name); });

TEST(Session, BadMagicRejectedBeforeAWholeHeader)
{
	Harness h;
	put_hello(h.in);
	h.feed();
	const uint8_t junk[5] = {'G', 'E', 'T', ' ', '/'};
	h.in.append(junk, sizeof junk);
	h.feed();
	EXPECT_TRUE(h.s.closing());
}

// Errors inside a well-delimited frame: ERROR with the frame's tag, and the
// following frames are still served.
struct RecoverableCase {
	const char *name;
	uint16_t type;
	size_t payload;
	uint32_t code;
};

class RecoverableFrame : public ::testing::TestWithParam<RecoverableCase> {};

TEST_P(RecoverableFrame, ErrorFrameAndKeepServing)
{
	const RecoverableCase &c = GetParam();
	Harness h;
	put_hello(h.in);
	std::vector<uint8_t> payload(c.payload, 0);
	put_frame(h.in, c.type, 4242, payload.data(), payload.size());
	SSTRequest r = test::make_req(SST_REQ_NOOP);
	put_frame(h.in, VSST_SIM_REQUEST, 4243, &r, SST_REQUEST_HEADER_SIZE);
	EXPECT_EQ(h.feed(), 1u);
	EXPECT_FALSE(h.s.closing()) << c.name;
	ASSERT_EQ(h.reqs.size(), 1u);
	EXPECT_EQ(h.reqs[0].first, 4243u);
	auto out = frames(h.out);
	ASSERT_EQ(out.size(), 2u); // HELLO reply + the error
	EXPECT_EQ(out[1].hdr.type, VSST_SIM_ERROR);
	EXPECT_EQ(out[1].hdr.tag, 4242u);
	EXPECT_EQ(error_code(out[1]), c.code);
	EXPECT_GT(out[1].payload.size(), sizeof(vsst_sim_error)); // carries a message
}

INSTANTIATE_TEST_SUITE_P(
	Malformed, RecoverableFrame,
	::testing::Values(RecoverableCase{"unknown_type", 99, 8, VSST_SIM_ERR_BAD_TYPE},
			  RecoverableCase{"type_zero", 0, 0, VSST_SIM_ERR_BAD_TYPE},
			  RecoverableCase{"response_from_client", VSST_SIM_RESPONSE, 48,
					  VSST_SIM_ERR_BAD_TYPE},
			  RecoverableCase{"event_from_client", VSST_SIM_EVENT, 24, VSST_SIM_ERR_BAD_TYPE},
			  RecoverableCase{"error_from_client", VSST_SIM_ERROR, 8, VSST_SIM_ERR_BAD_TYPE},
			  RecoverableCase{"short_request", VSST_SIM_REQUEST, 23, VSST_SIM_ERR_BAD_LENGTH},
			  RecoverableCase{"empty_request", VSST_SIM_REQUEST, 0, VSST_SIM_ERR_BAD_LENGTH},
			  RecoverableCase{"long_request", VSST_SIM_REQUEST, 4105, VSST_SIM_ERR_BAD_LENGTH},
			  RecoverableCase{"short_hello", VSST_SIM_HELLO, 4, VSST_SIM_ERR_BAD_LENGTH}),
	[](const auto &info) { return std::string(info.param.name); });

TEST(Session, EndlessBadFramesEventuallyClose)
{
	Harness h;
	put_hello(h.in);
	for (uint64_t i = 0; i <= kMaxRecoverableErrors; ++i)
		put_frame(h.in, 99, i, nullptr, 0);
	h.feed();
	EXPECT_TRUE(h.s.closing());
}

TEST(Session, ShortFrameAtEofIsReported)
{
	Harness h;
	put_hello(h.in);
	h.feed();
	SSTRequest r = test::make_req(SST_REQ_NOOP);
	ByteBuffer whole;
	put_frame(whole, VSST_SIM_REQUEST, 9, &r, SST_REQUEST_HEADER_SIZE);
	h.in.append(whole.data(), whole.size() - 3);
	EXPECT_EQ(h.feed(), 0u);
	EXPECT_FALSE(h.s.closing());
	ASSERT_TRUE(h.s.truncated_input(h.in).has_value());
	h.in.append(whole.data() + whole.size() - 3, 3); // the rest arrives: served
	EXPECT_EQ(h.feed(), 1u);
	EXPECT_FALSE(h.s.truncated_input(h.in).has_value());
}

TEST(Session, AutoDetectsProtocol)
{
	ServerSession framed(Protocol::kAuto);
	ServerSession raw(Protocol::kAuto);
	ByteBuffer in, out;
	auto none = [](uint64_t, std::span<const uint8_t>) {};
	const uint8_t magic_part[3] = {0x56, 0x53, 0x53};
	in.append(magic_part, 3);
	framed.feed(in, out, none);
	EXPECT_EQ(framed.protocol(), Protocol::kAuto); // undecided with 3 bytes
	const uint8_t f = 0x46;
	in.append(&f, 1);
	framed.feed(in, out, none);
	EXPECT_EQ(framed.protocol(), Protocol::kFramed);
	ByteBuffer rin;
	SSTRequest r = test::make_req(SST_REQ_NOOP);
	rin.append(&r, 4);
	raw.feed(rin, out, none);
	EXPECT_EQ(raw.protocol(), Protocol::kAcalsim);
}

TEST(Session, AcalsimFramingByteByByte)
{
	ServerSession s(Protocol::kAcalsim);
	ByteBuffer in, out;
	std::vector<uint64_t> tokens;
	std::vector<uint64_t> ids;
	auto on = [&](uint64_t t, std::span<const uint8_t> req) {
		EXPECT_EQ(req.size(), sizeof(SSTRequest));
		SSTRequest r;
		std::memcpy(&r, req.data(), sizeof r);
		tokens.push_back(t);
		ids.push_back(r.request_id);
	};
	SSTRequest reqs[2] = {test::make_req(SST_REQ_NOOP, 11), test::make_req(SST_REQ_ECHO, 12)};
	const auto *bytes = reinterpret_cast<const uint8_t *>(reqs);
	for (size_t i = 0; i < sizeof reqs; ++i) {
		in.append(bytes + i, 1);
		s.feed(in, out, on);
	}
	EXPECT_EQ(ids, (std::vector<uint64_t>{11, 12}));
	EXPECT_EQ(tokens, (std::vector<uint64_t>{0, 1}));
	EXPECT_TRUE(out.empty());
	EXPECT_FALSE(s.truncated_input(in).has_value());
	in.append(bytes, 100);
	s.feed(in, out, on);
	EXPECT_TRUE(s.truncated_input(in).has_value());

	// Responses: whole 4112-byte SSTResponses, in request order even when the
	// model finishes them out of order.
	SSTResponse r1{}, r0{};
	r0.request_id = 11;
	r1.request_id = 12;
	s.emit_response(out, 1, 0, 0, {reinterpret_cast<uint8_t *>(&r1), 48});
	EXPECT_TRUE(out.empty());
	s.emit_response(out, 0, 0, 0, {reinterpret_cast<uint8_t *>(&r0), 32});
	ASSERT_EQ(out.size(), 2 * sizeof(SSTResponse));
	SSTResponse got[2];
	std::memcpy(got, out.data(), sizeof got);
	EXPECT_EQ(got[0].request_id, 11u);
	EXPECT_EQ(got[1].request_id, 12u);
	// Events cannot travel over acalsim.
	out.clear();
	SSTEvent ev{};
	s.emit_event(out, {reinterpret_cast<uint8_t *>(&ev), sizeof ev});
	EXPECT_TRUE(out.empty());
}

TEST(Session, ForcedFramedRejectsRawRequests)
{
	ServerSession s(Protocol::kFramed);
	ByteBuffer in, out;
	SSTRequest r = test::make_req(SST_REQ_NOOP);
	in.append(&r, sizeof r);
	s.feed(in, out, [](uint64_t, std::span<const uint8_t>) { FAIL(); });
	EXPECT_TRUE(s.closing());
}

} // namespace
} // namespace vsst::sim
