// SPDX-License-Identifier: Apache-2.0
#include "fake_channel.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace vsst::guest::testing {

class FakeChannel;

struct FakeDevice {
	FakeFaults faults;
	std::vector<uint8_t> memory;
	uint64_t next_id = 0;
	uint64_t sim_ps = 0; // simulated time: advanced by COMPUTE and memory requests
	sst_ioc_stats stats{};
	std::vector<FakeChannel *> channels; // open ones, for events and cross_fds
};

class FakeChannel final : public Channel {
public:
	explicit FakeChannel(std::shared_ptr<FakeDevice> dev) : dev_(std::move(dev))
	{
		dev_->channels.push_back(this);
		dev_->stats.open_files++;
	}
	~FakeChannel() override
	{
		auto &v = dev_->channels;
		v.erase(std::remove(v.begin(), v.end(), this), v.end());
		dev_->stats.open_files--;
	}
	FakeChannel(const FakeChannel &) = delete;
	FakeChannel &operator=(const FakeChannel &) = delete;

	ssize_t write_raw(const void *buf, size_t len) override
	{
		if (!len || len % sizeof(SSTRequest))
			return -EINVAL;
		const auto *p = static_cast<const uint8_t *>(buf);
		for (size_t off = 0; off < len; off += sizeof(SSTRequest)) {
			SSTRequest req;
			std::memcpy(&req, p + off, sizeof(req));
			handle(req);
		}
		return ssize_t(len);
	}

	ssize_t read_raw(void *buf, size_t len) override
	{
		if (len < sizeof(SSTResponse))
			return -EINVAL;
		if (done_.empty())
			return -ENODATA; // everything completes at once: nothing pending
		size_t n = 0;
		auto *p = static_cast<uint8_t *>(buf);
		while (!done_.empty() && (n + 1) * sizeof(SSTResponse) <= len) {
			std::memcpy(p + n * sizeof(SSTResponse), &done_.front(), sizeof(SSTResponse));
			done_.pop_front();
			n++;
		}
		return ssize_t(n * sizeof(SSTResponse));
	}

	int poll(short events, int, short *revents) override
	{
		short r = POLLOUT;
		if (!done_.empty())
			r |= POLLIN;
		if (subscribed_ && !events_.empty())
			r |= POLLPRI;
		*revents = r & (events | POLLERR | POLLHUP);
		return 0;
	}

	int set_nonblock(bool) override { return 0; }

	int info(sst_ioc_info *out) override
	{
		*out = {};
		out->abi_version = SST_IOCTL_ABI_VERSION;
		out->sst_version = SST_PROTOCOL_VERSION;
		out->device_features = capabilities();
		out->max_queues = 3;
		out->queue_size = 256;
		out->timeout_ms = timeout_ms_;
		out->max_per_fd = 256;
		out->event_ring = 256;
		return 0;
	}

	int stats(sst_ioc_stats *out) override
	{
		*out = dev_->stats;
		return 0;
	}

	int submit(const SSTRequest *reqs, uint32_t n, uint64_t *ids, bool, uint32_t *submitted) override
	{
		if (dev_->faults.partial_submit)
			n = std::min<uint32_t>(n, 16);
		for (uint32_t i = 0; i < n; i++) {
			const uint64_t id = handle(reqs[i]);
			if (ids)
				ids[i] = id;
		}
		*submitted = n;
		return 0;
	}

	int reap(SSTResponse *resps, uint32_t n, uint32_t, int, uint32_t *reaped) override
	{
		uint32_t k = 0;
		for (; k < n && !done_.empty(); k++) {
			resps[k] = done_.front();
			done_.pop_front();
		}
		*reaped = k;
		return 0;
	}

	int set_timeout(uint32_t ms) override
	{
		timeout_ms_ = ms ? ms : 10000;
		return 0;
	}

	int events_enable(bool on) override
	{
		subscribed_ = on;
		events_.clear();
		return 0;
	}

	int get_events(SSTEvent *events, uint32_t n, int, uint32_t *got, uint32_t *dropped) override
	{
		if (!subscribed_)
			return -EINVAL;
		uint32_t k = 0;
		for (; k < n && !events_.empty(); k++) {
			events[k] = events_.front();
			events_.pop_front();
		}
		*got = k;
		*dropped = 0;
		return 0;
	}

	void deliver_event(const SSTEvent &ev)
	{
		if (subscribed_)
			events_.push_back(ev);
	}

private:
	uint32_t capabilities() const
	{
		uint32_t caps = (1u << SST_FEATURE_ECHO) | (1u << SST_FEATURE_COMPUTE) |
				(1u << SST_FEATURE_MEMORY) | (1u << SST_FEATURE_RESET);
		if (!dev_->faults.no_events_feature)
			caps |= 1u << SST_FEATURE_EVENTS;
		return caps;
	}

