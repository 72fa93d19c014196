// SPDX-License-Identifier: Apache-2.0
// Input formats of the fuzz targets (shared by the targets and the seed
// generator). Each input is a short header followed by a sequence of
// operations: one opcode byte (taken modulo the number of operations) and the
// operation's arguments, read with fuzz::ByteReader (little-endian, zero past
// the end of the input).
#pragma once

#include <cstdint>

namespace vsst::fuzz {

// rpc_ring: u8 capacity (2 << (v % 6)), u8 spin budget (v % 4 us), then ops.
namespace rpc_ring {
enum Op : uint8_t {
	kRawWrite,        // u16 offset, u8 len, bytes: overwrite the shared region
	kSetProd,         // u8 ring, u32 value: overwrite a producer index
	kSetCons,         // u8 ring, u32 value: overwrite a consumer index
	kForgeMessage,    // u8 ring, 32 bytes: publish a message as a rogue producer
	kForgeCompletion, // u8 pick, u8 field, u64 xor, u64 data, u8 error: complete a seen request, maybe
			  // mutated
	kDevWait,         // device: wait_request(timeout 0)
	kDevComplete,     // u8 pick, u8 mode, u64 data: complete / fail an in-flight request (or a bogus one)
	kProxyRecvEvent,  // proxy: recv_event
	kProxyMmio,       // u8 as, u64 addr, u8 len, u8 dir, u64 data, u8 timeout: synchronous access
	kProxyPost,       // u8 as, u64 addr, u8 len, u64 data: posted write
	kDevSendEvent,    // u8 kind, u64 a, u64 b, u64 c: an event (kind >= 8: raw mr0 from a)
	kProxySend,       // u8 kind, u64 a, u64 b: HELLO or STOP (or something else, refused)
	kPoison,          // u8 side, u8 len, bytes: poison with a reason
	kReattach,        // u8 role: close that endpoint and attach a fresh one
	kProxyWaitEvent,  // proxy: wait_event(timeout 0)
	kCount
};
} // namespace rpc_ring

// device_request: u8 max_inflight (0 -> 256), then ops.
namespace device_request {
enum Op : uint8_t {
	kSubmit,      // u16 len, bytes (zero-filled to len): submit as an SSTRequest
	kSubmitTyped, // u8 type, u8 flags, u64 request_id, u64 a, u32 b, u16 extra: a well-shaped request
	kSubmitNull,  // u16 len: submit with a NULL buffer
	kReap,        // reap everything
	kCancelAll,   // cancel_all
	kCount
};
} // namespace device_request

// virtqueue_chain: u8 size (1 << (v % 9)), u8 event_idx, then ops.
namespace virtqueue_chain {
enum Op : uint8_t {
	kAdd,      // u8 nout, u8 nin (each % 5), per buffer (u64 gpa, u32 len)
	kUsedElem, // u16 slot, u32 id, u32 len: write a used element
	kUsedIdx,  // u16 idx: publish a used index
	kComplete, // u8 pick, u32 len: complete an in-flight chain properly (element + index)
	kRawWrite, // u8 area (desc/avail/used), u16 offset, u8 len, bytes
	kGet,      // get_buffer
	kKick,     // kick
	kDisableCb,
	kEnableCb,
	kCount
};
} // namespace virtqueue_chain

// sim_framing: u8 mode, then mode-specific ops.
namespace sim_framing {
enum Mode : uint8_t {
	kServerAuto, // ServerSession(kAuto) + DeviceModel fed the stream
	kServerFramed,
	kServerAcalsim,
	kClientFramed,  // device core's FramedProtocol fed the stream
	kClientAcalsim, // device core's AcalsimProtocol fed the stream
	kLoopFramed,    // the device core's client and the server wired together
	kLoopAcalsim,
	kModeCount
};
// Server modes: ops are { u8 op } with
enum ServerOp : uint8_t {
	kSrvFeed,       // u16 len, bytes: append to the input and feed (u8 max_requests, 0 = all)
	kSrvFrame,      // u16 type, u64 tag, u16 len, bytes, u8 max_requests: append a frame and feed
	kSrvDrainModel, // run the model until idle, emitting responses/events
	kSrvCount
};
// Client modes: ops are { u8 op } with
enum ClientOp : uint8_t {
	kCliSend,      // u8 type, u16 len, bytes: forward a request (gets a cookie)
	kCliFeed,      // u16 len, bytes: raw bytes from the simulator
	kCliFrame,     // u16 type, u8 tag pick, u64 tag xor, u16 len, bytes: a framed frame
	kCliResponse,  // u8 pick, u32 status, u16 len: a well-formed response to a sent request
	kCliExpire,    // u32 ms: advance time and expire
	kCliCancel,    // cancel everything submitted so far
	kCliReconnect, // link_down then link_up
	kCliCount
};
// Loop modes: ops are { u8 op } with
enum LoopOp : uint8_t {
	kLoopSend,      // as kCliSend
	kLoopToServer,  // u8 how (0: as is, 1: flip a byte, 2: drop the tail, 3: split), u16 where: client ->
			// server
	kLoopToClient,  // u8 how, u16 where: run the model, server -> client
	kLoopExpire,    // as kCliExpire
	kLoopCancel,    // as kCliCancel
	kLoopReconnect, // both ends start a new connection
	kLoopCount
};
} // namespace sim_framing

// trace_tap: u8 inflight budget ((1 + v) KiB), u8 chain cap ((1 + v) KiB),
// u8 call budget ((1 + v) * 2 KiB), then ops. Guest RAM: 256 KiB at gpa 0.
namespace trace_tap {
enum Op : uint8_t {
	kSetUp,      // u8 queue size written by the guest, u8 dev: a virtio-pci device (BAR 4, common +
		     // notify caps) with queue 0 at desc 0x1000, avail 0x2000, used 0x3000
	kMessage,    // u8 ring, u64 mr0, u64 mr1, u64 mr2, u64 mr3: any message on any ring
	kMmio,       // u8 dir, u8 as, u64 addr, u8 len, u64 data, u8 posted: a well-formed MMIO access
	kRamWrite,   // u32 gpa, u8 len, bytes: the guest (or device) writes RAM
	kDesc,       // u32 table, u16 index, u32 gpa, u32 len, u16 flags, u16 next: a descriptor
	kAvail,      // u16 head, u16 pos: avail.ring[pos % 1024] = head, avail.idx = pos + 1
	kUsed,       // u16 pos, u32 id, u32 len: used.ring[pos % 1024], used.idx = pos + 1
	kDoorbell,   // u16 queue: a posted write of queue to the notify address
	kInterrupt,  // u8 dev, u8 msi: an MSI (or SET_IRQ) event for dev
	kDeviceUsed, // u8 dev, u8 queue, u16 pos, u32 head, u32 len: the device's own report
	kSync,       // a walk of every queue
	kCount
};
} // namespace trace_tap
// sim_link: u8 flags (bit 0: acalsim, else framed), then ops.
namespace sim_link {
enum Op : uint8_t {
	kSubmit, // u8 type pick, u8 flags, u64 request_id, u32 a: forward a request
	kAccept, // u8 wait ms: the simulator accepts the link's connection
	kServe,  // u8 wait ms, u8 how (0 as is, 1 flip a byte, 2 cut), u16 where: answer with the real server
	kSendRaw,   // u16 len, bytes: raw bytes to the link
	kSendFrame, // u16 type, u64 tag, u16 len, bytes: a frame to the link
	kClose,     // the simulator closes the connection
	kStall,     // u8 ms: the simulator does nothing for a while
	kCancel,    // the device cancels every request so far (a new epoch)
	kRestart,   // u8 back: the simulator dies (listening socket gone), and maybe comes back
	kCount
};
} // namespace sim_link

// sim_server: u8 flags: bit 7 server mode, else Connection mode; bits 0-1
// protocol (auto, framed, acalsim; 3 = auto); Connection mode: bit 2 paced,
// bit 3 statistics samples recorded. Then ops.
namespace sim_server {
enum ConnOp : uint8_t {
	kConnOpen,     // u8 slot: a new connection in that slot (if free)
	kConnRaw,      // u8 slot, u16 len, bytes: client bytes
	kConnHello,    // u8 slot, u32 device_id, u8 features: a HELLO frame
	kConnRequests, // u8 slot, u8 n, n x (u8 type, u8 flags, u64 id, u32 a): well-formed requests
	kConnRead,     // u8 slot, u8 all (0) or u16 n*16: the client reads answers
	kConnShutdown, // u8 slot, u8 both: the client half-closes (or closes both ways)
	kConnTime,     // u16 ms: the clock jumps
	kConnCount
};
enum SrvOp : uint8_t {
	kSrvConnect,  // u8 client
	kSrvRaw,      // u8 client, u16 len, bytes
	kSrvHello,    // u8 client, u32 device_id, u8 features
	kSrvRequests, // u8 client, u8 n, requests as above
	kSrvRead,     // u8 client, u8 wait ms
	kSrvClose,    // u8 client
	kSrvCount
};
} // namespace sim_server

// bridge_intake: u8 protocol (auto, framed, acalsim), u8 read budget (1 << (v % 21)),
// u16 max in flight (1 + v % 64), u8 output high-water (1 << (8 + v % 15)),
// u8 idle timeout (v % 4 == 0: off, else v x 100 ms), then ops.
namespace bridge_intake {
enum Op : uint8_t {
	kRaw,            // u16 len, bytes: client bytes
	kHello,          // u32 device_id, u8 features: a HELLO frame
	kRequests,       // u8 n, n x (u8 type, u8 flags, u64 id, u32 a): well-formed requests
	kPump,           // the bridge's tick: read and hand out
	kAnswer,         // u8 pick, u8 n: the simulation answers n requests in flight (any order)
	kEvent,          // u64 data: a completion event
	kFlush,          // write queued output
	kClientRead,     // u8 all (0) or u16 n*16: the client reads answers
	kClientShutdown, // the client half-closes
	kTime,           // u16 ms: the clock jumps (then the idle check)
	kClientDeaf,     // the client never reads again
	kCount
};
} // namespace bridge_intake

} // namespace vsst::fuzz
