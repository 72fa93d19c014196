/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rpc.h - plain C interface to the vsst RPC channel, for QEMU code (C).
 *
 * The channel is one shared region (memfd) with three single-producer /
 * single-consumer rings of 32-byte messages (requests proxy->device,
 * completions device->proxy, events device->proxy) plus one eventfd per
 * direction. See ARCHITECTURE.md "The RPC channel" and rpc/README.md.
 *
 * Conventions: functions return 0 (or a positive count) on success and a
 * negative errno on failure:
 *   -ETIMEDOUT  the bounded wait expired
 *   -EBUSY      all 64 completion slots are in flight
 *   -EPIPE      the channel is poisoned or stopped (see vsst_rpc_poison_reason)
 *   -EINVAL     bad argument
 * Nothing here aborts on peer input. Every wait takes timeout_ms (>= 0).
 */
#ifndef VSST_RPC_H
#define VSST_RPC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vsst_rpcmsg {
	uint64_t mr0, mr1, mr2, mr3;
};

enum vsst_rpc_op {
	VSST_RPC_OP_MMIO = 0,
	VSST_RPC_OP_SET_IRQ = 16,
	VSST_RPC_OP_START_VM = 18,
	VSST_RPC_OP_REGISTER_PCI_DEV = 19,
	VSST_RPC_OP_MMIO_REGION_CONFIG = 20,
	VSST_RPC_OP_MSI = 21,
	VSST_RPC_OP_HELLO = 22,
	VSST_RPC_OP_STOP = 23,
};

#define VSST_RPC_PROTOCOL_VERSION 1u
#define VSST_RPC_MAX_SLOTS 64u

/* Address spaces (MR0 bits 20:13). n < VSST_RPC_AS_PCI_LIMIT: config space of PCI device n. */
#define VSST_RPC_AS_GLOBAL 0xffu
#define VSST_RPC_AS_IOPORT 0xfeu
#define VSST_RPC_AS_PCI_LIMIT 0xf0u
/*
 * Synchronized time (vmm-proxy --timing sync; appended, see rpc/README.md):
 * an 8-byte, non-posted read whose address is the guest's virtual time in
 * nanoseconds; the completion's data is the next virtual time at which the
 * guest must ask again (VSST_RPC_TIME_NONE: nothing outstanding). Any other
 * length, a write or a posted access in this space is invalid.
 */
#define VSST_RPC_AS_TIME 0xfdu
#define VSST_RPC_TIME_NONE UINT64_MAX

#define VSST_RPC_DIR_READ 0u
#define VSST_RPC_DIR_WRITE 1u

/* SET_IRQ mr2 */
#define VSST_RPC_IRQ_CLEAR 0u
#define VSST_RPC_IRQ_SET 1u
#define VSST_RPC_IRQ_PULSE 2u

/* MMIO_REGION_CONFIG mr3 flags */
#define VSST_RPC_REGION_POSTED (1u << 0) /* writes may be posted (doorbells) */

/* MR0 layout: op 5:0, slot 11:6, dir 12, as 20:13, len 24:21, posted 25. */
static inline uint64_t vsst_rpc_mr0(unsigned op, unsigned slot, unsigned dir, unsigned as, unsigned len,
				    unsigned posted)
{
	return ((uint64_t)(op & 0x3f)) | ((uint64_t)(slot & 0x3f) << 6) | ((uint64_t)(dir & 1) << 12) |
	       ((uint64_t)(as & 0xff) << 13) | ((uint64_t)(len & 0xf) << 21) | ((uint64_t)(posted & 1) << 25);
}
static inline unsigned vsst_rpc_mr0_op(uint64_t mr0)
{
	return mr0 & 0x3f;
}
static inline unsigned vsst_rpc_mr0_slot(uint64_t mr0)
{
	return (mr0 >> 6) & 0x3f;
}
static inline unsigned vsst_rpc_mr0_dir(uint64_t mr0)
{
	return (mr0 >> 12) & 1;
}
static inline unsigned vsst_rpc_mr0_as(uint64_t mr0)
{
	return (mr0 >> 13) & 0xff;
}
static inline unsigned vsst_rpc_mr0_len(uint64_t mr0)
{
	return (mr0 >> 21) & 0xf;
}
static inline unsigned vsst_rpc_mr0_posted(uint64_t mr0)
{
	return (mr0 >> 25) & 1;
}

/* The channel's file descriptors: the shared region and one eventfd per direction. */
struct vsst_rpc_fds {
	int region;    /* memfd holding header + three rings */
	int to_device; /* eventfd: proxy kicks device (requests) */
	int to_proxy;  /* eventfd: device kicks proxy (completions, events) */
};

/* Spin budget of an endpoint that was given none (microseconds). */
#define VSST_RPC_DEFAULT_SPIN_US 20

struct vsst_rpc_params {
	uint32_t ring_capacity; /* power of two; 0 -> 256 */
	uint32_t spin_us;       /* spin budget before blocking; 0 -> default */
};

/* Guest RAM shared with the device VM: memfds and their guest-physical layout. */
#define VSST_RAM_MAX_REGIONS 8
struct vsst_ram_region {
	uint64_t gpa;       /* guest-physical base */
	uint64_t size;      /* bytes */
	uint64_t fd_offset; /* offset of gpa inside fd */
	int fd;             /* memfd */
};
struct vsst_ram_layout {
	uint32_t count;
	struct vsst_ram_region region[VSST_RAM_MAX_REGIONS];
};

enum vsst_rpc_role {
	VSST_RPC_ROLE_PROXY = 0,
	VSST_RPC_ROLE_DEVICE = 1,
};

