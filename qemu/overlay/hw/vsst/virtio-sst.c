/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virtio-sst-device: QOM glue between QEMU's virtio core and the vsst
 * device core (device/include/vsst/sst_device.h).
 *
 * Queues: 0 request (driver -> device: out = SSTRequest, in = room for the
 * SSTResponse), 1 response (fallback buffers for requests without an
 * in-buffer), 2 event (buffers the device fills with SSTEvent).
 *
 * A request element is popped, its SSTRequest copied out and submitted to
 * the core with a cookie; the element waits in a table. The core answers
 * asynchronously: its notify fd is polled by QEMU's main loop and
 * vsst_dev_reap() writes each SSTResponse into the element's in-buffer,
 * pushes it and raises the queue interrupt. Neither the vCPU, nor the RPC
 * dispatcher, nor the BQL ever waits for the simulator.
 *
 * Copyright (c) 2025 the vsst authors
 */

#include "qemu/osdep.h"
#include <poll.h>
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/iov.h"
#include "qemu/main-loop.h"
#include "qemu/timer.h"
#include "qemu/module.h"
#include "hw/qdev-properties.h"
#include "hw/virtio/virtio.h"
#include "hw/virtio/virtio-access.h"
#include "hw/pci/pci.h"
#include "hw/vsst/trace-hook.h"
#include "hw/vsst/virtio-sst.h"
#include "migration/vmstate.h"
#include "standard-headers/linux/virtio_ids.h"
#include "vsst/sst_device.h"
#include "trace.h"

#define VIRTIO_SST_DEFAULT_QUEUE_SIZE 128
/* Events/responses held while the driver has posted no buffer for them. */
#define VIRTIO_SST_MAX_PENDING 256
/*
 * Synchronized time: how long one TIME waits (wall clock) for answers the
 * guest must not run past. Below the guest's channel timeout, so a dead
 * simulator ends in NO_DEVICE/TIMEOUT answers, never in a hung guest.
 */
#define VIRTIO_SST_TIME_WAIT_MS 2000
/* ... and how far the guest may then go before the next try (virtual ns). */
#define VIRTIO_SST_TIME_RETRY_NS 1000000

/* A request in flight while answers are held for their completion time. */
typedef struct VirtIOSSTTimedReq {
    uint64_t cookie;
    uint64_t submit_ns;
    uint64_t grant_ns;  /* the guest may not pass this before the answer */
    uint64_t due_ns;    /* answered: when the guest gets it */
    bool answered;
    struct SSTResponse *resp;
} VirtIOSSTTimedReq;

static void virtio_sst_timed_req_free(gpointer p)
{
    VirtIOSSTTimedReq *t = p;

    g_free(t->resp);
    g_free(t);
}

QEMU_BUILD_BUG_ON(sizeof(struct SSTConfig) != 16);

static gpointer cookie_key(uint64_t cookie)
{
    return (gpointer)(uintptr_t)cookie;
}

static void virtio_sst_log(void *opaque, int level, const char *msg)
{
    VirtIOSST *s = opaque;
    const char *id = DEVICE(s)->id ? DEVICE(s)->id : "";

    switch (level) {
    case 0:
        error_report("virtio-sst %s: %s", id, msg);
        break;
    case 1:
        warn_report("virtio-sst %s: %s", id, msg);
        break;
    default:
        trace_virtio_sst_log(level, msg);
        break;
    }
}

/* The PCI function this device sits on (virtio-sst-pci), or NULL. */
static PCIDevice *virtio_sst_pci(VirtIOSST *s)
{
    BusState *bus = qdev_get_parent_bus(DEVICE(s));
    Object *parent = bus && bus->parent ? OBJECT(bus->parent) : NULL;

    return parent ? (PCIDevice *)object_dynamic_cast(parent, TYPE_PCI_DEVICE) : NULL;
}

