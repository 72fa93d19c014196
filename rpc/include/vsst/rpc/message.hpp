// SPDX-License-Identifier: Apache-2.0
// Message codec of the RPC channel: the 32-byte message, MR0 bit fields,
// builders, and a total decoder (every bit pattern is either a valid message
// for a given ring or a precise DecodeError). See ARCHITECTURE.md.
#pragma once

#include <cstdint>
#include <string_view>

#include "vsst/rpc.h"

namespace vsst::rpc {

enum class Op : uint8_t {
	Mmio = 0,
	SetIrq = 16,
	StartVm = 18,
	RegisterPciDev = 19,
	MmioRegionConfig = 20,
	Msi = 21,
	Hello = 22,
	Stop = 23,
};

// The three rings of a channel; the value is also the ring index in the region.
enum class Ring : uint8_t { Requests = 0, Completions = 1, Events = 2 };

inline constexpr unsigned kMaxSlots = VSST_RPC_MAX_SLOTS;
inline constexpr unsigned kAsGlobal = VSST_RPC_AS_GLOBAL;
inline constexpr unsigned kAsIoPort = VSST_RPC_AS_IOPORT;
inline constexpr unsigned kAsPciLimit = VSST_RPC_AS_PCI_LIMIT;
inline constexpr unsigned kAsTime = VSST_RPC_AS_TIME;
inline constexpr uint64_t kIoPortSpace = 0x10000; // x86 I/O port space size
inline constexpr uint64_t kPciConfigSpace = 4096; // PCIe extended config space

// MR0 layout (ARCHITECTURE.md): op 5:0, slot 11:6, dir 12, as 20:13, len 24:21,
// posted 25. Bit 26 (error) is a project extension used on completions only:
// the device failed the access. Bits 63:27 are reserved and must be zero.
namespace mr0 {
inline constexpr unsigned kOpShift = 0, kSlotShift = 6, kDirShift = 12, kAsShift = 13, kLenShift = 21,
			  kPostedShift = 25, kErrorShift = 26;
inline constexpr uint64_t kOpMask = 0x3f, kSlotMask = 0x3f, kDirMask = 1, kAsMask = 0xff, kLenMask = 0xf,
			  kPostedMask = 1, kErrorMask = 1;
inline constexpr uint64_t kReservedMask = ~((uint64_t{1} << 27) - 1);
} // namespace mr0

enum class Dir : uint8_t { Read = 0, Write = 1 };

struct Message {
	uint64_t mr0 = 0, mr1 = 0, mr2 = 0, mr3 = 0;

	constexpr unsigned op_raw() const { return (mr0 >> mr0::kOpShift) & mr0::kOpMask; }
	constexpr Op op() const { return static_cast<Op>(op_raw()); }
	constexpr unsigned slot() const { return (mr0 >> mr0::kSlotShift) & mr0::kSlotMask; }
	constexpr Dir dir() const { return static_cast<Dir>((mr0 >> mr0::kDirShift) & mr0::kDirMask); }
	constexpr bool is_write() const { return dir() == Dir::Write; }
	constexpr unsigned as() const { return (mr0 >> mr0::kAsShift) & mr0::kAsMask; }
	constexpr unsigned len() const { return (mr0 >> mr0::kLenShift) & mr0::kLenMask; }
	constexpr bool posted() const { return (mr0 >> mr0::kPostedShift) & mr0::kPostedMask; }
	constexpr bool error() const { return (mr0 >> mr0::kErrorShift) & mr0::kErrorMask; }

	// MMIO accessors (valid when op() == Op::Mmio).
	constexpr uint64_t addr() const { return mr1; }
	constexpr uint64_t data() const { return mr2; }
	constexpr uint64_t token() const { return mr3; }

	constexpr vsst_rpcmsg to_c() const { return {mr0, mr1, mr2, mr3}; }
	static constexpr Message from_c(const vsst_rpcmsg &m) { return {m.mr0, m.mr1, m.mr2, m.mr3}; }
	friend constexpr bool operator==(const Message &, const Message &) = default;
};
static_assert(sizeof(Message) == 32 && sizeof(vsst_rpcmsg) == 32);

constexpr uint64_t make_mr0(Op op, unsigned slot = 0, Dir dir = Dir::Read, unsigned as = 0, unsigned len = 0,
			    bool posted = false, bool error = false)
{
	return (uint64_t(static_cast<unsigned>(op)) & mr0::kOpMask) << mr0::kOpShift |
	       (uint64_t(slot) & mr0::kSlotMask) << mr0::kSlotShift |
	       (uint64_t(static_cast<unsigned>(dir)) & mr0::kDirMask) << mr0::kDirShift |
	       (uint64_t(as) & mr0::kAsMask) << mr0::kAsShift |
	       (uint64_t(len) & mr0::kLenMask) << mr0::kLenShift |
	       (uint64_t(posted) & mr0::kPostedMask) << mr0::kPostedShift |
	       (uint64_t(error) & mr0::kErrorMask) << mr0::kErrorShift;
}

// Mask of the bytes an access of `len` bytes carries (len in {1,2,4,8}).
constexpr uint64_t len_mask(unsigned len)
{
	return len >= 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * len)) - 1;
}

