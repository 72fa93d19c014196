// SPDX-License-Identifier: Apache-2.0
#include "vsst/sim/model_params.h"

namespace vsst::sim {

namespace {

constexpr uint64_t kMillion = 1'000'000;

constexpr std::array<ParamInfo, SST_CFG_MAX> kTable = {{
	{SST_CFG_CLOCK_HZ, "clock_hz", "clock-hz", kMillion, 1'000'000'000'000ull, "Hz",
	 "model clock; 1 cycle = 1e12/clock_hz ps (rounded up)"},
	{SST_CFG_COMPUTE_UNITS, "compute_units", "compute-units", 1, 1024, "units",
	 "hardware compute units serving COMPUTE requests in parallel"},
	{SST_CFG_LATENCY_MODEL, "latency_model", "latency-model", SST_LATENCY_FIXED, SST_LATENCY_MAX - 1,
	 "enum", "default COMPUTE latency model: 1 fixed, 2 pipelined, 3 bandwidth"},
	{SST_CFG_UNIT_LATENCY_CYCLES, "unit_latency_cycles", "unit-latency-cycles", 1, kMillion, "cycles",
	 "L: cycles per work item (fixed) / pipeline depth (pipelined)"},
	{SST_CFG_PIPELINE_STARTUP_CYCLES, "pipeline_startup_cycles", "pipeline-startup-cycles", 0, kMillion,
	 "cycles", "S: one-off startup cost of a pipelined or bandwidth-bound request"},
	{SST_CFG_UNIT_BANDWIDTH, "unit_bandwidth", "unit-bandwidth", 1, kMillion, "bytes/cycle",
	 "Bu: work items (bytes) one unit consumes per cycle in the bandwidth-bound model"},
	{SST_CFG_MEM_LATENCY_CYCLES, "mem_latency_cycles", "mem-latency-cycles", 0, kMillion, "cycles",
	 "Lm: device memory access latency (overlaps between requests)"},
	{SST_CFG_MEM_BANDWIDTH, "mem_bandwidth", "mem-bandwidth", 1, kMillion, "bytes/cycle",
	 "Bm: bandwidth of the single device memory channel (serialises transfers)"},
	{SST_CFG_MEM_SIZE, "mem_size", "mem-size", kPageSize, 4096ull * kMiB, "bytes",
	 "device memory size, multiple of 4096; sparse (only written pages use host memory)"},
}};

uint64_t *field(ModelParams &p, uint32_t id)
{
	switch (id) {
	case SST_CFG_CLOCK_HZ:
		return &p.clock_hz;
	case SST_CFG_COMPUTE_UNITS:
		return &p.compute_units;
	case SST_CFG_LATENCY_MODEL:
		return &p.latency_model;
	case SST_CFG_UNIT_LATENCY_CYCLES:
		return &p.unit_latency_cycles;
	case SST_CFG_PIPELINE_STARTUP_CYCLES:
		return &p.pipeline_startup_cycles;
	case SST_CFG_UNIT_BANDWIDTH:
		return &p.unit_bandwidth;
	case SST_CFG_MEM_LATENCY_CYCLES:
		return &p.mem_latency_cycles;
	case SST_CFG_MEM_BANDWIDTH:
		return &p.mem_bandwidth;
	case SST_CFG_MEM_SIZE:
		return &p.mem_size;
	default:
		return nullptr;
	}
}

std::string check(uint32_t id, uint64_t value)
{
	if (id >= SST_CFG_MAX)
		return "unknown parameter id " + std::to_string(id);
	const ParamInfo &info = kTable[id];
	if (value < info.min || value > info.max) {
		return std::string(info.name) + "=" + std::to_string(value) + " out of range [" +
		       std::to_string(info.min) + ", " + std::to_string(info.max) + "]";
	}
	if (id == SST_CFG_MEM_SIZE && value % kPageSize != 0) {
		return "mem_size must be a multiple of 4096";
	}
	return {};
}

} // namespace

const std::array<ParamInfo, SST_CFG_MAX> &param_table()
{
	return kTable;
}

std::optional<uint32_t> param_by_name(std::string_view name)
{
	for (const ParamInfo &info : kTable) {
		if (name == info.name || name == info.flag)
			return info.id;
	}
	return std::nullopt;
}

uint64_t get_param(const ModelParams &p, uint32_t id)
{
	ModelParams copy = p;
	const uint64_t *f = field(copy, id);
	return f ? *f : 0;
}

bool set_param(ModelParams &p, uint32_t id, uint64_t value, std::string *why)
{
	std::string err = check(id, value);
	if (!err.empty()) {
		if (why)
			*why = std::move(err);
		return false;
	}
	*field(p, id) = value;
	return true;
}

std::string validate(const ModelParams &p)
{
	for (const ParamInfo &info : kTable) {
		std::string err = check(info.id, get_param(p, info.id));
		if (!err.empty())
			return err;
	}
	return {};
}

std::optional<uint64_t> latency_model_by_name(std::string_view name)
{
	if (name == "fixed" || name == "1")
		return SST_LATENCY_FIXED;
	if (name == "pipelined" || name == "2")
		return SST_LATENCY_PIPELINED;
	if (name == "bandwidth" || name == "3")
		return SST_LATENCY_BANDWIDTH;
	return std::nullopt;
}

std::string_view latency_model_name(uint64_t model)
{
	switch (model) {
	case SST_LATENCY_FIXED:
		return "fixed";
	case SST_LATENCY_PIPELINED:
		return "pipelined";
	case SST_LATENCY_BANDWIDTH:
		return "bandwidth";
	default:
		return "invalid";
	}
}

} // namespace vsst::sim
