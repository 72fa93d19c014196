// SPDX-License-Identifier: Apache-2.0
// Writes the seed corpora of the fuzz targets: `fuzz-gen-corpus <dir>`
// creates <dir>/<target>/<seed>. Each seed is a small, meaningful session in
// the target's input format (fuzz_formats.h): valid messages of every kind,
// valid frames, a valid request of each type, plus the classic hostile
// moves, so the fuzzer starts from deep states. The committed corpus
// (tests/fuzz/corpus) is this program's output; fuzz.seed_corpus checks it.
#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <string>

#include "fuzz_formats.h"
#include "fuzz_support.h"
#include "vsst/protocol/wire_size.h"
#include "vsst/rpc/message.hpp"
#include "vsst/sim-wire.h"
#include "vsst/sst-protocol.h"
#include "vsst/trace/format.hpp"

namespace {

using vsst::fuzz::ByteWriter;
using namespace vsst::rpc;

std::string g_root;
int g_count = 0;

void save(const char *target, const char *name, const ByteWriter &w)
{
	const std::string dir = g_root + "/" + target;
	::mkdir(g_root.c_str(), 0755);
	::mkdir(dir.c_str(), 0755);
	const std::string path = dir + "/" + name;
	FILE *f = std::fopen(path.c_str(), "wb");
	if (!f || std::fwrite(w.data().data(), 1, w.size(), f) != w.size() || std::fclose(f) != 0) {
		std::perror(path.c_str());
		std::exit(1);
	}
	++g_count;
}

// ------------------------------------------------------------------ rpc_ring
namespace rr = vsst::fuzz::rpc_ring;

ByteWriter rpc_header(uint8_t cap_sel, uint8_t spin)
{
	ByteWriter w;
	w.u8(cap_sel).u8(spin);
	return w;
}
void rpc_mmio(ByteWriter &w, uint8_t as_sel, uint64_t addr, uint8_t len, uint8_t dir, uint64_t data)
{
	w.u8(rr::kProxyMmio).u8(as_sel).u64(addr).u8(len).u8(dir).u64(data).u8(0);
}
void rpc_post(ByteWriter &w, uint8_t as_sel, uint64_t addr, uint8_t len, uint64_t data)
{
	w.u8(rr::kProxyPost).u8(as_sel).u64(addr).u8(len).u64(data);
}
void rpc_event(ByteWriter &w, uint8_t kind, uint64_t a, uint64_t b, uint64_t c)
{
	w.u8(rr::kDevSendEvent).u8(kind).u64(a).u64(b).u64(c);
}

void rpc_ring_seeds()
{
	{ // every valid event kind, received in order
		ByteWriter w = rpc_header(1, 1);
		rpc_event(w, 5, VSST_RPC_PROTOCOL_VERSION, 0, 0);            // HELLO
		rpc_event(w, 2, 0, 0x1af4107f, 0xff0000);                    // REGISTER_PCI_DEV
		rpc_event(w, 3, 0xfe000000, 0x4000, VSST_RPC_REGION_POSTED); // MMIO_REGION_CONFIG
		rpc_event(w, 1, 0, 0, 0);                                    // START_VM
		rpc_event(w, 0, 0, 1, 0);                                    // SET_IRQ set
		rpc_event(w, 4, 0xfee00000, 0x0101, 0);                      // MSI
		rpc_event(w, 6, 0, 0, 0);                                    // STOP
		for (int i = 0; i < 8; ++i)
			w.u8(rr::kProxyRecvEvent);
		w.u8(rr::kProxyWaitEvent);
		save("rpc_ring", "events_all_kinds", w);
	}
	{ // posted writes, control messages and synchronous accesses reach the device in order
		ByteWriter w = rpc_header(2, 0);
		w.u8(rr::kProxySend).u8(0).u64(VSST_RPC_PROTOCOL_VERSION).u64(0); // HELLO
		rpc_post(w, 0, 0xfe003000, 4, 1);                                 // doorbell
		rpc_post(w, 1, 0xcf8, 2, 0xbeef);                                 // I/O port
		rpc_mmio(w, 2, 0x10, 4, 0, 0);                                    // config read, device 0
		rpc_mmio(w, 0, 0xfe000014, 1, 1, 0x0f);                           // BAR write
		rpc_mmio(w, 0, 0xfe000000, 8, 0, 0);                              // BAR read
		for (int i = 0; i < 6; ++i)
			w.u8(rr::kDevWait);
		w.u8(rr::kDevComplete).u8(0).u8(0).u64(0x12345678); // late completion
		w.u8(rr::kDevComplete).u8(0).u8(1).u64(0);          // completed with an error
		w.u8(rr::kDevComplete).u8(0).u8(0).u64(0xffffffffffffffffull);
		rpc_mmio(w, 0, 0xfe000004, 4, 0, 0); // drains the late completions
		w.u8(rr::kDevWait);
		w.u8(rr::kDevComplete).u8(3).u8(4).u64(7); // bogus request: refused
		w.u8(rr::kProxySend).u8(1).u64(0).u64(0);  // STOP
		w.u8(rr::kDevWait);
		save("rpc_ring", "requests_in_order", w);
	}
	{ // forged completions: matching, then each field corrupted
		for (uint8_t field = 0; field < 4; ++field) {
			ByteWriter w = rpc_header(0, 2);
			rpc_mmio(w, 0, 0xfe000010, 4, 0, 0);
			w.u8(rr::kDevWait);
			w.u8(rr::kForgeCompletion)
				.u8(0)
				.u8(static_cast<uint8_t>(4 | field))
				.u64(1)
				.u64(0xabcd)
				.u8(0);
			rpc_mmio(w, 0, 0xfe000010, 4, 0, 0);
			w.u8(rr::kProxyRecvEvent);
			char name[40];
			std::snprintf(name, sizeof name, "forged_completion_word%u", field);
			save("rpc_ring", name, w);
		}
		ByteWriter w = rpc_header(0, 2);
		rpc_mmio(w, 0, 0xfe000010, 4, 0, 0);
		w.u8(rr::kDevWait);
		w.u8(rr::kForgeCompletion).u8(0).u8(0).u64(0).u64(0xabcd).u8(0); // an exact duplicate of the
										 // answer
		w.u8(rr::kDevComplete).u8(0).u8(0).u64(0xabcd);
		rpc_mmio(w, 0, 0xfe000010, 4, 0, 0);
		save("rpc_ring", "completion_twice", w);
	}
	{ // impossible indices on each ring
		for (uint8_t ring = 0; ring < 3; ++ring) {
			ByteWriter w = rpc_header(1, 0);
			w.u8(rr::kSetProd).u8(ring).u32(1000);
			w.u8(rr::kDevWait).u8(rr::kProxyRecvEvent);
			rpc_mmio(w, 0, 0x1000, 4, 0, 0);
			w.u8(rr::kSetCons).u8(ring).u32(0xfffffff0u);
			rpc_event(w, 1, 0, 0, 0);
			rpc_post(w, 0, 0x2000, 4, 0);
			char name[40];
			std::snprintf(name, sizeof name, "bad_indices_ring%u", ring);
			save("rpc_ring", name, w);
		}
	}
	{ // a rogue producer's messages: valid, then invalid, on the events ring
		ByteWriter w = rpc_header(1, 0);
		const Message msgs[] = {set_irq(0, 1), msi(0xfee00000, 0x21, 0),
					Message{make_mr0(Op::SetIrq), 0, 7, 0},
					Message{make_mr0(Op::Mmio, 3, Dir::Read, kAsGlobal, 4), 0x1000, 0, 1},
					Message{63, 0, 0, 0}};
		for (const Message &m : msgs) {
			w.u8(rr::kForgeMessage).u8(2).pod(m);
			w.u8(rr::kProxyRecvEvent);
		}
		w.u8(rr::kForgeMessage).u8(0).pod(mmio_request(5, kAsGlobal, 0x3000, 8, Dir::Write, 9, 1));
		w.u8(rr::kForgeMessage).u8(0).pod(mmio_request(5, kAsGlobal, 0x3000, 8, Dir::Write, 9, 2));
		w.u8(rr::kDevWait).u8(rr::kDevWait);
		save("rpc_ring", "rogue_producer", w);
	}
	{ // header corrupted, then both roles re-attach
		ByteWriter w = rpc_header(2, 0);
		w.u8(rr::kRawWrite).u16(12).u8(4).u32(3); // ring_capacity
		w.u8(rr::kReattach).u8(0).u8(rr::kReattach).u8(1);
		w.u8(rr::kRawWrite).u16(64).u8(8).u32(2).u32(0); // poison_state = poisoned
		w.u8(rr::kRawWrite).u16(72).u8(8).raw("garbage\x01", 8);
		w.u8(rr::kDevWait).u8(rr::kProxyRecvEvent);
		save("rpc_ring", "header_and_poison_state", w);
	}
	{ // explicit poisoning from each side
		ByteWriter w = rpc_header(1, 0);
		rpc_post(w, 0, 0x2000, 4, 0);
		w.u8(rr::kPoison).u8(1).u8(13).raw("device failed", 13);
		w.u8(rr::kDevWait).u8(rr::kProxyRecvEvent);
		rpc_mmio(w, 0, 0x1000, 4, 0, 0);
		save("rpc_ring", "poison_device", w);
		ByteWriter v = rpc_header(1, 0);
		v.u8(rr::kPoison).u8(0).u8(0);
		v.u8(rr::kDevWait);
		save("rpc_ring", "poison_proxy_empty_reason", v);
	}
	{ // a full requests ring with nobody consuming, then drained
		ByteWriter w = rpc_header(0, 0);
		for (int i = 0; i < 4; ++i)
			rpc_post(w, 0, 0x2000 + 4 * i, 4, i);
		for (int i = 0; i < 4; ++i)
			w.u8(rr::kDevWait);
		save("rpc_ring", "ring_full", w);
	}
}

// ------------------------------------------------------------ device_request
namespace dr = vsst::fuzz::device_request;

void typed(ByteWriter &w, uint8_t type, uint8_t flags, uint64_t id, uint64_t a, uint32_t b,
	   uint16_t extra = 0)
{
	w.u8(dr::kSubmitTyped).u8(type).u8(flags).u64(id).u64(a).u32(b).u16(extra);
}

void device_request_seeds()
{
	{ // one valid request of each type
		ByteWriter w;
		w.u8(0);
		typed(w, SST_REQ_NOOP, 0, 1, 0, 0);
		typed(w, SST_REQ_ECHO, 0, 2, 0, 40);
		typed(w, SST_REQ_COMPUTE, 0, 3, 1000, SST_LATENCY_PIPELINED);
		typed(w, SST_REQ_COMPUTE, SST_REQ_FLAG_ASYNC, 4, 64, SST_LATENCY_DEFAULT);
		typed(w, SST_REQ_READ, 0, 5, 0x1000, 256);
		typed(w, SST_REQ_WRITE, 0, 6, 0x2000, 64);
		typed(w, SST_REQ_RESET, 0, 7, 0, 0);
		typed(w, SST_REQ_GET_INFO, 0, 8, 0, 0);
		typed(w, SST_REQ_CONFIGURE, 0, 9, 8, SST_CFG_COMPUTE_UNITS);
		w.u8(dr::kReap);
		save("device_request", "each_type_valid", w);
	}
	{ // the malformed ones: unknown type, bad flags, short descriptors, bad ranges
		ByteWriter w;
		w.u8(0);
		typed(w, SST_REQ_MAX, 0, 1, 0, 0);
		typed(w, SST_REQ_ECHO, SST_REQ_FLAG_ASYNC, 2, 0, 0);
		typed(w, SST_REQ_NOOP, 2, 3, 0, 0);
		typed(w, SST_REQ_COMPUTE, 0, 4, 1, SST_LATENCY_MAX);
		typed(w, SST_REQ_READ, 0, 5, 0, 0);                       // size 0
		typed(w, SST_REQ_READ, 0, 6, UINT64_MAX - 4, 16);         // wraps
		typed(w, SST_REQ_WRITE, 0, 7, 0, SST_MAX_WRITE_SIZE + 1); // too large
		typed(w, SST_REQ_WRITE, 0, 8, 0x100, 64, 8 | 0);          // 4 bytes of data missing
		typed(w, SST_REQ_CONFIGURE, 0, 9, 0, SST_CFG_MAX);
		typed(w, SST_REQ_COMPUTE, 0, 10, 1, 0, 8); // descriptor cut short
		w.u8(dr::kReap);
		save("device_request", "each_type_malformed", w);
	}
	{ // raw bytes: header only, short, overlong, NULL, a full-size ECHO
		ByteWriter w;
		w.u8(0);
		SSTRequest r{};
		r.type = SST_REQ_ECHO;
		r.request_id = 0x1122334455667788ull;
		r.user_data = 0x99;
		for (size_t i = 0; i < sizeof r.payload.data; ++i)
			r.payload.data[i] = static_cast<uint8_t>(i * 7);
		w.u8(dr::kSubmit).u16(sizeof r).pod(r);
		w.u8(dr::kSubmit).u16(SST_REQUEST_HEADER_SIZE).raw(&r, SST_REQUEST_HEADER_SIZE);
		w.u8(dr::kSubmit).u16(SST_REQUEST_HEADER_SIZE - 1).raw(&r, SST_REQUEST_HEADER_SIZE - 1);
		w.u8(dr::kSubmit).u16(0);
		w.u8(dr::kSubmitNull).u16(sizeof r);
		w.u8(dr::kSubmit).u16(sizeof r + 8).pod(r).u64(0);
		w.u8(dr::kReap);
		save("device_request", "raw_lengths", w);
	}
	{ // max_inflight 2: the third submit is refused until a reap; cancel_all forgets
		ByteWriter w;
		w.u8(1);
		for (int i = 0; i < 3; ++i)
			typed(w, SST_REQ_NOOP, 0, 100 + i, 0, 0);
		w.u8(dr::kReap);
		typed(w, SST_REQ_READ, 0, 200, 0, 8);
		w.u8(dr::kCancelAll);
		typed(w, SST_REQ_NOOP, 0, 201, 0, 0);
		typed(w, SST_REQ_NOOP, 0, 202, 0, 0);
		w.u8(dr::kReap);
		save("device_request", "inflight_limit_cancel", w);
	}
}

// ----------------------------------------------------------- virtqueue_chain
namespace vc = vsst::fuzz::virtqueue_chain;

void vq_add(ByteWriter &w, uint8_t nout, uint8_t nin, uint64_t gpa = 0x200000, uint32_t len = 64)
{
	w.u8(vc::kAdd).u8(nout).u8(nin);
	for (int i = 0; i < nout + nin; ++i)
		w.u64(gpa + 0x1000u * i).u32(len);
}

void virtqueue_seeds()
{
	for (uint8_t event_idx = 0; event_idx < 2; ++event_idx) { // an honest device, two sizes
		ByteWriter w;
		w.u8(3).u8(event_idx);
		vq_add(w, 1, 1);
		vq_add(w, 2, 1);
		vq_add(w, 0, 3);
		w.u8(vc::kKick);
		w.u8(vc::kComplete).u8(1).u32(40);
		w.u8(vc::kComplete).u8(0).u32(4112);
		w.u8(vc::kGet).u8(vc::kGet);
		w.u8(vc::kDisableCb);
		w.u8(vc::kComplete).u8(0).u32(1);
		w.u8(vc::kEnableCb).u8(vc::kGet);
		vq_add(w, 4, 4); // 8 descriptors of 8: only fits once the others are back
		w.u8(vc::kKick);
		save("virtqueue_chain", event_idx ? "honest_event_idx" : "honest", w);
	}
	{ // refused adds: empty, zero length, wrapping address, > 4 GiB writable, no space
		ByteWriter w;
		w.u8(2).u8(0);
		vq_add(w, 0, 0);
		vq_add(w, 1, 0, 0x1000, 0);
		vq_add(w, 1, 0, UINT64_MAX - 10, 64);
		vq_add(w, 0, 2, 0x1000, 0xffffffffu);
		vq_add(w, 3, 2);
		vq_add(w, 2, 2);
		vq_add(w, 1, 0);
		save("virtqueue_chain", "refused_adds", w);
	}
	{ // hostile used rings, one violation each
		const struct {
			const char *name;
			uint32_t id, len;
			uint16_t idx;
		} bad[] = {{"used_id_out_of_range", 1000, 0, 1},
			   {"used_id_not_a_head", 1, 0, 1},
			   {"used_len_too_large", 0, 5000, 1},
			   {"used_idx_jump", 0, 0, 40}};
		for (const auto &b : bad) {
			ByteWriter w;
			w.u8(3).u8(0);
			vq_add(w, 1, 1);
			vq_add(w, 1, 1);
			w.u8(vc::kUsedElem).u16(0).u32(b.id).u32(b.len);
			w.u8(vc::kUsedIdx).u16(b.idx);
			w.u8(vc::kGet).u8(vc::kGet);
			vq_add(w, 1, 1);
			save("virtqueue_chain", b.name, w);
		}
		ByteWriter w; // the same head completed twice
		w.u8(3).u8(1);
		vq_add(w, 1, 1);
		w.u8(vc::kUsedElem).u16(0).u32(0).u32(8);
		w.u8(vc::kUsedElem).u16(1).u32(0).u32(8);
		w.u8(vc::kUsedIdx).u16(2);
		w.u8(vc::kGet).u8(vc::kGet).u8(vc::kEnableCb);
		save("virtqueue_chain", "used_twice", w);
	}
	{ // the device scribbles over the descriptor table and avail ring
		ByteWriter w;
		w.u8(2).u8(1);
		vq_add(w, 1, 1);
		w.u8(vc::kRawWrite).u8(0).u16(0).u8(32);
		for (int i = 0; i < 32; ++i)
			w.u8(0xff);
		w.u8(vc::kRawWrite).u8(1).u16(2).u8(2).u16(0x7777);
		w.u8(vc::kComplete).u8(0).u32(64);
		w.u8(vc::kGet);
		vq_add(w, 2, 1);
		w.u8(vc::kKick);
		save("virtqueue_chain", "scribbled_tables", w);
	}
}

// --------------------------------------------------------------- sim_framing
namespace sf = vsst::fuzz::sim_framing;

void frame(ByteWriter &w, uint16_t type, uint64_t tag, const void *payload, uint32_t len)
{
	vsst_sim_frame_hdr h{};
	h.magic = VSST_SIM_MAGIC;
	h.version = VSST_SIM_VERSION;
	h.type = type;
	h.length = len;
	h.tag = tag;
	w.pod(h);
	if (len)
		w.raw(payload, len);
}

SSTRequest request_of(uint32_t type, uint64_t id)
{
	SSTRequest r{};
	r.type = type;
	r.request_id = id;
	switch (type) {
	case SST_REQ_COMPUTE:
		r.payload.compute.compute_units = 500;
		r.payload.compute.latency_model = SST_LATENCY_BANDWIDTH;
		break;
	case SST_REQ_READ:
	case SST_REQ_WRITE:
		r.payload.memory.addr = 0x4000;
		r.payload.memory.size = 128;
		break;
	case SST_REQ_CONFIGURE:
		r.payload.config.param = SST_CFG_UNIT_LATENCY_CYCLES;
		r.payload.config.value = 50;
		break;
	}
	return r;
}

// Payload bytes a framed client sends for `r` (the protocol's one rule).
uint32_t wire_len(const SSTRequest &r)
{
	return vsst::request_wire_size(r);
}

void sim_framing_seeds()
{
	const vsst_sim_hello hello{5, 1, 0};
	{ // server: a framed session with every request type, pings, an async compute
		for (uint8_t mode : {sf::kServerFramed, sf::kServerAuto}) {
			ByteWriter stream;
			frame(stream, VSST_SIM_HELLO, 0, &hello, sizeof hello);
			frame(stream, VSST_SIM_PING, 77, nullptr, 0);
			for (uint32_t t = 0; t < SST_REQ_MAX; ++t) {
				SSTRequest r = request_of(t, 10 + t);
				frame(stream, VSST_SIM_REQUEST, 100 + t, &r, wire_len(r));
			}
			SSTRequest async = request_of(SST_REQ_COMPUTE, 99);
			async.flags = SST_REQ_FLAG_ASYNC;
			frame(stream, VSST_SIM_REQUEST, 200, &async, wire_len(async));
			ByteWriter w;
			w.u8(mode);
			w.u8(sf::kSrvFeed)
				.u16(static_cast<uint16_t>(stream.size()))
				.raw(stream.data().data(), stream.size())
				.u8(3);
			w.u8(sf::kSrvDrainModel);
			w.u8(sf::kSrvFeed).u16(0).u8(0);
			w.u8(sf::kSrvDrainModel);
			save("sim_framing",
			     mode == sf::kServerAuto ? "server_auto_framed_session" : "server_framed_session",
			     w);
		}
	}
	{ // server: recoverable and fatal errors
		ByteWriter w;
		w.u8(sf::kServerFramed);
		SSTRequest r = request_of(SST_REQ_NOOP, 1);
		w.u8(sf::kSrvFrame)
			.u16(VSST_SIM_REQUEST)
			.u64(1)
			.u16(SST_REQUEST_HEADER_SIZE)
			.raw(&r, SST_REQUEST_HEADER_SIZE)
			.u8(0); // before HELLO
		save("sim_framing", "server_request_before_hello", w);
		ByteWriter v;
		v.u8(sf::kServerFramed);
		v.u8(sf::kSrvFrame).u16(VSST_SIM_HELLO).u64(0).u16(4).u32(0).u8(0); // short HELLO
		v.u8(sf::kSrvFrame).u16(VSST_SIM_HELLO).u64(0).u16(sizeof hello).pod(hello).u8(0);
		v.u8(sf::kSrvFrame).u16(VSST_SIM_RESPONSE).u64(3).u16(0).u8(0);       // wrong direction
		v.u8(sf::kSrvFrame).u16(VSST_SIM_REQUEST).u64(4).u16(8).u64(0).u8(0); // too short
		v.u8(sf::kSrvFrame)
			.u16(VSST_SIM_REQUEST)
			.u64(5)
			.u16(VSST_SIM_MAX_PAYLOAD + 1)
			.u8(0); // oversize
		v.u8(sf::kSrvDrainModel);
		save("sim_framing", "server_bad_frames", v);
	}
	{ // server: the acalsim raw stream (configured and detected), one request of each type
		for (uint8_t mode : {sf::kServerAcalsim, sf::kServerAuto}) {
			ByteWriter w;
			w.u8(mode);
			for (uint32_t t = 0; t < SST_REQ_MAX; ++t) {
				SSTRequest r = request_of(t, 1 + t);
				if (mode == sf::kServerAuto && t == 0)
					r.type = 0x01010101; // not the framed magic: acalsim detected
				w.u8(sf::kSrvFeed).u16(sizeof r).pod(r).u8(0);
				if (t % 3 == 2)
					w.u8(sf::kSrvDrainModel);
			}
			w.u8(sf::kSrvFeed).u16(100).raw(&hello, sizeof hello); // a truncated request
			for (size_t i = sizeof hello; i < 100; ++i)
				w.u8(0);
			w.u8(0);
			w.u8(sf::kSrvDrainModel);
			save("sim_framing",
			     mode == sf::kServerAuto ? "server_auto_acalsim" : "server_acalsim", w);
		}
	}
	{ // client, framed: greeting, forwarded requests, answers in any order, events, errors, timers
		ByteWriter w;
		w.u8(sf::kClientFramed);
		w.u8(sf::kCliSend).u8(SST_REQ_COMPUTE).u16(12); // waits for the handshake
		for (size_t i = 0; i < SST_REQUEST_HEADER_SIZE + 12; ++i)
			w.u8(static_cast<uint8_t>(i));
		w.u8(sf::kCliFrame).u16(VSST_SIM_HELLO).u8(0).u64(0).u16(sizeof hello).pod(hello);
		w.u8(sf::kCliSend).u8(SST_REQ_READ).u16(12);
		for (size_t i = 0; i < SST_REQUEST_HEADER_SIZE + 12; ++i)
			w.u8(0);
		w.u8(sf::kCliSend).u8(SST_REQ_CONFIGURE).u16(16);
		for (size_t i = 0; i < SST_REQUEST_HEADER_SIZE + 16; ++i)
			w.u8(1);
		w.u8(sf::kCliResponse).u8(2).u32(SST_STATUS_OK).u16(16);
		w.u8(sf::kCliResponse).u8(0).u32(SST_STATUS_OK).u16(24); // the capacity probe
		w.u8(sf::kCliFrame).u16(VSST_SIM_PING).u8(9).u64(0).u16(0);
		const SSTEvent ev{SST_EVENT_COMPLETION, 0, 1000, 3};
		w.u8(sf::kCliFrame).u16(VSST_SIM_EVENT).u8(0).u64(0).u16(sizeof ev).pod(ev);
		w.u8(sf::kCliFrame)
			.u16(VSST_SIM_ERROR)
			.u8(3)
			.u64(0)
			.u16(12)
			.u32(VSST_SIM_ERR_INTERNAL)
			.u32(0)
			.raw("oops", 4);
		w.u8(sf::kCliResponse).u8(1).u32(SST_STATUS_BUSY).u16(0);
		w.u8(sf::kCliSend).u8(SST_REQ_WRITE).u16(40);
		for (size_t i = 0; i < SST_REQUEST_HEADER_SIZE + 40; ++i)
			w.u8(2);
		w.u8(sf::kCliExpire).u32(1500);                         // times out, tag retired
		w.u8(sf::kCliResponse).u8(3).u32(SST_STATUS_OK).u16(0); // late reply dropped
		w.u8(sf::kCliSend).u8(SST_REQ_COMPUTE).u16(12);
		for (size_t i = 0; i < SST_REQUEST_HEADER_SIZE + 12; ++i)
			w.u8(3);
		w.u8(sf::kCliCancel);
		w.u8(sf::kCliReconnect);
		w.u8(sf::kCliSend).u8(SST_REQ_READ).u16(12);
		for (size_t i = 0; i < SST_REQUEST_HEADER_SIZE + 12; ++i)
			w.u8(4);
		save("sim_framing", "client_framed_session", w);
	}
	{ // client, framed: peer faults
		ByteWriter w;
		w.u8(sf::kClientFramed);
		w.u8(sf::kCliFrame).u16(VSST_SIM_RESPONSE).u8(1).u64(0).u16(48); // before HELLO
		for (int i = 0; i < 48; ++i)
			w.u8(0);
		w.u8(sf::kCliReconnect);
		w.u8(sf::kCliFeed).u16(24).u32(0x12345678).u32(0).u64(0).u64(0); // bad magic
		w.u8(sf::kCliReconnect);
		w.u8(sf::kCliFrame).u16(VSST_SIM_HELLO).u8(0).u64(0).u16(sizeof hello).pod(hello);
		w.u8(sf::kCliResponse).u8(200).u32(0).u16(0); // a tag never sent
		save("sim_framing", "client_framed_faults", w);
	}
	{ // client, acalsim: one request on the wire at a time, a timeout and its ghost answer
		ByteWriter w;
		w.u8(sf::kClientAcalsim);
		for (int i = 0; i < 3; ++i) {
			w.u8(sf::kCliSend).u8(SST_REQ_COMPUTE).u16(12);
			for (size_t k = 0; k < SST_REQUEST_HEADER_SIZE + 12; ++k)
				w.u8(static_cast<uint8_t>(i));
		}
		w.u8(sf::kCliResponse).u8(0).u32(SST_STATUS_OK).u16(0);
		w.u8(sf::kCliExpire).u32(1200);
		w.u8(sf::kCliResponse).u8(0).u32(SST_STATUS_OK).u16(0); // the ghost
		w.u8(sf::kCliResponse).u8(0).u32(9).u16(0);             // unknown status
		w.u8(sf::kCliResponse).u8(0).u32(0).u16(0);             // nobody asked
		w.u8(sf::kCliReconnect);
		w.u8(sf::kCliSend).u8(SST_REQ_READ).u16(12);
		for (size_t k = 0; k < SST_REQUEST_HEADER_SIZE + 12; ++k)
			w.u8(0);
		w.u8(sf::kCliCancel);
		w.u8(sf::kCliResponse).u8(0).u32(0).u16(0);
		save("sim_framing", "client_acalsim_session", w);
	}
}

// Loop: the device core's client against the server, clean and with damage.
void loop_seeds()
{
	for (uint8_t mode : {sf::kLoopFramed, sf::kLoopAcalsim}) {
		const bool acalsim = mode == sf::kLoopAcalsim;
		ByteWriter w;
		w.u8(mode);
		w.u8(sf::kLoopToServer).u8(0).u16(0); // HELLO (framed)
		w.u8(sf::kLoopToClient).u8(0).u16(0);
		for (uint32_t t = 0; t < SST_REQ_MAX; ++t) {
			const SSTRequest r = request_of(t, 0x100 + t);
			const uint16_t extra = static_cast<uint16_t>(wire_len(r) - SST_REQUEST_HEADER_SIZE);
			w.u8(sf::kLoopSend).u8(static_cast<uint8_t>(t)).u16(extra).raw(&r, wire_len(r));
		}
		w.u8(sf::kLoopToServer).u8(3).u16(100); // in two pieces
		w.u8(sf::kLoopToClient).u8(3).u16(4000);
		w.u8(sf::kLoopToClient).u8(0).u16(0); // probes answered
		save("sim_framing", acalsim ? "loop_acalsim_clean" : "loop_framed_clean", w);

		ByteWriter v;
		v.u8(mode);
		v.u8(sf::kLoopToServer).u8(0).u16(0).u8(sf::kLoopToClient).u8(0).u16(0);
		for (int i = 0; i < 3; ++i) {
			const SSTRequest r = request_of(SST_REQ_COMPUTE, 0x200 + i);
			v.u8(sf::kLoopSend).u8(SST_REQ_COMPUTE).u16(12).raw(&r, wire_len(r));
		}
		v.u8(sf::kLoopToServer).u8(0).u16(0);
		v.u8(sf::kLoopExpire).u32(1500); // the client gives up; late answers follow
		v.u8(sf::kLoopToClient).u8(0).u16(0);
		v.u8(sf::kLoopToServer).u8(0).u16(0);
		v.u8(sf::kLoopToClient).u8(0).u16(0);
		v.u8(sf::kLoopToServer).u8(1).u16(30); // a flipped byte
		v.u8(sf::kLoopToClient).u8(2).u16(50); // a lost tail
		v.u8(sf::kLoopReconnect);
		const SSTRequest r = request_of(SST_REQ_READ, 0x300);
		v.u8(sf::kLoopSend).u8(SST_REQ_READ).u16(12).raw(&r, wire_len(r));
		v.u8(sf::kLoopCancel);
		v.u8(sf::kLoopToServer).u8(0).u16(0).u8(sf::kLoopToClient).u8(0).u16(0);
		save("sim_framing", acalsim ? "loop_acalsim_damage" : "loop_framed_damage", v);
	}
}

// -------------------------------------------------------------- trace_reader
// Synthetic traces written by hand from vsst/trace/format.hpp (recorded ones
// carry wall-clock times, so they would not regenerate byte for byte).
namespace tf = vsst::trace;

void tlv(ByteWriter &w, tf::Tag tag, const void *p, uint32_t len)
{
	w.u16(static_cast<uint16_t>(tag)).u16(0).u32(len).raw(p, len);
}

void rec(ByteWriter &w, tf::RecType type, uint8_t sub, uint16_t aux, uint64_t t_ns, const ByteWriter &payload)
{
	w.u32(static_cast<uint32_t>(tf::kRecordHeader + payload.size()))
		.u8(static_cast<uint8_t>(type))
		.u8(sub)
		.u16(aux);
	w.u64(t_ns).raw(payload.data().data(), payload.size());
}

ByteWriter trace_file(bool with_end, bool all_items)
{
	ByteWriter items;
	const char origin[] = "fuzz-gen-corpus";
	tlv(items, tf::Tag::Origin, origin, sizeof origin - 1);
	ByteWriter ram;
	ram.u64(0).u64(64ull << 20);
	tlv(items, tf::Tag::Ram, ram.data().data(), 16);
	ByteWriter proto;
	proto.u32(1);
	tlv(items, tf::Tag::SimProto, proto.data().data(), 4);
	if (all_items) {
		const char arg[] = "-device virtio-sst-pci";
		tlv(items, tf::Tag::QemuArg, arg, sizeof arg - 1);
		ByteWriter image;
		image.u64(32768).u64(tf::fnv1a64("", 0)).raw("disk.img", 8);
		tlv(items, tf::Tag::Image, image.data().data(), static_cast<uint32_t>(image.size()));
		ByteWriter nondet;
		nondet.u16(0x1af4).u16(0x1044).u32(1);
		tlv(items, tf::Tag::Nondet, nondet.data().data(), 8);
		const char note[] = "re-record: trace/tests/golden/record.sh";
		tlv(items, tf::Tag::Note, note, sizeof note - 1);
	}
	ByteWriter w;
	w.raw(tf::kMagic, 8).u16(tf::kMajor).u16(tf::kMinor);
	w.u32(static_cast<uint32_t>(tf::kFixedHeader + items.size()));
	w.u64(1'700'000'000'000'000'000ull).u32(static_cast<uint32_t>(tf::Side::Device)).u32(0);
	w.raw(items.data().data(), items.size());

	uint64_t t = 1000;
	int records = 0;
	auto add = [&](tf::RecType type, uint8_t sub, uint16_t aux, const ByteWriter &p) {
		rec(w, type, sub, aux, t, p);
		t += 250;
		++records;
	};
	const Message req = mmio_request(2, kAsGlobal, 0xe0000014, 1, Dir::Read, 0, 7);
	add(tf::RecType::Msg, 0, 1, ByteWriter().pod(req));
	add(tf::RecType::Msg, 1, 0, ByteWriter().pod(mmio_completion(req, 0x0f)));
	add(tf::RecType::Msg, 2, 0, ByteWriter().pod(msi(0xfee00000, 0x101, 0)));
	add(tf::RecType::SimConn, 0, 1, ByteWriter());
	ByteWriter mem;
	mem.u64(0x100000).u8(0).u8(0).u16(0).u32(24);
	for (int i = 0; i < 24; ++i)
		mem.u8(static_cast<uint8_t>(i));
	add(tf::RecType::Mem, 0, 0, mem);
	add(tf::RecType::Avail, 0, 0,
	    ByteWriter().u8(0).u8(0).u16(0).u16(1).u16(1).u64(0xe0003000).u32(2).u32(0));
	vsst_sim_frame_hdr h{};
	h.magic = VSST_SIM_MAGIC;
	h.version = VSST_SIM_VERSION;
	h.type = VSST_SIM_PING;
	h.tag = 5;
	add(tf::RecType::Sim, 0, 1, ByteWriter().pod(h));
	add(tf::RecType::Sim, 1, 1, ByteWriter().pod(h));
	ByteWriter used;
	used.u8(0).u8(0).u16(0).u16(0).u16(256).u64(0x200000).u32(0).u32(32).u32(1).u32(32);
	used.u64(0x101000).u32(4112);
	for (int i = 0; i < 32; ++i)
		used.u8(static_cast<uint8_t>(0x80 + i));
	add(tf::RecType::Used, 0, 0, used);
	add(tf::RecType::Dropped, 0, 0, ByteWriter().u64(3).u64(96));
	add(tf::RecType::Note, 1, 0, ByteWriter().raw("tap: avail index moved back", 27));
	add(tf::RecType::SimConn, 1, 1, ByteWriter());
	if (with_end) {
		const uint64_t end_bytes = w.size() + tf::kRecordHeader + sizeof(tf::EndRec);
		add(tf::RecType::End, 0, 0, ByteWriter().u64(records + 1).u64(3).u64(end_bytes));
	}
	return w;
}

void trace_reader_seeds()
{
	for (uint8_t flag : {0, 1}) { // strict and lenient parsing of a complete trace
		ByteWriter w;
		w.u8(flag);
		const ByteWriter t = trace_file(true, flag == 0);
		w.raw(t.data().data(), t.size());
		save("trace_reader", flag ? "complete_lenient" : "complete_strict", w);
	}
	{ // a recorder that was killed: no END, and a record cut short
		const ByteWriter t = trace_file(false, true);
		ByteWriter w;
		w.u8(1).raw(t.data().data(), t.size());
		save("trace_reader", "truncated_no_end", w);
		ByteWriter v;
		v.u8(1).raw(t.data().data(), t.size() - 7);
		save("trace_reader", "truncated_mid_record", v);
		ByteWriter s;
		s.u8(0).raw(t.data().data(), t.size());
		save("trace_reader", "strict_without_end", s);
	}
}

// ---------------------------------------------------------------- trace_tap
namespace tt = vsst::fuzz::trace_tap;

ByteWriter tap_header(uint8_t inflight, uint8_t chain, uint8_t call)
{
	ByteWriter w;
	w.u8(inflight).u8(chain).u8(call);
	return w;
}
void tap_desc(ByteWriter &w, uint32_t table, uint16_t i, uint32_t gpa, uint32_t len, uint16_t flags,
	      uint16_t next)
{
	w.u8(tt::kDesc).u32(table).u16(i).u32(gpa).u32(len).u16(flags).u16(next);
}

void trace_tap_seeds()
{
	{ // one chain (out 64 B, in 64 B) through doorbell, used element and MSI
		ByteWriter w = tap_header(255, 255, 255);
		w.u8(tt::kSetUp).u16(8).u8(0);
		tap_desc(w, 0x1000, 0, 0x10000, 64, 1, 1);
		tap_desc(w, 0x1000, 1, 0x11000, 64, 2, 0);
		w.u8(tt::kRamWrite).u32(0x10000).u8(8).raw("request!", 8);
		w.u8(tt::kAvail).u16(0).u16(0);
		w.u8(tt::kDoorbell).u16(0);
		w.u8(tt::kUsed).u16(0).u32(0).u32(16);
		w.u8(tt::kInterrupt).u8(0).u8(1);
		save("trace_tap", "chain_doorbell_used", w);
	}
	{ // the device reports its used element before publishing it
		ByteWriter w = tap_header(255, 255, 255);
		w.u8(tt::kSetUp).u16(8).u8(1);
		tap_desc(w, 0x1000, 3, 0x12000, 32, 2, 0);
		w.u8(tt::kAvail).u16(3).u16(0);
		w.u8(tt::kDeviceUsed).u8(1).u8(0).u16(0).u32(3).u32(32);
		w.u8(tt::kSync);
		save("trace_tap", "device_reports_used", w);
	}
	{ // a queue size QEMU refuses, then an avail index far ahead
		ByteWriter w = tap_header(0, 0, 0);
		w.u8(tt::kSetUp).u16(32768).u8(0);
		w.u8(tt::kAvail).u16(0).u16(40000);
		w.u8(tt::kDoorbell).u16(0);
		save("trace_tap", "hostile_queue_size", w);
	}
	{ // indirect tables: long readable and writable chains, the same head again and again
		ByteWriter w = tap_header(3, 3, 3);
		w.u8(tt::kSetUp).u16(256).u8(0);
		for (uint16_t i = 0; i < 64; i++)
			tap_desc(w, 0x20000, i, 0x30000 + 0x400u * (i % 16), 1024,
				 static_cast<uint16_t>(1 | (i & 1) * 2), static_cast<uint16_t>(i + 1));
		tap_desc(w, 0x20000, 64, 0x30000, 1024, 0, 0);
		tap_desc(w, 0x1000, 0, 0x20000, 65 * 16, 4, 0);
		for (uint16_t pos = 0; pos < 12; pos++) {
			w.u8(tt::kAvail).u16(0).u16(pos);
			w.u8(tt::kDoorbell).u16(0);
		}
		w.u8(tt::kInterrupt).u8(0).u8(0);
		save("trace_tap", "long_chains_same_head", w);
	}
}

} // namespace

