// SPDX-License-Identifier: Apache-2.0
// The checked load of sst-fault (load_check.*) against the in-process fake
// device: a good device passes, and each way of breaking the one-answer-per-
// request rule (dropped, repeated, invented, corrupted, failed answers) is
// counted where it belongs.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <deque>

#include "fake_channel.h"
#include "load_check.h"

namespace vsst::guest {
namespace {

using testing::FakeFaults;
using testing::FakeSst;

// Wraps a channel and tampers with what read_raw() returns.
class Tamper final : public Channel {
public:
	enum class Mode { none, drop, repeat, invent, no_device };
	Tamper(std::unique_ptr<Channel> in, Mode m, unsigned every)
		: in_(std::move(in)), mode_(m), every_(every)
	{
	}

	ssize_t write_raw(const void *b, size_t n) override { return in_->write_raw(b, n); }
	ssize_t read_raw(void *buf, size_t len) override
	{
		if (!extra_.empty()) { // a repeated answer goes out first
			std::memcpy(buf, &extra_.front(), sizeof(SSTResponse));
			extra_.pop_front();
			return sizeof(SSTResponse);
		}
		for (;;) {
			SSTResponse r;
			const ssize_t n = in_->read_raw(&r, sizeof r); // one at a time
			if (n != ssize_t(sizeof r))
				return n;
			const bool hit = ++count_ % every_ == 0;
			if (hit && mode_ == Mode::drop)
				continue;
			if (hit && mode_ == Mode::repeat)
				extra_.push_back(r);
			if (hit && mode_ == Mode::invent)
				r.user_data ^= 0x00000fff00000000ull;
			if (hit && mode_ == Mode::no_device)
				r.status = SST_STATUS_NO_DEVICE;
			std::memcpy(buf, &r, sizeof r);
			(void)len;
			return sizeof r;
		}
	}
	int poll(short e, int t, short *r) override { return in_->poll(e, t, r); }
	int set_nonblock(bool on) override { return in_->set_nonblock(on); }
	int info(sst_ioc_info *o) override { return in_->info(o); }
	int stats(sst_ioc_stats *o) override { return in_->stats(o); }
	int submit(const SSTRequest *r, uint32_t n, uint64_t *ids, bool nb, uint32_t *s) override
	{
		return in_->submit(r, n, ids, nb, s);
	}
	int reap(SSTResponse *r, uint32_t n, uint32_t m, int t, uint32_t *g) override
	{
		return in_->reap(r, n, m, t, g);
	}
	int set_timeout(uint32_t ms) override { return in_->set_timeout(ms); }
	int events_enable(bool on) override { return in_->events_enable(on); }
	int get_events(SSTEvent *e, uint32_t n, int t, uint32_t *g, uint32_t *d) override
	{
		return in_->get_events(e, n, t, g, d);
	}

private:
	std::unique_ptr<Channel> in_;
	Mode mode_;
	unsigned every_, count_ = 0;
	std::deque<SSTResponse> extra_;
};

LoadWorkerParams params(uint64_t requests)
{
	LoadWorkerParams p;
	p.depth = 8;
	p.io_size = 128;
	p.max_requests = requests;
	return p;
}

int run(Channel &ch, LoadCounters &c, uint64_t requests = 3000)
{
	std::atomic<bool> stop{false};
	return run_load_worker(ch, params(requests), c, stop);
}

TEST(LoadCheck, GoodDeviceAccountsForEveryRequest)
{
	FakeSst dev(64u << 20);
	auto ch = dev.open();
	LoadCounters c;
	EXPECT_EQ(run(*ch, c), 0);
	EXPECT_EQ(c.submitted.load(), 3000u);
	EXPECT_EQ(c.answered.load(), 3000u);
	EXPECT_EQ(c.status[SST_STATUS_OK].load(), 3000u);
	EXPECT_EQ(c.lost + c.duplicate + c.unknown + c.mismatch + c.io_errors, 0u) << describe(c);
}

TEST(LoadCheck, StopFlagEndsTheRunAndDrains)
{
	FakeSst dev(64u << 20);
	auto ch = dev.open();
	LoadCounters c;
	std::atomic<bool> stop{true};
	EXPECT_EQ(run_load_worker(*ch, params(0), c, stop), 0);
	EXPECT_EQ(c.submitted.load(), 0u);
}

TEST(LoadCheck, DroppedAnswersAreLost)
{
	FakeSst dev(64u << 20);
	Tamper ch(dev.open(), Tamper::Mode::drop, 100);
	LoadCounters c;
	run(ch, c);
	EXPECT_GT(c.lost.load(), 0u) << describe(c);
	EXPECT_EQ(c.duplicate.load(), 0u);
}

TEST(LoadCheck, RepeatedAnswersAreDuplicates)
{
	FakeSst dev(64u << 20);
	Tamper ch(dev.open(), Tamper::Mode::repeat, 100);
	LoadCounters c;
	run(ch, c);
	EXPECT_GT(c.duplicate.load(), 0u) << describe(c);
	EXPECT_EQ(c.answered.load(), c.submitted.load());
}

TEST(LoadCheck, ForeignAnswersAreUnknown)
{
	FakeSst dev(64u << 20);
	Tamper ch(dev.open(), Tamper::Mode::invent, 100);
	LoadCounters c;
	run(ch, c);
	EXPECT_GT(c.unknown.load(), 0u) << describe(c);
	EXPECT_GT(c.lost.load(), 0u); // the real answer never came
}

TEST(LoadCheck, CorruptedReadDataIsAMismatch)
{
	FakeFaults f;
	f.corrupt_read = true;
	FakeSst dev(64u << 20, f);
	auto ch = dev.open();
	LoadCounters c;
	run(*ch, c);
	EXPECT_GT(c.mismatch.load(), 0u) << describe(c);
}

TEST(LoadCheck, NoVerifyIgnoresReadData)
{
	FakeFaults f;
	f.corrupt_read = true;
	FakeSst dev(64u << 20, f);
	auto ch = dev.open();
	LoadCounters c;
	auto p = params(900);
	p.verify = false;
	std::atomic<bool> stop{false};
	run_load_worker(*ch, p, c, stop);
	EXPECT_EQ(c.mismatch.load(), 0u);
}

TEST(LoadCheck, FailedStatusesAreCountedAndStopVerification)
{
	FakeSst dev(64u << 20);
	Tamper ch(dev.open(), Tamper::Mode::no_device, 7);
	LoadCounters c;
	run(ch, c);
	EXPECT_GT(c.status[SST_STATUS_NO_DEVICE].load(), 0u);
	EXPECT_EQ(c.answered.load(), c.submitted.load());
	// A WRITE answered NO_DEVICE did not happen: its READ is not compared.
	EXPECT_EQ(c.mismatch.load(), 0u) << describe(c);
}

TEST(LoadCheck, BadParametersAreRefused)
{
	FakeSst dev;
	auto ch = dev.open();
	LoadCounters c;
	std::atomic<bool> stop{false};
	auto p = params(10);
	p.depth = 0;
	EXPECT_EQ(run_load_worker(*ch, p, c, stop), -EINVAL);
	p = params(10);
	p.io_size = SST_MAX_WRITE_SIZE + 1;
	EXPECT_EQ(run_load_worker(*ch, p, c, stop), -EINVAL);
}

} // namespace
} // namespace vsst::guest
