// SPDX-License-Identifier: Apache-2.0
// A child process for the trace tools (the device VM, sst-sim): chosen fds
// inherited at the same numbers, output to a log file, its own process
// group, SIGKILLed if we die; terminated and reaped on destruction.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace vsst::trace {

class Child {
public:
	Child() = default;
	// Returns an error message in err and leaves the object empty on failure.
	bool spawn(const std::vector<std::string> &argv, const std::vector<int> &inherit, const std::string &log,
		   std::string &err);
	~Child() { terminate(std::chrono::milliseconds(2000)); }
	Child(const Child &) = delete;
	Child &operator=(const Child &) = delete;

	pid_t pid() const { return pid_; }
	bool running();
	std::optional<int> wait(std::chrono::milliseconds timeout);  // exit status, 128+sig
	std::optional<int> terminate(std::chrono::milliseconds grace);
	std::string log_tail(size_t max = 3000) const;

private:
	pid_t pid_ = -1;
	std::optional<int> status_;
	std::string log_;
};

// True once a Unix socket at path accepts a connection (bounded by timeout).
bool wait_socket(const std::string &path, std::chrono::milliseconds timeout, Child *owner = nullptr);

}  // namespace vsst::trace
