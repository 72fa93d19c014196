// SPDX-License-Identifier: Apache-2.0
// The simulator's side of one device connection, independent of how bytes
// move (epoll server, SST-core bridge, tests, fuzzers): turns received bytes
// into requests and immediate replies, and encodes responses and events for
// the peer's protocol. Never trusts the peer: every malformed input ends in
// an ERROR frame (recoverable) or in closing() (the stream cannot be trusted).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vsst/protocol/byte_buffer.h"
#include "vsst/protocol/frame_codec.h"
#include "vsst/protocol/wire_size.h"

namespace vsst::sim {

enum class Protocol : uint8_t { kAuto, kFramed, kAcalsim };

std::optional<Protocol> protocol_by_name(std::string_view name);
std::string_view protocol_name(Protocol p);

// A peer that keeps sending bad-but-delimited frames is cut off after this many.
inline constexpr uint64_t kMaxRecoverableErrors = 1000;

struct SessionCounters {
	uint64_t frames_in = 0;
	uint64_t requests = 0;
	uint64_t responses = 0;
	uint64_t events = 0;
	uint64_t errors_sent = 0;
	uint64_t pings = 0;
};

class ServerSession {
public:
	using RequestFn = std::function<void(uint64_t token, std::span<const uint8_t> request)>;

	// `configured`: kAuto detects the protocol from the first 4 bytes (the
	// framed magic, or anything else = acalsim).
	explicit ServerSession(Protocol configured, uint64_t clock_hz = 0)
		: protocol_(configured), clock_hz_(clock_hz)
	{
	}

	// Consumes whole frames/requests from `in` (at most max_requests requests
	// per call, for fairness), appends immediate replies (HELLO, PONG, ERROR)
	// to `out` and hands each request to on_request (the span is valid during
	// the call only). Returns the number of requests handed out.
	size_t feed(ByteBuffer &in, ByteBuffer &out, const RequestFn &on_request,
		    size_t max_requests = std::numeric_limits<size_t>::max());

	// Encodes the response to the request `token` (bytes: the first 32..4112
	// bytes of an SSTResponse). acalsim answers strictly in request order.
	void emit_response(ByteBuffer &out, uint64_t token, uint64_t cycles, uint64_t complete_ps,
			   std::span<const uint8_t> response);
	// Encodes an SSTEvent; dropped when the peer does not accept events.
	void emit_event(ByteBuffer &out, std::span<const uint8_t> event);

	// The peer must be disconnected once `out` is flushed.
	bool closing() const { return closing_; }
	const std::string &close_reason() const { return close_reason_; }

	// The peer closed: describes a truncated frame left behind, if any.
	std::optional<std::string> truncated_input(const ByteBuffer &in) const;

	Protocol protocol() const { return protocol_; }
	bool hello_done() const { return hello_done_; }
	bool events_enabled() const { return events_; }
	// Synchronized time (sim-wire.h VSST_SIM_FEATURE_TIMED): the client sends
	// REQUEST_AT; during on_request, submit_ps() is that request's submit time.
	bool timed() const { return timed_; }
	uint64_t submit_ps() const { return submit_ps_; }
	// Announced in the HELLO answer of a timed session.
	void set_min_latency_ps(uint64_t ps) { min_latency_ps_ = ps; }
	// Only a host that applies submit times may grant TIMED (sst-sim does; the
	// SST-core bridge does not yet, so its clients are told so in HELLO).
	void set_timing_supported(bool yes) { timing_supported_ = yes; }
	uint32_t device_id() const { return device_id_; }
	void set_clock_hz(uint64_t hz) { clock_hz_ = hz; }
	const SessionCounters &counters() const { return counters_; }

private:
	size_t feed_framed(ByteBuffer &in, ByteBuffer &out, const RequestFn &on_request, size_t max_requests);
	size_t feed_acalsim(ByteBuffer &in, const RequestFn &on_request, size_t max_requests);
	void error(ByteBuffer &out, uint64_t tag, uint32_t code, std::string_view why, bool fatal);

	Protocol protocol_;
	uint64_t clock_hz_;
	bool hello_done_ = false;
	bool events_ = false;
	bool timed_ = false;
	bool timing_supported_ = false;
	uint64_t submit_ps_ = 0;
	uint64_t min_latency_ps_ = 0;
	uint32_t device_id_ = 0;
	bool closing_ = false;
	std::string close_reason_;
	uint64_t recoverable_errors_ = 0;
	SessionCounters counters_;
	// acalsim: responses must come back in request order.
	uint64_t acalsim_next_token_ = 0; // token given to the next request
	uint64_t acalsim_next_out_ = 0;   // token whose response goes out next
	std::map<uint64_t, std::vector<uint8_t>> acalsim_held_;
};

} // namespace vsst::sim
