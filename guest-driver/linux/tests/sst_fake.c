// SPDX-License-Identifier: GPL-2.0
/*
 * sst_fake.ko - a software virtio-sst device, for testing virtio_sst.ko in
 * a guest without the project's QEMU device. It is its own small virtio
 * transport: it registers virtio devices with VIRTIO_ID_SST whose split
 * virtqueues it serves from a work item, answering requests the way the
 * real device and simulator do (NOOP, ECHO, GET_INFO, RESET, COMPUTE,
 * READ/WRITE on a small memory, CONFIGURE, INVALID for bad input) and
 * raising an event for asynchronous COMPUTE.
 *
 * Fault knobs (module parameters, writable at run time) make it slow
 * (delay_ms), silent (hold), or wrong (fault: 1 short used length, 2 wrong
 * request_id, 3 used length beyond the buffer, 4 event of bad length).
 * Unloading it removes the devices with whatever requests are in flight.
 *
 * Test-only code: never loaded outside test guests.
 */
#include <linux/delay.h>
#include <linux/io.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <linux/workqueue.h>

#include <vsst/sst-protocol.h>

static unsigned int count = 1;
module_param(count, uint, 0444);
MODULE_PARM_DESC(count, "Devices to create (1..8)");

static unsigned int memory_kib = 2048;
module_param(memory_kib, uint, 0444);
MODULE_PARM_DESC(memory_kib, "Device memory in KiB");

static unsigned int delay_ms;
module_param(delay_ms, uint, 0644);
MODULE_PARM_DESC(delay_ms, "Delay before each response");

static bool hold;
module_param(hold, bool, 0644);
MODULE_PARM_DESC(hold, "Leave requests unanswered while set");

static unsigned int fault;
module_param(fault, uint, 0644);
MODULE_PARM_DESC(fault, "0 none, 1 short length, 2 wrong id, 3 oversize length, 4 bad event");

#define FAKE_QUEUE_SIZE 64
#define FAKE_MAX_DEVICES 8

struct fake_vq {
	struct virtqueue *vq;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	unsigned int num;
	u16 last_avail;
};

struct fake_sst {
	struct virtio_device vdev;
	struct SSTConfig config;
	u8 status;
	struct mutex lock;		/* device-side state below */
	struct fake_vq vqs[SST_NUM_VQS];
	bool live;			/* queues exist and DRIVER_OK */
	unsigned int pending_events;
	u64 event_data[16];
	u8 *memory;
	u64 memory_size;
	struct work_struct work;
};

static struct fake_sst *fakes[FAKE_MAX_DEVICES];

static struct fake_sst *to_fake(struct virtio_device *vdev)
{
	return container_of(vdev, struct fake_sst, vdev);
}

/* Device side of a split ring: take the next available chain head. */
static bool fake_pop(struct fake_vq *fvq, u16 *head)
{
	u16 avail_idx = le16_to_cpu(READ_ONCE(fvq->avail->idx));

	if (avail_idx == fvq->last_avail)
		return false;
	/* Read the ring entry only after seeing the index that published it. */
	virt_rmb();
	*head = le16_to_cpu(fvq->avail->ring[fvq->last_avail % fvq->num]) % fvq->num;
	fvq->last_avail++;
	return true;
}

static void fake_push(struct fake_vq *fvq, u16 head, u32 len)
{
	u16 idx = le16_to_cpu(fvq->used->idx);

	fvq->used->ring[idx % fvq->num].id = cpu_to_le32(head);
	fvq->used->ring[idx % fvq->num].len = cpu_to_le32(len);
	/* The entry must be visible before the index that publishes it. */
	virt_wmb();
	WRITE_ONCE(fvq->used->idx, cpu_to_le16(idx + 1));
}

/* The out and in buffers of a {request, response} chain. */
static bool fake_chain(struct fake_vq *fvq, u16 head, void **out, u32 *out_len,
		       void **in, u32 *in_len)
{
	unsigned int i = head, steps;

	*out = NULL;
	*in = NULL;
	for (steps = 0; steps < fvq->num; steps++) {
		struct vring_desc *d = &fvq->desc[i];
		u16 flags = le16_to_cpu(d->flags);
		void *buf = phys_to_virt(le64_to_cpu(d->addr));

		if (flags & VRING_DESC_F_WRITE) {
			*in = buf;
			*in_len = le32_to_cpu(d->len);
		} else {
			*out = buf;
			*out_len = le32_to_cpu(d->len);
		}
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		i = le16_to_cpu(d->next) % fvq->num;
	}
	return *out && *in;
}

