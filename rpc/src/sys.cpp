// SPDX-License-Identifier: Apache-2.0
#include "sys.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <thread>

namespace vsst::rpc::sys {

void yield_cpu()
{
	::sched_yield();
}

void Backoff::pause(const Deadline &dl)
{
	++round_;
	if (nap_us_ == 0 && ((round_ & 31) != 0 || Clock::now() < spin_end_)) {
		cpu_relax();
	} else {
		nap_us_ = nap_us_ ? std::min<int64_t>(nap_us_ * 2, 1000) : 10;
		std::this_thread::sleep_for(
			std::chrono::microseconds(std::min<int64_t>(nap_us_, dl.remaining_ns() / 1000 + 1)));
	}
}

void kick(int efd)
{
	const uint64_t one = 1;
	ssize_t r;
	do {
		r = ::write(efd, &one, sizeof one);
	} while (r < 0 && errno == EINTR);
}

uint64_t drain_eventfd(int efd)
{
	uint64_t v = 0;
	ssize_t r;
	do {
		r = ::read(efd, &v, sizeof v);
	} while (r < 0 && errno == EINTR);
	return r == sizeof v ? v : 0;
}

static timespec to_timespec(int64_t ns)
{
	if (ns < 0)
		ns = 0;
	return {static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
}

int wait_readable(const int *fds, int nfds, int64_t timeout_ns)
{
	pollfd p[4];
	if (nfds > 4)
		return -EINVAL;
	for (int i = 0; i < nfds; ++i)
		p[i] = {fds[i], POLLIN, 0};
	const auto end = Clock::now() + std::chrono::nanoseconds(timeout_ns);
	for (;;) {
		const int64_t left =
			std::chrono::duration_cast<std::chrono::nanoseconds>(end - Clock::now()).count();
		const timespec ts = to_timespec(left);
		const int r = ::ppoll(p, nfds, &ts, nullptr);
		if (r >= 0) {
			int mask = 0;
			for (int i = 0; i < nfds; ++i)
				if (p[i].revents)
					mask |= 1 << i;
			return mask;
		}
		if (errno != EINTR)
			return -errno;
	}
}

int set_nonblock(int fd)
{
	const int fl = ::fcntl(fd, F_GETFL);
	if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

void futex_wait(std::atomic<uint32_t> &word, uint32_t expected, int64_t timeout_ns)
{
	const timespec ts = to_timespec(timeout_ns);
	::syscall(SYS_futex, reinterpret_cast<uint32_t *>(&word), FUTEX_WAIT_PRIVATE, expected, &ts, nullptr,
		  0);
}

void futex_wake_all(std::atomic<uint32_t> &word)
{
	::syscall(SYS_futex, reinterpret_cast<uint32_t *>(&word), FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr,
		  nullptr, 0);
}

} // namespace vsst::rpc::sys
