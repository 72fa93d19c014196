// SPDX-License-Identifier: Apache-2.0
// Endpoints: attach checks, synchronous MMIO, posted writes, events, slots,
// timeouts, argument checks, many proxy threads, stats and the observer.
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "rpc_test_util.hpp"

using namespace vsst::rpc;
using vsst::UniqueFd;
using namespace vsst::rpc::test;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t kPattern = 0x0123'4567'89ab'cdefull;

// A device thread answering reads with addr ^ kPattern (masked) and
// remembering writes. Its waits are long (10 s), so a lost wakeup shows up
// as a proxy timeout; it stops on STOP, sent by the destructor.
class EchoDevice {
public:
	EchoDevice(DeviceEndpoint &dev, ProxyEndpoint &px) : dev_(dev), px_(px), thr_([this] { run(); }) {}
	~EchoDevice()
	{
		px_.send(stop(), 1000);
		thr_.join();
	}
	uint64_t written(uint64_t addr)
	{
		std::lock_guard<std::mutex> lk(mtx_);
		return writes_[addr];
	}

private:
	void run()
	{
		for (;;) {
			Message req;
			const int r = dev_.wait_request(req, 10000);
			if (r < 0 || req.op() == Op::Stop)
				return;
			if (req.op() != Op::Mmio || req.posted())
				continue;
			std::lock_guard<std::mutex> lk(mtx_);
			if (req.is_write()) {
				writes_[req.addr()] = req.data();
				dev_.complete(req, 0, 1000);
			} else {
				dev_.complete(req, req.addr() ^ kPattern, 1000);
			}
		}
	}
	DeviceEndpoint &dev_;
	ProxyEndpoint &px_;
	std::mutex mtx_;
	std::map<uint64_t, uint64_t> writes_;
	std::thread thr_;
};

bool readable(int fd)
{
	pollfd p{fd, POLLIN, 0};
	return ::poll(&p, 1, 0) == 1;
}

} // namespace

TEST(Attach, RejectsBadRegions)
{
	std::string err;
	{
		TestChannel ch(256, 5, false);
		RawRegion raw(ch.fds.region.get());
		raw.header()->magic = 0;
		EXPECT_FALSE(ProxyEndpoint::attach(ch.fds.raw(), &err));
		EXPECT_NE(err.find("magic"), std::string::npos) << err;
	}
	{
		TestChannel ch(256, 5, false);
		RawRegion raw(ch.fds.region.get());
		raw.header()->version = 99;
		EXPECT_FALSE(DeviceEndpoint::attach(ch.fds.raw(), &err));
		EXPECT_NE(err.find("version"), std::string::npos) << err;
	}
	{
		TestChannel ch(256, 5, false);
		RawRegion raw(ch.fds.region.get());
		raw.header()->ring_capacity = 512; // does not match the file size
		EXPECT_FALSE(DeviceEndpoint::attach(ch.fds.raw(), &err));
		EXPECT_NE(err.find("size"), std::string::npos) << err;
		raw.header()->ring_capacity = 100; // not a power of two
		EXPECT_FALSE(DeviceEndpoint::attach(ch.fds.raw(), &err));
		EXPECT_NE(err.find("capacity"), std::string::npos) << err;
	}
	{
		TestChannel ch(256, 5, false);
		RawRegion raw(ch.fds.region.get());
		raw.set_prod(Ring::Events, 1000);
		EXPECT_FALSE(ProxyEndpoint::attach(ch.fds.raw(), &err));
		EXPECT_NE(err.find("events ring"), std::string::npos) << err;
	}
	{
		// A region that could be shrunk under our mapping is refused.
		TestChannel ch(256, 5, false);
		UniqueFd fake(::memfd_create("fake", MFD_CLOEXEC));
		ASSERT_EQ(::ftruncate(fake.get(), layout::region_size(256)), 0);
		vsst_rpc_fds fds = ch.fds.raw();
		fds.region = fake.get();
		EXPECT_FALSE(ProxyEndpoint::attach(fds, &err));
		EXPECT_NE(err.find("sealed"), std::string::npos) << err;
	}
	{
		// A doorbell that is not an eventfd is refused.
		TestChannel ch(256, 5, false);
		int p[2];
		ASSERT_EQ(::pipe(p), 0);
		vsst_rpc_fds fds = ch.fds.raw();
		fds.to_proxy = p[0];
		EXPECT_FALSE(ProxyEndpoint::attach(fds, &err));
		EXPECT_NE(err.find("eventfd"), std::string::npos) << err;
		::close(p[0]);
		::close(p[1]);
	}
	{
		ChannelFds fds;
		EXPECT_EQ(create_channel({300, 0}, fds, &err), -EINVAL);
		EXPECT_EQ(create_channel({1, 0}, fds, &err), -EINVAL);
	}
}

