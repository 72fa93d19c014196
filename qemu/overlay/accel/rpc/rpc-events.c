/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * accel rpc: events to the proxy (SET_IRQ, MSI, REGISTER_PCI_DEV,
 * MMIO_REGION_CONFIG, START_VM, STOP).
 *
 * Interrupts are raised with the BQL held, from the main loop or the
 * dispatcher, so sending must never wait for the proxy: an event goes
 * straight into the ring when nothing is queued and the ring has room;
 * otherwise it is queued here and a sender thread pushes it out in order.
 *
 * Copyright (c) 2025 the vsst authors
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "rpc-internal.h"
#include "trace.h"

#define RPC_EVENT_SEND_WAIT_MS 200

static void *rpc_event_thread(void *opaque)
{
    RpcAccelState *s = opaque;
    RpcEventQueue *q = &s->events;

    qemu_mutex_lock(&q->lock);
    while (!q->quit) {
        struct vsst_rpcmsg ev;
        int r;

        if (q->count == 0) {
            qemu_cond_wait(&q->cond, &q->lock);
            continue;
        }
        /* The head stays queued while it is sent, so that a concurrent
         * rpc_events_send() cannot overtake it. */
        ev = q->msg[q->head];
        qemu_mutex_unlock(&q->lock);
        r = vsst_rpc_dev_send_event(s->ch, &ev, RPC_EVENT_SEND_WAIT_MS);
        qemu_mutex_lock(&q->lock);
        if (r == 0 || r == -EPIPE || r == -EINVAL) {
            if (r != 0) {
                q->dropped++;
            }
            q->head = (q->head + 1) % RPC_EVENT_BACKLOG;
            q->count--;
        }
        /* -ETIMEDOUT: the proxy is not draining events; keep trying. */
    }
    qemu_mutex_unlock(&q->lock);
    return NULL;
}

void rpc_events_init(RpcAccelState *s)
{
    qemu_mutex_init(&s->events.lock);
    qemu_cond_init(&s->events.cond);
}

void rpc_events_start(RpcAccelState *s)
{
    s->events.running = true;
    qemu_thread_create(&s->events.thread, "rpc-events", rpc_event_thread, s,
                       QEMU_THREAD_JOINABLE);
}

void rpc_events_stop(RpcAccelState *s)
{
    RpcEventQueue *q = &s->events;

    if (!q->running) {
        return;
    }
    qemu_mutex_lock(&q->lock);
    q->quit = true;
    qemu_cond_signal(&q->cond);
    qemu_mutex_unlock(&q->lock);
    qemu_thread_join(&q->thread);
    q->running = false;
}

void rpc_events_send(RpcAccelState *s, const struct vsst_rpcmsg *ev)
{
    RpcEventQueue *q = &s->events;
    int r;

    trace_rpc_accel_event(vsst_rpc_mr0_op(ev->mr0), ev->mr1, ev->mr2, ev->mr3);
    qemu_mutex_lock(&q->lock);
    if (q->count == 0) {
        r = vsst_rpc_dev_send_event(s->ch, ev, 0);
        if (r == 0 || r == -EPIPE) {
            /* -EPIPE: the channel is gone; the dispatcher reports why. */
            qemu_mutex_unlock(&q->lock);
            return;
        }
    }
    if (q->count == RPC_EVENT_BACKLOG) {
        /* The proxy has stopped reading events for a long time. */
        if (q->dropped++ == 0) {
            error_report("accel rpc: event backlog full (%d); dropping events",
                         RPC_EVENT_BACKLOG);
        }
    } else {
        q->msg[(q->head + q->count) % RPC_EVENT_BACKLOG] = *ev;
        q->count++;
        qemu_cond_signal(&q->cond);
    }
    qemu_mutex_unlock(&q->lock);
}