// ------------------------------------------------------------------ sim_link
namespace sl = vsst::fuzz::sim_link;

void sl_submit(ByteWriter &w, uint8_t type_pick, uint64_t id, uint32_t a, uint8_t flags = 0)
{
	w.u8(sl::kSubmit).u8(type_pick).u8(flags).u64(id).u32(a);
}
void sl_accept(ByteWriter &w)
{
	w.u8(sl::kAccept).u8(15);
}
void sl_serve(ByteWriter &w, uint8_t how = 0, uint16_t where = 0)
{
	w.u8(sl::kServe).u8(15).u8(how).u16(where);
}

void sim_link_seeds()
{
	for (uint8_t acalsim = 0; acalsim < 2; ++acalsim) {
		const char *p = acalsim ? "acalsim_" : "framed_";
		auto name = [p](const char *what) { return std::string(p) + what; };
		{ // connect, handshake, one request of each forwarded type answered
			ByteWriter w;
			w.u8(acalsim);
			sl_accept(w);
			sl_serve(w);
			sl_submit(w, 0, 1, 10); // COMPUTE 10 items
			sl_serve(w);
			sl_submit(w, 2, 2, (8u << 16) | 1); // WRITE 8 bytes
			sl_serve(w);
			sl_submit(w, 1, 3, (8u << 16) | 1); // READ them back
			sl_serve(w);
			sl_submit(w, 3, 4, (4u << 8) | 1); // CONFIGURE
			sl_serve(w);
			sl_submit(w, 0, 5, 3, SST_REQ_FLAG_ASYNC); // async COMPUTE
			sl_serve(w);
			save("sim_link", name("serve_each_type").c_str(), w);
		}
		{ // the simulator closes with requests on the wire
			ByteWriter w;
			w.u8(acalsim);
			sl_accept(w);
			sl_serve(w);
			sl_submit(w, 0, 1, 100);
			sl_submit(w, 0, 2, 100);
			sl_submit(w, 1, 3, (4u << 16));
			w.u8(sl::kClose);
			sl_submit(w, 0, 4, 1);
			save("sim_link", name("close_mid_request").c_str(), w);
		}
		{ // the simulator stalls past the request timeout, then answers late
			ByteWriter w;
			w.u8(acalsim);
			sl_accept(w);
			sl_serve(w);
			sl_submit(w, 0, 1, 10);
			w.u8(sl::kStall).u8(39);
			sl_serve(w);
			w.u8(sl::kStall).u8(39);
			sl_serve(w);
			save("sim_link", name("stall_then_late").c_str(), w);
		}
		{ // killed and restarted: the link reconnects to a fresh simulator
			ByteWriter w;
			w.u8(acalsim);
			sl_accept(w);
			sl_serve(w);
			sl_submit(w, 0, 1, 10);
			w.u8(sl::kRestart).u8(1);
			sl_submit(w, 0, 2, 10);
			w.u8(sl::kStall).u8(10);
			sl_accept(w);
			sl_serve(w);
			sl_submit(w, 0, 3, 10);
			sl_serve(w);
			save("sim_link", name("restart").c_str(), w);
		}
		{ // cancel with requests waiting and on the wire
			ByteWriter w;
			w.u8(acalsim);
			sl_submit(w, 0, 1, 10);
			sl_accept(w);
			sl_submit(w, 0, 2, 10);
			w.u8(sl::kCancel);
			sl_serve(w);
			sl_submit(w, 0, 3, 10);
			sl_serve(w);
			save("sim_link", name("cancel").c_str(), w);
		}
		{ // answers damaged in transit: a flipped byte, then a cut stream
			ByteWriter w;
			w.u8(acalsim);
			sl_accept(w);
			sl_serve(w);
			sl_submit(w, 0, 1, 10);
			sl_serve(w, 1, 5);
			sl_submit(w, 0, 2, 10);
			sl_serve(w, 2, 20);
			save("sim_link", name("damaged_answers").c_str(), w);
		}
	}
	{ // framed: a forged RESPONSE for a tag never sent, an ERROR, a PING
		ByteWriter w;
		w.u8(0);
		sl_accept(w);
		sl_serve(w);
		sl_submit(w, 0, 1, 10);
		w.u8(sl::kSendFrame).u16(VSST_SIM_RESPONSE).u64(63).u16(64);
		for (int i = 0; i < 64; ++i)
			w.u8(0);
		w.u8(sl::kSendFrame).u16(VSST_SIM_PING).u64(1).u16(0);
		sl_serve(w);
		save("sim_link", "framed_forged_frames", w);
	}
	{ // garbage instead of a HELLO answer
		ByteWriter w;
		w.u8(0);
		sl_accept(w);
		w.u8(sl::kSendRaw).u16(16);
		for (int i = 0; i < 16; ++i)
			w.u8(0xa5);
		sl_submit(w, 0, 1, 10);
		save("sim_link", "framed_garbage_hello", w);
	}
	{ // no simulator at all
		ByteWriter w;
		w.u8(1);
		w.u8(sl::kRestart).u8(0);
		sl_submit(w, 0, 1, 10);
		w.u8(sl::kStall).u8(20);
		sl_submit(w, 1, 2, 1);
		save("sim_link", "no_simulator", w);
	}
}

