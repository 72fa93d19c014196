/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Synchronized virtual time in the device VM (vmm-proxy --timing sync).
 *
 * The guest VM runs with -icount, so its virtual clock is a function of the
 * instructions it executed. After each doorbell, and whenever its virtual
 * clock reaches the time the device VM last named, the guest's rpc-channel
 * sends a TIME request (RPC address space VSST_RPC_AS_TIME) carrying its
 * virtual time; the rpc accelerator hands it to vsst_timing_sync() with the
 * BQL held. Each timed device then, at that guest time: takes what the
 * guest queued (stamping it with that time), waits (bounded) for every
 * answer the guest must not run past, and completes the requests whose
 * simulated completion time has come, so their used elements and
 * interrupts appear at exactly that guest time. It returns the next time at
 * which it needs the guest to ask again.
 *
 * Copyright (c) 2026 the vsst authors
 */
#ifndef HW_VSST_TIMING_H
#define HW_VSST_TIMING_H

#include "qemu/queue.h"

#define VSST_TIMING_NONE UINT64_MAX

typedef struct VsstTimedDevice VsstTimedDevice;
struct VsstTimedDevice {
    /* BQL held. Returns the next virtual time (ns, > now_ns) at which the
     * device needs the guest to call again, or VSST_TIMING_NONE. */
    uint64_t (*sync)(void *opaque, uint64_t now_ns);
    void *opaque;
    QLIST_ENTRY(VsstTimedDevice) next;
};

/* BQL held (realize/unrealize). */
void vsst_timing_register(VsstTimedDevice *d);
void vsst_timing_unregister(VsstTimedDevice *d);

/* BQL held. The earliest next time over all timed devices. */
uint64_t vsst_timing_sync(uint64_t now_ns);

#endif
