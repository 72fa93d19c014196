// SPDX-License-Identifier: Apache-2.0
// backend.rpc_integration: the device-VM QEMU (-machine rpc-backend -accel rpc)
// driven through the real RPC channel: start-up handshake by every set-up
// path, guest RAM layout, config space, BAR programming and MMIO routing,
// malformed requests, interrupts (INTx and MSI-X) and every way to stop.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <gtest/gtest.h>

#include "backend_harness.h"
#include "hostile_messages.h"
#include "mini_virtio.h"
#include "vsst/rpc/raw_region.hpp"
#include "vsst/sst-protocol.h"

namespace vsst::backend_test {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;
constexpr int kEventMs = 5000;
constexpr int kExitMs = 10000;

// PCI config space offsets and bits used below.
constexpr unsigned kPciCommand = 0x04, kPciClassRev = 0x08;
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
		std::fprintf(stderr, "SKIP: no QEMU: VSST_QEMU is not set and this checkout's build "
				     "is missing (run ./vsst qemu, then ./vsst test)\n");
		std::exit(77);
	}
};
const auto *const kEnv = ::testing::AddGlobalTestEnvironment(new Env);

class BackendTest : public ::testing::Test {
protected:
	GuestRam ram = mapped_ram(64 * kMiB);
	ProxyChannel ch;
	std::unique_ptr<BackendProcess> qemu;

	void start(SetupMode mode, std::vector<RamRegion> layout = {{0, 64 * kMiB, 0}},
		   std::vector<std::string> devices = standard_devices())
	{
		qemu = std::make_unique<BackendProcess>(mode, ch, ram, layout, devices);
	}

