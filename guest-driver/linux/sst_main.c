// SPDX-License-Identifier: GPL-2.0
/*
 * virtio_sst.ko - driver of the virtio-sst device: probe and removal,
 * virtqueues, request submission, completion and timeouts, device events.
 *
 * Every request travels as one descriptor chain on the request virtqueue:
 * {out: struct SSTRequest, in: struct SSTResponse}. The device writes the
 * response into the in-buffer of the same chain. What the device hands back
 * (buffer tokens, used lengths, response ids) is checked before use.
 */
#include <linux/idr.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/virtio_config.h>

#include "sst_dev.h"

unsigned int sst_timeout_ms = 10000;
module_param_named(timeout_ms, sst_timeout_ms, uint, 0644);
MODULE_PARM_DESC(timeout_ms, "Default request timeout in ms (1..3600000, default 10000)");

unsigned int sst_max_per_fd = 256;
module_param_named(max_per_fd, sst_max_per_fd, uint, 0644);
MODULE_PARM_DESC(max_per_fd, "Requests one open file may own, in flight or unread (default 256)");

unsigned int sst_event_ring = 256;
module_param_named(event_ring, sst_event_ring, uint, 0444);
MODULE_PARM_DESC(event_ring, "Events buffered per subscribed file (default 256)");

#define SST_MAX_EVENT_BUFS 64

/* Event buffers each get their own cache line: the device writes them. */
struct sst_event_buf {
	struct SSTEvent ev;
} ____cacheline_aligned;

static struct kmem_cache *sst_req_cache;
static DEFINE_IDA(sst_ida);

struct sst_req *sst_req_alloc(void)
{
	struct sst_req *r = kmem_cache_alloc(sst_req_cache, GFP_KERNEL);

	if (!r)
		return NULL;
	INIT_LIST_HEAD(&r->dev_node);
	INIT_LIST_HEAD(&r->file_node);
	r->owner = NULL;
	r->in_vq = false;
	r->completed = false;
	r->synth = false;
	r->synth_status = SST_STATUS_OK;
	r->id = 0;
	memset(&r->resp, 0, sizeof(r->resp));
	return r;
}

void sst_req_free(struct sst_req *r)
{
	kmem_cache_free(sst_req_cache, r);
}

static void sst_device_release(struct kref *kref)
{
	struct sst_device *sdev = container_of(kref, struct sst_device, kref);

	put_device(&sdev->vdev->dev);
	kfree(sdev);
}

void sst_device_put(struct sst_device *sdev)
{
	kref_put(&sdev->kref, sst_device_release);
}

/* Header of the response the driver makes up (timeout, removal, bad reply). */
void sst_fill_synth(const struct sst_req *r, struct sst_resp_hdr *hdr)
{
	memset(hdr, 0, sizeof(*hdr));
	hdr->status = r->synth_status;
	hdr->request_id = r->id;
	hdr->user_data = r->req.user_data;
}

/* Caller holds sdev->lock. Schedules the timeout scan for @deadline. */
static void sst_arm_timeout(struct sst_device *sdev, unsigned long deadline)
{
	unsigned long now = jiffies;

	if (sdev->removed)
		return;
	if (sdev->timeout_armed && !time_before(deadline, sdev->timeout_next))
		return;
	sdev->timeout_armed = true;
	sdev->timeout_next = deadline;
	mod_delayed_work(system_wq, &sdev->timeout_work,
			 time_after(deadline, now) ? deadline - now : 0);
}

/* Caller holds sdev->lock; @r has an owner and is not completed yet. */
static void sst_complete_user(struct sst_req *r)
{
	struct sst_file *f = r->owner;

	r->completed = true;
	list_move_tail(&r->file_node, &f->done);
	f->n_pending--;
	f->n_done++;
	wake_up_interruptible(&f->wq);
}

/*
 * Caller holds sdev->lock. Checks what the device wrote for @r: the used
 * length must cover the response header and fit the buffer, and the
 * response must carry the id and user_data of its request. Anything else
 * turns into an SST_STATUS_ERROR response made by the driver.
 */
static void sst_check_response(struct sst_device *sdev, struct sst_req *r,
			       unsigned int len)
{
	struct SSTResponse *resp = &r->resp;

	if (len < SST_RESPONSE_HEADER_SIZE || len > sizeof(*resp) ||
	    resp->request_id != r->id || resp->user_data != r->req.user_data) {
		sdev->stats.bad_responses++;
		dev_warn_ratelimited(&sdev->vdev->dev,
				     "bad response: len %u id %llu (want %llu)\n",
				     len, (unsigned long long)resp->request_id,
				     (unsigned long long)r->id);
		r->synth = true;
		r->synth_status = SST_STATUS_ERROR;
		return;
	}
	/* Only what the device said it wrote is passed on. */
	if (len < sizeof(*resp))
		memset((u8 *)resp + len, 0, sizeof(*resp) - len);
	if (resp->status != SST_STATUS_OK)
		sdev->stats.status_errors++;
}

