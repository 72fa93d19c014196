// SPDX-License-Identifier: Apache-2.0
// Parsing and encoding of sim-wire.h frames, for both ends of the simulator
// socket (the device core's client, the simulators' sessions). Pure functions
// over byte buffers, so they can be unit-tested and fuzzed without sockets.
// Only little-endian hosts are supported, like the rest of the project.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string_view>

#include "vsst/protocol/byte_buffer.h"
#include "vsst/sim-wire.h"

namespace vsst {

static_assert(std::endian::native == std::endian::little, "sim-wire is little-endian");

inline constexpr size_t kFrameHeaderSize = sizeof(vsst_sim_frame_hdr);

struct ParsedFrame {
	enum class Status : uint8_t {
		need_more, // not a whole frame yet
		frame,     // header + payload complete and the header is sane
		bad,       // the stream cannot be trusted any more (error, why set)
	};
	Status status = Status::need_more;
	vsst_sim_frame_hdr hdr{};
	std::span<const uint8_t> payload;
	size_t consumed = 0;  // bytes of this frame (header + payload) when `frame`
	uint32_t error = 0;   // vsst_sim_error_code when `bad`
	std::string_view why; // short text when `bad`
};

// Looks at the front of `in`. Checks magic, version and length bound only,
// each as soon as its bytes are there: waiting for a bogus length's worth of
// payload would stall the link instead of failing it. Whether the type and
// length suit each other is the caller's business (those errors are
// recoverable because the frame boundary is known).
ParsedFrame parse_frame(std::span<const uint8_t> in);

// Appends a frame whose payload is the concatenation of `parts` (e.g. meta +
// response without a copy).
void encode_frame(ByteBuffer &out, uint16_t type, uint64_t tag,
		  std::initializer_list<std::span<const uint8_t>> parts);

// Appends an ERROR frame: vsst_sim_error + message text.
void encode_error(ByteBuffer &out, uint64_t tag, uint32_t code, std::string_view message);

std::string_view frame_type_name(uint16_t type);

// REQUEST_AT (synchronized time, sim-wire.h): the submit time travels in
// front of the request bytes.
void encode_request_at(ByteBuffer &out, uint64_t tag, uint64_t submit_ps, std::span<const uint8_t> request);
struct TimedRequest {
	uint64_t submit_ps = 0;
	std::span<const uint8_t> request; // the SSTRequest prefix (length unchecked)
};
// nullopt when the payload is too short for the submit time.
std::optional<TimedRequest> parse_request_at(std::span<const uint8_t> payload);

template <typename T> std::span<const uint8_t> as_bytes(const T &v)
{
	return {reinterpret_cast<const uint8_t *>(&v), sizeof v};
}

inline std::span<const uint8_t> as_bytes(const void *p, size_t n)
{
	return {static_cast<const uint8_t *>(p), n};
}

} // namespace vsst
