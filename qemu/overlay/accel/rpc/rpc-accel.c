/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * accel rpc: an "accelerator" without vCPUs for the device VM.
 *
 *   -machine rpc-backend -accel rpc,fds=R:D:P,ram=FD@GPA+SIZE[+OFF][:...]
 *   -machine rpc-backend -accel rpc,control=PATH     (SCM_RIGHTS set-up)
 *   -machine rpc-backend -accel rpc,setup-fd=N       (connected socket)
 *
 * Start-up: the channel is attached and HELLO sent while the machine is
 * created; once every command-line device exists, each PCI device is
 * announced with REGISTER_PCI_DEV, then START_VM, and the dispatcher thread
 * starts serving requests. The process exits when the proxy sends STOP,
 * when the channel is poisoned, or when QEMU is told to quit; the exit
 * status says which (enum RpcAccelExit).
 *
 * Copyright (c) 2025 the vsst authors
 */

#include "qemu/osdep.h"
#include <sys/prctl.h>
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qemu/atomic.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/module.h"
#include "qemu-main.h"
#include "hw/boards.h"
#include "hw/pci/pci.h"
#include "hw/vsst/rpc-backend.h"
#include "sysemu/accel-ops.h"
#include "sysemu/cpus.h"
#include "sysemu/runstate.h"
#include "sysemu/sysemu.h"
#include "rpc-internal.h"
#include "trace.h"

#define RPC_DEFAULT_TIMEOUT_MS 10000
#define RPC_SETUP_SEND_WAIT_MS 1000

QEMU_BUILD_BUG_ON(RPC_ACCEL_MAX_RAM_REGIONS != VSST_RAM_MAX_REGIONS);

static bool rpc_allowed;
RpcAccelState *rpc_accel_state;

bool rpc_accel_enabled(void)
{
    return rpc_allowed && rpc_accel_state && rpc_accel_state->ch;
}

bool rpc_accel_ram_region(unsigned i, uint64_t *gpa, uint64_t *size,
                          uint64_t *fd_offset, int *fd)
{
    RpcAccelState *s = rpc_accel_state;

    if (!s || i >= s->ram_layout.count) {
        return false;
    }
    *gpa = s->ram_layout.region[i].gpa;
    *size = s->ram_layout.region[i].size;
    *fd_offset = s->ram_layout.region[i].fd_offset;
    *fd = s->ram_layout.region[i].fd;
    return true;
}

int rpc_accel_add_pci_device(PCIDevice *dev, Error **errp)
{
    RpcAccelState *s = rpc_accel_state;

    if (!s || s->started) {
        error_setg(errp, "accel rpc: PCI devices can only be added before the "
                   "backend starts (no hotplug)");
        return -1;
    }
    if (s->n_pci >= RPC_ACCEL_MAX_PCI_DEVICES) {
        error_setg(errp, "accel rpc: at most %d PCI devices per backend",
                   RPC_ACCEL_MAX_PCI_DEVICES);
        return -1;
    }
    s->pci[s->n_pci].dev = dev;
    return s->n_pci++;
}

int rpc_accel_pci_index(PCIDevice *dev)
{
    RpcAccelState *s = rpc_accel_state;

    for (unsigned i = 0; s && i < s->n_pci; i++) {
        if (s->pci[i].dev == dev) {
            return i;
        }
    }
    return -1;
}

int rpc_accel_pci_index_by_requester(uint16_t requester_id)
{
    RpcAccelState *s = rpc_accel_state;

    for (unsigned i = 0; s && i < s->n_pci; i++) {
        if (pci_requester_id(s->pci[i].dev) == requester_id) {
            return i;
        }
    }
    return -1;
}

void rpc_accel_set_irq(unsigned index, int level)
{
    struct vsst_rpcmsg ev = {
        .mr0 = vsst_rpc_mr0(VSST_RPC_OP_SET_IRQ, 0, 0, 0, 0, 0),
        .mr1 = index,
        .mr2 = level ? VSST_RPC_IRQ_SET : VSST_RPC_IRQ_CLEAR,
    };

    if (rpc_accel_enabled()) {
        trace_rpc_accel_irq(index, level);
        rpc_events_send(rpc_accel_state, &ev);
    }
}

