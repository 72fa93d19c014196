/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rpc-proxy-pci: a PCI device of the device VM, shown to this (guest) VM.
 *
 *   -device rpc-proxy-pci,chan=ch0,index=N
 *
 * Identity, capabilities (MSI-X included) and every other config register are
 * the backend device's: config reads and writes are forwarded to its config
 * space (address space N). Writes are also applied to the local copy so that
 * QEMU here maps the BARs where the guest puts them and honours the command
 * register (decode enables, bus mastering, INTx disable). BAR sizes and types
 * are learned from the backend at realize time; BAR accesses go to the device
 * VM as global-address MMIO (or I/O port) accesses at the address the guest
 * assigned, which is also where the backend has its BAR, since it saw the
 * same config writes. Writes into ranges the backend announced as posted
 * (doorbells) do not wait; everything else waits for its completion with the
 * BQL released. Interrupts come back as SET_IRQ (INTx) and MSI events via
 * rpc-channel.
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "hw/pci/pci.h"
#include "hw/pci/msi.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "vsst-proxy.h"
#include "trace.h"

static int rpc_proxy_config(RpcProxyPci *dev, uint32_t addr, int len,
                            bool write, uint32_t *val)
{
    uint64_t data = write ? *val : 0;
    int r = rpc_channel_access(dev->chan, dev->index, addr, len, write, false,
                               &data);

    if (!write) {
        *val = data;
    }
    return r;
}

int rpc_proxy_config_read(RpcProxyPci *dev, uint32_t addr, int len,
                          uint32_t *val)
{
    return rpc_proxy_config(dev, addr, len, false, val);
}

static void rpc_proxy_note_error(RpcProxyPci *dev, const char *what,
                                 uint64_t addr, int err)
{
    qatomic_inc(&dev->errors);
    if (!qatomic_xchg(&dev->error_reported, true)) {
        warn_report("rpc-proxy-pci %u: %s at 0x%" PRIx64 " failed: %s; reads "
                    "give all-ones (further errors are only counted)",
                    dev->index, what, addr, strerror(-err));
    }
}

/* The option ROM is the device VM's business: the guest sees none. */
static bool rpc_proxy_is_rom(uint32_t addr, int len)
{
    return addr >= PCI_ROM_ADDRESS && addr + len <= PCI_ROM_ADDRESS + 4;
}

static uint32_t rpc_proxy_read_config(PCIDevice *pdev, uint32_t addr, int len)
{
    RpcProxyPci *dev = RPC_PROXY_PCI(pdev);
    uint32_t val = 0;
    int r;

    if (rpc_proxy_is_rom(addr, len)) {
        return 0;
    }
    r = rpc_proxy_config(dev, addr, len, false, &val);
    if (r < 0) {
        rpc_proxy_note_error(dev, "config read", addr, r);
    } else if (ranges_overlap(addr, len, PCI_HEADER_TYPE, 1)) {
        /* The backend's function layout is not this bus's: single function. */
        val &= ~(PCI_HEADER_TYPE_MULTI_FUNCTION << ((PCI_HEADER_TYPE - addr) * 8));
    }
    trace_rpc_proxy_config_read(dev->index, addr, len, val);
    return val;
}

static void rpc_proxy_write_config(PCIDevice *pdev, uint32_t addr,
                                   uint32_t val, int len)
{
    RpcProxyPci *dev = RPC_PROXY_PCI(pdev);
    uint32_t v = val;
    int r;

    trace_rpc_proxy_config_write(dev->index, addr, len, val);
    if (rpc_proxy_is_rom(addr, len)) {
        return;
    }
    /*
     * The local copy first: the backend announces the regions of a BAR it
     * maps while this write is in flight, and they are checked against the
     * BARs as programmed here. Synchronous, so the backend has mapped the
     * BAR before the guest can touch it.
     */
    pci_default_write_config(pdev, addr, val, len);
    rpc_proxy_state_config_write(dev, addr, val, len);
    r = rpc_proxy_config(dev, addr, len, true, &v);
    if (r < 0) {
        rpc_proxy_note_error(dev, "config write", addr, r);
    }
}

