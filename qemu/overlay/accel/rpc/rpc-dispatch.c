/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * accel rpc: the dispatcher thread. It drains the request ring and turns
 * each request into a QEMU memory access:
 *   AS 0xff (global)  -> address_space_memory (guest-physical)
 *   AS 0xfe (I/O)     -> address_space_io
 *   AS n < 0xf0       -> config space of registered PCI device n
 * Reads complete with data, writes complete unless posted. The wait on the
 * channel happens without the BQL; each access takes it. Every field of a
 * request is checked; a bad request gets an error completion (unless it was
 * posted) and is counted, and the backend keeps serving.
 *
 * Copyright (c) 2025 the vsst authors
 */

#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "qemu/bswap.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/rcu.h"
#include "exec/address-spaces.h"
#include "exec/memory.h"
#include "hw/pci/pci.h"
#include "hw/pci/pci_host.h"
#include "hw/vsst/timing.h"
#include "rpc-internal.h"
#include "trace.h"

#define RPC_WAIT_SLICE_MS 100
#define RPC_COMPLETE_WAIT_MS 1000
/* Log the first few rejections in full, then one in every thousand. */
#define RPC_REJECT_LOG_FIRST 10

static const char *const rpc_reject_names[RPC_REJECT__MAX] = {
    [RPC_REJECT_BEFORE_HELLO] = "request before HELLO",
    [RPC_REJECT_BAD_OP] = "unknown or unexpected opcode",
    [RPC_REJECT_BAD_LEN] = "access size not valid for the address space",
    [RPC_REJECT_BAD_AS] = "address space not served by this backend",
    [RPC_REJECT_BAD_ADDR] = "address out of range or misaligned",
    [RPC_REJECT_POSTED_READ] = "posted read (a read always needs a completion)",
    [RPC_REJECT_MEMTX] = "nothing answers at this address",
    [RPC_REJECT_BAD_TIME] = "TIME that is not an 8-byte read, or whose "
                            "virtual time went backwards",
};

static void rpc_complete(RpcAccelState *s, const struct vsst_rpcmsg *req,
                         uint64_t data)
{
    int r = vsst_rpc_dev_complete(s->ch, req, data, RPC_COMPLETE_WAIT_MS);

    if (r < 0 && r != -EPIPE) {
        error_report("accel rpc: completing a request failed: %s", strerror(-r));
    }
}

static void rpc_reject(RpcAccelState *s, const struct vsst_rpcmsg *req,
                       RpcReject why)
{
    uint64_t n = ++s->rejected_total;

    s->rejected[why]++;
    trace_rpc_accel_reject(rpc_reject_names[why], req->mr0, req->mr1);
    if (n <= RPC_REJECT_LOG_FIRST || n % 1000 == 0) {
        error_report("accel rpc: rejected request #%" PRIu64 " (op %u as 0x%x "
                     "len %u dir %u posted %u addr 0x%" PRIx64 "): %s",
                     n, vsst_rpc_mr0_op(req->mr0), vsst_rpc_mr0_as(req->mr0),
                     vsst_rpc_mr0_len(req->mr0), vsst_rpc_mr0_dir(req->mr0),
                     vsst_rpc_mr0_posted(req->mr0), req->mr1,
                     rpc_reject_names[why]);
    }
    if (!vsst_rpc_mr0_posted(req->mr0)) {
        int r = vsst_rpc_dev_complete_error(s->ch, req, RPC_COMPLETE_WAIT_MS);
        if (r < 0 && r != -EPIPE) {
            error_report("accel rpc: error completion failed: %s", strerror(-r));
        }
    }
}

static bool len_ok(unsigned len, unsigned max)
{
    return (len == 1 || len == 2 || len == 4 || len == 8) && len <= max;
}

