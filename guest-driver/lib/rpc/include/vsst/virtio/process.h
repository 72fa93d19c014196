// SPDX-License-Identifier: Apache-2.0
// A child process owned by RAII: spawned with chosen fds inherited and its
// output sent to a log file; terminated (SIGTERM, then SIGKILL after a
// bound) and reaped on destruction. Used to start the backend QEMU and the
// simulator from tests and benchmarks.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace vsst::virtio {

class ChildProcess {
public:
	ChildProcess() = default;
	// Throws Error when fork/exec setup fails. inherit: fds the child keeps
	// (their numbers stay the same). log: file receiving stdout+stderr.
	ChildProcess(const std::vector<std::string> &argv, const std::vector<int> &inherit,
		     const std::string &log);
	~ChildProcess() { terminate(std::chrono::milliseconds(3000)); }
	ChildProcess(ChildProcess &&o) noexcept;
	ChildProcess &operator=(ChildProcess &&o) noexcept;
	ChildProcess(const ChildProcess &) = delete;
	ChildProcess &operator=(const ChildProcess &) = delete;

	pid_t pid() const { return pid_; }
	bool running();
	// Exit status (128+signal when killed), or nullopt if still running
	// after timeout.
	std::optional<int> wait(std::chrono::milliseconds timeout);
	// SIGTERM, wait up to grace, then SIGKILL. Returns the exit status.
	std::optional<int> terminate(std::chrono::milliseconds grace);
	void kill_now(); // SIGKILL and reap
	const std::string &log_path() const { return log_; }
	// Last max_bytes of the log, for failure messages.
	std::string log_tail(size_t max_bytes = 4000) const;
	std::optional<int> exit_status() const { return status_; }

private:
	pid_t pid_ = -1;
	std::optional<int> status_;
	std::string log_;
};

} // namespace vsst::virtio
