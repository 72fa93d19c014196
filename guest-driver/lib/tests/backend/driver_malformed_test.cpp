// SPDX-License-Identifier: Apache-2.0
// backend.driver_malformed: requests that pass the channel's framing checks
// but make no sense to the backend (unknown device index, unmapped address,
// a config access wider than 4 bytes, anything before HELLO) complete with
// an error, and the backend keeps serving config space and virtio-sst.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <thread>

#include "rig.h"
#include "vsst/devvm/binaries.h"
#include "vsst/virtio/spec.h"

namespace vsst::test {
namespace {

int raw(virtio::RpcGuest &g, unsigned as, uint64_t addr, unsigned len, unsigned dir, uint64_t *data)
{
	return vsst_rpc_proxy_mmio(g.channel(), as, addr, len, dir, data, 10000);
}

void expect_serving(BackendRig &rig, virtio::SstDriver &d)
{
	uint64_t v = 0;
	ASSERT_EQ(raw(rig.guest(), rig.sst_index(), virtio::pci::kVendorId, 2, VSST_RPC_DIR_READ, &v), 0);
	EXPECT_EQ(v, virtio::pci::kVirtioVendor);
	EXPECT_EQ(d.call(make_request(SST_REQ_NOOP), 5s).status(), SST_STATUS_OK);
}

TEST(BackendDriverMalformed, ErrorCompletionsAndTheBackendKeepsServing)
{
	BackendRig rig;
	auto s = rig.open_sst();
	auto &g = rig.guest();
	expect_serving(rig, *s.driver);

	const unsigned unregistered = static_cast<unsigned>(g.devices().size()) + 5;
	uint64_t v = 0;
	EXPECT_EQ(raw(g, unregistered, 0, 4, VSST_RPC_DIR_READ, &v), -EIO)
		<< "config of an unregistered device";
	EXPECT_EQ(raw(g, 0xef, 0, 2, VSST_RPC_DIR_WRITE, &v), -EIO) << "highest PCI address space";
	expect_serving(rig, *s.driver);

	// Nothing is mapped at 512 GiB: decode error on the memory bus.
	v = 0;
	EXPECT_EQ(raw(g, VSST_RPC_AS_GLOBAL, 0x8000000000ull, 4, VSST_RPC_DIR_READ, &v), -EIO);
	v = 0x1234;
	EXPECT_EQ(raw(g, VSST_RPC_AS_GLOBAL, 0x8000000000ull, 4, VSST_RPC_DIR_WRITE, &v), -EIO);
	expect_serving(rig, *s.driver);

	// PCI config accesses: at most 4 bytes, naturally aligned, inside the
	// 256 bytes of conventional config space.
	v = 0;
	EXPECT_EQ(raw(g, rig.sst_index(), 0, 8, VSST_RPC_DIR_READ, &v), -EIO) << "8-byte config read";
	EXPECT_EQ(raw(g, rig.sst_index(), 1, 2, VSST_RPC_DIR_READ, &v), -EIO) << "misaligned config read";
	EXPECT_EQ(raw(g, rig.sst_index(), 0x100, 4, VSST_RPC_DIR_READ, &v), -EIO) << "beyond 256 bytes";
	expect_serving(rig, *s.driver);

	// A write into the MSI window that no device made.
	v = 0x4041;
	EXPECT_EQ(raw(g, VSST_RPC_AS_GLOBAL, 0xfee00000ull, 4, VSST_RPC_DIR_WRITE, &v), -EIO);
	expect_serving(rig, *s.driver);

	// A posted write nobody decodes has no completion to fail; it must
	// not disturb anything either.
	EXPECT_EQ(vsst_rpc_proxy_post(g.channel(), VSST_RPC_AS_GLOBAL, 0x8000000000ull, 4, 1, 1000), 0);
	expect_serving(rig, *s.driver);

	// A burst of bad requests from many threads, then normal service.
	std::vector<std::thread> threads;
	std::atomic<int> eio{0};
	for (int t = 0; t < 4; t++)
		threads.emplace_back([&] {
			for (int i = 0; i < 200; i++) {
				uint64_t x = 0;
				if (raw(g, unregistered, 0, 4, VSST_RPC_DIR_READ, &x) == -EIO)
					eio++;
			}
		});
	for (auto &t : threads)
		t.join();
	EXPECT_EQ(eio.load(), 800);
	expect_serving(rig, *s.driver);
	EXPECT_FALSE(vsst_rpc_poisoned(g.channel())) << g.poison_reason();
	EXPECT_TRUE(rig.backend().process().running()) << rig.qemu_log();
}

TEST(BackendDriverMalformed, RequestsBeforeHelloAreRefused)
{
	virtio::TempDir dir("vsst-backend-driver");
	virtio::RpcGuest g;
	virtio::BackendOptions bo;
	bo.qemu = devvm::default_qemu();
	bo.sim_socket = dir.file("none.sock");
	bo.log = dir.file("qemu.log");
	virtio::Backend backend(g, bo);
	uint64_t v = 0;
	EXPECT_EQ(vsst_rpc_proxy_mmio(g.channel(), 0, 0, 2, VSST_RPC_DIR_READ, &v, 20000), -EIO)
		<< backend.process().log_tail();
	// Then HELLO, and the very same access works.
	g.start(20s);
	ASSERT_GE(g.devices().size(), 1u);
	ASSERT_EQ(vsst_rpc_proxy_mmio(g.channel(), g.devices()[0].index, 0, 2, VSST_RPC_DIR_READ, &v, 10000),
		  0);
	EXPECT_EQ(v, g.devices()[0].vendor);
}

} // namespace
} // namespace vsst::test

VSST_BACKEND_TEST_MAIN()
