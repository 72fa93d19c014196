// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/sstN file operations.
 *
 * write() queues one or more whole SSTRequests and returns without waiting
 * for the device; read() returns completed SSTResponses, oldest first. A
 * write followed by a read therefore behaves like the reference driver's
 * synchronous request, while any number of requests (up to max_per_fd) may
 * be outstanding per file and across files. The ioctls of
 * <vsst/sst-ioctl.h> add batches, events, timeouts and statistics.
 */
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "sst_dev.h"

#define SST_TIMEOUT_MAX_MS 3600000u
#define SST_EVENT_CHUNK 8

static u32 sst_clamp_timeout(u32 ms)
{
	return clamp_t(u32, ms ? ms : READ_ONCE(sst_timeout_ms), 1, SST_TIMEOUT_MAX_MS);
}

static int sst_open(struct inode *inode, struct file *file)
{
	struct miscdevice *misc = file->private_data;
	struct sst_device *sdev = container_of(misc, struct sst_device, misc);
	struct sst_file *f;

	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	INIT_LIST_HEAD(&f->pending);
	INIT_LIST_HEAD(&f->done);
	init_waitqueue_head(&f->wq);
	f->timeout_ms = sst_clamp_timeout(0);
	f->sdev = sdev;

	/* misc_open() holds misc_mtx, so removal has not passed misc_deregister(). */
	spin_lock_irq(&sdev->lock);
	if (sdev->removed) {
		spin_unlock_irq(&sdev->lock);
		kfree(f);
		return -ENODEV;
	}
	kref_get(&sdev->kref);
	list_add_tail(&f->node, &sdev->files);
	sdev->open_files++;
	spin_unlock_irq(&sdev->lock);

	file->private_data = f;
	return stream_open(inode, file);
}

/* Caller holds sdev->lock. */
static void sst_orphan_list(struct list_head *head, struct list_head *to_free)
{
	struct sst_req *r, *tmp;

	list_for_each_entry_safe(r, tmp, head, file_node) {
		list_del_init(&r->file_node);
		r->owner = NULL;
		/* Still in the device: freed when it comes back or on removal. */
		if (!r->in_vq)
			list_add_tail(&r->file_node, to_free);
	}
}

static int sst_release(struct inode *inode, struct file *file)
{
	struct sst_file *f = file->private_data;
	struct sst_device *sdev = f->sdev;
	struct sst_req *r, *tmp;
	struct SSTEvent *ring;
	LIST_HEAD(to_free);

	spin_lock_irq(&sdev->lock);
	sst_orphan_list(&f->pending, &to_free);
	sst_orphan_list(&f->done, &to_free);
	list_del(&f->node);
	sdev->open_files--;
	ring = f->ev_ring;
	f->ev_ring = NULL;
	spin_unlock_irq(&sdev->lock);

	list_for_each_entry_safe(r, tmp, &to_free, file_node)
		sst_req_free(r);
	kfree(ring);
	kfree(f);
	sst_device_put(sdev);
	return 0;
}

/* Caller holds sdev->lock. Copies @ev into @f's ring if it subscribed. */
void sst_file_deliver_event(struct sst_file *f, const struct SSTEvent *ev)
{
	if (!f->ev_ring)
		return;
	if (f->ev_count == f->ev_cap) {
		f->ev_dropped++;
		f->sdev->stats.events_dropped++;
		return;
	}
	f->ev_ring[(f->ev_head + f->ev_count) % f->ev_cap] = *ev;
	f->ev_count++;
	wake_up_interruptible(&f->wq);
}

static bool sst_has_room(struct sst_file *f)
{
	return READ_ONCE(f->n_pending) + READ_ONCE(f->n_done) + READ_ONCE(f->n_reading) <
	       READ_ONCE(sst_max_per_fd);
}

/*
 * Waits for what made sst_submit() fail with @err (-ENOSPC: room in the
 * virtqueue, -EDQUOT: room in @f's quota) until @deadline.
 */
