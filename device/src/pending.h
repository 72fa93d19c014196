// SPDX-License-Identifier: Apache-2.0
// What the simulator client remembers about a forwarded request.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "vsst/sst-protocol.h"

namespace vsst {

using Clock = std::chrono::steady_clock;

struct PendingInfo {
	uint64_t cookie = 0;
	uint64_t epoch = 0; // cancel_all generation the cookie belongs to
	uint64_t request_id = 0;
	uint64_t user_data = 0;
	uint32_t type = 0;
	uint32_t param = 0;    // CONFIGURE parameter, to refresh cached capacities
	bool internal = false; // issued by the core itself (capacity probe): no completion
	// Synchronized time (vsst_dev_submit_at): when the guest submitted it, and
	// the simulated completion time the simulator answered (0: none, e.g. a
	// local answer, NO_DEVICE or TIMEOUT).
	uint64_t submit_ps = 0;
	uint64_t complete_ps = 0;
	Clock::time_point deadline{};
};

struct ForwardRequest {
	PendingInfo info;
	uint32_t wire_len = 0;            // meaningful leading bytes of *body
	std::unique_ptr<SSTRequest> body; // zero-filled beyond what the guest supplied
};

// Where the simulator client puts results. Implemented by the device; called
// on the I/O thread. complete() fixes request_id/user_data from info.
class CompletionSink {
public:
	virtual void complete(const PendingInfo &info, SSTResponse &resp) = 0;
	virtual void event(const SSTEvent &ev) = 0;

protected:
	~CompletionSink() = default;
};

// A response carrying only a status (NO_DEVICE, TIMEOUT, ERROR, ...).
inline void complete_with_status(CompletionSink &sink, const PendingInfo &info, uint32_t status)
{
	SSTResponse resp{};
	resp.status = status;
	sink.complete(info, resp);
}

} // namespace vsst
