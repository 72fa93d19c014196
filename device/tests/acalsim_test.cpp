// SPDX-License-Identifier: Apache-2.0
// The `acalsim` compatibility protocol: raw SSTRequest -> SSTResponse, one
// at a time, queued in order; timeouts resynchronise without mixing replies.
#include <gtest/gtest.h>

#include "fake_sim.h"
#include "harness.h"

namespace vsst {
namespace {

using namespace std::chrono_literals;
using test::FakeSim;
using test::Harness;
using test::make_compute;
using test::make_req;

class Acalsim : public ::testing::Test {
protected:
	void SetUp() override { sim.start(); }
	FakeSim sim{FakeSim::Proto::acalsim};
};

TEST_F(Acalsim, RoundTripWholeStructs)
{
	Harness h(sim.path().c_str(), VSST_DEV_PROTO_ACALSIM);
	ASSERT_TRUE(h.wait_connected(true));
	SSTRequest rd = make_req(SST_REQ_READ, 2);
	rd.payload.memory.addr = 5;
	rd.payload.memory.size = 16;
	ASSERT_EQ(h.submit(make_compute(1, 21), 1), 0);
	ASSERT_EQ(h.submit(rd, 2), 0);
	ASSERT_TRUE(h.wait_done(2));
	EXPECT_EQ(h.only(1).status, SST_STATUS_OK);
	EXPECT_EQ(h.only(1).result, 42u);
	EXPECT_EQ(h.only(2).payload.data[0], 5u);
	EXPECT_EQ(h.only(2).payload.data[15], 20u);
	EXPECT_EQ(sim.last_req_len.load(), sizeof(SSTRequest));
	EXPECT_EQ(sim.hellos.load(), 0); // no greeting in this protocol
}

TEST_F(Acalsim, StrictlyOneAtATimeAndInOrder)
{
	sim.reply_delay_ms = 1;
	Harness h(sim.path().c_str(), VSST_DEV_PROTO_ACALSIM);
	ASSERT_TRUE(h.wait_connected(true));
	constexpr uint64_t kN = 100;
	for (uint64_t i = 0; i < kN; i++)
		ASSERT_EQ(h.submit(make_compute(i, i), i), 0);
	ASSERT_TRUE(h.wait_done(kN, 20s));
	h.expect_each_once(0, kN);
	for (uint64_t i = 0; i < kN; i++) {
		EXPECT_EQ(h.done[i].cookie, i) << "FIFO order";
		EXPECT_EQ(h.done[i].resp.result, i * 2);
	}
	EXPECT_EQ(sim.overlap.load(), 0) << "a request was sent before the previous reply";
	EXPECT_EQ(sim.requests.load(), static_cast<int>(kN));
}

TEST_F(Acalsim, ResetStaysLocal)
{
	sim.auto_reply = false;
	Harness h(sim.path().c_str(), VSST_DEV_PROTO_ACALSIM);
	ASSERT_TRUE(h.wait_connected(true));
	ASSERT_EQ(h.submit(make_req(SST_REQ_RESET, 1), 1), 0);
	ASSERT_TRUE(h.wait_done(1));
	EXPECT_EQ(h.only(1).status, SST_STATUS_OK);
	EXPECT_FALSE(sim.wait_held(1, 50ms));
}

TEST_F(Acalsim, HeldRequestBlocksTheNextOne)
{
	sim.auto_reply = false;
	Harness h(sim.path().c_str(), VSST_DEV_PROTO_ACALSIM);
	ASSERT_TRUE(h.wait_connected(true));
	ASSERT_EQ(h.submit(make_compute(1, 1), 1), 0);
	ASSERT_EQ(h.submit(make_compute(2, 2), 2), 0);
	ASSERT_TRUE(sim.wait_held(1, 5s));
	EXPECT_FALSE(sim.wait_held(2, 100ms)); // the second waits for the first reply
	auto first = sim.take_held();
	ASSERT_EQ(first.size(), 1u);
	sim.reply(first[0]);
	ASSERT_TRUE(sim.wait_held(1, 5s));
	sim.reply(sim.take_held()[0]);
	ASSERT_TRUE(h.wait_done(2));
	EXPECT_EQ(h.only(1).result, 2u);
	EXPECT_EQ(h.only(2).result, 4u);
	EXPECT_EQ(sim.overlap.load(), 0);
}

TEST_F(Acalsim, TimeoutSwallowsTheLateReplyBeforeSendingTheNext)
{
	sim.auto_reply = false;
	Harness h(sim.path().c_str(), VSST_DEV_PROTO_ACALSIM, 300);
	ASSERT_TRUE(h.wait_connected(true));
	ASSERT_EQ(h.submit(make_compute(1, 1), 1), 0);
	ASSERT_TRUE(sim.wait_held(1, 5s));
	ASSERT_TRUE(h.wait_done(1, 5s));
	EXPECT_EQ(h.only(1).status, SST_STATUS_TIMEOUT);
	ASSERT_EQ(h.submit(make_compute(2, 2), 2), 0);
	// Not sent while the first one's reply is still owed.
	EXPECT_FALSE(sim.wait_held(2, 50ms));
	sim.reply(sim.take_held()[0]); // the late reply for request 1
	ASSERT_TRUE(sim.wait_held(1, 5s));
	sim.reply(sim.take_held()[0]);
	ASSERT_TRUE(h.wait_done(2, 5s));
	EXPECT_EQ(h.only(2).status, SST_STATUS_OK);
	EXPECT_EQ(h.only(2).result, 4u) << "late reply of request 1 mistaken for request 2";
	EXPECT_EQ(sim.connections.load(), 1);
}

TEST_F(Acalsim, PeerThatNeverAnswersIsDroppedAndRetried)
{
	sim.auto_reply = false;
	Harness h(sim.path().c_str(), VSST_DEV_PROTO_ACALSIM, 150);
	ASSERT_TRUE(h.wait_connected(true));
	ASSERT_EQ(h.submit(make_compute(1, 1), 1), 0);
	ASSERT_TRUE(h.wait_done(1, 5s));
	EXPECT_EQ(h.only(1).status, SST_STATUS_TIMEOUT);
	ASSERT_TRUE(sim.wait_connections(2, 5s)); // gave up on the stream, reconnected
	EXPECT_TRUE(h.log.contains("never answered"));
}

TEST_F(Acalsim, UnsolicitedResponseIsAProtocolFault)
{
	Harness h(sim.path().c_str(), VSST_DEV_PROTO_ACALSIM);
	ASSERT_TRUE(h.wait_connected(true));
	ASSERT_TRUE(sim.wait_connections(1, 5s)); // no handshake: make sure the sim has accepted
	SSTResponse junk{};
	sim.send_raw(&junk, sizeof(junk));
	ASSERT_TRUE(sim.wait_connections(2, 5s));
	EXPECT_TRUE(h.log.contains("nobody asked"));
}

TEST_F(Acalsim, CancelAllDropsQueuedAndSwallowsTheOnWireReply)
{
	sim.auto_reply = false;
	Harness h(sim.path().c_str(), VSST_DEV_PROTO_ACALSIM);
	ASSERT_TRUE(h.wait_connected(true));
	for (uint64_t i = 0; i < 5; i++)
		ASSERT_EQ(h.submit(make_compute(i, 1), i), 0);
	ASSERT_TRUE(sim.wait_held(1, 5s));
	vsst_dev_cancel_all(h.dev);
	ASSERT_EQ(h.submit(make_compute(50, 25), 50), 0);
	sim.reply(sim.take_held()[0]); // reply to cancelled request 0
	ASSERT_TRUE(sim.wait_held(1, 5s));
	auto next = sim.take_held();
	ASSERT_EQ(next.size(), 1u);
	EXPECT_EQ(next[0].req.request_id, 50u) << "cancelled queued requests were still sent";
	sim.reply(next[0]);
	ASSERT_TRUE(h.wait_done(1));
	h.reap_once(50);
	ASSERT_EQ(h.done.size(), 1u);
	EXPECT_EQ(h.done[0].cookie, 50u);
	EXPECT_EQ(h.done[0].resp.result, 50u);
}

} // namespace
} // namespace vsst
