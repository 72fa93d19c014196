// SPDX-License-Identifier: Apache-2.0
// A hostile or broken peer: every corruption of shared memory poisons the
// channel with a precise reason that both sides read, and nothing crashes,
// hangs or touches memory outside the region (ASan checks the last part).
#include <poll.h>

#include <random>
#include <thread>

#include "rpc_test_util.hpp"

using namespace vsst::rpc;
using namespace vsst::rpc::test;
using namespace std::chrono_literals;

namespace {

// Both endpoints agree the channel is poisoned, with a reason containing `what`.
void expect_poisoned(TestChannel &ch, const std::string &what)
{
	EXPECT_TRUE(ch.proxy->poisoned());
	EXPECT_TRUE(ch.device->poisoned());
	EXPECT_NE(std::string(ch.proxy->poison_reason()).find(what), std::string::npos)
		<< "proxy reason: " << ch.proxy->poison_reason();
	EXPECT_STREQ(ch.proxy->poison_reason(), ch.device->poison_reason());
	// Everything stops cleanly afterwards.
	uint64_t v;
	Message m;
	EXPECT_EQ(ch.proxy->read(kAsGlobal, 0, 4, &v, 100), -EPIPE);
	EXPECT_EQ(ch.proxy->post(kAsGlobal, 0, 4, 0, 100), -EPIPE);
	EXPECT_EQ(ch.proxy->recv_event(m), -EPIPE);
	EXPECT_EQ(ch.proxy->wait_event(m, 100), -EPIPE);
	EXPECT_EQ(ch.device->wait_request(m, 100), -EPIPE);
	EXPECT_EQ(ch.device->send_event(start_vm(), 100), -EPIPE);
}

// A request the raw peer took out of the requests ring while playing device.
Message take_request(RawRegion &raw)
{
	RingConsumer c = raw.consumer(Ring::Requests);
	Message m;
	const auto end = std::chrono::steady_clock::now() + 5s;
	while (c.try_pop(m) != RingStatus::Ok && std::chrono::steady_clock::now() < end)
		std::this_thread::sleep_for(100us);
	return m;
}

// Runs a proxy read in a thread while the raw peer (no device endpoint
// traffic) answers with `forge(request)`; returns the read's result.
int read_with_forged_completion(TestChannel &ch, const std::function<Message(const Message &)> &forge)
{
	RawRegion raw(ch.fds.region.get());
	int rc = 0;
	std::thread vcpu([&] {
		uint64_t v;
		rc = ch.proxy->read(kAsGlobal, 0x1000, 4, &v, 5000);
	});
	const Message req = take_request(raw);
	raw.inject(Ring::Completions, forge(req));
	kick(ch.fds.to_proxy.get());
	vcpu.join();
	return rc;
}

} // namespace

// ---- indices ----

TEST(Poison, RequestsProducerIndexTooFarAhead)
{
	TestChannel ch(8);
	RawRegion raw(ch.fds.region.get());
	raw.set_prod(Ring::Requests, 9);
	Message m;
	EXPECT_EQ(ch.device->try_request(m), -EPIPE);
	expect_poisoned(ch,
			"requests ring: producer index 9 is more than capacity 8 ahead of consumer index 0");
}

TEST(Poison, CompletionsProducerIndexBehindConsumer)
{
	TestChannel ch;
	RawRegion raw(ch.fds.region.get());
	raw.set_prod(Ring::Completions, 0xfffffff0u);
	uint64_t v;
	EXPECT_EQ(ch.proxy->read(kAsGlobal, 0, 4, &v, 1000), -EPIPE);
	expect_poisoned(ch, "completions ring: producer index 4294967280");
}

TEST(Poison, EventsProducerIndexTooFarAhead)
{
	TestChannel ch;
	RawRegion raw(ch.fds.region.get());
	raw.set_prod(Ring::Events, 257);
	Message m;
	EXPECT_EQ(ch.proxy->recv_event(m), -EPIPE);
	expect_poisoned(ch, "events ring: producer index 257");
}

