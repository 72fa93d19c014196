// SPDX-License-Identifier: Apache-2.0
// The sst-sim server: one epoll loop, non-blocking sockets, one DeviceModel
// per connection (one connection = one device).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vsst/posix/unique_fd.h"
#include "vsst/sim/device_model.h"
#include "vsst/sim/memory_budget.h"
#include "vsst/sim/server_options.h"
#include "vsst/sim/socket_place.h"

namespace vsst::sim {

class Connection;
struct DeviceRecord;

struct ServerTotals {
	uint64_t connections = 0;
	uint64_t rejected_connections = 0;
	uint64_t requests = 0;
	uint64_t requests_by_type[SST_REQ_MAX] = {};
	uint64_t unknown_type = 0;
	uint64_t invalid = 0;
	uint64_t memory_refused = 0; // WRITEs refused by --memory-budget
	uint64_t idle_closes = 0;    // connections closed by --idle-timeout
	uint64_t responses = 0;
	uint64_t events = 0;
	uint64_t errors_sent = 0;
	uint64_t protocol_closes = 0; // connections dropped for malformed input
	uint64_t bytes_read = 0;      // device memory
	uint64_t bytes_written = 0;
	uint64_t max_sim_ps = 0;
};

class Server {
public:
	explicit Server(ServerOptions opts);
	~Server();
	Server(const Server &) = delete;
	Server &operator=(const Server &) = delete;

	// Binds and listens. Refuses a socket path served by a live server or
	// occupied by something that is not a socket; replaces a stale socket.
	bool open(std::string *err);
	// Serves until stop() or (with handle_signals) SIGINT/SIGTERM; removes the
	// socket file on the way out and writes --stats-out. Returns 0, or 3 when
	// the statistics file could not be written.
	int run();
	// Thread-safe and async-signal-safe.
	void stop();

	const ServerTotals &totals() const { return totals_; }
	const ServerOptions &options() const { return opts_; }
	const MemoryBudget &memory_budget() const { return budget_; }

private:
	void accept_all();
	void handle_connection(uint64_t id, uint32_t events);
	void update_interest(uint64_t id, Connection &c);
	void close_connection(uint64_t id, const char *why);
	void close_idle(int64_t now_ns);
	void release_paced();
	void arm_pace_timer();
	void log_status();
	void log_totals();
	void collect(Connection &c, const char *why);
	// --resume-window: a closed connection's device, kept for the next one.
	void park(Connection &c);
	std::optional<DeviceModel> unpark(uint32_t device_id);
	void expire_parked(int64_t now_ns);
	bool write_stats();

	ServerOptions opts_;
	// Declared before conns_: the connections' memories give their pages
	// back to it when they are destroyed.
	MemoryBudget budget_;
	SocketFile listener_;
	UniqueFd epoll_fd_;
	UniqueFd stop_fd_;
	UniqueFd signal_fd_;
	UniqueFd status_timer_;
	UniqueFd pace_timer_;
	uint64_t next_id_ = 100;
	std::map<uint64_t, std::unique_ptr<Connection>> conns_;
	// --resume-window: devices of closed connections by device id, until their deadline
	// (after budget_: their memories give pages back to it).
	struct Parked {
		DeviceModel model;
		int64_t until_ns;
	};
	std::map<uint32_t, Parked> parked_;
	ServerTotals totals_;
	// status line bookkeeping
	uint64_t last_status_requests_ = 0;
	int64_t last_status_ns_ = 0;
	int64_t start_ns_ = 0;
	int64_t start_unix_ns_ = 0;
	// --stats-out: the closed connections' figures, in close order.
	std::vector<DeviceRecord> records_;
};

} // namespace vsst::sim
