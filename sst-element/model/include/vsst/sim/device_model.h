// SPDX-License-Identifier: Apache-2.0
// Discrete-event, cycle-level model of one virtio-sst device.
//
// Requests are submitted at the model's current simulated time (now_ps()).
// Their functional effect (memory contents, configuration) is applied at
// submission, in submission order; their timing is resolved against the
// device's resources: `compute_units` units fed from one FIFO queue (a request
// takes the unit that frees up first) and one memory channel (FIFO). Each
// request produces exactly one response output, placed in a time-ordered
// event queue; pop() hands outputs out in (time, submission order) and moves
// now_ps() forward. The same sequence of submit()/pop() calls therefore gives
// byte-identical outputs.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "vsst/sim/latency.h"
#include "vsst/sim/model_params.h"
#include "vsst/sim/sparse_memory.h"
#include "vsst/sst-protocol.h"

namespace vsst::sim {

struct SimOutput {
	enum class Kind : uint8_t { kResponse, kEvent };
	Kind kind = Kind::kResponse;
	uint64_t token = 0;       // the caller's token of the request (0 for events)
	uint64_t arrival_ps = 0;  // when the request was submitted
	uint64_t complete_ps = 0; // when this output is due
	uint64_t cycles = 0;      // (complete - arrival) in model cycles
	// The request this output answers: its SSTRequestType (kUnknownType when
	// the request was too short or its type out of range) and, for a
	// response, the SSTStatus. Hosts use them for statistics only.
	static constexpr uint32_t kUnknownType = UINT32_MAX;
	uint32_t req_type = kUnknownType;
	uint32_t status = SST_STATUS_OK;
	// kResponse: the first bytes of an SSTResponse (32..4112, the tail the
	// request type does not use is omitted and reads as zero); kEvent: SSTEvent.
	std::vector<uint8_t> bytes;
};

struct ModelStats {
	uint64_t requests[SST_REQ_MAX] = {};
	uint64_t unknown_type = 0;
	uint64_t invalid = 0;
	// WRITEs answered SST_STATUS_ERROR because the shared memory budget did
	// not grant the pages they needed (not counted in `invalid`).
	uint64_t memory_refused = 0;
	uint64_t events = 0;
	uint64_t bytes_read = 0;
	uint64_t bytes_written = 0;
	uint64_t unit_busy_ps = 0; // summed over units
	uint64_t mem_busy_ps = 0;
	uint64_t total() const
	{
		uint64_t n = unknown_type;
		for (uint64_t r : requests)
			n += r;
		return n;
	}
};

class DeviceModel {
public:
	// `initial` must pass validate(); RESET returns to it. budget: shared by
	// the device memories of a host (nullptr: unbounded); must outlive the model.
	explicit DeviceModel(const ModelParams &initial = {}, MemoryBudget *budget = nullptr);

	// Submits one request: `request` holds the first 24..4104 bytes of an
	// SSTRequest (shorter -> INVALID response; missing tail bytes read as
	// zero). events_enabled: the peer accepts SSTEvents; without it an ASYNC
	// COMPUTE is answered synchronously.
	void submit(uint64_t token, std::span<const uint8_t> request, bool events_enabled);

	bool has_output() const { return !heap_.empty(); }
	size_t pending() const { return heap_.size(); }
	// Time of the next output, if any.
	std::optional<uint64_t> next_time() const;
	// Removes the earliest output and advances now_ps() to its time.
	std::optional<SimOutput> pop();
	// Removes the earliest output without moving now_ps(): for hosts that
	// deliver outputs on their own clock (the SST-core bridge schedules each
	// at its complete_ps and calls advance_to() as its time moves).
	std::optional<SimOutput> pop_scheduled();

	// Moves simulated time forward (never back); used by hosts that own the
	// clock (the SST-core bridge).
	void advance_to(uint64_t ps)
	{
		if (ps > now_ps_)
			now_ps_ = ps;
	}

	// Outputs owed to a client that is gone (its connection closed): dropped, so that
	// a later client of the same device (sst-sim --resume-window) never gets them.
	void drop_pending() { heap_.clear(); }
	// Counted already (the closed connection's statistics): a resuming client's
	// statistics start from zero while memory, parameters and time go on.
	void clear_stats() { stats_ = {}; }

	uint64_t now_ps() const { return now_ps_; }
	const ModelParams &params() const { return params_; }
	const ModelStats &stats() const { return stats_; }
	const SparseMemory &memory() const { return memory_; }
	uint32_t capabilities(bool events_enabled) const;

private:
	struct Entry {
		uint64_t time;
		uint64_t seq;
		SimOutput out;
	};
	struct Later {
		bool operator()(const Entry &a, const Entry &b) const
		{
			return a.time != b.time ? a.time > b.time : a.seq > b.seq;
		}
	};

	void finish(uint64_t token, SSTResponse &resp, size_t resp_len, uint64_t complete_ps,
		    bool timing_in_payload);
	void push(SimOutput out);
	void resize_units(uint64_t n);
	bool do_compute(const SSTRequest &req, SSTResponse &resp, uint64_t token, bool events);
	bool do_read(const SSTRequest &req, SSTResponse &resp, uint64_t &done);
	bool do_write(const SSTRequest &req, SSTResponse &resp, uint64_t &done);
	bool do_configure(const SSTRequest &req, SSTResponse &resp);
	// Reserves the memory channel for `transfer` cycles starting no earlier
	// than `earliest`; returns the start or nullopt on time overflow.
	std::optional<uint64_t> reserve_mem(uint64_t earliest, uint64_t transfer_ps);
	uint64_t do_reset();
	// cycles -> ps at the current clock, saturating (requests are sized so
	// this never saturates in practice).
	uint64_t ps(uint64_t cycles) const;

	ModelParams initial_;
	ModelParams params_;
	SparseMemory memory_;
	std::vector<uint64_t> unit_free_ps_; // per unit: busy until
	uint64_t mem_free_ps_ = 0;
	uint64_t now_ps_ = 0;
	uint64_t seq_ = 0;
	uint32_t cur_type_ = SimOutput::kUnknownType; // type of the request being submitted
	// Status of a refused request: INVALID, or ERROR when the memory budget refused it.
	uint32_t fail_status_ = SST_STATUS_INVALID;
	std::vector<Entry> heap_; // min-heap on (time, seq) via Later
	ModelStats stats_;
};

} // namespace vsst::sim