static bool rpc_proxy_is_posted(RpcProxyPci *dev, int nr, hwaddr off,
                                unsigned size)
{
    RpcPostedTable *t;
    bool hit = false;
    unsigned i;

    WITH_RCU_READ_LOCK_GUARD() {
        t = qatomic_rcu_read(&dev->posted);
        for (i = 0; t && i < t->count && !hit; i++) {
            hit = t->range[i].bar == nr && off >= t->range[i].offset &&
                  off + size <= t->range[i].offset + t->range[i].size;
        }
    }
    return hit;
}

static unsigned rpc_proxy_bar_as(RpcProxyBar *bar)
{
    return (bar->type & PCI_BASE_ADDRESS_SPACE_IO) ? VSST_RPC_AS_IOPORT
                                                   : VSST_RPC_AS_GLOBAL;
}

/*
 * QEMU 7.2 dispatches MMIO with the BQL held; rpc_channel_access drops it
 * while it waits for the device VM.
 */
static uint64_t rpc_proxy_bar_read(void *opaque, hwaddr addr, unsigned size)
{
    RpcProxyBar *bar = opaque;
    RpcProxyPci *dev = bar->dev;
    uint64_t where = qatomic_read(&bar->mr.addr) + addr;
    uint64_t data = 0;
    unsigned as = rpc_proxy_bar_as(bar);
    int r;

    qatomic_inc(&dev->reads);
    r = rpc_channel_access(dev->chan, as, where, size, false, false, &data);
    if (r < 0) {
        rpc_proxy_note_error(dev, "BAR read", where, r);
    }
    trace_rpc_proxy_read(dev->index, as, where, size, data);
    return data;
}

static void rpc_proxy_bar_write(void *opaque, hwaddr addr, uint64_t val,
                                unsigned size)
{
    RpcProxyBar *bar = opaque;
    RpcProxyPci *dev = bar->dev;
    uint64_t where = qatomic_read(&bar->mr.addr) + addr;
    unsigned as = rpc_proxy_bar_as(bar);
    bool posted = as == VSST_RPC_AS_GLOBAL &&
                  rpc_proxy_is_posted(dev, bar->nr, addr, size);
    int r;

    if (posted) {
        qatomic_inc(&dev->posted_writes);
    } else {
        qatomic_inc(&dev->writes);
    }
    trace_rpc_proxy_write(dev->index, as, where, size, val, posted);
    if (!posted) {
        rpc_proxy_state_bar_write(dev, bar->nr, addr, val, size);
    }
    r = rpc_channel_access(dev->chan, as, where, size, true, posted, &val);
    if (r < 0) {
        rpc_proxy_note_error(dev, "BAR write", where, r);
    } else if (rpc_channel_timed(dev->chan)) {
        rpc_channel_time_sync(dev->chan);
    } else if (posted) {
        rpc_channel_poll_after_doorbell(dev->chan);
    }
}

static const MemoryRegionOps rpc_proxy_bar_ops = {
    .read = rpc_proxy_bar_read,
    .write = rpc_proxy_bar_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 1,
        .max_access_size = 8,
    },
    .impl = {
        .min_access_size = 1,
        .max_access_size = 8,
    },
};

/* The base address the guest programmed into memory BAR nr (0: none). */
uint64_t rpc_proxy_programmed_base(RpcProxyPci *dev, int nr)
{
    uint8_t *cfg = PCI_DEVICE(dev)->config + PCI_BASE_ADDRESS_0 + nr * 4;
    uint64_t base = pci_get_long(cfg) & PCI_BASE_ADDRESS_MEM_MASK;

    if (dev->bar[nr].type & PCI_BASE_ADDRESS_MEM_TYPE_64) {
        base |= (uint64_t)pci_get_long(cfg + 4) << 32;
    }
    return base;
}

