// SPDX-License-Identifier: Apache-2.0
#include "vsst/posix/child_process.h"
#include "vsst/posix/process_confinement.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <utility>

#include "vsst/posix/unique_fd.h"

namespace vsst {

namespace {

constexpr auto kDestroyGrace = std::chrono::milliseconds(2000);
constexpr auto kPollStep = std::chrono::milliseconds(5);
constexpr auto kKillWait = std::chrono::milliseconds(5000);

// Only async-signal-safe calls between fork and exec: the parent may have threads.
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

// execvp's $PATH search, done before fork (it allocates).
std::string resolve(const std::string &prog)
{
	if (prog.find('/') != std::string::npos)
		return prog;
	const char *path = std::getenv("PATH");
	std::string dirs = path && *path ? path : "/usr/local/bin:/usr/bin:/bin";
	for (size_t start = 0; start <= dirs.size();) {
		size_t end = dirs.find(':', start);
		if (end == std::string::npos)
			end = dirs.size();
		std::string dir = dirs.substr(start, end - start);
		std::string cand = (dir.empty() ? "." : dir) + "/" + prog;
		struct stat st;
		if (stat(cand.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(cand.c_str(), X_OK) == 0)
			return cand;
		start = end + 1;
	}
	return prog; // exec fails with ENOENT, reported as such
}

} // namespace

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
	const char *what = strsignal(status);
	return "killed by signal " + std::to_string(status) + " (" + (what ? what : "?") + ")";
}

ChildProcess::ChildProcess(ChildProcess &&o) noexcept
	: pid_(std::exchange(o.pid_, -1)), name_(std::move(o.name_)), log_(std::move(o.log_)),
	  exit_(std::move(o.exit_))
{
}

ChildProcess &ChildProcess::operator=(ChildProcess &&o) noexcept
{
	if (this != &o) {
		if (running())
			terminate(kDestroyGrace);
		pid_ = std::exchange(o.pid_, -1);
		name_ = std::move(o.name_);
		log_ = std::move(o.log_);
		exit_ = std::move(o.exit_);
	}
	return *this;
}

ChildProcess::~ChildProcess()
{
	if (running())
		terminate(kDestroyGrace);
}

bool ChildProcess::spawn(const SpawnSpec &spec, std::string &error)
{
	if (running()) {
		error = spec.name + ": already running";
		return false;
	}
	if (spec.argv.empty()) {
		error = spec.name + ": empty command line";
		return false;
	}
	pid_ = -1;
	name_ = spec.name;
	log_ = spec.log_path;
	exit_.reset();

	// Everything the child needs is prepared before fork.
	const std::string prog = resolve(spec.argv[0]);
	std::vector<char *> argv;
	for (const auto &a : spec.argv)
		argv.push_back(const_cast<char *>(a.c_str()));
	argv.push_back(nullptr);

	// A child that drops privileges cannot always reach the binary by path (e.g. under
	// /root): open it now and exec the descriptor.
	UniqueFd exe;
	if (spec.run_as) {
		int flags = O_RDONLY | (script_file(prog) ? 0 : O_CLOEXEC);
		exe.reset(open(prog.c_str(), flags));
		if (!exe) {
			error = spec.name + ": open " + prog + ": " + strerror(errno);
			return false;
		}
	}
	UniqueFd log;
	if (!spec.log_path.empty()) {
		log.reset(open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
		if (!log) {
			error = spec.name + ": log " + spec.log_path + ": " + strerror(errno);
			return false;
		}
	}
	const int out_fd = log ? log.get() : spec.stdout_fd;
	const int err_fd = log ? log.get() : spec.stderr_fd;
	UniqueFd devnull(open("/dev/null", O_RDWR | O_CLOEXEC));
	if (!devnull && spec.stdin_fd < 0) {
		error = spec.name + ": /dev/null: " + strerror(errno);
		return false;
	}
	int status_pipe[2];
	if (pipe2(status_pipe, O_CLOEXEC) < 0) {
		error = spec.name + ": pipe: " + strerror(errno);
		return false;
	}
	UniqueFd status_rd(status_pipe[0]), status_wr(status_pipe[1]);
	const pid_t parent = getpid();

	const pid_t pid = fork();
	if (pid < 0) {
		error = spec.name + ": fork: " + strerror(errno);
		return false;
	}
	if (pid == 0) {
		const int sfd = status_wr.get();
		// Own group: the parent's terminal signals stay the parent's, and the
		// child with anything it starts can be signalled as one.
		setpgid(0, 0);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, nullptr);
		::signal(SIGPIPE, SIG_DFL);
		const int in = spec.stdin_fd >= 0 ? spec.stdin_fd : devnull.get();
		if (dup2(in, 0) < 0)
			child_fail(sfd, "dup2 stdin");
		if (out_fd >= 0 && dup2(out_fd, 1) < 0)
			child_fail(sfd, "dup2 stdout");
		if (err_fd >= 0 && dup2(err_fd, 2) < 0)
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
		// Die with the parent (set after any credential change, which clears it), and
		// do not start at all if the parent is already gone.
		if (prctl(PR_SET_PDEATHSIG, spec.death_signal) < 0)
			child_fail(sfd, "prctl");
		if (getppid() != parent)
			_exit(127);
		if (spec.confine && confine_process(getpid()) < 0)
			child_fail(sfd, "seccomp (confinement)");
		if (exe)
			syscall(SYS_execveat, exe.get(), "", argv.data(), environ, AT_EMPTY_PATH);
		else
			execv(prog.c_str(), argv.data());
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
		reap(); // it has exited (127) or is about to
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
	if (r < 0) { // not our child any more (someone else reaped it): treat as gone
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

std::optional<ExitInfo> ChildProcess::wait(std::chrono::milliseconds timeout)
{
	const auto deadline = std::chrono::steady_clock::now() + timeout;
	while (!poll_exit()) {
		if (std::chrono::steady_clock::now() >= deadline)
			return std::nullopt;
		std::this_thread::sleep_for(kPollStep);
	}
	return exit_;
}

void ChildProcess::signal(int sig)
{
	if (!running())
		return;
	// The group first (helpers it started), then the child itself in case it left it.
	kill(-pid_, sig);
	kill(pid_, sig);
}

ExitInfo ChildProcess::terminate(std::chrono::milliseconds grace)
{
	if (pid_ <= 0 || poll_exit())
		return exit_.value_or(ExitInfo{});
	if (grace.count() > 0) {
		signal(SIGTERM);
		if (auto e = wait(grace))
			return *e;
	}
	signal(SIGKILL);
	// Bounded even here: a confined caller (process_confinement.h) may not be allowed
	// to signal its child at all; the child then dies with us (PR_SET_PDEATHSIG).
	if (auto e = wait(kKillWait))
		return *e;
	return ExitInfo{false, SIGKILL};
}

std::string ChildProcess::log_tail(size_t max_bytes) const
{
	if (log_.empty())
		return {};
	UniqueFd fd(open(log_.c_str(), O_RDONLY | O_CLOEXEC));
	if (!fd)
		return "(no log at " + log_ + ")";
	const off_t size = lseek(fd.get(), 0, SEEK_END);
	const off_t from = size > static_cast<off_t>(max_bytes) ? size - static_cast<off_t>(max_bytes) : 0;
	std::string out(static_cast<size_t>(size - from), '\0');
	const ssize_t n = size > 0 ? pread(fd.get(), out.data(), out.size(), from) : 0;
	out.resize(n > 0 ? static_cast<size_t>(n) : 0);
	return from > 0 ? "..." + out : out;
}

} // namespace vsst
