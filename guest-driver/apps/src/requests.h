// SPDX-License-Identifier: Apache-2.0
// Builders for SSTRequests and the deterministic data patterns the tests
// write and read back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include <vsst/sst-protocol.h>

namespace vsst::guest {

SSTRequest make_request(uint32_t type, uint64_t user_data);
SSTRequest make_echo(uint64_t user_data, const uint8_t *data, size_t len);
SSTRequest make_compute(uint64_t user_data, uint64_t units, uint32_t latency_model, uint32_t flags = 0);
SSTRequest make_read(uint64_t user_data, uint64_t addr, uint32_t size);
// len must not exceed SST_MAX_WRITE_SIZE.
SSTRequest make_write(uint64_t user_data, uint64_t addr, const uint8_t *data, uint32_t len);
SSTRequest make_configure(uint64_t user_data, uint32_t param, uint64_t value);

// Data written by WRITE requests.
const uint8_t *write_data(const SSTRequest &req);

enum class Pattern { zeros, ones, alternating, walking, counter, random };
std::string_view pattern_name(Pattern p);
inline constexpr Pattern kAllPatterns[] = {Pattern::zeros,   Pattern::ones,    Pattern::alternating,
					   Pattern::walking, Pattern::counter, Pattern::random};

// Fills out[0..len) with pattern p; seed varies the counter and random ones.
void fill_pattern(Pattern p, uint64_t seed, uint8_t *out, size_t len);

// Index of the first differing byte, or nothing when equal.
std::optional<size_t> first_difference(const uint8_t *a, const uint8_t *b, size_t len);

// Request type names as used on the command lines ("noop", "echo", ...).
std::string_view type_name(uint32_t type);
std::optional<uint32_t> type_from_name(std::string_view name);
std::string_view status_name(uint32_t status);

} // namespace vsst::guest