/* Guest-physical or I/O access. Returns false on a decode error. */
static RpcReject rpc_access_as(AddressSpace *as, uint64_t addr, unsigned len,
                               bool write, uint64_t *data)
{
    uint8_t buf[8] = { 0 };
    MemTxResult res;

    if (write) {
        stq_le_p(buf, *data);
    }
    res = address_space_rw(as, addr, MEMTXATTRS_UNSPECIFIED, buf, len, write);
    if (res != MEMTX_OK) {
        return RPC_REJECT_MEMTX;
    }
    if (!write) {
        *data = ldq_le_p(buf);
    }
    return RPC_REJECT__MAX;
}

static RpcReject rpc_access_config(RpcAccelState *s, unsigned index,
                                   uint64_t addr, unsigned len, bool write,
                                   uint64_t *data)
{
    PCIDevice *dev;
    uint32_t limit;

    if (index >= s->n_pci) {
        return RPC_REJECT_BAD_AS;
    }
    if (!len_ok(len, 4)) {
        return RPC_REJECT_BAD_LEN;
    }
    dev = s->pci[index].dev;
    limit = pci_config_size(dev);
    if (addr >= limit || addr + len > limit || (addr & (len - 1))) {
        return RPC_REJECT_BAD_ADDR;
    }
    if (write) {
        pci_host_config_write_common(dev, addr, limit, (uint32_t)*data, len);
        /* A BAR or the command register may have changed: tell the proxy
         * about newly mapped regions (notify regions may be posted). */
        rpc_regions_update(s, index);
    } else {
        *data = pci_host_config_read_common(dev, addr, limit, len);
    }
    return RPC_REJECT__MAX;
}

/*
 * Synchronized time (hw/vsst/timing.h): the guest is at virtual time
 * req->mr1 and waits for the answer with its vCPU stopped there. The timed
 * devices act at that time; the answer is when the guest must ask again.
 * Their interrupts are sent (events ring) before this completion, so the
 * guest injects them before its clock moves.
 */
static void rpc_handle_time(RpcAccelState *s, const struct vsst_rpcmsg *req)
{
    uint64_t now = req->mr1;
    uint64_t next;

    if (!s->hello_done) {
        rpc_reject(s, req, RPC_REJECT_BEFORE_HELLO);
        return;
    }
    if (vsst_rpc_mr0_len(req->mr0) != 8 ||
        vsst_rpc_mr0_dir(req->mr0) != VSST_RPC_DIR_READ ||
        vsst_rpc_mr0_posted(req->mr0) || now < s->guest_time_ns) {
        rpc_reject(s, req, RPC_REJECT_BAD_TIME);
        return;
    }
    s->guest_time_ns = now;
    qemu_mutex_lock_iothread();
    next = vsst_timing_sync(now);
    qemu_mutex_unlock_iothread();
    trace_rpc_accel_time(now, next);
    rpc_complete(s, req, next);
}

static void rpc_handle_mmio(RpcAccelState *s, const struct vsst_rpcmsg *req)
{
    unsigned as = vsst_rpc_mr0_as(req->mr0);
    unsigned len = vsst_rpc_mr0_len(req->mr0);
    bool write = vsst_rpc_mr0_dir(req->mr0) == VSST_RPC_DIR_WRITE;
    bool posted = vsst_rpc_mr0_posted(req->mr0);
    uint64_t addr = req->mr1;
    uint64_t data = write ? req->mr2 : 0;
    RpcReject why;

    if (as == VSST_RPC_AS_TIME) {
        rpc_handle_time(s, req);
        return;
    }
    if (!s->hello_done) {
        rpc_reject(s, req, RPC_REJECT_BEFORE_HELLO);
        return;
    }
    if (posted && !write) {
        rpc_reject(s, req, RPC_REJECT_POSTED_READ);
        return;
    }
    if (as == VSST_RPC_AS_GLOBAL || as == VSST_RPC_AS_IOPORT) {
        unsigned max = as == VSST_RPC_AS_IOPORT ? 4 : 8;
        uint64_t limit = as == VSST_RPC_AS_IOPORT ? 0x10000 : 0;

        if (!len_ok(len, max)) {
            rpc_reject(s, req, RPC_REJECT_BAD_LEN);
            return;
        }
        if (addr + len < addr || (limit && addr + len > limit)) {
            rpc_reject(s, req, RPC_REJECT_BAD_ADDR);
            return;
        }
    } else if (as >= VSST_RPC_AS_PCI_LIMIT) {
        rpc_reject(s, req, RPC_REJECT_BAD_AS);
        return;
    }

    trace_rpc_accel_mmio(as, addr, len, write, posted, data);
    qemu_mutex_lock_iothread();
    if (as == VSST_RPC_AS_GLOBAL) {
        why = rpc_access_as(&address_space_memory, addr, len, write, &data);
    } else if (as == VSST_RPC_AS_IOPORT) {
        why = rpc_access_as(&address_space_io, addr, len, write, &data);
    } else {
        why = rpc_access_config(s, as, addr, len, write, &data);
    }
    qemu_mutex_unlock_iothread();

    if (why != RPC_REJECT__MAX) {
        rpc_reject(s, req, why);
    } else if (!posted) {
        rpc_complete(s, req, write ? 0 : data);
    }
}

