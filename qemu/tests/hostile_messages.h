// SPDX-License-Identifier: Apache-2.0
// The hostile-peer matrix: for each ring the project's QEMU consumes, every
// opcode with every kind of bad field, as a peer writing the shared region
// directly would send it (the rpc library refuses to send any of them). Each
// case names the reason the consuming side must give when it poisons the
// channel. backend.hostile_requests (the device VM, rpc-dispatch.c) and
// proxy.hostile_* (the guest VM, rpc-channel.c) feed them to the real QEMU.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "vsst/rpc.h"

namespace vsst::hostile {

struct Case {
	std::string name; // gtest-friendly: [A-Za-z0-9_]
	vsst_rpcmsg msg;
	std::string reason; // what the poison reason must contain
};

// MR0 bits outside every field (reserved) and the completion error bit (26).
inline constexpr uint64_t kReservedBit = 1ull << 40;
inline constexpr uint64_t kErrorBit = 1ull << 26;

inline uint64_t mmio0(unsigned dir, unsigned as, unsigned len, unsigned posted = 0, unsigned slot = 0)
{
	return vsst_rpc_mr0(VSST_RPC_OP_MMIO, slot, dir, as, len, posted);
}
inline uint64_t op0(unsigned op)
{
	return vsst_rpc_mr0(op, 0, 0, 0, 0, 0);
}

// Bad MMIO fields, common to requests and completions.
inline void add_mmio_cases(std::vector<Case> &v, unsigned dir)
{
	const unsigned g = VSST_RPC_AS_GLOBAL;
	v.push_back(
		{"mmio_reserved_bit", {mmio0(dir, g, 4) | kReservedBit, 0x1000, 0, 0}, "reserved MR0 bits"});
	v.push_back({"mmio_len_0", {mmio0(dir, g, 0), 0x1000, 0, 0}, "len not in {1,2,4,8}"});
	v.push_back({"mmio_len_3", {mmio0(dir, g, 3), 0x1000, 0, 0}, "len not in {1,2,4,8}"});
	v.push_back({"mmio_len_15", {mmio0(dir, g, 15), 0x1000, 0, 0}, "len not in {1,2,4,8}"});
	v.push_back({"mmio_reserved_address_space", {mmio0(dir, 0xf3, 4), 0, 0, 0}, "unknown address space"});
	v.push_back({"mmio_config_offset_4k", {mmio0(dir, 0, 2), 0x1000, 0, 0}, "address out of range"});
	v.push_back({"mmio_address_wraps",
		     {mmio0(dir, g, 8), 0xfffffffffffffffcull, 0, 0},
		     "address out of range"});
	v.push_back({"mmio_ioport_past_64k",
		     {mmio0(dir, VSST_RPC_AS_IOPORT, 2), 0xffff, 0, 0},
		     "address out of range"});
}

// Requests: what the device VM consumes.
inline std::vector<Case> request_cases()
{
	std::vector<Case> v;
	v.push_back({"unknown_op_5", {5, 0, 0, 0}, "unknown op"});
	v.push_back({"unknown_op_63", {63, 0, 0, 0}, "unknown op"});
	v.push_back(
		{"set_irq_on_requests", {op0(VSST_RPC_OP_SET_IRQ), 0, 1, 0}, "op not allowed on this ring"});
	v.push_back({"start_vm_on_requests",
		     {op0(VSST_RPC_OP_START_VM), 0, 0, 0},
		     "op not allowed on this ring"});
	v.push_back({"register_on_requests",
		     {op0(VSST_RPC_OP_REGISTER_PCI_DEV), 0, 0, 0},
		     "op not allowed on this ring"});
	v.push_back({"region_on_requests",
		     {op0(VSST_RPC_OP_MMIO_REGION_CONFIG), 0, 1, 0},
		     "op not allowed on this ring"});
	v.push_back(
		{"msi_on_requests", {op0(VSST_RPC_OP_MSI), 0xfee00000, 0, 0}, "op not allowed on this ring"});
	add_mmio_cases(v, VSST_RPC_DIR_READ);
	v.push_back({"mmio_error_bit",
		     {mmio0(VSST_RPC_DIR_READ, VSST_RPC_AS_GLOBAL, 4) | kErrorBit, 0x1000, 0, 0},
		     "error bit outside a completion"});
	v.push_back({"mmio_posted_read",
		     {mmio0(VSST_RPC_DIR_READ, VSST_RPC_AS_GLOBAL, 4, 1), 0x1000, 0, 0},
		     "posted read"});
	v.push_back({"mmio_write_data_too_wide",
		     {mmio0(VSST_RPC_DIR_WRITE, VSST_RPC_AS_GLOBAL, 1), 0x1000, 0x100, 0},
		     "data wider than the access"});
	v.push_back({"hello_with_mmio_fields",
		     {op0(VSST_RPC_OP_HELLO) | (5u << 6), 1, 0, 0},
		     "MMIO fields set on a control op"});
	v.push_back({"hello_nonzero_payload", {op0(VSST_RPC_OP_HELLO), 1, 0, 9}, "unused word not zero"});
	v.push_back({"stop_nonzero_payload", {op0(VSST_RPC_OP_STOP), 0, 7, 0}, "unused word not zero"});
	v.push_back({"stop_error_bit",
		     {op0(VSST_RPC_OP_STOP) | kErrorBit, 0, 0, 0},
		     "error bit outside a completion"});
	return v;
}

// Completions: what the guest VM consumes (for a read it sent).
inline std::vector<Case> completion_cases()
{
	std::vector<Case> v;
	v.push_back({"unknown_op_7", {7, 0, 0, 0}, "unknown op"});
	v.push_back(
		{"hello_on_completions", {op0(VSST_RPC_OP_HELLO), 1, 0, 0}, "op not allowed on this ring"});
	v.push_back({"set_irq_on_completions",
		     {op0(VSST_RPC_OP_SET_IRQ), 0, 1, 0},
		     "op not allowed on this ring"});
	add_mmio_cases(v, VSST_RPC_DIR_READ);
	v.push_back({"mmio_posted_completion",
		     {mmio0(VSST_RPC_DIR_WRITE, VSST_RPC_AS_GLOBAL, 4, 1), 0x1000, 0, 0},
		     "posted bit on a completion"});
	v.push_back({"mmio_data_too_wide",
		     {mmio0(VSST_RPC_DIR_READ, VSST_RPC_AS_GLOBAL, 2), 0x1000, 0x10000, 0},
		     "data wider than the access"});
	// Well formed, but for a slot nobody is waiting on.
	v.push_back({"completion_for_an_idle_slot",
		     {mmio0(VSST_RPC_DIR_READ, VSST_RPC_AS_GLOBAL, 4, 0, 63), 0x1000, 0, 0},
		     "which has no request in flight"});
	return v;
}

// Events: what the guest VM consumes at any time.
inline std::vector<Case> event_cases()
{
	std::vector<Case> v;
	const uint64_t irq = op0(VSST_RPC_OP_SET_IRQ);
	v.push_back({"unknown_op_9", {9, 0, 0, 0}, "unknown op"});
	v.push_back({"mmio_on_events",
		     {mmio0(VSST_RPC_DIR_READ, VSST_RPC_AS_GLOBAL, 4), 0x1000, 0, 0},
		     "op not allowed on this ring"});
	v.push_back({"set_irq_reserved_bit", {irq | kReservedBit, 0, 1, 0}, "reserved MR0 bits"});
	v.push_back({"set_irq_error_bit", {irq | kErrorBit, 0, 1, 0}, "error bit outside a completion"});
	v.push_back({"set_irq_mmio_fields", {irq | (1u << 12), 0, 1, 0}, "MMIO fields set on a control op"});
	v.push_back({"set_irq_level_9", {irq, 0, 9, 0}, "SET_IRQ level not 0/1/2"});
	v.push_back({"set_irq_device_0xf0", {irq, 0xf0, 1, 0}, "device index out of range"});
	v.push_back({"set_irq_payload", {irq, 0, 1, 5}, "unused word not zero"});
	v.push_back({"start_vm_payload", {op0(VSST_RPC_OP_START_VM), 1, 0, 0}, "unused word not zero"});
	v.push_back({"register_device_0xf5",
		     {op0(VSST_RPC_OP_REGISTER_PCI_DEV), 0xf5, 0x1af41000, 0},
		     "device index out of range"});
	v.push_back({"register_ids_too_wide",
		     {op0(VSST_RPC_OP_REGISTER_PCI_DEV), 0, 1ull << 33, 0},
		     "PCI ids or class code too wide"});
	v.push_back({"region_empty",
		     {op0(VSST_RPC_OP_MMIO_REGION_CONFIG), 0xe0000000, 0, 1},
		     "MMIO region empty"});
	v.push_back({"region_wraps",
		     {op0(VSST_RPC_OP_MMIO_REGION_CONFIG), 0xfffffffffffff000ull, 0x2000, 1},
		     "MMIO region empty or wrapping"});
	v.push_back({"region_unknown_flags",
		     {op0(VSST_RPC_OP_MMIO_REGION_CONFIG), 0xe0000000, 0x100, 6},
		     "unknown MMIO region flags"});
	v.push_back({"msi_data_too_wide",
		     {op0(VSST_RPC_OP_MSI), 0xfee00000, 1ull << 32, 0},
		     "MSI data wider than 32 bits"});
	v.push_back({"msi_device_0xf1",
		     {op0(VSST_RPC_OP_MSI), 0xfee00000, 0x41, 0xf1},
		     "device index out of range"});
	v.push_back({"hello_payload", {op0(VSST_RPC_OP_HELLO), 1, 0, 3}, "unused word not zero"});
	v.push_back({"stop_payload", {op0(VSST_RPC_OP_STOP), 0, 0, 1}, "unused word not zero"});
	return v;
}

// gtest prints a case by its name.
inline void PrintTo(const Case &c, std::ostream *os)
{
	*os << c.name;
}

// gtest parameter names.
struct CaseName {
	std::string operator()(const auto &info) const { return info.param.name; }
};

} // namespace vsst::hostile
