// SPDX-License-Identifier: Apache-2.0
// vsst.Bridge: the primary component. Listens on a Unix socket for one
// virtio-sst device (framed or acalsim protocol), turns its requests into
// SST events for vsst.Compute / vsst.Memory (or serves them with the
// embedded device model when those ports are not connected), and answers
// in simulated time. Ends the run when its client disconnects.
//
// Every byte from the client goes through sim::ClientIntake (session library,
// no SST): bounded reads, a bounded number of requests in flight, output
// back-pressure, optional idle timeout. The socket is a sim::SocketFile (a live
// server's path refused, removed at the end only while still ours) in a
// private directory by default, and only peers of admitted uids are served.
#pragma once

#include "vsst_sst.h"

#include <sst/core/statapi/statbase.h>

#include <map>
#include <memory>
#include <span>
#include <string>

#include "vsst/posix/unique_fd.h"
#include "vsst/sim/client_intake.h"
#include "vsst/sim/device_model.h"
#include "vsst/sim/server_session.h"
#include "vsst/sim/socket_place.h"

namespace vsst::sstcore {

class Bridge : public SST::Component {
public:
	SST_ELI_REGISTER_COMPONENT(Bridge, "vsst", "Bridge", SST_ELI_ELEMENT_VERSION(1, 0, 0),
				   "Socket bridge to one virtio-sst device (framed or acalsim "
				   "protocol); primary component",
				   COMPONENT_CATEGORY_UNCATEGORIZED)

	SST_ELI_DOCUMENT_PARAMS({"socket_path",
				 "Unix socket to listen on; default sst<device_id>.sock in the private "
				 "directory $XDG_RUNTIME_DIR/vsst or /tmp/vsst-<uid> (created 0700)",
				 ""},
				{"peer_uids",
				 "uids allowed to connect (SO_PEERCRED), comma-separated, or \"any\"; "
				 "default: our own uid and root",
				 ""},
				{"memory_budget",
				 "device memory bytes committed by all vsst memories of this process",
				 "1073741824"},
				{"max_in_flight", "requests taken from the client and not yet answered",
				 "4096"},
				{"idle_timeout_s",
				 "end the run when the client moved no byte for this long with nothing in "
				 "flight (0: never; the device VM is silent whenever its guest is)",
				 "0"},
				{"device_id", "device number, for logs", "0"},
				{"clock", "model clock (cycles in responses are counted in it)", "1GHz"},
				{"protocol", "auto | framed | acalsim", "auto"},
				{"poll_period", "simulated time between two polls of the socket", "100ns"},
				{"idle_wait_ms", "wall-clock wait per poll while nothing is in flight", "1"},
				{"connect_timeout_s",
				 "end the run if no client connects within this wall time (0: wait)", "0"},
				{"compute_units", "hardware compute units (embedded model)", "4"},
				{"latency_model", "fixed | pipelined | bandwidth (embedded model)", "fixed"},
				{"unit_latency_cycles", "L (embedded model)", "100"},
				{"pipeline_startup_cycles", "S (embedded model)", "20"},
				{"unit_bandwidth", "Bu, bytes/cycle (embedded model)", "8"},
				{"mem_latency_cycles", "Lm (embedded model)", "100"},
				{"mem_bandwidth", "Bm, bytes/cycle (embedded model)", "16"},
				{"mem_size", "device memory bytes (embedded model)", "268435456"})

	SST_ELI_DOCUMENT_PORTS({"compute",
				"to a vsst.Compute; unconnected: the embedded model serves COMPUTE",
				{"vsst.RequestEvent", "vsst.ResponseEvent", "vsst.ControlEvent"}},
			       {"memory",
				"to a vsst.Memory; unconnected: the embedded model serves READ/WRITE",
				{"vsst.RequestEvent", "vsst.ResponseEvent", "vsst.ControlEvent"}})

	SST_ELI_DOCUMENT_STATISTICS({"requests", "requests received from the device", "requests", 1},
				    {"invalid", "requests answered SST_STATUS_INVALID", "requests", 1},
				    {"latency_cycles",
				     "request latency in model cycles (arrival to response)", "cycles", 1},
				    {"events", "completion events sent to the device", "events", 1},
				    {"error_frames", "protocol ERROR frames sent", "frames", 1})

	Bridge(SST::ComponentId_t id, SST::Params &params);
	~Bridge() override;

	void setup() override;
	void finish() override;

private:
	struct Pending {
		uint64_t wire_token;
		uint64_t arrival_ps;
		uint32_t type;
		bool async_event; // answered already; completion goes out as an SSTEvent
		uint64_t request_id;
	};

	bool tick(SST::Cycle_t cycle);
	void handle_due(SST::Event *ev);
	void handle_remote(SST::Event *ev);

	bool accept_client();
	void read_client(int64_t now_ns);
	void on_request(uint64_t wire_token, std::span<const uint8_t> request);
	void submit_local(uint64_t wire_token, std::span<const uint8_t> request);
	void schedule_local_outputs();
	void emit_response(uint64_t wire_token, uint64_t arrival_ps, std::vector<uint8_t> bytes,
			   bool timing_in_payload);
	void broadcast(uint32_t kind, uint32_t param, uint64_t value);
	void flush();
	void end_run(const char *why);
	void set_busy(bool busy);
	int idle_wait_now() const;
	uint64_t now_ps() const;

	SST::Output &out_;
	std::string socket_path_;
	uint32_t device_id_ = 0;
	sim::Protocol protocol_ = sim::Protocol::kAuto;
	int idle_wait_ms_ = 1;
	double connect_timeout_s_ = 0;
	sim::DeviceModel model_;
	sim::IntakeLimits limits_;
	sim::PeerPolicy peers_;
	std::unique_ptr<sim::ClientIntake> intake_;
	sim::SocketFile listener_;
	UniqueFd client_fd_;
	bool had_client_ = false;
	bool ended_ = false;
	bool busy_ = false;                      // counted in the process-wide busy-bridge count
	std::map<uint64_t, Pending> pending_;    // remote requests by internal id
	std::map<uint64_t, sim::SimOutput> due_; // embedded-model outputs by internal id
	uint64_t next_id_ = 1;
	uint64_t wall_start_ns_ = 0;

	SST::Link *compute_link_ = nullptr;
	SST::Link *memory_link_ = nullptr;
	SST::Link *due_link_ = nullptr;

	SST::Statistics::Statistic<uint64_t> *stat_requests_ = nullptr;
	SST::Statistics::Statistic<uint64_t> *stat_invalid_ = nullptr;
	SST::Statistics::Statistic<uint64_t> *stat_latency_ = nullptr;
	SST::Statistics::Statistic<uint64_t> *stat_events_ = nullptr;
	SST::Statistics::Statistic<uint64_t> *stat_errors_ = nullptr;
	uint64_t errors_reported_ = 0;
};

} // namespace vsst::sstcore
