// SPDX-License-Identifier: Apache-2.0
#include "vsst/sim/device_model.h"

#include <algorithm>
#include <cstring>

namespace vsst::sim {

namespace {

constexpr size_t kTimingLen = SST_RESPONSE_HEADER_SIZE + 16; // header + payload.compute
constexpr size_t kInfoLen = SST_RESPONSE_HEADER_SIZE + 24;   // header + payload.info

bool add_overflows(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b;
}

} // namespace

DeviceModel::DeviceModel(const ModelParams &initial, MemoryBudget *budget)
	: initial_(initial), params_(initial), memory_(initial.mem_size, budget)
{
	unit_free_ps_.assign(params_.compute_units, 0);
}

uint64_t DeviceModel::ps(uint64_t cycles) const
{
	return cycles_to_ps(cycles, params_.clock_hz).value_or(UINT64_MAX);
}

uint32_t DeviceModel::capabilities(bool events_enabled) const
{
	uint32_t caps = (1u << SST_FEATURE_ECHO) | (1u << SST_FEATURE_COMPUTE) | (1u << SST_FEATURE_MEMORY) |
			(1u << SST_FEATURE_RESET);
	if (events_enabled)
		caps |= 1u << SST_FEATURE_EVENTS;
	return caps;
}

std::optional<uint64_t> DeviceModel::next_time() const
{
	if (heap_.empty())
		return std::nullopt;
	return heap_.front().time;
}

void DeviceModel::push(SimOutput out)
{
	const uint64_t time = out.complete_ps;
	heap_.push_back(Entry{time, seq_++, std::move(out)});
	std::push_heap(heap_.begin(), heap_.end(), Later{});
}

std::optional<SimOutput> DeviceModel::pop_scheduled()
{
	if (heap_.empty())
		return std::nullopt;
	std::pop_heap(heap_.begin(), heap_.end(), Later{});
	SimOutput out = std::move(heap_.back().out);
	heap_.pop_back();
	return out;
}

std::optional<SimOutput> DeviceModel::pop()
{
	auto out = pop_scheduled();
	if (out)
		advance_to(out->complete_ps);
	return out;
}

void DeviceModel::finish(uint64_t token, SSTResponse &resp, size_t resp_len, uint64_t complete_ps,
			 bool timing_in_payload)
{
	SimOutput out;
	out.kind = SimOutput::Kind::kResponse;
	out.token = token;
	out.req_type = cur_type_;
	out.status = resp.status;
	out.arrival_ps = now_ps_;
	out.complete_ps = complete_ps;
	out.cycles = ps_to_cycles(complete_ps - now_ps_, params_.clock_hz);
	if (timing_in_payload) {
		resp.payload.compute.cycles = out.cycles;
		resp.payload.compute.timestamp = complete_ps;
	}
	const auto *bytes = reinterpret_cast<const uint8_t *>(&resp);
	out.bytes.assign(bytes, bytes + resp_len);
	push(std::move(out));
}

void DeviceModel::resize_units(uint64_t n)
{
	// New units are idle from now on; removed units' accepted work still
	// completes (its outputs are already scheduled).
	unit_free_ps_.resize(n, now_ps_);
}

std::optional<uint64_t> DeviceModel::reserve_mem(uint64_t earliest, uint64_t transfer_ps)
{
	const uint64_t start = std::max(earliest, mem_free_ps_);
	if (transfer_ps == UINT64_MAX || add_overflows(start, transfer_ps))
		return std::nullopt;
	mem_free_ps_ = start + transfer_ps;
	stats_.mem_busy_ps += transfer_ps;
	return start;
}

bool DeviceModel::do_compute(const SSTRequest &req, SSTResponse &resp, uint64_t token, bool events)
{
	const auto cost =
		compute_cost(params_, req.payload.compute.latency_model, req.payload.compute.compute_units);
	if (!cost)
		return false;
	const uint64_t unit_ps = ps(cost->unit_cycles);
	const uint64_t offset_ps = ps(cost->mem_offset);
	const uint64_t stream_ps = ps(cost->mem_cycles);
	if (unit_ps == UINT64_MAX || offset_ps == UINT64_MAX || stream_ps == UINT64_MAX)
		return false;

	// FIFO multi-server queue: take the unit that frees up first (lowest index on ties).
	const auto unit = std::min_element(unit_free_ps_.begin(), unit_free_ps_.end());
	uint64_t start = std::max(now_ps_, *unit);
	if (cost->mem_cycles > 0 && mem_free_ps_ > offset_ps) {
		// The streaming phase must find the memory channel free.
		start = std::max(start, mem_free_ps_ - offset_ps);
	}
	if (add_overflows(start, unit_ps) || add_overflows(start, offset_ps))
		return false;
	const uint64_t complete = start + unit_ps;
	if (cost->mem_cycles > 0 && !reserve_mem(start + offset_ps, stream_ps))
		return false;
	*unit = complete;
	stats_.unit_busy_ps += unit_ps;

	resp.status = SST_STATUS_OK;
	resp.result = cost->unit_cycles;
	const bool async = (req.flags & SST_REQ_FLAG_ASYNC) != 0 && events;
	if (!async) {
		finish(token, resp, kTimingLen, complete, true);
		return true;
	}
	// Accepted now; the completion is reported by an event at `complete`.
	finish(token, resp, kTimingLen, now_ps_, true);
	SSTEvent ev{};
	ev.type = SST_EVENT_COMPLETION;
	ev.timestamp = complete;
	ev.data = req.request_id;
	SimOutput out;
	out.kind = SimOutput::Kind::kEvent;
	out.req_type = SST_REQ_COMPUTE;
	out.arrival_ps = now_ps_;
	out.complete_ps = complete;
	out.cycles = ps_to_cycles(complete - now_ps_, params_.clock_hz);
	const auto *bytes = reinterpret_cast<const uint8_t *>(&ev);
	out.bytes.assign(bytes, bytes + sizeof ev);
	push(std::move(out));
	++stats_.events;
	return true;
}

bool DeviceModel::do_read(const SSTRequest &req, SSTResponse &resp, uint64_t &done)
{
	const uint64_t addr = req.payload.memory.addr;
	const uint32_t size = req.payload.memory.size;
	if (size == 0 || size > SST_MAX_DATA_SIZE || !memory_.in_range(addr, size))
		return false;
	const uint64_t transfer_ps = ps(mem_transfer_cycles(params_, size));
	const uint64_t latency_ps = ps(params_.mem_latency_cycles);
	// Check the whole completion time before reserving anything.
	const uint64_t start_guess = std::max(now_ps_, mem_free_ps_);
	if (transfer_ps == UINT64_MAX || add_overflows(transfer_ps, latency_ps) ||
	    add_overflows(start_guess, transfer_ps + latency_ps)) {
		return false;
	}
	const auto start = reserve_mem(now_ps_, transfer_ps);
	if (!start)
		return false;
	memory_.read(addr, resp.payload.data, size);
	stats_.bytes_read += size;
	resp.status = SST_STATUS_OK;
	resp.result = size;
	done = *start + latency_ps + transfer_ps;
	return true;
}

bool DeviceModel::do_write(const SSTRequest &req, SSTResponse &resp, uint64_t &done)
{
	const uint64_t addr = req.payload.memory.addr;
	const uint32_t size = req.payload.memory.size;
	if (size == 0 || size > SST_MAX_WRITE_SIZE || !memory_.in_range(addr, size))
		return false;
	const uint64_t transfer_ps = ps(mem_transfer_cycles(params_, size));
	const uint64_t latency_ps = ps(params_.mem_latency_cycles);
	const uint64_t start_guess = std::max(now_ps_, mem_free_ps_);
	if (transfer_ps == UINT64_MAX || add_overflows(transfer_ps, latency_ps) ||
	    add_overflows(start_guess, transfer_ps + latency_ps)) {
		return false;
	}
	// In range, so a failed write is the budget's refusal: an ERROR (a
	// resource limit, the request itself is valid) that leaves no trace.
	if (!memory_.write(addr, req.payload.data + SST_WRITE_DATA_OFFSET, size)) {
		fail_status_ = SST_STATUS_ERROR;
		return false;
	}
	const auto start = reserve_mem(now_ps_, transfer_ps);
	if (!start)
		return false;
	stats_.bytes_written += size;
	resp.status = SST_STATUS_OK;
	resp.result = size;
	done = *start + latency_ps + transfer_ps;
	return true;
}

bool DeviceModel::do_configure(const SSTRequest &req, SSTResponse &resp)
{
	ModelParams next = params_;
	if (!set_param(next, req.payload.config.param, req.payload.config.value))
		return false;
	if (next.compute_units != params_.compute_units)
		resize_units(next.compute_units);
	if (next.mem_size != params_.mem_size)
		memory_.resize(next.mem_size);
	params_ = next;
	resp.status = SST_STATUS_OK;
	resp.result = req.payload.config.value;
	return true;
}

uint64_t DeviceModel::do_reset()
{
	// A barrier: the reset completes once everything accepted before it is done.
	uint64_t done = std::max(now_ps_, mem_free_ps_);
	for (uint64_t t : unit_free_ps_)
		done = std::max(done, t);
	params_ = initial_;
	memory_.clear();
	memory_.resize(params_.mem_size);
	unit_free_ps_.assign(params_.compute_units, done);
	mem_free_ps_ = done;
	return done;
}

void DeviceModel::submit(uint64_t token, std::span<const uint8_t> request, bool events)
{
	SSTRequest req{};
	std::memcpy(&req, request.data(), std::min(request.size(), sizeof req));
	SSTResponse resp{};
	resp.status = SST_STATUS_INVALID;
	fail_status_ = SST_STATUS_INVALID;
	cur_type_ = request.size() >= SST_REQUEST_HEADER_SIZE && req.type < SST_REQ_MAX
			    ? req.type
			    : SimOutput::kUnknownType;
	if (request.size() < SST_REQUEST_HEADER_SIZE) {
		// Not even a header: nothing to echo back but what arrived.
		++stats_.invalid;
		++stats_.unknown_type;
		finish(token, resp, SST_RESPONSE_HEADER_SIZE, now_ps_, false);
		return;
	}
	resp.request_id = req.request_id;
	resp.user_data = req.user_data;
	if (req.type >= SST_REQ_MAX) {
		++stats_.unknown_type;
		++stats_.invalid;
		finish(token, resp, SST_RESPONSE_HEADER_SIZE, now_ps_, false);
		return;
	}
	++stats_.requests[req.type];

	bool ok = true;
	uint64_t done = now_ps_;
	size_t len = kTimingLen;
	bool timing = true;
	switch (req.type) {
	case SST_REQ_NOOP:
		resp.status = SST_STATUS_OK;
		break;
	case SST_REQ_ECHO: {
		const size_t n =
			std::min<size_t>(request.size() - SST_REQUEST_HEADER_SIZE, SST_MAX_DATA_SIZE);
		std::memcpy(resp.payload.data, req.payload.data, n);
		resp.status = SST_STATUS_OK;
		resp.result = n;
		len = SST_RESPONSE_HEADER_SIZE + n;
		timing = false;
		break;
	}
	case SST_REQ_COMPUTE:
		if (do_compute(req, resp, token, events))
			return; // finished inside
		ok = false;
		break;
	case SST_REQ_READ:
		ok = do_read(req, resp, done);
		len = SST_RESPONSE_HEADER_SIZE + req.payload.memory.size;
		timing = false;
		break;
	case SST_REQ_WRITE:
		ok = do_write(req, resp, done);
		break;
	case SST_REQ_RESET:
		done = do_reset();
		resp.status = SST_STATUS_OK;
		break;
	case SST_REQ_GET_INFO:
		resp.status = SST_STATUS_OK;
		resp.payload.info.version = SST_PROTOCOL_VERSION;
		resp.payload.info.capabilities = capabilities(events);
		resp.payload.info.max_compute_units = params_.compute_units;
		resp.payload.info.memory_size = params_.mem_size;
		len = kInfoLen;
		timing = false;
		break;
	case SST_REQ_CONFIGURE:
		ok = do_configure(req, resp);
		break;
	default:
		ok = false;
		break;
	}
	if (!ok) {
		if (fail_status_ == SST_STATUS_INVALID)
			++stats_.invalid;
		else
			++stats_.memory_refused;
		resp = SSTResponse{};
		resp.status = fail_status_;
		resp.request_id = req.request_id;
		resp.user_data = req.user_data;
		finish(token, resp, SST_RESPONSE_HEADER_SIZE, now_ps_, false);
		return;
	}
	finish(token, resp, len, done, timing);
}

} // namespace vsst::sim
