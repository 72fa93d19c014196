// SPDX-License-Identifier: Apache-2.0
// The wire size of every request type, pinned to the numbers the ABI gives
// (sst-protocol.h, sim-wire.h): the device core and the simulators' clients
// all send this prefix, so a change here changes the protocol.
#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "vsst/protocol/wire_size.h"

namespace vsst {
namespace {

SSTRequest request(uint32_t type)
{
	SSTRequest r;
	// Garbage everywhere: the size must depend on the type (and WRITE's
	// size field) only, never on other payload bytes.
	std::memset(&r, 0xa5, sizeof(r));
	r.type = type;
	r.flags = 0;
	r.payload.memory.size = 300;
	return r;
}

TEST(WireSize, EveryRequestType)
{
	constexpr uint32_t header = 24;
	const std::map<uint32_t, uint32_t> expected = {
		{SST_REQ_NOOP, header},             // no payload
		{SST_REQ_ECHO, 4104},               // all data, length unknown: whole struct
		{SST_REQ_COMPUTE, header + 12},     // compute_units, latency_model
		{SST_REQ_READ, header + 12},        // addr, size
		{SST_REQ_WRITE, header + 12 + 300}, // addr, size, then `size` data bytes
		{SST_REQ_RESET, header},            // no payload
		{SST_REQ_GET_INFO, header},         // no payload
		{SST_REQ_CONFIGURE, header + 16},   // param, reserved, value
	};
	// A new request type must get its entry here.
	ASSERT_EQ(expected.size(), size_t{SST_REQ_MAX});
	for (uint32_t t = 0; t < SST_REQ_MAX; t++) {
		ASSERT_TRUE(expected.count(t)) << "type " << t;
		const uint32_t n = request_wire_size(request(t));
		EXPECT_EQ(n, expected.at(t)) << "type " << t;
		EXPECT_GE(n, kMinRequestPayload) << "type " << t;
		EXPECT_LE(n, kMaxRequestPayload) << "type " << t;
	}
}

TEST(WireSize, UnknownTypesSendTheHeaderOnly)
{
	for (uint32_t t : {uint32_t{SST_REQ_MAX}, 0x46535356u, 0xffffffffu})
		EXPECT_EQ(request_wire_size(request(t)), uint32_t{SST_REQUEST_HEADER_SIZE}) << "type " << t;
}

TEST(WireSize, WriteCarriesItsDataCappedAtTheLargestWrite)
{
	SSTRequest r = request(SST_REQ_WRITE);
	for (uint32_t size : {0u, 1u, 8u, 4067u, 4068u}) {
		r.payload.memory.size = size;
		EXPECT_EQ(request_wire_size(r), SST_REQUEST_HEADER_SIZE + SST_WRITE_DATA_OFFSET + size)
			<< size;
	}
	for (uint32_t size : {4069u, 4080u, 0xffffffffu}) {
		r.payload.memory.size = size;
		EXPECT_EQ(request_wire_size(r), sizeof(SSTRequest)) << size;
	}
}

TEST(WireSize, AcalsimMovesWholeStructs)
{
	EXPECT_EQ(kAcalsimRequestSize, 4104u);
	EXPECT_EQ(kAcalsimResponseSize, 4112u);
}

} // namespace
} // namespace vsst
