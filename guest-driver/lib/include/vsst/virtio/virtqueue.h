// SPDX-License-Identifier: Apache-2.0
// Split virtqueue, driver side (virtio 1.2, 2.7).
//
// The three ring parts live in guest memory the device can write, so
// everything read back from them is untrusted: the descriptor chains are
// tracked in private shadow state (never by following desc.next from shared
// memory), and every used element is checked (index progress, id, length)
// before the driver acts on it. A violation marks the queue broken with a
// reason; from then on nothing more is taken from it, and the in-flight
// buffers stay owned by the device until the device is reset.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vsst/virtio/accessor.h"
#include "vsst/virtio/transport.h"

namespace vsst::virtio {

// One element of a scatter-gather list, guest-physical.
struct BufferRef {
	uint64_t gpa = 0;
	uint32_t len = 0;
};

// A chain the device has finished with: the token given to add_buffer and
// the number of bytes the device wrote (validated <= the writable total).
struct UsedBuffer {
	uint64_t token = 0;
	uint32_t len = 0;
};

enum class AddResult { kOk, kNoSpace, kInvalid, kBroken };

struct VirtqueueStats {
	uint64_t added = 0, used = 0, notifies = 0, notifies_suppressed = 0;
};

class SplitVirtqueue {
public:
	using Notifier = std::function<void(uint16_t queue)>;

	// size must be a power of two in 1..32768. event_idx: whether
	// VIRTIO_F_EVENT_IDX was negotiated.
	SplitVirtqueue(GuestMemory &mem, uint16_t index, uint16_t size, bool event_idx, Notifier notify);
	SplitVirtqueue(const SplitVirtqueue &) = delete;
	SplitVirtqueue &operator=(const SplitVirtqueue &) = delete;

	uint16_t index() const { return index_; }
	uint16_t size() const { return size_; }
	QueueAddresses addresses() const;

	// Exposes out (device-readable) then in (device-writable) as one chain.
	// kNoSpace: not enough free descriptors (nothing was added).
	AddResult add_buffer(std::span<const BufferRef> out, std::span<const BufferRef> in, uint64_t token);
	// Tells the device about added buffers unless it asked not to be told.
	// Returns whether a notification was sent.
	bool kick();
	// Next used buffer, or nullopt when none (or the queue is broken).
	std::optional<UsedBuffer> get_buffer();
	// Whether get_buffer would return something now.
	bool has_used() const;

	// Interrupt suppression. enable_cb returns true when used buffers are
	// already pending, so the caller polls again instead of sleeping.
	void disable_cb();
	bool enable_cb();

	uint16_t free_descriptors() const { return num_free_; }
	uint16_t in_flight() const { return in_flight_; }
	bool broken() const { return !broken_reason_.empty(); }
	const std::string &broken_reason() const { return broken_reason_; }
	const VirtqueueStats &stats() const { return stats_; }

	// Ring memory, exposed for tests that play a (possibly hostile) device.
	struct Desc {
		uint64_t addr;
		uint32_t len;
		uint16_t flags;
		uint16_t next;
	};
	struct UsedElem {
		uint32_t id;
		uint32_t len;
	};
	Desc *desc_table() const { return desc_.as<Desc>(); }
	uint16_t *avail_words() const { return avail_.as<uint16_t>(); } // flags, idx, ring[], used_event
	std::byte *used_area() const { return used_.host(); }           // flags, idx, ring[], avail_event

private:
	struct ChainState {
		uint64_t token = 0;
		uint32_t writable = 0; // bytes the device may write
		uint16_t ndesc = 0;
		bool active = false;
	};

	void mark_broken(std::string reason);
	uint16_t read_used_idx() const;

	uint16_t index_;
	uint16_t size_;
	bool event_idx_;
	Notifier notify_;
	DmaBuffer desc_, avail_, used_;

	std::vector<ChainState> chains_; // by head descriptor
	std::vector<uint16_t> next_;     // private chain/free-list links
	uint16_t free_head_ = 0;
	uint16_t num_free_ = 0;
	uint16_t in_flight_ = 0;
	uint16_t avail_idx_ = 0;  // next avail index to publish
	uint16_t kicked_idx_ = 0; // avail index at the last kick
	uint16_t last_used_ = 0;  // next used index to consume
	bool cb_enabled_ = true;
	std::string broken_reason_;
	VirtqueueStats stats_;
};

} // namespace vsst::virtio
