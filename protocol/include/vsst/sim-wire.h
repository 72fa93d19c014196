/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sim-wire.h - the framed, pipelined protocol between a virtio-sst device
 * and its simulator (sst-sim or the SST-core socket bridge).
 *
 * Every frame is a 24-byte header followed by `length` payload bytes.
 * All integers little-endian. Many REQUEST frames may be in flight on one
 * connection; the simulator answers each with a RESPONSE carrying the same
 * tag, in any order. The compatibility protocol `acalsim` has no framing
 * at all: the client writes a whole SSTRequest and reads a whole
 * SSTResponse, one at a time.
 */
#ifndef VSST_SIM_WIRE_H
#define VSST_SIM_WIRE_H

#include <stdint.h>

#define VSST_SIM_MAGIC 0x46535356u /* "VSSF" */
#define VSST_SIM_VERSION 1u
#define VSST_SIM_MAX_PAYLOAD 8192u /* a larger length is a protocol error */

enum vsst_sim_frame_type {
	/* client -> sim, first frame; payload vsst_sim_hello. sim answers HELLO. */
	VSST_SIM_HELLO = 1,
	/* client -> sim; payload: the first 24..4104 bytes of an SSTRequest
	 * (missing tail bytes read as zero). */
	VSST_SIM_REQUEST = 2,
	/* sim -> client; payload: vsst_sim_resp_meta then 32..4112 bytes of
	 * an SSTResponse. */
	VSST_SIM_RESPONSE = 3,
	/* sim -> client, unsolicited (tag 0); payload: struct SSTEvent. */
	VSST_SIM_EVENT = 4,
	/* sim -> client; payload vsst_sim_error (+ message text). tag names the
	 * offending request or is 0. The sim may close after sending one. */
	VSST_SIM_ERROR = 5,
	/* either side; no payload; answered with PONG, same tag. */
	VSST_SIM_PING = 6,
	VSST_SIM_PONG = 7,
	/* client -> sim, only once the simulator granted VSST_SIM_FEATURE_TIMED;
	 * payload: vsst_sim_submit, then the first 24..4104 bytes of an
	 * SSTRequest. The simulator starts the request no earlier than
	 * submit_ps (per device: start = max(own time, submit_ps)). */
	VSST_SIM_REQUEST_AT = 8,
};

/* HELLO feature bits: the client offers, the simulator answers with those it
 * grants. Unknown bits are ignored (a simulator that predates one simply
 * does not grant it). */
#define VSST_SIM_FEATURE_EVENTS (1u << 0) /* client accepts EVENT frames */
#define VSST_SIM_FEATURE_TIMED (1u << 1)  /* REQUEST_AT + vsst_sim_hello_timing */

struct vsst_sim_frame_hdr {
	uint32_t magic;   /* VSST_SIM_MAGIC */
	uint16_t version; /* VSST_SIM_VERSION */
	uint16_t type;    /* enum vsst_sim_frame_type */
	uint32_t length;  /* payload bytes that follow */
	uint32_t flags;   /* 0 */
	uint64_t tag;     /* chosen by the client, echoed by the sim */
} __attribute__((packed));

struct vsst_sim_hello {
	uint32_t device_id;
	uint32_t features; /* bit 0: client accepts EVENT frames */
	uint64_t clock_hz; /* sim's answer: model clock; 0 from the client */
} __attribute__((packed));

/* Follows vsst_sim_hello in the simulator's HELLO answer when it grants
 * VSST_SIM_FEATURE_TIMED: no request completes earlier than
 * submit_ps + min_latency_ps (the client's conservative horizon). */
struct vsst_sim_hello_timing {
	uint64_t min_latency_ps;
} __attribute__((packed));

/* Prefix of a REQUEST_AT payload: the requester's time of submission
 * (guest virtual time, picoseconds). */
struct vsst_sim_submit {
	uint64_t submit_ps;
} __attribute__((packed));

struct vsst_sim_resp_meta {
	uint64_t cycles;      /* simulated cycles this request took */
	uint64_t complete_ps; /* simulated completion time, picoseconds */
} __attribute__((packed));

enum vsst_sim_error_code {
	VSST_SIM_ERR_BAD_MAGIC = 1,
	VSST_SIM_ERR_BAD_VERSION = 2,
	VSST_SIM_ERR_BAD_TYPE = 3,
	VSST_SIM_ERR_BAD_LENGTH = 4,
	VSST_SIM_ERR_NO_HELLO = 5,
	VSST_SIM_ERR_INTERNAL = 6,
};

struct vsst_sim_error {
	uint32_t code; /* enum vsst_sim_error_code */
	uint32_t reserved;
	/* followed by a UTF-8 message, not NUL-terminated */
} __attribute__((packed));

#if defined(__cplusplus)
static_assert(sizeof(struct vsst_sim_frame_hdr) == 24, "frame header");
static_assert(sizeof(struct vsst_sim_resp_meta) == 16, "resp meta");
static_assert(sizeof(struct vsst_sim_hello_timing) == 8, "hello timing");
static_assert(sizeof(struct vsst_sim_submit) == 8, "submit prefix");
#endif

#endif /* VSST_SIM_WIRE_H */
