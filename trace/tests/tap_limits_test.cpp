// SPDX-License-Identifier: Apache-2.0
// replay.tap_limits: the virtio tap against a hostile guest (issue: a guest
// could make the device VM's recorder keep or copy without bound). Drives
// the recorder's VirtioTap directly with small TapLimits: queue sizes are the
// ones QEMU accepts, remembered chains share one memory budget, a chain's
// device-readable bytes and one call's copying are capped, and what a limit
// cuts off is counted as dropped.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "../src/recorder/guest_ram.hpp"
#include "../src/recorder/virtio_tap.hpp"
#include "../src/recorder/writer.hpp"

using namespace vsst::trace;

namespace {

constexpr uint64_t kBar = 0xe0000000, kDesc = 0x10000, kAvail = 0x11000, kUsed = 0x12000;
constexpr uint64_t kData = 0x100000; // buffers from here on
constexpr size_t kRamSize = 8u << 20;

vsst_rpcmsg mmio(unsigned as, uint64_t addr, unsigned len, unsigned dir, uint64_t data, bool posted = false)
{
	return {vsst_rpc_mr0(VSST_RPC_OP_MMIO, 0, dir, as, len, posted), addr, data, 7};
}

// A virtio-pci device as the tap sees it (BAR 4: common config at 0, notify
// at 0x3000) with queue 0 of size 8, over an 8 MiB guest RAM memfd; the
// writer drains to /dev/null.
struct Rig {
	int fd = -1;
	uint8_t *p = nullptr;
	GuestRam ram;
	Writer w;
	VirtioTap tap;

	Rig(TapLimits limits, uint64_t writer_budget = 64u << 20)
		: fd(make_ram()), w(::open("/dev/null", O_WRONLY | O_CLOEXEC), {}, writer_budget),
		  tap(w, map_ram(), {}, limits)
	{
		device_set_up();
	}
	~Rig()
	{
		w.finish();
		if (p)
			::munmap(p, kRamSize);
		::close(fd);
	}
	static int make_ram()
	{
		const int f = ::memfd_create("ram", MFD_CLOEXEC);
		EXPECT_EQ(::ftruncate(f, kRamSize), 0);
		return f;
	}
	const GuestRam &map_ram()
	{
		p = static_cast<uint8_t *>(
			::mmap(nullptr, kRamSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
		vsst_ram_layout l{};
		l.count = 1;
		l.region[0] = {0, kRamSize, 0, fd};
		EXPECT_EQ(ram.map(l), 0);
		return ram;
	}
	template <class T> void put(uint64_t gpa, T v) { std::memcpy(p + gpa, &v, sizeof v); }
	void sent(const vsst_rpcmsg &m) { tap.on_message(0, m); }
	void done(const vsst_rpcmsg &m) { tap.on_message(1, m); }
	void device_set_up()
	{
		tap.on_message(
			2, {vsst_rpc_mr0(VSST_RPC_OP_REGISTER_PCI_DEV, 0, 0, 0, 0, 0), 0, 0x1af4107full, 0});
		done(mmio(0, 0x20, 4, 0, 0x4)); // BAR4: 64-bit memory
		sent(mmio(0, 0x20, 4, 1, kBar));
		sent(mmio(0, 0x24, 4, 1, 0));
		done(mmio(0, 0x34, 1, 0, 0x40));
		done(mmio(0, 0x40, 4, 0, 0x01105009)); // common cfg, next 0x50
		done(mmio(0, 0x44, 4, 0, 0x4));
		done(mmio(0, 0x48, 4, 0, 0x0));
		done(mmio(0, 0x4c, 4, 0, 0x1000));
		done(mmio(0, 0x50, 4, 0, 0x02140009)); // notify cfg
		done(mmio(0, 0x54, 4, 0, 0x4));
		done(mmio(0, 0x58, 4, 0, 0x3000));
		done(mmio(0, 0x5c, 4, 0, 0x1000));
		done(mmio(0, 0x60, 4, 0, 4));
		sent(mmio(0xff, kBar + 22, 2, 1, 0));
		done(mmio(0xff, kBar + 24, 2, 0, 8)); // the device offers 8
		sent(mmio(0xff, kBar + 32, 8, 1, kDesc));
		sent(mmio(0xff, kBar + 40, 8, 1, kAvail));
		sent(mmio(0xff, kBar + 48, 8, 1, kUsed));
	}
	// Descriptor i of the table: len bytes at gpa, flags, next.
	void desc(uint64_t table, unsigned i, uint64_t gpa, uint32_t len, uint16_t flags, uint16_t next)
	{
		const uint64_t d = table + 16ull * i;
		put<uint64_t>(d, gpa);
		put<uint32_t>(d + 8, len);
		put<uint16_t>(d + 12, flags);
		put<uint16_t>(d + 14, next);
	}
	// Publishes head as avail entry pos (queue size 8).
	void avail(uint16_t head, uint16_t pos)
	{
		put<uint16_t>(kAvail + 4 + 2 * (pos & 7), head);
		put<uint16_t>(kAvail + 2, static_cast<uint16_t>(pos + 1));
	}
	void doorbell() { sent(mmio(0xff, kBar + 0x3000, 2, 1, 0, true)); }
	uint64_t dropped() { return w.stats().dropped_records; }
};

// An indirect table at table with n descriptors of len bytes each, all
// device-readable (write = false) or device-writable, chained in order.
void indirect_chain(Rig &r, uint64_t table, unsigned n, uint32_t len, bool write)
{
	for (unsigned i = 0; i < n; i++)
		r.desc(table, i, kData + 4096ull * (i % 256), len,
		       static_cast<uint16_t>((write ? 2 : 0) | (i + 1 < n ? 1 : 0)),
		       static_cast<uint16_t>(i + 1));
}

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
