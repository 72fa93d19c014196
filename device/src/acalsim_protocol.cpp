// SPDX-License-Identifier: Apache-2.0
#include "acalsim_protocol.h"

#include <cinttypes>
#include <cstring>

#include "vsst/protocol/wire_size.h"

namespace vsst {

void AcalsimProtocol::link_up(LinkOps &ops)
{
	// No greeting in this protocol: the peer is usable once connected.
	ghost_ = false;
	ops.handshake_done();
}

void AcalsimProtocol::send(LinkOps &ops, ForwardRequest &&req)
{
	queue_.push_back(std::move(req));
	pump(ops);
}

void AcalsimProtocol::pump(LinkOps &ops)
{
	if (on_wire_ || ghost_ || queue_.empty())
		return;
	ForwardRequest req = std::move(queue_.front());
	queue_.pop_front();
	// The reference peers read a whole struct; always send all of it.
	ops.out().append(req.body.get(), kAcalsimRequestSize);
	on_wire_ = req.info;
}

bool AcalsimProtocol::on_input(LinkOps &ops, ByteBuffer &in, std::string &fault)
{
	while (in.size() >= kAcalsimResponseSize) {
		SSTResponse resp;
		std::memcpy(&resp, in.data(), kAcalsimResponseSize);
		in.consume(kAcalsimResponseSize);
		if (ghost_) {
			ghost_ = false;
			VSST_LOG(ops.log(), debug, "late acalsim reply dropped");
		} else if (on_wire_) {
			const PendingInfo info = *on_wire_;
			on_wire_.reset();
			if (resp.request_id != info.request_id)
				VSST_LOG(ops.log(), warn,
					 "acalsim reply carries request_id %" PRIu64 ", expected %" PRIu64,
					 resp.request_id, info.request_id);
			if (resp.status > SST_STATUS_NO_DEVICE)
				resp.status = SST_STATUS_ERROR;
			ops.peer_healthy();
			ops.sink().complete(info, resp);
		} else {
			fault = "acalsim peer sent a response nobody asked for";
			return false;
		}
		pump(ops);
	}
	return true;
}

void AcalsimProtocol::link_down(LinkOps &ops)
{
	std::optional<PendingInfo> lost = on_wire_;
	std::deque<ForwardRequest> queued;
	queued.swap(queue_);
	on_wire_.reset();
	ghost_ = false;
	if (lost)
		complete_with_status(ops.sink(), *lost, SST_STATUS_NO_DEVICE);
	for (auto &r : queued)
		complete_with_status(ops.sink(), r.info, SST_STATUS_NO_DEVICE);
}

std::optional<Clock::time_point> AcalsimProtocol::next_deadline() const
{
	std::optional<Clock::time_point> d;
	auto consider = [&d](Clock::time_point t) {
		if (!d || t < *d)
			d = t;
	};
	if (on_wire_)
		consider(on_wire_->deadline);
	if (ghost_)
		consider(ghost_deadline_);
	if (!queue_.empty())
		consider(queue_.front().info.deadline);
	return d;
}

bool AcalsimProtocol::expire(LinkOps &ops, Clock::time_point now, std::string &fault)
{
	if (on_wire_ && on_wire_->deadline <= now) {
		const PendingInfo info = *on_wire_;
		on_wire_.reset();
		ghost_ = true;
		ghost_deadline_ = now + ops.request_timeout();
		complete_with_status(ops.sink(), info, SST_STATUS_TIMEOUT);
	}
	// Queued requests share the timeout, so the FIFO is in deadline order.
	while (!queue_.empty() && queue_.front().info.deadline <= now) {
		ForwardRequest r = std::move(queue_.front());
		queue_.pop_front();
		complete_with_status(ops.sink(), r.info, SST_STATUS_TIMEOUT);
	}
	if (ghost_ && ghost_deadline_ <= now) {
		// Without tags the stream cannot be resynchronised in place.
		fault = "acalsim peer never answered a timed-out request";
		return false;
	}
	return true;
}

void AcalsimProtocol::cancel(LinkOps &ops, uint64_t epoch)
{
	std::erase_if(queue_, [epoch](const ForwardRequest &r) { return r.info.epoch < epoch; });
	if (on_wire_ && on_wire_->epoch < epoch) {
		on_wire_.reset();
		ghost_ = true;
		ghost_deadline_ = Clock::now() + ops.request_timeout();
	}
}

} // namespace vsst