// ---- builders ----
constexpr Message mmio_request(unsigned slot, unsigned as, uint64_t addr, unsigned len, Dir dir,
			       uint64_t data, uint64_t token)
{
	return {make_mr0(Op::Mmio, slot, dir, as, len), addr, dir == Dir::Write ? data : 0, token};
}
constexpr Message mmio_posted_write(unsigned as, uint64_t addr, unsigned len, uint64_t data)
{
	return {make_mr0(Op::Mmio, 0, Dir::Write, as, len, true), addr, data, 0};
}
// The completion of `req`: same MR0 fields, read data in mr2, token echoed in mr3.
constexpr Message mmio_completion(const Message &req, uint64_t read_data, bool error = false)
{
	const uint64_t data = (req.is_write() || error) ? 0 : (read_data & len_mask(req.len()));
	return {make_mr0(Op::Mmio, req.slot(), req.dir(), req.as(), req.len(), false, error), req.mr1, data,
		req.mr3};
}
constexpr Message set_irq(uint64_t device, unsigned level)
{
	return {make_mr0(Op::SetIrq), device, level, 0};
}
constexpr Message start_vm()
{
	return {make_mr0(Op::StartVm), 0, 0, 0};
}
constexpr Message register_pci_dev(uint64_t device, uint16_t vendor, uint16_t device_id, uint32_t class_code)
{
	return {make_mr0(Op::RegisterPciDev), device, (uint64_t(vendor) << 16) | device_id, class_code};
}
constexpr Message mmio_region_config(uint64_t base, uint64_t size, uint64_t flags)
{
	return {make_mr0(Op::MmioRegionConfig), base, size, flags};
}
constexpr Message msi(uint64_t address, uint32_t data, uint64_t device)
{
	return {make_mr0(Op::Msi), address, data, device};
}
constexpr Message hello(uint64_t version = VSST_RPC_PROTOCOL_VERSION, uint64_t features = 0)
{
	return {make_mr0(Op::Hello), version, features, 0};
}
constexpr Message stop(uint64_t reason = 0)
{
	return {make_mr0(Op::Stop), reason, 0, 0};
}

// ---- decoding ----
enum class DecodeError : uint8_t {
	None = 0,
	UnknownOp,           // op value not in the opcode table
	OpNotAllowedOnRing,  // known op, but not carried by this ring
	ReservedBits,        // MR0 bits 63:27 set
	ErrorBitOnRequest,   // MR0 bit 26 (error) outside the completions ring
	ControlOpFields,     // slot/dir/as/len/posted/error set on a non-MMIO op
	BadLength,           // len not in {1,2,4,8}
	BadAddressSpace,     // as in 0xf0..0xfd
	AddressOutOfRange,   // addr+len past the end of the address space
	PostedRead,          // posted bit on a read
	PostedCompletion,    // posted bit on a completion
	DataWiderThanAccess, // data has bits above len bytes
	BadIrqLevel,         // SET_IRQ level not 0/1/2
	BadDeviceIndex,      // device index >= 0xf0
	BadRegion,           // MMIO_REGION_CONFIG size 0 or base+size overflows
	UnknownRegionFlags,  // MMIO_REGION_CONFIG flags beyond the known ones
	BadMsiData,          // MSI data wider than 32 bits
	BadPciIds,           // REGISTER_PCI_DEV ids wider than 32 bits or class code than 24
	NonZeroPayload,      // a word documented as unused ("-") is not zero
	BadTimeAccess,       // AS_TIME access that is not an 8-byte, non-posted read
};

const char *to_string(DecodeError e);
const char *to_string(Op op);  // "MMIO", "SET_IRQ", ...; "?" when unknown
const char *to_string(Ring r); // "requests", "completions", "events"

bool is_known_op(unsigned op_raw);
bool op_allowed_on(Ring ring, unsigned op_raw);

// Total: returns None iff `m` is a valid message for `ring`. Never reads beyond m.
DecodeError validate(const Message &m, Ring ring);

struct Decoded {
	DecodeError error = DecodeError::None;
	Message msg{};
	explicit operator bool() const { return error == DecodeError::None; }
};
inline Decoded decode(const Message &m, Ring ring)
{
	return {validate(m, ring), m};
}

} // namespace vsst::rpc
