// SPDX-License-Identifier: Apache-2.0
// backend.rpc_integration: the device-VM QEMU (-machine rpc-backend -accel rpc)
// driven through the real RPC channel: start-up handshake by every set-up
// path, guest RAM layout, config space, BAR programming and MMIO routing,
// malformed requests, interrupts (INTx and MSI-X) and every way to stop.
#include <signal.h>

#include <cstdlib>
#include <cstring>
#include <memory>

#include <gtest/gtest.h>

#include "backend_harness.h"
#include "vsst/sst-protocol.h"

namespace vsst::backend_test {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;
constexpr int kEventMs = 5000;
constexpr int kExitMs = 10000;

// PCI config space offsets and bits used below.
constexpr unsigned kPciCommand = 0x04, kPciStatus = 0x06, kPciClassRev = 0x08;
constexpr unsigned kPciBar0 = 0x10, kPciCapPtr = 0x34;
constexpr unsigned kCmdMem = 0x2, kCmdMaster = 0x4;
constexpr uint16_t kRedHatVendor = 0x1af4;

class Env : public ::testing::Environment {
public:
	void SetUp() override
	{
		if (!BackendProcess::qemu_path().empty())
			return;
		const char *req = std::getenv("VSST_REQUIRE_ALL");
		if (req && std::strcmp(req, "1") == 0) {
			std::fprintf(stderr, "FAIL: VSST_QEMU (the project's QEMU build) is missing "
					     "and VSST_REQUIRE_ALL=1\n");
			std::exit(1);
		}
		std::fprintf(stderr, "SKIP: VSST_QEMU is not set or not executable "
				     "(run ./vsst qemu, then ./vsst test)\n");
		std::exit(77);
	}
};
const auto *const kEnv = ::testing::AddGlobalTestEnvironment(new Env);

// Modern virtio-pci capability locations of one device.
struct VirtioCaps {
	unsigned bar = 0;
	uint32_t common = 0, notify = 0, isr = 0, device = 0, notify_mult = 0;
	unsigned msix_cap = 0; // config offset of the MSI-X capability, 0 if none
	bool found_common = false;
};

class BackendTest : public ::testing::Test {
protected:
	GuestRam ram{64 * kMiB};
	ProxyChannel ch;
	std::unique_ptr<BackendProcess> qemu;

	void start(SetupMode mode, std::vector<RamRegion> layout = {{0, 64 * kMiB, 0}},
		   std::vector<std::string> devices = standard_devices())
	{
		qemu = std::make_unique<BackendProcess>(mode, ch, ram, layout, devices);
	}

	VirtioCaps find_caps(unsigned dev)
	{
		VirtioCaps c;
		EXPECT_TRUE(ch.cfg_read(dev, kPciStatus, 2) & 0x10) << "no capability list";
		unsigned ptr = ch.cfg_read(dev, kPciCapPtr, 1) & 0xfc;
		for (int guard = 0; ptr && guard < 48; guard++) {
			unsigned id = ch.cfg_read(dev, ptr, 1);
			if (id == 0x11)
				c.msix_cap = ptr;
			if (id == 0x09) { // vendor specific: virtio_pci_cap
				unsigned type = ch.cfg_read(dev, ptr + 3, 1);
				unsigned bar = ch.cfg_read(dev, ptr + 4, 1);
				uint32_t off = ch.cfg_read(dev, ptr + 8, 4);
				switch (type) {
				case 1: c.common = off; c.bar = bar; c.found_common = true; break;
				case 2:
					c.notify = off;
					c.notify_mult = ch.cfg_read(dev, ptr + 16, 4);
					break;
				case 3: c.isr = off; break;
				case 4: c.device = off; break;
				}
			}
			ptr = ch.cfg_read(dev, ptr + 1, 1) & 0xfc;
		}
		return c;
	}

