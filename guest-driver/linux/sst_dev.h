/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internal structures of virtio_sst.ko, the driver of the virtio-sst device.
 *
 * Locking: one spinlock per device (sdev->lock, taken with interrupts off
 * because virtqueue callbacks run in hard interrupt context) protects the
 * request virtqueue, the event virtqueue, every request's state, every open
 * file's lists and counters, and the statistics. It is held only for short
 * list and ring operations, never across a copy to or from user space.
 */
#ifndef VSST_SST_DEV_H
#define VSST_SST_DEV_H

#include <linux/kref.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/virtio.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <vsst/sst-ioctl.h>
#include <vsst/sst-protocol.h>

#define SST_DRV_NAME "virtio_sst"

struct sst_file;

/*
 * One request and its response buffer. Two parties can hold it: the
 * device (from virtqueue_add_sgs() until the buffer comes back through
 * virtqueue_get_buf() or virtqueue_detach_unused_buf()) and the user (from
 * submission until the response has been read, or the file is closed). It
 * is freed when neither holds it, so a timed-out request whose buffer is
 * still in the device's hands is never freed under it.
 */
struct sst_req {
	struct list_head dev_node;	/* sdev->in_vq while the device holds it */
	struct list_head file_node;	/* owner->pending or owner->done */
	struct sst_file *owner;		/* NULL once the user let go */
	unsigned long deadline;		/* jiffies */
	u64 id;
	bool in_vq;			/* device holds it */
	bool completed;			/* user-visible completion happened */
	bool synth;			/* deliver a driver-made response */
	u32 synth_status;		/* SST_STATUS_* of that response */
	struct SSTRequest req;
	struct SSTResponse resp;
};

/* The fixed part of struct SSTResponse, for responses the driver makes. */
struct sst_resp_hdr {
	u32 status;
	u32 reserved;
	u64 request_id;
	u64 user_data;
	u64 result;
} __packed;

/* Counters, updated under sdev->lock. */
struct sst_stats {
	u64 submitted;
	u64 completed;
	u64 status_errors;
	u64 timeouts;
	u64 late;
	u64 bad_responses;
	u64 aborted;
	u64 events;
	u64 events_dropped;
	u64 bad_events;
	u64 queue_full;
};

struct sst_device {
	struct virtio_device *vdev;
	struct virtqueue *req_vq;
	struct virtqueue *resp_vq;	/* set up, unused by this device version */
	struct virtqueue *event_vq;
	struct kref kref;		/* the device itself + one per open file */

	spinlock_t lock;		/* see the comment at the top */
	struct list_head in_vq;		/* sst_req the device holds */
	struct list_head files;		/* every open sst_file */
	u32 in_flight;			/* length of in_vq */
	bool vq_full;			/* last add failed with -ENOSPC */
	bool removed;			/* no new work; waiters wake up */
	u64 next_id;
	struct sst_stats stats;
	u32 open_files;

	/*
	 * Submitters hold it for read; removal takes it for write. Never held
	 * across a copy to or from user space: such a copy can stall for
	 * ever (a userfaultfd or FUSE page), and removal must not wait on it.
	 * Holders only queue requests and wait for room, which removal ends.
	 */
	struct rw_semaphore submit_sem;
	wait_queue_head_t space_wq;	/* room in the request virtqueue */

	struct delayed_work timeout_work;
	bool timeout_armed;
	unsigned long timeout_next;	/* jiffies when timeout_work runs */

	struct SSTEvent *event_bufs;	/* posted to the event virtqueue */
	unsigned int n_event_bufs;

	/* Snapshot of the config space and negotiation, read at probe. */
	struct SSTConfig config;
	u64 features;
	unsigned int queue_size;

	int index;
	char name[16];
	struct miscdevice misc;
};

/* Per open file. */
struct sst_file {
	struct sst_device *sdev;
	struct list_head node;		/* sdev->files */
	struct list_head pending;	/* submitted, not completed */
	struct list_head done;		/* completed, not read yet */
	u32 n_pending;
	u32 n_done;
	u32 n_reading;			/* taken off done, being copied */
	u32 timeout_ms;
	wait_queue_head_t wq;		/* completions, events, removal */

	/* Event subscription: a ring of SSTEvent, NULL when not subscribed. */
	struct SSTEvent *ev_ring;
	u32 ev_cap;
	u32 ev_head;
	u32 ev_count;
	u32 ev_dropped;
};

extern unsigned int sst_timeout_ms;
extern unsigned int sst_max_per_fd;
extern unsigned int sst_event_ring;

/* sst_main.c */
struct sst_req *sst_req_alloc(void);
void sst_req_free(struct sst_req *r);
int sst_submit(struct sst_file *f, struct sst_req *r, u64 *id);
void sst_kick(struct sst_device *sdev);
void sst_device_put(struct sst_device *sdev);
void sst_fill_synth(const struct sst_req *r, struct sst_resp_hdr *hdr);
void sst_get_stats(struct sst_device *sdev, struct sst_ioc_stats *st);

/* sst_chardev.c */
extern const struct file_operations sst_fops;
void sst_file_deliver_event(struct sst_file *f, const struct SSTEvent *ev);

/* sst_sysfs.c */
extern const struct attribute_group *sst_attr_groups[];

#endif /* VSST_SST_DEV_H */
