/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * accel rpc: state shared by the accelerator's files.
 *
 * Copyright (c) 2025 the vsst authors
 */
#ifndef ACCEL_RPC_INTERNAL_H
#define ACCEL_RPC_INTERNAL_H

#include "qemu/thread.h"
#include "qom/object.h"
#include "hw/pci/pci.h"
#include "sysemu/rpc-accel.h"
#include "vsst/rpc.h"

OBJECT_DECLARE_SIMPLE_TYPE(RpcAccelState, RPC_ACCEL)

/* Regions announced with MMIO_REGION_CONFIG, per device. */
#define RPC_MAX_DEV_REGIONS (PCI_NUM_REGIONS + 1)
typedef struct RpcRegion {
    uint64_t base;
    uint64_t size;
    uint32_t flags;
} RpcRegion;

typedef struct RpcPciEntry {
    PCIDevice *dev;
    RpcRegion announced[RPC_MAX_DEV_REGIONS];
    unsigned n_announced;
} RpcPciEntry;

/* Events leave in order; a full ring queues them here (never blocks). */
#define RPC_EVENT_BACKLOG 4096
typedef struct RpcEventQueue {
    QemuMutex lock;
    QemuCond cond;
    struct vsst_rpcmsg msg[RPC_EVENT_BACKLOG];
    unsigned head;
    unsigned count;
    bool quit;
    bool running;
    uint64_t dropped;
    QemuThread thread;
} RpcEventQueue;

/* Why a request was refused (index into rpc_reject_names). */
typedef enum RpcReject {
    RPC_REJECT_BEFORE_HELLO,
    RPC_REJECT_BAD_OP,
    RPC_REJECT_BAD_LEN,
    RPC_REJECT_BAD_AS,
    RPC_REJECT_BAD_ADDR,
    RPC_REJECT_POSTED_READ,
    RPC_REJECT_MEMTX,
    RPC_REJECT_BAD_TIME,
    RPC_REJECT__MAX,
} RpcReject;

struct RpcAccelState {
    AccelState parent_obj;

    /* options (-accel rpc,...) */
    char *fds;          /* REGION:TODEV:TOPROXY */
    char *ram;          /* FD@GPA+SIZE[+OFFSET][:...] */
    char *control;      /* Unix socket path to connect to */
    int64_t setup_fd;   /* connected Unix socket, -1 if none */
    uint32_t timeout_ms;
    char *trace;        /* record an RPC trace into this file */
    int64_t trace_fd;   /* ... or into this inherited fd, -1 if none */
    char *trace_args;   /* device arguments for the trace header, one per line */
    int64_t inflight_fd; /* virtqueue records that outlive us (restart), -1 */
    void *inflight;     /* its mapping */

    /* channel */
    vsst_rpc *ch;
    struct vsst_ram_layout ram_layout;

    /* devices, index = RPC address space */
    RpcPciEntry pci[RPC_ACCEL_MAX_PCI_DEVICES];
    unsigned n_pci;
    bool started;       /* START_VM sent: the table is frozen */

    /* dispatcher */
    QemuThread dispatch_thread;
    bool dispatch_running;
    bool quit;          /* atomic */
    bool hello_done;
    uint64_t requests;
    uint64_t rejected[RPC_REJECT__MAX];
    uint64_t rejected_total;
    uint64_t guest_time_ns;    /* last TIME (synchronized time); never goes back */

    RpcEventQueue events;

    struct vsst_trace *tracer;  /* NULL unless recording */

    /* exit */
    int exit_status;    /* -1 until decided */
    bool peer_stopped;  /* STOP came from the peer: do not send one back */
};

extern RpcAccelState *rpc_accel_state;

/* rpc-setup.c */
bool rpc_setup_channel(RpcAccelState *s, Error **errp);

/* rpc-events.c */
void rpc_events_init(RpcAccelState *s);
void rpc_events_start(RpcAccelState *s);
void rpc_events_stop(RpcAccelState *s);
void rpc_events_send(RpcAccelState *s, const struct vsst_rpcmsg *ev);

/* rpc-dispatch.c */
void rpc_dispatch_start(RpcAccelState *s);
void rpc_dispatch_stop(RpcAccelState *s);

/* rpc-regions.c (BQL held) */
void rpc_regions_update(RpcAccelState *s, unsigned index);

/* rpc-trace.c (trace/TRACE.md): start after the channel is attached; stop
 * after it is closed. */
bool rpc_trace_start(RpcAccelState *s, Error **errp);

/* rpc-inflight.c: map inflight-fd (before START_VM), track the virtqueues. */
bool rpc_inflight_start(RpcAccelState *s, Error **errp);
void rpc_inflight_stop(RpcAccelState *s);
void rpc_trace_stop(RpcAccelState *s);

/* rpc-accel.c */
void rpc_accel_finish(RpcAccelState *s, int status, const char *why);

#endif /* ACCEL_RPC_INTERNAL_H */
