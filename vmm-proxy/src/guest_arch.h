// SPDX-License-Identifier: Apache-2.0
// guest_arch.h - what differs between the guest architectures vmm-proxy runs
// (--arch x86_64|riscv64|aarch64): the guest QEMU binary and machine, the kernel
// console, where guest RAM sits (the device VM maps it at the same addresses) and
// where the platform's MSI doorbell is (the device VM's MSI window). The device VM is
// always the x86_64 binary: it has no CPU, so its target does not matter.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vsst/devvm/guest_ram.h"

namespace vsst {

enum class Arch { X86_64, Riscv64, Aarch64 };

struct ArchInfo {
	Arch arch;
	const char *name;    // "x86_64", "riscv64", "aarch64" (qemu-system-<name>)
	const char *machine; // guest VM -machine (without memory-backend=)
	const char *cpu;     // -cpu under TCG ("" = the machine's default)
	const char *console; // kernel console device
	// OpenSBI for riscv64 virt (Debian's opensbi package; "" = the machine's default).
	const char *bios;
	uint64_t ram_base; // guest-physical start of RAM (x86_64: pc's split layout)
	// The device VM's MSI window (rpc-backend msi-base/msi-size): the doorbell region
	// of the guest platform's MSI controller, where devices write their MSIs.
	uint64_t msi_base, msi_size;
};

const ArchInfo &arch_info(Arch a);
std::optional<Arch> parse_arch(const std::string &name);

// Guest-physical layout of the guest RAM (one memfd) for the architecture's machine.
std::vector<devvm::RamRegion> guest_ram_layout(Arch a, uint64_t ram_bytes);

// The guest QEMU for an architecture given the device VM's: x86_64 runs both roles from
// one binary; the others use qemu-system-<arch> beside it (the same build directory).
std::string guest_qemu_for(Arch a, const std::string &device_vm_qemu);

} // namespace vsst