TEST(Poison, RequestsConsumerIndexImpossible)
{
	TestChannel ch(4);
	for (int i = 0; i < 4; ++i)
		ASSERT_EQ(ch.proxy->post(kAsGlobal, 0, 4, 0, 10), 0);
	RawRegion raw(ch.fds.region.get());
	raw.set_cons(Ring::Requests, 100); // ahead of everything the proxy produced
	EXPECT_EQ(ch.proxy->post(kAsGlobal, 0, 4, 0, 100), -EPIPE);
	expect_poisoned(ch, "requests ring: consumer index 100");
}

TEST(Poison, EventsConsumerIndexImpossible)
{
	TestChannel ch(4);
	for (int i = 0; i < 4; ++i)
		ASSERT_EQ(ch.device->send_event(start_vm(), 10), 0);
	RawRegion raw(ch.fds.region.get());
	raw.set_cons(Ring::Events, 0x80000000u);
	EXPECT_EQ(ch.device->send_event(start_vm(), 100), -EPIPE);
	expect_poisoned(ch, "events ring: consumer index 2147483648");
}

// ---- bad fields, each ring ----

struct FieldCase {
	const char *name;
	Ring ring;
	Message msg;
	DecodeError expect;
};

class BadField : public ::testing::TestWithParam<FieldCase> {};

TEST_P(BadField, PoisonsWithTheDecodeError)
{
	const FieldCase &c = GetParam();
	TestChannel ch;
	RawRegion raw(ch.fds.region.get());
	raw.inject(c.ring, c.msg);
	Message m;
	uint64_t v;
	switch (c.ring) {
	case Ring::Requests:
		EXPECT_EQ(ch.device->wait_request(m, 1000), -EPIPE);
		break;
	case Ring::Completions:
		EXPECT_EQ(ch.proxy->read(kAsGlobal, 0, 4, &v, 1000), -EPIPE);
		break;
	case Ring::Events:
		EXPECT_EQ(ch.proxy->wait_event(m, 1000), -EPIPE);
		break;
	}
	expect_poisoned(ch, std::string(to_string(c.ring)) + " ring: bad message: " + to_string(c.expect));
	EXPECT_EQ(ch.proxy->stats().rejected + ch.device->stats().rejected, 1u);
}

const uint64_t kRd4 = make_mr0(Op::Mmio, 0, Dir::Read, kAsGlobal, 4);

