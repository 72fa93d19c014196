// SPDX-License-Identifier: Apache-2.0
// Driver layer (sst, rng, blk) over the fake transports.
#include <gtest/gtest.h>

#include <cstring>

#include "fake_device.h"
#include "vsst/sst-protocol.h"
#include "vsst/virtio/blk_driver.h"
#include "vsst/virtio/error.h"
#include "vsst/virtio/mmio_transport.h"
#include "vsst/virtio/pci.h"
#include "vsst/virtio/pci_transport.h"
#include "vsst/virtio/rng_driver.h"
#include "vsst/virtio/spec.h"
#include "vsst/virtio/sst_driver.h"

namespace vsst::virtio {
namespace {

using namespace std::chrono_literals;
using fake::FakeInterrupts;
using fake::FakeMmioDevice;
using fake::FakePciFunction;
using fake::FakeRam;
using fake::FakeVirtioCore;

std::vector<std::byte> sst_config()
{
	SSTConfig c{SST_PROTOCOL_VERSION, 7, 0x3f, 1};
	std::vector<std::byte> v(sizeof c);
	std::memcpy(v.data(), &c, sizeof c);
	return v;
}

// A minimal virtio-sst device: answers every request locally.
struct SstModel {
	int64_t id_skew = 0;    // added to request_id in responses
	uint32_t short_len = 0; // if set, the response length written
	uint64_t event_seq = 0;

