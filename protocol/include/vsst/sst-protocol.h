/* SPDX-License-Identifier: Apache-2.0 OR GPL-2.0-only */
/*
 * sst-protocol.h - the guest ABI of the virtio-sst device.
 *
 * Shared by the device core (device/), the QEMU glue, the Linux driver,
 * the simulator and the guest applications. The layout keeps the
 * reference design's structures byte for byte so its applications run
 * unchanged: SSTRequest is 4104 bytes, SSTResponse 4112 bytes, packed,
 * little-endian.
 *
 * Dual-licensed so that the GPL-2.0 kernel module may include it.
 */
#ifndef VSST_SST_PROTOCOL_H
#define VSST_SST_PROTOCOL_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stdint.h>
#endif

#define SST_PROTOCOL_VERSION 0x00010000u

/*
 * Virtio device ID. The reference design used 0x1042, which virtio-pci
 * cannot carry (PCI device id = 0x1040 + ID, ID < 64). 63 is unassigned in
 * the virtio 1.2/1.3 registry; PCI device id 0x107f. It is a property of
 * the QEMU device (virtio-id) so it can move if the ID gets assigned.
 */
#define VIRTIO_ID_SST 63
#define VIRTIO_SST_PCI_DEVICE_ID (0x1040 + VIRTIO_ID_SST)

#define SST_MAX_DATA_SIZE 4080

/* Virtqueues. */
#define SST_VQ_REQUEST 0
#define SST_VQ_RESPONSE 1
#define SST_VQ_EVENT 2
#define SST_NUM_VQS 3

enum SSTRequestType {
	SST_REQ_NOOP = 0,
	SST_REQ_ECHO = 1,
	SST_REQ_COMPUTE = 2,
	SST_REQ_READ = 3,
	SST_REQ_WRITE = 4,
	SST_REQ_RESET = 5,
	SST_REQ_GET_INFO = 6,
	SST_REQ_CONFIGURE = 7,
	SST_REQ_MAX = 8
};

enum SSTStatus {
	SST_STATUS_OK = 0,
	SST_STATUS_ERROR = 1,
	SST_STATUS_BUSY = 2,
	SST_STATUS_INVALID = 3,
	SST_STATUS_TIMEOUT = 4,
	SST_STATUS_NO_DEVICE = 5
};

/* Feature bits (virtio device-specific feature bits 0..5). */
#define SST_FEATURE_ECHO 0
#define SST_FEATURE_COMPUTE 1
#define SST_FEATURE_MEMORY 2
#define SST_FEATURE_EVENTS 3
#define SST_FEATURE_MULTI_QUEUE 4
#define SST_FEATURE_RESET 5

/* SSTRequest.flags */
#define SST_REQ_FLAG_ASYNC (1u << 0) /* COMPUTE: answer now, event on completion */

/* CONFIGURE parameter ids (payload.config.param); see sst-element/README.md. */
enum SSTConfigParam {
	SST_CFG_CLOCK_HZ = 0,
	SST_CFG_COMPUTE_UNITS = 1,
	SST_CFG_LATENCY_MODEL = 2,
	SST_CFG_UNIT_LATENCY_CYCLES = 3,
	SST_CFG_PIPELINE_STARTUP_CYCLES = 4,
	SST_CFG_UNIT_BANDWIDTH = 5,
	SST_CFG_MEM_LATENCY_CYCLES = 6,
	SST_CFG_MEM_BANDWIDTH = 7,
	SST_CFG_MEM_SIZE = 8,
	SST_CFG_MAX = 9
};

/* Latency models for COMPUTE (payload.compute.latency_model). */
enum SSTLatencyModel {
	SST_LATENCY_DEFAULT = 0, /* the device's configured model */
	SST_LATENCY_FIXED = 1,
	SST_LATENCY_PIPELINED = 2,
	SST_LATENCY_BANDWIDTH = 3,
	SST_LATENCY_MAX = 4
};

struct SSTRequest {
	uint32_t type;       /* enum SSTRequestType */
	uint32_t flags;      /* SST_REQ_FLAG_* */
	uint64_t request_id; /* assigned by the driver */
	uint64_t user_data;  /* returned unchanged in the response */
	union {
		struct {
			uint64_t compute_units;
			uint32_t latency_model;
		} __attribute__((packed)) compute;
		struct {
			uint64_t addr;
			uint32_t size;
		} __attribute__((packed)) memory;
		struct {
			uint32_t param; /* enum SSTConfigParam */
			uint32_t reserved;
			uint64_t value;
		} __attribute__((packed)) config;
		uint8_t data[SST_MAX_DATA_SIZE];
	} payload;
} __attribute__((packed));

/* WRITE data follows the memory descriptor inside payload. */
#define SST_WRITE_DATA_OFFSET 12
#define SST_MAX_WRITE_SIZE (SST_MAX_DATA_SIZE - SST_WRITE_DATA_OFFSET)

struct SSTResponse {
	uint32_t status; /* enum SSTStatus */
	uint32_t reserved;
	uint64_t request_id;
	uint64_t user_data;
	uint64_t result;
	union {
		struct {
			uint64_t cycles;
			uint64_t timestamp; /* completion time, simulated ps */
		} __attribute__((packed)) compute;
		struct {
			uint32_t version;
			uint32_t capabilities; /* feature bits */
			uint64_t max_compute_units;
			uint64_t memory_size;
		} __attribute__((packed)) info;
		uint8_t data[SST_MAX_DATA_SIZE];
	} payload;
} __attribute__((packed));

enum SSTEventType { SST_EVENT_COMPLETION = 0, SST_EVENT_ERROR = 1, SST_EVENT_NOTIFICATION = 2 };

struct SSTEvent {
	uint32_t type; /* enum SSTEventType */
	uint32_t reserved;
	uint64_t timestamp; /* simulated ps */
	uint64_t data;      /* COMPLETION: request_id of the async request */
} __attribute__((packed));

/* Device config space (virtio device-specific configuration). */
struct SSTConfig {
	uint32_t version;
	uint32_t device_id;
	uint32_t features;
	uint32_t max_queues;
} __attribute__((packed));

#define SST_REQUEST_HEADER_SIZE 24
#define SST_RESPONSE_HEADER_SIZE 32

#if defined(__cplusplus)
static_assert(sizeof(struct SSTRequest) == 4104, "SSTRequest layout");
static_assert(sizeof(struct SSTResponse) == 4112, "SSTResponse layout");
static_assert(sizeof(struct SSTEvent) == 24, "SSTEvent layout");
static_assert(sizeof(struct SSTConfig) == 16, "SSTConfig layout");
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
_Static_assert(sizeof(struct SSTRequest) == 4104, "SSTRequest layout");
_Static_assert(sizeof(struct SSTResponse) == 4112, "SSTResponse layout");
_Static_assert(sizeof(struct SSTEvent) == 24, "SSTEvent layout");
_Static_assert(sizeof(struct SSTConfig) == 16, "SSTConfig layout");
#endif

#endif /* VSST_SST_PROTOCOL_H */
