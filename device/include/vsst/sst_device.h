/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sst_device.h - plain C interface to the framework-free virtio-sst device
 * core (device/), for the QEMU glue (virtio-sst-pci / virtio-sst-device).
 *
 * Threading: the core owns one I/O thread for the simulator socket.
 * Completions (local answers and simulator replies) and simulator events
 * are queued inside the core; notify_fd becomes readable when there is
 * something to reap. The glue polls notify_fd from QEMU's main loop and
 * calls vsst_dev_reap() there (with the BQL), so the vCPU, the RPC
 * dispatcher and the BQL are never held waiting for the simulator.
 * vsst_dev_submit() never blocks.
 */
#ifndef VSST_SST_DEVICE_H
#define VSST_SST_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "vsst/sst-protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

enum vsst_dev_protocol {
	VSST_DEV_PROTO_FRAMED = 0, /* sim-wire.h, pipelined (default) */
	VSST_DEV_PROTO_ACALSIM = 1 /* raw SSTRequest -> SSTResponse, one at a time */
};

struct vsst_dev_config {
	const char *socket_path; /* simulator Unix socket; NULL/"" = no simulator */
	uint32_t device_id;
	uint32_t protocol;           /* enum vsst_dev_protocol */
	uint32_t max_inflight;       /* 0 -> 256 */
	uint32_t request_timeout_ms; /* 0 -> 10000; then SST_STATUS_TIMEOUT */
	uint32_t reconnect_max_ms;   /* backoff cap; 0 -> 1000 */
	/* Optional log sink (QEMU maps it to its own facilities). level: 0 err, 1 warn, 2 info, 3 debug. */
	void (*log)(void *opaque, int level, const char *msg);
	void *log_opaque;
	/* Synchronized time (appended): 1 = offer VSST_SIM_FEATURE_TIMED, send
	 * every request with its submit time (vsst_dev_submit_at) and refuse a
	 * simulator that does not grant it. Framed protocol only: with acalsim,
	 * vsst_dev_new fails. */
	uint32_t timed;
};

typedef struct vsst_dev vsst_dev;

vsst_dev *vsst_dev_new(const struct vsst_dev_config *cfg, char *err, size_t errlen);
void vsst_dev_free(vsst_dev *dev); /* joins the I/O thread; NULL is fine */

/* Submit one request (len bytes of an SSTRequest, 0 < len <= 4104; the core
 * copies it). Every submit yields exactly one completion with the same
 * cookie via vsst_dev_reap(), including malformed requests (INVALID) and
 * requests made while the simulator is away (NO_DEVICE). Returns 0, or
 * -EBUSY if max_inflight requests are outstanding (nothing queued). */
int vsst_dev_submit(vsst_dev *dev, const void *req, size_t len, uint64_t cookie);

/* Synchronized time: like vsst_dev_submit, stamped with the guest's virtual
 * time of submission (nanoseconds); the simulator starts the request no
 * earlier than that. Without cfg.timed the stamp is ignored. */
int vsst_dev_submit_at(vsst_dev *dev, const void *req, size_t len, uint64_t cookie, uint64_t submit_ns);

/* The minimum latency (ns, rounded down) the simulator announced for timed
 * requests, or -1 while no timed handshake has completed. */
int64_t vsst_dev_min_latency_ns(vsst_dev *dev);

/* Readable (eventfd) while completions or events wait to be reaped. */
int vsst_dev_notify_fd(vsst_dev *dev);

typedef void (*vsst_dev_done_fn)(void *opaque, uint64_t cookie, const struct SSTResponse *resp);
typedef void (*vsst_dev_event_fn)(void *opaque, const struct SSTEvent *ev);

/* Deliver queued completions and events on the calling thread. Returns how
 * many were delivered. */
int vsst_dev_reap(vsst_dev *dev, vsst_dev_done_fn on_done, vsst_dev_event_fn on_event, void *opaque);

/* vsst_dev_reap with the simulated completion time of each answer
 * (nanoseconds, rounded up; 0 when the answer has none: answered by the core
 * itself, NO_DEVICE, TIMEOUT). */
typedef void (*vsst_dev_done_at_fn)(void *opaque, uint64_t cookie, const struct SSTResponse *resp,
				    uint64_t complete_ns);
int vsst_dev_reap_at(vsst_dev *dev, vsst_dev_done_at_fn on_done, vsst_dev_event_fn on_event, void *opaque);

/* Device reset: every outstanding cookie is forgotten (no completion will
 * be delivered for it; late simulator replies are dropped). */
void vsst_dev_cancel_all(vsst_dev *dev);

/* Config space and feature bits the device offers. */
void vsst_dev_get_config(vsst_dev *dev, struct SSTConfig *cfg);
uint64_t vsst_dev_features(vsst_dev *dev);

struct vsst_dev_stats {
	uint64_t requests, responses, local, forwarded, errors, no_device, timeouts, events, reconnects,
		inflight;
	uint32_t connected;
};
void vsst_dev_get_stats(vsst_dev *dev, struct vsst_dev_stats *st);

/*
 * Observe the simulator byte stream (RPC trace recording, trace/TRACE.md).
 * fn(opaque, what, conn, data, len): what 0 = bytes sent to the simulator,
 * 1 = bytes received from it (reported before the core acts on them),
 * 2 = connection conn is up (before any of its bytes), 3 = it is closed;
 * conn counts the core's connections from 0; data/len only for 0 and 1.
 * Called on the core's I/O thread, and, for what happened on the current
 * connection before any request was submitted (the start-up handshake,
 * kept up to 64 KiB), once on the calling thread during this call, so an
 * observer installed right after vsst_dev_new() sees whole connections.
 * Installed later, it starts with the next connection. fn = NULL removes
 * it; when this returns, fn is neither running nor called again. fn must
 * be quick and must not call back into the core. No-op without a socket.
 */
void vsst_dev_set_sim_observer(vsst_dev *dev,
			       void (*fn)(void *opaque, int what, unsigned conn, const void *data,
					  size_t len),
			       void *opaque);

#ifdef __cplusplus
}
#endif

#endif /* VSST_SST_DEVICE_H */
