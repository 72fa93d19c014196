// SPDX-License-Identifier: Apache-2.0
// One device connection of sst-sim: socket, protocol session, device model,
// output buffer and (paced mode) the responses held back in wall time.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "stats_out.h"
#include "vsst/posix/unique_fd.h"
#include "vsst/protocol/byte_buffer.h"
#include "vsst/sim/device_model.h"
#include "vsst/sim/server_options.h"
#include "vsst/sim/server_session.h"

namespace vsst::sim {

int64_t monotonic_ns();

class Connection {
public:
	// epoch_ns: the server's start (monotonic), origin of the samples' wall
	// times. Samples are kept only with opts.stats_out set.
	// budget: the server's, shared by all connections (nullptr: unbounded).
	Connection(UniqueFd fd, const ServerOptions &opts, int64_t epoch_ns = 0,
		   MemoryBudget *budget = nullptr);

	int fd() const { return fd_.get(); }

	// Reads what is there (bounded), runs the requests through the model and
	// queues the outputs. Returns false when the socket failed.
	void on_readable();
	// Writes as much of the output as the socket takes.
	void flush();
	// Runs requests already buffered but held back by backpressure, then flushes.
	void resume();
	// Paced mode: moves outputs whose release time has come to the output.
	void release_due(int64_t now_ns);
	// Earliest release time of a held output, or INT64_MAX.
	int64_t next_release_ns() const;

	bool wants_read() const;
	bool wants_write() const { return !out_.empty(); }
	// Nothing more to do: close it.
	bool finished(int64_t now_ns) const;
	const std::string &finish_reason() const { return reason_; }
	// --idle-timeout: no byte moved either way for timeout_ns and no response
	// held back. Returns the reason to close with, or "" while not idle.
	std::string idle_reason(int64_t now_ns, int64_t timeout_ns) const;

	const DeviceModel &model() const { return model_; }
	// --resume-window: asked once, at this connection's first request, for the model a
	// closed connection of the same device left (nullopt: start afresh).
	using ModelSource = std::function<std::optional<DeviceModel>(uint32_t device_id)>;
	void set_model_source(ModelSource source) { model_source_ = std::move(source); }
	// The model, for a later connection of the same device; the outputs still owed to
	// this one are dropped. Only for a connection that is being closed.
	DeviceModel take_model();
	bool resumed() const { return resumed_; }
	const ServerSession &session() const { return session_; }
	bool closed_for_protocol_error() const { return session_.closing(); }
	// The epoll mask last registered for this socket (the server skips
	// epoll_ctl when it would not change).
	uint32_t registered_events = 0;
	// 0-based accept order (the "connection" of the statistics file).
	uint64_t index = 0;

	// The final figures for --stats-out; moves the samples out. why: the
	// server's reason for closing (nullptr: the connection's own).
	DeviceRecord take_record(int64_t now_ns, const char *why);

private:
	struct Held {
		int64_t release_ns;
		uint64_t seq;
		SimOutput out;
		int64_t sample; // index in samples_, -1 when none
	};
	struct LaterRelease {
		bool operator()(const Held &a, const Held &b) const
		{
			return a.release_ns != b.release_ns ? a.release_ns > b.release_ns : a.seq > b.seq;
		}
	};

	void process(int64_t now_ns);
	// Room to take more requests (output and held responses below their limits).
	bool can_process() const;
	void deliver(SimOutput &&o, int64_t arrival_wall_ns);
	// Appends a sample for a response (stats on); returns its index or -1.
	int64_t record(const SimOutput &o, int64_t arrival_wall_ns);
	void emit(const SimOutput &o);
	void fail(std::string why);

	UniqueFd fd_;
	const ServerOptions &opts_;
	ServerSession session_;
	uint64_t horizon_ps_ = 0; // latest completion handed out (timed sessions lag now_ps)
	DeviceModel model_;
	ByteBuffer in_;
	ByteBuffer out_;
	std::vector<Held> held_; // min-heap on release time
	uint64_t held_seq_ = 0;
	bool peer_eof_ = false;
	bool broken_ = false;
	int64_t linger_deadline_ns_ = 0; // set once no more input is accepted
	int64_t last_io_ns_;             // last byte received or sent (--idle-timeout)
	bool budget_logged_ = false;     // the first memory-budget refusal was logged
	ModelSource model_source_;
	bool source_asked_ = false;
	bool resumed_ = false;
	std::string reason_;
	// --stats-out bookkeeping; with it off, record_ is false and nothing is kept.
	const bool record_;
	const int64_t epoch_ns_;
	const int64_t open_ns_;
	SampleLog samples_;
	size_t unstamped_ = 0; // samples_ from here on wait for their wall_done_ns
};

} // namespace vsst::sim
