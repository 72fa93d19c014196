/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rpc-channel: owner of the guest-VM (proxy) end of one vsst RPC channel.
 *
 *   -device rpc-channel,id=ch0,fds=R:D:P[,peer-fd=N][,timeout=MS][,handshake=on]
 *
 * A bus-less device rather than an -object: QEMU 7.2 checks -object types
 * against its QAPI schema, which would need an edit of QEMU's own files;
 * -device takes any QOM device. It must come before the rpc-proxy-pci
 * devices that name it.
 *
 * R, D and P are inherited file descriptors: the channel's shared region and
 * its two eventfds (see vsst/rpc.h). peer-fd is optional: a descriptor whose
 * other end only the device VM holds (a pipe or socket), so that its EOF says
 * at once that the device VM is gone. Several rpc-proxy-pci devices share one
 * channel; events from the device VM (interrupts, MSI, region announcements)
 * are read here, in the main loop, validated, and handed to the device they
 * name. Nothing a peer sends can make this code abort: bad messages are
 * rejected, counted and reported once per kind; a dead or poisoned channel
 * turns the devices' reads into all-ones.
 *
 * The handshake (HELLO, REGISTER_PCI_DEV..., START_VM) is normally done by the
 * vmm-proxy launcher before this QEMU starts; handshake=on does it here
 * instead, bounded by the same timeout (x15), for running QEMU by hand.
 */

#include "qemu/osdep.h"
#include <sys/prctl.h>
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/processor.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "hw/qdev-properties.h"
#include "sysemu/sysemu.h"
#include "vsst-proxy.h"
#include "trace.h"

#define RPC_CHANNEL_EVENT_BATCH 256
#define RPC_CHANNEL_TIMEOUTS_TO_DEATH 3
#define RPC_CHANNEL_DEFAULT_TIMEOUT_MS 2000

static const char *const rpc_reject_names[RPC_REJECT__MAX] = {
    [RPC_REJECT_UNKNOWN_DEVICE] = "event for a device index nobody proxies",
    [RPC_REJECT_IRQ_NOT_OWNED] = "SET_IRQ for a device not on this channel",
    [RPC_REJECT_BAD_IRQ_LEVEL] = "SET_IRQ with a level other than 0, 1, 2",
    [RPC_REJECT_BAD_MSI] = "MSI outside the interrupt window",
    [RPC_REJECT_MSI_RESERVED] = "MSI address with reserved bits 11:4 set",
    [RPC_REJECT_MSI_DELIVERY] = "MSI delivery mode other than fixed or lowest "
                                "priority",
    [RPC_REJECT_BAD_REGION] = "region announcement outside every proxied BAR",
    [RPC_REJECT_UNEXPECTED] = "message that makes no sense here",
    [RPC_REJECT_COMPLETION] = "completion for a slot not in flight",
};

static const char *rpc_channel_name(RpcChannel *ch)
{
    const char *id = object_get_canonical_path_component(OBJECT(ch));
    return id ? id : "(anonymous)";
}

static void rpc_channel_reject(RpcChannel *ch, RpcReject kind,
                               const struct vsst_rpcmsg *ev)
{
    unsigned op = ev ? vsst_rpc_mr0_op(ev->mr0) : 0;
    uint64_t mr1 = ev ? ev->mr1 : 0;

    ch->rejected[kind]++;
    trace_rpc_channel_rejected(rpc_channel_name(ch), rpc_reject_names[kind],
                               op, mr1);
    if (!ch->reported[kind]) {
        ch->reported[kind] = true;
        warn_report("rpc-channel %s: rejected a %s (op %u, mr1 0x%" PRIx64
                    "); further ones are only counted",
                    rpc_channel_name(ch), rpc_reject_names[kind], op, mr1);
    }
}

bool rpc_channel_alive(RpcChannel *ch)
{
    return ch->rpc && !qatomic_read(&ch->dead);
}

RpcProxyPci *rpc_channel_find_device(RpcChannel *ch, uint32_t index)
{
    RpcProxyPci *dev;

    QLIST_FOREACH(dev, &ch->devices, next) {
        if (dev->index == index) {
            return dev;
        }
    }
    return NULL;
}

void rpc_channel_attach_device(RpcChannel *ch, RpcProxyPci *dev)
{
    QLIST_INSERT_HEAD(&ch->devices, dev, next);
    object_ref(OBJECT(ch));
}

