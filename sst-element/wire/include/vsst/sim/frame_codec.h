// SPDX-License-Identifier: Apache-2.0
// Parsing and encoding of sim-wire.h frames. Pure functions over byte
// buffers, so they can be unit-tested and fuzzed without sockets.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "vsst/sim-wire.h"
#include "vsst/sim/byte_buffer.h"

namespace vsst::sim {

inline constexpr size_t kFrameHeaderSize = sizeof(vsst_sim_frame_hdr);

struct ParsedFrame {
  enum class Status : uint8_t {
    kNeedMore,  // not a whole frame yet
    kFrame,     // header + payload complete and the header is sane
    kBad,       // the stream cannot be trusted any more (error code set)
  };
  Status status = Status::kNeedMore;
  vsst_sim_frame_hdr hdr{};
  std::span<const uint8_t> payload;
  size_t consumed = 0;   // bytes of this frame (header + payload) when kFrame
  uint32_t error = 0;    // vsst_sim_error_code when kBad
  std::string_view why;  // short text when kBad
};

// Looks at the front of `in`. Checks magic, version and length bound only;
// whether the type and length suit each other is the caller's business
// (those errors are recoverable because the frame boundary is known).
ParsedFrame parse_frame(std::span<const uint8_t> in);

// Appends a frame whose payload is the concatenation of `parts`.
void encode_frame(ByteBuffer& out, uint16_t type, uint64_t tag,
                  std::initializer_list<std::span<const uint8_t>> parts);

// Appends an ERROR frame: vsst_sim_error + message text.
void encode_error(ByteBuffer& out, uint64_t tag, uint32_t code, std::string_view message);

std::string_view frame_type_name(uint16_t type);

template <typename T>
std::span<const uint8_t> as_bytes(const T& v) {
  return {reinterpret_cast<const uint8_t*>(&v), sizeof v};
}

}  // namespace vsst::sim