TEST(Endpoints, SynchronousReadsAndWritesAllSizesAndSpaces)
{
	TestChannel ch;
	EchoDevice dev(*ch.device, *ch.proxy);
	for (unsigned as : {kAsGlobal, kAsIoPort, 0u, 7u}) {
		for (unsigned len : {1u, 2u, 4u, 8u}) {
			const uint64_t addr = as == kAsGlobal ? 0xfebc1000 + len : 0x40 + len;
			uint64_t v = 0;
			ASSERT_EQ(ch.proxy->read(as, addr, len, &v, 1000), 0);
			EXPECT_EQ(v, (addr ^ kPattern) & len_mask(len));
			ASSERT_EQ(ch.proxy->write(as, addr, len, 0xa5a5a5a5a5a5a5a5ull, 1000), 0);
			EXPECT_EQ(dev.written(addr), 0xa5a5a5a5a5a5a5a5ull & len_mask(len));
		}
	}
	EXPECT_FALSE(ch.proxy->poisoned());
	EXPECT_FALSE(ch.device->poisoned());
	EXPECT_STREQ(ch.proxy->poison_reason(), "");
}

TEST(Endpoints, CompleteErrorGivesEioAndAllOnes)
{
	TestChannel ch;
	std::thread t([&] {
		Message req;
		ASSERT_EQ(ch.device->wait_request(req, 2000), 1);
		EXPECT_EQ(ch.device->complete_error(req, 1000), 0);
		ASSERT_EQ(ch.device->wait_request(req, 2000), 1);
		EXPECT_EQ(ch.device->complete_error(req, 1000), 0);
	});
	uint64_t v = 0;
	EXPECT_EQ(ch.proxy->read(kAsGlobal, 0x1000, 2, &v, 2000), -EIO);
	EXPECT_EQ(v, 0xffffu);
	EXPECT_EQ(ch.proxy->write(kAsGlobal, 0x1000, 4, 1, 2000), -EIO);
	t.join();
	EXPECT_FALSE(ch.proxy->poisoned());
}

TEST(Endpoints, PostedWritesArriveInOrderBehindNothing)
{
	TestChannel ch;
	for (uint64_t i = 0; i < 100; ++i)
		ASSERT_EQ(ch.proxy->post(kAsGlobal, 0x2000 + i, 1, i, 100), 0);
	Message m;
	for (uint64_t i = 0; i < 100; ++i) {
		ASSERT_EQ(ch.device->wait_request(m, 100), 1);
		EXPECT_TRUE(m.posted());
		EXPECT_EQ(m.addr(), 0x2000 + i);
		EXPECT_EQ(m.data(), i);
	}
	EXPECT_EQ(ch.device->try_request(m), 0);
	// Posted writes complete nothing: completing one is a caller error.
	EXPECT_EQ(ch.device->complete(mmio_posted_write(kAsGlobal, 0x2000, 1, 0), 0, 10), -EINVAL);
}

