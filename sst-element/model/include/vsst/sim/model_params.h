// SPDX-License-Identifier: Apache-2.0
// Parameters of the device timing model, their limits, and the CONFIGURE
// parameter table (ids from enum SSTConfigParam in sst-protocol.h).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "vsst/sst-protocol.h"

namespace vsst::sim {

inline constexpr uint64_t kMiB = 1024ull * 1024ull;
inline constexpr uint64_t kPageSize = 4096;

struct ModelParams {
	uint64_t clock_hz = 1'000'000'000;          // model clock
	uint64_t compute_units = 4;                 // hardware units
	uint64_t latency_model = SST_LATENCY_FIXED; // SSTLatencyModel, not DEFAULT
	uint64_t unit_latency_cycles = 100;         // L
	uint64_t pipeline_startup_cycles = 20;      // S
	uint64_t unit_bandwidth = 8;                // Bu: work items (bytes) per cycle
	uint64_t mem_latency_cycles = 100;          // Lm
	uint64_t mem_bandwidth = 16;                // Bm: bytes per cycle
	uint64_t mem_size = 256 * kMiB;             // bytes, multiple of 4096

	bool operator==(const ModelParams &) const = default;
};

struct ParamInfo {
	uint32_t id;           // SSTConfigParam
	std::string_view name; // snake_case: config-file key and SST param name
	std::string_view flag; // sst-sim command-line flag (without "--")
	uint64_t min;
	uint64_t max;
	std::string_view unit;
	std::string_view what;
};

// One entry per SSTConfigParam, indexed by id.
const std::array<ParamInfo, SST_CFG_MAX> &param_table();

// Looks a parameter up by its snake_case name or its flag spelling.
std::optional<uint32_t> param_by_name(std::string_view name);

uint64_t get_param(const ModelParams &p, uint32_t id);

// Sets one parameter after validating id and range (and, for mem_size, page
// alignment). On failure returns false, sets *why, and leaves p unchanged.
bool set_param(ModelParams &p, uint32_t id, uint64_t value, std::string *why = nullptr);

// Checks every parameter; returns an empty string when all are valid.
std::string validate(const ModelParams &p);

// "fixed" / "pipelined" / "bandwidth" <-> SSTLatencyModel.
std::optional<uint64_t> latency_model_by_name(std::string_view name);
std::string_view latency_model_name(uint64_t model);

} // namespace vsst::sim
