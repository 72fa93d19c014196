// SPDX-License-Identifier: Apache-2.0
#include "vsst/trace/child.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace vsst::trace {

bool Child::spawn(const std::vector<std::string> &argv, const std::vector<int> &inherit, const std::string &log,
		  std::string &err)
{
	if (argv.empty()) {
		err = "empty command line";
		return false;
	}
	// Everything the child needs is prepared before fork (only
	// async-signal-safe calls in between fork and exec).
	std::vector<char *> args;
	for (const std::string &a : argv)
		args.push_back(const_cast<char *>(a.c_str()));
	args.push_back(nullptr);
	const int logfd = ::open(log.empty() ? "/dev/null" : log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (logfd < 0) {
		err = "open " + log + ": " + std::strerror(errno);
		return false;
	}
	const pid_t parent = ::getpid();
	const pid_t pid = ::fork();
	if (pid < 0) {
		err = std::string("fork: ") + std::strerror(errno);
		::close(logfd);
		return false;
	}
	if (pid == 0) {
		::setpgid(0, 0);
		::prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (::getppid() != parent)
			::_exit(127);
		for (int fd : inherit) {
			const int fl = ::fcntl(fd, F_GETFD);
			if (fl >= 0)
				::fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
		}
		const int devnull = ::open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			::dup2(devnull, 0);
		::dup2(logfd, 1);
		::dup2(logfd, 2);
		::execv(args[0], args.data());
		const char msg[] = "exec failed\n";
		(void)!::write(2, msg, sizeof msg - 1);
		::_exit(127);
	}
	::close(logfd);
	pid_ = pid;
	log_ = log;
	status_.reset();
	return true;
}

bool Child::running()
{
	if (pid_ < 0 || status_)
		return false;
	int st = 0;
	const pid_t r = ::waitpid(pid_, &st, WNOHANG);
	if (r == pid_) {
		status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		return false;
	}
	return r == 0;
}

std::optional<int> Child::wait(std::chrono::milliseconds timeout)
{
	const auto deadline = std::chrono::steady_clock::now() + timeout;
	while (running()) {
		if (std::chrono::steady_clock::now() >= deadline)
			return std::nullopt;
		std::this_thread::sleep_for(std::chrono::milliseconds(5));
	}
	return status_;
}

std::optional<int> Child::terminate(std::chrono::milliseconds grace)
{
	if (pid_ < 0)
		return std::nullopt;
	if (running()) {
		::kill(pid_, SIGTERM);
		if (!wait(grace)) {
			::kill(pid_, SIGKILL);
			wait(std::chrono::milliseconds(5000));
		}
	}
	return status_;
}

std::string Child::log_tail(size_t max) const
{
	std::ifstream f(log_);
	std::stringstream ss;
	ss << f.rdbuf();
	std::string s = ss.str();
	return s.size() > max ? s.substr(s.size() - max) : s;
}

bool wait_socket(const std::string &path, std::chrono::milliseconds timeout, Child *owner)
{
	const auto deadline = std::chrono::steady_clock::now() + timeout;
	sockaddr_un sa{};
	if (path.size() >= sizeof sa.sun_path)
		return false;
	sa.sun_family = AF_UNIX;
	std::memcpy(sa.sun_path, path.data(), path.size());
	for (;;) {
		const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0) {
			const bool ok = ::connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) == 0;
			::close(fd);
			if (ok)
				return true;
		}
		if ((owner && !owner->running()) || std::chrono::steady_clock::now() >= deadline)
			return false;
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
}

}  // namespace vsst::trace
