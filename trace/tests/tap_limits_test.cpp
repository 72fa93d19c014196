// SPDX-License-Identifier: Apache-2.0
// replay.tap_limits: the virtio tap against a hostile guest (issue: a guest
// could make the device VM's recorder keep or copy without bound). Drives
// the recorder's VirtioTap directly with small TapLimits: queue sizes are the
// ones QEMU accepts, remembered chains share one memory budget, a chain's
// device-readable bytes and one call's copying are capped, and what a limit
// cuts off is counted as dropped.
#include <gtest/gtest.h>

#include <cstring>

#include "tap_rig.hpp"

using namespace vsst::trace;
using namespace vsst::trace::testing;

namespace {

// QEMU refuses queue sizes above VIRTQUEUE_MAX_SIZE (and 0) and keeps the
// old one; the tap used to take the guest's write, so 32768 heads could be
// remembered, each up to 8 times.
TEST(TapLimits, QueueSizeIsWhatTheDeviceAccepts)
{
	Rig r({});
	r.sent(mmio(0xff, kBar + 24, 2, 1, 32768));
	r.sent(mmio(0xff, kBar + 24, 2, 1, 0));
	EXPECT_EQ(r.tap.anomalies(), 2u);
	// Still size 8: avail.idx moving by 9 is more than the queue holds.
	r.put<uint16_t>(kAvail + 2, 9);
	r.doorbell();
	EXPECT_EQ(r.tap.anomalies(), 3u);
	// A size the device accepts (QEMU allows up to 1024) is followed.
	r.sent(mmio(0xff, kBar + 24, 2, 1, 1024));
	EXPECT_EQ(r.tap.anomalies(), 3u);
}

// Chains the device has not used yet share one memory budget: a guest that
// keeps making long chains available (never used) stops being remembered
// at the budget, with an anomaly for each one refused.
TEST(TapLimits, RememberedChainsShareOneBudget)
{
	TapLimits l;
	l.inflight_bytes = 64u << 10;
	Rig r(l);
	// Each head: one indirect descriptor -> 1000 device-writable segments.
	for (uint16_t pos = 0; pos < 64; pos++) {
		const uint16_t head = pos & 7;
		const uint64_t table = 0x200000 + 0x4000ull * head;
		indirect_chain(r, table, 1000, 16, true);
		r.desc(kDesc, head, table, 16000, 4, 0);
		r.avail(head, pos);
		r.doorbell();
		ASSERT_LE(r.tap.inflight_bytes(), l.inflight_bytes) << "after chain " << pos;
	}
	EXPECT_GT(r.tap.inflight_bytes(), 0u);
	EXPECT_GT(r.tap.anomalies(), 0u);
}

// A chain's device-readable bytes are copied up to chain_out_bytes; the rest
// is dropped (counted) without being read.
TEST(TapLimits, ReadableBytesOfOneChainAreCapped)
{
	TapLimits l;
	l.chain_out_bytes = 64u << 10;
	Rig r(l);
	const uint64_t table = 0x200000;
	indirect_chain(r, table, 100, 4096, false); // 400 KiB to read
	r.desc(kDesc, 0, table, 1600, 4, 0);
	r.avail(0, 0);
	r.doorbell();
	EXPECT_LE(r.tap.max_call_bytes(), l.chain_out_bytes + 4096);
	EXPECT_GT(r.dropped(), 0u);
	EXPECT_EQ(r.tap.anomalies(), 1u);
}

// One call (here: one doorbell for 8 chains) copies at most call_bytes out of
// guest RAM, however much the chains name: that bounds how long the tap
// holds the recorder's lock, which the device VM's main loop also takes.
TEST(TapLimits, OneCallCopiesAtMostItsBudget)
{
	TapLimits l;
	l.call_bytes = 256u << 10;
	Rig r(l);
	for (uint16_t head = 0; head < 8; head++) {
		const uint64_t table = 0x200000 + 0x4000ull * head;
		indirect_chain(r, table, 16, 4096, false); // 64 KiB each, 512 KiB in all
		r.desc(kDesc, head, table, 256, 4, 0);
		r.avail(head, head);
	}
	r.doorbell();
	EXPECT_LE(r.tap.max_call_bytes(), l.call_bytes);
	EXPECT_GT(r.tap.max_call_bytes(), l.call_bytes / 2);
	EXPECT_GT(r.dropped(), 0u);
}

} // namespace