void rpc_accel_msi(unsigned index, uint64_t address, uint32_t data)
{
    struct vsst_rpcmsg ev = {
        .mr0 = vsst_rpc_mr0(VSST_RPC_OP_MSI, 0, 0, 0, 0, 0),
        .mr1 = address,
        .mr2 = data,
        .mr3 = index,
    };

    if (rpc_accel_enabled()) {
        trace_rpc_accel_msi(index, address, data);
        rpc_events_send(rpc_accel_state, &ev);
    }
}

/* Decide the exit status (first reason wins) and ask QEMU to shut down. */
void rpc_accel_finish(RpcAccelState *s, int status, const char *why)
{
    if (qatomic_cmpxchg(&s->exit_status, -1, status) != -1) {
        return;
    }
    if (status == RPC_EXIT_CLEAN) {
        info_report("accel rpc: stopping: %s", why);
    } else {
        error_report("accel rpc: stopping (exit status %d): %s", status, why);
    }
    qemu_system_shutdown_request(status == RPC_EXIT_CLEAN ?
                                 SHUTDOWN_CAUSE_HOST_QMP_QUIT :
                                 SHUTDOWN_CAUSE_HOST_ERROR);
}

static void rpc_accel_send_now(RpcAccelState *s, const struct vsst_rpcmsg *ev)
{
    /* Before the event thread runs or after it stopped: bounded wait. */
    int r = vsst_rpc_dev_send_event(s->ch, ev, RPC_SETUP_SEND_WAIT_MS);

    if (r < 0 && r != -EPIPE) {
        error_report("accel rpc: sending event %u failed: %s",
                     vsst_rpc_mr0_op(ev->mr0), strerror(-r));
    }
}

/* Replaces qemu_default_main() so that the exit status can say why. */
static int rpc_accel_main(void)
{
    RpcAccelState *s = rpc_accel_state;
    int status = qemu_main_loop();

    rpc_dispatch_stop(s);
    rpc_events_stop(s);
    if (qatomic_read(&s->exit_status) == -1) {
        qatomic_set(&s->exit_status, status ? RPC_EXIT_SETUP : RPC_EXIT_CLEAN);
    }
    if (!s->peer_stopped && !vsst_rpc_poisoned(s->ch)) {
        struct vsst_rpcmsg stop = {
            .mr0 = vsst_rpc_mr0(VSST_RPC_OP_STOP, 0, 0, 0, 0, 0),
            .mr1 = s->exit_status,
        };
        rpc_accel_send_now(s, &stop);
    }
    qemu_cleanup();
    status = s->exit_status;
    if (s->rejected_total) {
        info_report("accel rpc: %" PRIu64 " requests served, %" PRIu64
                    " rejected", s->requests, s->rejected_total);
    }
    vsst_rpc_close(s->ch);
    s->ch = NULL;
    rpc_trace_stop(s);
    rpc_inflight_stop(s);
    return status;
}

static int rpc_accel_init_machine(MachineState *ms)
{
    RpcAccelState *s = RPC_ACCEL(ms->accelerator);
    Error *err = NULL;
    struct vsst_rpcmsg hello = {
        .mr0 = vsst_rpc_mr0(VSST_RPC_OP_HELLO, 0, 0, 0, 0, 0),
        .mr1 = VSST_RPC_PROTOCOL_VERSION,
        .mr2 = 0,
    };

    if (!object_dynamic_cast(OBJECT(ms), TYPE_RPC_BACKEND_MACHINE)) {
        error_report("accel rpc: works only with -machine rpc-backend");
        return -EINVAL;
    }
    /*
     * Device VMs of other runs may share our uid: not dumpable, so none of
     * them can ptrace us or read our memory (and with it the guest's RAM).
     */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
        error_report("accel rpc: prctl(PR_SET_DUMPABLE): %s", strerror(errno));
        return -errno;
    }
    if (!rpc_setup_channel(s, &err)) {
        error_report_err(err);
        return -EINVAL;
    }
    if (!rpc_trace_start(s, &err)) {
        error_report_err(err);
        return -EINVAL;
    }
    rpc_accel_state = s;
    rpc_events_init(s);
    rpc_accel_send_now(s, &hello);
    qemu_main = rpc_accel_main;
    return 0;
}