void rpc_channel_detach_device(RpcChannel *ch, RpcProxyPci *dev)
{
    QLIST_REMOVE(dev, next);
    object_unref(OBJECT(ch));
}

/* Main-loop half of a channel's death: stop listening, drop interrupt lines. */
static void rpc_channel_dead_bh(void *opaque)
{
    RpcChannel *ch = opaque;
    RpcProxyPci *dev;
    const char *reason = qatomic_read(&ch->dead_reason);

    error_report("rpc-channel %s: the channel to the device VM is dead (%s); "
                 "its devices now read as all-ones", rpc_channel_name(ch),
                 reason ? reason : "?");
    trace_rpc_channel_dead(rpc_channel_name(ch), reason ? reason : "?");
    if (ch->rpc) {
        qemu_set_fd_handler(vsst_rpc_proxy_event_fd(ch->rpc), NULL, NULL, NULL);
    }
    if (ch->peer_fd >= 0) {
        qemu_set_fd_handler(ch->peer_fd, NULL, NULL, NULL);
    }
    QLIST_FOREACH(dev, &ch->devices, next) {
        rpc_proxy_pci_channel_died(dev);
    }
}

/* Thread-safe: vCPU threads call it after repeated timeouts. */
void rpc_channel_set_dead(RpcChannel *ch, const char *reason)
{
    char *copy = g_strdup(reason && *reason ? reason : "unknown reason");

    if (qatomic_cmpxchg(&ch->dead_reason, NULL, copy) != NULL) {
        g_free(copy);
        return;
    }
    qatomic_set(&ch->dead, true);
    smp_mb();
    if (ch->rpc && !vsst_rpc_poisoned(ch->rpc)) {
        /* Tells the device VM too, and wakes anyone waiting on the channel. */
        vsst_rpc_poison(ch->rpc, copy);
    }
    if (ch->dead_bh) {
        qemu_bh_schedule(ch->dead_bh);
    }
}

int rpc_channel_access(RpcChannel *ch, unsigned as, uint64_t addr,
                       unsigned len, bool write, bool posted, uint64_t *data)
{
    bool unlock;
    int r;

    if (!rpc_channel_alive(ch)) {
        r = -EPIPE;
        goto out;
    }
    if (write && posted) {
        /* A doorbell normally finds room at once: no need to drop the BQL. */
        r = vsst_rpc_proxy_post(ch->rpc, as, addr, len, *data, 0);
        if (r != -ETIMEDOUT) {
            goto done;
        }
    }
    /* Never hold the big lock while the device VM thinks. */
    unlock = qemu_mutex_iothread_locked();
    if (unlock) {
        qemu_mutex_unlock_iothread();
    }
    if (write && posted) {
        r = vsst_rpc_proxy_post(ch->rpc, as, addr, len, *data, ch->timeout_ms);
    } else {
        r = vsst_rpc_proxy_mmio(ch->rpc, as, addr, len,
                                write ? VSST_RPC_DIR_WRITE : VSST_RPC_DIR_READ,
                                data, ch->timeout_ms);
    }
    if (unlock) {
        qemu_mutex_lock_iothread();
    }
done:
    if (r == -ETIMEDOUT) {
        if (qatomic_fetch_inc(&ch->timeouts_in_row) + 1 >=
            RPC_CHANNEL_TIMEOUTS_TO_DEATH) {
            rpc_channel_set_dead(ch, "the device VM stopped answering");
        }
    } else if (r == -EPIPE) {
        rpc_channel_set_dead(ch, vsst_rpc_poison_reason(ch->rpc));
    } else if (r >= 0) {
        qatomic_set(&ch->timeouts_in_row, 0);
    }
out:
    if (r < 0 && !write) {
        *data = len >= 8 ? UINT64_MAX : (1ULL << (len * 8)) - 1;
    }
    return r < 0 ? r : 0;
}

static void rpc_channel_handle_region(RpcChannel *ch,
                                      const struct vsst_rpcmsg *ev)
{
    uint64_t base = ev->mr1, size = ev->mr2, flags = ev->mr3;
    RpcProxyPci *dev;

    if (size == 0 || base + size < base) {
        rpc_channel_reject(ch, RPC_REJECT_BAD_REGION, ev);
        return;
    }
    if (!(flags & VSST_RPC_REGION_POSTED)) {
        return; /* nothing to do for plain regions: they stay synchronous */
    }
    QLIST_FOREACH(dev, &ch->devices, next) {
        if (rpc_proxy_pci_add_posted(dev, base, size)) {
            return;
        }
    }
    rpc_channel_reject(ch, RPC_REJECT_BAD_REGION, ev);
}

