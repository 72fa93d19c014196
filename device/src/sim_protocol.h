// SPDX-License-Identifier: Apache-2.0
// The two wire protocols the simulator client speaks, behind one interface.
// SimLink (sim_link.h) owns the socket, the I/O thread and reconnection; a
// SimProtocol owns the requests on the wire and turns bytes into
// completions. Every method runs on the I/O thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "logger.h"
#include "pending.h"
#include "vsst/protocol/byte_buffer.h"

namespace vsst {

// What a protocol may ask of the link.
class LinkOps {
public:
	virtual ByteBuffer &out() = 0;      // bytes to send; the link flushes them
	virtual CompletionSink &sink() = 0; // completions/events for the device
	virtual void handshake_done() = 0;  // the peer is ready: forwarding starts
	virtual void peer_healthy() = 0;    // a well-formed reply arrived: backoff resets
	virtual void set_capacities(uint64_t max_compute_units, uint64_t memory_size) = 0;
	virtual void note_protocol_error() = 0; // counted in stats.errors
	virtual const Logger &log() const = 0;
	virtual Clock::duration request_timeout() const = 0;
	virtual uint32_t device_id() const = 0;
	// The simulator granted synchronized time and announced its minimum latency.
	virtual void set_min_latency(uint64_t ps) { (void)ps; }

protected:
	~LinkOps() = default;
};

class SimProtocol {
public:
	virtual ~SimProtocol() = default;
	virtual const char *name() const = 0;

	// A fresh connection: send the greeting, or declare the link ready.
	virtual void link_up(LinkOps &ops) = 0;
	// Forward one request (only called once the link is ready).
	virtual void send(LinkOps &ops, ForwardRequest &&req) = 0;
	// Consume whatever complete units `in` holds. false + `fault`: the peer
	// broke the protocol and the connection must go.
	virtual bool on_input(LinkOps &ops, ByteBuffer &in, std::string &fault) = 0;
	// The connection is gone: answer everything pending with NO_DEVICE and
	// forget per-connection state.
	virtual void link_down(LinkOps &ops) = 0;
	// Earliest moment expire() has work.
	virtual std::optional<Clock::time_point> next_deadline() const = 0;
	// Time out overdue requests. false + `fault`: the connection must go.
	virtual bool expire(LinkOps &ops, Clock::time_point now, std::string &fault) = 0;
	// Forget requests of epochs before `epoch` without completing them.
	virtual void cancel(LinkOps &ops, uint64_t epoch) = 0;
	virtual size_t inflight() const = 0;
};

} // namespace vsst
