// SPDX-License-Identifier: Apache-2.0
#include "vsst/rpc/message.hpp"

namespace vsst::rpc {

const char *to_string(DecodeError e)
{
	switch (e) {
	case DecodeError::None:
		return "ok";
	case DecodeError::UnknownOp:
		return "unknown op";
	case DecodeError::OpNotAllowedOnRing:
		return "op not allowed on this ring";
	case DecodeError::ReservedBits:
		return "reserved MR0 bits set";
	case DecodeError::ErrorBitOnRequest:
		return "error bit outside a completion";
	case DecodeError::ControlOpFields:
		return "MMIO fields set on a control op";
	case DecodeError::BadLength:
		return "len not in {1,2,4,8}";
	case DecodeError::BadAddressSpace:
		return "unknown address space";
	case DecodeError::AddressOutOfRange:
		return "address out of range for its address space";
	case DecodeError::PostedRead:
		return "posted read";
	case DecodeError::PostedCompletion:
		return "posted bit on a completion";
	case DecodeError::DataWiderThanAccess:
		return "data wider than the access";
	case DecodeError::BadIrqLevel:
		return "SET_IRQ level not 0/1/2";
	case DecodeError::BadDeviceIndex:
		return "device index out of range";
	case DecodeError::BadRegion:
		return "MMIO region empty or wrapping";
	case DecodeError::UnknownRegionFlags:
		return "unknown MMIO region flags";
	case DecodeError::BadMsiData:
		return "MSI data wider than 32 bits";
	case DecodeError::BadPciIds:
		return "PCI ids or class code too wide";
	case DecodeError::NonZeroPayload:
		return "unused word not zero";
	case DecodeError::BadTimeAccess:
		return "time space access that is not an 8-byte non-posted read";
	}
	return "unknown decode error";
}

const char *to_string(Op op)
{
	switch (op) {
	case Op::Mmio:
		return "MMIO";
	case Op::SetIrq:
		return "SET_IRQ";
	case Op::StartVm:
		return "START_VM";
	case Op::RegisterPciDev:
		return "REGISTER_PCI_DEV";
	case Op::MmioRegionConfig:
		return "MMIO_REGION_CONFIG";
	case Op::Msi:
		return "MSI";
	case Op::Hello:
		return "HELLO";
	case Op::Stop:
		return "STOP";
	}
	return "?";
}

const char *to_string(Ring r)
{
	switch (r) {
	case Ring::Requests:
		return "requests";
	case Ring::Completions:
		return "completions";
	case Ring::Events:
		return "events";
	}
	return "?";
}

bool is_known_op(unsigned v)
{
	switch (v) {
	case 0:
	case 16:
	case 18:
	case 19:
	case 20:
	case 21:
	case 22:
	case 23:
		return true;
	default:
		return false;
	}
}

bool op_allowed_on(Ring ring, unsigned v)
{
	if (!is_known_op(v))
		return false;
	const Op op = static_cast<Op>(v);
	switch (ring) {
	case Ring::Requests:
		return op == Op::Mmio || op == Op::Hello || op == Op::Stop;
	case Ring::Completions:
		return op == Op::Mmio;
	case Ring::Events:
		return op != Op::Mmio;
	}
	return false;
}

namespace {

bool valid_len(unsigned len)
{
	return len == 1 || len == 2 || len == 4 || len == 8;
}

DecodeError validate_mmio(const Message &m, Ring ring)
{
	if (!valid_len(m.len()))
		return DecodeError::BadLength;
	const unsigned as = m.as();
	uint64_t limit = 0; // 0: whole 64-bit space
	// Synchronized time: the address is a time, the read returns one.
	if (as == kAsTime && (m.len() != 8 || m.is_write() || m.posted()))
		return DecodeError::BadTimeAccess;
	if (as == kAsIoPort)
		limit = kIoPortSpace;
	else if (as < kAsPciLimit)
		limit = kPciConfigSpace;
	else if (as != kAsGlobal && as != kAsTime)
		return DecodeError::BadAddressSpace;
	const uint64_t last = m.addr() + (m.len() - 1);
	if (last < m.addr() || (limit && last >= limit))
		return DecodeError::AddressOutOfRange;
	if (ring == Ring::Completions) {
		if (m.posted())
			return DecodeError::PostedCompletion;
		if ((m.data() & ~len_mask(m.len())) != 0)
			return DecodeError::DataWiderThanAccess;
		return DecodeError::None;
	}
	if (m.error())
		return DecodeError::ErrorBitOnRequest;
	if (m.posted() && !m.is_write())
		return DecodeError::PostedRead;
	if (m.is_write() && (m.data() & ~len_mask(m.len())) != 0)
		return DecodeError::DataWiderThanAccess;
	return DecodeError::None;
}

DecodeError validate_control(const Message &m)
{
	// Control ops use MR0 for the opcode only.
	if ((m.mr0 & ~(mr0::kOpMask << mr0::kOpShift)) != 0)
		return m.error() ? DecodeError::ErrorBitOnRequest : DecodeError::ControlOpFields;
	switch (m.op()) {
	case Op::SetIrq:
		if (m.mr2 > VSST_RPC_IRQ_PULSE)
			return DecodeError::BadIrqLevel;
		if (m.mr1 >= kAsPciLimit)
			return DecodeError::BadDeviceIndex;
		return m.mr3 ? DecodeError::NonZeroPayload : DecodeError::None;
	case Op::StartVm:
		return (m.mr1 | m.mr2 | m.mr3) ? DecodeError::NonZeroPayload : DecodeError::None;
	case Op::RegisterPciDev:
		if (m.mr1 >= kAsPciLimit)
			return DecodeError::BadDeviceIndex;
		return (m.mr2 > 0xffffffffu || m.mr3 > 0xffffffu) ? DecodeError::BadPciIds
								  : DecodeError::None;
	case Op::MmioRegionConfig:
		if (m.mr2 == 0 || m.mr1 + (m.mr2 - 1) < m.mr1)
			return DecodeError::BadRegion;
		return (m.mr3 & ~uint64_t{VSST_RPC_REGION_POSTED}) ? DecodeError::UnknownRegionFlags
								   : DecodeError::None;
	case Op::Msi:
		if (m.mr2 > 0xffffffffu)
			return DecodeError::BadMsiData;
		return m.mr3 >= kAsPciLimit ? DecodeError::BadDeviceIndex : DecodeError::None;
	case Op::Hello:
		return m.mr3 ? DecodeError::NonZeroPayload : DecodeError::None;
	case Op::Stop:
		return (m.mr2 | m.mr3) ? DecodeError::NonZeroPayload : DecodeError::None;
	case Op::Mmio:
		break;
	}
	return DecodeError::None;
}

} // namespace

DecodeError validate(const Message &m, Ring ring)
{
	if (m.mr0 & mr0::kReservedMask)
		return DecodeError::ReservedBits;
	if (!is_known_op(m.op_raw()))
		return DecodeError::UnknownOp;
	if (!op_allowed_on(ring, m.op_raw()))
		return DecodeError::OpNotAllowedOnRing;
	if (m.op() == Op::Mmio)
		return validate_mmio(m, ring);
	return validate_control(m);
}

} // namespace vsst::rpc
