// SPDX-License-Identifier: Apache-2.0
// Message codec: MR0 layout, builders, and the total decoder.
#include <gtest/gtest.h>

#include <random>

#include "vsst/rpc.h"
#include "vsst/rpc/message.hpp"

using namespace vsst::rpc;

TEST(Codec, Mr0FieldsMatchArchitectureTable)
{
	const uint64_t m = make_mr0(Op::Mmio, 0x2a, Dir::Write, 0xfe, 4, true);
	EXPECT_EQ(m & 0x3f, 0u);
	EXPECT_EQ((m >> 6) & 0x3f, 0x2au);
	EXPECT_EQ((m >> 12) & 1, 1u);
	EXPECT_EQ((m >> 13) & 0xff, 0xfeu);
	EXPECT_EQ((m >> 21) & 0xf, 4u);
	EXPECT_EQ((m >> 25) & 1, 1u);
	// The C header's builder and accessors agree with the C++ ones.
	EXPECT_EQ(vsst_rpc_mr0(0, 0x2a, 1, 0xfe, 4, 1), m);
	const Message msg{m, 0, 0, 0};
	EXPECT_EQ(vsst_rpc_mr0_slot(m), msg.slot());
	EXPECT_EQ(vsst_rpc_mr0_as(m), msg.as());
	EXPECT_EQ(vsst_rpc_mr0_len(m), msg.len());
	EXPECT_EQ(vsst_rpc_mr0_dir(m), 1u);
	EXPECT_EQ(vsst_rpc_mr0_posted(m), 1u);
	EXPECT_EQ(VSST_RPC_MR0_ERROR, uint64_t{1} << mr0::kErrorShift);
}

TEST(Codec, OpcodeValues)
{
	EXPECT_EQ(static_cast<int>(Op::Mmio), VSST_RPC_OP_MMIO);
	EXPECT_EQ(static_cast<int>(Op::SetIrq), 16);
	EXPECT_EQ(static_cast<int>(Op::StartVm), 18);
	EXPECT_EQ(static_cast<int>(Op::RegisterPciDev), 19);
	EXPECT_EQ(static_cast<int>(Op::MmioRegionConfig), 20);
	EXPECT_EQ(static_cast<int>(Op::Msi), 21);
	EXPECT_EQ(static_cast<int>(Op::Hello), 22);
	EXPECT_EQ(static_cast<int>(Op::Stop), VSST_RPC_OP_STOP);
}

TEST(Codec, BuildersProduceValidMessagesOnTheirRing)
{
	const Message rd = mmio_request(3, kAsGlobal, 0xfee00000, 4, Dir::Read, 0, 77);
	EXPECT_EQ(validate(rd, Ring::Requests), DecodeError::None);
	EXPECT_EQ(rd.slot(), 3u);
	EXPECT_EQ(rd.token(), 77u);
	const Message c = mmio_completion(rd, 0x1122334455667788ull);
	EXPECT_EQ(validate(c, Ring::Completions), DecodeError::None);
	EXPECT_EQ(c.data(), 0x55667788u); // masked to the access size
	EXPECT_EQ(c.token(), 77u);
	EXPECT_FALSE(c.error());
	EXPECT_TRUE(mmio_completion(rd, 0, true).error());
	EXPECT_EQ(validate(mmio_posted_write(kAsIoPort, 0xcf8, 4, 0x80000000), Ring::Requests),
		  DecodeError::None);
	EXPECT_EQ(validate(mmio_request(0, 5, 0x10, 2, Dir::Write, 0xbeef, 1), Ring::Requests),
		  DecodeError::None);
	// Synchronized time: a read at the guest's time; the answer is a full 64-bit time.
	const Message t = mmio_request(2, kAsTime, 123456789, 8, Dir::Read, 0, 9);
	EXPECT_EQ(validate(t, Ring::Requests), DecodeError::None);
	EXPECT_EQ(validate(mmio_completion(t, VSST_RPC_TIME_NONE), Ring::Completions), DecodeError::None);
	for (const Message &ev :
	     {set_irq(1, VSST_RPC_IRQ_PULSE), start_vm(), register_pci_dev(0, 0x1af4, 0x1053, 0xff0000),
	      mmio_region_config(0xfe000000, 0x1000, VSST_RPC_REGION_POSTED), msi(0xfee00000, 0x4021, 0),
	      hello(), stop(3)})
		EXPECT_EQ(validate(ev, Ring::Events), DecodeError::None) << to_string(ev.op());
	EXPECT_EQ(validate(hello(), Ring::Requests), DecodeError::None);
	EXPECT_EQ(validate(stop(), Ring::Requests), DecodeError::None);
}

