// SPDX-License-Identifier: Apache-2.0
// How many bytes of the guest ABI's structures go over the simulator socket.
// One rule for every client (the device core, the simulators' test client,
// the benchmark, the fuzz corpus) and every server, so both ends agree.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vsst/sst-protocol.h"

namespace vsst {

// A REQUEST frame carries the first 24..4104 bytes of an SSTRequest
// (sim-wire.h); missing tail bytes read as zero.
inline constexpr size_t kMinRequestPayload = SST_REQUEST_HEADER_SIZE;
inline constexpr size_t kMaxRequestPayload = sizeof(SSTRequest);

// acalsim has no frames: a whole SSTRequest out, a whole SSTResponse back.
inline constexpr size_t kAcalsimRequestSize = sizeof(SSTRequest);
inline constexpr size_t kAcalsimResponseSize = sizeof(SSTResponse);

// The meaningful prefix of `req`, what a framed client sends: the header plus
// the type's payload descriptor (COMPUTE 12, READ 12, CONFIGURE 16 bytes),
// plus the data for WRITE (memory.size, capped at SST_MAX_WRITE_SIZE). ECHO's
// payload is all data and the request does not say how much: the whole
// struct. Types without a payload (NOOP, RESET, GET_INFO) and unknown types:
// the header alone.
uint32_t request_wire_size(const SSTRequest &req);

} // namespace vsst
