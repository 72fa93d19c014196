// SPDX-License-Identifier: Apache-2.0
// Fuzz target trace_tap: the RPC trace recorder's virtio tap (trace/
// src/recorder/virtio_tap) against a guest and a channel that say anything:
// config-space and common-config accesses, doorbells, interrupts and the
// device's used reports, over a guest RAM (a memfd) the input writes at will.
//
// Input: three limit bytes, then operations (fuzz_formats.h, trace_tap).
// Invariants (a violation aborts):
//  - no crash, no out-of-bounds access, no unbounded loop (libFuzzer's
//    timeout);
//  - what the tap remembers stays within TapLimits::inflight_bytes, one
//    call never copies more than TapLimits::call_bytes out of guest RAM;
//  - the anomaly count and the writer's record and dropped counts never
//    go down.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "../../trace/tests/tap_rig.hpp"
#include "fuzz_formats.h"
#include "fuzz_support.h"

namespace {

using namespace vsst::trace;
using vsst::fuzz::ByteReader;
using vsst::trace::testing::MappedRam;
namespace tt = vsst::fuzz::trace_tap;

constexpr size_t kRamSize = 256u << 10;
constexpr uint64_t kBar = 0xe0000000, kDesc = 0x1000, kAvail = 0x2000, kUsed = 0x3000;

// One guest RAM memfd for the whole run (mapping it per input is slow);
// every input starts from zeroed RAM.
MappedRam &ram()
{
	static MappedRam r(kRamSize);
	return r;
}

vsst_rpcmsg mmio(unsigned dir, unsigned as, uint64_t addr, unsigned len, uint64_t data, bool posted)
{
	return {vsst_rpc_mr0(VSST_RPC_OP_MMIO, 0, dir, as, len, posted), addr, data, 0};
}

struct Harness {
	Writer w;
	VirtioTap tap;
	TapLimits limits;
	uint64_t last_anomalies = 0, last_records = 0, last_dropped = 0;

