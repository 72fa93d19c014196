// SPDX-License-Identifier: Apache-2.0
// vsst.Bridge: the primary component. Listens on a Unix socket for one
// virtio-sst device (framed or acalsim protocol), turns its requests into
// SST events for vsst.Compute / vsst.Memory (or serves them with the
// embedded device model when those ports are not connected), and answers
// in simulated time. Ends the run when its client disconnects.
//
// Synchronized time (HELLO feature TIMED, REQUEST_AT): each request enters
// SST at its submit time (a late one at once), and while the client has
// requests outstanding SST is held at the client's horizon (latest submit
// time + the announced minimum latency) until the client's frames for that
// time have been read (bounded wait on the socket). See sst-element/README.md.
//
// Every byte from the client goes through sim::ClientIntake (session library,
// no SST): bounded reads, a bounded number of requests in flight, output
// back-pressure, optional idle timeout. The socket is a sim::SocketFile (a live
// server's path refused, removed at the end only while still ours) in a
// private directory by default, and only peers of admitted uids are served.
#pragma once

#include "vsst_sst.h"

#include <sst/core/statapi/statbase.h>

#include <deque>
#include <map>
#include <memory>
#include <optional>
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
				{"sync_wait_us",
				 "synchronized time: wall-clock quiet time (us) the bridge waits on the "
				 "socket at its horizon for the client's frames of that time before SST "
				 "may pass it",
				 "200"},
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

	SST_ELI_DOCUMENT_STATISTICS(
		{"requests", "requests received from the device", "requests", 1},
		{"invalid", "requests answered SST_STATUS_INVALID", "requests", 1},
		{"latency_cycles", "request latency in model cycles (arrival to response)", "cycles", 1},
		{"events", "completion events sent to the device", "events", 1},
		{"error_frames", "protocol ERROR frames sent", "frames", 1},
		{"late_requests",
		 "synchronized time: REQUEST_AT whose submit time SST had passed (entered "
		 "at once)",
		 "requests", 1},
		{"horizon_holds", "synchronized time: waits on the socket at the client's horizon", "holds",
		 1},
		{"hold_wall_us", "synchronized time: wall time of each hold", "us", 1})

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

	// A timed request waiting for its submit time.
	struct Entry {
		uint64_t at_ps;
		uint64_t wire_token;
		std::vector<uint8_t> request;
	};

	bool tick(SST::Cycle_t cycle);
	void handle_due(SST::Event *ev);
	void handle_remote(SST::Event *ev);
	void handle_entry(SST::Event *ev);
	void handle_hold(SST::Event *ev);

	bool accept_client();
	void read_client(int64_t now_ns);
	void on_request(uint64_t wire_token, std::span<const uint8_t> request);
	void enter(uint64_t wire_token, std::span<const uint8_t> request, uint64_t at_ps);
	void submit_local(uint64_t wire_token, std::span<const uint8_t> request, uint64_t at_ps);
	void new_intake();
	bool owed() const { return !pending_.empty() || !due_.empty() || !entries_.empty(); }
	void check_horizon();
	void hold(uint64_t horizon_ps);
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

	// Synchronized time.
	std::deque<Entry> entries_;   // timed requests before their entry, in entry order
	uint64_t min_latency_ps_ = 0; // announced in HELLO
	uint64_t sync_wait_ns_ = 200'000;
	uint64_t latest_submit_ps_ = 0;     // the client's time is at least this
	uint64_t last_entry_ps_ = 0;        // entries never go back in time
	std::optional<uint64_t> held_at_;   // the horizon last held at
	std::optional<uint64_t> hold_sent_; // the horizon a hold event is scheduled for
	std::optional<uint64_t> horizon_;   // the horizon as last seen, and when:
	uint64_t horizon_seen_ps_ = 0;
	uint64_t on_time_ = 0, late_ = 0, max_late_ps_ = 0;
	uint64_t holds_ = 0, hold_wall_ns_ = 0, max_hold_wall_ns_ = 0;
	uint64_t unheld_passes_ = 0; // SST passed a known horizon with requests outstanding, unheld
	std::optional<uint64_t> unheld_counted_;
	ClockTc clock_tc_{};
	SST::Clock::HandlerBase *clock_handler_ = nullptr;
	bool clock_stopped_ = false;

	SST::Link *compute_link_ = nullptr;
	SST::Link *memory_link_ = nullptr;
	SST::Link *due_link_ = nullptr;
	SST::Link *entry_link_ = nullptr;
	SST::Link *hold_link_ = nullptr;

	SST::Statistics::Statistic<uint64_t> *stat_requests_ = nullptr;
	SST::Statistics::Statistic<uint64_t> *stat_invalid_ = nullptr;
	SST::Statistics::Statistic<uint64_t> *stat_latency_ = nullptr;
	SST::Statistics::Statistic<uint64_t> *stat_events_ = nullptr;
	SST::Statistics::Statistic<uint64_t> *stat_errors_ = nullptr;
	SST::Statistics::Statistic<uint64_t> *stat_late_ = nullptr;
	SST::Statistics::Statistic<uint64_t> *stat_holds_ = nullptr;
	SST::Statistics::Statistic<uint64_t> *stat_hold_us_ = nullptr;
	uint64_t errors_reported_ = 0;
};

} // namespace vsst::sstcore
