// SPDX-License-Identifier: Apache-2.0
#include "framed_protocol.h"

#include <cinttypes>
#include <cstring>
#include <vector>

#include "vsst/protocol/frame_codec.h"
#include "vsst/protocol/wire_size.h"
#include "vsst/sim-wire.h"

namespace vsst {
namespace {

constexpr uint32_t kMetaSize = sizeof(vsst_sim_resp_meta);
constexpr uint32_t kHelloFeatureEvents = VSST_SIM_FEATURE_EVENTS;

std::string tag_fault(const char *what, uint64_t tag)
{
	return std::string(what) + " (tag " + std::to_string(tag) + ")";
}

} // namespace

void FramedProtocol::link_up(LinkOps &ops)
{
	hello_done_ = false;
	vsst_sim_hello hello{};
	hello.device_id = ops.device_id();
	hello.features = kHelloFeatureEvents | (timed_ ? VSST_SIM_FEATURE_TIMED : 0u);
	hello.clock_hz = 0;
	encode_frame(ops.out(), VSST_SIM_HELLO, 0, {as_bytes(hello)});
}

void FramedProtocol::send(LinkOps &ops, ForwardRequest &&req)
{
	const uint64_t tag = next_tag_++;
	if (timed_)
		encode_request_at(ops.out(), tag, req.info.submit_ps, as_bytes(req.body.get(), req.wire_len));
	else
		encode_frame(ops.out(), VSST_SIM_REQUEST, tag, {as_bytes(req.body.get(), req.wire_len)});
	inflight_.emplace(tag, req.info);
}

void FramedProtocol::probe_capacities(LinkOps &ops)
{
	// GET_INFO is answered locally; the device asks the simulator for its
	// capacities once per connection (and after CONFIGURE changes them) so
	// that the local answer can include them without a round trip.
	ForwardRequest probe;
	probe.info.internal = true;
	probe.info.type = SST_REQ_GET_INFO;
	probe.info.deadline = Clock::now() + ops.request_timeout();
	probe.body = std::make_unique<SSTRequest>();
	std::memset(probe.body.get(), 0, sizeof(SSTRequest));
	probe.body->type = SST_REQ_GET_INFO;
	probe.wire_len = request_wire_size(*probe.body);
	send(ops, std::move(probe));
}

bool FramedProtocol::on_input(LinkOps &ops, ByteBuffer &in, std::string &fault)
{
	for (;;) {
		const ParsedFrame f = parse_frame(in.view());
		if (f.status == ParsedFrame::Status::need_more)
			return true;
		if (f.status == ParsedFrame::Status::bad) {
			fault = f.why;
			return false;
		}
		// f.payload points into `in`; handlers append only to the output
		// buffer, so it stays valid until consumed here.
		const bool ok = on_frame(ops, f.hdr.type, f.hdr.tag, f.payload.data(),
					 static_cast<uint32_t>(f.payload.size()), fault);
		in.consume(f.consumed);
		if (!ok)
			return false;
	}
}

bool FramedProtocol::on_frame(LinkOps &ops, uint16_t type, uint64_t tag, const uint8_t *p, uint32_t len,
			      std::string &fault)
{
	if (!hello_done_ && type != VSST_SIM_HELLO && type != VSST_SIM_ERROR && type != VSST_SIM_PING) {
		fault = "frame type " + std::to_string(type) + " before the HELLO answer";
		return false;
	}
	switch (type) {
	case VSST_SIM_HELLO: {
		if (hello_done_) {
			fault = "second HELLO";
			return false;
		}
		if (len < sizeof(vsst_sim_hello)) {
			fault = "short HELLO payload";
			return false;
		}
		vsst_sim_hello h;
		std::memcpy(&h, p, sizeof(h));
		if (timed_) {
			// Synchronized time cannot work with a simulator that ignores
			// submit times: refuse the link rather than run unsynchronized.
			if (!(h.features & VSST_SIM_FEATURE_TIMED)) {
				fault = "the simulator does not support synchronized time (no TIMED "
					"feature in its HELLO answer); use sst-sim or --timing free";
				return false;
			}
			if (len < sizeof(vsst_sim_hello) + sizeof(vsst_sim_hello_timing)) {
				fault = "HELLO answer grants TIMED without vsst_sim_hello_timing";
				return false;
			}
			vsst_sim_hello_timing t;
			std::memcpy(&t, p + sizeof(h), sizeof(t));
			ops.set_min_latency(t.min_latency_ps);
		}
		hello_done_ = true;
		VSST_LOG(ops.log(), info, "simulator greeted: device %u, clock %" PRIu64 " Hz", h.device_id,
			 h.clock_hz);
		ops.peer_healthy();
		// The probe before the requests that waited for the handshake, so
		// that the stream does not depend on whether any did (RPC trace
		// replay compares it byte for byte).
		probe_capacities(ops);
		ops.handshake_done();
		return true;
	}
	case VSST_SIM_RESPONSE:
		return on_response(ops, tag, p, len, fault);
	case VSST_SIM_EVENT: {
		if (len < sizeof(SSTEvent)) {
			fault = "short EVENT payload";
			return false;
		}
		SSTEvent ev;
		std::memcpy(&ev, p, sizeof(ev));
		ops.sink().event(ev);
		return true;
	}
	case VSST_SIM_ERROR:
		return on_error(ops, tag, p, len, fault);
	case VSST_SIM_PING:
		encode_frame(ops.out(), VSST_SIM_PONG, tag, {});
		return true;
	case VSST_SIM_PONG:
		return true; // we never ping; harmless
	default:
		fault = "unknown frame type " + std::to_string(type);
		return false;
	}
}

bool FramedProtocol::on_response(LinkOps &ops, uint64_t tag, const uint8_t *p, uint32_t len,
				 std::string &fault)
{
	if (len < kMetaSize + SST_RESPONSE_HEADER_SIZE || len > kMetaSize + sizeof(SSTResponse)) {
		fault = tag_fault("RESPONSE payload length out of range", tag);
		return false;
	}
	auto it = inflight_.find(tag);
	if (it == inflight_.end()) {
		if (retired_.erase(tag)) {
			VSST_LOG(ops.log(), debug, "late reply for tag %" PRIu64 " dropped", tag);
			return true;
		}
		fault = tag_fault("RESPONSE for a tag never sent", tag);
		return false;
	}
	PendingInfo info = it->second;
	inflight_.erase(it);

	vsst_sim_resp_meta meta;
	std::memcpy(&meta, p, kMetaSize);
	if (timed_) {
		// A completion before its submit time is a broken simulator; it is
		// clamped (the guest never sees time run backwards) and logged.
		if (meta.complete_ps < info.submit_ps) {
			VSST_LOG(ops.log(), warn,
				 "simulator answered tag %" PRIu64 " at %" PRIu64
				 " ps, before its submit time %" PRIu64 " ps; clamped",
				 tag, meta.complete_ps, info.submit_ps);
			meta.complete_ps = info.submit_ps;
		}
		info.complete_ps = meta.complete_ps;
	}
	SSTResponse resp;
	std::memset(&resp, 0, sizeof(resp));
	std::memcpy(&resp, p + kMetaSize, len - kMetaSize);
	if (resp.status > SST_STATUS_NO_DEVICE) {
		VSST_LOG(ops.log(), warn, "simulator status %u is not a known SSTStatus; reporting ERROR",
			 resp.status);
		resp.status = SST_STATUS_ERROR;
	}
	// The frame carries the simulated time; make it visible to the guest for
	// COMPUTE when the simulator left the ABI fields empty.
	if (info.type == SST_REQ_COMPUTE && resp.payload.compute.cycles == 0 &&
	    resp.payload.compute.timestamp == 0) {
		resp.payload.compute.cycles = meta.cycles;
		resp.payload.compute.timestamp = meta.complete_ps;
	}
	ops.peer_healthy();
	finish(ops, info, resp);
	return true;
}

bool FramedProtocol::on_error(LinkOps &ops, uint64_t tag, const uint8_t *p, uint32_t len, std::string &fault)
{
	if (len < sizeof(vsst_sim_error)) {
		fault = "short ERROR payload";
		return false;
	}
	vsst_sim_error e;
	std::memcpy(&e, p, sizeof(e));
	const size_t text_len = std::min<size_t>(len - sizeof(e), 200);
	std::string text(reinterpret_cast<const char *>(p + sizeof(e)), text_len);
	for (char &c : text)
		if (static_cast<unsigned char>(c) < 0x20)
			c = '?';
	ops.note_protocol_error();
	VSST_LOG(ops.log(), warn, "simulator ERROR code %u tag %" PRIu64 ": %s", e.code, tag, text.c_str());

	if (!hello_done_) {
		// The simulator refused the greeting: nothing will work on this link.
		fault = "simulator rejected HELLO: " + text;
		return false;
	}
	auto it = inflight_.find(tag);
	if (it != inflight_.end()) {
		const PendingInfo info = it->second;
		inflight_.erase(it);
		SSTResponse resp;
		std::memset(&resp, 0, sizeof(resp));
		resp.status = SST_STATUS_ERROR;
		finish(ops, info, resp);
	} else {
		retired_.erase(tag);
	}
	// The simulator may close after an ERROR; the link notices the EOF.
	return true;
}

void FramedProtocol::finish(LinkOps &ops, const PendingInfo &info, SSTResponse &resp)
{
	if (info.internal) {
		if (info.type == SST_REQ_GET_INFO && resp.status == SST_STATUS_OK)
			ops.set_capacities(resp.payload.info.max_compute_units,
					   resp.payload.info.memory_size);
		else if (info.type == SST_REQ_RESET && resp.status == SST_STATUS_OK)
			probe_capacities(ops); // a reset restores the start-up parameters
		return;
	}
	const bool changes_capacity = info.type == SST_REQ_CONFIGURE && resp.status == SST_STATUS_OK &&
				      (info.param == SST_CFG_COMPUTE_UNITS || info.param == SST_CFG_MEM_SIZE);
	ops.sink().complete(info, resp);
	if (changes_capacity)
		probe_capacities(ops);
}

void FramedProtocol::retire(uint64_t tag)
{
	retired_.insert(tag);
	if (retired_.size() > kMaxRetiredTags)
		retired_.erase(retired_.begin());
}

void FramedProtocol::link_down(LinkOps &ops)
{
	std::map<uint64_t, PendingInfo> lost;
	lost.swap(inflight_);
	retired_.clear();
	hello_done_ = false;
	for (auto &[tag, info] : lost)
		if (!info.internal)
			complete_with_status(ops.sink(), info, SST_STATUS_NO_DEVICE);
}

std::optional<Clock::time_point> FramedProtocol::next_deadline() const
{
	if (inflight_.empty())
		return std::nullopt;
	return inflight_.begin()->second.deadline;
}

bool FramedProtocol::expire(LinkOps &ops, Clock::time_point now, std::string &)
{
	while (!inflight_.empty() && inflight_.begin()->second.deadline <= now) {
		auto it = inflight_.begin();
		const uint64_t tag = it->first;
		const PendingInfo info = it->second;
		inflight_.erase(it);
		retire(tag);
		if (!info.internal)
			complete_with_status(ops.sink(), info, SST_STATUS_TIMEOUT);
	}
	return true;
}

void FramedProtocol::cancel(LinkOps &, uint64_t epoch)
{
	for (auto it = inflight_.begin(); it != inflight_.end();) {
		if (!it->second.internal && it->second.epoch < epoch) {
			retire(it->first);
			it = inflight_.erase(it);
		} else {
			++it;
		}
	}
}

} // namespace vsst