/*
 * virtqueue_push() that, while an RPC trace is recorded, reports the
 * element between writing it and publishing used.idx: a driver that
 * rewrites the buffer as soon as it sees the element cannot race the
 * recorder (trace/TRACE.md).
 */
static void virtio_sst_push(VirtIOSST *s, VirtQueue *vq,
                            const VirtQueueElement *elem, unsigned int len)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(s);
    int n = virtio_get_queue_index(vq);
    hwaddr used = virtio_queue_get_used_addr(vdev, n);
    uint16_t pos;

    if (!vsst_trace_hook_active() || !used) {
        virtqueue_push(vq, elem, len);
        return;
    }
    /* The device is the only writer of used.idx: it is the next position. */
    pos = virtio_lduw_phys(vdev, used + 2);
    virtqueue_fill(vq, elem, len, 0);
    vsst_trace_hook_used(virtio_sst_pci(s), n, pos, elem->index, len);
    virtqueue_flush(vq, 1);
}

/* Device core observer: the simulator stream goes into the trace. */
static void virtio_sst_sim_observed(void *opaque, int what, unsigned conn,
                                    const void *data, size_t len)
{
    VirtIOSST *s = opaque;

    /* Calls come one at a time (the core serialises them). */
    if (what == VSST_TRACE_HOOK_SIM_CONNECTED) {
        s->trace_sim_conn = vsst_trace_hook_new_sim_conn();
    }
    vsst_trace_hook_sim(what, s->trace_sim_conn, data, len);
}

/* Hold a copy of obj (len bytes); the oldest goes when the queue is full. */
static void virtio_sst_hold(VirtIOSST *s, GQueue *q, const void *obj, size_t len)
{
    if (g_queue_get_length(q) >= VIRTIO_SST_MAX_PENDING) {
        g_free(g_queue_pop_head(q));
        s->stat_dropped++;
        warn_report_once("virtio-sst: the driver provides no event/response "
                         "buffers; dropping the oldest");
    }
    g_queue_push_tail(q, g_memdup2(obj, len));
}

/* Fill buffers of vq from the held objects. Returns true if any was used. */
static bool virtio_sst_flush(VirtIOSST *s, VirtQueue *vq, GQueue *q, size_t len)
{
    bool pushed = false;

    while (!g_queue_is_empty(q)) {
        VirtQueueElement *elem = virtqueue_pop(vq, sizeof(VirtQueueElement));
        void *obj;
        size_t n;

        if (!elem) {
            break;
        }
        obj = g_queue_pop_head(q);
        n = iov_from_buf(elem->in_sg, elem->in_num, 0, obj, len);
        virtio_sst_push(s, vq, elem, n);
        g_free(elem);
        g_free(obj);
        pushed = true;
    }
    if (pushed) {
        virtio_notify(VIRTIO_DEVICE(s), vq);
    }
    return pushed;
}

/* Return a request element with its response. Does not notify. */
static void virtio_sst_deliver(VirtIOSST *s, VirtQueueElement *elem,
                               const struct SSTResponse *resp)
{
    size_t n = 0;

    if (iov_size(elem->in_sg, elem->in_num) > 0) {
        n = iov_from_buf(elem->in_sg, elem->in_num, 0, resp, sizeof(*resp));
    } else {
        /* No room in the request: the response queue carries it. */
        virtio_sst_hold(s, &s->pending_responses, resp, sizeof(*resp));
        virtio_sst_flush(s, s->resp_vq, &s->pending_responses, sizeof(*resp));
    }
    virtio_sst_push(s, s->req_vq, elem, n);
    g_free(elem);
    s->stat_completions++;
}

/* Answer without the core (empty request, core refused it). */
static void virtio_sst_answer_locally(VirtIOSST *s, VirtQueueElement *elem,
                                      const struct SSTRequest *req, size_t len,
                                      uint32_t status)
{
    struct SSTResponse resp = { .status = cpu_to_le32(status) };

    if (len >= SST_REQUEST_HEADER_SIZE) {
        resp.request_id = req->request_id;
        resp.user_data = req->user_data;
    }
    virtio_sst_deliver(s, elem, &resp);
}

