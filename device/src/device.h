// SPDX-License-Identifier: Apache-2.0
// vsst::Device: one virtio-sst device core. Ties the request engine, the
// completion queue and (when a socket is configured) the simulator link
// together; the C API in sst_device.h is a thin wrapper around it.
#pragma once

#include <memory>
#include <string>

#include "completion_queue.h"
#include "logger.h"
#include "pending.h"
#include "request_engine.h"
#include "sim_link.h"
#include "stats.h"
#include "vsst/sst_device.h"

namespace vsst {

class Device final : private CompletionSink {
public:
	static constexpr uint32_t kDefaultMaxInflight = 256;
	static constexpr uint32_t kDefaultTimeoutMs = 10000;
	static constexpr uint32_t kDefaultReconnectMaxMs = 1000;

	// nullptr + `err` on a bad configuration or a resource failure.
	static std::unique_ptr<Device> create(const vsst_dev_config &cfg, std::string &err);
	~Device();

	// 0, -EBUSY (max_inflight outstanding) or -ENOMEM (nothing queued).
	int submit(const void *req, size_t len, uint64_t cookie, uint64_t submit_ps = 0);
	int notify_fd() const { return cq_.notify_fd(); }
	int reap(vsst_dev_done_fn on_done, vsst_dev_event_fn on_event, void *opaque)
	{
		return cq_.reap(on_done, on_event, opaque);
	}
	int reap_at(CompletionQueue::DoneAtFn on_done, vsst_dev_event_fn on_event, void *opaque)
	{
		return cq_.reap_at(on_done, on_event, opaque);
	}
	int64_t min_latency_ps() const { return link_ ? link_->min_latency_ps() : -1; }
	void cancel_all();
	SSTConfig config() const;
	uint64_t features() const { return features_; }
	vsst_dev_stats stats() const;
	void set_sim_observer(SimLink::Observer fn, void *opaque)
	{
		if (link_)
			link_->set_observer(fn, opaque);
	}

	static uint32_t offered_features();

private:
	explicit Device(const vsst_dev_config &cfg);
	void submit_admitted(const void *req, size_t len, uint64_t cookie, uint64_t epoch,
			     uint64_t submit_ps);
	void propagate_reset(const SSTRequest &req);

	// CompletionSink (I/O thread) and the local path (caller's thread).
	void complete(const PendingInfo &info, SSTResponse &resp) override;
	void event(const SSTEvent &ev) override;
	void deliver(uint64_t cookie, uint64_t epoch, const SSTResponse &resp, uint64_t complete_ps = 0);

	std::string socket_path_;
	uint32_t device_id_;
	uint32_t protocol_;
	uint32_t max_inflight_;
	Clock::duration request_timeout_;
	uint32_t features_;
	Logger log_;
	Stats stats_;
	CompletionQueue cq_;
	std::unique_ptr<SimLink> link_; // null: no simulator configured
	RequestEngine engine_;
};

} // namespace vsst
