// SPDX-License-Identifier: Apache-2.0
// backend.driver_rng: the same driver framework reads random bytes from
// virtio-rng-pci served by the same backend that serves virtio-sst-pci (the
// accelerator is not specific to one device).
#include <gtest/gtest.h>

#include <algorithm>

#include "rig.h"

namespace vsst::test {
namespace {

TEST(BackendDriverRng, ReadsRandomBytesBesideSst)
{
	BackendRig rig;
	auto sst = rig.open_sst();
	auto rng = rig.open_rng();
	EXPECT_NE(rng.pci->transport->name(), sst.pci->transport->name());
	const auto a = rng.driver->read(4096, 10s);
	// Interleave: the sst device keeps working on the same channel.
	EXPECT_EQ(sst.driver->call(make_request(SST_REQ_NOOP), 5s).status(), SST_STATUS_OK);
	const auto b = rng.driver->read(4096, 10s);
	ASSERT_EQ(a.size(), 4096u);
	ASSERT_EQ(b.size(), 4096u);
	EXPECT_NE(a, b);
	// 4096 random bytes: far more than 16 distinct values, not all zero.
	std::vector<uint8_t> sorted = a;
	std::sort(sorted.begin(), sorted.end());
	EXPECT_GT(std::unique(sorted.begin(), sorted.end()) - sorted.begin(), 200);
	RecordProperty("rng_interrupts", static_cast<int>(rng.driver->interrupts()));
}

TEST(BackendDriverRng, OddSizes)
{
	BackendRig rig;
	auto rng = rig.open_rng();
	for (size_t n : {1u, 3u, 4095u, 10000u})
		EXPECT_EQ(rng.driver->read(n, 10s).size(), n);
}

} // namespace
} // namespace vsst::test

VSST_BACKEND_TEST_MAIN()
