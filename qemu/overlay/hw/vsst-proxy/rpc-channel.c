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
 * restart-fd=N (vmm-proxy --restart): a SOCK_SEQPACKET socket to the
 * launcher (vsst/rpc_restart.h). When the channel fails, it goes *down*
 * instead of dead: guest accesses wait (bounded by restart-wait, in vCPU
 * threads only) while the launcher starts a new device VM; its channel
 * arrives here, every rpc-proxy-pci replays what the guest programmed
 * (rpc-proxy-state.c), and the waiting accesses are retried on it. The old
 * vsst_rpc handles are kept until the end (a vCPU may still be inside one).
 * GIVE_UP from the launcher, or its socket closing, makes the channel dead.
 *
 * The handshake (HELLO, REGISTER_PCI_DEV..., START_VM) is normally done by the
 * vmm-proxy launcher before this QEMU starts; handshake=on does it here
 * instead, bounded by the same timeout (x15), for running QEMU by hand.
 */

#include "qemu/osdep.h"
#include <sys/prctl.h>
#include <sys/socket.h>
#include "hw/core/cpu.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/processor.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "hw/qdev-properties.h"
#include "sysemu/sysemu.h"
#include "sysemu/cpu-timers.h"
#include "vsst-proxy.h"
#include "vsst/rpc_restart.h"
#include "trace.h"

#define RPC_CHANNEL_EVENT_BATCH 256
#define RPC_CHANNEL_TIMEOUTS_TO_DEATH 3
#define RPC_CHANNEL_DEFAULT_TIMEOUT_MS 2000
#define RPC_CHANNEL_DEFAULT_RESTART_WAIT_MS 30000
#define RPC_CHANNEL_ACCESS_RETRIES 3
/* A TIME may wait for the simulator (each timed device up to 1 s). */
#define RPC_CHANNEL_TIME_TIMEOUT_FACTOR 3

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
    return qatomic_read(&ch->rpc) && !qatomic_read(&ch->dead) &&
           !qatomic_read(&ch->down);
}

static bool rpc_channel_restartable(RpcChannel *ch)
{
    return ch->restart_fd >= 0 && !qatomic_read(&ch->gave_up) &&
           !qatomic_read(&ch->dead);
}