/*
 * Synchronized time: remember when the guest submitted a request and how
 * far it may run before the answer must be known. Requests the simulator
 * prices get its announced minimum latency; the core answers the others
 * itself at once, so the guest waits for them at their submit time.
 */
static void virtio_sst_timed_track(VirtIOSST *s, uint64_t cookie, uint32_t type)
{
    VirtIOSSTTimedReq *t = g_new0(VirtIOSSTTimedReq, 1);
    int64_t min_ns = vsst_dev_min_latency_ns(s->core);
    bool priced = type == SST_REQ_COMPUTE || type == SST_REQ_READ ||
                  type == SST_REQ_WRITE || type == SST_REQ_CONFIGURE;

    t->cookie = cookie;
    t->submit_ns = s->now_ns;
    t->grant_ns = s->now_ns + (priced && min_ns > 0 ? (uint64_t)min_ns : 0);
    g_hash_table_insert(s->timed_reqs, cookie_key(cookie), t);
}

static void virtio_sst_handle_request(VirtIODevice *vdev, VirtQueue *vq)
{
    VirtIOSST *s = VIRTIO_SST(vdev);
    struct SSTRequest req;
    bool answered = false;

    /*
     * Synchronized time: the doorbell is followed by the guest's TIME at the
     * same virtual time, which takes the requests (virtio_sst_time_sync);
     * taking them here would stamp them with the previous TIME.
     */
    if (s->timed && !s->in_time_sync) {
        return;
    }
    while (!s->throttled) {
        VirtQueueElement *elem = virtqueue_pop(vq, sizeof(VirtQueueElement));
        uint64_t cookie;
        size_t len;
        int r;

        if (!elem) {
            break;
        }
        len = iov_to_buf(elem->out_sg, elem->out_num, 0, &req, sizeof(req));
        s->stat_requests++;
        if (len == 0) {
            virtio_sst_answer_locally(s, elem, &req, 0, SST_STATUS_INVALID);
            answered = true;
            continue;
        }
        if (s->debug_echo_flip >= 0 && le32_to_cpu(req.type) == SST_REQ_ECHO &&
            SST_REQUEST_HEADER_SIZE + (size_t)s->debug_echo_flip < len) {
            ((uint8_t *)&req)[SST_REQUEST_HEADER_SIZE + s->debug_echo_flip] ^= 0x20;
        }
        cookie = ++s->next_cookie;
        r = s->timed ? vsst_dev_submit_at(s->core, &req, len, cookie, s->now_ns)
                     : vsst_dev_submit(s->core, &req, len, cookie);
        trace_virtio_sst_submit(cookie, le32_to_cpu(req.type), len, r);
        if (r == -EBUSY) {
            /* The core is full: leave the element in the ring and carry
             * on when completions free room (virtio_sst_notify_ready). */
            virtqueue_unpop(vq, elem, 0);
            g_free(elem);
            s->stat_requests--;
            s->throttled = true;
            break;
        }
        if (r < 0) {
            virtio_sst_answer_locally(s, elem, &req, len, SST_STATUS_ERROR);
            answered = true;
            continue;
        }
        g_hash_table_insert(s->inflight, cookie_key(cookie), elem);
        if (s->timed_hold) {
            virtio_sst_timed_track(s, cookie, le32_to_cpu(req.type));
        }
    }
    if (answered) {
        virtio_notify(vdev, vq);
    }
}

static void virtio_sst_handle_response(VirtIODevice *vdev, VirtQueue *vq)
{
    VirtIOSST *s = VIRTIO_SST(vdev);

    virtio_sst_flush(s, vq, &s->pending_responses, sizeof(struct SSTResponse));
}