TEST(Codec, RingOpMatrix)
{
	// Every op value on every ring: allowed exactly per the table.
	for (unsigned op = 0; op < 64; ++op) {
		const bool known = op == 0 || (op >= 16 && op <= 23 && op != 17);
		EXPECT_EQ(is_known_op(op), known) << op;
		EXPECT_EQ(op_allowed_on(Ring::Requests, op), op == 0 || op == 22 || op == 23) << op;
		EXPECT_EQ(op_allowed_on(Ring::Completions, op), op == 0) << op;
		EXPECT_EQ(op_allowed_on(Ring::Events, op), known && op != 0) << op;
		const Message m{op, 0, 0, 0};
		for (Ring r : {Ring::Requests, Ring::Completions, Ring::Events}) {
			const DecodeError e = validate(m, r);
			if (!known) {
				EXPECT_EQ(e, DecodeError::UnknownOp);
			} else if (!op_allowed_on(r, op)) {
				EXPECT_EQ(e, DecodeError::OpNotAllowedOnRing);
			}
		}
	}
}

struct BadCase {
	const char *name;
	Message msg;
	Ring ring;
	DecodeError expect;
};

TEST(Codec, EachBadFieldHasItsOwnError)
{
	const uint64_t rd4 = make_mr0(Op::Mmio, 1, Dir::Read, kAsGlobal, 4);
	const BadCase cases[] = {
		{"reserved bit 27", {rd4 | (1ull << 27), 0, 0, 0}, Ring::Requests, DecodeError::ReservedBits},
		{"reserved bit 63",
		 {rd4 | (1ull << 63), 0, 0, 0},
		 Ring::Completions,
		 DecodeError::ReservedBits},
		{"unknown op", {17, 0, 0, 0}, Ring::Events, DecodeError::UnknownOp},
		{"op on wrong ring", {set_irq(0, 1)}, Ring::Requests, DecodeError::OpNotAllowedOnRing},
		{"len 3",
		 {make_mr0(Op::Mmio, 0, Dir::Read, kAsGlobal, 3), 0, 0, 0},
		 Ring::Requests,
		 DecodeError::BadLength},
		{"len 0",
		 {make_mr0(Op::Mmio, 0, Dir::Read, kAsGlobal, 0), 0, 0, 0},
		 Ring::Completions,
		 DecodeError::BadLength},
		{"as 0xf0",
		 {make_mr0(Op::Mmio, 0, Dir::Read, 0xf0, 4), 0, 0, 0},
		 Ring::Requests,
		 DecodeError::BadAddressSpace},
		{"time write",
		 {make_mr0(Op::Mmio, 0, Dir::Write, kAsTime, 8), 1000, 0, 0},
		 Ring::Requests,
		 DecodeError::BadTimeAccess},
		{"time read of 4 bytes",
		 {make_mr0(Op::Mmio, 0, Dir::Read, kAsTime, 4), 1000, 0, 0},
		 Ring::Requests,
		 DecodeError::BadTimeAccess},
		{"time beyond the end of time",
		 {make_mr0(Op::Mmio, 0, Dir::Read, kAsTime, 8), ~0ull - 2, 0, 0},
		 Ring::Requests,
		 DecodeError::AddressOutOfRange},
		{"ioport past 64K",
		 {make_mr0(Op::Mmio, 0, Dir::Read, kAsIoPort, 4), 0xfffe, 0, 0},
		 Ring::Requests,
		 DecodeError::AddressOutOfRange},
		{"config past 4K",
		 {make_mr0(Op::Mmio, 0, Dir::Read, 3, 2), 0xfff, 0, 0},
		 Ring::Requests,
		 DecodeError::AddressOutOfRange},
		{"global wraps",
		 {make_mr0(Op::Mmio, 0, Dir::Read, kAsGlobal, 8), ~0ull - 2, 0, 0},
		 Ring::Requests,
		 DecodeError::AddressOutOfRange},
		{"posted read",
		 {make_mr0(Op::Mmio, 0, Dir::Read, kAsGlobal, 4, true), 0, 0, 0},
		 Ring::Requests,
		 DecodeError::PostedRead},
		{"error bit on request",
		 {rd4 | VSST_RPC_MR0_ERROR, 0, 0, 0},
		 Ring::Requests,
		 DecodeError::ErrorBitOnRequest},
		{"posted completion",
		 {make_mr0(Op::Mmio, 0, Dir::Write, kAsGlobal, 4, true), 0, 0, 0},
		 Ring::Completions,
		 DecodeError::PostedCompletion},
		{"read data too wide",
		 {rd4, 0, 0x100000000ull, 0},
		 Ring::Completions,
		 DecodeError::DataWiderThanAccess},
		{"write data too wide",
		 {make_mr0(Op::Mmio, 0, Dir::Write, kAsGlobal, 1), 0, 0x100, 0},
		 Ring::Requests,
		 DecodeError::DataWiderThanAccess},
		{"control op with slot",
		 {make_mr0(Op::Hello, 5), 1, 0, 0},
		 Ring::Requests,
		 DecodeError::ControlOpFields},
		{"control op with error bit",
		 {make_mr0(Op::Stop) | VSST_RPC_MR0_ERROR, 0, 0, 0},
		 Ring::Events,
		 DecodeError::ErrorBitOnRequest},
		{"irq level 3", {set_irq(0, 3)}, Ring::Events, DecodeError::BadIrqLevel},
		{"irq device 0xf0", {set_irq(0xf0, 1)}, Ring::Events, DecodeError::BadDeviceIndex},
		{"pci dev index",
		 {register_pci_dev(0x100, 1, 2, 3)},
		 Ring::Events,
		 DecodeError::BadDeviceIndex},
		{"pci class too wide",
		 {make_mr0(Op::RegisterPciDev), 0, 0, 0x1000000},
		 Ring::Events,
		 DecodeError::BadPciIds},
		{"region size 0", {mmio_region_config(0x1000, 0, 0)}, Ring::Events, DecodeError::BadRegion},
		{"region wraps", {mmio_region_config(~0ull, 2, 0)}, Ring::Events, DecodeError::BadRegion},
		{"region flags",
		 {mmio_region_config(0x1000, 0x1000, 0x80)},
		 Ring::Events,
		 DecodeError::UnknownRegionFlags},
		{"msi data",
		 {make_mr0(Op::Msi), 0xfee00000, 0x100000000ull, 0},
		 Ring::Events,
		 DecodeError::BadMsiData},
		{"msi device", {msi(0xfee00000, 1, 0xf5)}, Ring::Events, DecodeError::BadDeviceIndex},
		{"start_vm payload",
		 {make_mr0(Op::StartVm), 1, 0, 0},
		 Ring::Events,
		 DecodeError::NonZeroPayload},
		{"stop payload", {make_mr0(Op::Stop), 1, 2, 0}, Ring::Requests, DecodeError::NonZeroPayload},
	};
	for (const BadCase &c : cases) {
		EXPECT_EQ(validate(c.msg, c.ring), c.expect)
			<< c.name << ": got " << to_string(validate(c.msg, c.ring));
		EXPECT_FALSE(decode(c.msg, c.ring)) << c.name;
		EXPECT_STRNE(to_string(c.expect), "unknown decode error");
	}
}

TEST(Codec, DecodeIsTotalOverRandomBitPatterns)
{
	// Every pattern yields either None or a named error; valid ones re-validate.
	std::mt19937_64 rng(12345);
	int valid = 0;
	for (int i = 0; i < 200000; ++i) {
		Message m{rng(), rng(), rng(), rng()};
		if (i & 1)
			m.mr0 &= (1ull << 27) - 1; // keep more messages in the interesting range
		if (i & 2)
			m.mr2 &= 0xff;
		for (Ring r : {Ring::Requests, Ring::Completions, Ring::Events}) {
			const Decoded d = decode(m, r);
			EXPECT_STRNE(to_string(d.error), "unknown decode error");
			if (d) {
				++valid;
				EXPECT_TRUE(op_allowed_on(r, d.msg.op_raw()));
				EXPECT_EQ(d.msg, m);
			}
		}
	}
	EXPECT_GT(valid, 0);
}
