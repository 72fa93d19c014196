// SPDX-License-Identifier: Apache-2.0
// replay.sim_observer: the device core's simulator-stream observer
// (vsst_dev_set_sim_observer), which the device VM uses to put the
// simulator exchange into RPC traces. An observer installed right after
// vsst_dev_new() sees the whole connection from its first byte; one
// installed after requests were made starts with the next connection;
// removing it stops every call.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "fake_sim.h"
#include "vsst/sim-wire.h"
#include "vsst/sst_device.h"

namespace {

using namespace std::chrono_literals;
using vsst::test::FakeSim;

struct Event {
	int what;
	unsigned conn;
	std::vector<uint8_t> bytes;
};

struct Recorder {
	std::mutex mu;
	std::vector<Event> events;

	static void fn(void *opaque, int what, unsigned conn, const void *data, size_t len)
	{
		auto *r = static_cast<Recorder *>(opaque);
		const auto *p = static_cast<const uint8_t *>(data);
		std::lock_guard<std::mutex> g(r->mu);
		r->events.push_back(
			{what, conn, p ? std::vector<uint8_t>(p, p + len) : std::vector<uint8_t>()});
	}
	std::vector<Event> snapshot()
	{
		std::lock_guard<std::mutex> g(mu);
		return events;
	}
	// Bytes of direction `what` (0 sent, 1 received) on connection conn.
	std::vector<uint8_t> stream(int what, unsigned conn)
	{
		std::vector<uint8_t> out;
		for (const Event &e : snapshot())
			if (e.what == what && e.conn == conn)
				out.insert(out.end(), e.bytes.begin(), e.bytes.end());
		return out;
	}
};

struct Core {
	vsst_dev *dev = nullptr;
	explicit Core(const std::string &path)
	{
		vsst_dev_config cfg{};
		cfg.socket_path = path.c_str();
		cfg.reconnect_max_ms = 20;
		char err[256] = "";
		dev = vsst_dev_new(&cfg, err, sizeof err);
		EXPECT_NE(dev, nullptr) << err;
	}
	~Core() { vsst_dev_free(dev); }
	bool wait_connected(bool want, std::chrono::milliseconds t = 5s)
	{
		const auto end = std::chrono::steady_clock::now() + t;
		for (;;) {
			vsst_dev_stats st{};
			vsst_dev_get_stats(dev, &st);
			if ((st.connected != 0) == want)
				return true;
			if (std::chrono::steady_clock::now() >= end)
				return false;
			std::this_thread::sleep_for(5ms);
		}
	}
	// Submits a COMPUTE and reaps its completion (bounded).
	bool compute(uint64_t id)
	{
		SSTRequest r;
		std::memset(&r, 0, sizeof r);
		r.type = SST_REQ_COMPUTE;
		r.request_id = id;
		r.payload.compute.compute_units = 3;
		if (vsst_dev_submit(dev, &r, sizeof r, id) != 0)
			return false;
		struct Done {
			bool seen = false;
			uint32_t status = 0;
		} done;
		const auto end = std::chrono::steady_clock::now() + 5s;
		while (!done.seen && std::chrono::steady_clock::now() < end) {
			vsst_dev_reap(
				dev,
				[](void *o, uint64_t, const SSTResponse *resp) {
					static_cast<Done *>(o)->seen = true;
					static_cast<Done *>(o)->status = resp->status;
				},
				[](void *, const SSTEvent *) {}, &done);
			std::this_thread::sleep_for(1ms);
		}
		return done.seen && done.status == SST_STATUS_OK;
	}
};

uint32_t le32(const std::vector<uint8_t> &b, size_t off)
{
	uint32_t v = 0;
	std::memcpy(&v, b.data() + off, 4);
	return v;
}

TEST(SimObserver, InstalledAfterConnectSeesTheWholeConnection)
{
	FakeSim sim;
	sim.start();
	Core core(sim.path());
	ASSERT_TRUE(core.wait_connected(true)); // HELLO exchanged before the observer exists
	Recorder rec;
	vsst_dev_set_sim_observer(core.dev, Recorder::fn, &rec);
	ASSERT_TRUE(core.compute(1));

	const auto ev = rec.snapshot();
	ASSERT_FALSE(ev.empty());
	EXPECT_EQ(ev.front().what, 2) << "the connection comes first";
	EXPECT_EQ(ev.front().conn, 0u);
	const auto sent = rec.stream(0, 0), got = rec.stream(1, 0);
	ASSERT_GE(sent.size(), 2 * sizeof(vsst_sim_frame_hdr));
	ASSERT_GE(got.size(), sizeof(vsst_sim_frame_hdr));
	// The first frame each way is HELLO (handed over from the start-up log).
	EXPECT_EQ(le32(sent, 0), VSST_SIM_MAGIC);
	EXPECT_EQ(le32(got, 0), VSST_SIM_MAGIC);
	vsst_sim_frame_hdr h{};
	std::memcpy(&h, sent.data(), sizeof h);
	EXPECT_EQ(h.type, VSST_SIM_HELLO);
	EXPECT_EQ(sim.connections.load(), 1) << "no reconnection is needed to observe";

	// Removed: nothing more, not even for a new connection.
	vsst_dev_set_sim_observer(core.dev, nullptr, nullptr);
	const size_t n = rec.snapshot().size();
	sim.drop_client();
	ASSERT_TRUE(sim.wait_connections(2, 5s));
	ASSERT_TRUE(core.wait_connected(true));
	ASSERT_TRUE(core.compute(2));
	EXPECT_EQ(rec.snapshot().size(), n);
}

TEST(SimObserver, InstalledLateStartsWithTheNextConnection)
{
	FakeSim sim;
	sim.start();
	Core core(sim.path());
	ASSERT_TRUE(core.wait_connected(true));
	ASSERT_TRUE(core.compute(1)); // ends the start-up log
	Recorder rec;
	vsst_dev_set_sim_observer(core.dev, Recorder::fn, &rec);
	ASSERT_TRUE(core.compute(2));
	EXPECT_TRUE(rec.snapshot().empty()) << "a connection seen half way is not reported";

	sim.drop_client();
	ASSERT_TRUE(sim.wait_connections(2, 5s));
	ASSERT_TRUE(core.wait_connected(true));
	ASSERT_TRUE(core.compute(3));
	const auto ev = rec.snapshot();
	ASSERT_GE(ev.size(), 3u);
	// The lost connection may close before or after the observer got it:
	// either way the first event the observer gets for conn 1 is its start.
	size_t i = 0;
	while (i < ev.size() && ev[i].conn != 1)
		i++;
	ASSERT_LT(i, ev.size());
	EXPECT_EQ(ev[i].what, 2);
	const auto sent = rec.stream(0, 1);
	ASSERT_GE(sent.size(), sizeof(vsst_sim_frame_hdr));
	EXPECT_EQ(le32(sent, 0), VSST_SIM_MAGIC);
	vsst_dev_set_sim_observer(core.dev, nullptr, nullptr);
}

TEST(SimObserver, WithoutSimulatorIsANoOp)
{
	vsst_dev_config cfg{};
	char err[256] = "";
	vsst_dev *dev = vsst_dev_new(&cfg, err, sizeof err);
	ASSERT_NE(dev, nullptr) << err;
	Recorder rec;
	vsst_dev_set_sim_observer(dev, Recorder::fn, &rec);
	vsst_dev_set_sim_observer(nullptr, Recorder::fn, &rec);
	vsst_dev_set_sim_observer(dev, nullptr, nullptr);
	vsst_dev_free(dev);
	EXPECT_TRUE(rec.snapshot().empty());
}

} // namespace
