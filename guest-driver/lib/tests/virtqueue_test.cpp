// SPDX-License-Identifier: Apache-2.0
// Split virtqueue against a device played directly on the ring memory,
// including a hostile one.
#include <gtest/gtest.h>

#include <cstring>

#include "fake_device.h"
#include "vsst/virtio/error.h"
#include "vsst/virtio/spec.h"
#include "vsst/virtio/virtqueue.h"

namespace vsst::virtio {
namespace {

// Plays the device side of one queue by hand.
struct RingDevice {
	SplitVirtqueue &vq;
	uint16_t last_avail = 0, used_idx = 0;

	uint16_t avail_idx() const { return vq.avail_words()[1]; }
	uint16_t avail_ring(uint16_t i) const { return vq.avail_words()[2 + i % vq.size()]; }
	uint16_t pop() { return avail_ring(last_avail++); }
	void push(uint32_t id, uint32_t len)
	{
		std::byte *elem = vq.used_area() + 4 + 8u * (used_idx % vq.size());
		std::memcpy(elem, &id, 4);
		std::memcpy(elem + 4, &len, 4);
		used_idx++;
		publish();
	}
	void publish() { std::memcpy(vq.used_area() + 2, &used_idx, 2); }
	void set_used_flags(uint16_t f) { std::memcpy(vq.used_area(), &f, 2); }
	void set_avail_event(uint16_t e) { std::memcpy(vq.used_area() + 4 + 8u * vq.size(), &e, 2); }
	uint16_t used_event() const { return vq.avail_words()[2 + vq.size()]; }
};

struct VqFixture : ::testing::Test {
	fake::FakeRam ram{0x100000, 1 << 20};
	std::vector<uint16_t> kicks;
	std::unique_ptr<SplitVirtqueue> make(uint16_t size, bool event_idx = false)
	{
		return std::make_unique<SplitVirtqueue>(ram.allocator(), 3, size, event_idx,
							[this](uint16_t q) { kicks.push_back(q); });
	}
};

TEST_F(VqFixture, RejectsSizesThatAreNotPowersOfTwo)
{
	EXPECT_THROW(make(0), Error);
	EXPECT_THROW(make(6), Error);
	EXPECT_NO_THROW(make(1));
}

TEST_F(VqFixture, ChainLayoutAndRoundTrip)
{
	auto vq = make(8);
	RingDevice dev{*vq};
	const BufferRef out[2] = {{0x200000, 24}, {0x201000, 100}};
	const BufferRef in[1] = {{0x202000, 4112}};
	ASSERT_EQ(vq->add_buffer(out, in, 77), AddResult::kOk);
	EXPECT_EQ(vq->free_descriptors(), 5);
	EXPECT_EQ(dev.avail_idx(), 1);
	const uint16_t head = dev.pop();
	auto *d = vq->desc_table();
	EXPECT_EQ(d[head].addr, 0x200000u);
	EXPECT_EQ(d[head].len, 24u);
	EXPECT_EQ(d[head].flags, ring::kDescNext);
	const uint16_t second = d[head].next;
	EXPECT_EQ(d[second].addr, 0x201000u);
	EXPECT_EQ(d[second].flags, ring::kDescNext);
	const uint16_t third = d[second].next;
	EXPECT_EQ(d[third].addr, 0x202000u);
	EXPECT_EQ(d[third].flags, ring::kDescWrite);

	EXPECT_FALSE(vq->get_buffer());
	dev.push(head, 32);
	auto used = vq->get_buffer();
	ASSERT_TRUE(used);
	EXPECT_EQ(used->token, 77u);
	EXPECT_EQ(used->len, 32u);
	EXPECT_EQ(vq->free_descriptors(), 8);
	EXPECT_EQ(vq->in_flight(), 0);
	EXPECT_FALSE(vq->get_buffer());
}

TEST_F(VqFixture, FullQueueSaysNoSpaceAndAddsNothing)
{
	auto vq = make(4);
	const BufferRef b{0x200000, 16};
	const BufferRef two[2] = {b, b};
	EXPECT_EQ(vq->add_buffer(two, {}, 1), AddResult::kOk);
	EXPECT_EQ(vq->add_buffer({&b, 1}, {&b, 1}, 2), AddResult::kOk);
	EXPECT_EQ(vq->add_buffer({&b, 1}, {}, 3), AddResult::kNoSpace);
	EXPECT_EQ(RingDevice{*vq}.avail_idx(), 2);
}

TEST_F(VqFixture, InvalidBuffersAreRefused)
{
	auto vq = make(4);
	const BufferRef empty{0x200000, 0};
	const BufferRef wrap{~uint64_t{0} - 4, 16};
	EXPECT_EQ(vq->add_buffer({}, {}, 1), AddResult::kInvalid);
	EXPECT_EQ(vq->add_buffer({&empty, 1}, {}, 1), AddResult::kInvalid);
	EXPECT_EQ(vq->add_buffer({&wrap, 1}, {}, 1), AddResult::kInvalid);
	EXPECT_EQ(vq->free_descriptors(), 4);
}

TEST_F(VqFixture, OutOfOrderCompletionAndWraparound)
{
	auto vq = make(4);
	RingDevice dev{*vq};
	const BufferRef b{0x200000, 64};
	// 70000 round trips wrap the 16-bit indices; completions are reversed.
	for (unsigned round = 0; round < 35000; round++) {
		ASSERT_EQ(vq->add_buffer({}, {&b, 1}, 2 * round), AddResult::kOk);
		ASSERT_EQ(vq->add_buffer({}, {&b, 1}, 2 * round + 1), AddResult::kOk);
		const uint16_t h0 = dev.pop(), h1 = dev.pop();
		dev.push(h1, 1);
		dev.push(h0, 2);
		auto u1 = vq->get_buffer(), u0 = vq->get_buffer();
		ASSERT_TRUE(u1 && u0);
		ASSERT_EQ(u1->token, 2 * round + 1);
		ASSERT_EQ(u0->token, 2 * round);
	}
	EXPECT_EQ(vq->free_descriptors(), 4);
	EXPECT_FALSE(vq->broken());
}

TEST_F(VqFixture, DeviceScribblingOnDescriptorsCannotCorruptTheFreeList)
{
	auto vq = make(8);
	RingDevice dev{*vq};
	const BufferRef b{0x200000, 64};
	const BufferRef three[3] = {b, b, b};
	ASSERT_EQ(vq->add_buffer(three, {}, 1), AddResult::kOk);
	const uint16_t head = dev.pop();
	// A hostile device rewrites the chain links and lengths in shared memory.
	for (uint16_t i = 0; i < 8; i++) {
		vq->desc_table()[i].next = 0xbeef;
		vq->desc_table()[i].len = 0xffffffffu;
	}
	dev.push(head, 0);
	ASSERT_TRUE(vq->get_buffer());
	EXPECT_EQ(vq->free_descriptors(), 8);
	// The queue keeps working: every descriptor can be handed out again.
	for (int i = 0; i < 8; i++)
		ASSERT_EQ(vq->add_buffer({&b, 1}, {}, 10 + i), AddResult::kOk);
	EXPECT_EQ(vq->add_buffer({&b, 1}, {}, 99), AddResult::kNoSpace);
}

struct HostileCase {
	const char *name;
	std::function<void(RingDevice &, uint16_t head)> act;
	const char *reason;
};

TEST_F(VqFixture, HostileUsedElementsBreakTheQueueSafely)
{
	const HostileCase cases[] = {
		{"id out of range", [](RingDevice &d, uint16_t) { d.push(4096, 0); }, "out of range"},
		{"id not in flight", [](RingDevice &d, uint16_t h) { d.push((h + 1) % 8, 0); },
		 "not the head"},
		{"length beyond writable", [](RingDevice &d, uint16_t h) { d.push(h, 65); }, "exceeds"},
		{"used idx jump",
		 [](RingDevice &d, uint16_t h) {
			 d.push(h, 0);
			 d.used_idx = static_cast<uint16_t>(d.used_idx + 500);
			 d.publish();
		 },
		 "advanced used idx"},
		{"double completion",
		 [](RingDevice &d, uint16_t h) {
			 d.push(h, 1);
			 d.push(h, 1);
		 },
		 "advanced used idx"},
	};
	for (const auto &c : cases) {
		SCOPED_TRACE(c.name);
		auto vq = make(8);
		RingDevice dev{*vq};
		const BufferRef out{0x200000, 16}, in{0x201000, 64};
		ASSERT_EQ(vq->add_buffer({&out, 1}, {&in, 1}, 5), AddResult::kOk);
		c.act(dev, dev.pop());
		// At most the genuine completion comes out before the breakage shows.
		for (int i = 0; i < 3; i++)
			(void)vq->get_buffer();
		EXPECT_TRUE(vq->broken());
		EXPECT_NE(vq->broken_reason().find(c.reason), std::string::npos) << vq->broken_reason();
		EXPECT_FALSE(vq->get_buffer());
		EXPECT_EQ(vq->add_buffer({&out, 1}, {}, 6), AddResult::kBroken);
	}
}

TEST_F(VqFixture, DoubleCompletionOfOneHeadIsCaught)
{
	auto vq = make(8);
	RingDevice dev{*vq};
	const BufferRef in{0x201000, 64};
	ASSERT_EQ(vq->add_buffer({}, {&in, 1}, 1), AddResult::kOk);
	ASSERT_EQ(vq->add_buffer({}, {&in, 1}, 2), AddResult::kOk);
	const uint16_t h0 = dev.pop();
	dev.push(h0, 1);
	dev.push(h0, 1); // the same head again, while another buffer is in flight
	ASSERT_TRUE(vq->get_buffer());
	EXPECT_FALSE(vq->get_buffer());
	EXPECT_TRUE(vq->broken());
	EXPECT_NE(vq->broken_reason().find("not the head"), std::string::npos);
}

TEST_F(VqFixture, KickHonoursNoNotify)
{
	auto vq = make(4);
	RingDevice dev{*vq};
	const BufferRef b{0x200000, 16};
	EXPECT_FALSE(vq->kick()); // nothing added
	vq->add_buffer({&b, 1}, {}, 1);
	EXPECT_TRUE(vq->kick());
	EXPECT_EQ(kicks, std::vector<uint16_t>{3});
	dev.set_used_flags(ring::kUsedNoNotify);
	vq->add_buffer({&b, 1}, {}, 2);
	EXPECT_FALSE(vq->kick());
	EXPECT_EQ(vq->stats().notifies_suppressed, 1u);
}

TEST_F(VqFixture, KickWithEventIdxNotifiesOnlyWhenCrossingAvailEvent)
{
	auto vq = make(8, true);
	RingDevice dev{*vq};
	const BufferRef b{0x200000, 16};
	dev.set_avail_event(2); // device wants a kick once avail idx passes 2
	vq->add_buffer({&b, 1}, {}, 1);
	EXPECT_FALSE(vq->kick()); // 0 -> 1
	vq->add_buffer({&b, 1}, {}, 2);
	EXPECT_FALSE(vq->kick()); // 1 -> 2
	vq->add_buffer({&b, 1}, {}, 3);
	EXPECT_TRUE(vq->kick()); // 2 -> 3 crosses event 2
}

TEST_F(VqFixture, CallbackSuppression)
{
	auto vq = make(4);
	RingDevice dev{*vq};
	const BufferRef b{0x200000, 16};
	vq->disable_cb();
	EXPECT_EQ(vq->avail_words()[0] & ring::kAvailNoInterrupt, ring::kAvailNoInterrupt);
	EXPECT_FALSE(vq->enable_cb());
	EXPECT_EQ(vq->avail_words()[0] & ring::kAvailNoInterrupt, 0);
	vq->add_buffer({}, {&b, 1}, 1);
	dev.push(dev.pop(), 4);
	EXPECT_TRUE(vq->enable_cb()) << "a used buffer is pending: the caller must poll, not sleep";
}

TEST_F(VqFixture, EventIdxUsedEventFollowsConsumption)
{
	auto vq = make(4, true);
	RingDevice dev{*vq};
	const BufferRef b{0x200000, 16};
	EXPECT_FALSE(vq->enable_cb());
	EXPECT_EQ(dev.used_event(), 0);
	vq->add_buffer({}, {&b, 1}, 1);
	dev.push(dev.pop(), 4);
	ASSERT_TRUE(vq->get_buffer());
	EXPECT_EQ(dev.used_event(), 1);
}

} // namespace
} // namespace vsst::virtio