static int sst_wait_room(struct sst_file *f, int err, unsigned long deadline)
{
	struct sst_device *sdev = f->sdev;
	long left = (long)(deadline - jiffies);
	long ret;

	if (left <= 0)
		return -ETIMEDOUT;
	if (err == -ENOSPC)
		ret = wait_event_interruptible_timeout(sdev->space_wq,
						       !READ_ONCE(sdev->vq_full) ||
						       READ_ONCE(sdev->removed), left);
	else
		ret = wait_event_interruptible_timeout(f->wq, sst_has_room(f) ||
						       READ_ONCE(sdev->removed), left);
	if (ret < 0)
		return ret;
	return ret ? 0 : -ETIMEDOUT;
}

/*
 * Requests copied from user memory per round, and the room for their ids:
 * user copies happen with no lock held, sst_submit() calls under submit_sem.
 */
#define SST_SUBMIT_CHUNK 16

/*
 * Copies up to @n requests from @ureqs into newly allocated requests at
 * @reqs. No lock may be held: the copy can fault on a buffer that never
 * becomes readable (userfaultfd, FUSE), and nothing removal waits for may
 * wait on that. Returns how many were copied; *@err says why it stopped
 * short.
 */
static u32 sst_copy_reqs(struct sst_req **reqs, const u8 __user *ureqs, u32 n, int *err)
{
	u32 i;

	for (i = 0; i < n; i++) {
		reqs[i] = sst_req_alloc();
		if (!reqs[i]) {
			*err = -ENOMEM;
			break;
		}
		if (copy_from_user(&reqs[i]->req, ureqs + (size_t)i * sizeof(reqs[i]->req),
				   sizeof(reqs[i]->req))) {
			sst_req_free(reqs[i]);
			*err = -EFAULT;
			break;
		}
	}
	return i;
}

/*
 * Submits @n requests read from user memory at @ureqs, storing their ids
 * at @uids when it is not NULL. Unless @nonblock, it waits for room in the
 * virtqueue, and for room in the file's quota while nothing has been
 * queued yet, for at most the file's timeout in total. Returns the number
 * queued, or an error if none was.
 *
 * Removal takes submit_sem for write, so it is held only around
 * sst_submit() and the waits for room (which removal ends): requests are
 * copied in before it is taken and ids copied out after it is dropped.
 */
static long sst_submit_user(struct sst_file *f, const u8 __user *ureqs,
			    u64 __user *uids, u32 n, bool nonblock)
{
	struct sst_device *sdev = f->sdev;
	unsigned long deadline = jiffies + msecs_to_jiffies(f->timeout_ms);
	struct sst_req *reqs[SST_SUBMIT_CHUNK];
	u64 ids[SST_SUBMIT_CHUNK];
	u32 got, queued, i;
	int err = 0, copy_err = 0;
	long done = 0;

	while (done < n && !copy_err) {
		got = sst_copy_reqs(reqs, ureqs + done * sizeof(struct SSTRequest),
				    min_t(u32, n - done, SST_SUBMIT_CHUNK), &copy_err);
		err = copy_err;
		if (!got)
			break;
		queued = 0;
		down_read(&sdev->submit_sem);
		while (queued < got) {
			err = sst_submit(f, reqs[queued], &ids[queued]);
			if (!err) {
				queued++;
				continue;
			}
			/*
			 * A full virtqueue drains by itself; a full quota only
			 * when the user reads, so a partial batch returns
			 * rather than waiting.
			 */
			if ((err != -ENOSPC && err != -EDQUOT) || nonblock ||
			    (err == -EDQUOT && (done || queued))) {
				if (err == -ENOSPC || err == -EDQUOT)
					err = -EAGAIN;
				break;
			}
			/* Let the device see what is queued before sleeping on it. */
			sst_kick(sdev);
			err = sst_wait_room(f, err, deadline);
			if (err)
				break;
		}
		if (queued)
			sst_kick(sdev);
		up_read(&sdev->submit_sem);

		/* Queued requests belong to the device and the file now. */
		for (i = queued; i < got; i++)
			sst_req_free(reqs[i]);
		if (queued && uids &&
		    copy_to_user(uids + done, ids, queued * sizeof(ids[0])))
			copy_err = -EFAULT;
		done += queued;
		if (queued < got)
			break;
	}
	return done ? done : err;
}

