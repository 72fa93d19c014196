// SPDX-License-Identifier: Apache-2.0
// backend.driver_hostile_io: a hostile guest on the transmit queues of QEMU's virtio-net and
// virtio-console (virtio-serial) in a device VM. This process plays the guest with the
// host-side driver and writes what a broken or malicious guest driver would into the rings:
// a buffer outside guest RAM, a looped chain, a chain whose next index is out of range, an
// available index that runs ahead of the ring. QEMU's own validation must catch each one:
// the device reports it (DEVICE_NEEDS_RESET, a line on the device VM's stderr) and stops,
// the device VM stays up, its other devices keep serving, and after a reset the same device
// works again.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <thread>

#include "rig.h"
#include "vsst/virtio/device.h"
#include "vsst/virtio/spec.h"

namespace vsst::test {
namespace {

constexpr uint16_t kNetId = virtio::pci::kModernDeviceBase + 1;     // virtio-net
constexpr uint16_t kConsoleId = virtio::pci::kModernDeviceBase + 3; // virtio-console
constexpr uint16_t kTxQueue = 1; // both: queue 1 transmits (net: tx0; console: port 0 out)
constexpr uint16_t kDescNext = 1;

RigOptions hostile_rig()
{
	RigOptions o;
	o.with_sim = false;
	// The NIC on a hub whose other port leads nowhere (a hub port alone refuses frames, so
	// transmits would wait forever) and a null chardev: what the devices send is dropped,
	// and no host network or file is involved. disable-legacy=on: the modern
	// device IDs (0x1041, 0x1043) the test looks for.
	o.extra_args = {"-netdev",   "hubport,id=n0,hubid=0", "-netdev", "hubport,id=n1,hubid=0", "-chardev",
			"null,id=c0"};
	o.extra_device_args = {"virtio-net-pci,netdev=n0,romfile=,disable-legacy=on",
			       "virtio-serial-pci,id=vs0,max_ports=1,disable-legacy=on",
			       "virtconsole,chardev=c0,bus=vs0.0"};
	return o;
}

// Brings the device up with no optional features: VERSION_1 only, no event index (the
// avail ring's layout is then the plain one), two queues.
void bring_up(virtio::VirtioDevice &dev)
{
	dev.negotiate(0, 0, false);
	const uint16_t sizes[] = {64, 64};
	dev.setup_queues(sizes);
	dev.driver_ok();
}

bool wait_for(virtio::RpcGuest &g, const std::function<bool()> &cond, std::chrono::milliseconds bound)
{
	const auto deadline = std::chrono::steady_clock::now() + bound;
	while (!cond()) {
		if (std::chrono::steady_clock::now() >= deadline)
			return false;
		g.pump(10ms);
	}
	return true;
}

// A buffer the device may read: for virtio-net a 12-byte virtio_net_hdr (all zero: no
// offload) and a 60-byte broadcast frame; for the console 64 bytes of text.
struct TxBuffer {
	virtio::DmaBuffer buf;
	virtio::BufferRef ref;
	TxBuffer(virtio::GuestMemory &mem, bool net) : buf(mem, 128)
	{
		const uint32_t len = net ? 12 + 60 : 64;
		std::memset(buf.host(), 0, len);
		if (net)
			std::memset(buf.host() + 12, 0xff, 6);
		else
			std::memcpy(buf.host(), "hostile guest test: a valid buffer after the reset\n", 51);
		ref = {buf.gpa(), len};
	}
};

// What a hostile guest does to the chain at head before it kicks. flagged: QEMU 7.2's
// virtqueue code rejects it (virtio_error: DEVICE_NEEDS_RESET and a line on stderr); the
// others it does not check, and the device just consumes what it finds - what must hold
// for every one is that the device VM stays up and the device works after a reset.
struct Abuse {
	const char *name;
	bool flagged;
	std::function<void(virtio::SplitVirtqueue &, uint16_t head)> apply;
};

std::vector<Abuse> abuses()
{
	return {
		{"length running past the end of RAM", true,
		 [](virtio::SplitVirtqueue &q, uint16_t h) { q.desc_table()[h].len = 0xfffff000u; }},
		{"looped chain", true,
		 [](virtio::SplitVirtqueue &q, uint16_t h) {
			 q.desc_table()[h].flags |= kDescNext;
			 q.desc_table()[h].next = h;
		 }},
		{"next index out of range", true,
		 [](virtio::SplitVirtqueue &q, uint16_t h) {
			 q.desc_table()[h].flags |= kDescNext;
			 q.desc_table()[h].next = 0x7fff;
		 }},
		{"available index ahead of the ring", false,
		 [](virtio::SplitVirtqueue &q, uint16_t) {
			 q.avail_words()[1] = static_cast<uint16_t>(q.avail_words()[1] + 1000);
		 }},
		{"buffer outside guest RAM", false,
		 [](virtio::SplitVirtqueue &q, uint16_t h) { q.desc_table()[h].addr = 0x4000000000ull; }},
	};
}

void hostile_queue(BackendRig &rig, virtio::RngDriver &rng, uint16_t device_id, const char *what)
{
	auto &g = rig.guest();
	const auto index = g.find_device(virtio::pci::kVirtioVendor, device_id);
	ASSERT_TRUE(index) << "the device VM registered no " << what;
	virtio::RpcVirtioPci pci(g, *index);
	virtio::VirtioDevice dev(*pci.transport, g.memory());
	const bool net = device_id == kNetId;
	for (const Abuse &a : abuses()) {
		SCOPED_TRACE(std::string(what) + ": " + a.name);
		bring_up(dev);
		TxBuffer tx(g.memory(), net);
		auto &q = dev.queue(kTxQueue);
		ASSERT_EQ(q.add_buffer(std::span(&tx.ref, 1), {}, 1), virtio::AddResult::kOk);
		// The chain's head, from the avail ring just published (flags, idx, ring[]).
		const uint16_t *avail = q.avail_words();
		const uint16_t head = avail[2 + static_cast<uint16_t>(avail[1] - 1) % q.size()];
		a.apply(q, head);
		q.kick();
		// QEMU's validation: the device marks itself broken and says so.
		const bool reported = wait_for(
			g, [&] { return (dev.transport().status() & virtio::status::kNeedsReset) != 0; },
			a.flagged ? 10s : 2s);
		if (a.flagged) {
			EXPECT_TRUE(reported) << "no DEVICE_NEEDS_RESET; log:\n" << rig.qemu_log();
		}
		std::printf("%s, %s: %s\n", what, a.name,
			    reported ? "DEVICE_NEEDS_RESET" : "not reported, consumed by the device");
		ASSERT_TRUE(rig.backend().process().running()) << rig.qemu_log();
		// The device VM's other devices are untouched.
		EXPECT_EQ(rng.read(16, 5s).size(), 16u);
		// A reset brings the device back: a valid buffer goes through.
		dev.reset();
		bring_up(dev);
		TxBuffer ok(g.memory(), net);
		auto &q2 = dev.queue(kTxQueue);
		ASSERT_EQ(q2.add_buffer(std::span(&ok.ref, 1), {}, 2), virtio::AddResult::kOk);
		q2.kick();
		EXPECT_TRUE(wait_for(
			g, [&] { return q2.has_used(); }, 10s))
			<< "the reset device did not take a valid buffer; log:\n"
			<< rig.qemu_log();
		auto used = q2.get_buffer();
		ASSERT_TRUE(used);
		EXPECT_EQ(used->token, 2u);
		EXPECT_FALSE(dev.needs_reset());
		dev.reset();
	}
}

TEST(BackendDriverHostileIo, NetTransmitQueue)
{
	BackendRig rig(hostile_rig());
	auto rng = rig.open_rng();
	hostile_queue(rig, *rng.driver, kNetId, "virtio-net");
	EXPECT_TRUE(rig.backend().process().running());
	EXPECT_FALSE(vsst_rpc_poisoned(rig.guest().channel())) << rig.guest().poison_reason();
	// QEMU reports each violation on the device VM's stderr (virtio_error).
	const std::string log = rig.backend().process().log_tail(8000);
	EXPECT_NE(log.find("oop"), std::string::npos) << "no looped-descriptor report:\n" << log;
}

TEST(BackendDriverHostileIo, ConsoleTransmitQueue)
{
	BackendRig rig(hostile_rig());
	auto rng = rig.open_rng();
	hostile_queue(rig, *rng.driver, kConsoleId, "virtio-console");
	EXPECT_TRUE(rig.backend().process().running());
	EXPECT_FALSE(vsst_rpc_poisoned(rig.guest().channel())) << rig.guest().poison_reason();
	const std::string log = rig.backend().process().log_tail(8000);
	EXPECT_NE(log.find("oop"), std::string::npos) << "no looped-descriptor report:\n" << log;
}

} // namespace
} // namespace vsst::test

VSST_BACKEND_TEST_MAIN()