bool rpc_proxy_pci_add_posted(RpcProxyPci *dev, uint64_t addr, uint64_t size)
{
    RpcPostedTable *old = dev->posted, *t;
    int nr;
    unsigned i;

    for (nr = 0; nr < PCI_ROM_SLOT; nr++) {
        RpcProxyBar *bar = &dev->bar[nr];
        uint64_t base = rpc_proxy_programmed_base(dev, nr);
        uint64_t off;

        if (!bar->present || (bar->type & PCI_BASE_ADDRESS_SPACE_IO) ||
            base == 0 || addr < base || addr - base >= bar->size ||
            size > bar->size - (addr - base)) {
            continue;
        }
        off = addr - base;
        t = g_new0(RpcPostedTable, 1);
        for (i = 0; old && i < old->count; i++) {
            /* A re-announcement of the same range replaces the old one. */
            if (old->range[i].bar != nr || old->range[i].offset != off) {
                t->range[t->count++] = old->range[i];
            }
        }
        if (t->count == RPC_PROXY_MAX_POSTED) {
            g_free(t);
            return false;
        }
        t->range[t->count++] = (RpcPostedRange) {
            .bar = nr, .offset = off, .size = size,
        };
        qatomic_rcu_set(&dev->posted, t);
        if (old) {
            g_free_rcu(old, rcu);
        }
        trace_rpc_channel_region("-", dev->index, nr, off, size,
                                 VSST_RPC_REGION_POSTED);
        return true;
    }
    return false;
}

void rpc_proxy_pci_set_irq(RpcProxyPci *dev, unsigned level)
{
    PCIDevice *pdev = PCI_DEVICE(dev);

    trace_rpc_proxy_irq(dev->index, level);
    if (!pci_get_byte(pdev->config + PCI_INTERRUPT_PIN)) {
        return; /* the backend has no INTx pin: nothing to drive */
    }
    if (level == VSST_RPC_IRQ_PULSE) {
        pci_irq_pulse(pdev);
    } else {
        pci_set_irq(pdev, level);
    }
}

void rpc_proxy_pci_msi(RpcProxyPci *dev, uint64_t addr, uint32_t data)
{
    MSIMessage msg = { .address = addr, .data = data };

    trace_rpc_proxy_msi(dev->index, addr, data);
    /* Through the device's bus-master address space: a guest that turned
     * bus mastering off gets no MSI, as with real hardware. */
    msi_send_message(PCI_DEVICE(dev), msg);
}

void rpc_proxy_pci_channel_died(RpcProxyPci *dev)
{
    PCIDevice *pdev = PCI_DEVICE(dev);

    if (pci_get_byte(pdev->config + PCI_INTERRUPT_PIN)) {
        pci_set_irq(pdev, 0);
    }
}

static bool rpc_proxy_probe_bar(RpcProxyPci *dev, uint32_t off,
                                uint32_t *probe, Error **errp)
{
    uint32_t orig, ones = 0xffffffff;

    if (rpc_proxy_config(dev, off, 4, false, &orig) < 0 ||
        rpc_proxy_config(dev, off, 4, true, &ones) < 0 ||
        rpc_proxy_config(dev, off, 4, false, probe) < 0 ||
        rpc_proxy_config(dev, off, 4, true, &orig) < 0) {
        error_setg(errp, "rpc-proxy-pci %u: probing config 0x%x failed",
                   dev->index, off);
        return false;
    }
    return true;
}

