/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * inflight.h - what a device VM's virtqueues had taken from the guest but not
 * yet given back, kept in memory that outlives the device VM.
 *
 * The launcher hands every incarnation of a device VM the same memfd
 * (-accel rpc,inflight-fd=N). Each virtqueue of each registered virtio device
 * has one record there, written as the device pops and completes chains. A
 * device VM started after a crash reads the records its predecessor left:
 * when the restarted guest-side proxy replays the queue set-up, the queue
 * continues where the old one stopped (the chains it had taken but not
 * completed are taken again, the ones it completed are not). The idea is
 * vhost-user's inflight buffer, applied to QEMU's own virtio devices.
 *
 * Split rings only (QEMU's devices offer packed rings only when asked to).
 * The records come from another process: everything read back is checked,
 * and a record that does not add up is ignored (the queue starts afresh).
 */
#ifndef HW_VSST_INFLIGHT_H
#define HW_VSST_INFLIGHT_H

#include "hw/virtio/virtio.h"

#define VSST_INFLIGHT_MAGIC 0x76696e66u          /* "vinf": record in use */
#define VSST_INFLIGHT_QUEUES 64                 /* per device, tracked */
#define VSST_INFLIGHT_DEVICES 32                /* RPC_ACCEL_MAX_PCI_DEVICES */

typedef struct VsstInflightRecord {
    uint32_t magic;       /* VSST_INFLIGHT_MAGIC while the rings are set */
    uint16_t num;         /* queue size the record is for */
    uint16_t last_avail;  /* next avail-ring index to read */
    uint16_t used_idx;    /* used index once the completions below are cleared */
    uint16_t reserved;
    uint32_t counter;     /* pop sequence (orders the re-submission) */
    uint32_t seq[VIRTQUEUE_MAX_SIZE]; /* per head: 0 = not taken, else its pop */
} VsstInflightRecord;

static inline size_t vsst_inflight_region_size(void)
{
    return sizeof(VsstInflightRecord) * VSST_INFLIGHT_QUEUES *
           VSST_INFLIGHT_DEVICES;
}

static inline VsstInflightRecord *vsst_inflight_record(void *region,
                                                       unsigned device,
                                                       unsigned queue)
{
    return (VsstInflightRecord *)region +
           device * VSST_INFLIGHT_QUEUES + queue;
}

/*
 * Tracks queue n of vdev in rec from now on. A record its predecessor left
 * (magic set) is copied and applied when the queue's rings are next set.
 * Returns true if such a record was found.
 */
bool vsst_virtio_inflight_attach(VirtIODevice *vdev, int n,
                                 VsstInflightRecord *rec);

#endif
