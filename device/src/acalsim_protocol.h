// SPDX-License-Identifier: Apache-2.0
// Compatibility protocol `acalsim`: the reference design's raw stream, a
// whole SSTRequest (4104 bytes) out, a whole SSTResponse (4112 bytes) back,
// strictly one at a time. Nothing on the wire says which request a response
// belongs to, so requests wait in a FIFO and only one is ever outstanding.
#pragma once

#include <deque>

#include "sim_protocol.h"

namespace vsst {

class AcalsimProtocol final : public SimProtocol {
public:
	const char *name() const override { return "acalsim"; }
	void link_up(LinkOps &ops) override;
	void send(LinkOps &ops, ForwardRequest &&req) override;
	bool on_input(LinkOps &ops, ByteBuffer &in, std::string &fault) override;
	void link_down(LinkOps &ops) override;
	std::optional<Clock::time_point> next_deadline() const override;
	bool expire(LinkOps &ops, Clock::time_point now, std::string &fault) override;
	void cancel(LinkOps &ops, uint64_t epoch) override;
	size_t inflight() const override { return queue_.size() + (on_wire_ ? 1 : 0); }

private:
	void pump(LinkOps &ops);

	std::deque<ForwardRequest> queue_; // not yet written
	std::optional<PendingInfo> on_wire_;
	// The request on the wire timed out or was cancelled: its response is
	// still coming and must be swallowed before the next request goes out.
	bool ghost_ = false;
	Clock::time_point ghost_deadline_{};
};

} // namespace vsst
