// SPDX-License-Identifier: Apache-2.0
// A virtio-pci device as the recorder's virtio tap sees it, over a guest RAM
// memfd, for the tap's limit tests (replay.tap_limits) and its benchmark
// (vsst-bench-tap): BAR 4 with the common config at 0 and the notify area at
// 0x3000, queue 0 of size 8; the trace writer drains to /dev/null.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "../src/recorder/guest_ram.hpp"
#include "../src/recorder/virtio_tap.hpp"
#include "../src/recorder/writer.hpp"

namespace vsst::trace::testing {

constexpr uint64_t kBar = 0xe0000000, kDesc = 0x10000, kAvail = 0x11000, kUsed = 0x12000;
constexpr uint64_t kData = 0x100000; // buffers from here on
constexpr size_t kRamSize = 8u << 20;

inline vsst_rpcmsg mmio(unsigned as, uint64_t addr, unsigned len, unsigned dir, uint64_t data,
			bool posted = false)
{
	return {vsst_rpc_mr0(VSST_RPC_OP_MMIO, 0, dir, as, len, posted), addr, data, 7};
}

// A guest RAM memfd of size bytes at guest-physical 0, mapped here (p) and
// through the recorder's read-only view (view).
struct MappedRam {
	size_t size;
	int fd = -1;
	uint8_t *p = nullptr;
	GuestRam view;

	explicit MappedRam(size_t bytes) : size(bytes)
	{
		fd = ::memfd_create("ram", MFD_CLOEXEC);
		if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(size)) < 0)
			std::abort();
		p = static_cast<uint8_t *>(::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
		vsst_ram_layout l{};
		l.count = 1;
		l.region[0] = {0, size, 0, fd};
		if (p == MAP_FAILED || view.map(l) < 0)
			std::abort();
	}
	~MappedRam()
	{
		::munmap(p, size);
		::close(fd);
	}
	MappedRam(const MappedRam &) = delete;
	MappedRam &operator=(const MappedRam &) = delete;
};

// A virtio-pci device as the tap sees it (BAR 4: common config at 0, notify
// at 0x3000) with queue 0 of size 8, over an 8 MiB guest RAM memfd; the
// writer drains to /dev/null.
struct Rig {
	MappedRam ram{kRamSize};
	uint8_t *p = ram.p;
	Writer w;
	VirtioTap tap;

	Rig(TapLimits limits, uint64_t writer_budget = 64u << 20)
		: w(::open("/dev/null", O_WRONLY | O_CLOEXEC), {}, writer_budget),
		  tap(w, ram.view, {}, limits)
	{
		device_set_up();
	}
	~Rig() { w.finish(); }
	template <class T> void put(uint64_t gpa, T v) { std::memcpy(p + gpa, &v, sizeof v); }
	void sent(const vsst_rpcmsg &m) { tap.on_message(0, m); }
	void done(const vsst_rpcmsg &m) { tap.on_message(1, m); }
	void device_set_up()
	{
		tap.on_message(
			2, {vsst_rpc_mr0(VSST_RPC_OP_REGISTER_PCI_DEV, 0, 0, 0, 0, 0), 0, 0x1af4107full, 0});
		done(mmio(0, 0x20, 4, 0, 0x4)); // BAR4: 64-bit memory
		sent(mmio(0, 0x20, 4, 1, kBar));
		sent(mmio(0, 0x24, 4, 1, 0));
		done(mmio(0, 0x34, 1, 0, 0x40));
		done(mmio(0, 0x40, 4, 0, 0x01105009)); // common cfg, next 0x50
		done(mmio(0, 0x44, 4, 0, 0x4));
		done(mmio(0, 0x48, 4, 0, 0x0));
		done(mmio(0, 0x4c, 4, 0, 0x1000));
		done(mmio(0, 0x50, 4, 0, 0x02140009)); // notify cfg
		done(mmio(0, 0x54, 4, 0, 0x4));
		done(mmio(0, 0x58, 4, 0, 0x3000));
		done(mmio(0, 0x5c, 4, 0, 0x1000));
		done(mmio(0, 0x60, 4, 0, 4));
		sent(mmio(0xff, kBar + 22, 2, 1, 0));
		done(mmio(0xff, kBar + 24, 2, 0, 8)); // the device offers 8
		sent(mmio(0xff, kBar + 32, 8, 1, kDesc));
		sent(mmio(0xff, kBar + 40, 8, 1, kAvail));
		sent(mmio(0xff, kBar + 48, 8, 1, kUsed));
	}
	// Descriptor i of the table: len bytes at gpa, flags, next.
	void desc(uint64_t table, unsigned i, uint64_t gpa, uint32_t len, uint16_t flags, uint16_t next)
	{
		const uint64_t d = table + 16ull * i;
		put<uint64_t>(d, gpa);
		put<uint32_t>(d + 8, len);
		put<uint16_t>(d + 12, flags);
		put<uint16_t>(d + 14, next);
	}
	// Publishes head as avail entry pos (queue size 8).
	void avail(uint16_t head, uint16_t pos)
	{
		put<uint16_t>(kAvail + 4 + 2 * (pos & 7), head);
		put<uint16_t>(kAvail + 2, static_cast<uint16_t>(pos + 1));
	}
	void doorbell() { sent(mmio(0xff, kBar + 0x3000, 2, 1, 0, true)); }
	uint64_t dropped() { return w.stats().dropped_records; }
};

// An indirect table at table with n descriptors of len bytes each, all
// device-readable (write = false) or device-writable, chained in order.
inline void indirect_chain(Rig &r, uint64_t table, unsigned n, uint32_t len, bool write)
{
	for (unsigned i = 0; i < n; i++)
		r.desc(table, i, kData + 4096ull * (i % 256), len,
		       static_cast<uint16_t>((write ? 2 : 0) | (i + 1 < n ? 1 : 0)),
		       static_cast<uint16_t>(i + 1));
}

} // namespace vsst::trace::testing
