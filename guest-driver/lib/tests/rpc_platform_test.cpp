// SPDX-License-Identifier: Apache-2.0
// RpcGuest (the RPC channel platform) against an in-process fake backend:
// a thread on the channel's device side that serves config space and BAR
// MMIO from the fake virtio-pci function, announces the notify region as
// posted, and turns the fake's interrupts into MSI / SET_IRQ events. No
// QEMU involved; backend.driver_* run the same code against the real one.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "fake_device.h"
#include "vsst/rpc.h"
#include "vsst/sst-protocol.h"
#include "vsst/virtio/backend.h"
#include "vsst/virtio/error.h"
#include "vsst/virtio/rpc_platform.h"
#include "vsst/virtio/spec.h"
#include "vsst/virtio/sst_driver.h"

namespace vsst::virtio {
namespace {

using namespace std::chrono_literals;

std::vector<std::byte> sst_config()
{
	SSTConfig c{SST_PROTOCOL_VERSION, 3, 0x3f, 1};
	std::vector<std::byte> v(sizeof c);
	std::memcpy(v.data(), &c, sizeof c);
	return v;
}

class FakeBackend {
public:
	explicit FakeBackend(RpcGuest &g)
		: ram_(g.ram_at(0, 64 << 20), 0, 64 << 20),
		  core_(ram_, VIRTIO_ID_SST,
			feature::bit(feature::kVersion1) | feature::bit(feature::kEventIdx) | 0x3f,
			{64, 8, 8}, sst_config()),
		  irq_(0), fn_(core_, irq_)
	{
		char err[128];
		ch_ = vsst_rpc_attach(&g.channel_fds(), VSST_RPC_ROLE_DEVICE, err, sizeof err);
		if (!ch_)
			throw Error(err);
		core_.handler = [this](uint16_t q, std::span<const std::byte> in,
				       std::span<std::byte> out) -> uint32_t {
			if (q != SST_VQ_REQUEST)
				return 0;
			std::this_thread::sleep_for(std::chrono::milliseconds(slow_ms.load()));
			SSTRequest req{};
			std::memcpy(&req, in.data(), std::min(in.size(), sizeof req));
			SSTResponse resp{};
			resp.request_id = req.request_id;
			resp.status = SST_STATUS_OK;
			std::memcpy(resp.payload.data, req.payload.data, 64);
			std::memcpy(out.data(), &resp, std::min(out.size(), sizeof resp));
			return sizeof resp;
		};
		irq_.on_msi = [this](uint64_t a, uint32_t d) { event(VSST_RPC_OP_MSI, a, d, 0); };
		irq_.on_line = [this] { event(VSST_RPC_OP_SET_IRQ, 0, VSST_RPC_IRQ_SET, 0); };
		thread_ = std::thread([this] { serve(); });
	}
	~FakeBackend()
	{
		quit_ = true;
		thread_.join();
		vsst_rpc_close(ch_);
	}
	void event(unsigned op, uint64_t a, uint64_t b, uint64_t c)
	{
		vsst_rpcmsg m{vsst_rpc_mr0(op, 0, 0, 0, 0, 0), a, b, c};
		vsst_rpc_dev_send_event(ch_, &m, 1000);
	}

	std::atomic<int> slow_ms{0};
	std::atomic<bool> paused{false};
	std::atomic<unsigned> posted{0}, sync_notifies{0};

private:
	void serve()
	{
		while (!quit_) {
			if (paused) {
				std::this_thread::sleep_for(5ms);
				continue;
			}
			vsst_rpcmsg m;
			if (vsst_rpc_dev_wait_request(ch_, &m, 20) != 1)
				continue;
			if (paused)
				continue; // swallowed: an unresponsive backend
			const unsigned op = vsst_rpc_mr0_op(m.mr0);
			if (op == VSST_RPC_OP_HELLO) {
				event(VSST_RPC_OP_HELLO, VSST_RPC_PROTOCOL_VERSION, 0, 0);
				event(VSST_RPC_OP_REGISTER_PCI_DEV, 0,
				      (uint64_t{pci::kVirtioVendor} << 16) |
					      (pci::kModernDeviceBase + VIRTIO_ID_SST),
				      0xff0000);
				event(VSST_RPC_OP_START_VM, 0, 0, 0);
				continue;
			}
			if (op != VSST_RPC_OP_MMIO)
				continue;
			const unsigned as = vsst_rpc_mr0_as(m.mr0), len = vsst_rpc_mr0_len(m.mr0);
			const bool write = vsst_rpc_mr0_dir(m.mr0) == VSST_RPC_DIR_WRITE;
			const bool is_posted = vsst_rpc_mr0_posted(m.mr0);
			uint64_t data = 0;
			bool ok = true;
			if (as == 0 && len <= 4) {
				if (write) {
					static_cast<ConfigAccessor &>(fn_).write(
						static_cast<unsigned>(m.mr1), len,
						static_cast<uint32_t>(m.mr2));
					announce_bars();
				} else {
					data = static_cast<ConfigAccessor &>(fn_).read(
						static_cast<unsigned>(m.mr1), len);
				}
			} else if (as == VSST_RPC_AS_GLOBAL) {
				if (write) {
					if (bar0_ && m.mr1 >= bar0_ + 0x3000 && m.mr1 < bar0_ + 0x4000)
						(is_posted ? posted : sync_notifies)++;
					static_cast<MemoryAccessor &>(fn_).write(m.mr1, len, m.mr2);
				} else {
					data = static_cast<MemoryAccessor &>(fn_).read(m.mr1, len);
				}
			} else {
				ok = false;
			}
			if (is_posted)
				continue;
			if (ok)
				vsst_rpc_dev_complete(ch_, &m, data, 1000);
			else
				vsst_rpc_dev_complete_error(ch_, &m, 1000);
		}
	}
	void announce_bars()
	{
		uint16_t cmd;
		std::memcpy(&cmd, &fn_.cfg[pci::kCommand], 2);
		uint32_t lo, hi;
		std::memcpy(&lo, &fn_.cfg[pci::kBar0], 4);
		std::memcpy(&hi, &fn_.cfg[pci::kBar0 + 4], 4);
		const uint64_t bar0 = (uint64_t{hi} << 32) | (lo & ~0xfu);
		if ((cmd & pci::kCmdMemory) && bar0 && bar0 != bar0_ && bar0 < 0xffffffff00000000ull) {
			bar0_ = bar0;
			event(VSST_RPC_OP_MMIO_REGION_CONFIG, bar0 + 0x3000, 0x1000, VSST_RPC_REGION_POSTED);
		}
	}

