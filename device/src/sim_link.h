// SPDX-License-Identifier: Apache-2.0
// The simulator client's transport: a non-blocking Unix socket driven by its
// own I/O thread (poll on the socket and a wake-up eventfd). It connects,
// reconnects with exponential backoff, answers NO_DEVICE while the simulator
// is away and leaves the wire format to a SimProtocol.
//
// States:  backoff --connect ok--> handshake --protocol ready--> ready
//             ^                        |                           |
//             +------ error / EOF / fault / handshake timeout -----+
// backoff:   forwarded requests are answered NO_DEVICE at once.
// handshake: they wait (bounded by the handshake timeout).
// ready:     they go to the protocol.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "logger.h"
#include "pending.h"
#include "request_engine.h"
#include "sim_protocol.h"
#include "stats.h"
#include "vsst/posix/unique_fd.h"
#include "vsst/protocol/byte_buffer.h"

namespace vsst {

struct LinkOptions {
	std::string socket_path;
	uint32_t device_id = 0;
	Clock::duration request_timeout = std::chrono::seconds(10);
	Clock::duration reconnect_min = std::chrono::milliseconds(10);
	Clock::duration reconnect_max = std::chrono::seconds(1);
	Clock::duration handshake_timeout = std::chrono::seconds(5);
};

class SimLink final : private LinkOps {
public:
	SimLink(LinkOptions opts, std::unique_ptr<SimProtocol> proto, CompletionSink &sink, Stats &stats,
		Logger log);
	~SimLink(); // stops and joins the I/O thread
	SimLink(const SimLink &) = delete;
	SimLink &operator=(const SimLink &) = delete;

	bool start(std::string &err);

	// Thread-safe, never blocks on I/O. Exactly one completion follows.
	void submit(ForwardRequest &&req);
	// Thread-safe: forget requests of epochs before `epoch`.
	void cancel(uint64_t epoch);

	SimCapacities capacities() const;
	// Synchronized time: the minimum latency the simulator announced, or -1
	// before a timed handshake completed.
	int64_t min_latency_ps() const { return min_latency_ps_.load(std::memory_order_acquire); }

	// Observer events (the `what` of vsst_dev_set_sim_observer).
	static constexpr int kSimSent = 0, kSimReceived = 1, kSimConnected = 2, kSimClosed = 3;
	// Thread-safe. See vsst_dev_set_sim_observer (sst_device.h).
	using Observer = void (*)(void *opaque, int what, unsigned conn, const void *data, size_t len);
	void set_observer(Observer fn, void *opaque);

private:
	enum class State { backoff, handshake, ready };
	struct Command {
		bool is_cancel = false;
		uint64_t epoch = 0;
		ForwardRequest req;
	};

	void run();
	bool take_commands();
	void dispatch(ForwardRequest &&req);
	void attempt_connect();
	void drop(const std::string &why, bool fault);
	void read_input();
	void flush_output();
	void run_timers(Clock::time_point now);
	int poll_timeout_ms(Clock::time_point now) const;
	// I/O thread: reports one stream event to the observer, or keeps it in
	// the start-up log while there is none.
	void observe(int what, const void *data = nullptr, size_t len = 0);
	void end_startup_log();

	// LinkOps
	ByteBuffer &out() override { return out_; }
	CompletionSink &sink() override { return sink_; }
	void handshake_done() override;
	void peer_healthy() override { backoff_ = opts_.reconnect_min; }
	void set_capacities(uint64_t units, uint64_t mem) override;
	void note_protocol_error() override { Stats::bump(stats_.errors); }
	const Logger &log() const override { return log_; }
	Clock::duration request_timeout() const override { return opts_.request_timeout; }
	uint32_t device_id() const override { return opts_.device_id; }
	void set_min_latency(uint64_t ps) override
	{
		min_latency_ps_.store(static_cast<int64_t>(std::min<uint64_t>(ps, INT64_MAX)),
				      std::memory_order_release);
	}

	const LinkOptions opts_;
	std::unique_ptr<SimProtocol> proto_;
	CompletionSink &sink_;
	Stats &stats_;
	Logger log_;

	// Shared with submitting threads.
	std::mutex cmd_mu_;
	std::deque<Command> cmds_;
	bool stop_ = false;
	UniqueFd wake_;
	std::thread thread_;
	std::atomic<bool> ready_{false};
	std::atomic<uint64_t> cap_units_{0};
	std::atomic<uint64_t> cap_mem_{0};
	std::atomic<int64_t> min_latency_ps_{-1};

	// Stream observer and the start-up log (everything under obs_mu_). The
	// log holds the current connection's events until the first request is
	// dispatched, so that an observer installed after the I/O thread
	// connected still gets the connection from its first byte.
	struct LoggedEvent {
		int what;
		std::vector<uint8_t> bytes;
	};
	static constexpr size_t kStartupLogMax = 64 * 1024;
	std::mutex obs_mu_;
	Observer obs_fn_ = nullptr;
	void *obs_opaque_ = nullptr;
	bool obs_whole_ = false; // the observer saw the current connection from its start
	bool conn_open_ = false;
	unsigned conn_ = 0; // current connection's id
	unsigned next_conn_ = 0;
	bool startup_logging_ = true;
	size_t startup_bytes_ = 0;
	std::vector<LoggedEvent> startup_log_;

	// I/O thread only.
	State state_ = State::backoff;
	UniqueFd sock_;
	ByteBuffer in_;
	ByteBuffer out_;
	std::deque<ForwardRequest> waiting_; // arrived during the handshake
	Clock::time_point next_attempt_{};
	Clock::time_point handshake_deadline_{};
	Clock::duration backoff_;
	bool ever_ready_ = false;
	bool dispatched_any_ = false;
	bool failure_logged_ = false;
};

} // namespace vsst