/* Learns the backend's BARs (sizing protocol) and registers local twins. */
static bool rpc_proxy_probe_bars(RpcProxyPci *dev, Error **errp)
{
    PCIDevice *pdev = PCI_DEVICE(dev);
    uint32_t cmd = 0, quiet;
    bool ok = true;
    int nr;

    /* No decoding in the backend while its BARs hold sizing patterns. */
    if (rpc_proxy_config(dev, PCI_COMMAND, 2, false, &cmd) < 0) {
        error_setg(errp, "rpc-proxy-pci %u: reading the command register "
                   "failed", dev->index);
        return false;
    }
    quiet = cmd & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    rpc_proxy_config(dev, PCI_COMMAND, 2, true, &quiet);

    for (nr = 0; nr < PCI_ROM_SLOT && ok; nr++) {
        RpcProxyBar *bar = &dev->bar[nr];
        uint32_t off = PCI_BASE_ADDRESS_0 + nr * 4, probe, probe_hi = 0;
        uint64_t mask;
        uint8_t type;
        g_autofree char *name = NULL;

        if (!(ok = rpc_proxy_probe_bar(dev, off, &probe, errp))) {
            break;
        }
        if (probe == 0) {
            continue;
        }
        if (probe & PCI_BASE_ADDRESS_SPACE_IO) {
            type = PCI_BASE_ADDRESS_SPACE_IO;
            mask = (probe & PCI_BASE_ADDRESS_IO_MASK) | 0xffffffffffff0000ULL;
        } else {
            type = probe & ~PCI_BASE_ADDRESS_MEM_MASK;
            mask = probe & PCI_BASE_ADDRESS_MEM_MASK;
            if (type & PCI_BASE_ADDRESS_MEM_TYPE_64) {
                if (nr == PCI_ROM_SLOT - 1) {
                    error_setg(errp, "rpc-proxy-pci %u: 64-bit BAR%d has no "
                               "upper half", dev->index, nr);
                    ok = false;
                    break;
                }
                if (!(ok = rpc_proxy_probe_bar(dev, off + 4, &probe_hi, errp))) {
                    break;
                }
                mask |= (uint64_t)probe_hi << 32;
            } else {
                mask |= 0xffffffff00000000ULL;
            }
        }
        bar->size = ~mask + 1;
        if (bar->size == 0 || (bar->size & (bar->size - 1)) ||
            bar->size > (1ULL << 40) ||
            (!(type & PCI_BASE_ADDRESS_SPACE_IO) && bar->size < 16)) {
            error_setg(errp, "rpc-proxy-pci %u: BAR%d reports an impossible "
                       "size (probe 0x%08x:%08x)", dev->index, nr, probe_hi,
                       probe);
            ok = false;
            break;
        }
        bar->type = type;
        bar->nr = nr;
        bar->dev = dev;
        bar->present = true;
        trace_rpc_proxy_bar(dev->index, nr, bar->size, type);
        name = g_strdup_printf("rpc-proxy-pci%u-bar%d", dev->index, nr);
        memory_region_init_io(&bar->mr, OBJECT(dev), &rpc_proxy_bar_ops, bar,
                              name, bar->size);
        pci_register_bar(pdev, nr, type, &bar->mr);
        if (type & PCI_BASE_ADDRESS_MEM_TYPE_64) {
            nr++;
        }
    }
    rpc_proxy_config(dev, PCI_COMMAND, 2, true, &cmd);
    return ok;
}

/* Local copy of the identity: for `info pci`, and the INTx pin for routing. */
static bool rpc_proxy_copy_identity(RpcProxyPci *dev, Error **errp)
{
    uint8_t *cfg = PCI_DEVICE(dev)->config;
    uint32_t id, class_rev, subsys, intr;

    if (rpc_proxy_config(dev, PCI_VENDOR_ID, 4, false, &id) < 0 ||
        (id & 0xffff) == 0xffff || (id & 0xffff) == 0) {
        error_setg(errp, "rpc-proxy-pci: backend device %u does not answer "
                   "(vendor/device 0x%08x); is it registered on this "
                   "channel?", dev->index, id);
        return false;
    }
    if (rpc_proxy_config(dev, PCI_CLASS_REVISION, 4, false, &class_rev) < 0 ||
        rpc_proxy_config(dev, PCI_SUBSYSTEM_VENDOR_ID, 4, false, &subsys) < 0 ||
        rpc_proxy_config(dev, PCI_INTERRUPT_PIN, 1, false, &intr) < 0) {
        error_setg(errp, "rpc-proxy-pci %u: reading the config header failed",
                   dev->index);
        return false;
    }
    if (intr > 4) {
        error_setg(errp, "rpc-proxy-pci %u: backend reports INTx pin %u",
                   dev->index, intr);
        return false;
    }
    pci_set_long(cfg + PCI_VENDOR_ID, id);
    pci_set_long(cfg + PCI_CLASS_REVISION, class_rev);
    pci_set_long(cfg + PCI_SUBSYSTEM_VENDOR_ID, subsys);
    pci_config_set_interrupt_pin(cfg, intr);
    return true;
}