static void rpc_handle_hello(RpcAccelState *s, const struct vsst_rpcmsg *req)
{
    if (req->mr1 != VSST_RPC_PROTOCOL_VERSION) {
        g_autofree char *why = g_strdup_printf(
            "the proxy speaks RPC protocol version %" PRIu64 ", this backend "
            "speaks version %u", req->mr1, VSST_RPC_PROTOCOL_VERSION);
        vsst_rpc_poison(s->ch, "RPC protocol version mismatch");
        rpc_accel_finish(s, RPC_EXIT_VERSION, why);
        return;
    }
    trace_rpc_accel_hello(req->mr1, req->mr2);
    s->hello_done = true;
}

static void *rpc_dispatch_thread(void *opaque)
{
    RpcAccelState *s = opaque;

    rcu_register_thread();
    while (!qatomic_read(&s->quit)) {
        struct vsst_rpcmsg req;
        int r = vsst_rpc_dev_wait_request(s->ch, &req, RPC_WAIT_SLICE_MS);

        if (r == -ETIMEDOUT) {
            continue;
        }
        if (r < 0) {
            g_autofree char *why = NULL;
            if (r == -EPIPE || vsst_rpc_poisoned(s->ch)) {
                why = g_strdup_printf("RPC channel poisoned: %s",
                                      vsst_rpc_poison_reason(s->ch));
            } else {
                why = g_strdup_printf("waiting for requests failed: %s",
                                      strerror(-r));
            }
            rpc_accel_finish(s, RPC_EXIT_POISONED, why);
            break;
        }
        s->requests++;
        switch (vsst_rpc_mr0_op(req.mr0)) {
        case VSST_RPC_OP_MMIO:
            rpc_handle_mmio(s, &req);
            break;
        case VSST_RPC_OP_HELLO:
            rpc_handle_hello(s, &req);
            break;
        case VSST_RPC_OP_STOP: {
            g_autofree char *why = g_strdup_printf(
                "STOP from the proxy (reason %" PRIu64 ")", req.mr1);
            s->peer_stopped = true;
            rpc_accel_finish(s, RPC_EXIT_CLEAN, why);
            qatomic_set(&s->quit, true);
            break;
        }
        default:
            rpc_reject(s, &req, RPC_REJECT_BAD_OP);
            break;
        }
    }
    rcu_unregister_thread();
    return NULL;
}

void rpc_dispatch_start(RpcAccelState *s)
{
    s->dispatch_running = true;
    qemu_thread_create(&s->dispatch_thread, "rpc-dispatch",
                       rpc_dispatch_thread, s, QEMU_THREAD_JOINABLE);
}

/* Called with the BQL held; drops it while joining (the thread takes it). */
void rpc_dispatch_stop(RpcAccelState *s)
{
    if (!s->dispatch_running) {
        return;
    }
    qatomic_set(&s->quit, true);
    qemu_mutex_unlock_iothread();
    qemu_thread_join(&s->dispatch_thread);
    qemu_mutex_lock_iothread();
    s->dispatch_running = false;
}
