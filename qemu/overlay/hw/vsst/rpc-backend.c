/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rpc-backend: the device VM's machine (use with -accel rpc).
 *
 * No CPU, no firmware, no interrupt controller. Guest RAM is the shared
 * memfd(s) received by the accelerator, mapped at the guest-physical layout
 * of the guest VM, so virtqueues and buffers are read in place. One PCI
 * root bus decodes straight into system memory and I/O space: a BAR the
 * proxy programs through config space appears at the same guest-physical
 * address here. INTx level changes and MSI writes become RPC events.
 *
 * Copyright (c) 2025 the vsst authors
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qemu/error-report.h"
#include "qemu/log.h"
#include "exec/address-spaces.h"
#include "exec/memory.h"
#include "hw/boards.h"
#include "hw/pci/msi.h"
#include "hw/pci/pci.h"
#include "hw/pci/pci_bus.h"
#include "hw/pci/pci_host.h"
#include "hw/qdev-properties.h"
#include "hw/sysbus.h"
#include "hw/vsst/rpc-backend.h"
#include "sysemu/rpc-accel.h"
#include "sysemu/sysemu.h"
#include "trace.h"

/*
 * Default MSI window, x86's: device writes here are interrupts, not memory.
 * Guest VMs of other architectures program their interrupt controller's
 * doorbell into the devices (aarch64 virt: the GICv3 ITS translation frame,
 * riscv64 virt: the S-level IMSIC pages), so the launcher moves the window
 * there with the machine's msi-base/msi-size properties.
 */
#define RPC_BACKEND_MSI_BASE 0xfee00000ULL
#define RPC_BACKEND_MSI_SIZE 0x00100000ULL
/* One INTx line per registered device, plus one for unregistered ones. */
#define RPC_BACKEND_IRQ_SINK RPC_ACCEL_MAX_PCI_DEVICES

OBJECT_DECLARE_SIMPLE_TYPE(RpcBackendPciHost, RPC_BACKEND_PCI_HOST)

struct RpcBackendPciHost {
    PCIHostState parent_obj;
};

struct RpcBackendMachineState {
    MachineState parent_obj;

    RpcBackendPciHost *host;
    MemoryRegion ram[RPC_ACCEL_MAX_RAM_REGIONS];
    unsigned n_ram;
    MemoryRegion msi_window;
    uint64_t msi_base;
    uint64_t msi_size;
    Notifier machine_done;
    uint64_t msi_rejected;
};

/* ---- PCI host bridge: a root bus decoding into system memory / I/O ---- */

static int rpc_backend_map_irq(PCIDevice *dev, int pin)
{
    int index = rpc_accel_pci_index(dev);

    /* All pins of one device share its line: the proxy has one per device. */
    return index >= 0 ? index : RPC_BACKEND_IRQ_SINK;
}

static void rpc_backend_set_irq(void *opaque, int irq, int level)
{
    trace_rpc_backend_intx(irq, level);
    if (irq < RPC_BACKEND_IRQ_SINK) {
        rpc_accel_set_irq(irq, level);
    } else {
        warn_report_once("rpc-backend: INTx from a device the proxy does not "
                         "know (hotplugged?) is dropped");
    }
}

static void rpc_backend_pci_host_realize(DeviceState *dev, Error **errp)
{
    PCIHostState *phb = PCI_HOST_BRIDGE(dev);

    phb->bus = pci_register_root_bus(dev, "pci.0", rpc_backend_set_irq,
                                     rpc_backend_map_irq, dev,
                                     get_system_memory(), get_system_io(),
                                     0, RPC_BACKEND_IRQ_SINK + 1, TYPE_PCI_BUS);
}

static const char *rpc_backend_pci_host_root_bus_path(PCIHostState *host,
                                                      PCIBus *rootbus)
{
    return "0000:00";
}

static void rpc_backend_pci_host_class_init(ObjectClass *oc, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);
    PCIHostBridgeClass *hc = PCI_HOST_BRIDGE_CLASS(oc);

    dc->realize = rpc_backend_pci_host_realize;
    dc->user_creatable = false;
    dc->desc = "PCI host of the rpc-backend machine";
    hc->root_bus_path = rpc_backend_pci_host_root_bus_path;
}

static const TypeInfo rpc_backend_pci_host_info = {
    .name = TYPE_RPC_BACKEND_PCI_HOST,
    .parent = TYPE_PCI_HOST_BRIDGE,
    .instance_size = sizeof(RpcBackendPciHost),
    .class_init = rpc_backend_pci_host_class_init,
};