TEST(Endpoints, ControlMessagesBothWays)
{
	TestChannel ch;
	ASSERT_EQ(ch.proxy->send(hello(), 100), 0);
	ASSERT_EQ(ch.proxy->send(stop(7), 100), 0);
	Message m;
	ASSERT_EQ(ch.device->wait_request(m, 100), 1);
	EXPECT_EQ(m.op(), Op::Hello);
	EXPECT_EQ(m.mr1, VSST_RPC_PROTOCOL_VERSION);
	ASSERT_EQ(ch.device->wait_request(m, 100), 1);
	EXPECT_EQ(m.op(), Op::Stop);
	EXPECT_EQ(m.mr1, 7u);
	ASSERT_EQ(ch.device->send_event(hello(), 100), 0);
	ASSERT_EQ(ch.device->send_event(stop(1), 100), 0);
	ASSERT_EQ(ch.proxy->wait_event(m, 100), 1);
	EXPECT_EQ(m.op(), Op::Hello);
	ASSERT_EQ(ch.proxy->wait_event(m, 100), 1);
	EXPECT_EQ(m.op(), Op::Stop);
}

TEST(Endpoints, EventsWakeAMainLoopThroughEventFd)
{
	TestChannel ch;
	const int efd = ch.proxy->event_fd();
	Message m;
	EXPECT_EQ(ch.proxy->recv_event(m), 0);
	EXPECT_FALSE(readable(efd));
	std::thread emitter([&] {
		for (uint32_t i = 0; i < 1000; ++i) {
			ASSERT_EQ(ch.device->send_event(msi(0xfee00000, i, 0), 1000), 0);
			if (i % 100 == 0)
				std::this_thread::sleep_for(1ms); // let the main loop fall asleep
		}
	});
	uint32_t next = 0;
	const auto end = std::chrono::steady_clock::now() + 20s;
	while (next < 1000 && std::chrono::steady_clock::now() < end) {
		pollfd p{efd, POLLIN, 0};
		::poll(&p, 1, 1000);
		int r;
		while ((r = ch.proxy->recv_event(m)) == 1) {
			ASSERT_EQ(m.op(), Op::Msi);
			ASSERT_EQ(m.mr2, next);
			++next;
		}
		ASSERT_EQ(r, 0);
	}
	emitter.join();
	EXPECT_EQ(next, 1000u);
	// Drained: the fd must not stay readable (a level-triggered loop would spin).
	EXPECT_EQ(ch.proxy->recv_event(m), 0);
	EXPECT_FALSE(readable(efd));
	EXPECT_FALSE(ch.proxy->poisoned());
}

TEST(Endpoints, EventsFromManyThreads)
{
	TestChannel ch;
	constexpr int kThreads = 4, kEach = 2000;
	std::vector<std::thread> emitters;
	for (int t = 0; t < kThreads; ++t)
		emitters.emplace_back([&, t] {
			for (uint32_t i = 0; i < kEach; ++i)
				ASSERT_EQ(ch.device->send_event(msi(0xfee00000, i, static_cast<uint64_t>(t)),
								5000),
					  0);
		});
	uint32_t next[kThreads] = {};
	Message m;
	for (int got = 0; got < kThreads * kEach; ++got) {
		ASSERT_EQ(ch.proxy->wait_event(m, 5000), 1);
		ASSERT_LT(m.mr3, static_cast<uint64_t>(kThreads));
		ASSERT_EQ(m.mr2, next[m.mr3]++) << "per-thread order broken";
	}
	for (auto &t : emitters)
		t.join();
}

TEST(Endpoints, SlotExhaustionReturnsEbusyThenRecovers)
{
	TestChannel ch;
	std::atomic<int> ok{0};
	std::vector<std::thread> vcpus;
	for (unsigned i = 0; i < kMaxSlots; ++i)
		vcpus.emplace_back([&, i] {
			uint64_t v = 0;
			if (ch.proxy->read(kAsGlobal, 0x1000 + 8 * i, 8, &v, 20000) == 0 &&
			    v == ((0x1000 + 8 * i) ^ kPattern))
				++ok;
		});
	// Wait until all 64 requests are in the ring, then the 65th has no slot.
	const auto end = std::chrono::steady_clock::now() + 10s;
	RawRegion raw(ch.fds.region.get());
	while (raw.prod(Ring::Requests) < kMaxSlots && std::chrono::steady_clock::now() < end)
		std::this_thread::sleep_for(1ms);
	ASSERT_EQ(raw.prod(Ring::Requests), kMaxSlots);
	uint64_t v = 0;
	EXPECT_EQ(ch.proxy->read(kAsGlobal, 0, 4, &v, 100), -EBUSY);
	EXPECT_EQ(ch.proxy->write(kAsGlobal, 0, 4, 1, 100), -EBUSY);
	{
		EchoDevice dev(*ch.device, *ch.proxy);
		for (auto &t : vcpus)
			t.join();
		EXPECT_EQ(ok.load(), static_cast<int>(kMaxSlots));
		EXPECT_EQ(ch.proxy->read(kAsGlobal, 0, 4, &v, 1000), 0);
	}
	EXPECT_FALSE(ch.proxy->poisoned());
}

