// SPDX-License-Identifier: Apache-2.0
// Two-process stress: the device side is a forked child attached to the same
// fds. Every message carries its sequence number in two words, so anything
// lost, duplicated, reordered or torn is caught.
#include <poll.h>

#include <atomic>
#include <thread>
#include <vector>

#include "rpc_test_util.hpp"

using namespace vsst::rpc;
using namespace vsst::rpc::test;

namespace {

constexpr uint64_t kMix = 0x9e37'79b9'7f4a'7c15ull;
uint64_t addr_of(uint64_t i)
{
	return (i * kMix) >> 1;
} // stays below 2^63: no wrap

} // namespace

TEST(Stress, TenMillionPostedWritesAcrossProcesses)
{
	const uint64_t n = scaled(10'000'000);
	TestChannel ch(256, 20, false);
	const vsst_rpc_fds fds = ch.fds.raw();
	Child device([&] {
		auto dev = DeviceEndpoint::attach(fds);
		if (!dev)
			return 10;
		uint64_t next = 0;
		for (;;) {
			Message m;
			if (dev->wait_request(m, 20000) != 1)
				return 11;
			if (m.op() == Op::Stop)
				return next == n ? 0 : 12;
			if (m.op() != Op::Mmio)
				return 13;
			if (!m.posted()) { // the flush read: answer with the count
				if (dev->complete(m, next, 5000) != 0)
					return 14;
				continue;
			}
			if (m.data() != next || m.addr() != addr_of(next) || m.len() != 8 ||
			    m.as() != kAsGlobal)
				return 15; // lost, duplicated, reordered or torn
			++next;
		}
	});
	auto px = ProxyEndpoint::attach(fds);
	ASSERT_TRUE(px);
	for (uint64_t i = 0; i < n; ++i)
		ASSERT_EQ(px->post(kAsGlobal, addr_of(i), 8, i, 10000), 0)
			<< "at " << i << ": " << px->poison_reason();
	uint64_t count = 0;
	ASSERT_EQ(px->read(kAsGlobal, 0, 8, &count, 10000), 0);
	EXPECT_EQ(count, n);
	ASSERT_EQ(px->send(stop(), 1000), 0);
	EXPECT_EQ(device.wait(20000), 0);
	EXPECT_FALSE(px->poisoned()) << px->poison_reason();
	const Stats s = px->stats();
	EXPECT_EQ(s.sent, n + 2);
	// Kick suppression works: far fewer doorbell writes than messages.
	EXPECT_LT(s.kicks_sent, n / 4);
}

TEST(Stress, EventsAcrossProcessesToAPollingMainLoop)
{
	const uint64_t n = scaled(1'000'000);
	TestChannel ch(256, 20, false);
	const vsst_rpc_fds fds = ch.fds.raw();
	Child device([&] {
		auto dev = DeviceEndpoint::attach(fds);
		if (!dev)
			return 10;
		for (uint64_t i = 0; i < n; ++i)
			if (dev->send_event(msi(addr_of(i), static_cast<uint32_t>(i), i % 8), 10000) != 0)
				return 11;
		return dev->send_event(stop(), 10000) == 0 ? 0 : 12;
	});
	auto px = ProxyEndpoint::attach(fds);
	ASSERT_TRUE(px);
	uint64_t next = 0;
	bool stopped = false;
	while (!stopped) {
		pollfd p{px->event_fd(), POLLIN, 0};
		ASSERT_EQ(::poll(&p, 1, 10000), 1) << "main loop not woken at event " << next;
		Message m;
		int r;
		while ((r = px->recv_event(m)) == 1) {
			if (m.op() == Op::Stop) {
				stopped = true;
				break;
			}
			ASSERT_EQ(m.op(), Op::Msi);
			ASSERT_EQ(m.mr2, next & 0xffffffffu);
			ASSERT_EQ(m.mr1, addr_of(next));
			ASSERT_EQ(m.mr3, next % 8);
			++next;
		}
		ASSERT_GE(r, 0) << px->poison_reason();
	}
	EXPECT_EQ(next, n);
	EXPECT_EQ(device.wait(20000), 0);
}

TEST(Stress, SynchronousMmioFromManyThreadsAcrossProcesses)
{
	const int threads = 4;
	const uint64_t each = scaled(20'000);
	for (uint32_t spin : {0u, 20u}) {
		TestChannel ch(256, spin, false);
		const vsst_rpc_fds fds = ch.fds.raw();
		Child device([&] {
			auto dev = DeviceEndpoint::attach(fds);
			if (!dev)
				return 10;
			dev->set_spin_us(spin);
			for (;;) {
				Message m;
				if (dev->wait_request(m, 20000) != 1)
					return 11;
				if (m.op() == Op::Stop)
					return 0;
				if (dev->complete(m, m.addr() * 3, 5000) != 0)
					return 12;
			}
		});
		auto px = ProxyEndpoint::attach(fds);
		ASSERT_TRUE(px);
		px->set_spin_us(spin);
		std::atomic<uint64_t> bad{0};
		std::vector<std::thread> vcpus;
		for (int t = 0; t < threads; ++t)
			vcpus.emplace_back([&, t] {
				for (uint64_t i = 0; i < each; ++i) {
					const uint64_t addr = (uint64_t(t) << 40) | i;
					uint64_t v = 0;
					if (px->read(kAsGlobal, addr, 8, &v, 10000) != 0 || v != addr * 3)
						++bad;
				}
			});
		for (auto &t : vcpus)
			t.join();
		EXPECT_EQ(bad.load(), 0u) << "spin " << spin;
		ASSERT_EQ(px->send(stop(), 1000), 0);
		EXPECT_EQ(device.wait(20000), 0);
		EXPECT_FALSE(px->poisoned()) << px->poison_reason();
	}
}