static ssize_t sst_write(struct file *file, const char __user *buf, size_t count,
			 loff_t *ppos)
{
	struct sst_file *f = file->private_data;
	long n;

	if (!count || count % sizeof(struct SSTRequest))
		return -EINVAL;
	n = sst_submit_user(f, buf, NULL,
			    min_t(size_t, count / sizeof(struct SSTRequest), U32_MAX),
			    file->f_flags & O_NONBLOCK);
	return n < 0 ? n : n * sizeof(struct SSTRequest);
}

static int sst_copy_resp(const struct sst_req *r, u8 __user *dst)
{
	struct sst_resp_hdr hdr;

	if (!r->synth)
		return copy_to_user(dst, &r->resp, sizeof(r->resp)) ? -EFAULT : 0;
	/* Driver-made: the buffer may still be the device's, do not read it. */
	sst_fill_synth(r, &hdr);
	if (copy_to_user(dst, &hdr, sizeof(hdr)) ||
	    clear_user(dst + sizeof(hdr), sizeof(struct SSTResponse) - sizeof(hdr)))
		return -EFAULT;
	return 0;
}

/* Copies up to @max completed responses to @ubuf; returns how many or -EFAULT. */
static long sst_deliver(struct sst_file *f, u8 __user *ubuf, u32 max)
{
	struct sst_device *sdev = f->sdev;
	struct sst_req *r;
	bool was_full, free;
	long n = 0;
	int err;

	while (n < max) {
		spin_lock_irq(&sdev->lock);
		r = list_first_entry_or_null(&f->done, struct sst_req, file_node);
		if (!r) {
			spin_unlock_irq(&sdev->lock);
			break;
		}
		list_del_init(&r->file_node);
		f->n_done--;
		f->n_reading++;
		spin_unlock_irq(&sdev->lock);

		err = sst_copy_resp(r, ubuf + n * sizeof(struct SSTResponse));

		spin_lock_irq(&sdev->lock);
		was_full = !sst_has_room(f);
		f->n_reading--;
		if (err) {
			list_add(&r->file_node, &f->done);
			f->n_done++;
			spin_unlock_irq(&sdev->lock);
			return n ? n : err;
		}
		r->owner = NULL;
		free = !r->in_vq;
		if (was_full)
			wake_up_interruptible(&f->wq);
		spin_unlock_irq(&sdev->lock);
		if (free)
			sst_req_free(r);
		n++;
	}
	return n;
}

static ssize_t sst_read(struct file *file, char __user *buf, size_t count, loff_t *ppos)
{
	struct sst_file *f = file->private_data;
	struct sst_device *sdev = f->sdev;
	u32 max = min_t(size_t, count / sizeof(struct SSTResponse), U32_MAX);
	u32 pending, done;
	bool removed;
	long n;
	int err;

	if (!max)
		return -EINVAL;
	for (;;) {
		n = sst_deliver(f, buf, max);
		if (n)
			return n < 0 ? n : n * sizeof(struct SSTResponse);
		spin_lock_irq(&sdev->lock);
		done = f->n_done;
		pending = f->n_pending;
		removed = sdev->removed;
		spin_unlock_irq(&sdev->lock);
		if (done)
			continue;
		/* Nothing will arrive: never block forever. */
		if (!pending)
			return removed ? -ENODEV : -ENODATA;
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		/* Bounded: every pending request completes or times out. */
		err = wait_event_interruptible(f->wq, READ_ONCE(f->n_done) ||
					       !READ_ONCE(f->n_pending));
		if (err)
			return err;
	}
}