static void virtio_sst_handle_event(VirtIODevice *vdev, VirtQueue *vq)
{
    VirtIOSST *s = VIRTIO_SST(vdev);

    virtio_sst_flush(s, vq, &s->pending_events, sizeof(struct SSTEvent));
}

typedef struct VirtIOSSTReap {
    VirtIOSST *s;
    unsigned done;
    unsigned events;
} VirtIOSSTReap;

static void virtio_sst_on_done(void *opaque, uint64_t cookie,
                               const struct SSTResponse *resp)
{
    VirtIOSSTReap *reap = opaque;
    VirtIOSST *s = reap->s;
    VirtQueueElement *elem = g_hash_table_lookup(s->inflight, cookie_key(cookie));

    trace_virtio_sst_done(cookie, elem != NULL);
    if (!elem) {
        /* Not ours (or cancelled by a reset): nothing to return. */
        s->stat_unknown_cookie++;
        return;
    }
    g_hash_table_remove(s->inflight, cookie_key(cookie));
    virtio_sst_deliver(s, elem, resp);
    reap->done++;
}

static void virtio_sst_on_event(void *opaque, const struct SSTEvent *ev)
{
    VirtIOSSTReap *reap = opaque;

    reap->s->stat_events++;
    virtio_sst_hold(reap->s, &reap->s->pending_events, ev, sizeof(*ev));
    reap->events++;
}

/* Main loop, BQL held: the core has completions or events for us. */
static void virtio_sst_notify_ready(void *opaque)
{
    VirtIOSST *s = opaque;
    VirtIODevice *vdev = VIRTIO_DEVICE(s);
    VirtIOSSTReap reap = { .s = s };

    vsst_dev_reap(s->core, virtio_sst_on_done, virtio_sst_on_event, &reap);
    if (reap.done) {
        virtio_notify(vdev, s->req_vq);
    }
    if (reap.events) {
        virtio_sst_flush(s, s->event_vq, &s->pending_events,
                         sizeof(struct SSTEvent));
    }
    if (s->throttled && reap.done) {
        s->throttled = false;
        virtio_sst_handle_request(vdev, s->req_vq);
    }
}

/* ---- synchronized time (timing=sync, hw/vsst/timing.h) ---- */

/* Reaped answer: held until the guest's time reaches its completion time. */
static void virtio_sst_on_done_at(void *opaque, uint64_t cookie,
                                  const struct SSTResponse *resp,
                                  uint64_t complete_ns)
{
    VirtIOSSTReap *reap = opaque;
    VirtIOSST *s = reap->s;
    VirtIOSSTTimedReq *t = g_hash_table_lookup(s->timed_reqs,
                                               cookie_key(cookie));

    trace_virtio_sst_done(cookie, t != NULL);
    if (!t || t->answered) {
        s->stat_unknown_cookie++;
        return;
    }
    t->answered = true;
    t->resp = g_memdup2(resp, sizeof(*resp));
    /*
     * Never before the grant: the guest is certain to ask at the grant, so
     * an answer that claims an earlier time (a simulator breaking its own
     * minimum latency, a local answer) is still delivered at a time that
     * does not depend on when it arrived.
     */
    t->due_ns = MAX(complete_ns, t->grant_ns);
    reap->done++;
}

static gint virtio_sst_due_cmp(gconstpointer a, gconstpointer b)
{
    const VirtIOSSTTimedReq *x = *(VirtIOSSTTimedReq *const *)a;
    const VirtIOSSTTimedReq *y = *(VirtIOSSTTimedReq *const *)b;

    if (x->due_ns != y->due_ns) {
        return x->due_ns < y->due_ns ? -1 : 1;
    }
    return x->cookie < y->cookie ? -1 : x->cookie > y->cookie;
}