TEST(Timeouts, EveryWaitIsBounded)
{
	TestChannel ch;
	uint64_t v = 0;
	auto t0 = std::chrono::steady_clock::now();
	EXPECT_EQ(ch.proxy->read(kAsGlobal, 0x10, 4, &v, 50), -ETIMEDOUT);
	auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
			  .count();
	EXPECT_GE(ms, 45);
	EXPECT_LT(ms, 2000);
	Message m;
	t0 = std::chrono::steady_clock::now();
	EXPECT_EQ(ch.proxy->wait_event(m, 30), -ETIMEDOUT);
	EXPECT_GE(std::chrono::steady_clock::now() - t0, 25ms);
	// The device sees the abandoned request; its late completion is accepted
	// quietly and frees the slot.
	ASSERT_EQ(ch.device->wait_request(m, 100), 1);
	EXPECT_EQ(ch.device->complete(m, 5, 100), 0);
	t0 = std::chrono::steady_clock::now();
	EXPECT_EQ(ch.device->wait_request(m, 30), -ETIMEDOUT);
	EXPECT_GE(std::chrono::steady_clock::now() - t0, 25ms);
	{
		EchoDevice dev(*ch.device, *ch.proxy);
		EXPECT_EQ(ch.proxy->read(kAsGlobal, 0x18, 4, &v, 1000), 0);
		EXPECT_EQ(v, (0x18 ^ kPattern) & 0xffffffffu);
	}
	EXPECT_FALSE(ch.proxy->poisoned());
	EXPECT_GE(ch.proxy->stats().timeouts, 2u);
	// Zero timeouts poll once; negative ones are refused.
	EXPECT_EQ(ch.device->wait_request(m, 0), -ETIMEDOUT);
	EXPECT_EQ(ch.device->wait_request(m, -1), -EINVAL);
	EXPECT_EQ(ch.proxy->wait_event(m, -1), -EINVAL);
	EXPECT_EQ(ch.proxy->read(kAsGlobal, 0, 4, &v, -1), -EINVAL);
}

// A device VM that answers some requests but never others, so that no three time out
// in a row: the lost slots pile up. Half of them lost poisons the channel with a reason
// instead of leaving every later access to fail with -EBUSY.
TEST(Timeouts, LostSlotsPoisonTheChannel)
{
	TestChannel ch;
	std::atomic<bool> stop{false};
	std::thread device([&] {
		Message m;
		while (!stop) {
			if (ch.device->wait_request(m, 20) != 1)
				continue;
			if (!(m.addr() & 0x100)) // requests at 0x1xx are swallowed
				ch.device->complete(m, m.addr() ^ kPattern, 100);
		}
	});
	uint64_t v = 0;
	unsigned lost = 0;
	for (; lost < kMaxSlots; lost++) {
		ASSERT_EQ(ch.proxy->read(kAsGlobal, 0x10, 4, &v, 1000), 0) << "answered requests still work";
		const int r = ch.proxy->read(kAsGlobal, 0x100, 4, &v, 5);
		if (r == -EPIPE)
			break;
		ASSERT_EQ(r, -ETIMEDOUT);
	}
	stop = true;
	device.join();
	EXPECT_EQ(lost + 1, kMaxSlots / 2) << "poisoned after half the slots were lost";
	EXPECT_TRUE(ch.proxy->poisoned());
	EXPECT_EQ(ch.proxy->read(kAsGlobal, 0x10, 4, &v, 100), -EPIPE);
}

