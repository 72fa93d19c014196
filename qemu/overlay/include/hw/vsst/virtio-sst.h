/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virtio-sst: a virtio device whose requests are answered by the vsst
 * device core (device/, linked as libvsst_device.a), which forwards work to
 * an SST simulator over a Unix socket.
 *
 * Copyright (c) 2025 the vsst authors
 */
#ifndef HW_VSST_VIRTIO_SST_H
#define HW_VSST_VIRTIO_SST_H

#include "hw/virtio/virtio.h"
#include "qom/object.h"
#include "hw/vsst/timing.h"

#define TYPE_VIRTIO_SST "virtio-sst-device"
OBJECT_DECLARE_SIMPLE_TYPE(VirtIOSST, VIRTIO_SST)

struct vsst_dev;

struct VirtIOSST {
    VirtIODevice parent_obj;

    /* properties */
    char *socket;
    char *protocol;
    uint32_t device_id;
    uint16_t queue_size;
    uint16_t virtio_id;
    uint32_t max_inflight;
    int32_t debug_echo_flip;   /* x-debug-echo-flip (tests only), -1 off */
    char *timing;              /* "free" (default) or "sync" (hw/vsst/timing.h) */
    bool timing_no_hold;       /* x-timing-no-hold (tests only): answers at once */

    VirtQueue *req_vq;
    VirtQueue *resp_vq;
    VirtQueue *event_vq;

    struct vsst_dev *core;
    int notify_fd;
    /* cookie -> VirtQueueElement of the request vq, in flight in the core */
    GHashTable *inflight;
    uint64_t next_cookie;
    bool throttled;            /* the core said -EBUSY: stop popping */
    GQueue pending_events;     /* SSTEvent waiting for an event buffer */
    GQueue pending_responses;  /* SSTResponse waiting for a response buffer */
    unsigned trace_sim_conn;   /* trace id of the simulator connection */

    /* synchronized time (timing=sync) */
    bool timed;                /* requests wait for the guest's TIME */
    bool timed_hold;           /* answers wait for their completion time */
    bool in_time_sync;         /* inside virtio_sst_time_sync: may pop */
    uint64_t now_ns;           /* the guest's virtual time at the last TIME */
    GHashTable *timed_reqs;    /* cookie -> VirtIOSSTTimedReq (timed_hold) */
    VsstTimedDevice timed_dev;
    uint64_t stat_time_syncs;
    uint64_t stat_time_waits;  /* syncs that waited for the simulator */

    /* statistics (QOM read-only properties "stat-*") */
    uint64_t stat_requests;
    uint64_t stat_completions;
    uint64_t stat_events;
    uint64_t stat_dropped;
    uint64_t stat_unknown_cookie;
};

#endif /* HW_VSST_VIRTIO_SST_H */
