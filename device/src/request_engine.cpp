// SPDX-License-Identifier: Apache-2.0
#include "request_engine.h"

#include <cstring>

namespace vsst {
namespace {

// Size of each type's payload descriptor (the packed structs in the union).
constexpr size_t kComputeDesc = sizeof(SSTRequest{}.payload.compute);
constexpr size_t kMemoryDesc = sizeof(SSTRequest{}.payload.memory);
constexpr size_t kConfigDesc = sizeof(SSTRequest{}.payload.config);
static_assert(kMemoryDesc == SST_WRITE_DATA_OFFSET);

} // namespace

bool RequestEngine::is_local_type(uint32_t type)
{
	return type == SST_REQ_NOOP || type == SST_REQ_ECHO || type == SST_REQ_GET_INFO ||
	       type == SST_REQ_RESET;
}

uint32_t RequestEngine::validate(const SSTRequest &req, size_t len)
{
	if (len < SST_REQUEST_HEADER_SIZE || len > sizeof(SSTRequest))
		return SST_STATUS_INVALID;
	if (req.type >= SST_REQ_MAX)
		return SST_STATUS_INVALID;
	if (req.flags & ~SST_REQ_FLAG_ASYNC)
		return SST_STATUS_INVALID;
	if ((req.flags & SST_REQ_FLAG_ASYNC) && req.type != SST_REQ_COMPUTE)
		return SST_STATUS_INVALID;

	const size_t payload = len - SST_REQUEST_HEADER_SIZE;
	switch (req.type) {
	case SST_REQ_COMPUTE:
		if (payload < kComputeDesc || req.payload.compute.latency_model >= SST_LATENCY_MAX)
			return SST_STATUS_INVALID;
		break;
	case SST_REQ_READ:
	case SST_REQ_WRITE: {
		if (payload < kMemoryDesc)
			return SST_STATUS_INVALID;
		const uint64_t addr = req.payload.memory.addr;
		const uint32_t size = req.payload.memory.size;
		const uint32_t max = req.type == SST_REQ_READ ? SST_MAX_DATA_SIZE : SST_MAX_WRITE_SIZE;
		if (size == 0 || size > max || addr > UINT64_MAX - size)
			return SST_STATUS_INVALID;
		// A WRITE must carry the data it announces.
		if (req.type == SST_REQ_WRITE && payload < kMemoryDesc + size)
			return SST_STATUS_INVALID;
		break;
	}
	case SST_REQ_CONFIGURE:
		if (payload < kConfigDesc || req.payload.config.param >= SST_CFG_MAX)
			return SST_STATUS_INVALID;
		break;
	default:
		break;
	}
	return SST_STATUS_OK;
}

Route RequestEngine::handle(const SSTRequest &req, size_t len, SSTResponse &resp) const
{
	if (validate(req, len) != SST_STATUS_OK) {
		std::memset(&resp, 0, sizeof(resp));
		resp.status = SST_STATUS_INVALID;
		resp.request_id = req.request_id;
		resp.user_data = req.user_data;
		return Route::local;
	}
	if (!is_local_type(req.type))
		return Route::forward;
	answer_local(req, len, resp);
	return Route::local;
}

void RequestEngine::answer_local(const SSTRequest &req, size_t len, SSTResponse &resp) const
{
	std::memset(&resp, 0, sizeof(resp));
	resp.status = SST_STATUS_OK;
	resp.request_id = req.request_id;
	resp.user_data = req.user_data;

	switch (req.type) {
	case SST_REQ_ECHO: {
		// Echo exactly what the guest sent; result says how many bytes.
		const size_t n = len - SST_REQUEST_HEADER_SIZE;
		std::memcpy(resp.payload.data, req.payload.data, n);
		resp.result = n;
		break;
	}
	case SST_REQ_GET_INFO: {
		const SimCapacities caps = caps_ ? caps_() : SimCapacities{};
		resp.payload.info.version = SST_PROTOCOL_VERSION;
		resp.payload.info.capabilities = features_;
		resp.payload.info.max_compute_units = caps.connected ? caps.max_compute_units : 0;
		resp.payload.info.memory_size = caps.connected ? caps.memory_size : 0;
		resp.result = caps.connected ? 1 : 0; // 1: capacities come from a live simulator
		break;
	}
	case SST_REQ_NOOP:
	case SST_REQ_RESET:
	default:
		break;
	}
}

} // namespace vsst
