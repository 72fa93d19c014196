// SPDX-License-Identifier: Apache-2.0
// An in-test simulator: listens on a real Unix socket and speaks either the
// framed protocol or `acalsim`. Written independently of the device core's
// codec so that the two check each other. Tests steer it: auto-reply or hold
// requests, reply out of order, inject events, garbage, PINGs, or die.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "vsst/sim-wire.h"
#include "vsst/sst-protocol.h"

namespace vsst::test {

class FakeSim {
public:
	enum class Proto { framed, acalsim };

	struct Held {
		uint64_t tag = 0; // 0 for acalsim
		uint32_t len = 0; // payload bytes received
		SSTRequest req{};
	};

	explicit FakeSim(Proto proto = Proto::framed);
	~FakeSim();
	FakeSim(const FakeSim &) = delete;
	FakeSim &operator=(const FakeSim &) = delete;

	const std::string &path() const { return path_; }
	void start(); // bind + listen (again after stop())
	void stop();  // "kill": listener and connection closed, socket file removed

	// Knobs.
	std::atomic<bool> auto_reply{true}; // else requests are held for the test
	std::atomic<bool> answer_hello{true};
	std::atomic<bool> answer_get_info{true};
	std::atomic<int> reply_delay_ms{0}; // acalsim: delay before each reply
	std::atomic<bool> wrong_ids{false}; // reply with garbage request_id/user_data

	// Observations.
	std::atomic<int> connections{0};
	std::atomic<int> hellos{0};
	std::atomic<int> requests{0}; // forwarded requests received (probes excluded)
	std::atomic<int> pongs{0};
	std::atomic<int> overlap{0}; // acalsim: a request arrived before the previous reply
	std::atomic<uint32_t> hello_device_id{0};
	std::atomic<uint32_t> hello_features{0};
	std::atomic<uint32_t> last_req_len{0};

	bool wait_connections(int n, std::chrono::milliseconds t);
	bool wait_held(size_t n, std::chrono::milliseconds t);
	std::vector<Held> take_held();

	// Actions, callable from the test thread.
	void reply(const Held &h, uint32_t status = SST_STATUS_OK);
	void send_frame(uint16_t type, uint64_t tag, const void *payload, uint32_t len,
			uint32_t magic = VSST_SIM_MAGIC, uint16_t version = VSST_SIM_VERSION);
	void send_raw(const void *p, size_t n);
	void send_event(const SSTEvent &ev);
	void drop_client();

	// What the model answers: deterministic from the request.
	static SSTResponse model(const SSTRequest &req, uint64_t &cycles, uint64_t &ps);

private:
	void run();
	void on_bytes();
	void handle_frame(uint16_t type, uint64_t tag, const uint8_t *p, uint32_t len);
	void handle_request(uint64_t tag, const SSTRequest &req, uint32_t len);
	void write_all(const void *p, size_t n);
	void close_client_locked();
	void wake();

	const Proto proto_;
	std::string dir_;
	std::string path_;
	std::thread thread_;
	int listen_fd_ = -1;
	int wake_fd_ = -1;
	std::atomic<bool> stop_{false};
	std::atomic<bool> drop_{false};
	std::atomic<int> unanswered_{0}; // acalsim

	std::mutex mu_; // client_fd_ writes/close, held_
	std::condition_variable cv_;
	int client_fd_ = -1;
	std::deque<Held> held_;
	std::vector<uint8_t> inbuf_;
};

} // namespace vsst::test