static bool fake_mem_ok(struct fake_sst *f, u64 addr, u32 size, u32 max)
{
	return size && size <= max && addr <= f->memory_size && size <= f->memory_size - addr;
}

/* Caller holds f->lock. Fills resp (zeroed) for req. */
static void fake_answer(struct fake_sst *f, const struct SSTRequest *req,
			struct SSTResponse *resp)
{
	u64 addr = req->payload.memory.addr;
	u32 size = req->payload.memory.size;

	resp->status = SST_STATUS_OK;
	resp->request_id = req->request_id;
	resp->user_data = req->user_data;
	if (req->type >= SST_REQ_MAX || (req->flags & ~SST_REQ_FLAG_ASYNC) ||
	    ((req->flags & SST_REQ_FLAG_ASYNC) && req->type != SST_REQ_COMPUTE)) {
		resp->status = SST_STATUS_INVALID;
		return;
	}
	switch (req->type) {
	case SST_REQ_ECHO:
		memcpy(resp->payload.data, req->payload.data, SST_MAX_DATA_SIZE);
		resp->result = SST_MAX_DATA_SIZE;
		break;
	case SST_REQ_GET_INFO:
		resp->payload.info.version = SST_PROTOCOL_VERSION;
		resp->payload.info.capabilities = f->config.features;
		resp->payload.info.max_compute_units = 4;
		resp->payload.info.memory_size = f->memory_size;
		resp->result = 1;
		break;
	case SST_REQ_COMPUTE:
		if (req->payload.compute.latency_model >= SST_LATENCY_MAX) {
			resp->status = SST_STATUS_INVALID;
			break;
		}
		resp->payload.compute.cycles = req->payload.compute.compute_units * 10 + 1;
		if ((req->flags & SST_REQ_FLAG_ASYNC) &&
		    f->pending_events < ARRAY_SIZE(f->event_data))
			f->event_data[f->pending_events++] = req->request_id;
		break;
	case SST_REQ_READ:
		if (!fake_mem_ok(f, addr, size, SST_MAX_DATA_SIZE)) {
			resp->status = SST_STATUS_INVALID;
			break;
		}
		memcpy(resp->payload.data, f->memory + addr, size);
		resp->result = size;
		break;
	case SST_REQ_WRITE:
		if (!fake_mem_ok(f, addr, size, SST_MAX_WRITE_SIZE)) {
			resp->status = SST_STATUS_INVALID;
			break;
		}
		memcpy(f->memory + addr, req->payload.data + SST_WRITE_DATA_OFFSET, size);
		resp->result = size;
		break;
	case SST_REQ_CONFIGURE:
		if (req->payload.config.param >= SST_CFG_MAX)
			resp->status = SST_STATUS_INVALID;
		break;
	default:
		break;
	}
}

/* Caller holds f->lock. Returns true if the driver must be interrupted. */
static bool fake_serve_requests(struct fake_sst *f)
{
	struct fake_vq *fvq = &f->vqs[SST_VQ_REQUEST];
	struct SSTResponse *resp;
	struct SSTRequest *req;
	u32 out_len, in_len, len;
	bool used = false;
	u16 head;

	while (!READ_ONCE(hold) && fake_pop(fvq, &head)) {
		if (!fake_chain(fvq, head, (void **)&req, &out_len, (void **)&resp, &in_len) ||
		    out_len < SST_REQUEST_HEADER_SIZE || in_len < sizeof(*resp)) {
			fake_push(fvq, head, 0);
			used = true;
			continue;
		}
		memset(resp, 0, sizeof(*resp));
		fake_answer(f, req, resp);
		len = sizeof(*resp);
		switch (READ_ONCE(fault)) {
		case 1:
			len = 10;
			break;
		case 2:
			resp->request_id++;
			break;
		case 3:
			len = 1 << 20;
			break;
		}
		if (READ_ONCE(delay_ms))
			msleep(READ_ONCE(delay_ms));
		fake_push(fvq, head, len);
		used = true;
	}
	return used;
}

