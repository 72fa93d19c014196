// SPDX-License-Identifier: Apache-2.0
// sst-sim --stats-out: what is kept per connection for the statistics file
// and how the file is written (schema "vsst-sim-stats", version 1, described
// in sst-element/README.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vsst/sim/model_params.h"
#include "vsst/sst-protocol.h"

namespace vsst::sim {

// One answered request. Wall times are ns since the server started (its
// run loop), simulated times are the device's ps.
struct RequestSample {
	int64_t wall_submit_ns = 0; // the request was read and handed to the model
	int64_t wall_done_ns = 0;   // its response was queued for the socket
	uint64_t sim_start_ps = 0;  // arrival in simulated time
	uint64_t sim_end_ps = 0;    // completion in simulated time
	uint32_t type = 0;          // SSTRequestType, UINT32_MAX = unknown
	uint32_t status = 0;        // SSTStatus of the response
};

// Samples of one connection, capped: the first `cap` are kept, the rest
// only counted. Appending is a bounds check and a store (no allocation
// once the vector has grown), so it stays off the hot path's cost.
struct SampleLog {
	std::vector<RequestSample> samples;
	uint64_t cap = 0;
	uint64_t dropped = 0;
	// Index of the new sample, or -1 when it was dropped.
	int64_t add(const RequestSample &s)
	{
		if (samples.size() >= cap) {
			++dropped;
			return -1;
		}
		samples.push_back(s);
		return static_cast<int64_t>(samples.size() - 1);
	}
};

// The final figures of one connection (device), taken when it closes.
struct DeviceRecord {
	uint64_t connection = 0;           // 0-based, in accept order
	std::optional<uint32_t> device_id; // from the framed HELLO
	std::string protocol;              // framed | acalsim (auto if nothing arrived)
	std::string close_reason;
	ModelParams params; // at close (CONFIGURE may have changed them)
	uint64_t requests[SST_REQ_MAX] = {};
	uint64_t unknown_type = 0;   // counted in requests as "UNKNOWN"
	uint64_t invalid = 0;        // answered SST_STATUS_INVALID
	uint64_t error_frames = 0;   // ERROR frames sent
	uint64_t memory_refused = 0; // WRITEs answered SST_STATUS_ERROR by --memory-budget
	uint64_t responses = 0;
	uint64_t events = 0;
	uint64_t bytes_read = 0;
	uint64_t bytes_written = 0;
	uint64_t sim_time_ps = 0;
	uint64_t unit_busy_ps = 0;
	uint64_t mem_busy_ps = 0;
	int64_t wall_open_ns = 0; // since server start
	int64_t wall_close_ns = 0;
	SampleLog samples;
};

struct StatsDocument {
	std::vector<std::string> argv;
	ModelParams start_params;
	int64_t start_unix_ns = 0; // CLOCK_REALTIME when the run loop started
	double wall_s = 0;
	uint64_t sample_cap = 0;
	uint64_t rejected_connections = 0;
	std::vector<DeviceRecord> devices;
};

// SST request type names as used in the file ("COMPUTE", ...; "UNKNOWN").
const char *request_type_name(uint32_t type);

// The JSON text of the document (one line per sample, so a reader can
// stream it and a human can grep it).
std::string stats_json(const StatsDocument &doc);

// The document is written with posix's write_file_atomically (vsst/posix/atomic_file.h).

// Start-up check: the folder that will receive `path` exists and is writable.
bool stats_path_usable(const std::string &path, std::string &err);

} // namespace vsst::sim
