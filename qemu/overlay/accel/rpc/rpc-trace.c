/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * accel rpc: recording an RPC trace in the device VM (trace/TRACE.md).
 *
 *   -accel rpc,...,trace=FILE            the device VM creates FILE
 *   -accel rpc,...,trace-fd=N            an inherited, writable fd (the launcher's)
 *   -accel rpc,...,trace-args=FILE       the device arguments as a replay should
 *                                        give them, one per line ({sim}, {image:NAME});
 *                                        a line "image=NAME=PATH" names a disk image
 *                                        to fingerprint into the header
 *
 * The recorder (trace/: vsst/trace.h, libvsst_trace_recorder.a) observes
 * every message on the channel and, with the guest RAM layout this
 * accelerator received, runs the virtio tap: at each doorbell it copies
 * the new descriptor chains and driver-written buffers, at each interrupt
 * the used elements and the bytes the device wrote. Writing happens on
 * the recorder's own thread from a bounded buffer; the dispatcher never
 * waits for the disk.
 *
 * Devices add what the channel cannot show through their trace hook
 * (hw/vsst/trace-hook.h), installed here while recording: virtio-sst
 * reports its simulator byte stream (the device core's observer) and each
 * used element as it writes it. trace-args may also hold header lines
 * "sim-protocol=framed|acalsim", "origin=TEXT" and "note=TEXT".
 *
 * Copyright (c) 2025 the vsst authors
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "rpc-internal.h"
#include "qemu/atomic.h"
#include "hw/vsst/trace-hook.h"
#include "vsst/trace.h"

/*
 * Guards s->tracer for the device hooks, which run on other threads (the
 * device core's I/O thread, the main loop) and may still run while
 * rpc_trace_stop closes the recorder at exit. The channel observer needs
 * no lock: the channel is closed before the recorder.
 */
static GMutex rpc_trace_lock;
static unsigned rpc_trace_next_sim_conn;

static unsigned rpc_trace_new_sim_conn(void)
{
    return qatomic_fetch_inc(&rpc_trace_next_sim_conn);
}

static void rpc_trace_sim(int what, unsigned conn, const void *data,
                          size_t len)
{
    RpcAccelState *s = rpc_accel_state;

    if (!s) {
        return;
    }
    g_mutex_lock(&rpc_trace_lock);
    if (s->tracer) {
        switch (what) {
        case VSST_TRACE_HOOK_SIM_SENT:
        case VSST_TRACE_HOOK_SIM_RECEIVED:
            vsst_trace_sim_data(s->tracer, conn, what, data, len);
            break;
        case VSST_TRACE_HOOK_SIM_CONNECTED:
            vsst_trace_sim_connected(s->tracer, conn);
            break;
        case VSST_TRACE_HOOK_SIM_CLOSED:
            vsst_trace_sim_closed(s->tracer, conn);
            break;
        default:
            break;
        }
    }
    g_mutex_unlock(&rpc_trace_lock);
}

static void rpc_trace_used(PCIDevice *dev, unsigned queue, uint16_t pos,
                           uint32_t head, uint32_t len)
{
    RpcAccelState *s = rpc_accel_state;
    int index = dev ? rpc_accel_pci_index(dev) : -1;

    if (!s || index < 0) {
        return;
    }
    g_mutex_lock(&rpc_trace_lock);
    if (s->tracer) {
        vsst_trace_device_used(s->tracer, index, queue, pos, head, len);
    }
    g_mutex_unlock(&rpc_trace_lock);
}

/*
 * The devices' trace hook, installed while s->tracer records. A device
 * thread may still call in after rpc_trace_stop removed it; the functions
 * then find no recorder and do nothing.
 */
static const VsstTraceHook rpc_trace_hook = {
    .new_sim_conn = rpc_trace_new_sim_conn,
    .sim = rpc_trace_sim,
    .used = rpc_trace_used,
};

bool rpc_trace_start(RpcAccelState *s, Error **errp)
{
    g_autofree char *args_text = NULL;
    g_auto(GStrv) lines = NULL;
    g_autoptr(GPtrArray) args = g_ptr_array_new();
    g_autoptr(GArray) images = g_array_new(FALSE, TRUE, sizeof(struct vsst_trace_image));
    struct vsst_trace_config cfg = {
        .origin = "device-vm",
        .side = VSST_TRACE_SIDE_DEVICE,
        .ram = &s->ram_layout,
        .note = "recorded in the device VM (-accel rpc,trace=...)",
    };
    char err[256] = "";

    if (!s->trace && s->trace_fd < 0) {
        return true;
    }
    if (s->trace && s->trace_fd >= 0) {
        error_setg(errp, "accel rpc: give trace= or trace-fd=, not both");
        return false;
    }
    if (s->trace_args) {
        GError *gerr = NULL;

        if (!g_file_get_contents(s->trace_args, &args_text, NULL, &gerr)) {
            error_setg(errp, "accel rpc: trace-args: %s", gerr->message);
            g_error_free(gerr);
            return false;
        }
        lines = g_strsplit(args_text, "\n", -1);
        for (char **l = lines; *l; l++) {
            if (g_str_has_prefix(*l, "origin=")) {
                cfg.origin = *l + strlen("origin=");
            } else if (g_str_has_prefix(*l, "note=")) {
                cfg.note = *l + strlen("note=");
            } else if (g_str_has_prefix(*l, "sim-protocol=")) {
                const char *p = *l + strlen("sim-protocol=");

                cfg.sim_protocol = !strcmp(p, "acalsim") ? VSST_TRACE_SIM_ACALSIM :
                                   !strcmp(p, "framed") ? VSST_TRACE_SIM_FRAMED :
                                   VSST_TRACE_SIM_NONE;
            } else if (g_str_has_prefix(*l, "image=") && strchr(*l + 6, '=')) {
                struct vsst_trace_image im = { .name = *l + 6 };
                char *eq = strchr(*l + 6, '=');

                *eq = 0;
                im.path = eq + 1;
                g_array_append_val(images, im);
            } else if (**l) {
                g_ptr_array_add(args, *l);
            }
        }
        cfg.qemu_args = (const char *const *)args->pdata;
        cfg.n_qemu_args = args->len;
        cfg.images = (const struct vsst_trace_image *)images->data;
        cfg.n_images = images->len;
    }
    if (s->trace) {
        s->tracer = vsst_trace_open(s->trace, &cfg, err, sizeof(err));
    } else {
        int fd = dup(s->trace_fd);

        s->tracer = fd < 0 ? NULL : vsst_trace_open_fd(fd, &cfg, err, sizeof(err));
        if (fd < 0) {
            g_strlcpy(err, strerror(errno), sizeof(err));
        }
    }
    if (!s->tracer) {
        error_setg(errp, "accel rpc: cannot record a trace: %s", err);
        return false;
    }
    if (s->trace_fd >= 0) {
        /* The recorder has its own copy; the inherited one is not needed. */
        close(s->trace_fd);
        s->trace_fd = -1;
    }
    vsst_trace_observe(s->tracer, s->ch);
    vsst_trace_hook_set(&rpc_trace_hook);
    return true;
}

void rpc_trace_stop(RpcAccelState *s)
{
    struct vsst_trace_stats st;
    struct vsst_trace *tracer;
    int r;

    if (!s->tracer) {
        return;
    }
    vsst_trace_hook_set(NULL);
    vsst_trace_get_stats(s->tracer, &st);
    g_mutex_lock(&rpc_trace_lock);
    tracer = s->tracer;
    qatomic_set(&s->tracer, NULL);
    g_mutex_unlock(&rpc_trace_lock);
    r = vsst_trace_close(tracer);
    if (r < 0) {
        error_report("accel rpc: writing the trace failed: %s", strerror(-r));
    } else if (st.dropped_records || st.tap_anomalies) {
        warn_report("accel rpc: trace: %" PRIu64 " records dropped (budget), %"
                    PRIu64 " tap anomalies", st.dropped_records,
                    st.tap_anomalies);
    }
}
