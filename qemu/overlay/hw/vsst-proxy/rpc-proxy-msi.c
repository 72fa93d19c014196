/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rpc-proxy-pci: which MSI messages from the device VM the guest VM accepts.
 *
 * A device VM's MSI event carries the address and data the guest programmed
 * into the device; the proxy replays that write on the device's bus-master
 * address space. A hostile device VM could aim it at anything the guest can
 * reach, so each platform admits only writes that are interrupt-controller
 * doorbells, and nothing else:
 *
 *   x86_64 (pc):   the local APIC window 0xfee00000..0xfeefffff, dword
 *                  aligned, bits 11:4 zero (otherwise an APIC register),
 *                  fixed or lowest-priority delivery;
 *   aarch64 virt:  GICv3 with ITS only: exactly GITS_TRANSLATER
 *                  (ITS base 0x08080000 + 64 KiB translation frame + 0x40);
 *                  the ITS maps (requester id, data) and drops the rest;
 *   riscv64 virt:  aia=aplic-imsic only: the seteipnum register (offset 0)
 *                  of one hart's S-level IMSIC interrupt file at 0x28000000
 *                  (one socket; one page per hart times 2^guest-bits), data
 *                  an interrupt identity 1..255 (the machine's num-ids).
 *
 * Every other combination (PLIC-only riscv64, GICv2 aarch64, another
 * machine) offers no MSI, and every MSI event is refused.
 *
 * Copyright (c) 2025 the vsst authors
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/cutils.h"
#include "qemu/host-utils.h"
#include "hw/boards.h"
#include "sysemu/arch_init.h"
#include "vsst-proxy.h"

#define X86_MSI_BASE 0xfee00000ULL
#define ARM_VIRT_GITS_TRANSLATER (0x08080000ULL + 0x10000ULL + 0x40ULL)
#define RISCV_VIRT_IMSIC_S_BASE 0x28000000ULL
#define RISCV_VIRT_IMSIC_PAGE 0x1000ULL
#define RISCV_VIRT_IMSIC_NUM_IDS 255

static RpcReject rpc_proxy_msi_x86(uint64_t addr, uint64_t data)
{
    if ((addr & ~0xfffffULL) != X86_MSI_BASE || (addr & 3) ||
        data > UINT32_MAX) {
        /* MSIs are dword writes into the local APIC window only */
        return RPC_REJECT_BAD_MSI;
    }
    if (addr & 0xff0) {
        /*
         * Not an MSI address but a local APIC register: delivered on the
         * vCPU thread it would write the current vCPU's APIC.
         */
        return RPC_REJECT_MSI_RESERVED;
    }
    if (((data >> 8) & 7) > 1) {
        /* SMI, NMI, INIT, SIPI, ExtINT: never a device's interrupt */
        return RPC_REJECT_MSI_DELIVERY;
    }
    return RPC_REJECT__MAX;
}

static bool rpc_proxy_machine_prop_is(const char *prop, const char *want)
{
    g_autofree char *v = object_property_get_str(qdev_get_machine(), prop,
                                                 NULL);

    return v && !strcmp(v, want);
}

static RpcReject rpc_proxy_msi_aarch64(uint64_t addr, uint64_t data)
{
    Object *m = qdev_get_machine();

    if (!object_property_find(m, "its") ||
        !object_property_get_bool(m, "its", NULL) ||
        !rpc_proxy_machine_prop_is("gic-version", "3")) {
        return RPC_REJECT_BAD_MSI;   /* no ITS: the machine has no MSI */
    }
    if (addr != ARM_VIRT_GITS_TRANSLATER || data > UINT32_MAX) {
        return RPC_REJECT_BAD_MSI;
    }
    return RPC_REJECT__MAX;
}

static RpcReject rpc_proxy_msi_riscv64(uint64_t addr, uint64_t data)
{
    MachineState *ms = MACHINE(qdev_get_machine());
    g_autofree char *guests = NULL;
    uint64_t stride, harts, off;
    unsigned long n_guests = 0;

    if (!object_property_find(OBJECT(ms), "aia") ||
        !rpc_proxy_machine_prop_is("aia", "aplic-imsic")) {
        return RPC_REJECT_BAD_MSI;   /* PLIC or APLIC only: no MSI */
    }
    guests = object_property_get_str(OBJECT(ms), "aia-guests", NULL);
    if (guests && qemu_strtoul(guests, NULL, 10, &n_guests) < 0) {
        return RPC_REJECT_BAD_MSI;
    }
    /* Each hart's S-level file plus its guest files, a power of two. */
    stride = RISCV_VIRT_IMSIC_PAGE << (n_guests ? 64 - clz64(n_guests) : 0);
    harts = ms->smp.cpus;
    if (addr < RISCV_VIRT_IMSIC_S_BASE) {
        return RPC_REJECT_BAD_MSI;
    }
    off = addr - RISCV_VIRT_IMSIC_S_BASE;
    if (off >= harts * stride || off % stride) {
        /* another hart's guest file, or a register other than seteipnum */
        return RPC_REJECT_BAD_MSI;
    }
    if (data == 0 || data > RISCV_VIRT_IMSIC_NUM_IDS) {
        return RPC_REJECT_BAD_MSI;
    }
    return RPC_REJECT__MAX;
}

RpcReject rpc_proxy_msi_check(uint64_t addr, uint64_t data)
{
    switch (arch_type) {
    case QEMU_ARCH_I386:
        return rpc_proxy_msi_x86(addr, data);
    case QEMU_ARCH_ARM:
        return rpc_proxy_msi_aarch64(addr, data);
    case QEMU_ARCH_RISCV:
        return rpc_proxy_msi_riscv64(addr, data);
    default:
        return RPC_REJECT_BAD_MSI;
    }
}
