/* SPDX-License-Identifier: Apache-2.0 OR GPL-2.0-only */
/*
 * sst-ioctl.h - ioctl ABI of /dev/sstN (virtio_sst.ko), shared by the
 * kernel module and user space.
 *
 * The plain read()/write() interface of the reference driver stays as it
 * is (write an SSTRequest, read its SSTResponse). These ioctls add batched
 * submission and reaping, device events, per-fd timeouts and statistics.
 * All structures have the same layout on 32- and 64-bit user space: user
 * pointers travel as __u64 and every structure is padded explicitly.
 *
 * Dual-licensed so that the GPL-2.0 module and Apache-2.0 applications can
 * both include it.
 */
#ifndef VSST_SST_IOCTL_H
#define VSST_SST_IOCTL_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Bumped when an ioctl or structure below changes incompatibly. */
#define SST_IOCTL_ABI_VERSION 1

/* Unused by mainline as of 6.12 (Documentation/userspace-api/ioctl). */
#define SST_IOC_MAGIC 0xB9

/* SST_IOC_GET_INFO: identity of the device and limits of this fd. */
struct sst_ioc_info {
	__u32 abi_version;     /* SST_IOCTL_ABI_VERSION */
	__u32 index;           /* N of /dev/sstN */
	__u32 sst_version;     /* SSTConfig.version */
	__u32 device_id;       /* SSTConfig.device_id */
	__u32 device_features; /* SSTConfig.features */
	__u32 max_queues;      /* SSTConfig.max_queues */
	__u64 features;        /* negotiated virtio feature bits */
	__u32 queue_size;      /* entries of the request virtqueue */
	__u32 timeout_ms;      /* request timeout of this fd */
	__u32 max_per_fd;      /* requests one fd may own (in flight + unread) */
	__u32 event_ring;      /* events buffered per subscribed fd */
	__u32 reserved[4];
};

/*
 * SST_IOC_SUBMIT: queue up to @count requests from the array at @reqs.
 * The driver assigns each request a device-unique request_id; when @ids is
 * not 0 it points to @count __u64 that receive them. Blocks for room (in
 * the virtqueue or in the fd's quota) unless the fd is O_NONBLOCK or
 * SST_SUBMIT_NONBLOCK is set. @submitted says how many were queued; the
 * call fails only if none were.
 */
#define SST_SUBMIT_NONBLOCK (1u << 0)

struct sst_ioc_submit {
	__u64 reqs; /* struct SSTRequest[count] */
	__u64 ids;  /* __u64[count] or 0 */
	__u32 count;
	__u32 flags;     /* SST_SUBMIT_* */
	__u32 submitted; /* out */
	__u32 reserved;
};

/*
 * SST_IOC_REAP: copy up to @count completed responses (oldest first) to
 * @resps. Waits until @min_complete are available, clamped to what this fd
 * can still receive, for at most @timeout_ms (0: do not wait; negative:
 * no limit other than the request timeouts, which bound every request).
 * Returns 0 with @reaped set (possibly 0 after a timeout).
 */
struct sst_ioc_reap {
	__u64 resps; /* struct SSTResponse[count] */
	__u32 count;
	__u32 min_complete;
	__s32 timeout_ms;
	__u32 reaped;    /* out */
	__u32 in_flight; /* out: requests of this fd not completed yet */
	__u32 reserved;
};

/*
 * Device events (SSTEvent from the event virtqueue) are copied to every fd
 * that subscribed with SST_IOC_EVENTS_ENABLE(1). Each such fd buffers up
 * to event_ring events; when full, new events are dropped and counted.
 * poll() reports EPOLLPRI while events are buffered.
 *
 * SST_IOC_GET_EVENTS: copy up to @count buffered events to @events,
 * waiting up to @timeout_ms for the first one (0: do not wait; negative:
 * until an event, a signal or device removal).
 */
struct sst_ioc_events {
	__u64 events; /* struct SSTEvent[count] */
	__u32 count;
	__s32 timeout_ms;
	__u32 got;     /* out */
	__u32 dropped; /* out: events lost by this fd since last call */
};

/* SST_IOC_GET_STATS: per-device counters (the same as in sysfs). */
struct sst_ioc_stats {
	__u64 submitted;      /* requests handed to the device */
	__u64 completed;      /* responses the device returned */
	__u64 status_errors;  /* ... of which status != SST_STATUS_OK */
	__u64 timeouts;       /* requests completed by the driver's timeout */
	__u64 late;           /* responses that arrived after their timeout */
	__u64 bad_responses;  /* responses with a bad length or request_id */
	__u64 aborted;        /* requests failed by device removal */
	__u64 events;         /* events received from the device */
	__u64 events_dropped; /* events a subscriber's ring had no room for */
	__u64 bad_events;     /* event buffers with a bad length */
	__u64 queue_full;     /* submissions that found the virtqueue full */
	__u32 in_flight;      /* requests in the virtqueue now */
	__u32 open_files;
};

#define SST_IOC_GET_INFO _IOR(SST_IOC_MAGIC, 0x00, struct sst_ioc_info)
#define SST_IOC_SUBMIT _IOWR(SST_IOC_MAGIC, 0x01, struct sst_ioc_submit)
#define SST_IOC_REAP _IOWR(SST_IOC_MAGIC, 0x02, struct sst_ioc_reap)
/* arg: __u32 milliseconds, 0 restores the module default */
#define SST_IOC_SET_TIMEOUT _IOW(SST_IOC_MAGIC, 0x03, __u32)
/* arg: __u32, 1 subscribes this fd to device events, 0 unsubscribes */
#define SST_IOC_EVENTS_ENABLE _IOW(SST_IOC_MAGIC, 0x04, __u32)
#define SST_IOC_GET_EVENTS _IOWR(SST_IOC_MAGIC, 0x05, struct sst_ioc_events)
#define SST_IOC_GET_STATS _IOR(SST_IOC_MAGIC, 0x06, struct sst_ioc_stats)

#endif /* VSST_SST_IOCTL_H */
