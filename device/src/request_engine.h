// SPDX-License-Identifier: Apache-2.0
// The request engine: validates what the guest supplied, answers the request
// types the device handles itself and tells the caller which ones go to the
// simulator. Pure logic, no I/O, no threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "vsst/sst-protocol.h"

namespace vsst {

// What the simulator reported about itself (zero while unknown or away).
struct SimCapacities {
	bool connected = false;
	uint64_t max_compute_units = 0;
	uint64_t memory_size = 0;
};

enum class Route { local, forward };

class RequestEngine {
public:
	using CapacitySource = std::function<SimCapacities()>;

	RequestEngine(uint32_t feature_bits, CapacitySource caps)
		: features_(feature_bits), caps_(std::move(caps))
	{
	}

	// SST_STATUS_OK if the request may be executed, else SST_STATUS_INVALID.
	// `len` is what the guest supplied; bytes past it in `req` are zero.
	static uint32_t validate(const SSTRequest &req, size_t len);

	static bool is_local_type(uint32_t type);

	// Local or invalid requests: fills `resp` completely and returns
	// Route::local. Requests for the simulator: returns Route::forward and
	// leaves `resp` alone.
	Route handle(const SSTRequest &req, size_t len, SSTResponse &resp) const;

private:
	void answer_local(const SSTRequest &req, size_t len, SSTResponse &resp) const;

	uint32_t features_;
	CapacitySource caps_;
};

} // namespace vsst
