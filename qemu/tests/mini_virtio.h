// SPDX-License-Identifier: Apache-2.0
// A deliberately small modern virtio-pci driver for the backend tests: it
// programs a backend device through the RPC channel (config space via AS n,
// registers via AS global) and keeps split virtqueues in the shared guest RAM.
// The full, layered driver lives in guest-driver/lib; this one only needs to
// be obviously right.
#pragma once

#include <cstdint>
#include <vector>

#include "backend_harness.h"

namespace vsst::backend_test {

struct VirtioCaps {
	unsigned bar = 0;
	uint32_t common = 0, notify = 0, isr = 0, device = 0, notify_mult = 0;
	unsigned msix_cap = 0; // config offset of the MSI-X capability, 0 if none
	bool found_common = false;
};

struct Buf {
	uint64_t gpa;
	uint32_t len;
	bool device_writes;
};

class MiniVirtio {
public:
	// Places the device's virtio BAR at bar_gpa (and its MSI-X BAR at msix_gpa),
	// enables memory decoding and bus mastering.
	MiniVirtio(ProxyChannel &ch, GuestRam &ram, unsigned dev, uint64_t bar_gpa, uint64_t msix_gpa);

	const VirtioCaps &caps() const { return caps_; }
	uint64_t common() const { return bar_ + caps_.common; }
	uint64_t isr() const { return bar_ + caps_.isr; }
	uint64_t device_cfg() const { return bar_ + caps_.device; }

	// ACKNOWLEDGE, DRIVER, accept device features & want, FEATURES_OK.
	// Returns the negotiated feature bits (0 on failure).
	uint64_t negotiate(uint64_t want);
	// Queue q with rings at ring_gpa (3 pages), up to max_size entries.
	void setup_queue(unsigned q, uint64_t ring_gpa, unsigned max_size = 16);
	void driver_ok();
	void reset();
	// Adds one descriptor chain to queue q and (posted) notifies.
	void submit(unsigned q, const std::vector<Buf> &chain);
	uint16_t used_idx(unsigned q) const;
	// id and len of used element i of queue q.
	std::pair<uint32_t, uint32_t> used_elem(unsigned q, uint16_t i) const;
	// MSI-X: program table entry 'entry', enable MSI-X, route queue q to it.
	void msix_route(unsigned q, unsigned entry, uint64_t addr, uint32_t data);

	static uint64_t program_bar(ProxyChannel &ch, unsigned dev, unsigned bar, uint64_t gpa);
	static VirtioCaps find_caps(ProxyChannel &ch, unsigned dev);

private:
	struct Queue {
		uint64_t desc = 0, avail = 0, used = 0;
		unsigned size = 0;
		uint16_t next_desc = 0, avail_idx = 0;
		uint64_t notify = 0;
	};
	ProxyChannel &ch_;
	GuestRam &ram_;
	unsigned dev_;
	uint64_t bar_;
	uint64_t msix_bar_ = 0;
	VirtioCaps caps_;
	Queue q_[4];
};

} // namespace vsst::backend_test
