// SPDX-License-Identifier: Apache-2.0
#include "child_process.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <utility>

#include "vsst/posix/unique_fd.h"

namespace vsst {

std::optional<Credentials> lookup_user(const std::string &name)
{
	struct passwd pw, *res = nullptr;
	char buf[4096];
	if (getpwnam_r(name.c_str(), &pw, buf, sizeof(buf), &res) != 0 || !res)
		return std::nullopt;
	return Credentials{pw.pw_uid, pw.pw_gid, name};
}

std::string ExitInfo::describe() const
{
	if (exited)
		return "exited with status " + std::to_string(status);
	return "killed by signal " + std::to_string(status) + " (" + strsignal(status) + ")";
}

ChildProcess::ChildProcess(ChildProcess &&o) noexcept
	: pid_(std::exchange(o.pid_, -1)), name_(std::move(o.name_)), exit_(std::move(o.exit_))
{
}

ChildProcess &ChildProcess::operator=(ChildProcess &&o) noexcept
{
	if (this != &o) {
		if (running())
			stop(0);
		pid_ = std::exchange(o.pid_, -1);
		name_ = std::move(o.name_);
		exit_ = std::move(o.exit_);
	}
	return *this;
}

ChildProcess::~ChildProcess()
{
	if (running())
		stop(0);
}

namespace {

// Only async-signal-safe calls between fork and exec.
[[noreturn]] void child_fail(int status_fd, const char *what)
{
	int err = errno;
	char msg[160];
	size_t n = 0;
	for (const char *p = what; *p && n < sizeof(msg) - 40; p++)
		msg[n++] = *p;
	const char *e = strerrordesc_np(err);
	msg[n++] = ':';
	msg[n++] = ' ';
	for (const char *p = e ? e : "?"; *p && n < sizeof(msg) - 1; p++)
		msg[n++] = *p;
	if (status_fd >= 0)
		(void)!write(status_fd, msg, n);
	_exit(127);
}

bool script_file(const std::string &path)
{
	UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
	char head[2] = {};
	return fd && read(fd.get(), head, 2) == 2 && head[0] == '#' && head[1] == '!';
}

} // namespace

bool ChildProcess::spawn(const SpawnSpec &spec, std::string &error)
{
	if (spec.argv.empty()) {
		error = "empty argv";
		return false;
	}
	name_ = spec.name;
	exit_.reset();

	std::vector<char *> argv;
	for (const auto &a : spec.argv)
		argv.push_back(const_cast<char *>(a.c_str()));
	argv.push_back(nullptr);

	// A child that drops privileges cannot always reach the binary by path (e.g. under
	// /root): open it now and exec the descriptor.
	UniqueFd exe;
	if (spec.run_as) {
		int flags = O_RDONLY | (script_file(spec.argv[0]) ? 0 : O_CLOEXEC);
		exe.reset(open(spec.argv[0].c_str(), flags));
		if (!exe) {
			error = "open " + spec.argv[0] + ": " + strerror(errno);
			return false;
		}
	}
	UniqueFd devnull(open("/dev/null", O_RDWR | O_CLOEXEC));
	int status_pipe[2];
	if (pipe2(status_pipe, O_CLOEXEC) < 0) {
		error = std::string("pipe: ") + strerror(errno);
		return false;
	}
	UniqueFd status_rd(status_pipe[0]), status_wr(status_pipe[1]);
	pid_t parent = getpid();

	pid_t pid = fork();
	if (pid < 0) {
		error = std::string("fork: ") + strerror(errno);
		return false;
	}
	if (pid == 0) {
		int sfd = status_wr.get();
		setpgid(0, 0);
		// Die with the launcher (set after any credential change, which clears it).
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, nullptr);
		::signal(SIGPIPE, SIG_DFL);
		int in = spec.stdin_fd >= 0 ? spec.stdin_fd : devnull.get();
		if (dup2(in, 0) < 0)
			child_fail(sfd, "dup2 stdin");
		if (spec.stdout_fd >= 0 && dup2(spec.stdout_fd, 1) < 0)
			child_fail(sfd, "dup2 stdout");
		if (spec.stderr_fd >= 0 && dup2(spec.stderr_fd, 2) < 0)
			child_fail(sfd, "dup2 stderr");
		for (int fd : spec.inherit_fds)
			if (fcntl(fd, F_SETFD, 0) < 0)
				child_fail(sfd, "inherit fd");
		if (spec.run_as) {
			if (setgroups(0, nullptr) < 0)
				child_fail(sfd, "setgroups");
			if (setresgid(spec.run_as->gid, spec.run_as->gid, spec.run_as->gid) < 0)
				child_fail(sfd, "setresgid");
			if (setresuid(spec.run_as->uid, spec.run_as->uid, spec.run_as->uid) < 0)
				child_fail(sfd, "setresuid");
		}
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
			child_fail(sfd, "prctl");
		if (getppid() != parent)
			_exit(127);
		if (exe)
			syscall(SYS_execveat, exe.get(), "", argv.data(), environ, AT_EMPTY_PATH);
		else
			execvp(argv[0], argv.data());
		child_fail(sfd, "exec");
	}
	pid_ = pid;
	status_wr.reset();
	// exec closes the status pipe (CLOEXEC): EOF means it ran, bytes mean it failed.
	char msg[256];
	ssize_t n;
	do
		n = read(status_rd.get(), msg, sizeof(msg) - 1);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		msg[n] = 0;
		error = spec.name + ": " + msg + " (" + spec.argv[0] + ")";
		stop(0);
		return false;
	}
	return true;
}

bool ChildProcess::poll_exit()
{
	if (pid_ <= 0 || exit_)
		return true;
	// Look without reaping first: while the leader is a zombie its process group id
	// cannot be reused, so helpers left in the group can be killed safely.
	siginfo_t info{};
	int r;
	do
		r = waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
	while (r < 0 && errno == EINTR);
	if (r < 0) { // not our child any more (should not happen): treat as gone
		exit_ = ExitInfo{true, 255};
		return true;
	}
	if (info.si_pid == 0)
		return false;
	kill(-pid_, SIGKILL);
	reap();
	return true;
}

void ChildProcess::reap()
{
	int status = 0;
	pid_t r;
	do
		r = waitpid(pid_, &status, 0);
	while (r < 0 && errno == EINTR);
	if (r == pid_ && WIFEXITED(status))
		exit_ = ExitInfo{true, WEXITSTATUS(status)};
	else if (r == pid_)
		exit_ = ExitInfo{false, WTERMSIG(status)};
	else
		exit_ = ExitInfo{false, SIGKILL};
}

void ChildProcess::signal(int sig)
{
	if (!running())
		return;
	// The group first (helpers it started), then the child itself in case it left it.
	kill(-pid_, sig);
	kill(pid_, sig);
}

void ChildProcess::stop(int timeout_ms)
{
	if (pid_ <= 0 || poll_exit())
		return;
	if (timeout_ms > 0) {
		signal(SIGTERM);
		auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
		while (std::chrono::steady_clock::now() < deadline) {
			if (poll_exit())
				return;
			std::this_thread::sleep_for(std::chrono::milliseconds(10));
		}
	}
	signal(SIGKILL);
	reap();
}

} // namespace vsst
