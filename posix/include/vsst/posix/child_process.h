// SPDX-License-Identifier: Apache-2.0
// The project's one child-process spawner: chosen fds inherited at the same numbers,
// stdout/stderr to a log file, to given fds or to ours, its own process group,
// a death signal if we die, optionally as another (unprivileged) user. Every wait is
// bounded; terminate = SIGTERM, then SIGKILL after a bound. Used by the launcher,
// the device-VM library, test harnesses, benchmarks and the trace replay.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace vsst {

struct Credentials {
	uid_t uid;
	gid_t gid;
	std::string name;
};
// Looks up a user name; nullopt if it does not exist.
std::optional<Credentials> lookup_user(const std::string &name);

struct SpawnSpec {
	std::string name;              // for messages: "device VM", "sst-sim", ...
	std::vector<std::string> argv; // argv[0]: a path, or a name looked up in $PATH
	std::vector<int> inherit_fds;  // kept open at the same numbers across exec
	int stdin_fd = -1;             // -1: /dev/null
	// stdout and stderr: log_path if set (created, truncated, both streams), else
	// stdout_fd / stderr_fd, else (-1) ours.
	std::string log_path;
	int stdout_fd = -1;
	int stderr_fd = -1;
	std::optional<Credentials> run_as; // drop to this user before exec
	int death_signal = SIGKILL;        // sent to the child when we die (PR_SET_PDEATHSIG)
	// Confine the child against other processes before exec (process_confinement.h):
	// it may signal only itself and its group, and never trace or read another.
	bool confine = false;
};

// How a child ended.
struct ExitInfo {
	bool exited = false; // normal exit (else killed by a signal)
	int status = 0;      // exit status or signal number
	// "exited with status 3", "killed by signal 9 (Killed)"
	std::string describe() const;
	// The shell's convention: the exit status, or 128 + signal.
	int code() const { return exited ? status : 128 + status; }
};

class ChildProcess {
public:
	ChildProcess() = default;
	ChildProcess(const ChildProcess &) = delete;
	ChildProcess &operator=(const ChildProcess &) = delete;
	ChildProcess(ChildProcess &&o) noexcept;
	ChildProcess &operator=(ChildProcess &&o) noexcept;
	// A child still running is terminated (bounded) and reaped: no zombie outlives
	// its owner.
	~ChildProcess();

	// Returns false with error set when the child could not be started; a failed exec
	// (missing binary, no permission) is reported here too, the child then having
	// exited with status 127 (exit_info()).
	bool spawn(const SpawnSpec &spec, std::string &error);

	pid_t pid() const { return pid_; }
	const std::string &name() const { return name_; }
	const std::string &log_path() const { return log_; }
	// Started and not yet seen to exit; polls (reaps) without blocking.
	bool running() { return pid_ > 0 && !poll_exit(); }
	const std::optional<ExitInfo> &exit_info() const { return exit_; }

	// Non-blocking reap; true if the child has exited (now or before) or never ran.
	// Anything the child left in its process group is killed with it.
	bool poll_exit();
	// Waits up to timeout for the exit; nullopt if it is still running then.
	std::optional<ExitInfo> wait(std::chrono::milliseconds timeout);
	// Sends sig to the child's process group (the child and anything it started).
	void signal(int sig);
	// SIGTERM, wait up to grace, then SIGKILL and reap (bounded: 5 s; a child we may not
	// signal is reported as killed and left to its death signal). grace <= 0: SIGKILL at once.
	ExitInfo terminate(std::chrono::milliseconds grace);
	// Last max_bytes of the log file ("" without one).
	std::string log_tail(size_t max_bytes = 4000) const;

private:
	void reap(); // blocking waitpid; records the exit

	pid_t pid_ = -1;
	std::string name_, log_;
	std::optional<ExitInfo> exit_;
};

} // namespace vsst