static bool fake_serve_events(struct fake_sst *f)
{
	struct fake_vq *fvq = &f->vqs[SST_VQ_EVENT];
	struct SSTEvent *ev;
	bool used = false;
	u16 head;

	while (f->pending_events && fake_pop(fvq, &head)) {
		struct vring_desc *d = &fvq->desc[head];

		ev = phys_to_virt(le64_to_cpu(d->addr));
		if (le32_to_cpu(d->len) < sizeof(*ev)) {
			fake_push(fvq, head, 0);
			used = true;
			continue;
		}
		ev->type = SST_EVENT_COMPLETION;
		ev->reserved = 0;
		ev->timestamp = 1000;
		ev->data = f->event_data[--f->pending_events];
		fake_push(fvq, head, READ_ONCE(fault) == 4 ? 3 : sizeof(*ev));
		used = true;
	}
	return used;
}

static void fake_work(struct work_struct *work)
{
	struct fake_sst *f = container_of(work, struct fake_sst, work);
	bool req_used, ev_used;

	mutex_lock(&f->lock);
	if (!f->live || !(f->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
		mutex_unlock(&f->lock);
		return;
	}
	req_used = fake_serve_requests(f);
	ev_used = fake_serve_events(f);
	mutex_unlock(&f->lock);
	/* Like an interrupt handler: the driver's callbacks expect no locks. */
	local_irq_disable();
	if (req_used)
		vring_interrupt(0, f->vqs[SST_VQ_REQUEST].vq);
	if (ev_used)
		vring_interrupt(0, f->vqs[SST_VQ_EVENT].vq);
	local_irq_enable();
}

static bool fake_notify(struct virtqueue *vq)
{
	schedule_work(&to_fake(vq->vdev)->work);
	return true;
}

static void fake_get(struct virtio_device *vdev, unsigned int offset, void *buf,
		     unsigned int len)
{
	struct fake_sst *f = to_fake(vdev);

	if (offset > sizeof(f->config) || len > sizeof(f->config) - offset) {
		memset(buf, 0xff, len);
		return;
	}
	memcpy(buf, (u8 *)&f->config + offset, len);
}

static void fake_set(struct virtio_device *vdev, unsigned int offset, const void *buf,
		     unsigned int len)
{
}

static u8 fake_get_status(struct virtio_device *vdev)
{
	return to_fake(vdev)->status;
}

static void fake_set_status(struct virtio_device *vdev, u8 status)
{
	struct fake_sst *f = to_fake(vdev);

	mutex_lock(&f->lock);
	f->status = status;
	mutex_unlock(&f->lock);
	if (status & VIRTIO_CONFIG_S_DRIVER_OK)
		schedule_work(&f->work);
}

static void fake_reset(struct virtio_device *vdev)
{
	struct fake_sst *f = to_fake(vdev);

	mutex_lock(&f->lock);
	f->status = 0;
	f->live = false;
	f->pending_events = 0;
	mutex_unlock(&f->lock);
	/* After reset the device touches no buffer any more. */
	cancel_work_sync(&f->work);
}

static void fake_del_vqs(struct virtio_device *vdev)
{
	struct fake_sst *f = to_fake(vdev);
	unsigned int i;

	mutex_lock(&f->lock);
	f->live = false;
	mutex_unlock(&f->lock);
	cancel_work_sync(&f->work);
	for (i = 0; i < SST_NUM_VQS; i++) {
		if (f->vqs[i].vq)
			vring_del_virtqueue(f->vqs[i].vq);
		memset(&f->vqs[i], 0, sizeof(f->vqs[i]));
	}
}

static int fake_setup_vq(struct fake_sst *f, unsigned int i, vq_callback_t *cb,
			 const char *name)
{
	struct fake_vq *fvq = &f->vqs[i];
	struct virtqueue *vq;

	vq = vring_create_virtqueue(i, FAKE_QUEUE_SIZE, SMP_CACHE_BYTES, &f->vdev, true, false,
				    false, fake_notify, cb, name);
	if (!vq)
		return -ENOMEM;
	fvq->vq = vq;
	fvq->num = virtqueue_get_vring_size(vq);
	/* No DMA API without VIRTIO_F_ACCESS_PLATFORM: addresses are physical. */
	fvq->desc = phys_to_virt(virtqueue_get_desc_addr(vq));
	fvq->avail = phys_to_virt(virtqueue_get_avail_addr(vq));
	fvq->used = phys_to_virt(virtqueue_get_used_addr(vq));
	fvq->last_avail = 0;
	return 0;
}

#ifdef SST_HAVE_VIRTQUEUE_INFO
static int fake_find_vqs(struct virtio_device *vdev, unsigned int nvqs,
			 struct virtqueue *vqs[], struct virtqueue_info vqs_info[],
			 struct irq_affinity *desc)
#else
static int fake_find_vqs(struct virtio_device *vdev, unsigned int nvqs,
			 struct virtqueue *vqs[], vq_callback_t *callbacks[],
			 const char * const names[], const bool *ctx,
			 struct irq_affinity *desc)
#endif
{
	struct fake_sst *f = to_fake(vdev);
	unsigned int i;
	int err;

	if (nvqs > SST_NUM_VQS)
		return -ENOENT;
	for (i = 0; i < nvqs; i++) {
#ifdef SST_HAVE_VIRTQUEUE_INFO
		err = fake_setup_vq(f, i, vqs_info[i].callback, vqs_info[i].name);
#else
		err = fake_setup_vq(f, i, callbacks[i], names[i]);
#endif
		if (err) {
			fake_del_vqs(vdev);
			return err;
		}
		vqs[i] = f->vqs[i].vq;
	}
	mutex_lock(&f->lock);
	f->live = true;
	mutex_unlock(&f->lock);
	return 0;
}

static u64 fake_get_features(struct virtio_device *vdev)
{
	return BIT_ULL(VIRTIO_F_VERSION_1) | to_fake(vdev)->config.features;
}

static int fake_finalize_features(struct virtio_device *vdev)
{
	vring_transport_features(vdev);
	return 0;
}

static const char *fake_bus_name(struct virtio_device *vdev)
{
	return "sst-fake";
}

static const struct virtio_config_ops fake_config_ops = {
	.get = fake_get,
	.set = fake_set,
	.get_status = fake_get_status,
	.set_status = fake_set_status,
	.reset = fake_reset,
	.find_vqs = fake_find_vqs,
	.del_vqs = fake_del_vqs,
	.get_features = fake_get_features,
	.finalize_features = fake_finalize_features,
	.bus_name = fake_bus_name,
};

static void fake_release(struct device *dev)
{
	struct fake_sst *f = container_of(dev_to_virtio(dev), struct fake_sst, vdev);

	vfree(f->memory);
	kfree(f);
}

static int __init fake_init(void)
{
	unsigned int i;
	int err;

	if (!count || count > FAKE_MAX_DEVICES)
		return -EINVAL;
	for (i = 0; i < count; i++) {
		struct fake_sst *f = kzalloc(sizeof(*f), GFP_KERNEL);

		if (!f) {
			err = -ENOMEM;
			goto undo;
		}
		mutex_init(&f->lock);
		INIT_WORK(&f->work, fake_work);
		f->memory_size = (u64)memory_kib * 1024;
		f->memory = vzalloc(f->memory_size);
		f->config.version = SST_PROTOCOL_VERSION;
		f->config.device_id = i;
		f->config.features = BIT(SST_FEATURE_ECHO) | BIT(SST_FEATURE_COMPUTE) |
				     BIT(SST_FEATURE_MEMORY) | BIT(SST_FEATURE_EVENTS) |
				     BIT(SST_FEATURE_RESET);
		f->config.max_queues = SST_NUM_VQS;
		f->vdev.id.device = VIRTIO_ID_SST;
		f->vdev.id.vendor = 0x1af4;
		f->vdev.config = &fake_config_ops;
		f->vdev.dev.release = fake_release;
		if (!f->memory) {
			kfree(f);
			err = -ENOMEM;
			goto undo;
		}
		err = register_virtio_device(&f->vdev);
		if (err) {
			put_device(&f->vdev.dev);
			goto undo;
		}
		fakes[i] = f;
	}
	return 0;
undo:
	while (i--) {
		unregister_virtio_device(&fakes[i]->vdev);
		fakes[i] = NULL;
	}
	return err;
}

static void __exit fake_exit(void)
{
	unsigned int i;

	for (i = 0; i < FAKE_MAX_DEVICES; i++)
		if (fakes[i])
			unregister_virtio_device(&fakes[i]->vdev);
}

module_init(fake_init);
module_exit(fake_exit);

MODULE_DESCRIPTION("software virtio-sst device for testing virtio_sst.ko");
MODULE_LICENSE("GPL");