// The header's spin budget is shared memory the device VM can write before the guest VM
// attaches: only the device side takes it.
TEST(Setup, OnlyTheDeviceTakesTheHeadersSpinBudget)
{
	TestChannel ch(256, 100000);
	EXPECT_EQ(ch.device->spin_us(), 100000u);
	EXPECT_EQ(ch.proxy->spin_us(), kDefaultSpinUs);
}

TEST(Timeouts, FullRingSendTimesOut)
{
	TestChannel ch(4);
	for (int i = 0; i < 4; ++i)
		ASSERT_EQ(ch.proxy->post(kAsGlobal, 0, 4, 0, 10), 0);
	const auto t0 = std::chrono::steady_clock::now();
	EXPECT_EQ(ch.proxy->post(kAsGlobal, 0, 4, 0, 40), -ETIMEDOUT);
	EXPECT_GE(std::chrono::steady_clock::now() - t0, 35ms);
	for (int i = 0; i < 4; ++i)
		ASSERT_EQ(ch.device->send_event(start_vm(), 10), 0);
	EXPECT_EQ(ch.device->send_event(start_vm(), 20), -ETIMEDOUT);
}

TEST(Arguments, BadCallsAreRefusedWithoutSending)
{
	TestChannel ch;
	uint64_t v = 0;
	EXPECT_EQ(ch.proxy->read(kAsGlobal, 0, 3, &v, 10), -EINVAL);
	EXPECT_EQ(ch.proxy->read(0xf3, 0, 4, &v, 10), -EINVAL);
	EXPECT_EQ(ch.proxy->read(0x1ff, 0, 4, &v, 10), -EINVAL);
	EXPECT_EQ(ch.proxy->read(kAsIoPort, 0x10000, 1, &v, 10), -EINVAL);
	EXPECT_EQ(ch.proxy->read(kAsGlobal, 0, 4, nullptr, 10), -EINVAL);
	EXPECT_EQ(ch.proxy->post(kAsGlobal, 0, 16, 0, 10), -EINVAL);
	EXPECT_EQ(ch.proxy->send(set_irq(0, 1), 10), -EINVAL);
	EXPECT_EQ(ch.proxy->send(mmio_posted_write(kAsGlobal, 0, 4, 0), 10), -EINVAL);
	EXPECT_EQ(ch.device->send_event(mmio_posted_write(kAsGlobal, 0, 4, 0), 10), -EINVAL);
	EXPECT_EQ(ch.device->send_event(set_irq(0, 9), 10), -EINVAL);
	EXPECT_EQ(ch.device->complete(mmio_request(1, kAsGlobal, 0, 4, Dir::Read, 0, 1), 0, 10), -EINVAL);
	RawRegion raw(ch.fds.region.get());
	EXPECT_EQ(raw.prod(Ring::Requests), 0u);
	EXPECT_EQ(raw.prod(Ring::Events), 0u);
	EXPECT_FALSE(ch.proxy->poisoned());
}