static void rpc_channel_handle_event(RpcChannel *ch,
                                     const struct vsst_rpcmsg *ev)
{
    unsigned op = vsst_rpc_mr0_op(ev->mr0);
    RpcProxyPci *dev;
    RpcReject reject;

    ch->events++;
    trace_rpc_channel_event(rpc_channel_name(ch), op, ev->mr1, ev->mr2,
                            ev->mr3);
    switch (op) {
    case VSST_RPC_OP_SET_IRQ:
        dev = ev->mr1 < VSST_RPC_AS_PCI_LIMIT ?
              rpc_channel_find_device(ch, ev->mr1) : NULL;
        if (!dev) {
            rpc_channel_reject(ch, RPC_REJECT_IRQ_NOT_OWNED, ev);
        } else if (ev->mr2 > VSST_RPC_IRQ_PULSE) {
            rpc_channel_reject(ch, RPC_REJECT_BAD_IRQ_LEVEL, ev);
        } else {
            rpc_proxy_pci_set_irq(dev, ev->mr2);
        }
        break;
    case VSST_RPC_OP_MSI:
        dev = ev->mr3 < VSST_RPC_AS_PCI_LIMIT ?
              rpc_channel_find_device(ch, ev->mr3) : NULL;
        if (!dev) {
            rpc_channel_reject(ch, RPC_REJECT_UNKNOWN_DEVICE, ev);
        } else if ((reject = rpc_proxy_msi_check(ev->mr1, ev->mr2)) !=
                   RPC_REJECT__MAX) {
            /* not this platform's MSI doorbell (rpc-proxy-msi.c) */
            rpc_channel_reject(ch, reject, ev);
        } else {
            rpc_proxy_pci_msi(dev, ev->mr1, ev->mr2);
        }
        break;
    case VSST_RPC_OP_MMIO_REGION_CONFIG:
        rpc_channel_handle_region(ch, ev);
        break;
    case VSST_RPC_OP_REGISTER_PCI_DEV:
        /* Devices are fixed at start; a repeat for one we proxy is harmless. */
        if (ev->mr1 >= VSST_RPC_AS_PCI_LIMIT ||
            !rpc_channel_find_device(ch, ev->mr1)) {
            rpc_channel_reject(ch, RPC_REJECT_UNKNOWN_DEVICE, ev);
        }
        break;
    case VSST_RPC_OP_HELLO:
    case VSST_RPC_OP_START_VM:
        break; /* late repeats of the handshake: nothing to do */
    case VSST_RPC_OP_STOP: {
        g_autofree char *why = g_strdup_printf("the device VM sent STOP "
                                               "(reason %" PRIu64 ")", ev->mr1);
        rpc_channel_set_dead(ch, why);
        break;
    }
    default:
        rpc_channel_reject(ch, RPC_REJECT_UNEXPECTED, ev);
        break;
    }
}

static void rpc_channel_check_library_rejects(RpcChannel *ch)
{
    struct vsst_rpc_stats st;

    vsst_rpc_get_stats(ch->rpc, &st);
    if (st.rejected != ch->last_lib_rejected) {
        uint64_t n = st.rejected - ch->last_lib_rejected;

        ch->last_lib_rejected = st.rejected;
        ch->rejected[RPC_REJECT_COMPLETION] += n - 1;
        rpc_channel_reject(ch, RPC_REJECT_COMPLETION, NULL);
    }
}

static void rpc_channel_drain(RpcChannel *ch)
{
    struct vsst_rpcmsg ev;
    int i, r = 0;

    if (!rpc_channel_alive(ch)) {
        return;
    }
    for (i = 0; i < RPC_CHANNEL_EVENT_BATCH; i++) {
        r = vsst_rpc_proxy_recv_event(ch->rpc, &ev);
        if (r <= 0) {
            break;
        }
        rpc_channel_handle_event(ch, &ev);
    }
    rpc_channel_check_library_rejects(ch);
    if (r < 0) {
        rpc_channel_set_dead(ch, r == -EPIPE ? vsst_rpc_poison_reason(ch->rpc)
                                             : strerror(-r));
    } else if (i == RPC_CHANNEL_EVENT_BATCH) {
        /* More pending: let the rest of the main loop run first. */
        qemu_bh_schedule(ch->drain_bh);
    }
}