	// Answers req at once; returns its id.
	uint64_t handle(SSTRequest req)
	{
		FakeDevice &d = *dev_;
		const FakeFaults &f = d.faults;
		req.request_id = ++d.next_id;
		SSTResponse resp;
		std::memset(&resp, 0, sizeof(resp));
		resp.request_id = req.request_id;
		resp.user_data = req.user_data;
		resp.status = answer(req, resp);
		if (f.wrong_user_data && req.type == SST_REQ_NOOP)
			resp.user_data++;
		d.stats.submitted++;
		d.stats.completed++;
		if (resp.status != SST_STATUS_OK)
			d.stats.status_errors++;
		FakeChannel *to = f.cross_fds ? d.channels.back() : this;
		to->done_.push_back(resp);
		return req.request_id;
	}

	uint32_t answer(const SSTRequest &req, SSTResponse &resp)
	{
		FakeDevice &d = *dev_;
		const FakeFaults &f = d.faults;
		if (req.type >= SST_REQ_MAX)
			return f.accept_bad_type ? SST_STATUS_OK : SST_STATUS_INVALID;
		if ((req.flags & ~SST_REQ_FLAG_ASYNC) ||
		    ((req.flags & SST_REQ_FLAG_ASYNC) && req.type != SST_REQ_COMPUTE))
			return SST_STATUS_INVALID;
		switch (req.type) {
		case SST_REQ_ECHO:
			std::memcpy(resp.payload.data, req.payload.data, SST_MAX_DATA_SIZE);
			if (f.flip_echo_byte)
				resp.payload.data[100] ^= 1;
			resp.result = SST_MAX_DATA_SIZE;
			return SST_STATUS_OK;
		case SST_REQ_GET_INFO:
			resp.payload.info.version = SST_PROTOCOL_VERSION;
			resp.payload.info.capabilities = capabilities();
			resp.payload.info.max_compute_units = 4;
			resp.payload.info.memory_size = d.memory.size();
			resp.result = 1;
			return SST_STATUS_OK;
		case SST_REQ_COMPUTE:
			if (req.payload.compute.latency_model >= SST_LATENCY_MAX)
				return SST_STATUS_INVALID;
			if (f.fail_compute && req.payload.compute.compute_units)
				return SST_STATUS_ERROR;
			resp.payload.compute.cycles =
				req.payload.compute.compute_units * 10 + req.payload.compute.latency_model;
			resp.result = req.payload.compute.compute_units * 10;
			d.sim_ps += resp.payload.compute.cycles * 500; // 2 GHz
			resp.payload.compute.timestamp = d.sim_ps;
			if ((req.flags & SST_REQ_FLAG_ASYNC) && !f.no_async_event) {
				const SSTEvent ev{SST_EVENT_COMPLETION, 0, 1234, req.request_id};
				for (FakeChannel *c : d.channels)
					c->deliver_event(ev);
			}
			return SST_STATUS_OK;
		case SST_REQ_READ:
		case SST_REQ_WRITE: {
			const uint64_t addr = req.payload.memory.addr;
			const uint32_t size = req.payload.memory.size;
			const uint32_t max =
				req.type == SST_REQ_READ ? SST_MAX_DATA_SIZE : SST_MAX_WRITE_SIZE;
			if (size == 0 || size > max)
				return SST_STATUS_INVALID;
			const bool in_range = addr <= d.memory.size() && size <= d.memory.size() - addr;
			if (!in_range)
				return f.no_bounds_check ? SST_STATUS_OK : SST_STATUS_INVALID;
			d.sim_ps += 1000;
			if (req.type == SST_REQ_WRITE) {
				if (!f.ignore_write)
					std::memcpy(d.memory.data() + addr,
						    req.payload.data + SST_WRITE_DATA_OFFSET, size);
				resp.payload.compute.timestamp = d.sim_ps;
			} else {
				std::memcpy(resp.payload.data, d.memory.data() + addr, size);
				if (f.corrupt_read)
					resp.payload.data[size - 1] ^= 0x80;
				if (f.corrupt_addr >= 0 && uint64_t(f.corrupt_addr) >= addr &&
				    uint64_t(f.corrupt_addr) < addr + size)
					resp.payload.data[f.corrupt_addr - addr] ^= 0x01;
			}
			resp.result = size;
			return SST_STATUS_OK;
		}
		case SST_REQ_CONFIGURE:
			return req.payload.config.param < SST_CFG_MAX ? SST_STATUS_OK : SST_STATUS_INVALID;
		default:
			return SST_STATUS_OK; // NOOP, RESET
		}
	}

	std::shared_ptr<FakeDevice> dev_;
	std::deque<SSTResponse> done_;
	std::deque<SSTEvent> events_;
	bool subscribed_ = false;
	uint32_t timeout_ms_ = 10000;
};

FakeSst::FakeSst(uint64_t memory_size, FakeFaults faults) : dev_(std::make_shared<FakeDevice>())
{
	dev_->faults = faults;
	dev_->memory.assign(memory_size, 0);
}

std::unique_ptr<Channel> FakeSst::open()
{
	return std::make_unique<FakeChannel>(dev_);
}

ChannelOpener FakeSst::opener()
{
	auto dev = dev_;
	return [dev](int *err) -> std::unique_ptr<Channel> {
		*err = 0;
		return std::make_unique<FakeChannel>(dev);
	};
}

} // namespace vsst::guest::testing
