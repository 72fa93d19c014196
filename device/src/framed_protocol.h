// SPDX-License-Identifier: Apache-2.0
// The project's framed protocol (sim-wire.h): HELLO handshake, many REQUEST
// frames in flight, RESPONSE frames matched by tag in any order, EVENT,
// ERROR, PING/PONG. Anything malformed from the peer is a fault.
#pragma once

#include <map>
#include <set>

#include "sim_protocol.h"

namespace vsst {

class FramedProtocol final : public SimProtocol {
public:
	// Tags whose late replies are still recognised after a timeout/cancel.
	static constexpr size_t kMaxRetiredTags = 65536;

	// timed: offer VSST_SIM_FEATURE_TIMED, send REQUEST_AT, and fail the
	// link when the simulator does not grant it (sim-wire.h).
	explicit FramedProtocol(bool timed = false) : timed_(timed) {}

	const char *name() const override { return "framed"; }
	void link_up(LinkOps &ops) override;
	void send(LinkOps &ops, ForwardRequest &&req) override;
	bool on_input(LinkOps &ops, ByteBuffer &in, std::string &fault) override;
	void link_down(LinkOps &ops) override;
	std::optional<Clock::time_point> next_deadline() const override;
	bool expire(LinkOps &ops, Clock::time_point now, std::string &fault) override;
	void cancel(LinkOps &ops, uint64_t epoch) override;
	size_t inflight() const override { return inflight_.size(); }

private:
	bool on_frame(LinkOps &ops, uint16_t type, uint64_t tag, const uint8_t *p, uint32_t len,
		      std::string &fault);
	bool on_response(LinkOps &ops, uint64_t tag, const uint8_t *p, uint32_t len, std::string &fault);
	bool on_error(LinkOps &ops, uint64_t tag, const uint8_t *p, uint32_t len, std::string &fault);
	void finish(LinkOps &ops, const PendingInfo &info, SSTResponse &resp);
	void retire(uint64_t tag);
	void probe_capacities(LinkOps &ops);

	// Tags grow monotonically and every request has the same timeout, so
	// the lowest tag always has the earliest deadline.
	std::map<uint64_t, PendingInfo> inflight_;
	std::set<uint64_t> retired_;
	uint64_t next_tag_ = 1;
	bool hello_done_ = false;
	bool timed_ = false;
};

} // namespace vsst
