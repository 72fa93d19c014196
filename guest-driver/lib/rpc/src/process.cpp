// SPDX-License-Identifier: Apache-2.0
#include "vsst/virtio/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "vsst/virtio/error.h"

namespace vsst::virtio {

ChildProcess::ChildProcess(const std::vector<std::string> &argv, const std::vector<int> &inherit,
			   const std::string &log)
	: log_(log) {
	if (argv.empty())
		throw Error("spawn: empty command line");
	// Everything the child needs is prepared before fork: after it, only
	// async-signal-safe calls (the parent may have threads).
	std::vector<char *> args;
	for (const auto &a : argv)
		args.push_back(const_cast<char *>(a.c_str()));
	args.push_back(nullptr);
	const int logfd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (logfd < 0)
		throw Error("spawn: cannot open log " + log + ": " + std::strerror(errno));
	int errpipe[2];
	if (::pipe2(errpipe, O_CLOEXEC) != 0) {
		::close(logfd);
		throw Error(std::string("spawn: pipe: ") + std::strerror(errno));
	}
	const pid_t parent = ::getpid();
	const pid_t pid = ::fork();
	if (pid < 0) {
		::close(logfd);
		::close(errpipe[0]);
		::close(errpipe[1]);
		throw Error(std::string("spawn: fork: ") + std::strerror(errno));
	}
	if (pid == 0) {
		::setpgid(0, 0); // own group: a test's Ctrl-C handling stays ours
		// If the test dies without cleaning up (ctest timeout, crash), the
		// child must not outlive it holding a channel nobody serves.
		::prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (::getppid() != parent)
			::_exit(126);
		const int devnull = ::open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			::dup2(devnull, 0);
		::dup2(logfd, 1);
		::dup2(logfd, 2);
		for (int fd : inherit) {
			const int flags = ::fcntl(fd, F_GETFD);
			if (flags >= 0)
				::fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
		}
		::execv(args[0], args.data());
		const int e = errno;
		(void)!::write(errpipe[1], &e, sizeof e);
		::_exit(127);
	}
	::close(logfd);
	::close(errpipe[1]);
	int child_errno = 0;
	const ssize_t n = ::read(errpipe[0], &child_errno, sizeof child_errno);
	::close(errpipe[0]);
	pid_ = pid;
	if (n == sizeof child_errno) {
		wait(std::chrono::milliseconds(1000));
		pid_ = -1;
		throw Error("spawn: cannot execute " + argv[0] + ": " + std::strerror(child_errno));
	}
}

ChildProcess::ChildProcess(ChildProcess &&o) noexcept
	: pid_(o.pid_), status_(o.status_), log_(std::move(o.log_)) {
	o.pid_ = -1;
}

ChildProcess &ChildProcess::operator=(ChildProcess &&o) noexcept {
	if (this != &o) {
		terminate(std::chrono::milliseconds(3000));
		pid_ = o.pid_;
		status_ = o.status_;
		log_ = std::move(o.log_);
		o.pid_ = -1;
	}
	return *this;
}

static int decode(int st) {
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

bool ChildProcess::running() {
	if (pid_ <= 0)
		return false;
	int st;
	const pid_t r = ::waitpid(pid_, &st, WNOHANG);
	if (r == pid_) {
		status_ = decode(st);
		pid_ = -1;
		return false;
	}
	return r == 0;
}

std::optional<int> ChildProcess::wait(std::chrono::milliseconds timeout) {
	const auto deadline = std::chrono::steady_clock::now() + timeout;
	while (running()) {
		if (std::chrono::steady_clock::now() >= deadline)
			return std::nullopt;
		std::this_thread::sleep_for(std::chrono::milliseconds(5));
	}
	return status_;
}

std::optional<int> ChildProcess::terminate(std::chrono::milliseconds grace) {
	if (pid_ <= 0)
		return status_;
	::kill(pid_, SIGTERM);
	if (auto st = wait(grace))
		return st;
	kill_now();
	return status_;
}

void ChildProcess::kill_now() {
	if (pid_ <= 0)
		return;
	::kill(pid_, SIGKILL);
	int st;
	if (::waitpid(pid_, &st, 0) == pid_)
		status_ = decode(st);
	pid_ = -1;
}

std::string ChildProcess::log_tail(size_t max_bytes) const {
	std::ifstream in(log_, std::ios::binary);
	if (!in)
		return "(no log at " + log_ + ")";
	std::stringstream ss;
	ss << in.rdbuf();
	std::string s = ss.str();
	if (s.size() > max_bytes)
		s = "..." + s.substr(s.size() - max_bytes);
	return s;
}

} // namespace vsst::virtio
