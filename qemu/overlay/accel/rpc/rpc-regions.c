/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * accel rpc: MMIO_REGION_CONFIG announcements.
 *
 * After every config-space write the device's mapped memory BARs are
 * compared with what was announced last; each newly mapped region is
 * announced: the BAR itself with flags 0 (route synchronously) and, for a
 * modern virtio-pci device, its notify region with VSST_RPC_REGION_POSTED
 * (doorbell writes need no completion). A posted region always lies inside
 * a BAR announced before it. Unmapping is not announced (the protocol has
 * no message for it); a BAR that moves is announced at its new address.
 *
 * Copyright (c) 2025 the vsst authors
 */

#include "qemu/osdep.h"
#include "hw/pci/pci.h"
#include "hw/virtio/virtio-pci.h"
#include "rpc-internal.h"
#include "trace.h"

static unsigned rpc_regions_current(PCIDevice *dev, RpcRegion *out)
{
    VirtIOPCIProxy *vp;
    unsigned n = 0;

    for (int i = 0; i < PCI_NUM_REGIONS; i++) {
        PCIIORegion *r = &dev->io_regions[i];

        if (i == PCI_ROM_SLOT || !r->size || r->addr == PCI_BAR_UNMAPPED ||
            (r->type & PCI_BASE_ADDRESS_SPACE_IO)) {
            continue;
        }
        out[n++] = (RpcRegion) { .base = r->addr, .size = r->size, .flags = 0 };
    }

    vp = (VirtIOPCIProxy *)object_dynamic_cast(OBJECT(dev), TYPE_VIRTIO_PCI);
    if (vp && virtio_pci_modern(vp) && vp->modern_mem_bar_idx < PCI_NUM_REGIONS &&
        n < RPC_MAX_DEV_REGIONS) {
        PCIIORegion *bar = &dev->io_regions[vp->modern_mem_bar_idx];

        if (bar->size && bar->addr != PCI_BAR_UNMAPPED && vp->notify.size &&
            vp->notify.offset + vp->notify.size <= bar->size) {
            out[n++] = (RpcRegion) {
                .base = bar->addr + vp->notify.offset,
                .size = vp->notify.size,
                .flags = VSST_RPC_REGION_POSTED,
            };
        }
    }
    return n;
}

static bool rpc_region_in(const RpcRegion *r, const RpcRegion *set, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (set[i].base == r->base && set[i].size == r->size &&
            set[i].flags == r->flags) {
            return true;
        }
    }
    return false;
}

void rpc_regions_update(RpcAccelState *s, unsigned index)
{
    RpcPciEntry *e = &s->pci[index];
    RpcRegion cur[RPC_MAX_DEV_REGIONS];
    unsigned n = rpc_regions_current(e->dev, cur);

    for (unsigned i = 0; i < n; i++) {
        if (!rpc_region_in(&cur[i], e->announced, e->n_announced)) {
            struct vsst_rpcmsg ev = {
                .mr0 = vsst_rpc_mr0(VSST_RPC_OP_MMIO_REGION_CONFIG, 0, 0, 0, 0, 0),
                .mr1 = cur[i].base,
                .mr2 = cur[i].size,
                .mr3 = cur[i].flags,
            };
            trace_rpc_accel_region(index, cur[i].base, cur[i].size, cur[i].flags);
            rpc_events_send(s, &ev);
        }
    }
    memcpy(e->announced, cur, n * sizeof(cur[0]));
    e->n_announced = n;
}