/* Completes every held answer due by now, in (time, submission) order. */
static unsigned virtio_sst_release_due(VirtIOSST *s, uint64_t now)
{
    g_autoptr(GPtrArray) due = g_ptr_array_new();
    GHashTableIter it;
    gpointer key, value;
    unsigned i;

    g_hash_table_iter_init(&it, s->timed_reqs);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        VirtIOSSTTimedReq *t = value;
        if (t->answered && t->due_ns <= now) {
            g_ptr_array_add(due, t);
        }
    }
    g_ptr_array_sort(due, virtio_sst_due_cmp);
    for (i = 0; i < due->len; i++) {
        VirtIOSSTTimedReq *t = g_ptr_array_index(due, i);
        VirtQueueElement *elem = g_hash_table_lookup(s->inflight,
                                                     cookie_key(t->cookie));

        if (elem) {
            g_hash_table_remove(s->inflight, cookie_key(t->cookie));
            virtio_sst_deliver(s, elem, t->resp);
        }
        g_hash_table_remove(s->timed_reqs, cookie_key(t->cookie));
    }
    return due->len;
}

/* Is an answer the guest must not run past (grant <= now) still missing? */
static bool virtio_sst_must_wait(VirtIOSST *s, uint64_t now)
{
    GHashTableIter it;
    gpointer key, value;

    g_hash_table_iter_init(&it, s->timed_reqs);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        VirtIOSSTTimedReq *t = value;
        if (!t->answered && t->grant_ns <= now) {
            return true;
        }
    }
    return false;
}

static uint64_t virtio_sst_next_time(VirtIOSST *s)
{
    GHashTableIter it;
    gpointer key, value;
    uint64_t next = VSST_TIMING_NONE;

    g_hash_table_iter_init(&it, s->timed_reqs);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        VirtIOSSTTimedReq *t = value;
        next = MIN(next, t->answered ? t->due_ns : t->grant_ns);
    }
    return next;
}

/* Late answers: let the guest go on a little, then ask again. */
static void virtio_sst_extend_grants(VirtIOSST *s, uint64_t now)
{
    GHashTableIter it;
    gpointer key, value;

    warn_report_once("virtio-sst: the simulator did not answer within %d ms "
                     "in synchronized time; the guest's clock moves on in "
                     "steps of %d ns until it does (or the request times "
                     "out)", VIRTIO_SST_TIME_WAIT_MS, VIRTIO_SST_TIME_RETRY_NS);
    g_hash_table_iter_init(&it, s->timed_reqs);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        VirtIOSSTTimedReq *t = value;
        if (!t->answered && t->grant_ns <= now) {
            t->grant_ns = now + VIRTIO_SST_TIME_RETRY_NS;
        }
    }
}

/*
 * The guest is at virtual time now_ns (BQL held, the guest's vCPU stopped
 * at that time): take what it queued, stamped now; complete what is due;
 * wait (bounded) for the answers of requests whose grant has come.
 */