INSTANTIATE_TEST_SUITE_P(
	EveryField, BadField,
	::testing::Values(
		FieldCase{"req_unknown_op", Ring::Requests, {9, 0, 0, 0}, DecodeError::UnknownOp},
		FieldCase{"req_event_op", Ring::Requests, set_irq(0, 1), DecodeError::OpNotAllowedOnRing},
		FieldCase{"req_reserved",
			  Ring::Requests,
			  {kRd4 | (1ull << 40), 0, 0, 0},
			  DecodeError::ReservedBits},
		FieldCase{"req_len",
			  Ring::Requests,
			  {make_mr0(Op::Mmio, 0, Dir::Read, kAsGlobal, 5), 0, 0, 0},
			  DecodeError::BadLength},
		FieldCase{"req_as",
			  Ring::Requests,
			  {make_mr0(Op::Mmio, 0, Dir::Read, 0xf7, 4), 0, 0, 0},
			  DecodeError::BadAddressSpace},
		FieldCase{"req_range",
			  Ring::Requests,
			  {make_mr0(Op::Mmio, 0, Dir::Read, kAsIoPort, 2), 0xffff, 0, 0},
			  DecodeError::AddressOutOfRange},
		FieldCase{"req_posted_read",
			  Ring::Requests,
			  {make_mr0(Op::Mmio, 0, Dir::Read, kAsGlobal, 4, true), 0, 0, 0},
			  DecodeError::PostedRead},
		FieldCase{"req_error_bit",
			  Ring::Requests,
			  {kRd4 | VSST_RPC_MR0_ERROR, 0, 0, 0},
			  DecodeError::ErrorBitOnRequest},
		FieldCase{"req_wide_data",
			  Ring::Requests,
			  {make_mr0(Op::Mmio, 0, Dir::Write, kAsGlobal, 2), 0, 0x10000, 0},
			  DecodeError::DataWiderThanAccess},
		FieldCase{"req_control_fields",
			  Ring::Requests,
			  {make_mr0(Op::Hello, 0, Dir::Write), 1, 0, 0},
			  DecodeError::ControlOpFields},
		FieldCase{"req_stop_payload",
			  Ring::Requests,
			  {make_mr0(Op::Stop), 0, 0, 1},
			  DecodeError::NonZeroPayload},
		FieldCase{"cpl_op", Ring::Completions, hello(), DecodeError::OpNotAllowedOnRing},
		FieldCase{"cpl_unknown_op", Ring::Completions, {63, 0, 0, 0}, DecodeError::UnknownOp},
		FieldCase{"cpl_len",
			  Ring::Completions,
			  {make_mr0(Op::Mmio, 0, Dir::Read, kAsGlobal, 0), 0, 0, 0},
			  DecodeError::BadLength},
		FieldCase{"cpl_as",
			  Ring::Completions,
			  {make_mr0(Op::Mmio, 0, Dir::Read, 0xfc, 4), 0, 0, 0},
			  DecodeError::BadAddressSpace},
		FieldCase{"cpl_posted",
			  Ring::Completions,
			  {make_mr0(Op::Mmio, 0, Dir::Write, kAsGlobal, 4, true), 0, 0, 0},
			  DecodeError::PostedCompletion},
		FieldCase{"cpl_wide_data",
			  Ring::Completions,
			  {kRd4, 0, 0x1'0000'0000ull, 0},
			  DecodeError::DataWiderThanAccess},
		FieldCase{"cpl_reserved",
			  Ring::Completions,
			  {kRd4 | (1ull << 27), 0, 0, 0},
			  DecodeError::ReservedBits},
		FieldCase{"evt_mmio", Ring::Events, {kRd4, 0, 0, 0}, DecodeError::OpNotAllowedOnRing},
		FieldCase{"evt_unknown", Ring::Events, {17, 0, 0, 0}, DecodeError::UnknownOp},
		FieldCase{"evt_irq_level", Ring::Events, set_irq(0, 3), DecodeError::BadIrqLevel},
		FieldCase{"evt_irq_dev", Ring::Events, set_irq(0xff, 1), DecodeError::BadDeviceIndex},
		FieldCase{"evt_pci_dev", Ring::Events, register_pci_dev(0xf0, 0, 0, 0),
			  DecodeError::BadDeviceIndex},
		FieldCase{"evt_pci_ids",
			  Ring::Events,
			  {make_mr0(Op::RegisterPciDev), 0, 1ull << 32, 0},
			  DecodeError::BadPciIds},
		FieldCase{"evt_region_size", Ring::Events, mmio_region_config(0, 0, 0),
			  DecodeError::BadRegion},
		FieldCase{"evt_region_flags", Ring::Events, mmio_region_config(0, 16, 6),
			  DecodeError::UnknownRegionFlags},
		FieldCase{"evt_msi_data",
			  Ring::Events,
			  {make_mr0(Op::Msi), 0, 1ull << 33, 0},
			  DecodeError::BadMsiData},
		FieldCase{"evt_start_payload",
			  Ring::Events,
			  {make_mr0(Op::StartVm), 0, 0, 9},
			  DecodeError::NonZeroPayload},
		FieldCase{"evt_control_fields",
			  Ring::Events,
			  {make_mr0(Op::StartVm, 3), 0, 0, 0},
			  DecodeError::ControlOpFields}),
	[](const ::testing::TestParamInfo<FieldCase> &i) { return std::string(i.param.name); });

// ---- slots and tokens ----

