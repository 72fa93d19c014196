// SPDX-License-Identifier: Apache-2.0
// Request builders and output decoding shared by the simulator tests.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "vsst/sim/device_model.h"
#include "vsst/sst-protocol.h"

namespace vsst::sim::test {

inline SSTRequest make_req(uint32_t type, uint64_t id = 1)
{
	SSTRequest r{};
	r.type = type;
	r.request_id = id;
	r.user_data = id * 7 + 3;
	return r;
}

inline SSTRequest compute_req(uint64_t work, uint32_t model = SST_LATENCY_DEFAULT, uint64_t id = 1,
			      uint32_t flags = 0)
{
	SSTRequest r = make_req(SST_REQ_COMPUTE, id);
	r.flags = flags;
	r.payload.compute.compute_units = work;
	r.payload.compute.latency_model = model;
	return r;
}

inline SSTRequest read_req(uint64_t addr, uint32_t size, uint64_t id = 1)
{
	SSTRequest r = make_req(SST_REQ_READ, id);
	r.payload.memory.addr = addr;
	r.payload.memory.size = size;
	return r;
}

inline SSTRequest write_req(uint64_t addr, std::span<const uint8_t> data, uint64_t id = 1)
{
	SSTRequest r = make_req(SST_REQ_WRITE, id);
	r.payload.memory.addr = addr;
	r.payload.memory.size = static_cast<uint32_t>(data.size());
	if (!data.empty()) {
		std::memcpy(r.payload.data + SST_WRITE_DATA_OFFSET, data.data(),
			    std::min<size_t>(data.size(), SST_MAX_WRITE_SIZE));
	}
	return r;
}

inline SSTRequest config_req(uint32_t param, uint64_t value, uint64_t id = 1)
{
	SSTRequest r = make_req(SST_REQ_CONFIGURE, id);
	r.payload.config.param = param;
	r.payload.config.value = value;
	return r;
}

inline std::span<const uint8_t> bytes_of(const SSTRequest &r, size_t len = sizeof(SSTRequest))
{
	return {reinterpret_cast<const uint8_t *>(&r), len};
}

// Full SSTResponse from an output (missing tail reads as zero).
inline SSTResponse response_of(const SimOutput &o)
{
	SSTResponse r{};
	std::memcpy(&r, o.bytes.data(), std::min(o.bytes.size(), sizeof r));
	return r;
}

// Submits one request and runs the model until it is idle.
inline std::vector<SimOutput> run_one(DeviceModel &m, const SSTRequest &r, bool events = false,
				      uint64_t token = 1)
{
	m.submit(token, bytes_of(r), events);
	std::vector<SimOutput> outs;
	while (auto o = m.pop())
		outs.push_back(std::move(*o));
	return outs;
}

inline SSTResponse call(DeviceModel &m, const SSTRequest &r)
{
	auto outs = run_one(m, r);
	return outs.empty() ? SSTResponse{} : response_of(outs.front());
}

} // namespace vsst::sim::test
