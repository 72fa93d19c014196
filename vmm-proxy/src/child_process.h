// SPDX-License-Identifier: Apache-2.0
// child_process.h - one supervised child: spawn with chosen inherited fds, optionally as an
// unprivileged user, in its own process group, killed if the launcher dies.
#pragma once

#include <sys/types.h>

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
	std::string name;                 // for logs: "device VM", "guest VM", ...
	std::vector<std::string> argv;    // argv[0] is the program path
	std::vector<int> inherit_fds;     // kept open (same numbers) across exec
	int stdin_fd = -1;                // -1: /dev/null
	int stdout_fd = -1;               // -1: the launcher's
	int stderr_fd = -1;               // -1: the launcher's
	std::optional<Credentials> run_as; // drop to this user before exec
};

// Exit description: "exited with status 3", "killed by signal 9 (Killed)".
struct ExitInfo {
	bool exited = false;   // normal exit
	int status = 0;        // exit status or signal number
	std::string describe() const;
};

class ChildProcess {
public:
	ChildProcess() = default;
	ChildProcess(const ChildProcess &) = delete;
	ChildProcess &operator=(const ChildProcess &) = delete;
	ChildProcess(ChildProcess &&o) noexcept;
	ChildProcess &operator=(ChildProcess &&o) noexcept;
	// Kills (SIGKILL) and reaps a child still running: no zombie outlives its owner.
	~ChildProcess();

	// Returns false with error set when fork/exec preparation failed. An exec failure in
	// the child shows up as exit status 127.
	bool spawn(const SpawnSpec &spec, std::string &error);

	pid_t pid() const { return pid_; }
	const std::string &name() const { return name_; }
	bool running() const { return pid_ > 0 && !exit_; }
	const std::optional<ExitInfo> &exit_info() const { return exit_; }

	// Non-blocking reap; true if the child has exited (now or before).
	bool poll_exit();
	// Sends sig to the child's process group (the child and anything it started).
	void signal(int sig);
	// SIGTERM, wait up to timeout_ms, then SIGKILL; always reaps.
	void stop(int timeout_ms);

private:
	void reap(); // blocking waitpid; records the exit

	pid_t pid_ = -1;
	std::string name_;
	std::optional<ExitInfo> exit_;
};

} // namespace vsst