namespace {

void many_vcpus(uint32_t spin_us, int threads, int each)
{
	TestChannel ch(256, spin_us);
	ch.proxy->set_spin_us(spin_us);
	ch.device->set_spin_us(spin_us);
	std::atomic<bool> stop{false};
	std::atomic<int> events_seen{0}, idle_polls{0};
	EchoDevice dev(*ch.device, *ch.proxy);
	// A device-side thread raising interrupts while vCPUs do MMIO, then a
	// final STOP event that ends the main loop.
	std::thread irq([&] {
		for (uint32_t i = 0; !stop; ++i) {
			if (ch.device->send_event(msi(0xfee00000, i, 0), 1000) < 0)
				return;
			std::this_thread::sleep_for(200us);
		}
		ch.device->send_event(vsst::rpc::stop(), 1000);
	});
	// The proxy main loop, polling the event fd. Events come every 200 us,
	// so a 2 s poll that times out means a lost wakeup.
	std::thread main_loop([&] {
		Message m;
		uint32_t next = 0;
		for (;;) {
			pollfd p{ch.proxy->event_fd(), POLLIN, 0};
			if (::poll(&p, 1, 2000) == 0)
				++idle_polls;
			int r;
			while ((r = ch.proxy->recv_event(m)) == 1) {
				if (m.op() == Op::Stop)
					return;
				EXPECT_EQ(m.mr2, next++);
				++events_seen;
			}
			if (r < 0)
				return;
		}
	});
	std::atomic<int> bad{0};
	std::vector<std::thread> vcpus;
	for (int t = 0; t < threads; ++t)
		vcpus.emplace_back([&, t] {
			for (int i = 0; i < each; ++i) {
				const uint64_t addr = (uint64_t(t) << 32) | (uint64_t(i) * 8);
				uint64_t v = 0;
				if (ch.proxy->read(kAsGlobal, addr, 8, &v, 3000) != 0 ||
				    v != (addr ^ kPattern))
					++bad;
			}
		});
	for (auto &t : vcpus)
		t.join();
	stop = true;
	irq.join();
	main_loop.join();
	EXPECT_EQ(idle_polls.load(), 0);
	EXPECT_EQ(bad.load(), 0);
	EXPECT_GT(events_seen.load(), 0);
	EXPECT_FALSE(ch.proxy->poisoned()) << ch.proxy->poison_reason();
}

} // namespace

TEST(ManyThreads, BlockingWaitersShareOneDoorbell)
{
	many_vcpus(0, 4, static_cast<int>(scaled(3000, 5)));
}
TEST(ManyThreads, SpinningWaiters)
{
	many_vcpus(30, 4, static_cast<int>(scaled(3000, 5)));
}

TEST(Stats, CountersAndObserver)
{
	TestChannel ch;
	struct Seen {
		std::mutex mtx;
		int sent[3] = {}, received[3] = {};
	} seen;
	auto obs = [](void *opaque, int dir, int ring, const vsst_rpcmsg *) {
		auto *s = static_cast<Seen *>(opaque);
		std::lock_guard<std::mutex> lk(s->mtx);
		(dir == 0 ? s->sent : s->received)[ring]++;
	};
	ch.proxy->set_observer(obs, &seen);
	{
		EchoDevice dev(*ch.device, *ch.proxy);
		uint64_t v;
		for (int i = 0; i < 10; ++i)
			ASSERT_EQ(ch.proxy->read(kAsGlobal, 0, 4, &v, 1000), 0);
	}
	ASSERT_EQ(ch.device->send_event(start_vm(), 10), 0);
	Message m;
	ASSERT_EQ(ch.proxy->wait_event(m, 100), 1);
	const Stats s = ch.proxy->stats();
	EXPECT_EQ(s.sent, 11u); // 10 reads + the STOP that ends the echo device
	EXPECT_EQ(s.received, 11u);
	EXPECT_EQ(s.rejected, 0u);
	EXPECT_EQ(s.kicks_sent + s.kicks_suppressed, 11u);
	std::lock_guard<std::mutex> lk(seen.mtx);
	EXPECT_EQ(seen.sent[0], 11);
	EXPECT_EQ(seen.received[1], 10);
	EXPECT_EQ(seen.received[2], 1);
}

TEST(Device, PollingDispatcherWithRequestFd)
{
	TestChannel ch;
	ch.device->set_spin_us(0);
	std::thread dispatcher([&] {
		int handled = 0;
		while (handled < 200) {
			pollfd p{ch.device->request_fd(), POLLIN, 0};
			::poll(&p, 1, 10000); // long: a lost kick fails the proxy's read
			Message req;
			while (ch.device->wait_request(req, 0) == 1) {
				ch.device->complete(req, 1, 100);
				++handled;
			}
		}
	});
	ch.proxy->set_spin_us(0);
	for (int i = 0; i < 200; ++i) {
		uint64_t v = 0;
		ASSERT_EQ(ch.proxy->read(kAsGlobal, 0, 1, &v, 1000), 0);
		ASSERT_EQ(v, 1u);
	}
	dispatcher.join();
}