void rpc_channel_poll_after_doorbell(RpcChannel *ch)
{
    int64_t end;
    struct vsst_rpcmsg ev;
    int r, handled = 0;

    if (!ch->doorbell_poll_us || !rpc_channel_alive(ch) ||
        !qemu_mutex_iothread_locked()) {
        return;
    }
    end = qemu_clock_get_ns(QEMU_CLOCK_REALTIME) +
          (int64_t)ch->doorbell_poll_us * 1000;
    do {
        r = vsst_rpc_proxy_recv_event(ch->rpc, &ev);
        if (r > 0) {
            rpc_channel_handle_event(ch, &ev);
            /* One interrupt is what the guest waits for; take what is
             * already queued behind it, then let the guest run. */
            if (++handled >= RPC_CHANNEL_EVENT_BATCH) {
                break;
            }
            continue;
        }
        if (r < 0 || handled) {
            break;
        }
        cpu_relax();
    } while (qemu_clock_get_ns(QEMU_CLOCK_REALTIME) < end);
    /*
     * r < 0: the main loop reports the error. r > 0: we stopped right after
     * taking an event, so the library still believes we are awake and will
     * not kick for the next one: let the main loop drain until the ring is
     * empty, which re-arms the doorbell (otherwise a wakeup is lost).
     */
    if (r != 0) {
        qemu_bh_schedule(ch->drain_bh);
    }
}

static void rpc_channel_event_read(void *opaque)
{
    rpc_channel_drain(opaque);
}

static void rpc_channel_drain_bh(void *opaque)
{
    rpc_channel_drain(opaque);
}

static void rpc_channel_peer_read(void *opaque)
{
    RpcChannel *ch = opaque;
    char buf[64];
    ssize_t n = read(ch->peer_fd, buf, sizeof(buf));

    if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR))) {
        return; /* the peer fd carries no data we care about */
    }
    qemu_set_fd_handler(ch->peer_fd, NULL, NULL, NULL);
    rpc_channel_set_dead(ch, "the device VM exited");
}

static bool rpc_channel_parse_fds(const char *text, struct vsst_rpc_fds *fds,
                                  Error **errp)
{
    g_auto(GStrv) parts = g_strsplit(text, ":", -1);
    int v[3];
    int i;

    if (g_strv_length(parts) != 3) {
        error_setg(errp, "fds wants REGION:TO_DEVICE:TO_PROXY, not '%s'", text);
        return false;
    }
    for (i = 0; i < 3; i++) {
        if (qemu_strtoi(parts[i], NULL, 10, &v[i]) < 0 || v[i] < 0 ||
            fcntl(v[i], F_GETFD) < 0) {
            error_setg(errp, "fds: '%s' is not an open file descriptor",
                       parts[i]);
            return false;
        }
    }
    fds->region = v[0];
    fds->to_device = v[1];
    fds->to_proxy = v[2];
    return true;
}

