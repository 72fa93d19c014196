// SPDX-License-Identifier: Apache-2.0
// Virtio framework layer: the device initialisation sequence (3.1.1),
// feature negotiation, queue setup and interrupt dispatch, on top of any
// Transport. Drivers (sst, rng, blk) build on this class.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <type_traits>
#include <vector>

#include "vsst/virtio/accessor.h"
#include "vsst/virtio/transport.h"
#include "vsst/virtio/virtqueue.h"

namespace vsst::virtio {

class VirtioDevice {
public:
	VirtioDevice(Transport &transport, GuestMemory &mem);
	~VirtioDevice();
	VirtioDevice(const VirtioDevice &) = delete;
	VirtioDevice &operator=(const VirtioDevice &) = delete;

	Transport &transport() { return t_; }
	GuestMemory &memory() { return mem_; }

	// Reset, ACKNOWLEDGE, DRIVER, feature negotiation, FEATURES_OK and its
	// check. `supported`: device-specific bits the driver understands;
	// `required`: bits without which it cannot work. VERSION_1 is always
	// required, EVENT_IDX taken when offered (unless use_event_idx=false).
	// Returns the negotiated set. On failure sets FAILED and throws.
	uint64_t negotiate(uint64_t supported, uint64_t required = 0, bool use_event_idx = true);
	uint64_t features() const { return features_; }
	bool has_feature(unsigned bit) const { return (features_ >> bit) & 1; }

	// Creates queues 0..n-1 with at most max_sizes[i] entries (bounded by
	// the device's maximum, rounded down to a power of two) and routes their
	// interrupts. Call after negotiate(), before driver_ok().
	void setup_queues(std::span<const uint16_t> max_sizes);
	// Throws Error when queue q is not set up (also after reset()).
	SplitVirtqueue &queue(uint16_t q);
	const SplitVirtqueue &queue(uint16_t q) const;
	size_t queue_count() const { return queues_.size(); }
	unsigned config_size() const { return t_.config_size(); }

	void driver_ok();
	// Device status says it needs a reset, or a queue is broken.
	bool needs_reset();
	// Resets the device (bounded wait) and drops the queues: afterwards no
	// buffer is owned by the device any more.
	void reset();
	void fail();

	// Waits for an interrupt and returns what it concerns (empty: timeout).
	InterruptReport wait_interrupt(std::chrono::milliseconds timeout)
	{
		return t_.wait_interrupt(timeout);
	}

	// Device configuration read with the generation check (4.1.4.3.1):
	// retried while the generation moves, bounded.
	template <typename T> T read_config(unsigned offset)
	{
		static_assert(std::is_trivially_copyable_v<T>);
		T value{};
		read_config_bytes(offset, reinterpret_cast<std::byte *>(&value), sizeof(T));
		return value;
	}
	void read_config_bytes(unsigned offset, std::byte *out, size_t len);

private:
	Transport &t_;
	GuestMemory &mem_;
	uint64_t features_ = 0;
	std::vector<std::unique_ptr<SplitVirtqueue>> queues_;
};

// Driver layer base: a driver owns one initialised VirtioDevice.
class Driver {
public:
	virtual ~Driver() = default;
	virtual const char *name() const = 0;
	VirtioDevice &device() { return dev_; }

protected:
	Driver(Transport &t, GuestMemory &mem) : dev_(t, mem) {}
	// Derived destructors call this first: their buffers are freed before
	// the base, so the device must be stopped before that. Never throws.
	void quiesce() noexcept
	{
		try {
			dev_.reset();
		} catch (...) {
		}
	}
	VirtioDevice dev_;
};

// Matches devices to drivers by virtio device ID (the "bus" of the design).
class DriverRegistry {
public:
	using Factory = std::unique_ptr<Driver> (*)(Transport &, GuestMemory &);
	void add(uint32_t device_id, Factory factory);
	// Probes the matching driver (which initialises the device); nullptr
	// when no driver handles this device ID.
	std::unique_ptr<Driver> probe(Transport &t, GuestMemory &mem) const;
	// A registry with the sst, rng and blk drivers.
	static DriverRegistry with_builtin_drivers();

private:
	std::vector<std::pair<uint32_t, Factory>> entries_;
};

} // namespace vsst::virtio