static __poll_t sst_poll(struct file *file, poll_table *wait)
{
	struct sst_file *f = file->private_data;
	struct sst_device *sdev = f->sdev;
	__poll_t mask = 0;

	poll_wait(file, &f->wq, wait);
	poll_wait(file, &sdev->space_wq, wait);

	spin_lock_irq(&sdev->lock);
	if (f->n_done)
		mask |= EPOLLIN | EPOLLRDNORM;
	if (f->ev_ring && f->ev_count)
		mask |= EPOLLPRI;
	if (sdev->removed)
		mask |= EPOLLHUP | EPOLLERR;
	else if (!sdev->vq_full && sst_has_room(f))
		mask |= EPOLLOUT | EPOLLWRNORM;
	spin_unlock_irq(&sdev->lock);
	return mask;
}

/* Converts a user timeout in ms (0: none, negative: unbounded) for waits. */
static long sst_wait_jiffies(s32 timeout_ms)
{
	if (timeout_ms < 0)
		return MAX_SCHEDULE_TIMEOUT;
	return msecs_to_jiffies(timeout_ms);
}

static bool sst_reap_ready(struct sst_file *f, u32 want)
{
	return READ_ONCE(f->n_done) >= want || !READ_ONCE(f->n_pending);
}

static long sst_ioc_reap(struct sst_file *f, void __user *uarg)
{
	struct sst_ioc_reap a;
	long n, ret;
	u32 want;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if (a.reserved)
		return -EINVAL;
	want = min(a.min_complete, a.count);
	if (want && a.timeout_ms && !sst_reap_ready(f, want)) {
		ret = wait_event_interruptible_timeout(f->wq, sst_reap_ready(f, want),
						       sst_wait_jiffies(a.timeout_ms));
		if (ret < 0)
			return ret;
	}
	n = sst_deliver(f, u64_to_user_ptr(a.resps), a.count);
	if (n < 0)
		return n;
	a.reaped = n;
	a.in_flight = READ_ONCE(f->n_pending);
	if (copy_to_user(uarg, &a, sizeof(a)))
		return -EFAULT;
	return 0;
}

static long sst_ioc_submit(struct sst_file *f, struct file *file, void __user *uarg)
{
	struct sst_ioc_submit a;
	long n;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if ((a.flags & ~SST_SUBMIT_NONBLOCK) || a.reserved)
		return -EINVAL;
	a.submitted = 0;
	if (a.count) {
		n = sst_submit_user(f, u64_to_user_ptr(a.reqs), u64_to_user_ptr(a.ids),
				    a.count, (file->f_flags & O_NONBLOCK) ||
				    (a.flags & SST_SUBMIT_NONBLOCK));
		if (n < 0)
			return n;
		a.submitted = n;
	}
	if (copy_to_user(uarg, &a, sizeof(a)))
		return -EFAULT;
	return 0;
}

static long sst_ioc_events_enable(struct sst_file *f, u32 __user *uarg)
{
	struct sst_device *sdev = f->sdev;
	struct SSTEvent *ring = NULL, *old = NULL;
	u32 on, cap;

	if (get_user(on, uarg))
		return -EFAULT;
	if (on > 1)
		return -EINVAL;
	cap = clamp_t(u32, READ_ONCE(sst_event_ring), 1, 65536);
	if (on) {
		ring = kcalloc(cap, sizeof(*ring), GFP_KERNEL);
		if (!ring)
			return -ENOMEM;
	}
	spin_lock_irq(&sdev->lock);
	if (on && f->ev_ring) {
		old = ring;	/* already subscribed: keep the buffered events */
	} else {
		old = f->ev_ring;
		f->ev_ring = ring;
		f->ev_cap = cap;
		f->ev_head = 0;
		f->ev_count = 0;
		f->ev_dropped = 0;
	}
	spin_unlock_irq(&sdev->lock);
	kfree(old);
	return 0;
}

static bool sst_events_ready(struct sst_file *f)
{
	return READ_ONCE(f->ev_count) || READ_ONCE(f->sdev->removed);
}