	fake::FakeRam ram_;
	fake::FakeVirtioCore core_;
	fake::FakeInterrupts irq_;
	fake::FakePciFunction fn_;
	vsst_rpc *ch_ = nullptr;
	uint64_t bar0_ = 0;
	std::atomic<bool> quit_{false};
	std::thread thread_;
};

RpcGuestOptions small_guest()
{
	RpcGuestOptions o;
	o.ram_size = 64 << 20;
	o.access_timeout_ms = 2000;
	return o;
}

TEST(RpcPlatform, StartupEnumerationAndSstOverMsix)
{
	RpcGuest g(small_guest());
	FakeBackend be(g);
	g.start(5s);
	ASSERT_EQ(g.devices().size(), 1u);
	EXPECT_EQ(g.devices()[0].device, pci::kModernDeviceBase + VIRTIO_ID_SST);
	EXPECT_EQ(g.devices()[0].class_code, 0xff0000u);
	RpcVirtioPci pci(g, 0);
	EXPECT_GE(pci.function->bar(0).addr, g.pci_window().base());
	EXPECT_EQ(g.posted_regions(), 1u);
	SstDriver d(*pci.transport, g.memory());
	EXPECT_EQ(pci.transport->interrupt_mode(), "msix");
	EXPECT_EQ(d.config().device_id, 3u);
	be.slow_ms = 20; // the driver is surely asleep when the completion comes
	SSTRequest r{};
	r.type = SST_REQ_ECHO;
	std::memset(r.payload.data, 0x3c, 64);
	for (int i = 0; i < 5; i++) {
		const SstResult res = d.call(r, 2s);
		ASSERT_TRUE(res.valid);
		EXPECT_EQ(res.resp.payload.data[63], 0x3c);
	}
	EXPECT_GE(be.posted.load(), 5u);
	EXPECT_EQ(be.sync_notifies.load(), 0u) << "doorbells in a posted region must be posted";
	EXPECT_GE(g.counters().msi, 1u);
	EXPECT_GE(d.stats().interrupts, 1u);
}

TEST(RpcPlatform, IntxThroughSetIrq)
{
	RpcGuest g(small_guest());
	FakeBackend be(g);
	g.start(5s);
	VirtioPciTransport::Options opt;
	opt.allow_msix = false;
	RpcVirtioPci pci(g, 0, opt);
	SstDriver d(*pci.transport, g.memory());
	EXPECT_EQ(pci.transport->interrupt_mode(), "intx");
	be.slow_ms = 20;
	SSTRequest r{};
	EXPECT_TRUE(d.call(r, 2s).valid);
	EXPECT_GE(g.counters().set_irq, 1u);
	EXPECT_GE(d.stats().interrupts, 1u);
}

TEST(RpcPlatform, StrayAndForeignInterruptsAreNotDelivered)
{
	RpcGuest g(small_guest());
	FakeBackend be(g);
	g.start(5s);
	InterruptSource &irq = g.interrupts(0);
	be.event(VSST_RPC_OP_MSI, 0xfee00000u, (7u << 8) | 1, 0); // data names device 7, event says 0
	be.event(VSST_RPC_OP_MSI, 0x12345678u, 1, 0);             // not the MSI window
	be.event(VSST_RPC_OP_MSI, 0xfee00000u, (5u << 8) | 2, 5); // a real one for device 5
	EXPECT_TRUE(irq.wait(200ms).empty());
	EXPECT_EQ(g.counters().stray_msi, 2u);
	EXPECT_EQ(g.wait_irq(5, 200ms), std::vector<uint32_t>{2});
}

TEST(RpcPlatform, UnresponsiveBackendTimesOutInsteadOfHanging)
{
	RpcGuestOptions o = small_guest();
	o.access_timeout_ms = 200;
	RpcGuest g(o);
	FakeBackend be(g);
	g.start(5s);
	auto cfg = g.config(0);
	EXPECT_EQ(cfg->read16(pci::kVendorId), pci::kVirtioVendor);
	be.paused = true;
	const auto t0 = std::chrono::steady_clock::now();
	EXPECT_THROW(cfg->read16(pci::kVendorId), TimeoutError);
	EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
	be.paused = false;
}

TEST(RpcPlatform, ErrorCompletionReadsAllOnes)
{
	RpcGuest g(small_guest());
	FakeBackend be(g);
	g.start(5s);
	auto cfg = g.config(9); // the fake serves only device 0
	EXPECT_EQ(cfg->read32(0), 0xffffffffu);
	EXPECT_THROW(PciFunction fn(*cfg), Error) << "nothing there";
	EXPECT_GE(g.counters().error_completions, 1u);
}

TEST(RpcPlatform, NoStartVmIsATimeout)
{
	RpcGuest g(small_guest());
	// Nobody on the device side.
	EXPECT_THROW(g.start(300ms), TimeoutError);
}

} // namespace
} // namespace vsst::virtio