static void rpc_channel_tell_launcher(RpcChannel *ch, uint32_t type,
                                      const char *text)
{
    struct vsst_restart_msg m = { .type = type, .generation = ch->generation };

    g_strlcpy(m.text, text ? text : "", sizeof(m.text));
    if (send(ch->restart_fd, &m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
        warn_report("rpc-channel %s: telling the launcher: %s",
                    object_get_canonical_path_component(OBJECT(ch)) ?: "?",
                    strerror(errno));
    }
}

/* Thread-safe: the channel failed, a new device VM may come. */
static void rpc_channel_go_down(RpcChannel *ch, const char *reason)
{
    vsst_rpc *rpc = qatomic_read(&ch->rpc);

    qemu_mutex_lock(&ch->up_lock);
    if (qatomic_read(&ch->down)) {
        qemu_mutex_unlock(&ch->up_lock);
        return;
    }
    qatomic_set(&ch->down, true);
    g_free(ch->down_reason);
    ch->down_reason = g_strdup(reason);
    qemu_mutex_unlock(&ch->up_lock);
    smp_mb();
    if (rpc && !vsst_rpc_poisoned(rpc)) {
        vsst_rpc_poison(rpc, reason); /* wakes whoever waits on it */
    }
    qemu_bh_schedule(ch->down_bh);
}

/*
 * In a vCPU thread: wait (BQL released, bounded) until the channel is up
 * again. Elsewhere (the main loop brings it up) it does not wait.
 */
static bool rpc_channel_wait_up(RpcChannel *ch)
{
    int64_t deadline = qemu_clock_get_ms(QEMU_CLOCK_REALTIME) +
                       ch->restart_wait_ms;
    bool unlock;

    if (!current_cpu) {
        return false;
    }
    unlock = qemu_mutex_iothread_locked();
    if (unlock) {
        qemu_mutex_unlock_iothread();
    }
    qemu_mutex_lock(&ch->up_lock);
    while (qatomic_read(&ch->down) && !qatomic_read(&ch->dead)) {
        int64_t left = deadline - qemu_clock_get_ms(QEMU_CLOCK_REALTIME);

        if (left <= 0) {
            break;
        }
        qemu_cond_timedwait(&ch->up_cond, &ch->up_lock, MIN(left, 100));
    }
    qemu_mutex_unlock(&ch->up_lock);
    if (unlock) {
        qemu_mutex_lock_iothread();
    }
    return rpc_channel_alive(ch);
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
    char *copy;

    if (rpc_channel_restartable(ch)) {
        rpc_channel_go_down(ch, reason && *reason ? reason : "unknown reason");
        return;
    }
    copy = g_strdup(reason && *reason ? reason : "unknown reason");

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
    if (ch->restart_fd >= 0) {
        /* Accesses waiting for a restart that will not come. */
        qemu_mutex_lock(&ch->up_lock);
        qemu_cond_broadcast(&ch->up_cond);
        qemu_mutex_unlock(&ch->up_lock);
    }
    if (ch->dead_bh) {
        qemu_bh_schedule(ch->dead_bh);
    }
}

static int rpc_channel_access_once(RpcChannel *ch, unsigned as, uint64_t addr,
                                   unsigned len, bool write, bool posted,
                                   uint64_t *data)
{
    vsst_rpc *rpc = qatomic_read(&ch->rpc);
    bool unlock;
    int r;

    if (!rpc_channel_alive(ch)) {
        return -EPIPE;
    }
    if (write && posted) {
        /* A doorbell normally finds room at once: no need to drop the BQL. */
        r = vsst_rpc_proxy_post(rpc, as, addr, len, *data, 0);
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
        r = vsst_rpc_proxy_post(rpc, as, addr, len, *data, ch->timeout_ms);
    } else {
        r = vsst_rpc_proxy_mmio(rpc, as, addr, len,
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
        rpc_channel_set_dead(ch, vsst_rpc_poison_reason(rpc));
    } else if (r >= 0) {
        qatomic_set(&ch->timeouts_in_row, 0);
    }
    return r;
}

int rpc_channel_access(RpcChannel *ch, unsigned as, uint64_t addr,
                       unsigned len, bool write, bool posted, uint64_t *data)
{
    int r, attempt;

    for (attempt = 0;; attempt++) {
        r = rpc_channel_access_once(ch, as, addr, len, write, posted, data);
        /*
         * The device VM is gone and a new one may come: wait for it and
         * do the access there (a write the old one took is done again).
         */
        if (r >= 0 || !qatomic_read(&ch->down) ||
            !rpc_channel_restartable(ch) ||
            attempt >= RPC_CHANNEL_ACCESS_RETRIES || !rpc_channel_wait_up(ch)) {
            break;
        }
    }
    if (r < 0 && !write) {
        *data = len >= 8 ? UINT64_MAX : (1ULL << (len * 8)) - 1;
    }
    return r < 0 ? r : 0;
}

int rpc_channel_replay_access(RpcChannel *ch, vsst_rpc *rpc, unsigned as,
                              uint64_t addr, unsigned len, uint64_t *data)
{
    return vsst_rpc_proxy_mmio(rpc, as, addr, len, VSST_RPC_DIR_WRITE, data,
                               ch->timeout_ms);
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

/* Main-loop half of going down: stop listening to the old device VM. */
static void rpc_channel_down_bh(void *opaque)
{
    RpcChannel *ch = opaque;
    RpcProxyPci *dev;
    g_autofree char *reason = NULL;

    qemu_mutex_lock(&ch->up_lock);
    reason = g_strdup(ch->down_reason ? ch->down_reason : "?");
    qemu_mutex_unlock(&ch->up_lock);
    if (!qatomic_read(&ch->down) || qatomic_read(&ch->dead)) {
        return;
    }
    ch->down_since_ns = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    warn_report("rpc-channel %s: the device VM is gone (%s); guest accesses "
                "wait up to %u ms for a new one", rpc_channel_name(ch), reason,
                ch->restart_wait_ms);
    trace_rpc_channel_down(rpc_channel_name(ch), reason);
    qemu_set_fd_handler(vsst_rpc_proxy_event_fd(ch->rpc), NULL, NULL, NULL);
    if (ch->peer_fd >= 0) {
        qemu_set_fd_handler(ch->peer_fd, NULL, NULL, NULL);
        close(ch->peer_fd);
        ch->peer_fd = -1;
    }
    QLIST_FOREACH(dev, &ch->devices, next) {
        rpc_proxy_pci_channel_died(dev);
    }
    rpc_channel_tell_launcher(ch, VSST_RESTART_DOWN, reason);
}

static void rpc_channel_peer_read(void *opaque);
static void rpc_channel_event_read(void *opaque);

/* A new device VM's channel (its handshake done): replay, then go up. */
static void rpc_channel_resume(RpcChannel *ch, int fds[VSST_RESTART_CHANNEL_FDS])
{
    struct vsst_rpc_fds f = {
        .region = fds[0], .to_device = fds[1], .to_proxy = fds[2],
    };
    int64_t t0 = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    unsigned writes = 0, n = 0;
    char err[256] = "";
    g_autofree char *why = NULL;
    RpcProxyPci *dev;
    vsst_rpc *rpc;
    int r = 0;

    ch->generation++; /* what the launcher has handed us, failed or not */
    if (!qatomic_read(&ch->down)) {
        /* Only after DOWN: the launcher saw a death we did not (yet). */
        rpc_channel_go_down(ch, "the launcher restarted the device VM");
        rpc_channel_down_bh(ch);
    }
    rpc = vsst_rpc_attach(&f, VSST_RPC_ROLE_PROXY, err, sizeof(err));
    close(fds[0]);
    close(fds[1]);
    close(fds[2]);
    if (!rpc) {
        why = g_strdup_printf("the new channel is unusable: %s", err);
        goto fail;
    }
    vsst_rpc_set_spin_us(rpc, ch->spin_us);
    QLIST_FOREACH(dev, &ch->devices, next) {
        unsigned w = 0;

        r = rpc_proxy_state_replay(dev, rpc, &w);
        writes += w;
        n++;
        if (r < 0) {
            why = g_strdup_printf("replaying device %u into the new device "
                                  "VM failed: %s", dev->index, strerror(-r));
            vsst_rpc_close(rpc);
            goto fail;
        }
    }
    g_ptr_array_add(ch->retired, ch->rpc);
    qatomic_set(&ch->rpc, rpc);
    ch->last_lib_rejected = 0;
    ch->peer_fd = fds[3];
    qatomic_set(&ch->timeouts_in_row, 0);
    qemu_set_fd_handler(vsst_rpc_proxy_event_fd(rpc), rpc_channel_event_read,
                        NULL, ch);
    g_unix_set_fd_nonblocking(ch->peer_fd, true, NULL);
    qemu_set_fd_handler(ch->peer_fd, rpc_channel_peer_read, NULL, ch);
    ch->restarts++;
    qemu_mutex_lock(&ch->up_lock);
    qatomic_set(&ch->down, false);
    qemu_cond_broadcast(&ch->up_cond);
    qemu_mutex_unlock(&ch->up_lock);
    why = g_strdup_printf("%u device(s) resumed, %u writes replayed in "
                          "%" PRId64 " us; down for %" PRId64 " ms", n, writes,
                          (qemu_clock_get_ns(QEMU_CLOCK_REALTIME) - t0) / 1000,
                          (qemu_clock_get_ns(QEMU_CLOCK_REALTIME) -
                           ch->down_since_ns) / 1000000);
    info_report("rpc-channel %s: a new device VM serves the guest: %s",
                rpc_channel_name(ch), why);
    trace_rpc_channel_up(rpc_channel_name(ch), writes);
    rpc_channel_tell_launcher(ch, VSST_RESTART_UP, why);
    qemu_bh_schedule(ch->drain_bh);
    return;
fail:
    close(fds[3]);
    warn_report("rpc-channel %s: %s", rpc_channel_name(ch), why);
    rpc_channel_tell_launcher(ch, VSST_RESTART_DOWN, why);
}

static void rpc_channel_restart_read(void *opaque)
{
    RpcChannel *ch = opaque;
    struct vsst_restart_msg m = { 0 };
    union {
        char buf[CMSG_SPACE(sizeof(int) * VSST_RESTART_CHANNEL_FDS)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
    };
    int fds[VSST_RESTART_CHANNEL_FDS], nfds = 0;
    struct cmsghdr *c;
    ssize_t got = recvmsg(ch->restart_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

    if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }
    for (c = got > 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

            for (int i = 0; i < k; i++) {
                int fd;

                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                if (nfds < VSST_RESTART_CHANNEL_FDS) {
                    fds[nfds++] = fd;
                } else {
                    close(fd);
                }
            }
        }
    }
    m.text[sizeof(m.text) - 1] = 0;
    if (got <= 0) {
        qemu_set_fd_handler(ch->restart_fd, NULL, NULL, NULL);
        qatomic_set(&ch->gave_up, true);
        rpc_channel_set_dead(ch, "the launcher is gone: no device VM restart");
        return;
    }
    if (m.type == VSST_RESTART_CHANNEL && nfds == VSST_RESTART_CHANNEL_FDS &&
        !(mh.msg_flags & MSG_CTRUNC)) {
        rpc_channel_resume(ch, fds);
        return;
    }
    for (int i = 0; i < nfds; i++) {
        close(fds[i]);
    }
    if (m.type == VSST_RESTART_GIVE_UP) {
        qatomic_set(&ch->gave_up, true);
        rpc_channel_set_dead(ch, m.text[0] ? m.text : "no device VM restart");
        return;
    }
    warn_report("rpc-channel %s: ignoring restart message %u with %d "
                "descriptor(s)", rpc_channel_name(ch), m.type, nfds);
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

/* ---- synchronized time (timing=sync; hw/vsst/timing.h in the device VM) ---- */

bool rpc_channel_timed(RpcChannel *ch)
{
    return ch->timed;
}

/*
 * Tell the device VM the guest's virtual time and wait for its answer with
 * the BQL held, so no vCPU moves meanwhile. Called on the vCPU after a BAR
 * write and by the time timer. The device VM takes the requests queued so
 * far (stamped with this time), waits for the answers the guest must not
 * run past, completes what is due now, sends those interrupts, and names the
 * next time it needs us; the timer is set for it.
 */
void rpc_channel_time_sync(RpcChannel *ch)
{
    int64_t now;
    uint64_t next = VSST_RPC_TIME_NONE;
    struct vsst_rpcmsg ev;
    int i, r;

    if (!ch->timed || !rpc_channel_alive(ch)) {
        return;
    }
    assert(qemu_mutex_iothread_locked());
    now = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
    /*
     * An expired virtual timer holds every vCPU at its deadline under
     * -icount: keep one at `now` while the device VM works, since the timer
     * callback runs on whichever thread found it due and the vCPU runs
     * without the BQL.
     */
    timer_mod(ch->time_timer, now);
    r = vsst_rpc_proxy_mmio(ch->rpc, VSST_RPC_AS_TIME, now, 8,
                            VSST_RPC_DIR_READ, &next,
                            ch->timeout_ms * RPC_CHANNEL_TIME_TIMEOUT_FACTOR);
    ch->time_syncs++;
    if (r < 0) {
        g_autofree char *why = g_strdup_printf(
            "synchronized time: TIME at %" PRId64 " ns failed: %s", now,
            r == -EPIPE ? vsst_rpc_poison_reason(ch->rpc) :
            r == -EIO ? "the device VM refused it (does it run timing=sync?)" :
            strerror(-r));
        timer_del(ch->time_timer);
        rpc_channel_set_dead(ch, why);
        return;
    }
    trace_rpc_channel_time(rpc_channel_name(ch), now, next);
    /*
     * The interrupts of what completed at `now` are already in the events
     * ring (sent before the answer): inject them before the clock moves.
     */
    for (i = 0; i < RPC_CHANNEL_EVENT_BATCH; i++) {
        r = vsst_rpc_proxy_recv_event(ch->rpc, &ev);
        if (r <= 0) {
            break;
        }
        rpc_channel_handle_event(ch, &ev);
    }
    if (r != 0) {
        /* More, or an error: the main loop carries on (and re-arms the kick). */
        qemu_bh_schedule(ch->drain_bh);
    }
    if (next == VSST_RPC_TIME_NONE) {
        timer_del(ch->time_timer);
    } else if (next <= (uint64_t)now || next > INT64_MAX) {
        /* Would stop the guest's clock for good: a broken device VM. */
        g_autofree char *why = g_strdup_printf(
            "synchronized time: the device VM named %" PRIu64 " ns as the next "
            "time at guest time %" PRId64 " ns", next, now);
        timer_del(ch->time_timer);
        rpc_channel_set_dead(ch, why);
    } else {
        timer_mod(ch->time_timer, (int64_t)next);
    }
}

static void rpc_channel_time_timer(void *opaque)
{
    rpc_channel_time_sync(opaque);
}

static bool rpc_channel_time_setup(RpcChannel *ch, Error **errp)
{
    if (!ch->timing || !strcmp(ch->timing, "free")) {
        return true;
    }
    if (strcmp(ch->timing, "sync")) {
        error_setg(errp, "rpc-channel: timing must be 'free' or 'sync', not "
                   "'%s'", ch->timing);
        return false;
    }
    if (!icount_enabled()) {
        error_setg(errp, "rpc-channel: timing=sync needs -icount (the guest's "
                   "time must be its instruction count, not the host's clock)");
        return false;
    }
    ch->timed = true;
    ch->time_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, rpc_channel_time_timer, ch);
    return true;
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
    if (ch->restart_fd >= 0 && fcntl(ch->restart_fd, F_GETFD) < 0) {
        error_setg(errp, "rpc-channel: restart-fd %d is not open",
                   ch->restart_fd);
        return;
    }
    if (ch->restart_wait_ms < 100 || ch->restart_wait_ms > 600000) {
        error_setg(errp, "rpc-channel: restart-wait must be 100..600000 ms");
        return;
    }
    if (!rpc_channel_time_setup(ch, errp)) {
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
    ch->down_bh = qemu_bh_new(rpc_channel_down_bh, ch);
    if (ch->restart_fd >= 0) {
        g_unix_set_fd_nonblocking(ch->restart_fd, true, NULL);
        qemu_set_fd_handler(ch->restart_fd, rpc_channel_restart_read, NULL,
                            ch);
    }
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
    qemu_mutex_init(&ch->up_lock);
    qemu_cond_init(&ch->up_cond);
    ch->retired = g_ptr_array_new();
    object_property_add_uint32_ptr(obj, "restarts", &ch->restarts,
                                   OBJ_PROP_FLAG_READ);
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
    if (ch->down_bh) {
        qemu_bh_delete(ch->down_bh);
    }
    if (ch->restart_fd >= 0) {
        qemu_set_fd_handler(ch->restart_fd, NULL, NULL, NULL);
        close(ch->restart_fd);
    }
    for (guint i = 0; i < ch->retired->len; i++) {
        vsst_rpc_close(g_ptr_array_index(ch->retired, i));
    }
    g_ptr_array_free(ch->retired, true);
    g_free(ch->down_reason);
    if (ch->time_timer) {
        timer_free(ch->time_timer);
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
    DEFINE_PROP_INT32("restart-fd", RpcChannel, restart_fd, -1),
    DEFINE_PROP_UINT32("restart-wait", RpcChannel, restart_wait_ms,
                       RPC_CHANNEL_DEFAULT_RESTART_WAIT_MS),
    DEFINE_PROP_UINT32("doorbell-poll-us", RpcChannel, doorbell_poll_us, 0),
    DEFINE_PROP_UINT32("spin-us", RpcChannel, spin_us, VSST_RPC_DEFAULT_SPIN_US),
    /* "free" (default) or "sync": synchronized time, needs -icount */
    DEFINE_PROP_STRING("timing", RpcChannel, timing),
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
