// SPDX-License-Identifier: Apache-2.0
// Drives a vsst_dev the way the QEMU glue does: submit, wait on notify_fd,
// reap on this thread. Collects completions per cookie so tests can check
// "exactly one completion per submit".
#pragma once

#include <poll.h>

#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "vsst/sst_device.h"

namespace vsst::test {

inline SSTRequest make_req(uint32_t type, uint64_t id, uint64_t user = 0)
{
	SSTRequest r;
	std::memset(&r, 0, sizeof(r));
	r.type = type;
	r.request_id = id;
	r.user_data = user ? user : id * 7 + 3;
	return r;
}

inline SSTRequest make_compute(uint64_t id, uint64_t units)
{
	SSTRequest r = make_req(SST_REQ_COMPUTE, id);
	r.payload.compute.compute_units = units;
	return r;
}

// Thread-safe log capture; the core logs from its I/O thread.
struct LogCapture {
	std::mutex mu;
	std::vector<std::string> lines;
	static void sink(void *opaque, int level, const char *msg)
	{
		auto *self = static_cast<LogCapture *>(opaque);
		std::lock_guard<std::mutex> g(self->mu);
		self->lines.emplace_back(std::to_string(level) + " " + msg);
	}
	bool contains(const std::string &needle)
	{
		std::lock_guard<std::mutex> g(mu);
		for (auto &l : lines)
			if (l.find(needle) != std::string::npos)
				return true;
		return false;
	}
};

class Harness {
public:
	struct Done {
		uint64_t cookie;
		SSTResponse resp;
	};

	explicit Harness(const char *socket, uint32_t protocol = VSST_DEV_PROTO_FRAMED,
			 uint32_t timeout_ms = 10000, uint32_t max_inflight = 0,
			 uint32_t reconnect_max_ms = 50)
	{
		vsst_dev_config cfg{};
		cfg.socket_path = socket;
		cfg.device_id = 7;
		cfg.protocol = protocol;
		cfg.max_inflight = max_inflight;
		cfg.request_timeout_ms = timeout_ms;
		cfg.reconnect_max_ms = reconnect_max_ms;
		cfg.log = &LogCapture::sink;
		cfg.log_opaque = &log;
		char err[256] = "";
		dev = vsst_dev_new(&cfg, err, sizeof(err));
		EXPECT_NE(dev, nullptr) << err;
	}
	~Harness()
	{
		vsst_dev_free(dev);
		if (::testing::Test::HasFailure()) {
			std::lock_guard<std::mutex> g(log.mu);
			for (auto &l : log.lines)
				fprintf(stderr, "  core log: %s\n", l.c_str());
		}
	}

	int submit(const SSTRequest &r, uint64_t cookie, size_t len = sizeof(SSTRequest))
	{
		return vsst_dev_submit(dev, &r, len, cookie);
	}

	// Waits on notify_fd (as QEMU's main loop would) and reaps once.
	int reap_once(int wait_ms)
	{
		pollfd p{vsst_dev_notify_fd(dev), POLLIN, 0};
		if (::poll(&p, 1, wait_ms) <= 0)
			return 0;
		return vsst_dev_reap(dev, &Harness::on_done, &Harness::on_event, this);
	}

	bool wait_done(size_t n, std::chrono::milliseconds t = std::chrono::milliseconds(5000))
	{
		const auto end = std::chrono::steady_clock::now() + t;
		while (done.size() < n) {
			auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
				end - std::chrono::steady_clock::now());
			if (left.count() <= 0)
				return false;
			reap_once(static_cast<int>(std::min<long>(left.count(), 50)));
		}
		return true;
	}
	bool wait_events(size_t n, std::chrono::milliseconds t = std::chrono::milliseconds(5000))
	{
		const auto end = std::chrono::steady_clock::now() + t;
		while (events.size() < n) {
			if (std::chrono::steady_clock::now() > end)
				return false;
			reap_once(20);
		}
		return true;
	}
	// Polls stats until `connected` equals want.
	bool wait_connected(bool want, std::chrono::milliseconds t = std::chrono::milliseconds(5000))
	{
		const auto end = std::chrono::steady_clock::now() + t;
		for (;;) {
			if ((stats().connected != 0) == want)
				return true;
			if (std::chrono::steady_clock::now() > end)
				return false;
			std::this_thread::sleep_for(std::chrono::milliseconds(2));
		}
	}
	vsst_dev_stats stats()
	{
		vsst_dev_stats s{};
		vsst_dev_get_stats(dev, &s);
		return s;
	}
	const SSTResponse &only(uint64_t cookie)
	{
		auto &v = by_cookie[cookie];
		EXPECT_EQ(v.size(), 1u) << "cookie " << cookie;
		static SSTResponse empty{};
		return v.empty() ? empty : v.front();
	}
	// Every cookie in [first, first+n) completed exactly once.
	void expect_each_once(uint64_t first, size_t n)
	{
		for (uint64_t c = first; c < first + n; c++)
			ASSERT_EQ(by_cookie[c].size(), 1u) << "cookie " << c;
	}

	vsst_dev *dev = nullptr;
	LogCapture log;
	std::vector<Done> done;
	std::map<uint64_t, std::vector<SSTResponse>> by_cookie;
	std::vector<SSTEvent> events;

private:
	static void on_done(void *opaque, uint64_t cookie, const SSTResponse *resp)
	{
		auto *h = static_cast<Harness *>(opaque);
		h->done.push_back({cookie, *resp});
		h->by_cookie[cookie].push_back(*resp);
	}
	static void on_event(void *opaque, const SSTEvent *ev)
	{
		static_cast<Harness *>(opaque)->events.push_back(*ev);
	}
};

} // namespace vsst::test