// ------------------------------------------------------------------ sim_server
namespace ss = vsst::fuzz::sim_server;

// n well-formed requests: (type pick, flags, id, a) each.
void ss_requests(ByteWriter &w, uint8_t op, uint8_t slot, std::initializer_list<std::array<uint32_t, 3>> reqs)
{
	w.u8(op).u8(slot).u8(static_cast<uint8_t>(reqs.size() - 1));
	uint64_t id = 1;
	for (const auto &r : reqs)
		w.u8(static_cast<uint8_t>(r[0])).u8(static_cast<uint8_t>(r[1])).u64(id++).u32(r[2]);
}

void sim_server_seeds()
{
	// type picks: 0 NOOP 1 ECHO 2 COMPUTE 3 READ 4 WRITE 5 RESET 6 GET_INFO 7 CONFIGURE
	for (uint8_t proto = 0; proto < 3; ++proto) {
		const std::string p = proto == 0 ? "auto_" : proto == 1 ? "framed_" : "acalsim_";
		{ // one device: a request of each type, answers read
			ByteWriter w;
			w.u8(proto);
			w.u8(ss::kConnOpen).u8(0);
			if (proto != 2)
				w.u8(ss::kConnHello).u8(0).u32(7).u8(1);
			ss_requests(w, ss::kConnRequests, 0,
				    {{0, 0, 0},
				     {1, 0, 5},
				     {2, 0, 10},
				     {2, 1, 10},
				     {4, 0, 1 | (8u << 12)},
				     {3, 0, 1 | (8u << 12)},
				     {5, 0, 0},
				     {6, 0, 0},
				     {7, 0, 0x102}});
			w.u8(ss::kConnRead).u8(0).u8(0);
			save("sim_server", (p + "each_type").c_str(), w);
		}
		{ // two devices fill the shared budget with writes to distinct pages
			ByteWriter w;
			w.u8(proto);
			for (uint8_t c = 0; c < 2; ++c) {
				w.u8(ss::kConnOpen).u8(c);
				if (proto != 2)
					w.u8(ss::kConnHello).u8(c).u32(c).u8(0);
				ss_requests(w, ss::kConnRequests, c,
					    {{7, 0, 0x100 | 8},
					     {4, 0, 1 | (64u << 12)},
					     {4, 0, 2 | (64u << 12)},
					     {4, 0, 3 | (64u << 12)},
					     {4, 0, 4 | (64u << 12)},
					     {4, 0, 5 | (64u << 12)},
					     {4, 0, 6 | (64u << 12)},
					     {4, 0, 7 | (64u << 12)},
					     {4, 0, 8 | (64u << 12)},
					     {4, 0, 9 | (64u << 12)},
					     {4, 0, 10 | (64u << 12)},
					     {3, 0, 1 | (8u << 12)}});
			}
			w.u8(ss::kConnRead).u8(0).u8(0).u8(ss::kConnShutdown).u8(0).u8(0);
			ss_requests(w, ss::kConnRequests, 1, {{4, 0, 11 | (64u << 12)}});
			save("sim_server", (p + "budget_two_devices").c_str(), w);
		}
		{ // a silent connection and one that never reads, then time passes
			ByteWriter w;
			w.u8(proto);
			w.u8(ss::kConnOpen).u8(0).u8(ss::kConnOpen).u8(1);
			ss_requests(w, ss::kConnRequests, 1, {{1, 0, 4000}, {1, 0, 4000}, {1, 0, 4000}});
			w.u8(ss::kConnTime).u16(1500).u8(ss::kConnTime).u16(1500);
			save("sim_server", (p + "idle").c_str(), w);
		}
		{ // hostile bytes: garbage, a frame with a huge length, half a request
			ByteWriter w;
			w.u8(proto);
			w.u8(ss::kConnOpen).u8(2);
			w.u8(ss::kConnRaw).u8(2).u16(40);
			for (int i = 0; i < 40; ++i)
				w.u8(static_cast<uint8_t>(i * 37));
			w.u8(ss::kConnOpen).u8(3);
			w.u8(ss::kConnRaw).u8(3).u16(24);
			vsst_sim_frame_hdr h{};
			h.magic = VSST_SIM_MAGIC;
			h.version = VSST_SIM_VERSION;
			h.type = VSST_SIM_REQUEST;
			h.length = 0xffffff;
			w.pod(h);
			w.u8(ss::kConnOpen).u8(1).u8(ss::kConnRaw).u8(1).u16(100);
			for (int i = 0; i < 100; ++i)
				w.u8(0);
			w.u8(ss::kConnShutdown).u8(1).u8(0);
			save("sim_server", (p + "hostile_bytes").c_str(), w);
		}
	}
	{ // paced: responses held, then released by the clock
		ByteWriter w;
		w.u8(2 | 4 | 8);
		w.u8(ss::kConnOpen).u8(0);
		ss_requests(w, ss::kConnRequests, 0, {{2, 0, 1000}, {2, 0, 99999}, {0, 0, 0}});
		w.u8(ss::kConnTime).u16(1).u8(ss::kConnRead).u8(0).u8(0).u8(ss::kConnTime).u16(3000);
		save("sim_server", "paced_held", w);
	}
	{ // the real server: four clients against --max-connections 3
		ByteWriter w;
		w.u8(0x80);
		for (uint8_t c = 0; c < 4; ++c)
			w.u8(ss::kSrvConnect).u8(c);
		w.u8(ss::kSrvHello).u8(0).u32(1).u8(1);
		ss_requests(w, ss::kSrvRequests, 0,
			    {{2, 0, 10}, {4, 0, 1 | (8u << 12)}, {3, 0, 1 | (8u << 12)}});
		ss_requests(w, ss::kSrvRequests, 1, {{6, 0, 0}, {1, 0, 100}});
		w.u8(ss::kSrvRead).u8(0).u8(5).u8(ss::kSrvRead).u8(1).u8(5);
		w.u8(ss::kSrvRaw).u8(2).u16(8).u64(0x1122334455667788ull);
		w.u8(ss::kSrvClose).u8(2).u8(ss::kSrvConnect).u8(4);
		ss_requests(w, ss::kSrvRequests, 4, {{0, 0, 0}});
		w.u8(ss::kSrvRead).u8(4).u8(5);
		save("sim_server", "server_four_clients", w);
	}
}