TEST(Poison, CompletionForSlotWithNothingInFlight)
{
	TestChannel ch;
	RawRegion raw(ch.fds.region.get());
	raw.inject(Ring::Completions, mmio_completion(mmio_request(5, kAsGlobal, 0, 4, Dir::Read, 0, 1), 0));
	uint64_t v;
	EXPECT_EQ(ch.proxy->read(kAsGlobal, 0, 4, &v, 1000), -EPIPE);
	expect_poisoned(ch, "completion for slot 5, which has no request in flight");
}

TEST(Poison, CompletionWithWrongToken)
{
	TestChannel ch;
	const int rc = read_with_forged_completion(ch, [](const Message &req) {
		Message c = mmio_completion(req, 1);
		c.mr3 ^= 0x40;
		return c;
	});
	EXPECT_EQ(rc, -EPIPE);
	expect_poisoned(ch, "token mismatch on slot 0");
}

TEST(Poison, CompletionNotMatchingItsRequest)
{
	TestChannel ch;
	const int rc = read_with_forged_completion(ch, [](const Message &req) {
		return mmio_completion(
			mmio_request(req.slot(), kAsGlobal, req.addr() + 4, 4, Dir::Read, 0, req.token()), 1);
	});
	EXPECT_EQ(rc, -EPIPE);
	expect_poisoned(ch, "completion for slot 0 does not match its request");
}

TEST(Poison, DuplicateCompletion)
{
	TestChannel ch;
	RawRegion raw(ch.fds.region.get());
	const int rc =
		read_with_forged_completion(ch, [](const Message &req) { return mmio_completion(req, 7); });
	EXPECT_EQ(rc, 0);
	// The same completion again: slot 0 has nothing in flight any more. The
	// main loop's receive drains completions when it takes a kick.
	RingProducer p = raw.producer(Ring::Completions);
	const Message again = mmio_completion(mmio_request(0, kAsGlobal, 0x1000, 4, Dir::Read, 0, 1), 7);
	ASSERT_EQ(p.try_push(again), RingStatus::Ok);
	kick(ch.fds.to_proxy.get());
	Message m;
	EXPECT_EQ(ch.proxy->recv_event(m), -EPIPE);
	expect_poisoned(ch, "completion for slot 0, which has no request in flight");
}

TEST(Poison, RequestOnASlotAlreadyInFlight)
{
	TestChannel ch;
	RawRegion raw(ch.fds.region.get());
	raw.inject(Ring::Requests, mmio_request(3, kAsGlobal, 0, 4, Dir::Read, 0, 1));
	raw.inject(Ring::Requests, mmio_request(3, kAsGlobal, 8, 4, Dir::Read, 0, 2));
	Message m;
	EXPECT_EQ(ch.device->wait_request(m, 100), 1);
	EXPECT_EQ(ch.device->wait_request(m, 100), -EPIPE);
	expect_poisoned(ch, "request on slot 3 while slot 3 is still in flight");
}

// ---- explicit poisoning and the poison word itself ----