	Harness(const TapLimits &l)
		: w(::open("/dev/null", O_WRONLY | O_CLOEXEC), {}, 1u << 20), tap(w, ram().view, {}, l),
		  limits(l)
	{
	}
	// A request goes to the tap before it is recorded, a completion or an
	// event after: the order trace_api uses.
	void send(int ring, const vsst_rpcmsg &m) { tap.on_message(ring, m); }
	void set_up(uint16_t qsize, unsigned dev)
	{
		const unsigned as = dev % 4;
		send(2, {vsst_rpc_mr0(VSST_RPC_OP_REGISTER_PCI_DEV, 0, 0, 0, 0, 0), as, 0x1af41042ull, 0});
		send(1, mmio(0, as, 0x20, 4, 0x4, false));
		send(0, mmio(1, as, 0x20, 4, kBar + 0x10000ull * as, false));
		send(0, mmio(1, as, 0x24, 4, 0, false));
		send(1, mmio(0, as, 0x34, 1, 0x40, false));
		send(1, mmio(0, as, 0x40, 4, 0x01105009, false));
		send(1, mmio(0, as, 0x44, 4, 0x4, false));
		send(1, mmio(0, as, 0x48, 4, 0x0, false));
		send(1, mmio(0, as, 0x4c, 4, 0x1000, false));
		send(1, mmio(0, as, 0x50, 4, 0x02140009, false));
		send(1, mmio(0, as, 0x54, 4, 0x4, false));
		send(1, mmio(0, as, 0x58, 4, 0x3000, false));
		send(1, mmio(0, as, 0x5c, 4, 0x1000, false));
		send(1, mmio(0, as, 0x60, 4, 4, false));
		const uint64_t bar = kBar + 0x10000ull * as;
		send(0, mmio(1, VSST_RPC_AS_GLOBAL, bar + 22, 2, 0, false));
		send(1, mmio(0, VSST_RPC_AS_GLOBAL, bar + 24, 2, 256, false));
		send(0, mmio(1, VSST_RPC_AS_GLOBAL, bar + 24, 2, qsize, false));
		send(0, mmio(1, VSST_RPC_AS_GLOBAL, bar + 32, 8, kDesc, false));
		send(0, mmio(1, VSST_RPC_AS_GLOBAL, bar + 40, 8, kAvail, false));
		send(0, mmio(1, VSST_RPC_AS_GLOBAL, bar + 48, 8, kUsed, false));
	}
	void check()
	{
		FUZZ_CHECK(tap.inflight_bytes() <= limits.inflight_bytes, "tap holds %llu bytes, budget %llu",
			   static_cast<unsigned long long>(tap.inflight_bytes()),
			   static_cast<unsigned long long>(limits.inflight_bytes));
		FUZZ_CHECK(tap.max_call_bytes() <= limits.call_bytes,
			   "one call copied %llu bytes, budget %llu",
			   static_cast<unsigned long long>(tap.max_call_bytes()),
			   static_cast<unsigned long long>(limits.call_bytes));
		FUZZ_CHECK(tap.anomalies() >= last_anomalies, "anomaly count went down");
		last_anomalies = tap.anomalies();
		const WriterStats st = w.stats();
		FUZZ_CHECK(st.records >= last_records && st.dropped_records >= last_dropped,
			   "writer counts went down");
		last_records = st.records;
		last_dropped = st.dropped_records;
	}
};

template <class T> void put(uint64_t gpa, T v)
{
	if (gpa + sizeof v <= kRamSize)
		std::memcpy(ram().p + gpa, &v, sizeof v);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ByteReader in(data, size);
	TapLimits l;
	l.inflight_bytes = (1u + in.u8()) << 10;
	l.chain_out_bytes = (1u + in.u8()) << 10;
	l.call_bytes = (1u + in.u8()) << 11;
	std::memset(ram().p, 0, kRamSize);
	Harness h(l);
	uint64_t bar = kBar;
	for (unsigned ops = 0; !in.empty() && ops < 4096; ops++) {
		switch (in.u8() % tt::kCount) {
		case tt::kSetUp: {
			const uint16_t qsize = in.u16();
			const unsigned dev = in.u8();
			h.set_up(qsize, dev);
			bar = kBar + 0x10000ull * (dev % 4);
			break;
		}
		case tt::kMessage: {
			const int ring = in.u8() % 3;
			vsst_rpcmsg m{};
			m.mr0 = in.u64();
			m.mr1 = in.u64();
			m.mr2 = in.u64();
			m.mr3 = in.u64();
			h.send(ring, m);
			break;
		}
		case tt::kMmio: {
			const unsigned dir = in.u8() & 1, as = in.u8();
			const uint64_t addr = in.u64();
			const unsigned len = 1u << (in.u8() % 4);
			const uint64_t v = in.u64();
			const bool posted = in.flag();
			h.send(dir ? 0 : 1, mmio(dir, as, addr, len, v, posted && dir));
			break;
		}
		case tt::kRamWrite: {
			const uint32_t gpa = in.u32() % kRamSize;
			const auto b = in.bytes(in.u8());
			const size_t n = std::min<size_t>(b.size(), kRamSize - gpa);
			std::memcpy(ram().p + gpa, b.data(), n);
			break;
		}
		case tt::kDesc: {
			const uint32_t table = in.u32(), index = in.u16(), gpa = in.u32(), len = in.u32();
			const uint16_t flags = in.u16(), next = in.u16();
			const uint64_t d = (table % kRamSize) + 16ull * index;
			put<uint64_t>(d, gpa);
			put<uint32_t>(d + 8, len);
			put<uint16_t>(d + 12, flags);
			put<uint16_t>(d + 14, next);
			break;
		}
		case tt::kAvail: {
			const uint16_t head = in.u16(), pos = in.u16();
			put<uint16_t>(kAvail + 4 + 2 * (pos % 1024), head);
			put<uint16_t>(kAvail + 2, static_cast<uint16_t>(pos + 1));
			break;
		}
		case tt::kUsed: {
			const uint16_t pos = in.u16();
			const uint32_t id = in.u32(), len = in.u32();
			put<uint32_t>(kUsed + 4 + 8 * (pos % 1024), id);
			put<uint32_t>(kUsed + 8 + 8 * (pos % 1024), len);
			put<uint16_t>(kUsed + 2, static_cast<uint16_t>(pos + 1));
			break;
		}
		case tt::kDoorbell:
			h.send(0, mmio(1, VSST_RPC_AS_GLOBAL, bar + 0x3000, 2, in.u16(), true));
			break;
		case tt::kInterrupt: {
			const uint64_t dev = in.u8();
			if (in.flag())
				h.send(2,
				       {vsst_rpc_mr0(VSST_RPC_OP_MSI, 0, 0, 0, 0, 0), 0xfee00000, 0x41, dev});
			else
				h.send(2, {vsst_rpc_mr0(VSST_RPC_OP_SET_IRQ, 0, 0, 0, 0, 0), dev, 1, 0});
			break;
		}
		case tt::kDeviceUsed: {
			const unsigned dev = in.u8(), queue = in.u8();
			const uint16_t pos = in.u16();
			const uint32_t head = in.u32(), len = in.u32();
			h.tap.device_used(dev, queue, pos, head, len);
			break;
		}
		case tt::kSync:
			h.tap.sync_all();
			break;
		default:
			break;
		}
		h.check();
	}
	h.w.finish();
	return 0;
}