static uint64_t virtio_sst_time_sync(void *opaque, uint64_t now_ns)
{
    VirtIOSST *s = opaque;
    VirtIODevice *vdev = VIRTIO_DEVICE(s);
    int64_t give_up = qemu_clock_get_ms(QEMU_CLOCK_REALTIME) +
                      VIRTIO_SST_TIME_WAIT_MS;
    bool waited = false;

    s->stat_time_syncs++;
    s->now_ns = MAX(s->now_ns, now_ns);
    if (!vdev->vm_running || !s->req_vq) {
        return VSST_TIMING_NONE;
    }
    s->in_time_sync = true;
    virtio_sst_handle_request(vdev, s->req_vq);
    if (!s->timed_hold) {
        /* x-timing-no-hold: stamped, but answered as they come (tests) */
        s->in_time_sync = false;
        return VSST_TIMING_NONE;
    }
    for (;;) {
        VirtIOSSTReap reap = { .s = s };
        struct pollfd pfd = { .fd = s->notify_fd, .events = POLLIN };
        int64_t left;

        vsst_dev_reap_at(s->core, virtio_sst_on_done_at, virtio_sst_on_event,
                         &reap);
        if (reap.events) {
            virtio_sst_flush(s, s->event_vq, &s->pending_events,
                             sizeof(struct SSTEvent));
        }
        if (virtio_sst_release_due(s, s->now_ns)) {
            virtio_notify(vdev, s->req_vq);
            if (s->throttled) {
                /* Room again: take the rest, at this same time. */
                s->throttled = false;
                virtio_sst_handle_request(vdev, s->req_vq);
            }
            continue;
        }
        if (!virtio_sst_must_wait(s, s->now_ns)) {
            break;
        }
        left = give_up - qemu_clock_get_ms(QEMU_CLOCK_REALTIME);
        if (left <= 0) {
            virtio_sst_extend_grants(s, s->now_ns);
            break;
        }
        waited = true;
        if (poll(&pfd, 1, left) < 0 && errno != EINTR) {
            break;
        }
    }
    if (waited) {
        s->stat_time_waits++;
    }
    s->in_time_sync = false;
    return virtio_sst_next_time(s);
}

static void virtio_sst_get_config(VirtIODevice *vdev, uint8_t *config)
{
    VirtIOSST *s = VIRTIO_SST(vdev);
    struct SSTConfig c;
    struct SSTConfig le;

    vsst_dev_get_config(s->core, &c);
    le.version = cpu_to_le32(c.version);
    le.device_id = cpu_to_le32(c.device_id);
    le.features = cpu_to_le32(c.features);
    le.max_queues = cpu_to_le32(c.max_queues);
    memcpy(config, &le, sizeof(le));
}

static uint64_t virtio_sst_get_features(VirtIODevice *vdev, uint64_t features,
                                        Error **errp)
{
    VirtIOSST *s = VIRTIO_SST(vdev);

    /* Device-specific feature bits are 0..23. */
    return features | (vsst_dev_features(s->core) & 0xffffffULL);
}

static void virtio_sst_drop_all(VirtIOSST *s)
{
    GHashTableIter it;
    gpointer key, value;

    vsst_dev_cancel_all(s->core);
    g_hash_table_iter_init(&it, s->inflight);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        VirtQueueElement *elem = value;
        virtqueue_detach_element(s->req_vq, elem, 0);
        g_free(elem);
    }
    g_hash_table_remove_all(s->inflight);
    if (s->timed_reqs) {
        g_hash_table_remove_all(s->timed_reqs);
    }
    while (!g_queue_is_empty(&s->pending_events)) {
        g_free(g_queue_pop_head(&s->pending_events));
    }
    while (!g_queue_is_empty(&s->pending_responses)) {
        g_free(g_queue_pop_head(&s->pending_responses));
    }
    s->throttled = false;
}

static void virtio_sst_reset(VirtIODevice *vdev)
{
    VirtIOSST *s = VIRTIO_SST(vdev);

    trace_virtio_sst_reset(g_hash_table_size(s->inflight));
    virtio_sst_drop_all(s);
}

