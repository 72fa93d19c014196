// SPDX-License-Identifier: Apache-2.0
// The completion queue on its own: the eventfd contract, outstanding-slot
// accounting, cancel epochs (including the race where a completion for a
// cancelled cookie arrives after cancel_all), the event backlog bound, and
// concurrent producers against one reaper (meaningful under TSan).
#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <thread>
#include <vector>

#include "completion_queue.h"

namespace vsst {
namespace {

bool readable(int fd)
{
	pollfd p{fd, POLLIN, 0};
	return ::poll(&p, 1, 0) == 1;
}

SSTResponse resp_with(uint64_t v)
{
	SSTResponse r{};
	r.result = v;
	return r;
}

struct Collected {
	std::vector<uint64_t> cookies;
	std::vector<uint64_t> results;
	int events = 0;
	static void done(void *o, uint64_t cookie, const SSTResponse *r)
	{
		auto *c = static_cast<Collected *>(o);
		c->cookies.push_back(cookie);
		c->results.push_back(r->result);
	}
	static void event(void *o, const SSTEvent *) { static_cast<Collected *>(o)->events++; }
};

TEST(CompletionQueue, NotifyFdFollowsContents)
{
	CompletionQueue q;
	std::string err;
	ASSERT_TRUE(q.init(err)) << err;
	EXPECT_FALSE(readable(q.notify_fd()));
	uint64_t e;
	ASSERT_TRUE(q.admit(10, e));
	ASSERT_TRUE(q.push_completion(1, e, resp_with(11)));
	EXPECT_TRUE(readable(q.notify_fd()));
	Collected c;
	EXPECT_EQ(q.reap(&Collected::done, &Collected::event, &c), 1);
	EXPECT_FALSE(readable(q.notify_fd()));
	EXPECT_EQ(c.results, std::vector<uint64_t>{11});
	EXPECT_EQ(q.outstanding(), 0u);
}

TEST(CompletionQueue, AdmitLimitAndUnadmit)
{
	CompletionQueue q;
	std::string err;
	ASSERT_TRUE(q.init(err));
	uint64_t e;
	ASSERT_TRUE(q.admit(2, e));
	ASSERT_TRUE(q.admit(2, e));
	EXPECT_FALSE(q.admit(2, e));
	q.unadmit(e);
	EXPECT_TRUE(q.admit(2, e));
	EXPECT_EQ(q.outstanding(), 2u);
}

TEST(CompletionQueue, CompletionForCancelledCookieIsDropped)
{
	CompletionQueue q;
	std::string err;
	ASSERT_TRUE(q.init(err));
	uint64_t old_epoch;
	ASSERT_TRUE(q.admit(10, old_epoch));
	const uint64_t new_epoch = q.cancel_all();
	EXPECT_NE(new_epoch, old_epoch);
	EXPECT_EQ(q.outstanding(), 0u);
	// The simulator's answer arrives after the reset: it must vanish.
	EXPECT_FALSE(q.push_completion(1, old_epoch, resp_with(1)));
	EXPECT_FALSE(readable(q.notify_fd()));
	Collected c;
	EXPECT_EQ(q.reap(&Collected::done, nullptr, &c), 0);
	EXPECT_TRUE(c.cookies.empty());
	// A stale unadmit must not free a slot of the new epoch.
	uint64_t e;
	ASSERT_TRUE(q.admit(1, e));
	q.unadmit(old_epoch);
	EXPECT_EQ(q.outstanding(), 1u);
}

TEST(CompletionQueue, EventBacklogIsBounded)
{
	CompletionQueue q;
	std::string err;
	ASSERT_TRUE(q.init(err));
	SSTEvent ev{};
	for (size_t i = 0; i < CompletionQueue::kMaxQueuedEvents; i++)
		ASSERT_TRUE(q.push_event(ev));
	EXPECT_FALSE(q.push_event(ev));
	Collected c;
	EXPECT_EQ(q.reap(nullptr, &Collected::event, &c),
		  static_cast<int>(CompletionQueue::kMaxQueuedEvents));
	EXPECT_TRUE(q.push_event(ev));
}

TEST(CompletionQueue, ConcurrentProducersOneReaper)
{
	CompletionQueue q;
	std::string err;
	ASSERT_TRUE(q.init(err));
	constexpr int kThreads = 4;
	constexpr uint64_t kEach = 5000;
	std::vector<std::thread> producers;
	for (int t = 0; t < kThreads; t++) {
		producers.emplace_back([&q, t] {
			for (uint64_t i = 0; i < kEach; i++) {
				uint64_t e;
				while (!q.admit(256, e))
					std::this_thread::yield();
				const uint64_t cookie = static_cast<uint64_t>(t) * kEach + i;
				q.push_completion(cookie, e, resp_with(cookie * 3));
			}
		});
	}
	Collected c;
	const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
	while (c.cookies.size() < kThreads * kEach && std::chrono::steady_clock::now() < end) {
		pollfd p{q.notify_fd(), POLLIN, 0};
		if (::poll(&p, 1, 100) > 0)
			q.reap(&Collected::done, nullptr, &c);
	}
	for (auto &th : producers)
		th.join();
	ASSERT_EQ(c.cookies.size(), kThreads * kEach);
	std::vector<int> seen(kThreads * kEach, 0);
	for (size_t i = 0; i < c.cookies.size(); i++) {
		ASSERT_LT(c.cookies[i], seen.size());
		seen[c.cookies[i]]++;
		ASSERT_EQ(c.results[i], c.cookies[i] * 3);
	}
	for (int s : seen)
		ASSERT_EQ(s, 1);
	EXPECT_EQ(q.outstanding(), 0u);
}

} // namespace
} // namespace vsst
