// SPDX-License-Identifier: Apache-2.0
// The SST-core bridge's side of its one client connection, without SST:
// bounded reads from the socket, the protocol session, the output buffer and
// the count of requests in flight. The bridge (sstcore/bridge.cpp) owns the
// simulation; this owns every byte the client sends, so that the bounds
// sst-sim's connections have hold for the bridge too and can be tested (and
// fuzzed) where SST-core is not installed:
//  * at most `read_budget` bytes are read per pump (one simulated tick);
//  * nothing is read while `output_high_water` bytes of answers wait unsent
//    (a peer that stops reading cannot make us buffer without end) or while
//    `max_in_flight` requests are handed out and not yet retired (the
//    simulation's queues stay bounded);
//  * `idle_timeout_ns` (0 = off): nothing moved either way and nothing in
//    flight for that long ends the input;
//  * once the input is over, answers still owed are written for up to
//    `linger_ns` without progress.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "vsst/protocol/byte_buffer.h"
#include "vsst/sim/server_session.h"

namespace vsst::sim {

struct IntakeLimits {
	size_t read_budget = 1024 * 1024;
	size_t output_high_water = 4 * 1024 * 1024;
	size_t max_in_flight = 4096;
	int64_t idle_timeout_ns = 0;
	int64_t linger_ns = 5'000'000'000;
};

class ClientIntake {
public:
	ClientIntake(Protocol protocol, uint64_t clock_hz, IntakeLimits limits = {});

	// Hands out requests already buffered while there is room, then reads what
	// the socket (non-blocking) has, within the read budget, and hands those
	// out. Each request handed out is in flight until retire(). Returns the
	// number handed out.
	size_t pump(int fd, int64_t now_ns, const ServerSession::RequestFn &on_request);
	// A request handed out is done with (its response, or for an async
	// COMPUTE its completion event, has been queued). False (and nothing
	// counted) when nothing is in flight: a bug of the caller.
	bool retire();
	// Writes as much queued output as the socket takes.
	void flush(int fd, int64_t now_ns);
	// Ends the input when the idle timeout has passed; true when it did.
	bool check_idle(int64_t now_ns);

	// Where responses and events are encoded (session().emit_*), then flush().
	ByteBuffer &output() { return out_; }
	ServerSession &session() { return session_; }
	const ServerSession &session() const { return session_; }

	size_t in_flight() const { return handed_ - retired_; }
	uint64_t handed_out() const { return handed_; }
	uint64_t bytes_received() const { return received_; }
	size_t buffered_input() const { return in_.size(); }
	// No more requests will be read: peer closed, protocol error, socket
	// error or idle timeout.
	bool input_over() const;
	// Nothing more to do with this client: input over and every answer owed
	// written (or abandoned: protocol error, socket error, linger passed).
	bool finished(int64_t now_ns) const;
	// Why the input ended ("" while it has not).
	const std::string &end_reason() const { return reason_; }
	bool can_take_requests() const;
	bool wants_read() const { return !peer_eof_ && !idle_ && can_take_requests(); }

private:
	size_t feed(const ServerSession::RequestFn &on_request);
	void end_input(std::string why, int64_t now_ns);

	IntakeLimits limits_;
	ServerSession session_;
	ByteBuffer in_;
	ByteBuffer out_;
	uint64_t handed_ = 0;
	uint64_t retired_ = 0;
	uint64_t received_ = 0;
	bool peer_eof_ = false;
	bool broken_ = false;
	bool idle_ = false;
	int64_t last_io_ns_ = -1;
	int64_t linger_deadline_ns_ = 0;
	std::string reason_;
};

} // namespace vsst::sim
