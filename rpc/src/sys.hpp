// SPDX-License-Identifier: Apache-2.0
// Small OS helpers: deadlines, eventfd kicks, bounded fd waits, futex.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace vsst::rpc::sys {

using Clock = std::chrono::steady_clock;

inline void cpu_relax()
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	asm volatile("yield");
#endif
}

void yield_cpu();

class Deadline {
public:
	explicit Deadline(int timeout_ms) : end_(Clock::now() + std::chrono::milliseconds(timeout_ms)) {}
	Clock::time_point end() const { return end_; }
	bool expired() const { return Clock::now() >= end_; }
	int64_t remaining_ns() const
	{
		const auto d = end_ - Clock::now();
		return d.count() > 0 ? std::chrono::duration_cast<std::chrono::nanoseconds>(d).count() : 0;
	}

private:
	Clock::time_point end_;
};

// Waiting without a doorbell (ring full): spin up to 50 us, about the time
// a running consumer needs to drain a 256-message ring, then sleep in
// growing steps, 10 us .. 1 ms.
class Backoff {
public:
	void pause(const Deadline &dl);

private:
	Clock::time_point spin_end_ = Clock::now() + std::chrono::microseconds(50);
	unsigned round_ = 0;
	int64_t nap_us_ = 0;
};

// Spinning for a peer. No sched_yield here: on a busy host a yield can cost
// a whole time slice (milliseconds), while a thread that sleeps on its
// doorbell after the spin budget is woken with priority.
inline void spin_pause(unsigned)
{
	cpu_relax();
}

// Adds 1 to an eventfd. Failure (EAGAIN on a saturated counter) is harmless.
void kick(int efd);
// Reads and returns an eventfd's counter without blocking (0 if none).
uint64_t drain_eventfd(int efd);
// Waits until one of fds is readable or the deadline passes. Returns a
// bitmask of the readable fds (bit i: fds[i]), 0 on timeout, <0 -errno
// (EINTR is retried).
int wait_readable(const int *fds, int nfds, int64_t timeout_ns);
// Sets O_NONBLOCK on the open file description.
int set_nonblock(int fd);

// Process-private futex on a local word (never on shared memory).
void futex_wait(std::atomic<uint32_t> &word, uint32_t expected, int64_t timeout_ns);
void futex_wake_all(std::atomic<uint32_t> &word);

} // namespace vsst::rpc::sys