/*
 * Caller holds sdev->lock. The device gave @r back, with a response
 * (@aborted false) or because it was reset (@aborted true).
 */
static void sst_req_returned(struct sst_device *sdev, struct sst_req *r,
			     unsigned int len, bool aborted)
{
	r->in_vq = false;
	list_del_init(&r->dev_node);
	sdev->in_flight--;
	if (!aborted)
		sdev->stats.completed++;

	if (r->completed) {
		/* Timed out before: the user has had its answer already. */
		if (!aborted)
			sdev->stats.late++;
	} else if (r->owner) {
		if (aborted) {
			r->synth = true;
			r->synth_status = SST_STATUS_NO_DEVICE;
			sdev->stats.aborted++;
		} else {
			sst_check_response(sdev, r, len);
		}
		sst_complete_user(r);
	}
	if (!r->owner)
		sst_req_free(r);
}

static void sst_req_vq_done(struct virtqueue *vq)
{
	struct sst_device *sdev = vq->vdev->priv;
	struct sst_req *r;
	unsigned long flags;
	unsigned int len;
	bool freed = false;

	spin_lock_irqsave(&sdev->lock, flags);
	do {
		virtqueue_disable_cb(vq);
		while ((r = virtqueue_get_buf(vq, &len))) {
			sst_req_returned(sdev, r, len, false);
			freed = true;
		}
	} while (!virtqueue_enable_cb(vq));
	if (freed && sdev->vq_full) {
		sdev->vq_full = false;
		wake_up_interruptible_all(&sdev->space_wq);
	}
	spin_unlock_irqrestore(&sdev->lock, flags);
}

/* Caller holds sdev->lock. */
static int sst_post_event_buf(struct sst_device *sdev, struct SSTEvent *ev)
{
	struct scatterlist sg;

	sg_init_one(&sg, ev, sizeof(*ev));
	return virtqueue_add_inbuf(sdev->event_vq, &sg, 1, ev, GFP_ATOMIC);
}

static void sst_event_vq_done(struct virtqueue *vq)
{
	struct sst_device *sdev = vq->vdev->priv;
	struct SSTEvent *ev, copy;
	struct sst_file *f;
	unsigned long flags;
	unsigned int len;
	bool reposted = false;

	spin_lock_irqsave(&sdev->lock, flags);
	do {
		virtqueue_disable_cb(vq);
		while ((ev = virtqueue_get_buf(vq, &len))) {
			if (len != sizeof(*ev)) {
				sdev->stats.bad_events++;
				dev_warn_ratelimited(&sdev->vdev->dev,
						     "event with bad length %u\n", len);
			} else {
				sdev->stats.events++;
				copy = *ev;
				list_for_each_entry(f, &sdev->files, node)
					sst_file_deliver_event(f, &copy);
			}
			if (!sdev->removed && !sst_post_event_buf(sdev, ev))
				reposted = true;
		}
	} while (!virtqueue_enable_cb(vq));
	if (reposted)
		virtqueue_kick(vq);
	spin_unlock_irqrestore(&sdev->lock, flags);
}

static void sst_timeout_work(struct work_struct *work)
{
	struct sst_device *sdev = container_of(to_delayed_work(work),
					       struct sst_device, timeout_work);
	unsigned long now = jiffies, next = 0, flags;
	unsigned int expired = 0;
	bool have_next = false;
	struct sst_req *r;

	spin_lock_irqsave(&sdev->lock, flags);
	sdev->timeout_armed = false;
	list_for_each_entry(r, &sdev->in_vq, dev_node) {
		if (r->completed || !r->owner)
			continue;
		if (time_after_eq(now, r->deadline)) {
			/* The buffer stays with the device until it returns. */
			r->synth = true;
			r->synth_status = SST_STATUS_TIMEOUT;
			sdev->stats.timeouts++;
			sst_complete_user(r);
			expired++;
		} else if (!have_next || time_before(r->deadline, next)) {
			next = r->deadline;
			have_next = true;
		}
	}
	if (have_next)
		sst_arm_timeout(sdev, next);
	spin_unlock_irqrestore(&sdev->lock, flags);

	if (expired)
		dev_warn_ratelimited(&sdev->vdev->dev, "%u request(s) timed out\n", expired);
}

