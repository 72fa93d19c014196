// SPDX-License-Identifier: Apache-2.0
#include "vsst/protocol/wire_size.h"

#include <algorithm>

namespace vsst {
namespace {

// Size of each type's payload descriptor (the packed structs in the union).
constexpr size_t kComputeDesc = sizeof(SSTRequest{}.payload.compute);
constexpr size_t kMemoryDesc = sizeof(SSTRequest{}.payload.memory);
constexpr size_t kConfigDesc = sizeof(SSTRequest{}.payload.config);
static_assert(kComputeDesc == 12 && kMemoryDesc == 12 && kConfigDesc == 16);
static_assert(kMemoryDesc == SST_WRITE_DATA_OFFSET);

} // namespace

uint32_t request_wire_size(const SSTRequest &req)
{
	size_t n = SST_REQUEST_HEADER_SIZE;
	switch (req.type) {
	case SST_REQ_COMPUTE:
		n += kComputeDesc;
		break;
	case SST_REQ_READ:
		n += kMemoryDesc;
		break;
	case SST_REQ_WRITE:
		n += kMemoryDesc + std::min<size_t>(req.payload.memory.size, SST_MAX_WRITE_SIZE);
		break;
	case SST_REQ_CONFIGURE:
		n += kConfigDesc;
		break;
	case SST_REQ_ECHO:
		n = sizeof(SSTRequest);
		break;
	default: // NOOP, RESET, GET_INFO, unknown: nothing past the header
		break;
	}
	return static_cast<uint32_t>(n);
}

} // namespace vsst