static void rpc_proxy_pci_realize(PCIDevice *pdev, Error **errp)
{
    RpcProxyPci *dev = RPC_PROXY_PCI(pdev);

    if (!dev->chan) {
        error_setg(errp, "rpc-proxy-pci: chan=<id of an rpc-channel> is "
                   "required");
        return;
    }
    if (dev->index >= VSST_RPC_AS_PCI_LIMIT) {
        error_setg(errp, "rpc-proxy-pci: index %u is out of range (< %u)",
                   dev->index, VSST_RPC_AS_PCI_LIMIT);
        return;
    }
    if (!DEVICE(dev->chan)->realized) {
        error_setg(errp, "rpc-proxy-pci: -device rpc-channel must come before "
                   "the rpc-proxy-pci devices that use it");
        return;
    }
    if (rpc_channel_find_device(dev->chan, dev->index)) {
        error_setg(errp, "rpc-proxy-pci: device %u of this channel is already "
                   "proxied", dev->index);
        return;
    }
    if (!rpc_channel_alive(dev->chan)) {
        error_setg(errp, "rpc-proxy-pci %u: the channel is dead (%s)",
                   dev->index, dev->chan->dead_reason ?: "not attached");
        return;
    }
    if (!rpc_proxy_copy_identity(dev, errp) ||
        !rpc_proxy_probe_bars(dev, errp)) {
        return;
    }
    dev->posted = g_new0(RpcPostedTable, 1);
    /* Only a channel that can be restarted needs the guest's set-up kept. */
    if (dev->chan->restart_fd >= 0) {
        rpc_proxy_state_init(dev);
    }
    rpc_channel_attach_device(dev->chan, dev);
}

static void rpc_proxy_pci_exit(PCIDevice *pdev)
{
    RpcProxyPci *dev = RPC_PROXY_PCI(pdev);

    if (dev->posted) {
        rpc_channel_detach_device(dev->chan, dev);
        g_free_rcu(dev->posted, rcu);
        dev->posted = NULL;
    }
    rpc_proxy_state_free(dev);
}

static void rpc_proxy_pci_instance_init(Object *obj)
{
    RpcProxyPci *dev = RPC_PROXY_PCI(obj);

    object_property_add_uint64_ptr(obj, "reads", &dev->reads,
                                   OBJ_PROP_FLAG_READ);
    object_property_add_uint64_ptr(obj, "writes", &dev->writes,
                                   OBJ_PROP_FLAG_READ);
    object_property_add_uint64_ptr(obj, "posted-writes", &dev->posted_writes,
                                   OBJ_PROP_FLAG_READ);
    object_property_add_uint64_ptr(obj, "errors", &dev->errors,
                                   OBJ_PROP_FLAG_READ);
}

static Property rpc_proxy_pci_properties[] = {
    DEFINE_PROP_LINK("chan", RpcProxyPci, chan, TYPE_RPC_CHANNEL, RpcChannel *),
    DEFINE_PROP_UINT32("index", RpcProxyPci, index, 0),
    DEFINE_PROP_END_OF_LIST(),
};

/* The device's state lives in another process: no migration. */
static const VMStateDescription vmstate_rpc_proxy_pci = {
    .name = TYPE_RPC_PROXY_PCI,
    .unmigratable = 1,
};

static void rpc_proxy_pci_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);

    k->realize = rpc_proxy_pci_realize;
    k->exit = rpc_proxy_pci_exit;
    k->config_read = rpc_proxy_read_config;
    k->config_write = rpc_proxy_write_config;
    /* Placeholders: realize copies the backend's identity over them. */
    k->vendor_id = PCI_VENDOR_ID_REDHAT;
    k->device_id = PCI_DEVICE_ID_REDHAT_TEST;
    k->class_id = PCI_CLASS_OTHERS;
    dc->desc = "PCI device served by a device VM over a vsst RPC channel";
    dc->vmsd = &vmstate_rpc_proxy_pci;
    device_class_set_props(dc, rpc_proxy_pci_properties);
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
}

static const TypeInfo rpc_proxy_pci_info = {
    .name = TYPE_RPC_PROXY_PCI,
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(RpcProxyPci),
    .instance_init = rpc_proxy_pci_instance_init,
    .class_init = rpc_proxy_pci_class_init,
    .interfaces = (InterfaceInfo[]) {
        { INTERFACE_CONVENTIONAL_PCI_DEVICE },
        { }
    },
};

static void rpc_proxy_pci_register_types(void)
{
    type_register_static(&rpc_proxy_pci_info);
}

type_init(rpc_proxy_pci_register_types)
