/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vsst-inflight-hooks.h - the calls virtio.c makes into vsst-inflight.c.inc
 * (which it includes at its end, for access to VirtQueue's internals). Each
 * call site is one line inserted by the vsst overlay (qemu/README.md lists
 * them); every hook returns at once for a queue nobody tracks.
 */
#ifndef HW_VIRTIO_VSST_INFLIGHT_HOOKS_H
#define HW_VIRTIO_VSST_INFLIGHT_HOOKS_H

struct VsstInflightQueue;
static bool vsst_inflight_head(VirtQueue *vq, unsigned int idx,
                               unsigned int *head);
static void vsst_inflight_popped(VirtQueue *vq, unsigned int head);
static void vsst_inflight_filled(VirtQueue *vq, unsigned int head,
                                 unsigned int pos);
static void vsst_inflight_flushed(VirtQueue *vq, uint16_t old, uint16_t new);
static void vsst_inflight_detached(VirtQueue *vq, unsigned int head);
static void vsst_inflight_rings_set(VirtQueue *vq);
static void vsst_inflight_reset(VirtQueue *vq);

#endif