static bool rpc_channel_handshake(RpcChannel *ch, Error **errp)
{
    struct vsst_rpcmsg msg = {
        .mr0 = vsst_rpc_mr0(VSST_RPC_OP_HELLO, 0, 0, 0, 0, 0),
        .mr1 = VSST_RPC_PROTOCOL_VERSION,
    };
    int64_t deadline = qemu_clock_get_ms(QEMU_CLOCK_REALTIME) +
                       (int64_t)ch->timeout_ms * 15;
    unsigned devices = 0;
    int r;

    r = vsst_rpc_proxy_send(ch->rpc, &msg, ch->timeout_ms);
    if (r < 0) {
        error_setg(errp, "rpc-channel %s: HELLO: %s", rpc_channel_name(ch),
                   strerror(-r));
        return false;
    }
    for (;;) {
        int64_t left = deadline - qemu_clock_get_ms(QEMU_CLOCK_REALTIME);

        if (left <= 0) {
            error_setg(errp, "rpc-channel %s: no START_VM from the device VM "
                       "within %u ms", rpc_channel_name(ch),
                       ch->timeout_ms * 15);
            return false;
        }
        r = vsst_rpc_proxy_wait_event(ch->rpc, &msg, MIN(left, 1000));
        if (r == -ETIMEDOUT) {
            continue;
        }
        if (r < 0) {
            error_setg(errp, "rpc-channel %s: handshake: %s",
                       rpc_channel_name(ch), r == -EPIPE ?
                       vsst_rpc_poison_reason(ch->rpc) : strerror(-r));
            return false;
        }
        switch (vsst_rpc_mr0_op(msg.mr0)) {
        case VSST_RPC_OP_HELLO:
            if (msg.mr1 != VSST_RPC_PROTOCOL_VERSION) {
                error_setg(errp, "rpc-channel %s: device VM speaks protocol "
                           "%" PRIu64 ", this QEMU %u", rpc_channel_name(ch),
                           msg.mr1, VSST_RPC_PROTOCOL_VERSION);
                return false;
            }
            break;
        case VSST_RPC_OP_REGISTER_PCI_DEV:
            info_report("rpc-channel %s: backend device %" PRIu64 ": %04x:%04x "
                        "class %06x", rpc_channel_name(ch), msg.mr1,
                        (unsigned)(msg.mr2 >> 16) & 0xffff,
                        (unsigned)msg.mr2 & 0xffff, (unsigned)msg.mr3 & 0xffffff);
            devices++;
            break;
        case VSST_RPC_OP_START_VM:
            info_report("rpc-channel %s: device VM ready, %u device(s)",
                        rpc_channel_name(ch), devices);
            return true;
        default:
            rpc_channel_handle_event(ch, &msg);
            break;
        }
    }
}

/* This QEMU is exiting: let the device VM stop cleanly instead of waiting. */
static void rpc_channel_exit_notify(Notifier *n, void *data)
{
    RpcChannel *ch = container_of(n, RpcChannel, exit_notifier);
    struct vsst_rpcmsg stop = {
        .mr0 = vsst_rpc_mr0(VSST_RPC_OP_STOP, 0, 0, 0, 0, 0),
        .mr1 = 0,
    };

    if (rpc_channel_alive(ch)) {
        vsst_rpc_proxy_send(ch->rpc, &stop, 100);
    }
}

static void rpc_channel_realize(DeviceState *dev, Error **errp)
{
    RpcChannel *ch = RPC_CHANNEL(dev);
    struct vsst_rpc_fds fds;
    char err[256] = "";

    if (!ch->fds) {
        error_setg(errp, "rpc-channel: fds=REGION:TO_DEVICE:TO_PROXY is "
                   "required");
        return;
    }
    if (!rpc_channel_parse_fds(ch->fds, &fds, errp)) {
        return;
    }
    if (ch->peer_fd >= 0 && fcntl(ch->peer_fd, F_GETFD) < 0) {
        error_setg(errp, "rpc-channel: peer-fd %d is not open", ch->peer_fd);
        return;
    }
    if (ch->timeout_ms < 10 || ch->timeout_ms > 600000) {
        error_setg(errp, "rpc-channel: timeout must be 10..600000 ms");
        return;
    }
    if (ch->spin_us > 100000) {
        error_setg(errp, "rpc-channel: spin-us must be 0..100000");
        return;
    }
    /*
     * The guest VM maps guest RAM and the channel: not dumpable, so a device
     * VM sharing our uid cannot ptrace us or read our memory.
     */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
        error_setg_errno(errp, errno, "rpc-channel: prctl(PR_SET_DUMPABLE)");
        return;
    }
    ch->rpc = vsst_rpc_attach(&fds, VSST_RPC_ROLE_PROXY, err, sizeof(err));
    /* attach dup()s what it keeps; the inherited numbers are ours to close */
    close(fds.region);
    close(fds.to_device);
    close(fds.to_proxy);
    if (!ch->rpc) {
        error_setg(errp, "rpc-channel %s: %s", rpc_channel_name(ch), err);
        return;
    }
    /*
     * Our own budget, not the one in the shared header: the device VM can
     * write that before we attach and make every wait here burn a core.
     */
    vsst_rpc_set_spin_us(ch->rpc, ch->spin_us);
    if (ch->handshake && !rpc_channel_handshake(ch, errp)) {
        return;
    }
    ch->drain_bh = qemu_bh_new(rpc_channel_drain_bh, ch);
    ch->dead_bh = qemu_bh_new(rpc_channel_dead_bh, ch);
    qemu_set_fd_handler(vsst_rpc_proxy_event_fd(ch->rpc),
                        rpc_channel_event_read, NULL, ch);
    if (ch->peer_fd >= 0) {
        g_unix_set_fd_nonblocking(ch->peer_fd, true, NULL);
        qemu_set_fd_handler(ch->peer_fd, rpc_channel_peer_read, NULL, ch);
    }
    ch->exit_notifier.notify = rpc_channel_exit_notify;
    qemu_add_exit_notifier(&ch->exit_notifier);
    /* Events may have arrived before the handler existed. */
    qemu_bh_schedule(ch->drain_bh);
}