/*
 * Queues @r for the device on behalf of @f and stores the assigned id in
 * @id. The caller holds sdev->submit_sem for read and calls sst_kick()
 * after its last submission. Returns -ENOSPC when the virtqueue is full,
 * -EDQUOT when @f owns sst_max_per_fd requests, -ENODEV after removal.
 * On success the request belongs to the device and @f: the caller must not
 * touch it any more.
 */
int sst_submit(struct sst_file *f, struct sst_req *r, u64 *id)
{
	struct sst_device *sdev = f->sdev;
	struct scatterlist out, in, *sgs[2];
	unsigned long flags;
	int err;

	sg_init_one(&out, &r->req, sizeof(r->req));
	sg_init_one(&in, &r->resp, sizeof(r->resp));
	sgs[0] = &out;
	sgs[1] = &in;

	spin_lock_irqsave(&sdev->lock, flags);
	if (sdev->removed) {
		err = -ENODEV;
		goto unlock;
	}
	if (f->n_pending + f->n_done + f->n_reading >= READ_ONCE(sst_max_per_fd)) {
		err = -EDQUOT;
		goto unlock;
	}
	r->id = ++sdev->next_id;
	r->req.request_id = r->id;
	r->deadline = jiffies + msecs_to_jiffies(READ_ONCE(f->timeout_ms));
	err = virtqueue_add_sgs(sdev->req_vq, sgs, 1, 1, r, GFP_ATOMIC);
	if (err) {
		if (err == -ENOSPC) {
			sdev->vq_full = true;
			sdev->stats.queue_full++;
		}
		goto unlock;
	}
	r->owner = f;
	r->in_vq = true;
	list_add_tail(&r->dev_node, &sdev->in_vq);
	sdev->in_flight++;
	list_add_tail(&r->file_node, &f->pending);
	f->n_pending++;
	sdev->stats.submitted++;
	*id = r->id;
	sst_arm_timeout(sdev, r->deadline);
unlock:
	spin_unlock_irqrestore(&sdev->lock, flags);
	return err;
}

/* Notifies the device of new requests. Caller holds sdev->submit_sem. */
void sst_kick(struct sst_device *sdev)
{
	unsigned long flags;
	bool notify;

	spin_lock_irqsave(&sdev->lock, flags);
	notify = !sdev->removed && virtqueue_kick_prepare(sdev->req_vq);
	spin_unlock_irqrestore(&sdev->lock, flags);
	if (notify)
		virtqueue_notify(sdev->req_vq);
}

void sst_get_stats(struct sst_device *sdev, struct sst_ioc_stats *st)
{
	unsigned long flags;

	memset(st, 0, sizeof(*st));
	spin_lock_irqsave(&sdev->lock, flags);
	st->submitted = sdev->stats.submitted;
	st->completed = sdev->stats.completed;
	st->status_errors = sdev->stats.status_errors;
	st->timeouts = sdev->stats.timeouts;
	st->late = sdev->stats.late;
	st->bad_responses = sdev->stats.bad_responses;
	st->aborted = sdev->stats.aborted;
	st->events = sdev->stats.events;
	st->events_dropped = sdev->stats.events_dropped;
	st->bad_events = sdev->stats.bad_events;
	st->queue_full = sdev->stats.queue_full;
	st->in_flight = sdev->in_flight;
	st->open_files = sdev->open_files;
	spin_unlock_irqrestore(&sdev->lock, flags);
}

static int sst_find_vqs(struct sst_device *sdev)
{
	struct virtqueue *vqs[SST_NUM_VQS];
	int err;
#ifdef SST_HAVE_VIRTQUEUE_INFO	/* set by Kbuild, kernels >= 6.11 */
	struct virtqueue_info info[SST_NUM_VQS] = {
		[SST_VQ_REQUEST] = { "request", sst_req_vq_done },
		[SST_VQ_RESPONSE] = { "response", NULL },
		[SST_VQ_EVENT] = { "event", sst_event_vq_done },
	};

	err = virtio_find_vqs(sdev->vdev, SST_NUM_VQS, vqs, info, NULL);
#else
	vq_callback_t *callbacks[SST_NUM_VQS] = {
		[SST_VQ_REQUEST] = sst_req_vq_done,
		[SST_VQ_RESPONSE] = NULL,
		[SST_VQ_EVENT] = sst_event_vq_done,
	};
	static const char * const names[SST_NUM_VQS] = {
		[SST_VQ_REQUEST] = "request",
		[SST_VQ_RESPONSE] = "response",
		[SST_VQ_EVENT] = "event",
	};

	err = virtio_find_vqs(sdev->vdev, SST_NUM_VQS, vqs, callbacks, names, NULL);
#endif
	if (err)
		return err;
	sdev->req_vq = vqs[SST_VQ_REQUEST];
	sdev->resp_vq = vqs[SST_VQ_RESPONSE];
	sdev->event_vq = vqs[SST_VQ_EVENT];
	return 0;
}