	// Sizes and places a memory BAR (64-bit aware); returns its size.
	uint64_t program_bar(unsigned dev, unsigned bar, uint64_t gpa)
	{
		unsigned off = kPciBar0 + 4 * bar;
		uint32_t orig = ch.cfg_read(dev, off, 4);
		bool is64 = (orig & 0x6) == 0x4;
		ch.cfg_write(dev, off, 4, 0xffffffff);
		uint64_t mask = ch.cfg_read(dev, off, 4) & ~0xfULL;
		if (is64) {
			ch.cfg_write(dev, off + 4, 4, 0xffffffff);
			mask |= static_cast<uint64_t>(ch.cfg_read(dev, off + 4, 4)) << 32;
		} else {
			mask |= 0xffffffff00000000ULL;
		}
		uint64_t size = ~mask + 1;
		ch.cfg_write(dev, off, 4, static_cast<uint32_t>(gpa));
		if (is64)
			ch.cfg_write(dev, off + 4, 4, static_cast<uint32_t>(gpa >> 32));
		return size;
	}

	void stop_cleanly()
	{
		ASSERT_EQ(ch.send(VSST_RPC_OP_STOP, 0), 0);
		auto st = qemu->wait_exit(kExitMs);
		ASSERT_TRUE(st.has_value()) << "backend did not exit after STOP";
		EXPECT_EQ(*st, 0) << qemu->log();
	}
};

void expect_standard_registration(const std::vector<vsst_rpcmsg> &regs)
{
	ASSERT_EQ(regs.size(), 2u);
	EXPECT_EQ(regs[0].mr1, 0u);
	EXPECT_EQ(regs[0].mr2, (uint64_t{kRedHatVendor} << 16) | VIRTIO_SST_PCI_DEVICE_ID);
	EXPECT_EQ(regs[0].mr3, 0xff0000u); // PCI_CLASS_OTHERS
	EXPECT_EQ(regs[1].mr1, 1u);
	EXPECT_EQ(regs[1].mr2 >> 16, kRedHatVendor);
	uint16_t rng_id = regs[1].mr2 & 0xffff;
	EXPECT_TRUE(rng_id == 0x1005 || rng_id == 0x1044) << std::hex << rng_id;
}

TEST_F(BackendTest, StartsFromInheritedFdsAndStopsOnStop)
{
	start(SetupMode::InheritFds);
	auto regs = handshake(ch, 2);
	expect_standard_registration(regs);

	// Config space of each registered device matches its registration.
	for (unsigned i = 0; i < regs.size(); i++) {
		uint32_t id = ch.cfg_read(i, 0, 4);
		EXPECT_EQ(id & 0xffff, regs[i].mr2 >> 16);
		EXPECT_EQ(id >> 16, regs[i].mr2 & 0xffff);
		EXPECT_EQ(ch.cfg_read(i, kPciClassRev, 4) >> 8, regs[i].mr3);
	}
	// Narrow accesses agree with wide ones.
	EXPECT_EQ(ch.cfg_read(0, 0, 2), kRedHatVendor);
	EXPECT_EQ(ch.cfg_read(0, 2, 2), VIRTIO_SST_PCI_DEVICE_ID);
	EXPECT_EQ(ch.cfg_read(0, 1, 1), 0x1au);
	stop_cleanly();
}

TEST_F(BackendTest, StartsFromControlSocketWithSplitRamLayout)
{
	// Like the pc machine: RAM below 4 GiB at offset 0, the rest above 4 GiB.
	const uint64_t low = 32 * kMiB, high_gpa = 0x100000000ULL;
	start(SetupMode::ControlSocket, {{0, low, 0}, {high_gpa, 32 * kMiB, low}});
	expect_standard_registration(handshake(ch, 2));

	// Bytes placed in the memfd are seen at the right guest-physical address.
	std::memcpy(ram.at(0x1000), "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
	std::memcpy(ram.at(low + 0x2000), "\xa1\xb2\xc3\xd4\xe5\xf6\x07\x18", 8);
	EXPECT_EQ(ch.mem_read(0x1000, 8), 0x8877665544332211ULL);
	EXPECT_EQ(ch.mem_read(high_gpa + 0x2000, 8), 0x1807f6e5d4c3b2a1ULL);
	EXPECT_EQ(ch.mem_read(high_gpa + 0x2000, 2), 0xb2a1u);
	// And writes through the backend land in the shared memfd.
	ch.mem_write(high_gpa + 0x3000, 4, 0xdeadbeef);
	uint32_t seen;
	std::memcpy(&seen, ram.at(low + 0x3000), 4);
	EXPECT_EQ(seen, 0xdeadbeefu);
	stop_cleanly();
}

TEST_F(BackendTest, StartsFromInheritedSetupSocket)
{
	start(SetupMode::SetupFd);
	expect_standard_registration(handshake(ch, 2));
	EXPECT_EQ(ch.cfg_read(1, 0, 2), kRedHatVendor);
	stop_cleanly();
}

TEST_F(BackendTest, BarProgrammingAnnouncesRegionsAndRoutesMmio)
{
	start(SetupMode::InheritFds);
	handshake(ch, 2);
	VirtioCaps caps = find_caps(0);
	ASSERT_TRUE(caps.found_common);
	ASSERT_GT(caps.notify_mult, 0u);

	const uint64_t bar_gpa = 0xe0000000ULL;
	uint64_t size = program_bar(0, caps.bar, bar_gpa);
	ASSERT_GE(size, 0x4000u);
	// Nothing is mapped until memory decoding is on.
	uint64_t v;
	EXPECT_EQ(ch.read(VSST_RPC_AS_GLOBAL, bar_gpa + caps.common + 0x12, 2, &v), -EIO);
	ch.cfg_write(0, kPciCommand, 2, kCmdMem | kCmdMaster);

	// The BAR is announced for routing and the notify region as posted.
	auto bar_ev = ch.wait_for([&](const vsst_rpcmsg &m) {
		return vsst_rpc_mr0_op(m.mr0) == VSST_RPC_OP_MMIO_REGION_CONFIG && m.mr1 == bar_gpa;
	}, kEventMs);
	ASSERT_TRUE(bar_ev.has_value());
	EXPECT_EQ(bar_ev->mr2, size);
	EXPECT_EQ(bar_ev->mr3, 0u);
	auto notify_ev = ch.wait_for([&](const vsst_rpcmsg &m) {
		return vsst_rpc_mr0_op(m.mr0) == VSST_RPC_OP_MMIO_REGION_CONFIG &&
		       (m.mr3 & VSST_RPC_REGION_POSTED);
	}, kEventMs);
	ASSERT_TRUE(notify_ev.has_value());
	EXPECT_EQ(notify_ev->mr1, bar_gpa + caps.notify);
	EXPECT_GT(notify_ev->mr2, 0u);
	EXPECT_LE(notify_ev->mr1 + notify_ev->mr2, bar_gpa + size);

	// MMIO through QEMU's memory API reaches virtio-pci and the device.
	EXPECT_EQ(ch.mem_read(bar_gpa + caps.common + 0x12, 2), SST_NUM_VQS); // num_queues
	uint64_t cfg = ch.mem_read(bar_gpa + caps.device, 4);                 // SSTConfig.version
	EXPECT_EQ(cfg, SST_PROTOCOL_VERSION);
	// A BAR that moves is announced again at its new address.
	ch.cfg_write(0, kPciCommand, 2, 0);
	program_bar(0, caps.bar, bar_gpa + 0x100000);
	ch.cfg_write(0, kPciCommand, 2, kCmdMem);
	auto moved = ch.wait_for([&](const vsst_rpcmsg &m) {
		return vsst_rpc_mr0_op(m.mr0) == VSST_RPC_OP_MMIO_REGION_CONFIG &&
		       m.mr1 == bar_gpa + 0x100000;
	}, kEventMs);
	EXPECT_TRUE(moved.has_value());
	EXPECT_EQ(ch.mem_read(bar_gpa + 0x100000 + caps.common + 0x12, 2), SST_NUM_VQS);
	stop_cleanly();
}

TEST_F(BackendTest, MalformedRequestsGetErrorCompletionsAndServingContinues)
{
	start(SetupMode::InheritFds);
	handshake(ch, 2);
	uint64_t v = 0;
	struct Bad {
		const char *what;
		unsigned as;
		uint64_t addr;
		unsigned len;
		unsigned dir;
	} bad[] = {
		{"reserved address space 0xf3", 0xf3, 0, 4, VSST_RPC_DIR_READ},
		{"unregistered device 7", 7, 0, 4, VSST_RPC_DIR_READ},
		{"config read of 8 bytes", 0, 0, 8, VSST_RPC_DIR_READ},
		{"misaligned config read", 0, 1, 4, VSST_RPC_DIR_READ},
		{"config read past the end", 0, 0x100, 4, VSST_RPC_DIR_READ},
		{"config offset beyond 4 KiB", 1, 0x10000, 2, VSST_RPC_DIR_WRITE},
		{"unmapped guest-physical address", VSST_RPC_AS_GLOBAL, 0xd0000000ULL, 4,
		 VSST_RPC_DIR_READ},
		{"address that wraps", VSST_RPC_AS_GLOBAL, 0xfffffffffffffffcULL, 8,
		 VSST_RPC_DIR_READ},
		{"8-byte I/O port access", VSST_RPC_AS_IOPORT, 0x100, 8, VSST_RPC_DIR_READ},
		{"I/O port beyond 64 KiB", VSST_RPC_AS_IOPORT, 0xffff, 2, VSST_RPC_DIR_READ},
		{"write to the MSI window", VSST_RPC_AS_GLOBAL, 0xfee00000ULL, 4,
		 VSST_RPC_DIR_WRITE},
	};
	for (const Bad &b : bad) {
		v = 0x1234;
		int r = vsst_rpc_proxy_mmio(ch.rpc(), b.as, b.addr, b.len, b.dir, &v, 5000);
		EXPECT_EQ(r, -EIO) << b.what;
		// The backend is still serving after each one.
		EXPECT_EQ(ch.cfg_read(0, 0, 2), kRedHatVendor) << "after " << b.what;
	}
	// Posted writes to bad places are dropped (no completion to send).
	EXPECT_EQ(ch.post(VSST_RPC_AS_GLOBAL, 0xd0000000ULL, 4, 1), 0);
	EXPECT_EQ(ch.post(0xf3, 0, 4, 1), 0);
	EXPECT_EQ(ch.cfg_read(1, 0, 2), kRedHatVendor);
	EXPECT_TRUE(qemu->running());
	EXPECT_NE(qemu->log().find("rejected request"), std::string::npos) << qemu->log();
	stop_cleanly();
}

TEST_F(BackendTest, RequestsBeforeHelloAreRefused)
{
	start(SetupMode::InheritFds);
	auto hello = ch.wait_op(VSST_RPC_OP_START_VM, 10000);
	ASSERT_TRUE(hello.has_value());
	uint64_t v;
	EXPECT_EQ(ch.read(0, 0, 4, &v), -EIO);
	EXPECT_EQ(ch.send(VSST_RPC_OP_HELLO, VSST_RPC_PROTOCOL_VERSION), 0);
	EXPECT_EQ(ch.cfg_read(0, 0, 2), kRedHatVendor);
	stop_cleanly();
}

TEST_F(BackendTest, ProtocolVersionMismatchExitsWithStatus2)
{
	start(SetupMode::InheritFds);
	ASSERT_EQ(ch.send(VSST_RPC_OP_HELLO, VSST_RPC_PROTOCOL_VERSION + 41), 0);
	auto st = qemu->wait_exit(kExitMs);
	ASSERT_TRUE(st.has_value());
	EXPECT_EQ(*st, 2);
	EXPECT_NE(qemu->log().find("protocol version"), std::string::npos) << qemu->log();
}

TEST_F(BackendTest, PoisonedChannelExitsWithStatus3)
{
	start(SetupMode::InheritFds);
	handshake(ch, 2);
	vsst_rpc_poison(ch.rpc(), "test poisons the channel");
	auto st = qemu->wait_exit(kExitMs);
	ASSERT_TRUE(st.has_value());
	EXPECT_EQ(*st, 3);
	EXPECT_NE(qemu->log().find("poisoned"), std::string::npos) << qemu->log();
}

TEST_F(BackendTest, SigtermSendsStopAndExitsCleanly)
{
	start(SetupMode::InheritFds);
	handshake(ch, 2);
	qemu->signal(SIGTERM);
	auto stop = ch.wait_op(VSST_RPC_OP_STOP, kExitMs);
	ASSERT_TRUE(stop.has_value());
	EXPECT_EQ(stop->mr1, 0u);
	auto st = qemu->wait_exit(kExitMs);
	ASSERT_TRUE(st.has_value());
	EXPECT_EQ(*st, 0);
}

TEST_F(BackendTest, BadSetupOptionsFailWithStatus1)
{
	// ram= pointing past the memfd.
	qemu = std::make_unique<BackendProcess>(SetupMode::InheritFds, ch, ram,
						std::vector<RamRegion>{{0, 128 * kMiB, 0}},
						standard_devices());
	auto st = qemu->wait_exit(kExitMs);
	ASSERT_TRUE(st.has_value());
	EXPECT_EQ(*st, 1);
	EXPECT_NE(qemu->log().find("holds only"), std::string::npos) << qemu->log();
}

// Drives virtio-rng-pci (device 1) by hand: one buffer with INTx, then one
// with MSI-X, to check both interrupt paths and DMA into the shared RAM.
TEST_F(BackendTest, VirtioRngInterruptsArriveAsSetIrqAndMsi)
{
	start(SetupMode::InheritFds);
	handshake(ch, 2);
	const unsigned dev = 1;
	VirtioCaps caps = find_caps(dev);
	ASSERT_TRUE(caps.found_common);
	ASSERT_NE(caps.msix_cap, 0u);
	const uint64_t bar = 0xe0000000ULL, msix_bar_gpa = 0xe1000000ULL;
	program_bar(dev, caps.bar, bar);
	uint32_t table = ch.cfg_read(dev, caps.msix_cap + 4, 4);
	unsigned table_bir = table & 7;
	program_bar(dev, table_bir, msix_bar_gpa);
	ch.cfg_write(dev, kPciCommand, 2, kCmdMem | kCmdMaster);

	const uint64_t common = bar + caps.common;
	// Status: ACKNOWLEDGE | DRIVER, features: VERSION_1 only, FEATURES_OK.
	ch.mem_write(common + 0x14, 1, 1 | 2);
	ch.mem_write(common + 0x00, 4, 1);
	ASSERT_TRUE(ch.mem_read(common + 0x04, 4) & 1) << "no VIRTIO_F_VERSION_1";
	ch.mem_write(common + 0x08, 4, 0);
	ch.mem_write(common + 0x0c, 4, 0);
	ch.mem_write(common + 0x08, 4, 1);
	ch.mem_write(common + 0x0c, 4, 1);
	ch.mem_write(common + 0x14, 1, 1 | 2 | 8);
	ASSERT_TRUE(ch.mem_read(common + 0x14, 1) & 8) << "FEATURES_OK refused";

	// Queue 0 in guest RAM: descriptors, avail ring, used ring, buffer.
	const uint64_t desc = 0x10000, avail = 0x11000, used = 0x12000, buf = 0x20000;
	ch.mem_write(common + 0x16, 2, 0);
	unsigned qsize = ch.mem_read(common + 0x18, 2);
	ASSERT_GE(qsize, 2u);
	ch.mem_write(common + 0x20, 4, desc);
	ch.mem_write(common + 0x24, 4, 0);
	ch.mem_write(common + 0x28, 4, avail);
	ch.mem_write(common + 0x2c, 4, 0);
	ch.mem_write(common + 0x30, 4, used);
	ch.mem_write(common + 0x34, 4, 0);
	unsigned notify_off = ch.mem_read(common + 0x1e, 2);
	ch.mem_write(common + 0x1c, 2, 1);
	ch.mem_write(common + 0x14, 1, 1 | 2 | 8 | 4);
	const uint64_t notify = bar + caps.notify + notify_off * caps.notify_mult;

	auto put_buffer = [&](uint16_t avail_idx) {
		struct {
			uint64_t addr;
			uint32_t len;
			uint16_t flags, next;
		} d{buf, 16, 2 /* VRING_DESC_F_WRITE */, 0};
		std::memcpy(ram.at(desc), &d, sizeof(d));
		uint16_t head = 0;
		std::memcpy(ram.at(avail + 4 + 2 * ((avail_idx - 1) % qsize)), &head, 2);
		__atomic_thread_fence(__ATOMIC_RELEASE);
		std::memcpy(ram.at(avail + 2), &avail_idx, 2);
		EXPECT_EQ(ch.post(VSST_RPC_AS_GLOBAL, notify, 2, 0), 0);
	};
	auto used_idx = [&] {
		uint16_t i;
		std::memcpy(&i, ram.at(used + 2), 2);
		return i;
	};

	// 1: INTx (MSI-X off). The device asserts its line...
	std::memset(ram.at(buf), 0, 16);
	put_buffer(1);
	auto irq = ch.wait_for([&](const vsst_rpcmsg &m) {
		return vsst_rpc_mr0_op(m.mr0) == VSST_RPC_OP_SET_IRQ;
	}, kEventMs);
	ASSERT_TRUE(irq.has_value()) << "no SET_IRQ after the notify";
	EXPECT_EQ(irq->mr1, dev);
	EXPECT_EQ(irq->mr2, VSST_RPC_IRQ_SET);
	EXPECT_EQ(used_idx(), 1);
	uint8_t zero[16] = {};
	EXPECT_NE(std::memcmp(ram.at(buf), zero, 16), 0) << "no entropy written into guest RAM";
	// ...and reading the ISR deasserts it.
	EXPECT_EQ(ch.mem_read(bar + caps.isr, 1) & 1, 1u);
	auto clr = ch.wait_op(VSST_RPC_OP_SET_IRQ, kEventMs);
	ASSERT_TRUE(clr.has_value());
	EXPECT_EQ(clr->mr1, dev);
	EXPECT_EQ(clr->mr2, VSST_RPC_IRQ_CLEAR);

	// 2: MSI-X. Table entry 0 -> (0xfee00000, 0x4041), enable, vector 0.
	const uint64_t entry = msix_bar_gpa + (table & ~7u);
	ch.mem_write(entry + 0, 4, 0xfee00000);
	ch.mem_write(entry + 4, 4, 0);
	ch.mem_write(entry + 8, 4, 0x4041);
	ch.mem_write(entry + 12, 4, 0);
	uint32_t ctrl = ch.cfg_read(dev, caps.msix_cap + 2, 2);
	ch.cfg_write(dev, caps.msix_cap + 2, 2, ctrl | 0x8000);
	ch.mem_write(common + 0x16, 2, 0);
	ch.mem_write(common + 0x1a, 2, 0);
	ASSERT_EQ(ch.mem_read(common + 0x1a, 2), 0u) << "queue vector refused";
	put_buffer(2);
	auto msi = ch.wait_op(VSST_RPC_OP_MSI, kEventMs);
	ASSERT_TRUE(msi.has_value()) << "no MSI event";
	EXPECT_EQ(msi->mr1, 0xfee00000u);
	EXPECT_EQ(msi->mr2, 0x4041u);
	EXPECT_EQ(msi->mr3, dev);
	EXPECT_EQ(used_idx(), 2);
	stop_cleanly();
}

} // namespace
} // namespace vsst::backend_test
