// SPDX-License-Identifier: Apache-2.0
// PCI helpers, virtio-pci modern and virtio-mmio transports against the
// fake device models.
#include <gtest/gtest.h>

#include <cstring>

#include "fake_device.h"
#include "vsst/virtio/device.h"
#include "vsst/virtio/error.h"
#include "vsst/virtio/mmio_transport.h"
#include "vsst/virtio/pci.h"
#include "vsst/virtio/pci_transport.h"
#include "vsst/virtio/spec.h"

namespace vsst::virtio {
namespace {

using fake::FakeInterrupts;
using fake::FakeMmioDevice;
using fake::FakePciFunction;
using fake::FakeRam;
using fake::FakeVirtioCore;

constexpr uint64_t kFeatures = feature::bit(feature::kVersion1) | feature::bit(feature::kEventIdx) | 0x5;

// Echo device: copies what it reads into what it writes.
uint32_t echo(uint16_t, std::span<const std::byte> in, std::span<std::byte> out)
{
	const size_t n = std::min(in.size(), out.size());
	std::memcpy(out.data(), in.data(), n);
	return static_cast<uint32_t>(n);
}

struct PciFixture : ::testing::Test {
	FakeRam ram{0x1000000, 4 << 20};
	FakeVirtioCore core{ram, 9, kFeatures, {64, 64}, std::vector<std::byte>(8, std::byte{0x5a})};
	FakeInterrupts irq{8};
	FakePciFunction fn_dev{core, irq};
	PciWindow window{0xe0000000ull, 0x10000000ull};
	PciFixture() { core.handler = echo; }
};

TEST_F(PciFixture, BarSizingAndAssignment)
{
	PciFunction fn(fn_dev);
	fn.assign_bars(window);
	EXPECT_EQ(fn.bar(0).size, FakePciFunction::kBar0Size);
	EXPECT_TRUE(fn.bar(0).is64);
	EXPECT_EQ(fn.bar(0).addr % FakePciFunction::kBar0Size, 0u);
	EXPECT_EQ(fn.bar(2).size, FakePciFunction::kBar2Size);
	EXPECT_FALSE(fn.bar(2).is64);
	EXPECT_GE(fn.bar(2).addr, window.base());
	EXPECT_NE(fn.bar(0).addr, fn.bar(2).addr);
	EXPECT_EQ(fn.bar(1).size, 0u) << "upper half of a 64-bit BAR";
	EXPECT_EQ(fn.bar(4).size, 0u);
	const uint16_t cmd = fn_dev.read(pci::kCommand, 2);
	EXPECT_TRUE(cmd & pci::kCmdMemory);
	EXPECT_TRUE(cmd & pci::kCmdBusMaster);
}

TEST_F(PciFixture, WindowTooSmallIsAnError)
{
	PciFunction fn(fn_dev);
	PciWindow tiny{0xe0000000ull, 0x2000};
	EXPECT_THROW(fn.assign_bars(tiny), Error);
}

TEST_F(PciFixture, CapabilityLoopIsDetected)
{
	fn_dev.cfg[0x50 + 1] = 0x40; // notify cap points back to the common cap
	EXPECT_THROW(PciFunction fn(fn_dev), Error);
}

TEST_F(PciFixture, CapabilityPointerIntoHeaderIsRejected)
{
	fn_dev.cfg[pci::kCapPtr] = 0x10;
	EXPECT_THROW(PciFunction fn(fn_dev), Error);
}

TEST_F(PciFixture, CapabilityOutsideItsBarIsRejected)
{
	PciFunction fn(fn_dev);
	fn.assign_bars(window);
	const uint32_t off = 0x3f00; // + 0x1000 bytes > 16 KiB BAR
	std::memcpy(&fn_dev.cfg[0x50 + 8], &off, 4);
	EXPECT_THROW(VirtioPciTransport t(fn, fn_dev, irq), Error);
}

TEST_F(PciFixture, CapabilityNamingBadBarIsRejected)
{
	PciFunction fn(fn_dev);
	fn.assign_bars(window);
	fn_dev.cfg[0x68 + 4] = 7;
	EXPECT_THROW(VirtioPciTransport t(fn, fn_dev, irq), Error);
	fn_dev.cfg[0x68 + 4] = 4; // BAR4 is not implemented
	EXPECT_THROW(VirtioPciTransport t(fn, fn_dev, irq), Error);
}

TEST_F(PciFixture, UnassignedBarsAreRejected)
{
	PciFunction fn(fn_dev);
	fn.probe_bars(); // sized but no addresses
	EXPECT_THROW(VirtioPciTransport t(fn, fn_dev, irq), Error);
}

TEST_F(PciFixture, HandshakeMsixAndEcho)
{
	PciFunction fn(fn_dev);
	fn.assign_bars(window);
	VirtioPciTransport t(fn, fn_dev, irq);
	EXPECT_EQ(t.device_id(), 9u);
	VirtioDevice dev(t, ram.allocator());
	const uint64_t got = dev.negotiate(0x1);
	EXPECT_EQ(got, feature::bit(feature::kVersion1) | feature::bit(feature::kEventIdx) | 0x1);
	EXPECT_EQ(core.driver_features, got);
	const uint16_t sizes[2] = {16, 1000};
	dev.setup_queues(sizes);
	EXPECT_EQ(dev.queue(0).size(), 16);
	EXPECT_EQ(dev.queue(1).size(), 64) << "bounded by the device maximum";
	dev.driver_ok();
	EXPECT_EQ(t.interrupt_mode(), "msix");
	const std::vector<uint8_t> expect_status = {0, 1, 3, 11, 15};
	EXPECT_EQ(core.status_writes, expect_status);
	EXPECT_EQ(core.queues[0].vector, 1);
	EXPECT_EQ(core.queues[1].vector, 2);
	EXPECT_EQ(core.queues[1].desc, dev.queue(1).addresses().desc);
	EXPECT_TRUE(core.queues[0].ready && core.queues[1].ready);
	EXPECT_EQ(dev.read_config<uint32_t>(4), 0x5a5a5a5au);

	// One round trip on queue 1 with its interrupt.
	DmaBuffer out(ram.allocator(), 32), in(ram.allocator(), 32);
	std::memset(out.host(), 0xab, 32);
	const BufferRef o{out.gpa(), 32}, i{in.gpa(), 32};
	SplitVirtqueue &q = dev.queue(1);
	EXPECT_FALSE(q.enable_cb());
	ASSERT_EQ(q.add_buffer({&o, 1}, {&i, 1}, 42), AddResult::kOk);
	EXPECT_TRUE(q.kick());
	EXPECT_EQ(fn_dev.posted_notifies, 1u) << "doorbells go through MemoryAccessor::notify";
	const InterruptReport r = dev.wait_interrupt(std::chrono::milliseconds(10));
	ASSERT_EQ(r.queues, std::vector<uint16_t>{1});
	auto used = q.get_buffer();
	ASSERT_TRUE(used);
	EXPECT_EQ(used->token, 42u);
	EXPECT_EQ(used->len, 32u);
	EXPECT_EQ(std::to_integer<int>(in.host()[31]), 0xab);
	EXPECT_EQ(irq.stray, 0u);
}

TEST_F(PciFixture, FallsBackToIntxWhenThePlatformHasNoMsi)
{
	FakeInterrupts no_msi{0};
	FakePciFunction dev_fn{core, no_msi};
	PciFunction fn(dev_fn);
	fn.assign_bars(window);
	VirtioPciTransport t(fn, dev_fn, no_msi);
	VirtioDevice dev(t, ram.allocator());
	dev.negotiate(0);
	const uint16_t sizes[2] = {8, 8};
	dev.setup_queues(sizes);
	dev.driver_ok();
	EXPECT_EQ(t.interrupt_mode(), "intx");
	DmaBuffer buf(ram.allocator(), 16);
	const BufferRef b{buf.gpa(), 16};
	dev.queue(0).add_buffer({&b, 1}, {&b, 1}, 1);
	dev.queue(0).kick();
	const InterruptReport r = dev.wait_interrupt(std::chrono::milliseconds(10));
	EXPECT_EQ(r.queues.size(), 2u) << "a shared line concerns every queue";
	EXPECT_EQ(dev_fn.isr, 0) << "reading ISR acknowledges";
	EXPECT_TRUE(dev.queue(0).get_buffer());
	EXPECT_TRUE(dev.wait_interrupt(std::chrono::milliseconds(1)).queues.empty());
}

TEST_F(PciFixture, MissingVersion1FailsTheDevice)
{
	core.device_features = 0x5;
	PciFunction fn(fn_dev);
	fn.assign_bars(window);
	VirtioPciTransport t(fn, fn_dev, irq);
	VirtioDevice dev(t, ram.allocator());
	EXPECT_THROW(dev.negotiate(0), Error);
	EXPECT_TRUE(core.status & status::kFailed);
}

TEST_F(PciFixture, RequiredFeatureMissingFails)
{
	PciFunction fn(fn_dev);
	fn.assign_bars(window);
	VirtioPciTransport t(fn, fn_dev, irq);
	VirtioDevice dev(t, ram.allocator());
	EXPECT_THROW(dev.negotiate(0, 0x2), Error);
}

TEST_F(PciFixture, DeviceRejectingFeaturesOkFails)
{
	PciFunction fn(fn_dev);
	fn.assign_bars(window);
	// A device that withdraws a feature after the driver wrote its choice
	// (the fake then refuses FEATURES_OK, as a real device may).
	struct Sneaky : MemoryAccessor {
		FakePciFunction &f;
		FakeVirtioCore &c;
		uint64_t driver_feature_reg;
		Sneaky(FakePciFunction &f_, FakeVirtioCore &c_, uint64_t reg)
			: f(f_), c(c_), driver_feature_reg(reg)
		{
		}
		uint64_t read(uint64_t a, unsigned l) override { return f.read(a, l); }
		void write(uint64_t a, unsigned l, uint64_t v) override
		{
			f.write(a, l, v);
			if (a == driver_feature_reg)
				c.device_features &= ~uint64_t{1};
		}
	} sneaky(fn_dev, core, fn.bar(0).addr + pci::common::kDriverFeature);
	VirtioPciTransport t(fn, sneaky, irq);
	VirtioDevice dev(t, ram.allocator());
	EXPECT_THROW(dev.negotiate(0x1), Error);
	EXPECT_TRUE(core.status & status::kFailed);
}

TEST_F(PciFixture, TransitionalDeviceIdTakesSubsystemId)
{
	const uint16_t did = 0x1005, sub = 4;
	std::memcpy(&fn_dev.cfg[pci::kDeviceId], &did, 2);
	std::memcpy(&fn_dev.cfg[pci::kSubsystemId], &sub, 2);
	PciFunction fn(fn_dev);
	fn.assign_bars(window);
	VirtioPciTransport t(fn, fn_dev, irq);
	EXPECT_EQ(t.device_id(), 4u);
}

TEST_F(PciFixture, ResetTimesOutInsteadOfHanging)
{
	PciFunction fn(fn_dev);
	fn.assign_bars(window);
	struct Stuck : MemoryAccessor {
		FakePciFunction &f;
		explicit Stuck(FakePciFunction &f_) : f(f_) {}
		uint64_t read(uint64_t a, unsigned l) override
		{
			return l == 1 ? 0x1 : f.read(a, l); // status never reads back 0
		}
		void write(uint64_t a, unsigned l, uint64_t v) override { f.write(a, l, v); }
	} stuck(fn_dev);
	VirtioPciTransport::Options opt;
	opt.reset_timeout = std::chrono::milliseconds(50);
	VirtioPciTransport t(fn, stuck, irq, opt);
	EXPECT_THROW(t.reset(), TimeoutError);
}

// ---- virtio-mmio ----

struct MmioFixture : ::testing::Test {
	FakeRam ram{0x1000000, 1 << 20};
	FakeVirtioCore core{ram, 4, feature::bit(feature::kVersion1), {8}, {}};
	FakeInterrupts irq{0};
	static constexpr uint64_t kBase = 0xd0000000;
	MmioFixture() { core.handler = echo; }
};

TEST_F(MmioFixture, HandshakeAndRoundTrip)
{
	FakeMmioDevice regs{core, irq, kBase};
	VirtioMmioTransport t(regs, kBase, irq, 0);
	EXPECT_EQ(t.device_id(), 4u);
	EXPECT_EQ(t.num_queues(), 1);
	VirtioDevice dev(t, ram.allocator());
	EXPECT_EQ(dev.negotiate(0), feature::bit(feature::kVersion1));
	const uint16_t sizes[1] = {8};
	dev.setup_queues(sizes);
	dev.driver_ok();
	EXPECT_EQ(core.queues[0].size, 8);
	EXPECT_EQ(core.queues[0].used, dev.queue(0).addresses().used);
	DmaBuffer buf(ram.allocator(), 8);
	const BufferRef b{buf.gpa(), 8};
	dev.queue(0).enable_cb();
	dev.queue(0).add_buffer({&b, 1}, {&b, 1}, 9);
	dev.queue(0).kick();
	const InterruptReport r = dev.wait_interrupt(std::chrono::milliseconds(5));
	EXPECT_EQ(r.queues, std::vector<uint16_t>{0});
	EXPECT_EQ(regs.int_status, 0u) << "acknowledged";
	auto used = dev.queue(0).get_buffer();
	ASSERT_TRUE(used);
	EXPECT_EQ(used->token, 9u);
}

TEST_F(MmioFixture, LegacyVersionAndBadMagicAreRefused)
{
	FakeMmioDevice legacy{core, irq, kBase, 1};
	EXPECT_THROW(VirtioMmioTransport(legacy, kBase, irq), Error);
	FakeMmioDevice regs{core, irq, kBase};
	EXPECT_THROW(VirtioMmioTransport(regs, kBase + 0x1000, irq), Error) << "nothing at that base";
}

TEST_F(MmioFixture, ConfigAccessIsBounded)
{
	FakeMmioDevice regs{core, irq, kBase};
	VirtioMmioTransport t(regs, kBase, irq, 8);
	EXPECT_THROW(t.read_config(6, 4), Error);
	EXPECT_NO_THROW(t.read_config(4, 4));
}

} // namespace
} // namespace vsst::virtio
