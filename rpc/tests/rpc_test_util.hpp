// SPDX-License-Identifier: Apache-2.0
// Helpers for the rpc tests: a channel with both endpoints, a "raw peer"
// that maps the region itself to play a hostile or hand-driven side, and a
// child-process runner with a bounded wait.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "vsst/rpc/channel.hpp"
#include "vsst/rpc/layout.hpp"
#include "vsst/rpc/ring.hpp"

namespace vsst::rpc::test {

// Under sanitizers, long loops are scaled down (they run 5-20x slower).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif

inline uint64_t scaled(uint64_t n, uint64_t divisor = 10)
{
	return kSanitized ? n / divisor : n;
}

struct TestChannel {
	ChannelFds fds;
	std::unique_ptr<ProxyEndpoint> proxy;
	std::unique_ptr<DeviceEndpoint> device;

	explicit TestChannel(uint32_t capacity = 256, uint32_t spin_us = 5, bool attach_both = true)
	{
		std::string err;
		EXPECT_EQ(create_channel({capacity, spin_us}, fds, &err), 0) << err;
		if (attach_both) {
			proxy = ProxyEndpoint::attach(fds.raw(), &err);
			EXPECT_TRUE(proxy) << err;
			device = DeviceEndpoint::attach(fds.raw(), &err);
			EXPECT_TRUE(device) << err;
		}
	}
};

// Maps a channel region independently of any endpoint.
class RawRegion {
public:
	explicit RawRegion(int region_fd)
	{
		size_ = static_cast<size_t>(::lseek(region_fd, 0, SEEK_END));
		base_ = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, region_fd, 0);
		if (base_ == MAP_FAILED)
			base_ = nullptr;
	}
	~RawRegion()
	{
		if (base_)
			::munmap(base_, size_);
	}
	RawRegion(const RawRegion &) = delete;
	RawRegion &operator=(const RawRegion &) = delete;

	layout::Header *header() const { return static_cast<layout::Header *>(base_); }
	uint32_t capacity() const { return header()->ring_capacity; }
	layout::RingControl *control(Ring r) const
	{
		return reinterpret_cast<layout::RingControl *>(
			static_cast<char *>(base_) + layout::ring_offset(static_cast<size_t>(r), capacity()));
	}
	Message *slots(Ring r) const
	{
		return reinterpret_cast<Message *>(reinterpret_cast<char *>(control(r)) +
						   sizeof(layout::RingControl));
	}
	RingProducer producer(Ring r) const { return RingProducer(control(r), slots(r), capacity()); }
	RingConsumer consumer(Ring r) const { return RingConsumer(control(r), slots(r), capacity()); }
	// Writes one message as a (possibly hostile) producer of ring r.
	void inject(Ring r, const Message &m) const
	{
		RingProducer p = producer(r);
		ASSERT_EQ(p.try_push(m), RingStatus::Ok);
	}
	void set_prod(Ring r, uint32_t v) const { std::atomic_ref<uint32_t>(control(r)->prod).store(v); }
	void set_cons(Ring r, uint32_t v) const { std::atomic_ref<uint32_t>(control(r)->cons).store(v); }
	uint32_t prod(Ring r) const { return std::atomic_ref<uint32_t>(control(r)->prod).load(); }
	uint32_t cons(Ring r) const { return std::atomic_ref<uint32_t>(control(r)->cons).load(); }
	void *base() const { return base_; }
	size_t size() const { return size_; }

private:
	void *base_ = nullptr;
	size_t size_ = 0;
};

// Rings a doorbell the way a peer would.
inline void kick(int efd)
{
	const uint64_t one = 1;
	EXPECT_EQ(::write(efd, &one, sizeof one), static_cast<ssize_t>(sizeof one));
}

// Runs fn in a forked child; returns its exit code (or 128+signal), killing
// it after timeout_ms. The child exits with fn()'s return value.
inline int run_child(const std::function<int()> &fn, int timeout_ms, pid_t *pid_out = nullptr)
{
	const pid_t pid = ::fork();
	if (pid == 0) {
		int rc = 99;
		rc = fn();
		_exit(rc);
	}
	if (pid_out)
		*pid_out = pid;
	const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
	int status = 0;
	for (;;) {
		const pid_t r = ::waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		if (std::chrono::steady_clock::now() >= end) {
			::kill(pid, SIGKILL);
			::waitpid(pid, &status, 0);
			return -1;
		}
		::usleep(1000);
	}
}

// A forked child that the parent talks to while it runs.
class Child {
public:
	explicit Child(const std::function<int()> &fn)
	{
		pid_ = ::fork();
		if (pid_ == 0)
			_exit(fn());
	}
	~Child()
	{
		if (pid_ > 0 && !reaped_) {
			::kill(pid_, SIGKILL);
			::waitpid(pid_, nullptr, 0);
		}
	}
	// Exit code, or -1 after killing it on timeout.
	int wait(int timeout_ms)
	{
		const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
		int status = 0;
		for (;;) {
			const pid_t r = ::waitpid(pid_, &status, WNOHANG);
			if (r == pid_) {
				reaped_ = true;
				return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			}
			if (std::chrono::steady_clock::now() >= end) {
				::kill(pid_, SIGKILL);
				::waitpid(pid_, &status, 0);
				reaped_ = true;
				return -1;
			}
			::usleep(1000);
		}
	}

private:
	pid_t pid_ = -1;
	bool reaped_ = false;
};

} // namespace vsst::rpc::test