	VirtioCaps find_caps(unsigned dev) { return MiniVirtio::find_caps(ch, dev); }
	uint64_t program_bar(unsigned dev, unsigned bar, uint64_t gpa)
	{
		return MiniVirtio::program_bar(ch, dev, bar, gpa);
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
	EXPECT_EQ(regs[0].mr3, 0x00ff00u); // QEMU PCI_CLASS_OTHERS (0xff), as virtio-rng
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
	start(SetupMode::SetupSocket);
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
	auto bar_ev = ch.wait_for(
		[&](const vsst_rpcmsg &m) {
			return vsst_rpc_mr0_op(m.mr0) == VSST_RPC_OP_MMIO_REGION_CONFIG && m.mr1 == bar_gpa;
		},
		kEventMs);
	ASSERT_TRUE(bar_ev.has_value());
	EXPECT_EQ(bar_ev->mr2, size);
	EXPECT_EQ(bar_ev->mr3, 0u);
	auto notify_ev = ch.wait_for(
		[&](const vsst_rpcmsg &m) {
			return vsst_rpc_mr0_op(m.mr0) == VSST_RPC_OP_MMIO_REGION_CONFIG &&
			       (m.mr3 & VSST_RPC_REGION_POSTED);
		},
		kEventMs);
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
	auto moved = ch.wait_for(
		[&](const vsst_rpcmsg &m) {
			return vsst_rpc_mr0_op(m.mr0) == VSST_RPC_OP_MMIO_REGION_CONFIG &&
			       m.mr1 == bar_gpa + 0x100000;
		},
		kEventMs);
	EXPECT_TRUE(moved.has_value());
	EXPECT_EQ(ch.mem_read(bar_gpa + 0x100000 + caps.common + 0x12, 2), SST_NUM_VQS);
	stop_cleanly();
}

struct BadRequest {
	const char *what;
	unsigned as;
	uint64_t addr;
	unsigned len;
	unsigned dir;
};

// Well-formed messages the backend must refuse: error completion, keep serving.
TEST_F(BackendTest, MalformedRequestsGetErrorCompletionsAndServingContinues)
{
	start(SetupMode::InheritFds);
	handshake(ch, 2);
	const BadRequest bad[] = {
		{"unregistered device 7", 7, 0, 4, VSST_RPC_DIR_READ},
		{"unregistered device 0xef", 0xef, 0x10, 2, VSST_RPC_DIR_WRITE},
		{"config read of 8 bytes", 0, 0, 8, VSST_RPC_DIR_READ},
		{"misaligned config read", 0, 1, 4, VSST_RPC_DIR_READ},
		{"misaligned config write", 1, 0x6, 4, VSST_RPC_DIR_WRITE},
		{"config read past 256 bytes (conventional PCI)", 0, 0x100, 4, VSST_RPC_DIR_READ},
		{"unmapped guest-physical address", VSST_RPC_AS_GLOBAL, 0xd0000000ULL, 4, VSST_RPC_DIR_READ},
		{"unmapped guest-physical write", VSST_RPC_AS_GLOBAL, 0x7fff00000000ULL, 8,
		 VSST_RPC_DIR_WRITE},
		{"8-byte I/O port access", VSST_RPC_AS_IOPORT, 0x100, 8, VSST_RPC_DIR_READ},
		{"write to the MSI window", VSST_RPC_AS_GLOBAL, 0xfee00000ULL, 4, VSST_RPC_DIR_WRITE},
		{"read of the MSI window", VSST_RPC_AS_GLOBAL, 0xfee00ff0ULL, 4, VSST_RPC_DIR_READ},
	};
	for (const BadRequest &b : bad) {
		uint64_t v = 0x12;
		int r = vsst_rpc_proxy_mmio(ch.rpc(), b.as, b.addr, b.len, b.dir, &v, 5000);
		EXPECT_EQ(r, -EIO) << b.what;
		ASSERT_TRUE(qemu->running()) << "backend died on: " << b.what;
		// The backend is still serving after each one.
		EXPECT_EQ(ch.cfg_read(0, 0, 2), kRedHatVendor) << "after " << b.what;
	}
	// Posted writes to bad places are dropped (no completion to send).
	EXPECT_EQ(ch.post(VSST_RPC_AS_GLOBAL, 0xd0000000ULL, 4, 1), 0);
	EXPECT_EQ(ch.post(9, 0x10, 4, 1), 0);
	EXPECT_EQ(ch.cfg_read(1, 0, 2), kRedHatVendor);
	EXPECT_TRUE(qemu->running());
	std::string log = qemu->log();
	EXPECT_NE(log.find("rejected request #10"), std::string::npos) << log;
	EXPECT_NE(log.find("address space not served"), std::string::npos) << log;
	EXPECT_NE(log.find("nothing answers at this address"), std::string::npos) << log;
	stop_cleanly();
	EXPECT_NE(qemu->log().find("13 rejected"), std::string::npos) << qemu->log();
}

// Structurally invalid messages never reach the backend: the channel refuses
// them at the sender (and would poison the channel at the receiver).
TEST_F(BackendTest, StructurallyInvalidRequestsAreRefusedBeforeTheBackend)
{
	start(SetupMode::InheritFds);
	handshake(ch, 2);
	const BadRequest bad[] = {
		{"reserved address space 0xf3", 0xf3, 0, 4, VSST_RPC_DIR_READ},
		{"config offset beyond 4 KiB", 1, 0x10000, 2, VSST_RPC_DIR_WRITE},
		{"address that wraps", VSST_RPC_AS_GLOBAL, 0xfffffffffffffffcULL, 8, VSST_RPC_DIR_READ},
		{"I/O port beyond 64 KiB", VSST_RPC_AS_IOPORT, 0xffff, 2, VSST_RPC_DIR_READ},
		{"length 3", VSST_RPC_AS_GLOBAL, 0, 3, VSST_RPC_DIR_READ},
	};
	for (const BadRequest &b : bad) {
		uint64_t v = 0;
		EXPECT_EQ(vsst_rpc_proxy_mmio(ch.rpc(), b.as, b.addr, b.len, b.dir, &v, 5000), -EINVAL)
			<< b.what;
	}
	EXPECT_EQ(ch.post(0xf3, 0, 4, 1), -EINVAL);
	EXPECT_EQ(ch.cfg_read(0, 0, 2), kRedHatVendor);
	EXPECT_FALSE(vsst_rpc_poisoned(ch.rpc()));
	stop_cleanly();
}

// The hostile-peer matrix, device side (accel/rpc rpc-dispatch.c): a request no rpc
// library would send, written straight into the requests ring after the handshake
// (every opcode, every bad field: hostile_messages.h), poisons the channel with its
// reason; the device VM says so and leaves with status 3 (never a crash or a hang).
class HostileRequest : public BackendTest, public ::testing::WithParamInterface<hostile::Case> {};

TEST_P(HostileRequest, PoisonsTheChannelWithItsReasonAndExits3)
{
	const hostile::Case &c = GetParam();
	start(SetupMode::InheritFds);
	handshake(ch, 2);
	rpc::testkit::RawRegion raw;
	ASSERT_TRUE(raw.map(ch.fds().region, ch.fds().to_device));
	raw.push(rpc::Ring::Requests, rpc::Message{c.msg.mr0, c.msg.mr1, c.msg.mr2, c.msg.mr3}, true);
	auto st = qemu->wait_exit(kExitMs);
	ASSERT_TRUE(st.has_value()) << "the device VM did not leave: " << qemu->log();
	EXPECT_EQ(*st, 3) << qemu->log();
	EXPECT_NE(qemu->log().find(c.reason), std::string::npos) << qemu->log();
	ASSERT_TRUE(vsst_rpc_poisoned(ch.rpc()));
	EXPECT_NE(std::string(vsst_rpc_poison_reason(ch.rpc())).find(c.reason), std::string::npos)
		<< vsst_rpc_poison_reason(ch.rpc());
}

INSTANTIATE_TEST_SUITE_P(Matrix, HostileRequest, ::testing::ValuesIn(hostile::request_cases()),
			 hostile::CaseName());

// Well-formed control requests at the wrong moment: a second HELLO of the right
// version changes nothing, one of another version mid-run ends the device VM with
// status 2 and its reason (as at start), STOP mid-run ends it cleanly.
TEST_F(BackendTest, ControlRequestsMidRunHaveTheirDocumentedEffect)
{
	start(SetupMode::InheritFds);
	handshake(ch, 2);
	ASSERT_EQ(ch.send(VSST_RPC_OP_HELLO, VSST_RPC_PROTOCOL_VERSION), 0);
	EXPECT_EQ(ch.cfg_read(0, 0, 2), kRedHatVendor) << "a second HELLO changes nothing";
	ASSERT_EQ(ch.send(VSST_RPC_OP_HELLO, VSST_RPC_PROTOCOL_VERSION + 1), 0);
	auto st = qemu->wait_exit(kExitMs);
	ASSERT_TRUE(st.has_value()) << qemu->log();
	EXPECT_EQ(*st, 2) << qemu->log();
	EXPECT_NE(qemu->log().find("protocol version"), std::string::npos) << qemu->log();
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

// The device VM runs no firmware: a NIC gets no option ROM (no ROM BAR).
TEST_F(BackendTest, DevicesGetNoOptionRom)
{
	start(SetupMode::InheritFds, {{0, 64 * kMiB, 0}},
	      {"-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0"});
	auto regs = handshake(ch, 1);
	ASSERT_EQ(regs.size(), 1u);
	EXPECT_EQ(regs[0].mr3 >> 16, 0x02u); // network controller
	ch.cfg_write(0, 0x30, 4, 0xfffff800);
	EXPECT_EQ(ch.cfg_read(0, 0x30, 4), 0u) << "ROM BAR present";
	stop_cleanly();
}

// Drives virtio-rng-pci (device 1) by hand: one buffer with INTx, then one
// with MSI-X, to check both interrupt paths and DMA into the shared RAM.
TEST_F(BackendTest, VirtioRngInterruptsArriveAsSetIrqAndMsi)
{
	start(SetupMode::InheritFds);
	handshake(ch, 2);
	const unsigned dev = 1;
	MiniVirtio v(ch, ram, dev, 0xe0000000ULL, 0xe1000000ULL);
	ASSERT_NE(v.caps().msix_cap, 0u);
	ASSERT_NE(v.negotiate(1ULL << 32), 0u) << "VIRTIO_F_VERSION_1 refused";
	v.setup_queue(0, 0x10000);
	v.driver_ok();
	const uint64_t buf = 0x20000;

	// 1: INTx (MSI-X off). The device asserts its line...
	std::memset(ram.at(buf), 0, 16);
	v.submit(0, {{buf, 16, true}});
	auto irq = ch.wait_op(VSST_RPC_OP_SET_IRQ, kEventMs);
	ASSERT_TRUE(irq.has_value()) << "no SET_IRQ after the notify";
	EXPECT_EQ(irq->mr1, dev);
	EXPECT_EQ(irq->mr2, VSST_RPC_IRQ_SET);
	EXPECT_EQ(v.used_idx(0), 1);
	EXPECT_EQ(v.used_elem(0, 0).second, 16u);
	uint8_t zero[16] = {};
	EXPECT_NE(std::memcmp(ram.at(buf), zero, 16), 0) << "no entropy written into guest RAM";
	// ...and reading the ISR deasserts it.
	EXPECT_EQ(ch.mem_read(v.isr(), 1) & 1, 1u);
	auto clr = ch.wait_op(VSST_RPC_OP_SET_IRQ, kEventMs);
	ASSERT_TRUE(clr.has_value());
	EXPECT_EQ(clr->mr1, dev);
	EXPECT_EQ(clr->mr2, VSST_RPC_IRQ_CLEAR);

	// 2: MSI-X: table entry 0 -> (0xfee00000, 0x4041), queue 0 on vector 0.
	v.msix_route(0, 0, 0xfee00000, 0x4041);
	v.submit(0, {{buf, 16, true}});
	auto msi = ch.wait_op(VSST_RPC_OP_MSI, kEventMs);
	ASSERT_TRUE(msi.has_value()) << "no MSI event";
	EXPECT_EQ(msi->mr1, 0xfee00000u);
	EXPECT_EQ(msi->mr2, 0x4041u);
	EXPECT_EQ(msi->mr3, dev);
	EXPECT_EQ(v.used_idx(0), 2);
	stop_cleanly();
}

// virtio-sst-pci driven through the backend: requests answered by the real
// device core (no simulator attached), responses in the request's in-buffer,
// MSI-X interrupts, and the response-queue fallback.
class VirtioSstTest : public BackendTest {
protected:
	static constexpr uint64_t kReq = 0x200000, kResp = 0x204000, kResp2 = 0x208000;
	std::unique_ptr<MiniVirtio> v;

	void bring_up(std::vector<std::string> devices = standard_devices())
	{
		start(SetupMode::InheritFds, {{0, 64 * kMiB, 0}}, devices);
		handshake(ch, static_cast<unsigned>(devices.size() / 2));
		v = std::make_unique<MiniVirtio>(ch, ram, 0, 0xe0000000ULL, 0xe1000000ULL);
		uint64_t f = v->negotiate((1ULL << 32) | 0x3f);
		ASSERT_TRUE(f & (1ULL << 32)) << "VIRTIO_F_VERSION_1 missing";
		v->setup_queue(SST_VQ_REQUEST, 0x100000);
		v->setup_queue(SST_VQ_RESPONSE, 0x110000);
		v->setup_queue(SST_VQ_EVENT, 0x120000);
		v->driver_ok();
		v->msix_route(SST_VQ_REQUEST, 0, 0xfee00000, 0x30);
		v->msix_route(SST_VQ_RESPONSE, 1, 0xfee00000, 0x31);
	}

	// Writes a request at kReq; returns its length on the wire.
	uint32_t put_request(uint32_t type, uint64_t id, const std::string &payload = {})
	{
		SSTRequest r{};
		r.type = type;
		r.request_id = id;
		r.user_data = id * 3;
		if (type == SST_REQ_COMPUTE)
			r.payload.compute.compute_units = 4;
		std::memcpy(r.payload.data, payload.data(), payload.size());
		std::memcpy(ram.at(kReq), &r, sizeof(r));
		size_t body = payload.size();
		if (type == SST_REQ_COMPUTE) // the compute descriptor: units + latency model
			body = std::max<size_t>(body, sizeof(r.payload.compute));
		return SST_REQUEST_HEADER_SIZE + static_cast<uint32_t>(body);
	}

	SSTResponse response_at(uint64_t gpa)
	{
		SSTResponse r;
		std::memcpy(&r, ram.at(gpa), sizeof(r));
		return r;
	}

	// One request with an in-buffer; waits for the MSI of the request queue.
	SSTResponse round_trip(uint32_t type, uint64_t id, const std::string &payload = {})
	{
		uint32_t len = put_request(type, id, payload);
		std::memset(ram.at(kResp), 0xee, sizeof(SSTResponse));
		uint16_t before = v->used_idx(SST_VQ_REQUEST);
		v->submit(SST_VQ_REQUEST, {{kReq, len, false}, {kResp, sizeof(SSTResponse), true}});
		// Wait for an MSI of the request queue that comes with our element
		// (an older MSI may still be queued).
		bool done = false;
		for (int i = 0; i < 8 && !done; i++) {
			auto msi = ch.wait_for(
				[](const vsst_rpcmsg &m) {
					return vsst_rpc_mr0_op(m.mr0) == VSST_RPC_OP_MSI && m.mr2 == 0x30;
				},
				kEventMs);
			if (!msi)
				break;
			EXPECT_EQ(msi->mr3, 0u);
			done = v->used_idx(SST_VQ_REQUEST) == static_cast<uint16_t>(before + 1);
		}
		EXPECT_TRUE(done) << "no MSI with the answer to request type " << type;
		EXPECT_EQ(v->used_idx(SST_VQ_REQUEST), static_cast<uint16_t>(before + 1));
		EXPECT_EQ(v->used_elem(SST_VQ_REQUEST, before).second, sizeof(SSTResponse));
		return response_at(kResp);
	}
};

TEST_F(VirtioSstTest, RequestsAreAnsweredByTheDeviceCore)
{
	bring_up();
	// Config space comes from the core.
	EXPECT_EQ(ch.mem_read(v->device_cfg(), 4), SST_PROTOCOL_VERSION);
	EXPECT_EQ(ch.mem_read(v->device_cfg() + 4, 4), 0u); // device_id property

	SSTResponse r = round_trip(SST_REQ_ECHO, 42, "hello vsst");
	EXPECT_EQ(r.status, SST_STATUS_OK);
	EXPECT_EQ(r.request_id, 42u);
	EXPECT_EQ(r.user_data, 126u);
	EXPECT_EQ(r.result, 10u);
	EXPECT_EQ(std::string(reinterpret_cast<const char *>(r.payload.data), 10), "hello vsst");

	r = round_trip(SST_REQ_NOOP, 43);
	EXPECT_EQ(r.status, SST_STATUS_OK);
	EXPECT_EQ(r.request_id, 43u);

	r = round_trip(SST_REQ_GET_INFO, 44);
	EXPECT_EQ(r.status, SST_STATUS_OK);
	EXPECT_EQ(r.payload.info.version, SST_PROTOCOL_VERSION);

	// No simulator attached: forwarded work is answered NO_DEVICE, promptly.
	r = round_trip(SST_REQ_COMPUTE, 45);
	EXPECT_EQ(r.status, SST_STATUS_NO_DEVICE);
	EXPECT_EQ(r.request_id, 45u);
	stop_cleanly();
}

TEST_F(VirtioSstTest, RequestWithoutInBufferIsAnsweredOnTheResponseQueue)
{
	bring_up();
	std::memset(ram.at(kResp2), 0, sizeof(SSTResponse));
	v->submit(SST_VQ_RESPONSE, {{kResp2, sizeof(SSTResponse), true}});
	uint32_t len = put_request(SST_REQ_NOOP, 77);
	v->submit(SST_VQ_REQUEST, {{kReq, len, false}});
	auto msi = ch.wait_for(
		[](const vsst_rpcmsg &m) {
			return vsst_rpc_mr0_op(m.mr0) == VSST_RPC_OP_MSI && m.mr2 == 0x31;
		},
		kEventMs);
	ASSERT_TRUE(msi.has_value()) << "no MSI on the response queue";
	EXPECT_EQ(v->used_idx(SST_VQ_RESPONSE), 1);
	EXPECT_EQ(v->used_elem(SST_VQ_RESPONSE, 0).second, sizeof(SSTResponse));
	SSTResponse r = response_at(kResp2);
	EXPECT_EQ(r.status, SST_STATUS_OK);
	EXPECT_EQ(r.request_id, 77u);
	// The request element itself comes back empty.
	auto req_done = ch.wait_for(
		[](const vsst_rpcmsg &m) {
			return vsst_rpc_mr0_op(m.mr0) == VSST_RPC_OP_MSI && m.mr2 == 0x30;
		},
		kEventMs);
	EXPECT_TRUE(req_done.has_value());
	EXPECT_EQ(v->used_idx(SST_VQ_REQUEST), 1);
	EXPECT_EQ(v->used_elem(SST_VQ_REQUEST, 0).second, 0u);
	stop_cleanly();
}

// A simulator that accepts and never answers keeps requests in flight; a
// device reset must drop them cleanly and the device must work afterwards.
TEST_F(VirtioSstTest, ResetDropsRequestsInFlight)
{
	std::string sim_path = "/tmp/vsst-backend-test-sim-" + std::to_string(getpid()) + ".sock";
	unlink(sim_path.c_str());
	UniqueFd sim(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	sockaddr_un sa{};
	sa.sun_family = AF_UNIX;
	std::snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sim_path.c_str());
	ASSERT_EQ(bind(sim.get(), reinterpret_cast<sockaddr *>(&sa), sizeof(sa)), 0);
	ASSERT_EQ(listen(sim.get(), 4), 0);
	bring_up({"-device", "virtio-sst-pci,id=sst0,socket=" + sim_path});
	pollfd p{sim.get(), POLLIN, 0};
	ASSERT_EQ(poll(&p, 1, kEventMs), 1) << "device core never connected to the simulator";
	UniqueFd conn(accept4(sim.get(), nullptr, nullptr, SOCK_CLOEXEC));
	ASSERT_TRUE(conn);

	for (uint64_t id = 1; id <= 3; id++) {
		uint32_t len = put_request(SST_REQ_COMPUTE, id);
		v->submit(SST_VQ_REQUEST, {{kReq, len, false}, {kResp, sizeof(SSTResponse), true}});
	}
	usleep(200 * 1000);
	EXPECT_EQ(v->used_idx(SST_VQ_REQUEST), 0) << "the silent simulator answered?";

	v->reset();
	EXPECT_EQ(ch.mem_read(v->common() + 0x14, 1), 0u); // status reads 0 after reset
	conn.reset();                                      // the simulator goes away too
	ASSERT_NE(v->negotiate((1ULL << 32) | 0x3f), 0u);
	v->setup_queue(SST_VQ_REQUEST, 0x130000);
	v->driver_ok();
	v->msix_route(SST_VQ_REQUEST, 0, 0xfee00000, 0x30);
	SSTResponse r = round_trip(SST_REQ_ECHO, 9, "again");
	EXPECT_EQ(r.status, SST_STATUS_OK);
	EXPECT_EQ(r.request_id, 9u);
	EXPECT_TRUE(qemu->running());
	stop_cleanly();
	unlink(sim_path.c_str());
}

} // namespace
} // namespace vsst::backend_test
