// SPDX-License-Identifier: Apache-2.0
// Latency arithmetic of the device model (formulas documented in
// sst-element/README.md, "Latency models"). Pure functions: shared by the
// standalone model and the SST-core components.
#pragma once

#include <cstdint>
#include <optional>

#include "vsst/sim/model_params.h"

namespace vsst::sim {

// Cost of one COMPUTE request of `work` work items.
struct ComputeCost {
	uint64_t unit_cycles = 0; // how long it occupies one compute unit
	uint64_t mem_cycles = 0;  // how long it occupies the memory channel (bandwidth model)
	uint64_t mem_offset = 0;  // channel use starts this many cycles after the unit starts
};

// Hard limit on work items of one request, far above any sensible use; keeps
// every product below 2^64.
inline constexpr uint64_t kMaxWorkItems = 1ull << 32;

// nullopt: invalid latency model or work beyond kMaxWorkItems.
std::optional<ComputeCost> compute_cost(const ModelParams &p, uint64_t latency_model, uint64_t work);

// Cycles a READ/WRITE of `bytes` occupies the memory channel: ceil(bytes / Bm).
uint64_t mem_transfer_cycles(const ModelParams &p, uint64_t bytes);

// cycles -> picoseconds at clock_hz, rounded up; nullopt on overflow.
std::optional<uint64_t> cycles_to_ps(uint64_t cycles, uint64_t clock_hz);

// picoseconds -> cycles at clock_hz, rounded up.
uint64_t ps_to_cycles(uint64_t ps, uint64_t clock_hz);

} // namespace vsst::sim
