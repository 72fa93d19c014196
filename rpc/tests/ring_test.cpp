// SPDX-License-Identifier: Apache-2.0
// The SPSC ring on its own: full/empty, wraparound (slots and the 32-bit
// indices), index validation, order across two processes.
#include <sched.h>

#include "rpc_test_util.hpp"

using namespace vsst::rpc;
using namespace vsst::rpc::test;

namespace {

Message numbered(uint64_t i)
{
	return {i, ~i, i * 3, i ^ 0x5555};
}

} // namespace

TEST(Ring, EmptyThenFullThenEmpty)
{
	TestChannel ch(4, 0, false);
	RawRegion raw(ch.fds.region.get());
	RingProducer p = raw.producer(Ring::Requests);
	RingConsumer c = raw.consumer(Ring::Requests);
	Message m;
	EXPECT_EQ(c.try_pop(m), RingStatus::Empty);
	for (uint64_t i = 0; i < 4; ++i)
		ASSERT_EQ(p.try_push(numbered(i)), RingStatus::Ok);
	EXPECT_EQ(p.try_push(numbered(9)), RingStatus::Full);
	for (uint64_t i = 0; i < 4; ++i) {
		ASSERT_EQ(c.try_pop(m), RingStatus::Ok);
		EXPECT_EQ(m, numbered(i));
	}
	EXPECT_EQ(c.try_pop(m), RingStatus::Empty);
	EXPECT_EQ(p.try_push(numbered(10)), RingStatus::Ok); // space again
}

TEST(Ring, WrapsAroundSlotsManyTimes)
{
	TestChannel ch(8, 0, false);
	RawRegion raw(ch.fds.region.get());
	RingProducer p = raw.producer(Ring::Events);
	RingConsumer c = raw.consumer(Ring::Events);
	uint64_t next_in = 0, next_out = 0;
	Message m;
	for (int round = 0; round < 1000; ++round) {
		const int burst = 1 + round % 8; // uneven bursts walk every slot offset
		for (int i = 0; i < burst; ++i)
			ASSERT_EQ(p.try_push(numbered(next_in++)), RingStatus::Ok);
		for (int i = 0; i < burst; ++i) {
			ASSERT_EQ(c.try_pop(m), RingStatus::Ok);
			ASSERT_EQ(m, numbered(next_out++));
		}
	}
	EXPECT_EQ(p.index(), c.index());
}

TEST(Ring, IndicesWrapPast32Bits)
{
	TestChannel ch(4, 0, false);
	RawRegion raw(ch.fds.region.get());
	const uint32_t start = 0xfffffffdu;
	raw.set_prod(Ring::Requests, start);
	raw.set_cons(Ring::Requests, start);
	RingProducer p = raw.producer(Ring::Requests);
	RingConsumer c = raw.consumer(Ring::Requests);
	Message m;
	for (uint64_t i = 0; i < 20; ++i) {
		ASSERT_EQ(p.try_push(numbered(i)), RingStatus::Ok);
		ASSERT_EQ(p.try_push(numbered(i + 100)), RingStatus::Ok);
		ASSERT_EQ(c.try_pop(m), RingStatus::Ok);
		ASSERT_EQ(m, numbered(i));
		ASSERT_EQ(c.try_pop(m), RingStatus::Ok);
		ASSERT_EQ(m, numbered(i + 100));
	}
	EXPECT_EQ(c.index(), start + 40); // wrapped through zero
	EXPECT_LT(c.index(), start);
}

TEST(Ring, ConsumerRejectsProducerTooFarAhead)
{
	TestChannel ch(4, 0, false);
	RawRegion raw(ch.fds.region.get());
	RingConsumer c = raw.consumer(Ring::Completions);
	raw.set_prod(Ring::Completions, 5); // capacity 4, cons 0
	Message m;
	EXPECT_EQ(c.try_pop(m), RingStatus::Corrupt);
	EXPECT_EQ(c.fault().prod, 5u);
	raw.set_prod(Ring::Completions, 0xffffffffu); // "behind" the consumer
	EXPECT_EQ(c.try_pop(m), RingStatus::Corrupt);
	raw.set_prod(Ring::Completions, 4); // exactly full is fine
	EXPECT_EQ(c.try_pop(m), RingStatus::Ok);
}

TEST(Ring, ProducerRejectsImpossibleConsumerIndex)
{
	TestChannel ch(4, 0, false);
	RawRegion raw(ch.fds.region.get());
	RingProducer p = raw.producer(Ring::Requests);
	for (uint64_t i = 0; i < 4; ++i)
		ASSERT_EQ(p.try_push(numbered(i)), RingStatus::Ok);
	raw.set_cons(Ring::Requests, 9); // consumer claims to be ahead of the producer
	EXPECT_EQ(p.try_push(numbered(5)), RingStatus::Corrupt);
	EXPECT_EQ(p.check(), RingStatus::Corrupt);
	raw.set_cons(Ring::Requests, 2);
	EXPECT_EQ(p.check(), RingStatus::Ok);
	EXPECT_EQ(p.try_push(numbered(5)), RingStatus::Ok);
}

TEST(Ring, OrderAcrossTwoProcesses)
{
	TestChannel ch(16, 0, false);
	RawRegion raw(ch.fds.region.get());
	const uint64_t n = scaled(2'000'000);
	// The child consumes through its own mapping of the same memfd.
	const int region_fd = ch.fds.region.get();
	Child child([&] {
		RawRegion mine(region_fd);
		RingConsumer c = mine.consumer(Ring::Requests);
		Message m;
		for (uint64_t i = 0; i < n;) {
			const RingStatus st = c.try_pop(m);
			if (st == RingStatus::Empty) {
				sched_yield();
				continue;
			}
			if (st != RingStatus::Ok || !(m == numbered(i)))
				return 1;
			++i;
		}
		return 0;
	});
	RingProducer p = raw.producer(Ring::Requests);
	const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(50);
	for (uint64_t i = 0; i < n;) {
		const RingStatus st = p.try_push(numbered(i));
		if (st == RingStatus::Full) {
			sched_yield();
			ASSERT_LT(std::chrono::steady_clock::now(), end) << "consumer stalled at " << i;
			continue;
		}
		ASSERT_EQ(st, RingStatus::Ok);
		++i;
	}
	EXPECT_EQ(child.wait(30000), 0);
}
