/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * accel rpc: inflight records for device-VM restart.
 *
 *   -accel rpc,...,inflight-fd=N   a memfd the launcher keeps for every
 *                                  incarnation of this device VM
 *
 * Before START_VM, every queue of every registered virtio-pci device is
 * given its record (include/hw/vsst/inflight.h; device index = RPC address
 * space, as the guest-side proxy names it). In a device VM started after a
 * crash the records still hold what the previous one had taken from the
 * guest; hw/virtio applies them when the replayed set-up enables the queue.
 *
 * Copyright (c) 2025 the vsst authors
 */

#include "qemu/osdep.h"
#include <sys/mman.h>
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "hw/virtio/virtio-pci.h"
#include "hw/vsst/inflight.h"
#include "rpc-internal.h"

bool rpc_inflight_start(RpcAccelState *s, Error **errp)
{
    size_t size = vsst_inflight_region_size();
    unsigned resumed = 0;
    struct stat st;

    if (s->inflight_fd < 0) {
        return true;
    }
    if (fstat(s->inflight_fd, &st) < 0) {
        error_setg_errno(errp, errno, "accel rpc: inflight-fd");
        return false;
    }
    /* The first incarnation sizes it; later ones find it sized. */
    if ((uint64_t)st.st_size < size && ftruncate(s->inflight_fd, size) < 0) {
        error_setg_errno(errp, errno, "accel rpc: inflight-fd: ftruncate");
        return false;
    }
    s->inflight = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
                       s->inflight_fd, 0);
    if (s->inflight == MAP_FAILED) {
        s->inflight = NULL;
        error_setg_errno(errp, errno, "accel rpc: inflight-fd: mmap");
        return false;
    }
    for (unsigned i = 0; i < s->n_pci && i < VSST_INFLIGHT_DEVICES; i++) {
        VirtIOPCIProxy *proxy = (VirtIOPCIProxy *)
            object_dynamic_cast(OBJECT(s->pci[i].dev), TYPE_VIRTIO_PCI);
        VirtIODevice *vdev = proxy ? virtio_bus_get_device(&proxy->bus) : NULL;

        if (!vdev) {
            continue;
        }
        for (int n = 0; n < VSST_INFLIGHT_QUEUES; n++) {
            if (virtio_queue_get_num(vdev, n) &&
                vsst_virtio_inflight_attach(vdev, n,
                    vsst_inflight_record(s->inflight, i, n))) {
                resumed++;
            }
        }
    }
    if (resumed) {
        info_report("accel rpc: resuming %u virtqueue(s) of a previous "
                    "device VM", resumed);
    }
    return true;
}

void rpc_inflight_stop(RpcAccelState *s)
{
    /* The queues may still point into it until the devices are gone. */
    s->inflight = NULL;
}