// ------------------------------------------------------------------ bridge_intake
namespace bi = vsst::fuzz::bridge_intake;

ByteWriter bi_header(uint8_t proto, uint8_t budget_sel, uint16_t inflight, uint8_t hw_sel, uint8_t idle)
{
	ByteWriter w;
	w.u8(proto).u8(budget_sel).u16(inflight).u8(hw_sel).u8(idle);
	return w;
}

void bi_requests(ByteWriter &w, std::initializer_list<std::array<uint32_t, 3>> reqs)
{
	w.u8(bi::kRequests).u8(static_cast<uint8_t>(reqs.size() - 1));
	uint64_t id = 1;
	for (const auto &r : reqs)
		w.u8(static_cast<uint8_t>(r[0])).u8(static_cast<uint8_t>(r[1])).u64(id++).u32(r[2]);
}

void bridge_intake_seeds()
{
	for (uint8_t proto = 0; proto < 3; ++proto) {
		const std::string p = proto == 0 ? "auto_" : proto == 1 ? "framed_" : "acalsim_";
		{ // a session: requests, pumps, answers in another order, reads
			ByteWriter w = bi_header(proto, 16, 7, 12, 0);
			if (proto != 2)
				w.u8(bi::kHello).u32(3).u8(1).u8(bi::kPump).u8(bi::kFlush);
			bi_requests(w, {{2, 0, 10},
					{4, 0, 1 | (8u << 12)},
					{3, 0, 1 | (8u << 12)},
					{6, 0, 0},
					{1, 0, 100},
					{0, 0, 0},
					{7, 0, 0x102},
					{5, 0, 0},
					{2, 1, 5}});
			w.u8(bi::kPump).u8(bi::kAnswer).u8(3).u8(4).u8(bi::kEvent).u64(9).u8(bi::kFlush);
			w.u8(bi::kClientRead).u8(0).u8(bi::kPump).u8(bi::kAnswer).u8(0).u8(7);
			w.u8(bi::kFlush).u8(bi::kClientRead).u8(0);
			save("bridge_intake", (p + "session").c_str(), w);
		}
		{ // a flood against a small budget, few in flight, a client that never reads
			ByteWriter w = bi_header(proto, 12, 3, 4, 0);
			if (proto != 2)
				w.u8(bi::kHello).u32(0).u8(0);
			for (int k = 0; k < 3; ++k)
				bi_requests(w, {{1, 0, 4000},
						{1, 0, 4000},
						{1, 0, 4000},
						{1, 0, 4000},
						{1, 0, 4000},
						{1, 0, 4000},
						{1, 0, 4000},
						{1, 0, 4000}});
			for (int k = 0; k < 6; ++k)
				w.u8(bi::kPump).u8(bi::kAnswer).u8(0).u8(3).u8(bi::kFlush);
			save("bridge_intake", (p + "flood_no_reader").c_str(), w);
		}
		{ // idle: silent after a request, answered, then the clock runs
			ByteWriter w = bi_header(proto, 16, 8, 12, 10); // 1 s
			if (proto != 2)
				w.u8(bi::kHello).u32(1).u8(0);
			bi_requests(w, {{2, 0, 10}});
			w.u8(bi::kPump).u8(bi::kTime).u16(1500).u8(bi::kAnswer).u8(0).u8(1).u8(bi::kFlush);
			w.u8(bi::kTime).u16(600).u8(bi::kTime).u16(600);
			save("bridge_intake", (p + "idle").c_str(), w);
		}
	}
	{ // garbage where a frame should be, then a half-close mid-request
		ByteWriter w = bi_header(1, 16, 8, 12, 0);
		w.u8(bi::kRaw).u16(40);
		for (int i = 0; i < 40; ++i)
			w.u8(static_cast<uint8_t>(0x5a ^ i));
		w.u8(bi::kPump).u8(bi::kFlush).u8(bi::kClientRead).u8(0);
		save("bridge_intake", "framed_garbage", w);
	}
	{ // acalsim: a client that never reads against a 256-byte high-water mark
		// (answers queued, not flushed, while more requests arrive)
		ByteWriter w = bi_header(2, 20, 63, 0, 0);
		w.u8(bi::kClientDeaf);
		for (int k = 0; k < 4; ++k) {
			bi_requests(w, {{1, 0, 4000}, {1, 0, 4000}, {1, 0, 4000}, {1, 0, 4000}});
			w.u8(bi::kPump).u8(bi::kAnswer).u8(0).u8(8);
		}
		w.u8(bi::kFlush);
		save("bridge_intake", "acalsim_high_water", w);
	}
	{ // framed: a deaf client half-closes with answers it will never read
		ByteWriter w = bi_header(1, 20, 63, 12, 0);
		w.u8(bi::kHello).u32(1).u8(0).u8(bi::kClientDeaf);
		for (int k = 0; k < 4; ++k)
			bi_requests(w, {{1, 0, 4000},
					{1, 0, 4000},
					{1, 0, 4000},
					{1, 0, 4000},
					{1, 0, 4000},
					{1, 0, 4000},
					{1, 0, 4000},
					{1, 0, 4000}});
		w.u8(bi::kPump).u8(bi::kAnswer).u8(0).u8(64).u8(bi::kFlush).u8(bi::kClientShutdown);
		save("bridge_intake", "framed_deaf_linger", w);
	}
	{ // idle: bytes that make no request still count as traffic
		ByteWriter w = bi_header(2, 20, 8, 12, 10); // 1 s
		w.u8(bi::kPump).u8(bi::kTime).u16(800).u8(bi::kRaw).u16(100);
		for (int i = 0; i < 100; ++i)
			w.u8(0);
		w.u8(bi::kPump).u8(bi::kTime).u16(800).u8(bi::kTime).u16(300);
		save("bridge_intake", "acalsim_idle_partial_bytes", w);
	}
	{ // acalsim: half a request, then the client leaves
		ByteWriter w = bi_header(2, 16, 8, 12, 0);
		w.u8(bi::kRaw).u16(1000);
		for (int i = 0; i < 1000; ++i)
			w.u8(0);
		w.u8(bi::kClientShutdown).u8(bi::kPump);
		save("bridge_intake", "acalsim_short_request", w);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		std::fprintf(stderr, "usage: %s <output-dir>\n", argv[0]);
		return 2;
	}
	g_root = argv[1];
	rpc_ring_seeds();
	device_request_seeds();
	virtqueue_seeds();
	sim_framing_seeds();
	loop_seeds();
	trace_reader_seeds();
	trace_tap_seeds();
	sim_link_seeds();
	sim_server_seeds();
	bridge_intake_seeds();
	std::printf("%d seeds written to %s\n", g_count, g_root.c_str());
	return 0;
}