static void virtio_sst_realize(DeviceState *dev, Error **errp)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(dev);
    VirtIOSST *s = VIRTIO_SST(dev);
    struct vsst_dev_config cfg = { 0 };
    char err[256] = "";

    if (!s->protocol || !strcmp(s->protocol, "framed")) {
        cfg.protocol = VSST_DEV_PROTO_FRAMED;
    } else if (!strcmp(s->protocol, "acalsim")) {
        cfg.protocol = VSST_DEV_PROTO_ACALSIM;
    } else {
        error_setg(errp, "virtio-sst: protocol must be 'framed' or 'acalsim', "
                   "not '%s'", s->protocol);
        return;
    }
    if (s->virtio_id == 0 || s->virtio_id >= 64) {
        error_setg(errp, "virtio-sst: virtio-id must be 1..63 (virtio-pci "
                   "device id = 0x1040 + id), not %u", s->virtio_id);
        return;
    }
    if (s->queue_size < 2 || s->queue_size > VIRTQUEUE_MAX_SIZE ||
        !is_power_of_2(s->queue_size)) {
        error_setg(errp, "virtio-sst: queue-size must be a power of 2 in "
                   "2..%d, not %u", VIRTQUEUE_MAX_SIZE, s->queue_size);
        return;
    }

    cfg.socket_path = s->socket;
    cfg.device_id = s->device_id;
    cfg.max_inflight = s->max_inflight;
    cfg.log = virtio_sst_log;
    cfg.log_opaque = s;
    if (s->timing && !strcmp(s->timing, "sync")) {
        s->timed = true;
        s->timed_hold = !s->timing_no_hold;
        cfg.timed = 1;
    } else if (s->timing && strcmp(s->timing, "free")) {
        error_setg(errp, "virtio-sst: timing must be 'free' or 'sync', not "
                   "'%s'", s->timing);
        return;
    }
    if (s->timed && cfg.protocol != VSST_DEV_PROTO_FRAMED) {
        error_setg(errp, "virtio-sst: timing=sync needs protocol=framed: the "
                   "acalsim protocol carries no submit or completion times");
        return;
    }
    s->core = vsst_dev_new(&cfg, err, sizeof(err));
    if (!s->core) {
        error_setg(errp, "virtio-sst: %s", err[0] ? err : "device core failed");
        return;
    }

    /*
     * virtio_init() names the device from QEMU's table of assigned IDs,
     * which has no entry for ours: initialise as an entropy device, then
     * set the real ID (virtio_init uses the ID for nothing else).
     */
    virtio_init(vdev, VIRTIO_ID_RNG, sizeof(struct SSTConfig));
    vdev->device_id = s->virtio_id;
    vdev->name = "virtio-sst";

    s->req_vq = virtio_add_queue(vdev, s->queue_size, virtio_sst_handle_request);
    s->resp_vq = virtio_add_queue(vdev, s->queue_size, virtio_sst_handle_response);
    s->event_vq = virtio_add_queue(vdev, s->queue_size, virtio_sst_handle_event);
    s->inflight = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_queue_init(&s->pending_events);
    g_queue_init(&s->pending_responses);

    if (vsst_trace_hook_active()) {
        /* Right after vsst_dev_new: the core hands over the connection it
         * may already have opened from its first byte. */
        vsst_dev_set_sim_observer(s->core, virtio_sst_sim_observed, s);
    }

    s->notify_fd = vsst_dev_notify_fd(s->core);
    if (s->timed_hold) {
        /* Answers are taken only at the guest's TIME, never by the main loop. */
        s->timed_reqs = g_hash_table_new_full(g_direct_hash, g_direct_equal,
                                              NULL, virtio_sst_timed_req_free);
    } else {
        qemu_set_fd_handler(s->notify_fd, virtio_sst_notify_ready, NULL, s);
    }
    if (s->timed) {
        s->timed_dev.sync = virtio_sst_time_sync;
        s->timed_dev.opaque = s;
        vsst_timing_register(&s->timed_dev);
    }
}

static void virtio_sst_unrealize(DeviceState *dev)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(dev);
    VirtIOSST *s = VIRTIO_SST(dev);

    qemu_set_fd_handler(s->notify_fd, NULL, NULL, NULL);
    if (s->timed) {
        vsst_timing_unregister(&s->timed_dev);
    }
    virtio_sst_drop_all(s);
    if (s->timed_reqs) {
        g_hash_table_destroy(s->timed_reqs);
        s->timed_reqs = NULL;
    }
    vsst_dev_set_sim_observer(s->core, NULL, NULL);
    vsst_dev_free(s->core);
    s->core = NULL;
    g_hash_table_destroy(s->inflight);
    virtio_delete_queue(s->req_vq);
    virtio_delete_queue(s->resp_vq);
    virtio_delete_queue(s->event_vq);
    virtio_cleanup(vdev);
}

