// SPDX-License-Identifier: Apache-2.0
#include "requests.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace vsst::guest {
namespace {

constexpr std::array<std::string_view, SST_REQ_MAX> kTypeNames = {"noop",  "echo",  "compute",  "read",
								  "write", "reset", "get_info", "configure"};

constexpr std::array<std::string_view, 6> kStatusNames = {"OK",      "ERROR",   "BUSY",
							  "INVALID", "TIMEOUT", "NO_DEVICE"};

// splitmix64: small, fast, and the same everywhere.
uint64_t next_random(uint64_t &state)
{
	uint64_t z = (state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

} // namespace

SSTRequest make_request(uint32_t type, uint64_t user_data)
{
	SSTRequest req;
	std::memset(&req, 0, sizeof(req));
	req.type = type;
	req.user_data = user_data;
	return req;
}

SSTRequest make_echo(uint64_t user_data, const uint8_t *data, size_t len)
{
	SSTRequest req = make_request(SST_REQ_ECHO, user_data);
	std::memcpy(req.payload.data, data, std::min<size_t>(len, SST_MAX_DATA_SIZE));
	return req;
}

SSTRequest make_compute(uint64_t user_data, uint64_t units, uint32_t latency_model, uint32_t flags)
{
	SSTRequest req = make_request(SST_REQ_COMPUTE, user_data);
	req.flags = flags;
	req.payload.compute.compute_units = units;
	req.payload.compute.latency_model = latency_model;
	return req;
}

SSTRequest make_read(uint64_t user_data, uint64_t addr, uint32_t size)
{
	SSTRequest req = make_request(SST_REQ_READ, user_data);
	req.payload.memory.addr = addr;
	req.payload.memory.size = size;
	return req;
}

SSTRequest make_write(uint64_t user_data, uint64_t addr, const uint8_t *data, uint32_t len)
{
	SSTRequest req = make_request(SST_REQ_WRITE, user_data);
	req.payload.memory.addr = addr;
	req.payload.memory.size = len;
	std::memcpy(req.payload.data + SST_WRITE_DATA_OFFSET, data,
		    std::min<size_t>(len, SST_MAX_WRITE_SIZE));
	return req;
}

SSTRequest make_configure(uint64_t user_data, uint32_t param, uint64_t value)
{
	SSTRequest req = make_request(SST_REQ_CONFIGURE, user_data);
	req.payload.config.param = param;
	req.payload.config.value = value;
	return req;
}

const uint8_t *write_data(const SSTRequest &req)
{
	return req.payload.data + SST_WRITE_DATA_OFFSET;
}

std::string_view pattern_name(Pattern p)
{
	switch (p) {
	case Pattern::zeros:
		return "zeros";
	case Pattern::ones:
		return "ones";
	case Pattern::alternating:
		return "alt";
	case Pattern::walking:
		return "walking";
	case Pattern::counter:
		return "counter";
	case Pattern::random:
		return "random";
	}
	return "?";
}

void fill_pattern(Pattern p, uint64_t seed, uint8_t *out, size_t len)
{
	uint64_t state = seed;
	for (size_t i = 0; i < len; i++) {
		switch (p) {
		case Pattern::zeros:
			out[i] = 0x00;
			break;
		case Pattern::ones:
			out[i] = 0xff;
			break;
		case Pattern::alternating:
			out[i] = (i & 1) ? 0x5a : 0xa5;
			break;
		case Pattern::walking:
			out[i] = static_cast<uint8_t>(1u << (i % 8));
			break;
		case Pattern::counter:
			out[i] = static_cast<uint8_t>(i + seed);
			break;
		case Pattern::random:
			if (i % 8 == 0)
				state = next_random(state);
			out[i] = static_cast<uint8_t>(state >> (8 * (i % 8)));
			break;
		}
	}
}

std::optional<size_t> first_difference(const uint8_t *a, const uint8_t *b, size_t len)
{
	const auto [pa, pb] = std::mismatch(a, a + len, b);
	if (pa == a + len)
		return std::nullopt;
	return static_cast<size_t>(pa - a);
}

std::string_view type_name(uint32_t type)
{
	return type < kTypeNames.size() ? kTypeNames[type] : "unknown";
}

std::optional<uint32_t> type_from_name(std::string_view name)
{
	for (uint32_t t = 0; t < kTypeNames.size(); t++)
		if (kTypeNames[t] == name)
			return t;
	return std::nullopt;
}

std::string_view status_name(uint32_t status)
{
	return status < kStatusNames.size() ? kStatusNames[status] : "UNKNOWN";
}

} // namespace vsst::guest
