/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Trace hook of the vsst devices (include/hw/vsst/trace-hook.h): one
 * installed implementation, read atomically by the device threads.
 *
 * Copyright (c) 2025 the vsst authors
 */

#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "hw/vsst/trace-hook.h"

static const VsstTraceHook *vsst_trace_hook;

void vsst_trace_hook_set(const VsstTraceHook *hook)
{
    qatomic_set(&vsst_trace_hook, hook);
}

bool vsst_trace_hook_active(void)
{
    return qatomic_read(&vsst_trace_hook) != NULL;
}

unsigned vsst_trace_hook_new_sim_conn(void)
{
    const VsstTraceHook *hook = qatomic_read(&vsst_trace_hook);

    return hook ? hook->new_sim_conn() : 0;
}

void vsst_trace_hook_sim(int what, unsigned conn, const void *data, size_t len)
{
    const VsstTraceHook *hook = qatomic_read(&vsst_trace_hook);

    if (hook) {
        hook->sim(what, conn, data, len);
    }
}

void vsst_trace_hook_used(PCIDevice *dev, unsigned queue, uint16_t pos,
                          uint32_t head, uint32_t len)
{
    const VsstTraceHook *hook = qatomic_read(&vsst_trace_hook);

    if (hook) {
        hook->used(dev, queue, pos, head, len);
    }
}
