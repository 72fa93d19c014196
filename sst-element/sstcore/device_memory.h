// SPDX-License-Identifier: Apache-2.0
// vsst.Memory: the device memory as an SST component. Sparse storage, one
// FIFO channel of mem_bandwidth bytes/cycle, access latency overlapping
// between requests (the same arithmetic as sst-sim's model).
#pragma once

#include "vsst_sst.h"

#include <sst/core/statapi/statbase.h>

#include "vsst/sim/model_params.h"
#include "vsst/sim/sparse_memory.h"

namespace vsst::sstcore {

class Memory : public SST::Component {
public:
	SST_ELI_REGISTER_COMPONENT(Memory, "vsst", "Memory", SST_ELI_ELEMENT_VERSION(1, 0, 0),
				   "Device memory of a virtio-sst device", COMPONENT_CATEGORY_MEMORY)

	SST_ELI_DOCUMENT_PARAMS({"clock", "model clock", "1GHz"},
				{"mem_latency_cycles", "Lm: access latency", "100"},
				{"mem_bandwidth", "Bm: channel bandwidth, bytes/cycle", "16"},
				{"mem_size", "bytes, multiple of 4096", "268435456"},
				{"memory_budget",
				 "device memory bytes committed by all vsst memories of this process",
				 "1073741824"})

	SST_ELI_DOCUMENT_PORTS({"bridge",
				"to the vsst.Bridge's memory port",
				{"vsst.RequestEvent", "vsst.ResponseEvent", "vsst.ControlEvent"}})

	SST_ELI_DOCUMENT_STATISTICS(
		{"reads", "READ requests served", "requests", 1},
		{"writes", "WRITE requests served", "requests", 1},
		{"invalid", "requests answered SST_STATUS_INVALID", "requests", 1},
		{"bytes_read", "bytes read", "bytes", 1}, {"bytes_written", "bytes written", "bytes", 1},
		{"channel_busy_cycles", "cycles the channel transferred data", "cycles", 1},
		{"memory_refused", "WRITEs refused by memory_budget (SST_STATUS_ERROR)", "requests", 1})

	Memory(SST::ComponentId_t id, SST::Params &params);

private:
	void handle(SST::Event *ev);
	uint64_t now_ps() const { return getCurrentSimTime("1ps"); }

	SST::Output &out_;
	sim::ModelParams initial_;
	sim::ModelParams params_;
	sim::SparseMemory memory_;
	uint64_t channel_free_ps_ = 0;
	SST::Link *link_ = nullptr;
	SST::Statistics::Statistic<uint64_t> *stat_reads_ = nullptr;
	SST::Statistics::Statistic<uint64_t> *stat_writes_ = nullptr;
	SST::Statistics::Statistic<uint64_t> *stat_invalid_ = nullptr;
	SST::Statistics::Statistic<uint64_t> *stat_bytes_read_ = nullptr;
	SST::Statistics::Statistic<uint64_t> *stat_bytes_written_ = nullptr;
	SST::Statistics::Statistic<uint64_t> *stat_busy_ = nullptr;
	SST::Statistics::Statistic<uint64_t> *stat_refused_ = nullptr;
};

} // namespace vsst::sstcore
