// SPDX-License-Identifier: Apache-2.0
// Simulator absent, killed and restarted: NO_DEVICE promptly while it is
// away, nothing lost or duplicated, recovery once it is back.
#include <gtest/gtest.h>

#include "fake_sim.h"
#include "harness.h"

namespace vsst {
namespace {

using namespace std::chrono_literals;
using test::FakeSim;
using test::Harness;
using test::make_compute;

struct ProtoCase {
	const char *name;
	FakeSim::Proto sim;
	uint32_t dev;
};

class Reconnect : public ::testing::TestWithParam<ProtoCase> {};

TEST_P(Reconnect, AbsentSimulatorGivesNoDevicePromptly)
{
	FakeSim sim(GetParam().sim); // path only, never started
	// A long request timeout: a prompt answer cannot be a timeout.
	Harness h(sim.path().c_str(), GetParam().dev, 30000);
	const auto t0 = std::chrono::steady_clock::now();
	for (uint64_t i = 0; i < 50; i++)
		ASSERT_EQ(h.submit(make_compute(i, 1), i), 0);
	ASSERT_TRUE(h.wait_done(50, 5s));
	const auto took = std::chrono::steady_clock::now() - t0;
	h.expect_each_once(0, 50);
	for (auto &d : h.done) {
		EXPECT_EQ(d.resp.status, SST_STATUS_NO_DEVICE);
		EXPECT_EQ(d.resp.request_id, d.cookie);
	}
	EXPECT_LT(took, 5s);
	auto s = h.stats();
	EXPECT_EQ(s.no_device, 50u);
	EXPECT_EQ(s.connected, 0u);
	EXPECT_EQ(s.timeouts, 0u);
	// Local requests still work without a simulator.
	ASSERT_EQ(h.submit(test::make_req(SST_REQ_NOOP, 99), 99), 0);
	ASSERT_EQ(h.submit(test::make_req(SST_REQ_RESET, 98), 98), 0);
	ASSERT_TRUE(h.wait_done(52));
	EXPECT_EQ(h.only(99).status, SST_STATUS_OK);
	EXPECT_EQ(h.only(98).status, SST_STATUS_OK);
	// The RESET the core passes on to the (absent) simulator is its own
	// business: it must not surface as a second completion.
	h.reap_once(50);
	EXPECT_EQ(h.done.size(), 52u);
	EXPECT_EQ(h.stats().inflight, 0u);
}

TEST_P(Reconnect, SimulatorStartedLaterIsPickedUp)
{
	FakeSim sim(GetParam().sim);
	Harness h(sim.path().c_str(), GetParam().dev, 30000, 0, 40);
	std::this_thread::sleep_for(100ms); // several failed attempts
	sim.start();
	ASSERT_TRUE(h.wait_connected(true, 5s));
	ASSERT_EQ(h.submit(make_compute(1, 4), 1), 0);
	ASSERT_TRUE(h.wait_done(1));
	EXPECT_EQ(h.only(1).status, SST_STATUS_OK);
	EXPECT_EQ(h.only(1).result, 8u);
	EXPECT_EQ(h.stats().reconnects, 0u); // first connection, not a re-connection
}

TEST_P(Reconnect, KilledAndRestartedMidRun)
{
	FakeSim sim(GetParam().sim);
	sim.start();
	Harness h(sim.path().c_str(), GetParam().dev, 30000, 0, 50);
	ASSERT_TRUE(h.wait_connected(true));

	// Phase 1: requests in flight when the simulator dies.
	sim.auto_reply = false;
	constexpr uint64_t kInFlight = 20;
	for (uint64_t i = 0; i < kInFlight; i++)
		ASSERT_EQ(h.submit(make_compute(i, 1), i), 0);
	ASSERT_TRUE(sim.wait_held(1, 5s));
	sim.stop();
	ASSERT_TRUE(h.wait_done(kInFlight, 5s));
	h.expect_each_once(0, kInFlight);
	for (auto &d : h.done)
		EXPECT_EQ(d.resp.status, SST_STATUS_NO_DEVICE) << d.cookie;
	ASSERT_TRUE(h.wait_connected(false));

	// Phase 2: while it is away, every forwarded request is NO_DEVICE.
	for (uint64_t i = 100; i < 110; i++)
		ASSERT_EQ(h.submit(make_compute(i, 1), i), 0);
	ASSERT_TRUE(h.wait_done(kInFlight + 10, 5s));
	for (uint64_t i = 100; i < 110; i++)
		EXPECT_EQ(h.only(i).status, SST_STATUS_NO_DEVICE);

	// Phase 3: restarted; the client comes back within the backoff cap.
	sim.auto_reply = true;
	sim.start();
	ASSERT_TRUE(h.wait_connected(true, 5s));
	for (uint64_t i = 200; i < 300; i++)
		ASSERT_EQ(h.submit(make_compute(i, i), i), 0);
	ASSERT_TRUE(h.wait_done(kInFlight + 10 + 100, 10s));
	for (uint64_t i = 200; i < 300; i++) {
		ASSERT_EQ(h.only(i).status, SST_STATUS_OK);
		ASSERT_EQ(h.only(i).result, i * 2);
	}
	h.reap_once(50);
	EXPECT_EQ(h.done.size(), kInFlight + 10 + 100) << "duplicate completions";
	auto s = h.stats();
	EXPECT_EQ(s.reconnects, 1u);
	EXPECT_EQ(s.no_device, kInFlight + 10);
	EXPECT_EQ(s.connected, 1u);
	EXPECT_EQ(s.inflight, 0u);
	if (GetParam().sim == FakeSim::Proto::acalsim) {
		EXPECT_EQ(sim.overlap.load(), 0);
	}
}

TEST_P(Reconnect, ConnectionDroppedBySimulatorRecovers)
{
	FakeSim sim(GetParam().sim);
	sim.start();
	Harness h(sim.path().c_str(), GetParam().dev, 30000, 0, 50);
	ASSERT_TRUE(h.wait_connected(true));
	for (int round = 0; round < 5; round++) {
		// acalsim has no handshake: the client may be "ready" before the accept.
		ASSERT_TRUE(sim.wait_connections(round + 1, 5s));
		sim.drop_client();
		ASSERT_TRUE(sim.wait_connections(round + 2, 5s)) << round;
		// Back once the new link has finished its handshake.
		const auto end = std::chrono::steady_clock::now() + 5s;
		while (h.stats().reconnects < static_cast<uint64_t>(round) + 1 &&
		       std::chrono::steady_clock::now() < end)
			std::this_thread::sleep_for(1ms);
		ASSERT_EQ(h.stats().reconnects, static_cast<uint64_t>(round) + 1);
		ASSERT_TRUE(sim.wait_connections(round + 2, 5s));
		const uint64_t c = 1000 + static_cast<uint64_t>(round);
		ASSERT_EQ(h.submit(make_compute(c, 3), c), 0);
		ASSERT_TRUE(h.wait_done(static_cast<size_t>(round) + 1));
		EXPECT_EQ(h.only(c).status, SST_STATUS_OK);
		EXPECT_EQ(h.only(c).result, 6u);
	}
	EXPECT_GE(h.stats().reconnects, 5u);
}

INSTANTIATE_TEST_SUITE_P(
	Protocols, Reconnect,
	::testing::Values(ProtoCase{"framed", FakeSim::Proto::framed, VSST_DEV_PROTO_FRAMED},
			  ProtoCase{"acalsim", FakeSim::Proto::acalsim, VSST_DEV_PROTO_ACALSIM}),
	[](const ::testing::TestParamInfo<ProtoCase> &i) { return std::string(i.param.name); });

} // namespace
} // namespace vsst
