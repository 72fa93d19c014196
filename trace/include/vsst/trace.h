/* SPDX-License-Identifier: Apache-2.0 */
/*
 * trace.h - recording RPC traces (format: trace/TRACE.md), a C interface
 * usable from QEMU code and from C++ test drivers.
 *
 * A recorder writes one trace file. It is fed by:
 *  - the channel observer (vsst_trace_observe): every message in both
 *    directions, and, with guest RAM attached, a virtio tap that decodes the
 *    virtio-pci transport from those messages and, at each doorbell, copies
 *    the new descriptor chains and driver-written buffers out of guest RAM;
 *    at each interrupt, the used elements and device-written bytes;
 *  - the simulator exchange: vsst_trace_sim_* (a hook for the device core)
 *    or the built-in relay (vsst_trace_sim_relay_start).
 *
 * Recording never waits for the disk: records go to a bounded in-memory
 * buffer drained by a writer thread; when the buffer is over budget records
 * are dropped and a DROPPED record says how many. Nothing aborts; errors are
 * negative errno values.
 */
#ifndef VSST_TRACE_H
#define VSST_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "vsst/rpc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vsst_trace vsst_trace;

#define VSST_TRACE_SIDE_PROXY 0u
#define VSST_TRACE_SIDE_DEVICE 1u

#define VSST_TRACE_SIM_NONE 0u
#define VSST_TRACE_SIM_FRAMED 1u
#define VSST_TRACE_SIM_ACALSIM 2u

struct vsst_trace_image {
	const char *name; /* file name the replay looks for next to the trace */
	const char *path; /* read once at open to fingerprint it (size + FNV-1a 64) */
};

/* A device whose device-written bytes are not reproducible (virtio-rng). */
struct vsst_trace_nondet {
	uint16_t vendor, device;
	uint32_t queue_mask;
};

struct vsst_trace_config {
	const char *origin;                /* free text: who recorded it */
	uint32_t side;                     /* VSST_TRACE_SIDE_* of the observed endpoint */
	const struct vsst_ram_layout *ram; /* guest RAM; NULL: messages only (no tap) */
	const char *const *qemu_args;      /* device-VM arguments template (see TRACE.md) */
	unsigned n_qemu_args;
	const struct vsst_trace_image *images;
	unsigned n_images;
	const struct vsst_trace_nondet *nondet; /* NULL: the default (virtio-rng queue 0) */
	unsigned n_nondet;
	uint32_t sim_protocol; /* VSST_TRACE_SIM_* */
	const char *note;      /* e.g. the command that re-records the trace */
	uint64_t budget_bytes; /* in-memory buffer bound; 0 -> 64 MiB */
};

/* Creates/truncates path (or takes ownership of fd) and writes the header. */
vsst_trace *vsst_trace_open(const char *path, const struct vsst_trace_config *cfg, char *err, size_t errlen);
vsst_trace *vsst_trace_open_fd(int fd, const struct vsst_trace_config *cfg, char *err, size_t errlen);
/* Stops the relay, flushes, writes END, closes. Returns 0 or -errno (write failed). NULL is fine. */
int vsst_trace_close(vsst_trace *t);

/* The observer itself (opaque = the vsst_trace); or let vsst_trace_observe install it. */
void vsst_trace_on_message(void *opaque, int dir, int ring, const struct vsst_rpcmsg *msg);
void vsst_trace_observe(vsst_trace *t, vsst_rpc *ch);

/* Simulator exchange (device core hook). dir: 0 device->sim, 1 sim->device. */
void vsst_trace_sim_connected(vsst_trace *t, unsigned conn);
void vsst_trace_sim_closed(vsst_trace *t, unsigned conn);
void vsst_trace_sim_data(vsst_trace *t, unsigned conn, int dir, const void *data, size_t len);

/* Relay: listen on listen_path, forward each connection to sim_path and
 * record both directions. The device is pointed at listen_path. */
int vsst_trace_sim_relay_start(vsst_trace *t, const char *listen_path, const char *sim_path);

void vsst_trace_note(vsst_trace *t, const char *text);

/* Walk every known queue now: new avail entries (marked late) and new used
 * elements with their device-written bytes. A driver that completes requests
 * by polling (no interrupt) calls this after it saw a completion and before
 * it reuses the buffers, so the device's bytes are captured intact. */
void vsst_trace_sync(vsst_trace *t);

struct vsst_trace_stats {
	uint64_t records, bytes, dropped_records, dropped_bytes, tap_anomalies;
	int write_error; /* 0 or -errno of the first failed write */
};
void vsst_trace_get_stats(vsst_trace *t, struct vsst_trace_stats *out);

/* A device reports one used element of PCI device index dev, queue queue,
 * as it writes it: after the element (used ring entry at position pos,
 * descriptor head head, len bytes written) and its bytes are in guest RAM,
 * before used.idx is published. The tap records it at once (first any
 * avail entries the device took that it has not seen, marked late), so a
 * driver that reuses the buffer right after it sees the element cannot
 * race the capture; the interrupt-time walk then skips it. */
void vsst_trace_device_used(vsst_trace *t, unsigned dev, unsigned queue, uint16_t pos, uint32_t head,
			    uint32_t len);

#ifdef __cplusplus
}
#endif

#endif /* VSST_TRACE_H */
