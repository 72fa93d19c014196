// SPDX-License-Identifier: Apache-2.0
// The vsst RPC trace file format, version 1 (see trace/TRACE.md).
//
// A trace is a file header followed by records, all little-endian:
//
//   header: magic "VSSTRACE", u16 major, u16 minor, u32 header_size,
//           u64 start_unix_ns, u32 side, u32 flags, then TLV items
//           {u16 tag, u16 0, u32 len, len bytes} up to header_size
//   record: u32 size (header included), u8 type, u8 sub, u16 aux,
//           u64 t_ns (monotonic ns since the trace started), payload
//
// The constants and payload layouts below are shared by the writer (linked
// into QEMU-side code: no exceptions, no logging) and the reader.
#pragma once

#include <cstdint>
#include <cstring>

namespace vsst::trace {

inline constexpr char kMagic[8] = {'V', 'S', 'S', 'T', 'R', 'A', 'C', 'E'};
inline constexpr uint16_t kMajor = 1;
inline constexpr uint16_t kMinor = 0;
inline constexpr uint32_t kFixedHeader = 32; // magic .. flags
inline constexpr uint32_t kMaxHeader = 1u << 20;
inline constexpr uint32_t kRecordHeader = 16;
inline constexpr uint32_t kMaxBlob = 1u << 20; // one MEM/USED/SIM payload
inline constexpr uint32_t kMaxRecord = kMaxBlob + 4096;
inline constexpr uint32_t kMaxRamRegions = 8;
inline constexpr uint32_t kMaxSegments = 1024;

// Which end of the channel recorded the messages.
enum class Side : uint32_t { Proxy = 0, Device = 1 };

// Header TLV tags.
enum class Tag : uint16_t {
	Origin = 1,   // UTF-8: what recorded it (e.g. "host-driver:sst-test")
	Ram = 2,      // u64 gpa, u64 size: one guest RAM region
	QemuArg = 3,  // UTF-8: one device-VM argument (template, see TRACE.md)
	Image = 4,    // u64 size, u64 fnv1a64, UTF-8 name: a disk image the device VM used
	Nondet = 5,   // u16 vendor, u16 device, u32 queue mask: device-written bytes vary
	SimProto = 6, // u32: 0 none, 1 framed, 2 acalsim
	Note = 7,     // UTF-8 free text (the command that re-records it, ...)
};

enum class RecType : uint8_t {
	Msg = 1,     // sub ring (0 req, 1 compl, 2 events), aux dir (0 sent, 1 recv); 32 B mr0..mr3
	Mem = 2,     // driver-written guest memory the device reads: MemHdr + bytes
	Avail = 3,   // new avail entries published (after their Mem records): AvailRec
	Used = 4,    // a used element and the device-written bytes: UsedHdr + segs + bytes
	Sim = 5,     // sub dir (0 device->sim, 1 sim->device), aux conn: stream bytes
	SimConn = 6, // sub 0 connected, 1 closed; aux conn
	Dropped = 7, // DroppedRec: records lost to the budget since the last one
	Note = 8,    // sub 0 info, 1 tap anomaly; UTF-8 text
	End = 9,     // EndRec: clean close
};

inline constexpr uint8_t kRecTypeMax = 9;

#pragma pack(push, 1)
struct FileHeader {
	char magic[8];
	uint16_t major, minor;
	uint32_t header_size;
	uint64_t start_unix_ns;
	uint32_t side;
	uint32_t flags;
};
struct RecHeader {
	uint32_t size;
	uint8_t type;
	uint8_t sub;
	uint16_t aux;
	uint64_t t_ns;
};
struct MsgRec {
	uint64_t mr[4];
};
struct MemHdr {
	uint64_t gpa;
	uint8_t dev;
	uint8_t pad;
	uint16_t queue;
	uint32_t len; // bytes that follow
};
struct AvailRec {
	uint8_t dev;
	uint8_t late; // 1: found at an interrupt, not at a doorbell of this queue
	uint16_t queue;
	uint16_t idx;         // avail.idx after these entries
	uint16_t count;       // new entries
	uint64_t notify_addr; // doorbell of this queue (0 unknown)
	uint32_t notify_len;
	uint32_t pad;
};
enum UsedFlags : uint8_t {
	kUsedNondet = 1,  // device-written bytes are not deterministic: compare lengths only
	kUsedUnknown = 2, // the id named no chain the recorder saw
};
struct UsedHdr {
	uint8_t dev;
	uint8_t flags;
	uint16_t queue;
	uint16_t pos; // used ring position (free-running 16-bit)
	uint16_t qsize;
	uint64_t used_gpa; // used ring base
	uint32_t id;
	uint32_t len;
	uint32_t nseg;     // UsedSeg entries that follow
	uint32_t data_len; // then data_len bytes: the first bytes of the in-buffers
};
struct UsedSeg {
	uint64_t gpa;
	uint32_t len;
};
struct DroppedRec {
	uint64_t records;
	uint64_t bytes;
};
struct EndRec {
	uint64_t records;
	uint64_t dropped;
	uint64_t bytes;
};
#pragma pack(pop)

static_assert(sizeof(FileHeader) == kFixedHeader);
static_assert(sizeof(RecHeader) == kRecordHeader);
static_assert(sizeof(MemHdr) == 16);
static_assert(sizeof(AvailRec) == 24);
static_assert(sizeof(UsedHdr) == 32);
static_assert(sizeof(UsedSeg) == 12);

// Disk image fingerprint (not a security hash: it detects a different image).
inline uint64_t fnv1a64(const void *p, size_t n, uint64_t h = 0xcbf29ce484222325ull)
{
	const auto *b = static_cast<const uint8_t *>(p);
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

} // namespace vsst::trace
