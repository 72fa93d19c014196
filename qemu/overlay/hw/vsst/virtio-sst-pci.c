/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virtio-sst-pci: virtio-sst on the virtio-pci transport (modern only:
 * PCI device id 0x1040 + virtio-id, 0x107f by default).
 *
 * Copyright (c) 2025 the vsst authors
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/module.h"
#include "hw/pci/pci.h"
#include "hw/qdev-properties.h"
#include "hw/virtio/virtio-pci.h"
#include "hw/vsst/virtio-sst.h"
#include "qom/object.h"
#include "vsst/sst-protocol.h"

#define TYPE_VIRTIO_SST_PCI "virtio-sst-pci-base"
OBJECT_DECLARE_SIMPLE_TYPE(VirtIOSSTPCI, VIRTIO_SST_PCI)

struct VirtIOSSTPCI {
    VirtIOPCIProxy parent_obj;
    VirtIOSST vdev;
};

static Property virtio_sst_pci_properties[] = {
    DEFINE_PROP_BIT("ioeventfd", VirtIOPCIProxy, flags,
                    VIRTIO_PCI_FLAG_USE_IOEVENTFD_BIT, true),
    DEFINE_PROP_UINT32("vectors", VirtIOPCIProxy, nvectors,
                       DEV_NVECTORS_UNSPECIFIED),
    DEFINE_PROP_END_OF_LIST(),
};

static void virtio_sst_pci_realize(VirtIOPCIProxy *vpci_dev, Error **errp)
{
    VirtIOSSTPCI *dev = VIRTIO_SST_PCI(vpci_dev);

    if (vpci_dev->nvectors == DEV_NVECTORS_UNSPECIFIED) {
        /* one per queue plus the configuration vector */
        vpci_dev->nvectors = SST_NUM_VQS + 1;
    }
    /* Not a legacy device: no transitional variant. */
    virtio_pci_force_virtio_1(vpci_dev);
    qdev_realize(DEVICE(&dev->vdev), BUS(&vpci_dev->bus), errp);
}

static void virtio_sst_pci_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    VirtioPCIClass *k = VIRTIO_PCI_CLASS(klass);
    PCIDeviceClass *pcidev_k = PCI_DEVICE_CLASS(klass);

    k->realize = virtio_sst_pci_realize;
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    device_class_set_props(dc, virtio_sst_pci_properties);
    pcidev_k->vendor_id = PCI_VENDOR_ID_REDHAT_QUMRANET;
    pcidev_k->device_id = VIRTIO_SST_PCI_DEVICE_ID;
    pcidev_k->revision = VIRTIO_PCI_ABI_VERSION;
    pcidev_k->class_id = PCI_CLASS_OTHERS;
}

static void virtio_sst_pci_instance_init(Object *obj)
{
    VirtIOSSTPCI *dev = VIRTIO_SST_PCI(obj);

    virtio_instance_init_common(obj, &dev->vdev, sizeof(dev->vdev),
                                TYPE_VIRTIO_SST);
}

static const VirtioPCIDeviceTypeInfo virtio_sst_pci_info = {
    .base_name = TYPE_VIRTIO_SST_PCI,
    .generic_name = "virtio-sst-pci",
    .instance_size = sizeof(VirtIOSSTPCI),
    .instance_init = virtio_sst_pci_instance_init,
    .class_init = virtio_sst_pci_class_init,
};

static void virtio_sst_pci_register(void)
{
    virtio_pci_types_register(&virtio_sst_pci_info);
}

type_init(virtio_sst_pci_register);
