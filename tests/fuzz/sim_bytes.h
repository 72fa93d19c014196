// SPDX-License-Identifier: Apache-2.0
// Client byte strings for the simulator-side fuzz targets (sim_server,
// bridge_intake): a well-formed request of any type, acalsim or framed, and a
// HELLO frame, built from the fuzz input.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "fuzz_support.h"
#include "vsst/sim-wire.h"
#include "vsst/sst-protocol.h"

namespace vsst::fuzz {

// A well-formed request from the input: acalsim (raw 4104 bytes) or a framed
// REQUEST frame of its wire size.
inline std::vector<uint8_t> request_bytes(ByteReader &in, bool framed, uint64_t tag)
{
	static const uint32_t kTypes[] = {SST_REQ_NOOP,  SST_REQ_ECHO,  SST_REQ_COMPUTE,  SST_REQ_READ,
					  SST_REQ_WRITE, SST_REQ_RESET, SST_REQ_GET_INFO, SST_REQ_CONFIGURE};
	SSTRequest r{};
	r.type = kTypes[in.u8() % 8];
	r.flags = in.u8() & SST_REQ_FLAG_ASYNC;
	r.request_id = in.u64();
	const uint32_t a = in.u32();
	switch (r.type) {
	case SST_REQ_COMPUTE:
		r.payload.compute.compute_units = a % 100000;
		break;
	case SST_REQ_READ:
	case SST_REQ_WRITE:
		// Pages spread over 4 GiB so that writes exhaust the small budget.
		r.payload.memory.addr = static_cast<uint64_t>(a & 0xfff) << 20 | (a >> 28) << 8;
		r.payload.memory.size = 1 + (a >> 12) % SST_MAX_WRITE_SIZE;
		break;
	case SST_REQ_CONFIGURE:
		r.payload.config.param = (a & 0xff) % (SST_CFG_MAX + 1);
		r.payload.config.value = a & 0x100 ? uint64_t{4} << 30 : a >> 9;
		break;
	default:
		break;
	}
	const auto *b = reinterpret_cast<const uint8_t *>(&r);
	if (!framed)
		return std::vector<uint8_t>(b, b + sizeof r);
	const uint32_t len = std::max<uint32_t>(SST_REQUEST_HEADER_SIZE, sizeof r - (a % 4) * 1000);
	vsst_sim_frame_hdr h{};
	h.magic = VSST_SIM_MAGIC;
	h.version = VSST_SIM_VERSION;
	h.type = VSST_SIM_REQUEST;
	h.length = len;
	h.tag = tag;
	std::vector<uint8_t> v(reinterpret_cast<const uint8_t *>(&h),
			       reinterpret_cast<const uint8_t *>(&h) + sizeof h);
	v.insert(v.end(), b, b + len);
	return v;
}

inline std::vector<uint8_t> hello_frame(uint32_t device_id, uint32_t features)
{
	vsst_sim_frame_hdr h{};
	h.magic = VSST_SIM_MAGIC;
	h.version = VSST_SIM_VERSION;
	h.type = VSST_SIM_HELLO;
	h.length = sizeof(vsst_sim_hello);
	vsst_sim_hello p{};
	p.device_id = device_id;
	p.features = features;
	std::vector<uint8_t> v(reinterpret_cast<const uint8_t *>(&h),
			       reinterpret_cast<const uint8_t *>(&h) + sizeof h);
	v.insert(v.end(), reinterpret_cast<const uint8_t *>(&p),
		 reinterpret_cast<const uint8_t *>(&p) + sizeof p);
	return v;
}

} // namespace vsst::fuzz