static void sst_read_config(struct sst_device *sdev)
{
	struct virtio_device *vdev = sdev->vdev;

	sdev->config.version = virtio_cread32(vdev, offsetof(struct SSTConfig, version));
	sdev->config.device_id = virtio_cread32(vdev, offsetof(struct SSTConfig, device_id));
	sdev->config.features = virtio_cread32(vdev, offsetof(struct SSTConfig, features));
	sdev->config.max_queues = virtio_cread32(vdev, offsetof(struct SSTConfig, max_queues));
	if ((sdev->config.version >> 16) != (SST_PROTOCOL_VERSION >> 16))
		dev_warn(&vdev->dev, "device speaks protocol %#x, driver %#x\n",
			 sdev->config.version, SST_PROTOCOL_VERSION);
}

/* Posts the event buffers. Nothing is notified before DRIVER_OK. */
static int sst_setup_events(struct sst_device *sdev)
{
	struct sst_event_buf *bufs;
	unsigned int i, n;
	int err = 0;

	if (!virtio_has_feature(sdev->vdev, SST_FEATURE_EVENTS))
		return 0;
	n = min_t(unsigned int, virtqueue_get_vring_size(sdev->event_vq),
		  SST_MAX_EVENT_BUFS);
	bufs = kcalloc(n, sizeof(*bufs), GFP_KERNEL);
	if (!bufs)
		return -ENOMEM;
	spin_lock_irq(&sdev->lock);
	for (i = 0; i < n && !err; i++)
		err = sst_post_event_buf(sdev, &bufs[i].ev);
	spin_unlock_irq(&sdev->lock);
	sdev->event_bufs = &bufs[0].ev;
	sdev->n_event_bufs = n;
	return err;
}

/* Caller has reset the device: every buffer is the driver's again. */
static void sst_reclaim_buffers(struct sst_device *sdev)
{
	struct sst_req *r;
	unsigned int len;

	spin_lock_irq(&sdev->lock);
	/* Responses the device finished before the reset are still good. */
	while ((r = virtqueue_get_buf(sdev->req_vq, &len)))
		sst_req_returned(sdev, r, len, false);
	while ((r = virtqueue_detach_unused_buf(sdev->req_vq)))
		sst_req_returned(sdev, r, 0, true);
	while (virtqueue_detach_unused_buf(sdev->event_vq))
		;
	spin_unlock_irq(&sdev->lock);
}

static int sst_probe(struct virtio_device *vdev)
{
	struct sst_device *sdev;
	int err;

	sdev = kzalloc(sizeof(*sdev), GFP_KERNEL);
	if (!sdev)
		return -ENOMEM;
	kref_init(&sdev->kref);
	spin_lock_init(&sdev->lock);
	INIT_LIST_HEAD(&sdev->in_vq);
	INIT_LIST_HEAD(&sdev->files);
	init_rwsem(&sdev->submit_sem);
	init_waitqueue_head(&sdev->space_wq);
	INIT_DELAYED_WORK(&sdev->timeout_work, sst_timeout_work);
	get_device(&vdev->dev);
	sdev->vdev = vdev;
	vdev->priv = sdev;

	sdev->index = ida_alloc(&sst_ida, GFP_KERNEL);
	if (sdev->index < 0) {
		err = sdev->index;
		goto err_put;
	}
	snprintf(sdev->name, sizeof(sdev->name), "sst%d", sdev->index);

	sst_read_config(sdev);
	sdev->features = vdev->features;

	err = sst_find_vqs(sdev);
	if (err) {
		dev_err(&vdev->dev, "cannot set up virtqueues: %d\n", err);
		goto err_ida;
	}
	sdev->queue_size = virtqueue_get_vring_size(sdev->req_vq);

	err = sst_setup_events(sdev);
	if (err) {
		dev_err(&vdev->dev, "cannot post event buffers: %d\n", err);
		goto err_vqs;
	}

	virtio_device_ready(vdev);
	if (sdev->n_event_bufs)
		virtqueue_kick(sdev->event_vq);

	sdev->misc.minor = MISC_DYNAMIC_MINOR;
	sdev->misc.name = sdev->name;
	sdev->misc.fops = &sst_fops;
	sdev->misc.parent = &vdev->dev;
	sdev->misc.groups = sst_attr_groups;
	err = misc_register(&sdev->misc);
	if (err) {
		dev_err(&vdev->dev, "cannot register /dev/%s: %d\n", sdev->name, err);
		goto err_reset;
	}

	dev_info(&vdev->dev,
		 "/dev/%s: protocol %#x device_id %u features %#x queues %u, %u-entry request queue%s\n",
		 sdev->name, sdev->config.version, sdev->config.device_id,
		 sdev->config.features, sdev->config.max_queues, sdev->queue_size,
		 sdev->n_event_bufs ? ", events" : "");
	return 0;

err_reset:
	spin_lock_irq(&sdev->lock);
	sdev->removed = true;
	spin_unlock_irq(&sdev->lock);
	virtio_reset_device(vdev);
	sst_reclaim_buffers(sdev);
err_vqs:
	vdev->config->del_vqs(vdev);
	kfree(sdev->event_bufs);
err_ida:
	ida_free(&sst_ida, sdev->index);
err_put:
	vdev->priv = NULL;
	sst_device_put(sdev);
	return err;
}

