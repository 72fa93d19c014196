/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Trace hook of the vsst devices: what a device reports to an RPC trace
 * recorder (trace/TRACE.md) that the channel cannot show, i.e. its
 * simulator byte stream and each used element as it writes it.
 *
 * The device glue calls vsst_trace_hook_*(); whoever records installs the
 * implementation with vsst_trace_hook_set() (the rpc accelerator, while
 * -accel rpc,trace=... records). With no hook installed every call is a
 * no-op, so devices need not know who records, or whether anyone does.
 *
 * Copyright (c) 2025 the vsst authors
 */
#ifndef HW_VSST_TRACE_HOOK_H
#define HW_VSST_TRACE_HOOK_H

/* Simulator stream events, as the device core's observer reports them. */
typedef enum VsstTraceHookSim {
    VSST_TRACE_HOOK_SIM_SENT = 0,
    VSST_TRACE_HOOK_SIM_RECEIVED = 1,
    VSST_TRACE_HOOK_SIM_CONNECTED = 2,
    VSST_TRACE_HOOK_SIM_CLOSED = 3,
} VsstTraceHookSim;

typedef struct VsstTraceHook {
    /* A fresh id for a simulator connection (unique in this process). */
    unsigned (*new_sim_conn)(void);
    /* Simulator stream of connection conn: what is a VsstTraceHookSim. */
    void (*sim)(int what, unsigned conn, const void *data, size_t len);
    /*
     * A used element of dev's queue, reported after it and its bytes are in
     * guest RAM and before used.idx is published (virtqueue_fill .. flush).
     */
    void (*used)(PCIDevice *dev, unsigned queue, uint16_t pos,
                 uint32_t head, uint32_t len);
} VsstTraceHook;

/*
 * Install hook (NULL removes it). Its functions must stay callable after
 * removal and must tolerate a recording that has stopped: a device thread
 * may have read the hook just before. Safe from any thread.
 */
void vsst_trace_hook_set(const VsstTraceHook *hook);

/* Whether a hook is installed (a device may skip work for the trace). */
bool vsst_trace_hook_active(void);

/* The hook's functions; no-ops (0 for the id) without a hook. */
unsigned vsst_trace_hook_new_sim_conn(void);
void vsst_trace_hook_sim(int what, unsigned conn, const void *data, size_t len);
void vsst_trace_hook_used(PCIDevice *dev, unsigned queue, uint16_t pos,
                          uint32_t head, uint32_t len);

#endif /* HW_VSST_TRACE_HOOK_H */