/* Every command-line device exists: announce them and start serving. */
static void rpc_accel_setup_post(MachineState *ms, AccelState *accel)
{
    RpcAccelState *s = RPC_ACCEL(accel);
    Error *err = NULL;
    struct vsst_rpcmsg start = {
        .mr0 = vsst_rpc_mr0(VSST_RPC_OP_START_VM, 0, 0, 0, 0, 0),
    };

    for (unsigned i = 0; i < s->n_pci; i++) {
        PCIDevice *dev = s->pci[i].dev;
        uint32_t class_code = pci_get_long(dev->config + PCI_CLASS_REVISION) >> 8;
        uint16_t vendor = pci_get_word(dev->config + PCI_VENDOR_ID);
        uint16_t device = pci_get_word(dev->config + PCI_DEVICE_ID);
        struct vsst_rpcmsg reg = {
            .mr0 = vsst_rpc_mr0(VSST_RPC_OP_REGISTER_PCI_DEV, 0, 0, 0, 0, 0),
            .mr1 = i,
            .mr2 = (uint64_t)vendor << 16 | device,
            .mr3 = class_code,
        };
        trace_rpc_accel_register(i, object_get_typename(OBJECT(dev)), vendor,
                                 device, class_code);
        rpc_accel_send_now(s, &reg);
    }
    if (!rpc_inflight_start(s, &err)) {
        error_report_err(err);
        rpc_accel_finish(s, RPC_EXIT_SETUP, "inflight records unusable");
        return;
    }
    s->started = true;
    rpc_accel_send_now(s, &start);
    rpc_events_start(s);
    rpc_dispatch_start(s);
}

static void rpc_accel_instance_init(Object *obj)
{
    RpcAccelState *s = RPC_ACCEL(obj);

    s->setup_fd = -1;
    s->trace_fd = -1;
    s->inflight_fd = -1;
    s->timeout_ms = RPC_DEFAULT_TIMEOUT_MS;
    s->exit_status = -1;
}

static void rpc_accel_instance_finalize(Object *obj)
{
    RpcAccelState *s = RPC_ACCEL(obj);

    g_free(s->fds);
    g_free(s->ram);
    g_free(s->control);
    g_free(s->trace);
    g_free(s->trace_args);
}

#define RPC_STR_PROP(field)                                                  \
    static char *rpc_get_##field(Object *obj, Error **errp)                  \
    {                                                                        \
        return g_strdup(RPC_ACCEL(obj)->field);                              \
    }                                                                        \
    static void rpc_set_##field(Object *obj, const char *v, Error **errp)    \
    {                                                                        \
        RpcAccelState *s = RPC_ACCEL(obj);                                   \
        g_free(s->field);                                                    \
        s->field = g_strdup(v);                                              \
    }
RPC_STR_PROP(fds)
RPC_STR_PROP(ram)
RPC_STR_PROP(control)
RPC_STR_PROP(trace)
RPC_STR_PROP(trace_args)

/* An inherited descriptor the accelerator uses (it must be open). */
#define RPC_OPEN_FD_PROP(field)                                              \
    static void rpc_get_##field(Object *obj, Visitor *v, const char *name,   \
                                void *opaque, Error **errp)                  \
    {                                                                        \
        visit_type_int64(v, name, &RPC_ACCEL(obj)->field, errp);             \
    }                                                                        \
    static void rpc_set_##field(Object *obj, Visitor *v, const char *name,   \
                                void *opaque, Error **errp)                  \
    {                                                                        \
        int64_t fd;                                                          \
                                                                             \
        if (!visit_type_int64(v, name, &fd, errp)) {                         \
            return;                                                          \
        }                                                                    \
        if (fd < 0 || fd > INT_MAX || fcntl((int)fd, F_GETFL) < 0) {         \
            error_setg(errp, "accel rpc: %s must be an open file "           \
                       "descriptor", name);                                  \
            return;                                                          \
        }                                                                    \
        RPC_ACCEL(obj)->field = fd;                                          \
    }
RPC_OPEN_FD_PROP(trace_fd)
RPC_OPEN_FD_PROP(inflight_fd)

static void rpc_get_setup_fd(Object *obj, Visitor *v, const char *name,
                             void *opaque, Error **errp)
{
    visit_type_int64(v, name, &RPC_ACCEL(obj)->setup_fd, errp);
}

static void rpc_set_setup_fd(Object *obj, Visitor *v, const char *name,
                             void *opaque, Error **errp)
{
    int64_t fd;

    if (!visit_type_int64(v, name, &fd, errp)) {
        return;
    }
    if (fd < 0 || fd > INT_MAX) {
        error_setg(errp, "accel rpc: setup-fd must be a file descriptor number");
        return;
    }
    RPC_ACCEL(obj)->setup_fd = fd;
}