	uint32_t operator()(uint16_t q, std::span<const std::byte> in, std::span<std::byte> out)
	{
		if (q == SST_VQ_EVENT) {
			SSTEvent ev{SST_EVENT_NOTIFICATION, 0, 1000, ++event_seq};
			std::memcpy(out.data(), &ev, sizeof ev);
			return sizeof ev;
		}
		SSTRequest req{};
		std::memcpy(&req, in.data(), std::min(in.size(), sizeof req));
		SSTResponse resp{};
		resp.request_id = req.request_id + id_skew;
		resp.user_data = req.user_data;
		resp.status = req.type < SST_REQ_MAX ? SST_STATUS_OK : SST_STATUS_INVALID;
		if (req.type == SST_REQ_ECHO)
			std::memcpy(resp.payload.data, req.payload.data, SST_MAX_DATA_SIZE);
		std::memcpy(out.data(), &resp, std::min(out.size(), sizeof resp));
		return short_len ? short_len : static_cast<uint32_t>(sizeof resp);
	}
};

struct SstFixture : ::testing::Test {
	FakeRam ram{0x1000000, 8 << 20};
	FakeVirtioCore core{ram,
			    VIRTIO_ID_SST,
			    feature::bit(feature::kVersion1) | feature::bit(feature::kEventIdx) | 0x3f,
			    {256, 64, 16},
			    sst_config()};
	FakeInterrupts irq{8};
	FakePciFunction fn_dev{core, irq};
	PciFunction fn{fn_dev};
	SstModel model;
	std::unique_ptr<VirtioPciTransport> t;
	SstFixture()
	{
		core.handler = std::ref(model);
		PciWindow w{0xe0000000ull, 0x1000000};
		fn.assign_bars(w);
		t = std::make_unique<VirtioPciTransport>(fn, fn_dev, irq);
	}
	static SSTRequest req(uint32_t type)
	{
		SSTRequest r{};
		r.type = type;
		return r;
	}
};

TEST_F(SstFixture, InitReadsConfigAndNegotiatesSstFeatures)
{
	SstDriver d(*t, ram.allocator());
	EXPECT_EQ(d.config().version, SST_PROTOCOL_VERSION);
	EXPECT_EQ(d.config().device_id, 7u);
	EXPECT_EQ(d.device().features() & 0x3f, 0x3fu);
	EXPECT_EQ(d.max_inflight(), 64);
	EXPECT_EQ(core.queues.size(), 3u);
	EXPECT_TRUE(core.queues[SST_VQ_EVENT].ready);
}

TEST_F(SstFixture, EchoRoundTrip)
{
	SstDriver d(*t, ram.allocator());
	SSTRequest r = req(SST_REQ_ECHO);
	r.user_data = 0x1234;
	for (int i = 0; i < SST_MAX_DATA_SIZE; i++)
		r.payload.data[i] = static_cast<uint8_t>(i * 7);
	const SstResult res = d.call(r, 100ms);
	EXPECT_TRUE(res.valid);
	EXPECT_EQ(res.status(), SST_STATUS_OK);
	EXPECT_EQ(res.resp.user_data, 0x1234u);
	EXPECT_EQ(std::memcmp(res.resp.payload.data, r.payload.data, SST_MAX_DATA_SIZE), 0);
}

TEST_F(SstFixture, ManyInFlightCompleteOutOfOrderBatches)
{
	SstDriver d(*t, ram.allocator());
	core.hold = true;
	std::vector<uint64_t> ids;
	while (auto id = d.submit(req(SST_REQ_NOOP)))
		ids.push_back(*id);
	EXPECT_EQ(ids.size(), 64u);
	d.kick();
	EXPECT_EQ(d.in_flight(), 64u);
	core.process(SST_VQ_REQUEST, 10);
	core.process(SST_VQ_REQUEST);
	std::vector<uint64_t> seen;
	ASSERT_TRUE(d.wait(10ms));
	d.reap([&](const SstResult &r) {
		EXPECT_TRUE(r.valid);
		seen.push_back(r.request_id);
	});
	EXPECT_EQ(seen, ids);
	EXPECT_EQ(d.in_flight(), 0u);
}

TEST_F(SstFixture, ResponseWithWrongIdOrShortLengthIsInvalid)
{
	SstDriver d(*t, ram.allocator());
	model.id_skew = 1;
	EXPECT_FALSE(d.call(req(SST_REQ_NOOP), 100ms).valid);
	model.id_skew = 0;
	model.short_len = SST_RESPONSE_HEADER_SIZE - 1;
	const SstResult r = d.call(req(SST_REQ_NOOP), 100ms);
	EXPECT_FALSE(r.valid);
	EXPECT_EQ(r.status(), SST_STATUS_ERROR);
	EXPECT_EQ(d.stats().invalid, 2u);
}

TEST_F(SstFixture, HostileLengthBreaksTheQueueWithoutOverflow)
{
	SstDriver d(*t, ram.allocator());
	core.evil.used_len_add = 100000; // far beyond the 4112-byte response buffer
	EXPECT_THROW(d.call(req(SST_REQ_NOOP), 100ms), Error);
	EXPECT_NE(d.broken_reason().find("exceeds"), std::string::npos) << d.broken_reason();
}

TEST_F(SstFixture, HostileIdBreaksTheQueue)
{
	SstDriver d(*t, ram.allocator());
	core.evil.used_id_add = 1000;
	EXPECT_THROW(d.call(req(SST_REQ_NOOP), 100ms), Error);
	EXPECT_NE(d.broken_reason().find("out of range"), std::string::npos);
}

TEST_F(SstFixture, TimeoutIsReported)
{
	SstDriver d(*t, ram.allocator());
	core.hold = true;
	EXPECT_THROW(d.call(req(SST_REQ_NOOP), 20ms), TimeoutError);
}

TEST_F(SstFixture, EventsAreCollectedAndBuffersReposted)
{
	core.hold = true; // events only when the test says so
	SstDriver d(*t, ram.allocator());
	core.process(SST_VQ_EVENT, 3);
	auto evs = d.take_events();
	ASSERT_EQ(evs.size(), 3u);
	EXPECT_EQ(evs[2].data, 3u);
	// All buffers are back with the device: it can fill 16 more.
	core.process(SST_VQ_EVENT);
	EXPECT_EQ(d.take_events().size(), 16u);
}

TEST_F(SstFixture, RegistryProbesTheSstDriver)
{
	auto drv = DriverRegistry::with_builtin_drivers().probe(*t, ram.allocator());
	ASSERT_TRUE(drv);
	EXPECT_STREQ(drv->name(), "virtio-sst");
}

// ---- rng and blk over virtio-mmio ----

struct MmioDriverFixture : ::testing::Test {
	FakeRam ram{0x1000000, 4 << 20};
	FakeInterrupts irq{0};
	static constexpr uint64_t kBase = 0xd0000000;
};

TEST_F(MmioDriverFixture, RngReadsExactlyTheBytesAsked)
{
	FakeVirtioCore core{ram, device_id::kEntropy, feature::bit(feature::kVersion1), {8}, {}};
	uint8_t counter = 0;
	core.handler = [&](uint16_t, std::span<const std::byte>, std::span<std::byte> out) {
		const uint32_t n = std::min<uint32_t>(static_cast<uint32_t>(out.size()), 100); // short fills
		for (uint32_t i = 0; i < n; i++)
			out[i] = std::byte{counter++};
		return n;
	};
	FakeMmioDevice regs{core, irq, kBase};
	VirtioMmioTransport t(regs, kBase, irq);
	RngDriver rng(t, ram.allocator(), {4, 256});
	const auto bytes = rng.read(1000, 100ms);
	ASSERT_EQ(bytes.size(), 1000u);
	for (size_t i = 0; i < bytes.size(); i++)
		ASSERT_EQ(bytes[i], static_cast<uint8_t>(i));
}

TEST_F(MmioDriverFixture, RngStallTimesOut)
{
	FakeVirtioCore core{ram, device_id::kEntropy, feature::bit(feature::kVersion1), {8}, {}};
	core.hold = true;
	FakeMmioDevice regs{core, irq, kBase};
	VirtioMmioTransport t(regs, kBase, irq);
	RngDriver rng(t, ram.allocator());
	EXPECT_THROW(rng.read(16, 20ms), TimeoutError);
}

TEST_F(MmioDriverFixture, BlkReadsSectors)
{
	std::vector<std::byte> cfg(8);
	const uint64_t capacity = 64;
	std::memcpy(cfg.data(), &capacity, 8);
	FakeVirtioCore core{ram, device_id::kBlock, feature::bit(feature::kVersion1), {16}, cfg};
	core.handler = [](uint16_t, std::span<const std::byte> in, std::span<std::byte> out) {
		uint64_t sector;
		std::memcpy(&sector, in.data() + 8, 8);
		for (size_t i = 0; i + 1 < out.size(); i++)
			out[i] = std::byte(static_cast<uint8_t>(sector + i / 512));
		out[out.size() - 1] = std::byte{0};
		return static_cast<uint32_t>(out.size());
	};
	FakeMmioDevice regs{core, irq, kBase};
	VirtioMmioTransport t(regs, kBase, irq);
	BlkDriver blk(t, ram.allocator());
	EXPECT_EQ(blk.capacity_sectors(), 64u);
	const auto data = blk.read(10, 3, 100ms);
	ASSERT_EQ(data.size(), 3u * 512);
	EXPECT_EQ(data[0], 10);
	EXPECT_EQ(data[512], 11);
	EXPECT_EQ(data[1535], 12);
	EXPECT_THROW(blk.read(63, 2, 100ms), Error) << "beyond capacity";
}

} // namespace
} // namespace vsst::virtio
