// SPDX-License-Identifier: Apache-2.0
// vsst.Compute: the device's compute units as an SST component. Receives
// COMPUTE requests from vsst.Bridge, queues them FIFO onto the unit that
// frees up first, and answers after the latency model's cost (formulas in
// sst-element/README.md; the same code as sst-sim's model).
#pragma once

#include "vsst_sst.h"

#include <sst/core/statapi/statbase.h>

#include <vector>

#include "vsst/sim/model_params.h"

namespace vsst::sstcore {

class Compute : public SST::Component {
public:
	SST_ELI_REGISTER_COMPONENT(Compute, "vsst", "Compute", SST_ELI_ELEMENT_VERSION(1, 0, 0),
				   "Compute units of a virtio-sst device", COMPONENT_CATEGORY_PROCESSOR)

	SST_ELI_DOCUMENT_PARAMS({"clock", "model clock", "1GHz"},
				{"compute_units", "hardware compute units", "4"},
				{"latency_model", "fixed | pipelined | bandwidth", "fixed"},
				{"unit_latency_cycles", "L", "100"}, {"pipeline_startup_cycles", "S", "20"},
				{"unit_bandwidth", "Bu, bytes/cycle", "8"},
				{"mem_latency_cycles", "Lm (bandwidth-bound model)", "100"},
				{"mem_bandwidth", "Bm, bytes/cycle (bandwidth-bound model)", "16"})

	SST_ELI_DOCUMENT_PORTS({"bridge",
				"to the vsst.Bridge's compute port",
				{"vsst.RequestEvent", "vsst.ResponseEvent", "vsst.ControlEvent"}})

	SST_ELI_DOCUMENT_STATISTICS({"requests", "COMPUTE requests served", "requests", 1},
				    {"invalid", "requests answered SST_STATUS_INVALID", "requests", 1},
				    {"busy_cycles", "unit cycles of work", "cycles", 1},
				    {"queue_wait_cycles", "cycles a request waited for a free unit", "cycles",
				     1})

	Compute(SST::ComponentId_t id, SST::Params &params);

private:
	void handle(SST::Event *ev);
	void answer(uint64_t token, const SSTResponse &resp, uint64_t delay_ps);
	uint64_t now_ps() const { return getCurrentSimTime("1ps"); }

	SST::Output &out_;
	sim::ModelParams initial_;
	sim::ModelParams params_;
	std::vector<uint64_t> unit_free_ps_;
	SST::Link *link_ = nullptr;
	SST::Statistics::Statistic<uint64_t> *stat_requests_ = nullptr;
	SST::Statistics::Statistic<uint64_t> *stat_invalid_ = nullptr;
	SST::Statistics::Statistic<uint64_t> *stat_busy_ = nullptr;
	SST::Statistics::Statistic<uint64_t> *stat_wait_ = nullptr;
};

} // namespace vsst::sstcore