static void rpc_get_timeout(Object *obj, Visitor *v, const char *name,
                            void *opaque, Error **errp)
{
    visit_type_uint32(v, name, &RPC_ACCEL(obj)->timeout_ms, errp);
}

static void rpc_set_timeout(Object *obj, Visitor *v, const char *name,
                            void *opaque, Error **errp)
{
    uint32_t ms;

    if (!visit_type_uint32(v, name, &ms, errp)) {
        return;
    }
    if (ms == 0 || ms > 600000) {
        error_setg(errp, "accel rpc: timeout must be 1..600000 ms");
        return;
    }
    RPC_ACCEL(obj)->timeout_ms = ms;
}

static void rpc_accel_class_init(ObjectClass *oc, void *data)
{
    AccelClass *ac = ACCEL_CLASS(oc);

    ac->name = "RPC";
    ac->init_machine = rpc_accel_init_machine;
    ac->setup_post = rpc_accel_setup_post;
    ac->allowed = &rpc_allowed;

    object_class_property_add_str(oc, "fds", rpc_get_fds, rpc_set_fds);
    object_class_property_set_description(oc, "fds",
        "inherited channel fds REGION:TODEV:TOPROXY (memfd, two eventfds)");
    object_class_property_add_str(oc, "ram", rpc_get_ram, rpc_set_ram);
    object_class_property_set_description(oc, "ram",
        "guest RAM with fds=: FD@GPA+SIZE[+FDOFFSET], several joined by ':'");
    object_class_property_add_str(oc, "control", rpc_get_control,
                                  rpc_set_control);
    object_class_property_set_description(oc, "control",
        "Unix socket to connect to; the channel and RAM fds arrive by "
        "SCM_RIGHTS");
    object_class_property_add(oc, "setup-fd", "int", rpc_get_setup_fd,
                              rpc_set_setup_fd, NULL, NULL);
    object_class_property_set_description(oc, "setup-fd",
        "inherited connected Unix socket carrying the set-up (SCM_RIGHTS)");
    object_class_property_add_str(oc, "trace", rpc_get_trace, rpc_set_trace);
    object_class_property_set_description(oc, "trace",
        "record an RPC trace (messages + virtio tap) into this file");
    object_class_property_add(oc, "trace-fd", "int", rpc_get_trace_fd,
                              rpc_set_trace_fd, NULL, NULL);
    object_class_property_set_description(oc, "trace-fd",
        "record an RPC trace into this inherited, writable fd");
    object_class_property_add(oc, "inflight-fd", "int", rpc_get_inflight_fd,
                              rpc_set_inflight_fd, NULL, NULL);
    object_class_property_set_description(oc, "inflight-fd",
        "memfd that keeps the virtqueues' inflight records across restarts "
        "of this device VM");
    object_class_property_add_str(oc, "trace-args", rpc_get_trace_args,
                                  rpc_set_trace_args);
    object_class_property_set_description(oc, "trace-args",
        "file with the device arguments a replay should use, one per line");
    object_class_property_add(oc, "timeout", "uint32", rpc_get_timeout,
                              rpc_set_timeout, NULL, NULL);
    object_class_property_set_description(oc, "timeout",
        "bound in ms for set-up waits (default 10000)");
}

static const TypeInfo rpc_accel_type = {
    .name = TYPE_RPC_ACCEL,
    .parent = TYPE_ACCEL,
    .instance_size = sizeof(RpcAccelState),
    .instance_init = rpc_accel_instance_init,
    .instance_finalize = rpc_accel_instance_finalize,
    .class_init = rpc_accel_class_init,
};

/* The machine creates no vCPU; should one appear, it only idles. */
static void rpc_accel_ops_class_init(ObjectClass *oc, void *data)
{
    AccelOpsClass *ops = ACCEL_OPS_CLASS(oc);

    ops->create_vcpu_thread = dummy_start_vcpu_thread;
}

static const TypeInfo rpc_accel_ops_type = {
    .name = ACCEL_OPS_NAME("rpc"),
    .parent = TYPE_ACCEL_OPS,
    .class_init = rpc_accel_ops_class_init,
    .abstract = true,
};

static void rpc_accel_register_types(void)
{
    type_register_static(&rpc_accel_type);
    type_register_static(&rpc_accel_ops_type);
}

type_init(rpc_accel_register_types);