/* ---- MSI window ---- */

static MemTxResult rpc_backend_msi_read(void *opaque, hwaddr addr,
                                        uint64_t *data, unsigned size,
                                        MemTxAttrs attrs)
{
    *data = 0;
    return MEMTX_DECODE_ERROR;
}

static MemTxResult rpc_backend_msi_write(void *opaque, hwaddr addr,
                                         uint64_t data, unsigned size,
                                         MemTxAttrs attrs)
{
    RpcBackendMachineState *s = opaque;
    int index = attrs.unspecified ? -1 :
                rpc_accel_pci_index_by_requester(attrs.requester_id);

    if (index < 0 || size != 4) {
        /* Not an MSI from a device we serve (e.g. a request from the proxy
         * aimed at the window): refuse it. */
        s->msi_rejected++;
        qemu_log_mask(LOG_GUEST_ERROR, "rpc-backend: write to the MSI window "
                      "at 0x%" HWADDR_PRIx " (size %u, requester %s0x%x) is "
                      "not an MSI of a registered device\n", addr, size,
                      attrs.unspecified ? "unspecified " : "",
                      attrs.requester_id);
        return MEMTX_DECODE_ERROR;
    }
    rpc_accel_msi(index, s->msi_base + addr, (uint32_t)data);
    return MEMTX_OK;
}

static const MemoryRegionOps rpc_backend_msi_ops = {
    .read_with_attrs = rpc_backend_msi_read,
    .write_with_attrs = rpc_backend_msi_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 1,
        .max_access_size = 8,
    },
    .impl = {
        .min_access_size = 1,
        .max_access_size = 4,
    },
};

/* ---- machine ---- */

static void rpc_backend_add_device(PCIBus *bus, PCIDevice *dev, void *opaque)
{
    int index = rpc_accel_add_pci_device(dev, &error_fatal);

    trace_rpc_backend_device(index, object_get_typename(OBJECT(dev)),
                             PCI_SLOT(dev->devfn), PCI_FUNC(dev->devfn));
}

static void rpc_backend_machine_done(Notifier *notifier, void *data)
{
    RpcBackendMachineState *s = container_of(notifier, RpcBackendMachineState,
                                             machine_done);
    PCIBus *bus = PCI_HOST_BRIDGE(s->host)->bus;

    /* Devices are numbered in devfn order: index = RPC address space. */
    pci_for_each_device(bus, pci_bus_num(bus), rpc_backend_add_device, s);
}

static void rpc_backend_map_ram(RpcBackendMachineState *s)
{
    MemoryRegion *sysmem = get_system_memory();
    uint64_t gpa, size, offset;
    int fd;

    for (unsigned i = 0; rpc_accel_ram_region(i, &gpa, &size, &offset, &fd); i++) {
        g_autofree char *name = g_strdup_printf("rpc-backend.ram%u", i);
        /* The memory API owns (and closes) the fd it is given. */
        int own = dup(fd);

        if (own < 0) {
            error_report("rpc-backend: dup of guest RAM fd %d: %s", fd,
                         strerror(errno));
            exit(1);
        }
        memory_region_init_ram_from_fd(&s->ram[i], OBJECT(s), name, size,
                                       RAM_SHARED, own, offset, &error_fatal);
        memory_region_add_subregion(sysmem, gpa, &s->ram[i]);
        trace_rpc_backend_ram(i, gpa, size, offset);
        s->n_ram = i + 1;
    }
}

static void rpc_backend_machine_init(MachineState *ms)
{
    RpcBackendMachineState *s = RPC_BACKEND_MACHINE(ms);

    if (!rpc_accel_enabled()) {
        error_report("machine rpc-backend needs -accel rpc,... (it has no vCPU "
                     "and serves guest accesses that arrive over RPC)");
        exit(1);
    }
    rpc_backend_map_ram(s);

    memory_region_init_io(&s->msi_window, OBJECT(s), &rpc_backend_msi_ops, s,
                          "rpc-backend.msi", s->msi_size);
    memory_region_add_subregion(get_system_memory(), s->msi_base,
                                &s->msi_window);
    /* There is no interrupt controller, but MSI writes reach the window
     * above and become MSI events, so MSI/MSI-X do work. */
    msi_nonbroken = true;

    s->host = RPC_BACKEND_PCI_HOST(qdev_new(TYPE_RPC_BACKEND_PCI_HOST));
    object_property_add_child(OBJECT(ms), "pcihost", OBJECT(s->host));
    sysbus_realize_and_unref(SYS_BUS_DEVICE(s->host), &error_fatal);

    s->machine_done.notify = rpc_backend_machine_done;
    qemu_add_machine_init_done_notifier(&s->machine_done);
}

