// SPDX-License-Identifier: Apache-2.0
// Records the simulator exchange without touching the device: a Unix-socket
// relay between the device (which connects to listen_path) and the real
// simulator (sim_path). Bytes are recorded before they are forwarded, so a
// reply is never recorded ahead of the request that caused it.
#pragma once

#include <functional>
#include <string>
#include <thread>

namespace vsst::trace {

class SimRelay {
public:
	// on_conn(conn, open), on_data(conn, dir, data, len); dir 0 device->sim.
	using ConnFn = std::function<void(unsigned, bool)>;
	using DataFn = std::function<void(unsigned, int, const void *, size_t)>;
	SimRelay(ConnFn on_conn, DataFn on_data) : on_conn_(std::move(on_conn)), on_data_(std::move(on_data))
	{
	}
	~SimRelay();
	SimRelay(const SimRelay &) = delete;
	SimRelay &operator=(const SimRelay &) = delete;
	// Binds listen_path (replacing a stale socket) and starts the thread. 0 or -errno.
	int start(const std::string &listen_path, const std::string &sim_path);
	void stop();

private:
	void run();
	ConnFn on_conn_;
	DataFn on_data_;
	std::string listen_path_, sim_path_;
	int listen_fd_ = -1, wake_fd_ = -1;
	std::thread thread_;
};

} // namespace vsst::trace