TEST(Poison, ExplicitPoisonWakesBlockedWaitersOnBothSides)
{
	TestChannel ch(256, 0);
	ch.proxy->set_spin_us(0);
	ch.device->set_spin_us(0);
	int vcpu_rc = 0, loop_rc = 0;
	std::thread vcpu([&] {
		uint64_t v;
		vcpu_rc = ch.proxy->read(kAsGlobal, 0, 4, &v, 20000);
	});
	std::thread main_loop([&] {
		Message m;
		loop_rc = ch.proxy->wait_event(m, 20000);
	});
	Message req;
	ASSERT_EQ(ch.device->wait_request(req, 5000), 1); // the vCPU's read, never answered
	std::this_thread::sleep_for(20ms);                // let both proxy threads block
	const auto t0 = std::chrono::steady_clock::now();
	ch.device->poison("device model crashed");
	vcpu.join();
	main_loop.join();
	EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s); // woken, not timed out
	EXPECT_EQ(vcpu_rc, -EPIPE);
	EXPECT_EQ(loop_rc, -EPIPE);
	EXPECT_STREQ(ch.proxy->poison_reason(), "device model crashed");
	EXPECT_STREQ(ch.device->poison_reason(), "device model crashed");

	// And the other way round: a device blocked in wait_request.
	TestChannel ch2(256, 0);
	ch2.device->set_spin_us(0);
	int dev_rc = 0;
	std::thread dev([&] {
		Message m;
		dev_rc = ch2.device->wait_request(m, 20000);
	});
	std::this_thread::sleep_for(20ms);
	ch2.proxy->poison("guest reset");
	dev.join();
	EXPECT_EQ(dev_rc, -EPIPE);
	EXPECT_STREQ(ch2.device->poison_reason(), "guest reset");
	// The first reason sticks.
	ch2.device->poison("second");
	EXPECT_STREQ(ch2.device->poison_reason(), "guest reset");
	EXPECT_STREQ(ch2.proxy->poison_reason(), "guest reset");
}

TEST(Poison, GarbagePoisonWordAndReason)
{
	{
		TestChannel ch;
		RawRegion raw(ch.fds.region.get());
		std::atomic_ref<uint32_t>(raw.header()->poison_state).store(0xdead);
		EXPECT_TRUE(ch.proxy->poisoned());
		EXPECT_NE(std::string(ch.device->poison_reason()).find("no reason"), std::string::npos);
		// A peer that "heals" the word later does not un-poison us.
		std::atomic_ref<uint32_t>(raw.header()->poison_state).store(0);
		EXPECT_TRUE(ch.proxy->poisoned());
		EXPECT_TRUE(ch.device->poisoned());
	}
	{
		TestChannel ch;
		RawRegion raw(ch.fds.region.get());
		std::memset(raw.header()->poison_reason, 0x07, sizeof raw.header()->poison_reason); // no NUL
		std::atomic_ref<uint32_t>(raw.header()->poison_state).store(layout::kPoisoned);
		const std::string r = ch.proxy->poison_reason();
		EXPECT_LT(r.size(), layout::kReasonMax);
		EXPECT_EQ(r.find('\x07'), std::string::npos);
		EXPECT_EQ(r, ch.device->poison_reason());
	}
	{
		// Stuck "writing" forever: still poisoned, bounded wait.
		TestChannel ch;
		RawRegion raw(ch.fds.region.get());
		std::atomic_ref<uint32_t>(raw.header()->poison_state).store(layout::kPoisonWriting);
		Message m;
		EXPECT_EQ(ch.device->wait_request(m, 1000), -EPIPE);
		EXPECT_NE(std::string(ch.device->poison_reason()).find("no reason"), std::string::npos);
	}
}

// ---- random garbage: never crash, either valid traffic or poison ----

TEST(Poison, RandomRingContentsNeverCrash)
{
	std::mt19937_64 rng(42);
	const int rounds = static_cast<int>(scaled(400, 4));
	int poisoned = 0;
	for (int i = 0; i < rounds; ++i) {
		TestChannel ch(8, 0);
		RawRegion raw(ch.fds.region.get());
		for (Ring r : {Ring::Requests, Ring::Completions, Ring::Events}) {
			Message *slots = raw.slots(r);
			for (unsigned k = 0; k < 8; ++k) {
				slots[k] = {rng(), rng(), rng(), rng()};
				if (rng() & 1)
					slots[k].mr0 &= (1ull << 26) - 1;
			}
			raw.set_prod(r, static_cast<uint32_t>(rng() % 12));
		}
		Message m;
		uint64_t v;
		for (int k = 0; k < 10; ++k) {
			ch.device->try_request(m);
			ch.proxy->recv_event(m);
		}
		ch.proxy->read(kAsGlobal, 0, 4, &v, 0);
		poisoned += ch.proxy->poisoned();
	}
	EXPECT_GT(poisoned, rounds / 2);
}