static const VMStateDescription vmstate_virtio_sst = {
    .name = "virtio-sst",
    .unmigratable = 1, /* requests live in the simulator */
};

static Property virtio_sst_properties[] = {
    DEFINE_PROP_STRING("socket", VirtIOSST, socket),
    DEFINE_PROP_STRING("protocol", VirtIOSST, protocol),
    DEFINE_PROP_UINT32("device-id", VirtIOSST, device_id, 0),
    DEFINE_PROP_UINT16("queue-size", VirtIOSST, queue_size,
                       VIRTIO_SST_DEFAULT_QUEUE_SIZE),
    DEFINE_PROP_UINT16("virtio-id", VirtIOSST, virtio_id, VIRTIO_ID_SST),
    DEFINE_PROP_UINT32("max-inflight", VirtIOSST, max_inflight, 0),
    /* Test only: flip one bit of ECHO data byte N (-1: off), to prove that
     * trace replay catches a device that answers differently. */
    DEFINE_PROP_INT32("x-debug-echo-flip", VirtIOSST, debug_echo_flip, -1),
    /* Synchronized time (hw/vsst/timing.h): "free" or "sync". */
    DEFINE_PROP_STRING("timing", VirtIOSST, timing),
    /* Test only: with timing=sync, complete answers as they arrive instead
     * of at their simulated time, to prove the determinism test fails. */
    DEFINE_PROP_BOOL("x-timing-no-hold", VirtIOSST, timing_no_hold, false),
    DEFINE_PROP_END_OF_LIST(),
};

static void virtio_sst_instance_init(Object *obj)
{
    VirtIOSST *s = VIRTIO_SST(obj);

    object_property_add_uint64_ptr(obj, "stat-requests", &s->stat_requests,
                                   OBJ_PROP_FLAG_READ);
    object_property_add_uint64_ptr(obj, "stat-completions",
                                   &s->stat_completions, OBJ_PROP_FLAG_READ);
    object_property_add_uint64_ptr(obj, "stat-events", &s->stat_events,
                                   OBJ_PROP_FLAG_READ);
    object_property_add_uint64_ptr(obj, "stat-dropped", &s->stat_dropped,
                                   OBJ_PROP_FLAG_READ);
    object_property_add_uint64_ptr(obj, "stat-unknown-cookie",
                                   &s->stat_unknown_cookie, OBJ_PROP_FLAG_READ);
    object_property_add_uint64_ptr(obj, "stat-time-syncs",
                                   &s->stat_time_syncs, OBJ_PROP_FLAG_READ);
    object_property_add_uint64_ptr(obj, "stat-time-waits",
                                   &s->stat_time_waits, OBJ_PROP_FLAG_READ);
}

static void virtio_sst_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    VirtioDeviceClass *vdc = VIRTIO_DEVICE_CLASS(klass);

    device_class_set_props(dc, virtio_sst_properties);
    dc->vmsd = &vmstate_virtio_sst;
    dc->desc = "vsst SST simulator device";
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    vdc->realize = virtio_sst_realize;
    vdc->unrealize = virtio_sst_unrealize;
    vdc->get_config = virtio_sst_get_config;
    vdc->get_features = virtio_sst_get_features;
    vdc->reset = virtio_sst_reset;
}

static const TypeInfo virtio_sst_info = {
    .name = TYPE_VIRTIO_SST,
    .parent = TYPE_VIRTIO_DEVICE,
    .instance_size = sizeof(VirtIOSST),
    .instance_init = virtio_sst_instance_init,
    .class_init = virtio_sst_class_init,
};

static void virtio_sst_register_types(void)
{
    type_register_static(&virtio_sst_info);
}

type_init(virtio_sst_register_types);
