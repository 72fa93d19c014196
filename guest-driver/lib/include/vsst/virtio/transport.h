// SPDX-License-Identifier: Apache-2.0
// Transport layer interface: what the virtio framework needs from a bus
// (virtio-pci modern, virtio-mmio). Register layout and interrupt routing
// differ per bus; the handshake and the rings above them do not.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace vsst::virtio {

// Guest-physical addresses of one split ring's three parts.
struct QueueAddresses {
	uint64_t desc = 0;
	uint64_t avail = 0; // "driver area"
	uint64_t used = 0;  // "device area"
};

// What an interrupt wait found: which queues have used buffers, whether
// the device configuration changed.
struct InterruptReport {
	std::vector<uint16_t> queues; // queues to poll (all queues on a shared line)
	bool config_changed = false;
	bool any() const { return config_changed || !queues.empty(); }
};

class Transport {
public:
	virtual ~Transport() = default;

	virtual std::string name() const = 0;   // for messages, e.g. "pci dev 0"
	virtual uint32_t device_id() const = 0; // virtio device ID (5)

	virtual uint8_t status() = 0;
	virtual void set_status(uint8_t s) = 0;
	// Writes 0 and waits (bounded) until the device reads back 0.
	virtual void reset() = 0;

	virtual uint64_t device_features() = 0;
	virtual void set_driver_features(uint64_t f) = 0;

	virtual uint16_t num_queues() = 0;
	// 0 when the queue does not exist.
	virtual uint16_t queue_max_size(uint16_t q) = 0;
	// Program size and addresses, route the queue's interrupt, enable it.
	virtual void enable_queue(uint16_t q, uint16_t size, const QueueAddresses &addr) = 0;
	virtual void notify(uint16_t q) = 0;

	// Device-specific configuration space, len 1, 2 or 4.
	virtual uint32_t read_config(unsigned offset, unsigned len) = 0;
	virtual void write_config(unsigned offset, unsigned len, uint32_t value) = 0;
	virtual uint32_t config_generation() = 0;
	virtual unsigned config_size() const = 0;

	// Called once before queues are enabled: set up interrupt routing for
	// nqueues queues (MSI-X vectors or a shared line).
	virtual void setup_interrupts(uint16_t nqueues) = 0;
	// Waits (bounded) for an interrupt; an empty report means timeout.
	virtual InterruptReport wait_interrupt(std::chrono::milliseconds timeout) = 0;
	// "msix" or "intx"/"line", for reports.
	virtual std::string interrupt_mode() const = 0;
};

} // namespace vsst::virtio
