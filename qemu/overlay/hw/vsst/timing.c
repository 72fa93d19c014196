/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The timed devices of this process (hw/vsst/timing.h). Built whether or
 * not the rpc accelerator is, so devices and accelerator need not know of
 * each other.
 *
 * Copyright (c) 2026 the vsst authors
 */

#include "qemu/osdep.h"
#include "qemu/main-loop.h"
#include "hw/vsst/timing.h"

static QLIST_HEAD(, VsstTimedDevice) vsst_timed_devices =
    QLIST_HEAD_INITIALIZER(vsst_timed_devices);

void vsst_timing_register(VsstTimedDevice *d)
{
    QLIST_INSERT_HEAD(&vsst_timed_devices, d, next);
}

void vsst_timing_unregister(VsstTimedDevice *d)
{
    QLIST_REMOVE(d, next);
}

uint64_t vsst_timing_sync(uint64_t now_ns)
{
    VsstTimedDevice *d;
    uint64_t next = VSST_TIMING_NONE;

    assert(qemu_mutex_iothread_locked());
    QLIST_FOREACH(d, &vsst_timed_devices, next) {
        next = MIN(next, d->sync(d->opaque, now_ns));
    }
    return next;
}
