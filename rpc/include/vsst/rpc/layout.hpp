// SPDX-License-Identifier: Apache-2.0
// Layout of the shared region (one memfd): a header, then three rings
// (requests, completions, events), each a control block (producer and
// consumer indices on separate cache lines) followed by `capacity` inline
// 32-byte messages. Every field is little-endian and accessed through
// std::atomic_ref where both sides touch it. Public so tests and tools
// can inspect (or deliberately corrupt) a region.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vsst/rpc/message.hpp"

namespace vsst::rpc::layout {

inline constexpr uint64_t kMagic = 0x3143505254535356ull; // "VSSTRPC1" in memory
inline constexpr uint32_t kVersion = VSST_RPC_PROTOCOL_VERSION;
inline constexpr size_t kCacheLine = 64;
inline constexpr size_t kReasonMax = 192; // bytes of poison reason, NUL included
inline constexpr uint32_t kMinCapacity = 2;
inline constexpr uint32_t kMaxCapacity = 1u << 16;
inline constexpr uint32_t kDefaultCapacity = 256;
inline constexpr size_t kRingCount = 3;

// Feature bits advertised in the header.
inline constexpr uint64_t kFeatureCompletionError = 1u << 0; // MR0 bit 26 on completions
inline constexpr uint64_t kFeatures = kFeatureCompletionError;

// poison_state values; anything other than kHealthy means poisoned.
inline constexpr uint32_t kHealthy = 0;
inline constexpr uint32_t kPoisonWriting = 1; // reason being written
inline constexpr uint32_t kPoisoned = 2;      // reason complete

struct alignas(kCacheLine) Header {
	// Written once by the creator, checked by every attach, never re-read.
	uint64_t magic;
	uint32_t version;
	uint32_t header_size;   // offset of the first ring
	uint32_t ring_capacity; // messages per ring, power of two
	uint32_t message_size;  // 32
	uint64_t features;
	uint64_t region_size; // bytes, equals the memfd size
	uint32_t spin_us;     // creator's suggested spin budget
	uint32_t reserved0;
	// Poisoning: either side may set it; the reason is plain text.
	alignas(kCacheLine) uint32_t poison_state;
	uint32_t reserved1;
	char poison_reason[kReasonMax];
	// "About to sleep" announcements, one per waiting party, each on its own line.
	alignas(kCacheLine) uint32_t device_sleeping;            // device waits on requests
	alignas(kCacheLine) uint32_t proxy_sleeping_completions; // a proxy vCPU thread waits
	alignas(kCacheLine) uint32_t proxy_sleeping_events;      // the proxy main loop waits
};

struct RingControl {
	alignas(kCacheLine) uint32_t prod; // written by the producer only
	alignas(kCacheLine) uint32_t cons; // written by the consumer only
};
static_assert(sizeof(RingControl) == 2 * kCacheLine);

constexpr bool valid_capacity(uint32_t cap)
{
	return cap >= kMinCapacity && cap <= kMaxCapacity && (cap & (cap - 1)) == 0;
}
constexpr size_t ring_bytes(uint32_t cap)
{
	return sizeof(RingControl) + size_t{cap} * sizeof(Message);
}
constexpr size_t ring_offset(size_t ring, uint32_t cap)
{
	return sizeof(Header) + ring * ring_bytes(cap);
}
constexpr size_t region_size(uint32_t cap)
{
	const size_t raw = ring_offset(kRingCount, cap);
	return (raw + 4095) & ~size_t{4095};
}

} // namespace vsst::rpc::layout