static long sst_ioc_get_events(struct sst_file *f, void __user *uarg)
{
	struct sst_device *sdev = f->sdev;
	struct SSTEvent chunk[SST_EVENT_CHUNK];
	struct sst_ioc_events a;
	struct SSTEvent __user *dst;
	u32 i, n;
	long ret;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if (!READ_ONCE(f->ev_ring))
		return -EINVAL;
	if (a.count && a.timeout_ms && !sst_events_ready(f)) {
		ret = wait_event_interruptible_timeout(f->wq, sst_events_ready(f),
						       sst_wait_jiffies(a.timeout_ms));
		if (ret < 0)
			return ret;
	}
	dst = u64_to_user_ptr(a.events);
	a.got = 0;
	a.dropped = 0;
	while (a.got < a.count) {
		spin_lock_irq(&sdev->lock);
		if (!f->ev_ring) {
			spin_unlock_irq(&sdev->lock);
			break;
		}
		if (!a.got) {
			a.dropped = f->ev_dropped;
			f->ev_dropped = 0;
		}
		n = min3(f->ev_count, a.count - a.got, (u32)SST_EVENT_CHUNK);
		for (i = 0; i < n; i++)
			chunk[i] = f->ev_ring[(f->ev_head + i) % f->ev_cap];
		f->ev_head = (f->ev_head + n) % f->ev_cap;
		f->ev_count -= n;
		spin_unlock_irq(&sdev->lock);
		if (!n)
			break;
		/* Events already taken are lost if the copy fails: say so. */
		if (copy_to_user(dst + a.got, chunk, n * sizeof(chunk[0])))
			return -EFAULT;
		a.got += n;
	}
	if (copy_to_user(uarg, &a, sizeof(a)))
		return -EFAULT;
	if (!a.got && READ_ONCE(sdev->removed))
		return -ENODEV;
	return 0;
}

static long sst_ioc_info(struct sst_file *f, void __user *uarg)
{
	struct sst_device *sdev = f->sdev;
	struct sst_ioc_info info;

	memset(&info, 0, sizeof(info));
	info.abi_version = SST_IOCTL_ABI_VERSION;
	info.index = sdev->index;
	info.sst_version = sdev->config.version;
	info.device_id = sdev->config.device_id;
	info.device_features = sdev->config.features;
	info.max_queues = sdev->config.max_queues;
	info.features = sdev->features;
	info.queue_size = sdev->queue_size;
	info.timeout_ms = f->timeout_ms;
	info.max_per_fd = READ_ONCE(sst_max_per_fd);
	info.event_ring = clamp_t(u32, READ_ONCE(sst_event_ring), 1, 65536);
	return copy_to_user(uarg, &info, sizeof(info)) ? -EFAULT : 0;
}

static long sst_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct sst_file *f = file->private_data;
	void __user *uarg = (void __user *)arg;
	struct sst_ioc_stats st;
	u32 ms;

	switch (cmd) {
	case SST_IOC_GET_INFO:
		return sst_ioc_info(f, uarg);
	case SST_IOC_SUBMIT:
		return sst_ioc_submit(f, file, uarg);
	case SST_IOC_REAP:
		return sst_ioc_reap(f, uarg);
	case SST_IOC_SET_TIMEOUT:
		if (get_user(ms, (u32 __user *)uarg))
			return -EFAULT;
		/* Applies to requests submitted from now on. */
		WRITE_ONCE(f->timeout_ms, sst_clamp_timeout(ms));
		return 0;
	case SST_IOC_EVENTS_ENABLE:
		return sst_ioc_events_enable(f, uarg);
	case SST_IOC_GET_EVENTS:
		return sst_ioc_get_events(f, uarg);
	case SST_IOC_GET_STATS:
		sst_get_stats(f->sdev, &st);
		return copy_to_user(uarg, &st, sizeof(st)) ? -EFAULT : 0;
	default:
		return -ENOTTY;
	}
}

const struct file_operations sst_fops = {
	.owner = THIS_MODULE,
	.open = sst_open,
	.release = sst_release,
	.read = sst_read,
	.write = sst_write,
	.poll = sst_poll,
	.unlocked_ioctl = sst_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};