/* ---- MSI window placement (per guest architecture) ---- */

static void rpc_backend_get_msi(Object *obj, Visitor *v, const char *name,
                                void *opaque, Error **errp)
{
    uint64_t *field = opaque == (void *)1 ? &RPC_BACKEND_MACHINE(obj)->msi_size
                                          : &RPC_BACKEND_MACHINE(obj)->msi_base;

    visit_type_uint64(v, name, field, errp);
}

static void rpc_backend_set_msi(Object *obj, Visitor *v, const char *name,
                                void *opaque, Error **errp)
{
    RpcBackendMachineState *s = RPC_BACKEND_MACHINE(obj);
    uint64_t value;

    if (!visit_type_uint64(v, name, &value, errp)) {
        return;
    }
    if (opaque == (void *)1) {
        /* Page-sized at least, so that RAM (page aligned) cannot share a
         * page with it, and a power of two like every doorbell region. */
        if (value < qemu_real_host_page_size() || !is_power_of_2(value)) {
            error_setg(errp, "rpc-backend: msi-size 0x%" PRIx64 " is not a "
                       "power of two of at least one page", value);
            return;
        }
        s->msi_size = value;
    } else {
        if (value & (qemu_real_host_page_size() - 1)) {
            error_setg(errp, "rpc-backend: msi-base 0x%" PRIx64 " is not "
                       "page aligned", value);
            return;
        }
        s->msi_base = value;
    }
}

static void rpc_backend_instance_init(Object *obj)
{
    RpcBackendMachineState *s = RPC_BACKEND_MACHINE(obj);

    s->msi_base = RPC_BACKEND_MSI_BASE;
    s->msi_size = RPC_BACKEND_MSI_SIZE;
}

bool rpc_backend_msi_window(uint64_t *base, uint64_t *size)
{
    Object *m = qdev_get_machine();
    RpcBackendMachineState *s =
        (RpcBackendMachineState *)object_dynamic_cast(m,
                                                      TYPE_RPC_BACKEND_MACHINE);

    if (!s) {
        return false;
    }
    if (s->msi_base + s->msi_size < s->msi_base) {
        return false; /* wraps: refused by the caller */
    }
    *base = s->msi_base;
    *size = s->msi_size;
    return true;
}

/* No firmware runs here: devices get no option ROM (and no ROM BAR). */
static GlobalProperty rpc_backend_compat[] = {
    { "virtio-net-pci", "romfile", "" },
};

static void rpc_backend_machine_class_init(ObjectClass *oc, void *data)
{
    MachineClass *mc = MACHINE_CLASS(oc);

    mc->desc = "vsst device VM: no vCPU, devices served over RPC (-accel rpc)";
    mc->init = rpc_backend_machine_init;
    mc->max_cpus = 1;
    mc->default_cpus = 1;
    mc->no_floppy = 1;
    mc->no_cdrom = 1;
    mc->no_parallel = 1;
    mc->no_serial = 1;
    mc->no_sdcard = 1;
    mc->default_ram_id = NULL; /* RAM comes from the accelerator */
    mc->default_display = "none";
    compat_props_add(mc->compat_props, rpc_backend_compat,
                     G_N_ELEMENTS(rpc_backend_compat));
    object_class_property_add(oc, "msi-base", "uint64", rpc_backend_get_msi,
                              rpc_backend_set_msi, NULL, (void *)0);
    object_class_property_set_description(oc, "msi-base",
        "guest-physical base of the MSI window (the guest platform's MSI "
        "doorbell region; default 0xfee00000, x86)");
    object_class_property_add(oc, "msi-size", "uint64", rpc_backend_get_msi,
                              rpc_backend_set_msi, NULL, (void *)1);
    object_class_property_set_description(oc, "msi-size",
        "size of the MSI window (power of two, default 0x100000)");
}

static const TypeInfo rpc_backend_machine_info = {
    .name = TYPE_RPC_BACKEND_MACHINE,
    .parent = TYPE_MACHINE,
    .instance_size = sizeof(RpcBackendMachineState),
    .instance_init = rpc_backend_instance_init,
    .class_init = rpc_backend_machine_class_init,
};

static void rpc_backend_register_types(void)
{
    type_register_static(&rpc_backend_pci_host_info);
    type_register_static(&rpc_backend_machine_info);
}

type_init(rpc_backend_register_types);