typedef struct vsst_rpc vsst_rpc;

/* Create a new channel (memfd + two eventfds, all O_CLOEXEC). params may be NULL. */
int vsst_rpc_create(const struct vsst_rpc_params *params, struct vsst_rpc_fds *out, char *err, size_t errlen);
/* Attach one role to a channel. The fds are dup()ed; the caller keeps its own.
 * Returns NULL with a message in err on a bad region (magic, version, sizes). */
vsst_rpc *vsst_rpc_attach(const struct vsst_rpc_fds *fds, enum vsst_rpc_role role, char *err, size_t errlen);
/* Stops the endpoint's threads, unmaps, closes. NULL is fine. */
void vsst_rpc_close(vsst_rpc *ch);

/* Poisoning: both sides see it and stop; the reason is readable by both. */
void vsst_rpc_poison(vsst_rpc *ch, const char *reason);
int vsst_rpc_poisoned(const vsst_rpc *ch);
/* Stable for the endpoint's lifetime; "" when not poisoned. */
const char *vsst_rpc_poison_reason(const vsst_rpc *ch);

/* ---- proxy side (guest VM). All calls are thread-safe. ---- */

/* Synchronous MMIO: takes a free slot, sends, waits for the completion
 * (spin, then block), releases the slot. *data in/out. len 1,2,4,8. */
int vsst_rpc_proxy_mmio(vsst_rpc *ch, unsigned as, uint64_t addr, unsigned len, unsigned dir, uint64_t *data,
			int timeout_ms);
/* Posted write: no completion; waits at most timeout_ms for ring space. */
int vsst_rpc_proxy_post(vsst_rpc *ch, unsigned as, uint64_t addr, unsigned len, uint64_t data,
			int timeout_ms);
/* Send a proxy->device control message (HELLO, STOP). */
int vsst_rpc_proxy_send(vsst_rpc *ch, const struct vsst_rpcmsg *msg, int timeout_ms);
/* An fd that becomes readable when events may be pending. Poll it from a
 * main loop, then call vsst_rpc_proxy_recv_event until it returns 0. */
int vsst_rpc_proxy_event_fd(vsst_rpc *ch);
/* 1: *ev filled (validated); 0: none pending; <0: error/poisoned. */
int vsst_rpc_proxy_recv_event(vsst_rpc *ch, struct vsst_rpcmsg *ev);
/* Blocking variant with a bound: 1 got one, -ETIMEDOUT, -EPIPE. */
int vsst_rpc_proxy_wait_event(vsst_rpc *ch, struct vsst_rpcmsg *ev, int timeout_ms);

/* ---- device side (device VM). One request consumer thread. ---- */

/* 1: *req filled (validated); -ETIMEDOUT; -EPIPE. */
int vsst_rpc_dev_wait_request(vsst_rpc *ch, struct vsst_rpcmsg *req, int timeout_ms);
/* Complete a non-posted MMIO request; data is the read value (ignored for writes). */
int vsst_rpc_dev_complete(vsst_rpc *ch, const struct vsst_rpcmsg *req, uint64_t data, int timeout_ms);
/* Complete with an error (the proxy's mmio call returns -EIO, reads give all-ones). */
int vsst_rpc_dev_complete_error(vsst_rpc *ch, const struct vsst_rpcmsg *req, int timeout_ms);
/* Emit an event (thread-safe: may be called from any thread). */
int vsst_rpc_dev_send_event(vsst_rpc *ch, const struct vsst_rpcmsg *ev, int timeout_ms);

struct vsst_rpc_stats {
	uint64_t sent, received, kicks_sent, kicks_suppressed, sleeps, timeouts, rejected;
};
void vsst_rpc_get_stats(const vsst_rpc *ch, struct vsst_rpc_stats *out);

/* Optional per-message observer (e.g. a trace recorder). dir: 0 sent, 1 received;
 * ring: 0 requests, 1 completions, 2 events. Called on the calling thread. */
typedef void (*vsst_rpc_observer)(void *opaque, int dir, int ring, const struct vsst_rpcmsg *msg);
void vsst_rpc_set_observer(vsst_rpc *ch, vsst_rpc_observer fn, void *opaque);

/* ---- setup: fds over a Unix socket (SCM_RIGHTS) ---- */

/* Send channel fds and guest RAM layout as one message. */
int vsst_setup_send(int sock, const struct vsst_rpc_fds *ch, const struct vsst_ram_layout *ram);
/* Receive them (bounded). Received fds are O_CLOEXEC and owned by the caller. */
int vsst_setup_recv(int sock, struct vsst_rpc_fds *ch, struct vsst_ram_layout *ram, int timeout_ms, char *err,
		    size_t errlen);
/* Clear O_CLOEXEC so a child inherits the fd (after fork, before exec). */
int vsst_fd_set_inheritable(int fd);

/* ---- additions (appended; see rpc/README.md) ---- */

/* MR0 bit 26 on a completion: the device failed the access (project extension). */
#define VSST_RPC_MR0_ERROR (1ull << 26)
/* Spin budget before blocking for this endpoint's waits (0: block at once). */
int vsst_rpc_set_spin_us(vsst_rpc *ch, uint32_t spin_us);
/* Device side: the request doorbell (readable when requests may be pending),
 * for a dispatcher that polls several fds; then call vsst_rpc_dev_wait_request
 * with timeout 0 until it returns -ETIMEDOUT. */
int vsst_rpc_dev_request_fd(vsst_rpc *ch);

#ifdef __cplusplus
}
#endif

#endif /* VSST_RPC_H */
