// SPDX-License-Identifier: Apache-2.0
#include "device_memory.h"

#include <sst/core/unitAlgebra.h>

#include <algorithm>
#include <cstring>

#include "model_params_sst.h"
#include "vsst/sim/latency.h"
#include "vsst/sim/memory_budget.h"

namespace vsst::sstcore {

Memory::Memory(SST::ComponentId_t id, SST::Params &params)
	: SST::Component(id), out_(getSimulationOutput()),
	  initial_(read_model_params_with_clock(params, out_, "vsst.Memory")), params_(initial_),
	  memory_(initial_.mem_size,
		  &sim::process_memory_budget(params.find<uint64_t>("memory_budget", uint64_t{1} << 30)))
{
	link_ = configureLink("bridge", "1ps", VSST_EVENT_HANDLER(Memory, handle));
	if (!link_)
		out_.fatal(CALL_INFO, -1, "vsst.Memory: port 'bridge' is not connected\n");
	stat_reads_ = registerStatistic<uint64_t>("reads");
	stat_writes_ = registerStatistic<uint64_t>("writes");
	stat_invalid_ = registerStatistic<uint64_t>("invalid");
	stat_bytes_read_ = registerStatistic<uint64_t>("bytes_read");
	stat_bytes_written_ = registerStatistic<uint64_t>("bytes_written");
	stat_busy_ = registerStatistic<uint64_t>("channel_busy_cycles");
	stat_refused_ = registerStatistic<uint64_t>("memory_refused");
}

void Memory::handle(SST::Event *ev)
{
	const uint64_t now = now_ps();
	if (auto *c = dynamic_cast<ControlEvent *>(ev)) {
		if (c->kind == ControlEvent::kReset) {
			params_ = initial_;
			memory_.clear();
			memory_.resize(params_.mem_size);
			channel_free_ps_ = std::max(now, channel_free_ps_);
		} else if (sim::set_param(params_, c->param, c->value) && c->param == SST_CFG_MEM_SIZE) {
			memory_.resize(params_.mem_size);
		}
		delete ev;
		return;
	}
	auto *r = dynamic_cast<RequestEvent *>(ev);
	if (!r) {
		delete ev;
		return;
	}
	SSTRequest req{};
	std::memcpy(&req, r->request.data(), std::min(r->request.size(), sizeof req));
	SSTResponse resp{};
	resp.request_id = req.request_id;
	resp.user_data = req.user_data;
	const uint64_t addr = req.payload.memory.addr;
	const uint32_t size = req.payload.memory.size;
	const bool is_read = req.type == SST_REQ_READ;
	const uint32_t max = is_read ? SST_MAX_DATA_SIZE : SST_MAX_WRITE_SIZE;
	const bool ok = (is_read || req.type == SST_REQ_WRITE) && size > 0 && size <= max &&
			memory_.in_range(addr, size);
	size_t len = SST_RESPONSE_HEADER_SIZE;
	uint64_t delay = 0;
	if (!ok) {
		resp.status = SST_STATUS_INVALID;
		stat_invalid_->addData(1);
	} else {
		const uint64_t transfer = sim::mem_transfer_cycles(params_, size);
		const uint64_t transfer_ps = sim::cycles_to_ps(transfer, params_.clock_hz).value_or(0);
		const uint64_t latency_ps =
			sim::cycles_to_ps(params_.mem_latency_cycles, params_.clock_hz).value_or(0);
		const uint64_t start = std::max(now, channel_free_ps_);
		channel_free_ps_ = start + transfer_ps;
		delay = start - now + latency_ps + transfer_ps;
		stat_busy_->addData(transfer);
		resp.status = SST_STATUS_OK;
		resp.result = size;
		if (is_read) {
			memory_.read(addr, resp.payload.data, size);
			stat_reads_->addData(1);
			stat_bytes_read_->addData(size);
			len = SST_RESPONSE_HEADER_SIZE + size;
		} else if (memory_.write(addr, req.payload.data + SST_WRITE_DATA_OFFSET, size)) {
			stat_writes_->addData(1);
			stat_bytes_written_->addData(size);
			len = SST_RESPONSE_HEADER_SIZE + 16;
		} else {
			// The process's memory budget is spent (as sst-sim: ERROR, nothing
			// written, no result).
			resp.status = SST_STATUS_ERROR;
			resp.result = 0;
			stat_refused_->addData(1);
		}
	}
	const auto *b = reinterpret_cast<const uint8_t *>(&resp);
	link_->send(delay, new ResponseEvent(r->token, std::vector<uint8_t>(b, b + len)));
	delete ev;
}

} // namespace vsst::sstcore
