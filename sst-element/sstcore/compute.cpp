// SPDX-License-Identifier: Apache-2.0
#include "compute.h"

#include <sst/core/unitAlgebra.h>

#include <algorithm>
#include <cstring>

#include "model_params_sst.h"
#include "vsst/sim/latency.h"

namespace vsst::sstcore {

Compute::Compute(SST::ComponentId_t id, SST::Params &params)
	: SST::Component(id), out_(getSimulationOutput()),
	  initial_(read_model_params_with_clock(params, out_, "vsst.Compute")), params_(initial_)
{
	unit_free_ps_.assign(params_.compute_units, 0);
	link_ = configureLink("bridge", "1ps", VSST_EVENT_HANDLER(Compute, handle));
	if (!link_)
		out_.fatal(CALL_INFO, -1, "vsst.Compute: port 'bridge' is not connected\n");
	stat_requests_ = registerStatistic<uint64_t>("requests");
	stat_invalid_ = registerStatistic<uint64_t>("invalid");
	stat_busy_ = registerStatistic<uint64_t>("busy_cycles");
	stat_wait_ = registerStatistic<uint64_t>("queue_wait_cycles");
}

void Compute::answer(uint64_t token, const SSTResponse &resp, uint64_t delay_ps)
{
	const auto *b = reinterpret_cast<const uint8_t *>(&resp);
	link_->send(delay_ps,
		    new ResponseEvent(token, std::vector<uint8_t>(b, b + SST_RESPONSE_HEADER_SIZE + 16)));
}

void Compute::handle(SST::Event *ev)
{
	const uint64_t now = now_ps();
	if (auto *c = dynamic_cast<ControlEvent *>(ev)) {
		if (c->kind == ControlEvent::kReset) {
			uint64_t done = now;
			for (uint64_t t : unit_free_ps_)
				done = std::max(done, t);
			params_ = initial_;
			unit_free_ps_.assign(params_.compute_units, done);
		} else if (sim::set_param(params_, c->param, c->value)) {
			unit_free_ps_.resize(params_.compute_units, now);
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
	stat_requests_->addData(1);
	const auto cost = sim::compute_cost(params_, req.payload.compute.latency_model,
					    req.payload.compute.compute_units);
	const auto unit_ps = cost ? sim::cycles_to_ps(cost->unit_cycles, params_.clock_hz) : std::nullopt;
	if (req.type != SST_REQ_COMPUTE || !unit_ps || *unit_ps > UINT64_MAX / 2) {
		resp.status = SST_STATUS_INVALID;
		stat_invalid_->addData(1);
		answer(r->token, resp, 0);
		delete ev;
		return;
	}
	// FIFO onto the unit that frees up first.
	auto unit = std::min_element(unit_free_ps_.begin(), unit_free_ps_.end());
	const uint64_t start = std::max(now, *unit);
	*unit = start + *unit_ps;
	stat_busy_->addData(cost->unit_cycles);
	stat_wait_->addData(sim::ps_to_cycles(start - now, params_.clock_hz));
	resp.status = SST_STATUS_OK;
	resp.result = cost->unit_cycles;
	answer(r->token, resp, *unit - now);
	delete ev;
}

} // namespace vsst::sstcore