static void sst_remove(struct virtio_device *vdev)
{
	struct sst_device *sdev = vdev->priv;
	unsigned int still_open;
	struct sst_file *f;

	/* No new opens; open files keep sdev alive through their kref. */
	misc_deregister(&sdev->misc);

	spin_lock_irq(&sdev->lock);
	sdev->removed = true;
	list_for_each_entry(f, &sdev->files, node)
		wake_up_interruptible_all(&f->wq);
	still_open = sdev->open_files;
	spin_unlock_irq(&sdev->lock);
	wake_up_all(&sdev->space_wq);

	/*
	 * Wait for submitters that passed the removed check. They hold
	 * submit_sem only to queue and to wait for room (woken above), never
	 * across a user copy, so this wait is bounded.
	 */
	down_write(&sdev->submit_sem);
	up_write(&sdev->submit_sem);
	cancel_delayed_work_sync(&sdev->timeout_work);

	virtio_reset_device(vdev);
	sst_reclaim_buffers(sdev);
	vdev->config->del_vqs(vdev);
	kfree(sdev->event_bufs);
	sdev->event_bufs = NULL;

	dev_info(&vdev->dev, "/dev/%s removed, %u file(s) still open\n",
		 sdev->name, still_open);
	ida_free(&sst_ida, sdev->index);
	vdev->priv = NULL;
	sst_device_put(sdev);
}

static const unsigned int sst_features[] = {
	SST_FEATURE_ECHO,
	SST_FEATURE_COMPUTE,
	SST_FEATURE_MEMORY,
	SST_FEATURE_EVENTS,
	SST_FEATURE_RESET,
};

static const struct virtio_device_id sst_id_table[] = {
	{ VIRTIO_ID_SST, VIRTIO_DEV_ANY_ID },
	{ 0 },
};
MODULE_DEVICE_TABLE(virtio, sst_id_table);

static struct virtio_driver sst_driver = {
	.driver.name = SST_DRV_NAME,
	.id_table = sst_id_table,
	.feature_table = sst_features,
	.feature_table_size = ARRAY_SIZE(sst_features),
	.feature_table_legacy = sst_features,
	.feature_table_size_legacy = ARRAY_SIZE(sst_features),
	.probe = sst_probe,
	.remove = sst_remove,
};

static int __init sst_init(void)
{
	int err;

	BUILD_BUG_ON(sizeof(struct sst_resp_hdr) != SST_RESPONSE_HEADER_SIZE);
	BUILD_BUG_ON(offsetof(struct sst_req, resp) !=
		     offsetof(struct sst_req, req) + sizeof(struct SSTRequest));
	/* Only the request and response may travel to and from user space. */
	sst_req_cache = kmem_cache_create_usercopy("virtio_sst_req", sizeof(struct sst_req), 0,
						   0, offsetof(struct sst_req, req),
						   sizeof_field(struct sst_req, req) +
						   sizeof_field(struct sst_req, resp),
						   NULL);
	if (!sst_req_cache)
		return -ENOMEM;
	err = register_virtio_driver(&sst_driver);
	if (err)
		kmem_cache_destroy(sst_req_cache);
	return err;
}

static void __exit sst_exit(void)
{
	/* Removes every device; their buffers are reclaimed there. */
	unregister_virtio_driver(&sst_driver);
	kmem_cache_destroy(sst_req_cache);
	ida_destroy(&sst_ida);
}

module_init(sst_init);
module_exit(sst_exit);

MODULE_DESCRIPTION("virtio-sst device driver (/dev/sstN)");
MODULE_LICENSE("GPL");
MODULE_AUTHOR("vsst project");
