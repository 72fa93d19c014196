// SPDX-License-Identifier: Apache-2.0
// Encoding and decoding of sim-wire.h frames. Pure functions so that the
// parser can be tested (and fuzzed) without sockets. Only little-endian hosts
// are supported, like the rest of the project.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#include "byte_buffer.h"
#include "vsst/sim-wire.h"

namespace vsst::wire {

static_assert(std::endian::native == std::endian::little, "sim-wire is little-endian");

struct Frame {
	uint16_t type = 0;
	uint64_t tag = 0;
	const uint8_t *payload = nullptr;
	uint32_t length = 0;
	size_t total = 0; // header + payload bytes, to consume
};

enum class Parse {
	need_more, // not a whole frame yet
	frame,     // `out` describes one complete frame
	bad_magic,
	bad_version,
	oversize,
};

Parse parse(const uint8_t *data, size_t size, Frame &out);
const char *parse_error_name(Parse p);

void append(ByteBuffer &out, uint16_t type, uint64_t tag, const void *payload, uint32_t length);
// Header plus two payload pieces (e.g. meta + response) without a copy.
void append2(ByteBuffer &out, uint16_t type, uint64_t tag, const void *a, uint32_t alen, const void *b,
	     uint32_t blen);

} // namespace vsst::wire
