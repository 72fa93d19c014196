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
// Guest RAM is untrusted: every index, length and chain is bounded.
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

class VirtioTap {
public:
	VirtioTap(Writer &w, const GuestRam &ram, std::vector<NondetRule> nondet)
		: w_(w), ram_(ram), nondet_(std::move(nondet))
	{
	}
	// ring 0: a request (writes act here); ring 1: a completion (reads act
	// here); ring 2: an event. Callers serialise calls.
	void on_message(int ring, const vsst_rpcmsg &m);
	uint64_t anomalies() const { return anomalies_; }
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
	void walk_avail(unsigned di, unsigned qi, bool late);
	void walk_used(unsigned di, unsigned qi);
	static std::deque<std::vector<Seg>> *chains_of(Queue &q, uint32_t id);
	void record_used(unsigned di, unsigned qi, uint16_t pos, uint32_t id, uint32_t len);
	void walk_all(unsigned di);
	uint64_t notify_addr(const Dev &d, const Queue &q) const;
	void anomaly(const std::string &what);
	void mem(unsigned di, unsigned qi, uint64_t gpa, uint32_t len);

	Writer &w_;
	const GuestRam &ram_;
	std::vector<NondetRule> nondet_;
	std::map<unsigned, Dev> devs_;
	uint64_t anomalies_ = 0;
	std::vector<uint8_t> scratch_;
};

} // namespace vsst::trace
