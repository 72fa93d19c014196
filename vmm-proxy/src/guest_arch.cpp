// SPDX-License-Identifier: Apache-2.0
#include "guest_arch.h"

namespace vsst {

namespace {

// Addresses are QEMU 7.2's: pc's local APIC window; virt's GICv3 ITS translation frame
// (ITS at 0x08080000, GITS_TRANSLATER in its second 64 KiB); riscv virt's S-level
// IMSIC region (one socket's group). RAM bases: riscv virt 0x80000000, arm virt
// 0x40000000.
constexpr ArchInfo kArches[] = {
	{Arch::X86_64, "x86_64", "pc", "", "ttyS0", "", 0, 0xfee00000ull, 0x100000ull},
	// riscv64: the PLIC, so INTx. With aia=aplic-imsic (MSI through the IMSIC, which
	// rpc-proxy-msi.c accepts) QEMU 7.2 stalls Debian's 6.12 kernel for good once the
	// 16550's interrupt is enabled (also without any vsst device): qemu/README.md.
	{Arch::Riscv64, "riscv64", "virt", "", "ttyS0",
	 "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin", 0x80000000ull, 0x28000000ull,
	 0x1000000ull},
	{Arch::Aarch64, "aarch64", "virt,gic-version=3,its=on", "cortex-a57", "ttyAMA0", "", 0x40000000ull,
	 0x08090000ull, 0x10000ull},
};

} // namespace

const ArchInfo &arch_info(Arch a)
{
	for (const ArchInfo &i : kArches)
		if (i.arch == a)
			return i;
	return kArches[0];
}

std::optional<Arch> parse_arch(const std::string &name)
{
	for (const ArchInfo &i : kArches)
		if (name == i.name)
			return i.arch;
	if (name == "amd64")
		return Arch::X86_64;
	if (name == "arm64")
		return Arch::Aarch64;
	return std::nullopt;
}

std::vector<devvm::RamRegion> guest_ram_layout(Arch a, uint64_t ram_bytes)
{
	if (a == Arch::X86_64)
		return devvm::pc_ram_layout(ram_bytes);
	// virt machines map all RAM in one piece at their base.
	return {{arch_info(a).ram_base, ram_bytes, 0}};
}

std::string guest_qemu_for(Arch a, const std::string &device_vm_qemu)
{
	if (a == Arch::X86_64)
		return device_vm_qemu;
	const std::string base = std::string("qemu-system-") + arch_info(a).name;
	const size_t slash = device_vm_qemu.find_last_of('/');
	return slash == std::string::npos ? base : device_vm_qemu.substr(0, slash + 1) + base;
}

} // namespace vsst
