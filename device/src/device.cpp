// SPDX-License-Identifier: Apache-2.0
#include "device.h"

#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "acalsim_protocol.h"
#include "framed_protocol.h"
#include "vsst/protocol/wire_size.h"

namespace vsst {

uint32_t Device::offered_features()
{
	// One request queue only, hence no MULTI_QUEUE.
	return (1u << SST_FEATURE_ECHO) | (1u << SST_FEATURE_COMPUTE) | (1u << SST_FEATURE_MEMORY) |
	       (1u << SST_FEATURE_EVENTS) | (1u << SST_FEATURE_RESET);
}

Device::Device(const vsst_dev_config &cfg)
	: socket_path_(cfg.socket_path ? cfg.socket_path : ""), device_id_(cfg.device_id),
	  protocol_(cfg.protocol), max_inflight_(cfg.max_inflight ? cfg.max_inflight : kDefaultMaxInflight),
	  request_timeout_(std::chrono::milliseconds(cfg.request_timeout_ms ? cfg.request_timeout_ms
									    : kDefaultTimeoutMs)),
	  features_(offered_features()), log_(cfg.log, cfg.log_opaque, "virtio-sst: "),
	  engine_(features_, [this] { return link_ ? link_->capacities() : SimCapacities{}; })
{
}

Device::~Device()
{
	link_.reset(); // joins the I/O thread before the queue it feeds goes away
}

std::unique_ptr<Device> Device::create(const vsst_dev_config &cfg, std::string &err)
{
	if (cfg.protocol != VSST_DEV_PROTO_FRAMED && cfg.protocol != VSST_DEV_PROTO_ACALSIM) {
		err = "unknown simulator protocol " + std::to_string(cfg.protocol) + " (0 framed, 1 acalsim)";
		return nullptr;
	}
	if (cfg.timed && cfg.protocol != VSST_DEV_PROTO_FRAMED) {
		err = "synchronized time (timing=sync) needs the framed simulator protocol: acalsim carries no "
		      "submit or completion times";
		return nullptr;
	}
	const std::string path = cfg.socket_path ? cfg.socket_path : "";
	if (path.size() >= sizeof(sockaddr_un::sun_path)) {
		err = "socket path longer than " + std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
		      " bytes: " + path;
		return nullptr;
	}
	std::unique_ptr<Device> dev(new Device(cfg));
	if (!dev->cq_.init(err))
		return nullptr;
	if (!path.empty()) {
		LinkOptions o;
		o.socket_path = path;
		o.device_id = cfg.device_id;
		o.request_timeout = dev->request_timeout_;
		const uint32_t cap_ms = cfg.reconnect_max_ms ? cfg.reconnect_max_ms : kDefaultReconnectMaxMs;
		o.reconnect_max = std::chrono::milliseconds(cap_ms);
		o.reconnect_min = std::min<Clock::duration>(std::chrono::milliseconds(10), o.reconnect_max);
		o.handshake_timeout =
			std::min<Clock::duration>(dev->request_timeout_, std::chrono::seconds(5));
		std::unique_ptr<SimProtocol> proto;
		if (cfg.protocol == VSST_DEV_PROTO_ACALSIM)
			proto = std::make_unique<AcalsimProtocol>();
		else
			proto = std::make_unique<FramedProtocol>(cfg.timed != 0);
		CompletionSink &sink = *dev;
		dev->link_ = std::make_unique<SimLink>(o, std::move(proto), sink, dev->stats_, dev->log_);
		if (!dev->link_->start(err))
			return nullptr;
	}
	return dev;
}

int Device::submit(const void *req, size_t len, uint64_t cookie, uint64_t submit_ps)
{
	uint64_t epoch;
	if (!cq_.admit(max_inflight_, epoch))
		return -EBUSY;
	try {
		submit_admitted(req, len, cookie, epoch, submit_ps);
	} catch (const std::bad_alloc &) {
		// Nothing was queued for this cookie: give its slot back.
		cq_.unadmit(epoch);
		return -ENOMEM;
	}
	return 0;
}

void Device::submit_admitted(const void *req, size_t len, uint64_t cookie, uint64_t epoch, uint64_t submit_ps)
{
	Stats::bump(stats_.requests);

	// Work on a private, zero-filled copy: the guest's bytes are read once
	// (no double fetch) and missing tail bytes read as zero.
	SSTRequest copy;
	std::memset(&copy, 0, sizeof(copy));
	if (req)
		std::memcpy(&copy, req, std::min(len, sizeof(SSTRequest)));
	const size_t effective_len = req ? len : 0;

	SSTResponse resp;
	if (engine_.handle(copy, effective_len, resp) == Route::local) {
		if (resp.status == SST_STATUS_OK)
			Stats::bump(stats_.local);
		deliver(cookie, epoch, resp);
		if (copy.type == SST_REQ_RESET && resp.status == SST_STATUS_OK)
			propagate_reset(copy);
		return;
	}

	Stats::bump(stats_.forwarded);
	ForwardRequest fw;
	fw.info.cookie = cookie;
	fw.info.epoch = epoch;
	fw.info.request_id = copy.request_id;
	fw.info.user_data = copy.user_data;
	fw.info.type = copy.type;
	fw.info.param = copy.payload.config.param;
	fw.info.submit_ps = submit_ps;
	fw.info.deadline = Clock::now() + request_timeout_;
	fw.wire_len = request_wire_size(copy);
	fw.body = std::make_unique<SSTRequest>(copy);
	if (!link_) {
		complete_with_status(*this, fw.info, SST_STATUS_NO_DEVICE);
		return;
	}
	link_->submit(std::move(fw));
}

void Device::propagate_reset(const SSTRequest &req)
{
	// RESET is answered locally (the guest never waits for the simulator),
	// but the model's state (memory, parameters) must be reset too: the
	// simulator gets the same RESET, in order with the forwarded requests,
	// as an internal request whose answer nobody waits for. Only the framed
	// protocol: acalsim peers would hold up the one-at-a-time queue.
	if (!link_ || protocol_ != VSST_DEV_PROTO_FRAMED)
		return;
	ForwardRequest fw;
	fw.info.internal = true;
	fw.info.request_id = req.request_id;
	fw.info.user_data = req.user_data;
	fw.info.type = SST_REQ_RESET;
	fw.info.deadline = Clock::now() + request_timeout_;
	fw.wire_len = request_wire_size(req); // the header: RESET carries no payload
	fw.body = std::make_unique<SSTRequest>(req);
	link_->submit(std::move(fw));
}

void Device::complete(const PendingInfo &info, SSTResponse &resp)
{
	if (info.internal)
		return; // the core's own requests have no cookie
	// Whatever the simulator wrote, the guest matches on these.
	resp.request_id = info.request_id;
	resp.user_data = info.user_data;
	deliver(info.cookie, info.epoch, resp, info.complete_ps);
}

void Device::deliver(uint64_t cookie, uint64_t epoch, const SSTResponse &resp, uint64_t complete_ps)
{
	// Count before queueing so that whoever reaps the completion already
	// sees it in the statistics; undo if cancel_all() won the race.
	std::atomic<uint64_t> *by_status = nullptr;
	switch (resp.status) {
	case SST_STATUS_ERROR:
	case SST_STATUS_BUSY:
	case SST_STATUS_INVALID:
		by_status = &stats_.errors;
		break;
	case SST_STATUS_NO_DEVICE:
		by_status = &stats_.no_device;
		break;
	case SST_STATUS_TIMEOUT:
		by_status = &stats_.timeouts;
		break;
	default:
		break;
	}
	Stats::bump(stats_.responses);
	if (by_status)
		Stats::bump(*by_status);
	if (!cq_.push_completion(cookie, epoch, resp, complete_ps)) {
		stats_.responses.fetch_sub(1, std::memory_order_relaxed);
		if (by_status)
			by_status->fetch_sub(1, std::memory_order_relaxed);
	}
}

void Device::event(const SSTEvent &ev)
{
	Stats::bump(stats_.events);
	if (!cq_.push_event(ev)) {
		stats_.events.fetch_sub(1, std::memory_order_relaxed);
		Stats::bump(stats_.errors);
		VSST_LOG(log_, warn, "event backlog full (%zu); simulator event dropped",
			 CompletionQueue::kMaxQueuedEvents);
	}
}

void Device::cancel_all()
{
	const uint64_t epoch = cq_.cancel_all();
	if (link_)
		link_->cancel(epoch);
}

SSTConfig Device::config() const
{
	SSTConfig c{};
	c.version = SST_PROTOCOL_VERSION;
	c.device_id = device_id_;
	c.features = features_;
	c.max_queues = 1;
	return c;
}

vsst_dev_stats Device::stats() const
{
	vsst_dev_stats s{};
	s.requests = stats_.requests.load(std::memory_order_relaxed);
	s.responses = stats_.responses.load(std::memory_order_relaxed);
	s.local = stats_.local.load(std::memory_order_relaxed);
	s.forwarded = stats_.forwarded.load(std::memory_order_relaxed);
	s.errors = stats_.errors.load(std::memory_order_relaxed);
	s.no_device = stats_.no_device.load(std::memory_order_relaxed);
	s.timeouts = stats_.timeouts.load(std::memory_order_relaxed);
	s.events = stats_.events.load(std::memory_order_relaxed);
	s.reconnects = stats_.reconnects.load(std::memory_order_relaxed);
	s.inflight = cq_.outstanding();
	s.connected = stats_.connected.load(std::memory_order_relaxed);
	return s;
}

} // namespace vsst
