// SPDX-License-Identifier: Apache-2.0
#include "vsst/sim/latency.h"

#include <algorithm>

namespace vsst::sim {

namespace {
constexpr uint64_t kPsPerSecond = 1'000'000'000'000ull;

uint64_t ceil_div(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}
} // namespace

std::optional<ComputeCost> compute_cost(const ModelParams &p, uint64_t latency_model, uint64_t work)
{
	if (latency_model == SST_LATENCY_DEFAULT)
		latency_model = p.latency_model;
	if (work > kMaxWorkItems)
		return std::nullopt;
	ComputeCost cost;
	switch (latency_model) {
	case SST_LATENCY_FIXED:
		// Every item occupies the unit for L cycles, one after the other.
		cost.unit_cycles = work * p.unit_latency_cycles;
		return cost;
	case SST_LATENCY_PIPELINED:
		// Startup S, first item out after the pipeline depth L, then one per cycle.
		if (work > 0)
			cost.unit_cycles = p.pipeline_startup_cycles + p.unit_latency_cycles + work - 1;
		return cost;
	case SST_LATENCY_BANDWIDTH: {
		// Items are operand bytes streamed from device memory at the slower of
		// the unit's and the memory channel's bandwidth, after the startup S and
		// the memory latency Lm; the channel is held for the streaming part.
		if (work == 0)
			return cost;
		const uint64_t rate = std::min(p.unit_bandwidth, p.mem_bandwidth);
		const uint64_t stream = ceil_div(work, rate);
		cost.unit_cycles = p.pipeline_startup_cycles + p.mem_latency_cycles + stream;
		cost.mem_cycles = stream;
		cost.mem_offset = p.pipeline_startup_cycles;
		return cost;
	}
	default:
		return std::nullopt;
	}
}

uint64_t mem_transfer_cycles(const ModelParams &p, uint64_t bytes)
{
	return ceil_div(bytes, p.mem_bandwidth);
}

std::optional<uint64_t> cycles_to_ps(uint64_t cycles, uint64_t clock_hz)
{
	if (clock_hz == 0)
		return std::nullopt;
	const unsigned __int128 num = static_cast<unsigned __int128>(cycles) * kPsPerSecond;
	const unsigned __int128 ps = num / clock_hz + (num % clock_hz != 0);
	if (ps > UINT64_MAX)
		return std::nullopt;
	return static_cast<uint64_t>(ps);
}

uint64_t ps_to_cycles(uint64_t ps, uint64_t clock_hz)
{
	const unsigned __int128 num = static_cast<unsigned __int128>(ps) * clock_hz;
	const unsigned __int128 cycles = num / kPsPerSecond + (num % kPsPerSecond != 0);
	return cycles > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(cycles);
}

} // namespace vsst::sim
