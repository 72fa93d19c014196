// SPDX-License-Identifier: Apache-2.0
// The framed simulator client against an in-test simulator over a real Unix
// socket: round trips, pipelining, out-of-order replies, events, errors,
// timeouts, malformed frames, cancel_all.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <thread>

#include "fake_sim.h"
#include "harness.h"

namespace vsst {
namespace {

using namespace std::chrono_literals;
using test::FakeSim;
using test::Harness;
using test::make_compute;
using test::make_req;

class Framed : public ::testing::Test {
protected:
	void SetUp() override { sim.start(); }
	FakeSim sim{FakeSim::Proto::framed};
};

TEST_F(Framed, HelloCarriesDeviceIdAndEventFeature)
{
	Harness h(sim.path().c_str());
	ASSERT_TRUE(h.wait_connected(true));
	EXPECT_EQ(sim.hellos.load(), 1);
	EXPECT_EQ(sim.hello_device_id.load(), 7u);
	EXPECT_EQ(sim.hello_features.load() & 1u, 1u);
}

// Synchronized time: the core offers TIMED; a simulator that does not grant it
// (this fake, like a simulator that predates the feature) is refused with a
// clear reason, so the guest gets NO_DEVICE instead of unsynchronized answers.
// With acalsim, which carries no time, the core is not even created.
TEST_F(Framed, TimedCoreRefusesASimulatorWithoutTime)
{
	test::LogCapture log;
	vsst_dev_config cfg{};
	cfg.socket_path = sim.path().c_str();
	cfg.device_id = 7;
	cfg.protocol = VSST_DEV_PROTO_FRAMED;
	cfg.timed = 1;
	cfg.reconnect_max_ms = 50;
	cfg.log = &test::LogCapture::sink;
	cfg.log_opaque = &log;
	char err[256] = "";
	vsst_dev *dev = vsst_dev_new(&cfg, err, sizeof(err));
	ASSERT_NE(dev, nullptr) << err;
	const auto end = std::chrono::steady_clock::now() + 5s;
	while (!log.contains("does not support synchronized time") && std::chrono::steady_clock::now() < end)
		std::this_thread::sleep_for(10ms);
	EXPECT_TRUE(log.contains("does not support synchronized time"));
	EXPECT_EQ(sim.hello_features.load() & VSST_SIM_FEATURE_TIMED, VSST_SIM_FEATURE_TIMED);
	EXPECT_EQ(vsst_dev_min_latency_ns(dev), -1);
	vsst_dev_free(dev);

	cfg.protocol = VSST_DEV_PROTO_ACALSIM;
	err[0] = 0;
	EXPECT_EQ(vsst_dev_new(&cfg, err, sizeof(err)), nullptr);
	EXPECT_NE(std::string(err).find("acalsim carries no submit or completion times"), std::string::npos)
		<< err;
}

TEST_F(Framed, EveryForwardedTypeRoundTrips)
{
	Harness h(sim.path().c_str());
	ASSERT_TRUE(h.wait_connected(true));
	SSTRequest rd = make_req(SST_REQ_READ, 2);
	rd.payload.memory.addr = 0x40;
	rd.payload.memory.size = 64;
	SSTRequest wr = make_req(SST_REQ_WRITE, 3);
	wr.payload.memory.size = 4;
	std::memcpy(wr.payload.data + SST_WRITE_DATA_OFFSET, "\x01\x02\x03\x04", 4);
	SSTRequest cf = make_req(SST_REQ_CONFIGURE, 4);
	cf.payload.config.param = SST_CFG_CLOCK_HZ;
	cf.payload.config.value = 12345;

	ASSERT_EQ(h.submit(make_compute(1, 50), 1), 0);
	ASSERT_EQ(h.submit(rd, 2), 0);
	ASSERT_EQ(h.submit(wr, 3), 0);
	ASSERT_EQ(h.submit(cf, 4), 0);
	ASSERT_TRUE(h.wait_done(4));
	h.expect_each_once(1, 4);

	const SSTResponse &c = h.only(1);
	EXPECT_EQ(c.status, SST_STATUS_OK);
	EXPECT_EQ(c.result, 100u);
	EXPECT_EQ(c.payload.compute.cycles, 500u); // from the frame's meta
	EXPECT_EQ(c.payload.compute.timestamp, 500000u);
	const SSTResponse &r = h.only(2);
	EXPECT_EQ(r.result, 64u);
	for (int i = 0; i < 64; i++)
		ASSERT_EQ(r.payload.data[i], static_cast<uint8_t>(0x40 + i));
	EXPECT_EQ(h.only(3).result, 10u);
	EXPECT_EQ(h.only(4).result, 12345u);
	for (auto &d : h.done) {
		EXPECT_EQ(d.resp.request_id, d.cookie);
		EXPECT_EQ(d.resp.user_data, d.cookie * 7 + 3);
	}
	// Only the meaningful prefix went on the wire (the last was CONFIGURE).
	EXPECT_EQ(sim.last_req_len.load(), SST_REQUEST_HEADER_SIZE + 16u);
	auto s = h.stats();
	EXPECT_EQ(s.forwarded, 4u);
	EXPECT_EQ(s.responses, 4u);
	EXPECT_EQ(s.connected, 1u);
	EXPECT_EQ(s.inflight, 0u);
}

TEST_F(Framed, ResponseIdsAlwaysEchoTheRequest)
{
	sim.wrong_ids = true;
	Harness h(sim.path().c_str());
	ASSERT_TRUE(h.wait_connected(true));
	ASSERT_EQ(h.submit(make_compute(11, 1), 1), 0);
	ASSERT_TRUE(h.wait_done(1));
	EXPECT_EQ(h.only(1).request_id, 11u);
	EXPECT_EQ(h.only(1).user_data, 11u * 7 + 3);
}

TEST_F(Framed, ThousandInFlightRepliedOutOfOrder)
{
	sim.auto_reply = false;
	constexpr size_t kN = 1000;
	Harness h(sim.path().c_str(), VSST_DEV_PROTO_FRAMED, 20000, 1024);
	ASSERT_TRUE(h.wait_connected(true));
	for (uint64_t i = 0; i < kN; i++)
		ASSERT_EQ(h.submit(make_compute(i, i + 1), i), 0) << i;
	// All of them reach the simulator before any is answered: pipelined.
	ASSERT_TRUE(sim.wait_held(kN, 10s));
	EXPECT_EQ(h.stats().inflight, kN);
	auto held = sim.take_held();
	ASSERT_EQ(held.size(), kN);
	std::mt19937 rng(1234);
	std::shuffle(held.begin(), held.end(), rng);
	for (auto &r : held)
		sim.reply(r);
	ASSERT_TRUE(h.wait_done(kN, 10s));
	h.expect_each_once(0, kN);
	for (uint64_t i = 0; i < kN; i++) {
		const SSTResponse &r = h.only(i);
		ASSERT_EQ(r.status, SST_STATUS_OK);
		ASSERT_EQ(r.request_id, i);
		ASSERT_EQ(r.result, (i + 1) * 2) << "reply matched to the wrong request";
	}
	EXPECT_EQ(h.stats().inflight, 0u);
}

TEST_F(Framed, EventsReachTheEventQueue)
{
	Harness h(sim.path().c_str());
	ASSERT_TRUE(h.wait_connected(true));
	for (uint64_t i = 0; i < 3; i++) {
		SSTEvent ev{};
		ev.type = SST_EVENT_COMPLETION;
		ev.timestamp = 1000 + i;
		ev.data = 40 + i;
		sim.send_event(ev);
	}
	ASSERT_TRUE(h.wait_events(3));
	for (uint64_t i = 0; i < 3; i++) {
		EXPECT_EQ(h.events[i].type, static_cast<uint32_t>(SST_EVENT_COMPLETION));
		EXPECT_EQ(h.events[i].timestamp, 1000 + i);
		EXPECT_EQ(h.events[i].data, 40 + i);
	}
	EXPECT_EQ(h.stats().events, 3u);
	EXPECT_TRUE(h.done.empty());
}

TEST_F(Framed, GetInfoCombinesLocalInfoWithSimulatorCapacities)
{
	Harness h(sim.path().c_str());
	ASSERT_TRUE(h.wait_connected(true));
	// The capacity probe is answered right after HELLO; give it a moment.
	SSTResponse info{};
	for (int i = 0; i < 200; i++) {
		h.done.clear();
		h.by_cookie.clear();
		ASSERT_EQ(h.submit(make_req(SST_REQ_GET_INFO, 1), 1), 0);
		ASSERT_TRUE(h.wait_done(1));
		info = h.done[0].resp;
		if (info.payload.info.max_compute_units)
			break;
		std::this_thread::sleep_for(5ms);
	}
	EXPECT_EQ(info.status, SST_STATUS_OK);
	EXPECT_EQ(info.result, 1u);
	EXPECT_EQ(info.payload.info.max_compute_units, 64u);
	EXPECT_EQ(info.payload.info.memory_size, 1u << 20);
	EXPECT_EQ(info.payload.info.capabilities, vsst_dev_features(h.dev));
	EXPECT_EQ(sim.requests.load(), 0); // GET_INFO itself stayed local
	EXPECT_EQ(h.stats().local, h.stats().requests);
}

TEST_F(Framed, ResetIsAnsweredLocallyAndReachesTheSimulator)
{
	sim.auto_reply = false;
	Harness h(sim.path().c_str());
	ASSERT_TRUE(h.wait_connected(true));
	ASSERT_EQ(h.submit(make_compute(1, 1), 1), 0);
	ASSERT_EQ(h.submit(make_req(SST_REQ_RESET, 2), 2), 0);
	// The guest's answer does not wait for the simulator...
	ASSERT_TRUE(h.wait_done(1));
	EXPECT_EQ(h.done[0].cookie, 2u);
	EXPECT_EQ(h.only(2).status, SST_STATUS_OK);
	// ...but the model is reset too, after what was submitted before it.
	ASSERT_TRUE(sim.wait_held(2, 5s));
	auto held = sim.take_held();
	ASSERT_EQ(held.size(), 2u);
	EXPECT_EQ(held[0].req.type, static_cast<uint32_t>(SST_REQ_COMPUTE));
	EXPECT_EQ(held[1].req.type, static_cast<uint32_t>(SST_REQ_RESET));
	EXPECT_EQ(held[1].req.request_id, 2u);
	for (auto &r : held)
		sim.reply(r);
	ASSERT_TRUE(h.wait_done(2));
	h.reap_once(50);
	EXPECT_EQ(h.done.size(), 2u) << "the internal RESET must not complete a cookie";
	EXPECT_EQ(h.stats().inflight, 0u);
}

TEST_F(Framed, PingIsAnsweredWithPongSameTag)
{
	Harness h(sim.path().c_str());
	ASSERT_TRUE(h.wait_connected(true));
	sim.send_frame(VSST_SIM_PING, 99, nullptr, 0);
	for (int i = 0; i < 500 && sim.pongs.load() == 0; i++)
		std::this_thread::sleep_for(2ms);
	EXPECT_EQ(sim.pongs.load(), 1);
	EXPECT_TRUE(h.wait_connected(true));
}

TEST_F(Framed, ErrorFrameForATagFailsThatRequestOnly)
{
	sim.auto_reply = false;
	Harness h(sim.path().c_str());
	ASSERT_TRUE(h.wait_connected(true));
	ASSERT_EQ(h.submit(make_compute(1, 1), 1), 0);
	ASSERT_EQ(h.submit(make_compute(2, 2), 2), 0);
	ASSERT_TRUE(sim.wait_held(2, 5s));
	auto held = sim.take_held();
	struct {
		vsst_sim_error e;
		char text[5];
	} __attribute__((packed)) err{{VSST_SIM_ERR_INTERNAL, 0}, {'o', 'o', 'p', 's', '\n'}};
	sim.send_frame(VSST_SIM_ERROR, held[0].tag, &err, sizeof(err));
	sim.reply(held[1]);
	ASSERT_TRUE(h.wait_done(2));
	EXPECT_EQ(h.only(1).status, SST_STATUS_ERROR);
	EXPECT_EQ(h.only(1).request_id, 1u);
	EXPECT_EQ(h.only(2).status, SST_STATUS_OK);
	EXPECT_EQ(h.stats().connected, 1u);
	EXPECT_TRUE(h.log.contains("oops?")); // control characters neutralised
}

TEST_F(Framed, TimeoutThenLateReplyIsDropped)
{
	sim.auto_reply = false;
	Harness h(sim.path().c_str(), VSST_DEV_PROTO_FRAMED, 200);
	ASSERT_TRUE(h.wait_connected(true));
	ASSERT_EQ(h.submit(make_compute(1, 1), 1), 0);
	ASSERT_TRUE(sim.wait_held(1, 5s));
	ASSERT_TRUE(h.wait_done(1, 5s));
	EXPECT_EQ(h.only(1).status, SST_STATUS_TIMEOUT);
	EXPECT_EQ(h.only(1).request_id, 1u);
	// The late reply must neither complete anything nor break the link.
	for (auto &r : sim.take_held())
		sim.reply(r);
	sim.auto_reply = true;
	ASSERT_EQ(h.submit(make_compute(2, 2), 2), 0);
	ASSERT_TRUE(h.wait_done(2));
	EXPECT_EQ(h.only(2).status, SST_STATUS_OK);
	EXPECT_EQ(h.by_cookie[1].size(), 1u);
	EXPECT_EQ(sim.connections.load(), 1);
	EXPECT_EQ(h.stats().timeouts, 1u);
}

TEST_F(Framed, CancelAllForgetsInFlightAndDropsLateReplies)
{
	sim.auto_reply = false;
	Harness h(sim.path().c_str());
	ASSERT_TRUE(h.wait_connected(true));
	for (uint64_t i = 0; i < 20; i++)
		ASSERT_EQ(h.submit(make_compute(i, 1), i), 0);
	ASSERT_TRUE(sim.wait_held(20, 5s));
	vsst_dev_cancel_all(h.dev);
	EXPECT_EQ(h.stats().inflight, 0u);
	for (auto &r : sim.take_held())
		sim.reply(r);
	sim.auto_reply = true;
	ASSERT_EQ(h.submit(make_compute(100, 3), 100), 0);
	ASSERT_TRUE(h.wait_done(1));
	// Give stray completions a chance to show up; there must be none.
	h.reap_once(50);
	ASSERT_EQ(h.done.size(), 1u);
	EXPECT_EQ(h.done[0].cookie, 100u);
	EXPECT_EQ(h.done[0].resp.result, 6u);
	EXPECT_EQ(sim.connections.load(), 1); // late replies are not a protocol fault
}

TEST_F(Framed, SubmitDoesNotBlockWhenTheSimulatorStalls)
{
	sim.auto_reply = false;
	Harness h(sim.path().c_str(), VSST_DEV_PROTO_FRAMED, 10000, 64);
	ASSERT_TRUE(h.wait_connected(true));
	for (uint64_t i = 0; i < 64; i++)
		ASSERT_EQ(h.submit(make_compute(i, 1), i), 0);
	EXPECT_EQ(h.submit(make_compute(64, 1), 64), -EBUSY);
	ASSERT_TRUE(sim.wait_held(64, 5s));
	for (auto &r : sim.take_held())
		sim.reply(r);
	ASSERT_TRUE(h.wait_done(64));
	EXPECT_EQ(h.submit(make_compute(64, 1), 64), 0);
}

// Malformed input from the simulator: the link is dropped, in-flight requests
// are answered NO_DEVICE (never lost), and the client reconnects.
struct Garbage {
	const char *name;
	void (*inject)(FakeSim &sim, uint64_t live_tag);
};

class FramedMalformed : public Framed, public ::testing::WithParamInterface<Garbage> {};

TEST_P(FramedMalformed, DropsLinkAnswersNoDeviceAndRecovers)
{
	sim.auto_reply = false;
	Harness h(sim.path().c_str());
	ASSERT_TRUE(h.wait_connected(true));
	ASSERT_EQ(h.submit(make_compute(1, 1), 1), 0);
	ASSERT_TRUE(sim.wait_held(1, 5s));
	auto held = sim.take_held();
	GetParam().inject(sim, held[0].tag);
	ASSERT_TRUE(h.wait_done(1));
	EXPECT_EQ(h.only(1).status, SST_STATUS_NO_DEVICE);
	EXPECT_EQ(h.only(1).request_id, 1u);
	EXPECT_GE(h.stats().errors, 1u);
	EXPECT_TRUE(h.log.contains("protocol violation")) << GetParam().name;
	// Reconnects on its own.
	ASSERT_TRUE(sim.wait_connections(2, 5s));
	ASSERT_TRUE(h.wait_connected(true));
	sim.auto_reply = true;
	ASSERT_EQ(h.submit(make_compute(2, 5), 2), 0);
	ASSERT_TRUE(h.wait_done(2));
	EXPECT_EQ(h.only(2).status, SST_STATUS_OK);
	EXPECT_EQ(h.only(2).result, 10u);
	EXPECT_EQ(h.by_cookie[1].size(), 1u);
	EXPECT_GE(h.stats().reconnects, 1u);
}

INSTANTIATE_TEST_SUITE_P(
	Garbage, FramedMalformed,
	::testing::Values(
		Garbage{"bad_magic",
			[](FakeSim &s, uint64_t) { s.send_frame(VSST_SIM_PONG, 0, nullptr, 0, 0xdeadbeef); }},
		Garbage{"bad_version",
			[](FakeSim &s, uint64_t) {
				s.send_frame(VSST_SIM_PONG, 0, nullptr, 0, VSST_SIM_MAGIC, 9);
			}},
		Garbage{"oversize",
			[](FakeSim &s, uint64_t) {
				// Header only: the client must not wait for 1 MiB of payload.
				vsst_sim_frame_hdr hdr{
					VSST_SIM_MAGIC, VSST_SIM_VERSION, VSST_SIM_RESPONSE, 1u << 20, 0, 1};
				s.send_raw(&hdr, sizeof(hdr));
			}},
		Garbage{"unknown_tag",
			[](FakeSim &s, uint64_t live) {
				SSTRequest r = make_compute(1, 1);
				FakeSim::Held fake{live + 1000, 36, r};
				s.reply(fake);
			}},
		Garbage{"unknown_type", [](FakeSim &s, uint64_t) { s.send_frame(42, 0, nullptr, 0); }},
		Garbage{"short_response",
			[](FakeSim &s, uint64_t live) {
				uint8_t p[20] = {};
				s.send_frame(VSST_SIM_RESPONSE, live, p, sizeof(p));
			}},
		Garbage{"short_event",
			[](FakeSim &s, uint64_t) {
				uint8_t p[8] = {};
				s.send_frame(VSST_SIM_EVENT, 0, p, sizeof(p));
			}},
		Garbage{"second_hello",
			[](FakeSim &s, uint64_t) {
				vsst_sim_hello a{};
				s.send_frame(VSST_SIM_HELLO, 0, &a, sizeof(a));
			}}),
	[](const ::testing::TestParamInfo<Garbage> &i) { return std::string(i.param.name); });

TEST_F(Framed, NoHelloAnswerMeansNoDeviceNotAHang)
{
	sim.answer_hello = false;
	Harness h(sim.path().c_str(), VSST_DEV_PROTO_FRAMED, 300);
	ASSERT_TRUE(sim.wait_connections(1, 5s));
	ASSERT_EQ(h.submit(make_compute(1, 1), 1), 0);
	ASSERT_TRUE(h.wait_done(1, 5s));
	EXPECT_NE(h.only(1).status, SST_STATUS_OK);
	EXPECT_EQ(h.stats().connected, 0u);
	EXPECT_TRUE(h.log.contains("HELLO"));
}

TEST_F(Framed, SimulatorRejectingHelloIsReported)
{
	sim.answer_hello = false;
	Harness h(sim.path().c_str());
	ASSERT_TRUE(sim.wait_connections(1, 5s));
	for (int i = 0; i < 500 && sim.hellos.load() == 0; i++)
		std::this_thread::sleep_for(2ms);
	struct {
		vsst_sim_error e;
		char text[11];
	} __attribute__((packed))
	err{{VSST_SIM_ERR_BAD_VERSION, 0}, {'b', 'a', 'd', ' ', 'v', 'e', 'r', 's', 'i', 'o', 'n'}};
	sim.send_frame(VSST_SIM_ERROR, 0, &err, sizeof(err));
	ASSERT_TRUE(sim.wait_connections(2, 5s)); // dropped and retried
	EXPECT_TRUE(h.log.contains("rejected HELLO: bad version"));
}

} // namespace
} // namespace vsst
