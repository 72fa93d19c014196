// SPDX-License-Identifier: Apache-2.0
// The recorder's virtio tap. It follows the virtio-pci (modern) transport
// of every device on the channel purely from the channel messages: config
// space reads and writes (BARs, the virtio capabilities), common-config
// accesses (queue addresses and sizes, device reset), doorbells (posted
// writes into the notify structure) and interrupts (MSI / SET_IRQ events).
// With guest RAM mapped it then records what the device consumes and
// produces:
//   at a doorbell of queue q: used elements of q (see below), then the new
//     avail entries from the tap's last seen index: every descriptor (and
//     indirect table), the bytes of every device-readable buffer, the ring
//     entries and the ring header -> Mem records, then an Avail record;
//   at an interrupt of device d: the same for every queue of d (entries the
//     device popped without a doorbell are marked late), then every new used
//     element: id, len and the first len bytes of the chain's device-writable
//     buffers -> Used records.
// Guest RAM is untrusted: every index, length and chain is bounded, and so
// is what the tap keeps and copies (TapLimits): queue sizes are those QEMU
// accepts, remembered chains share one budget, a chain's device-readable
// bytes and one call's copying have caps. What a limit cuts off is counted
// as DROPPED (and noted as an anomaly), never waited for. The copying runs
// under the recorder's lock, which the device VM's main loop also takes:
// the per-call cap is what bounds that wait.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "guest_ram.hpp"
#include "vsst/rpc.h"
#include "vsst/trace/format.hpp"
#include "writer.hpp"

namespace vsst::trace {

struct NondetRule {
	uint16_t vendor, device;
	uint32_t queue_mask;
};

struct TapLimits {
	// Memory for the chains remembered between their doorbell and their used
	// element, over every queue of every device (an estimate that counts the
	// per-head bookkeeping too). A queue of 1024 heads, each with a chain of
	// 130 segments, takes ~2.8 MiB.
	uint64_t inflight_bytes = 32u << 20;
	// Device-readable bytes (buffers and indirect tables) copied for one chain.
	uint64_t chain_out_bytes = 16u << 20;
	// Bytes copied out of guest RAM in one call (message, used report, sync).
	uint64_t call_bytes = 32u << 20;
};

class VirtioTap {
public:
	// QEMU's VIRTQUEUE_MAX_SIZE: virtio_queue_set_num refuses larger sizes,
	// so a queue the device runs is never larger (a driver may still shrink
	// or, within this, grow a queue past the size the device offered).
	static constexpr uint16_t kMaxQueueSize = 1024;

	VirtioTap(Writer &w, const GuestRam &ram, std::vector<NondetRule> nondet, TapLimits limits = {})
		: w_(w), ram_(ram), nondet_(std::move(nondet)), limits_(limits)
	{
	}
	// ring 0: a request (writes act here); ring 1: a completion (reads act
	// here); ring 2: an event. Callers serialise calls.
	void on_message(int ring, const vsst_rpcmsg &m);
	uint64_t anomalies() const { return anomalies_; }
	// What the tap holds now (TapLimits::inflight_bytes) and the most one
	// call copied out of guest RAM so far (TapLimits::call_bytes).
	uint64_t inflight_bytes() const { return inflight_bytes_; }
	uint64_t max_call_bytes() const { return max_call_bytes_; }
	// Walks every queue of every device (see vsst_trace_sync).
	void sync_all();
	// The device reports a used element before publishing it (see
	// vsst_trace_device_used).
	void device_used(unsigned di, unsigned qi, uint16_t pos, uint32_t head, uint32_t len);

private:
	static constexpr unsigned kMaxDevs = 240;
	static constexpr unsigned kMaxQueues = 64;
	struct Seg {
		uint64_t gpa;
		uint32_t len;
	};
	struct Queue {
		uint16_t size = 0;
		uint64_t desc = 0, avail = 0, used = 0;
		uint16_t notify_off = 0;
		uint16_t last_avail = 0, last_used = 0;
		// head -> device-writable buffers of each chain made available with
		// that head and not yet recorded as used, oldest first: a driver may
		// reuse a head whose used element no walk has recorded yet.
		std::map<uint16_t, std::deque<std::vector<Seg>>> inflight;
	};
	struct Cap {
		bool present = false;
		uint8_t bar = 0;
		uint32_t offset = 0, length = 0;
	};
	struct Dev {
		bool known = false;
		uint16_t vendor = 0, device = 0;
		uint32_t nondet_mask = 0;
		std::array<uint8_t, 256> cfg{};
		std::array<bool, 256> cfg_valid{};
		std::array<int8_t, 6> bar_type{}; // -1 unknown, 0 32-bit mem, 2 64-bit mem, 1 io
		bool caps_dirty = true;
		Cap common, notify, isr, devcfg;
		uint32_t notify_mult = 0;
		uint16_t queue_select = 0;
		std::array<Queue, kMaxQueues> q;
	};

	Dev &dev(unsigned i);
	void config_access(unsigned d, uint64_t addr, unsigned len, uint64_t data, bool write);
	void global_access(uint64_t addr, unsigned len, uint64_t data, bool write, bool posted);
	void parse_caps(Dev &d);
	uint64_t bar_base(const Dev &d, unsigned bar) const;
	bool in_cap(const Dev &d, const Cap &c, uint64_t addr, unsigned len, uint64_t &off) const;
	void common_write(unsigned di, Dev &d, uint64_t off, unsigned len, uint64_t v);
	void common_read(Dev &d, uint64_t off, unsigned len, uint64_t v);
	void reset_queues(Dev &d);
	void on_message_bounded(int ring, const vsst_rpcmsg &m);
	void device_used_bounded(unsigned di, unsigned qi, uint16_t pos, uint32_t head, uint32_t len);
	void walk_avail(unsigned di, unsigned qi, bool late);
	void walk_used(unsigned di, unsigned qi);
	static std::deque<std::vector<Seg>> *chains_of(Queue &q, uint32_t id);
	void record_used(unsigned di, unsigned qi, uint16_t pos, uint32_t id, uint32_t len);
	void walk_all(unsigned di);
	uint64_t notify_addr(const Dev &d, const Queue &q) const;
	void anomaly(const std::string &what);
	bool mem(unsigned di, unsigned qi, uint64_t gpa, uint32_t len);
	void begin_call();
	void end_call();
	bool take_copy(uint64_t n);
	void remember(Queue &q, uint16_t head, std::vector<Seg> in);
	void forget_front(Queue &q, uint16_t head);

	Writer &w_;
	const GuestRam &ram_;
	std::vector<NondetRule> nondet_;
	TapLimits limits_;
	std::map<unsigned, Dev> devs_;
	uint64_t anomalies_ = 0;
	uint64_t inflight_bytes_ = 0;
	uint64_t call_copied_ = 0, max_call_bytes_ = 0;
	std::vector<uint8_t> scratch_;
};

} // namespace vsst::trace