static void rpc_channel_get_rejected(Object *obj, Visitor *v, const char *name,
                                     void *opaque, Error **errp)
{
    RpcChannel *ch = RPC_CHANNEL(obj);
    uint64_t total = 0;
    int i;

    for (i = 0; i < RPC_REJECT__MAX; i++) {
        total += ch->rejected[i];
    }
    visit_type_uint64(v, name, &total, errp);
}

static void rpc_channel_get_dead(Object *obj, Visitor *v, const char *name,
                                 void *opaque, Error **errp)
{
    bool dead = !rpc_channel_alive(RPC_CHANNEL(obj));

    visit_type_bool(v, name, &dead, errp);
}

static void rpc_channel_instance_init(Object *obj)
{
    RpcChannel *ch = RPC_CHANNEL(obj);

    QLIST_INIT(&ch->devices);
}

static void rpc_channel_instance_finalize(Object *obj)
{
    RpcChannel *ch = RPC_CHANNEL(obj);

    if (ch->exit_notifier.notify) {
        qemu_remove_exit_notifier(&ch->exit_notifier);
    }
    if (ch->rpc) {
        qemu_set_fd_handler(vsst_rpc_proxy_event_fd(ch->rpc), NULL, NULL, NULL);
    }
    if (ch->peer_fd >= 0) {
        qemu_set_fd_handler(ch->peer_fd, NULL, NULL, NULL);
        close(ch->peer_fd);
    }
    if (ch->drain_bh) {
        qemu_bh_delete(ch->drain_bh);
    }
    if (ch->dead_bh) {
        qemu_bh_delete(ch->dead_bh);
    }
    vsst_rpc_close(ch->rpc);
    g_free(ch->dead_reason);
}

static Property rpc_channel_properties[] = {
    DEFINE_PROP_STRING("fds", RpcChannel, fds),
    DEFINE_PROP_INT32("peer-fd", RpcChannel, peer_fd, -1),
    DEFINE_PROP_UINT32("timeout", RpcChannel, timeout_ms,
                       RPC_CHANNEL_DEFAULT_TIMEOUT_MS),
    DEFINE_PROP_BOOL("handshake", RpcChannel, handshake, false),
    DEFINE_PROP_UINT32("doorbell-poll-us", RpcChannel, doorbell_poll_us, 0),
    DEFINE_PROP_UINT32("spin-us", RpcChannel, spin_us, VSST_RPC_DEFAULT_SPIN_US),
    DEFINE_PROP_END_OF_LIST(),
};

static void rpc_channel_class_init(ObjectClass *oc, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);

    dc->realize = rpc_channel_realize;
    dc->desc = "owner of one vsst RPC channel to a device VM (for rpc-proxy-pci)";
    /* Its peer is another process: no hot-unplug, no migration. */
    dc->hotpluggable = false;
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    device_class_set_props(dc, rpc_channel_properties);
    object_class_property_add(oc, "rejected", "uint64",
                              rpc_channel_get_rejected, NULL, NULL, NULL);
    object_class_property_set_description(oc, "rejected",
        "messages from the device VM rejected so far");
    object_class_property_add(oc, "dead", "bool", rpc_channel_get_dead, NULL,
                              NULL, NULL);
}

static const TypeInfo rpc_channel_info = {
    .name = TYPE_RPC_CHANNEL,
    .parent = TYPE_DEVICE,
    .instance_size = sizeof(RpcChannel),
    .instance_init = rpc_channel_instance_init,
    .instance_finalize = rpc_channel_instance_finalize,
    .class_init = rpc_channel_class_init,
};

static void rpc_channel_register_types(void)
{
    type_register_static(&rpc_channel_info);
}

type_init(rpc_channel_register_types)
