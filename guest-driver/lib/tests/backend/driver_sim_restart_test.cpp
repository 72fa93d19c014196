// SPDX-License-Identifier: Apache-2.0
// backend.driver_sim_restart: the simulator is killed mid-run. Requests the
// device must forward are answered NO_DEVICE promptly (locally answered ones
// still work), nothing hangs; after the simulator comes back on the same
// socket the device reconnects and forwarded requests succeed again.
#include <gtest/gtest.h>

#include <thread>

#include "rig.h"

namespace vsst::test {
namespace {

SSTRequest compute(uint64_t units)
{
	SSTRequest r = make_request(SST_REQ_COMPUTE);
	r.payload.compute.compute_units = units;
	return r;
}

TEST(BackendDriverSimRestart, NoDeviceThenRecovery)
{
	BackendRig rig;
	auto s = rig.open_sst();
	auto &d = *s.driver;
	ASSERT_EQ(d.call(compute(100), 5s).status(), SST_STATUS_OK);

	// Some requests in flight when the simulator dies.
	for (int i = 0; i < 16; i++)
		ASSERT_TRUE(d.submit(compute(1000000)));
	d.kick();
	rig.sim()->kill_now();

	// Every one of them completes (OK if it made it, else an error status).
	size_t done = 0;
	auto deadline = std::chrono::steady_clock::now() + 15s;
	while (done < 16 && std::chrono::steady_clock::now() < deadline) {
		d.wait(500ms);
		done += d.reap([](const virtio::SstResult &r) { EXPECT_TRUE(r.valid); });
	}
	ASSERT_EQ(done, 16u) << "requests in flight when the simulator died never completed";

	// While it is away: NO_DEVICE, promptly.
	bool saw_no_device = false;
	deadline = std::chrono::steady_clock::now() + 10s;
	while (!saw_no_device && std::chrono::steady_clock::now() < deadline) {
		const auto t0 = std::chrono::steady_clock::now();
		// Longer than the request timeout, so a NO_DEVICE that waited for it is seen.
		const auto r = d.call(compute(10), 15s);
		const auto took = std::chrono::steady_clock::now() - t0;
		if (r.status() == SST_STATUS_NO_DEVICE) {
			saw_no_device = true;
			// Bound by what it must not wait for: the device core's 10 s
			// request timeout (half of it, so a timeout can never pass).
			EXPECT_LT(took, 5s) << "NO_DEVICE should come without waiting for a timeout";
		}
		std::this_thread::sleep_for(20ms);
	}
	ASSERT_TRUE(saw_no_device) << rig.qemu_log();
	EXPECT_EQ(d.call(make_request(SST_REQ_NOOP), 5s).status(), SST_STATUS_OK)
		<< "locally answered requests keep working";
	EXPECT_EQ(d.call(make_read(0, 16), 5s).status(), SST_STATUS_NO_DEVICE);

	// The simulator comes back on the same socket: the device reconnects.
	rig.sim()->restart();
	bool recovered = false;
	deadline = std::chrono::steady_clock::now() + 20s;
	while (!recovered && std::chrono::steady_clock::now() < deadline) {
		// Longer than the request timeout, so a NO_DEVICE that waited for it is seen.
		const auto r = d.call(compute(10), 15s);
		recovered = r.status() == SST_STATUS_OK;
		if (!recovered) {
			EXPECT_EQ(r.status(), SST_STATUS_NO_DEVICE);
			std::this_thread::sleep_for(50ms);
		}
	}
	ASSERT_TRUE(recovered) << "no recovery after the simulator restarted\n" << rig.qemu_log();
	const std::vector<uint8_t> data(100, 0x77);
	EXPECT_EQ(d.call(make_write(0x2000, data), 5s).status(), SST_STATUS_OK);
	const auto r = d.call(make_read(0x2000, 100), 5s);
	ASSERT_EQ(r.status(), SST_STATUS_OK);
	EXPECT_EQ(r.resp.payload.data[99], 0x77);
}

} // namespace
} // namespace vsst::test

VSST_BACKEND_TEST_MAIN()
