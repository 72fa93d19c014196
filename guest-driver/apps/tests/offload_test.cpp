// SPDX-License-Identifier: Apache-2.0
// Host-side tests of sst-offload's logic: the job's operands and C blocks,
// its split across devices, the chunking, the byte check, and the
// per-device pipeline against the fake device, good and misbehaving (one
// corrupted byte, lost WRITEs, a failed COMPUTE, a stray answer): each
// misbehaviour must fail the run.
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <thread>

#include "fake_channel.h"
#include "offload.h"

namespace vsst::guest::offload {
namespace {

using testing::FakeFaults;
using testing::FakeSst;

TEST(OffloadSplit, EveryTaskOnceContiguousBalanced)
{
	for (uint32_t tasks : {0u, 1u, 3u, 16u, 17u, 64u, 4096u})
		for (uint32_t devices = 1; devices <= 6; devices++) {
			const auto split = split_tasks(tasks, devices);
			ASSERT_EQ(split.size(), devices);
			uint32_t next = 0;
			size_t lo = ~size_t(0), hi = 0;
			for (const auto &d : split) {
				for (uint32_t t : d)
					EXPECT_EQ(t, next++) << tasks << " tasks on " << devices;
				lo = std::min(lo, d.size());
				hi = std::max(hi, d.size());
			}
			EXPECT_EQ(next, tasks);
			EXPECT_LE(hi - lo, 1u);
			// The larger shares come first.
			for (size_t d = 1; d < split.size(); d++)
				EXPECT_GE(split[d - 1].size(), split[d].size());
		}
	EXPECT_TRUE(split_tasks(5, 0).empty());
}

TEST(OffloadSplit, ChunksCoverTheRegion)
{
	for (size_t bytes : {size_t(1), size_t(4064), size_t(4065), size_t(8192), size_t(100000)}) {
		const auto cs = chunks(bytes, kChunkBytes);
		size_t off = 0;
		for (const Chunk &c : cs) {
			EXPECT_EQ(c.offset, off);
			EXPECT_GE(c.size, 1u);
			EXPECT_LE(c.size, kChunkBytes);
			off += c.size;
		}
		EXPECT_EQ(off, bytes);
	}
	EXPECT_LE(kChunkBytes, uint32_t(SST_MAX_WRITE_SIZE));
	EXPECT_EQ(kChunkBytes % 4, 0u);
}

TEST(OffloadJob, OperandsAreAFunctionOfTheSeed)
{
	std::set<int32_t> seen;
	bool differ = false;
	for (uint32_t r = 0; r < 32; r++)
		for (uint32_t c = 0; c < 32; c++) {
			const int32_t v = element(7, 'A', r, c);
			EXPECT_EQ(v, element(7, 'A', r, c));
			EXPECT_GE(v, -8);
			EXPECT_LE(v, 7);
			seen.insert(v);
			differ |= v != element(8, 'A', r, c) || v != element(7, 'B', r, c);
		}
	EXPECT_EQ(seen.size(), 16u); // every value turns up
	EXPECT_TRUE(differ);
	Job a, b;
	b.seed = 2;
	EXPECT_EQ(task_region(a, 5), task_region(a, 5));
	EXPECT_NE(task_region(a, 5), task_region(b, 5));
}

TEST(OffloadJob, BlocksMultiplyLikeTheWholeMatrix)
{
	Job job;
	job.blocks = 3;
	job.size = 5;
	job.seed = 42;
	const uint32_t n = job.dim();
	for (uint32_t t = 0; t < job.tasks(); t++) {
		const auto region = task_region(job, t);
		ASSERT_EQ(region.size(), job.region_bytes());
		const auto c = c_block(job, region.data());
		const uint32_t bi = t / job.blocks, bj = t % job.blocks;
		for (uint32_t r = 0; r < job.size; r++)
			for (uint32_t col = 0; col < job.size; col++) {
				int64_t want = 0;
				for (uint32_t k = 0; k < n; k++)
					want += int64_t(element(job.seed, 'A', bi * job.size + r, k)) *
						element(job.seed, 'B', k, bj * job.size + col);
				EXPECT_EQ(c[r * job.size + col], want) << "task " << t;
			}
	}
	// One changed operand byte changes the block.
	auto region = task_region(job, 4);
	const auto good = c_block(job, region.data());
	region[17] ^= 0x01;
	EXPECT_NE(c_block(job, region.data()), good);
}

TEST(OffloadCheck, EqualBytesPassOneCorruptedByteFails)
{
	std::vector<uint8_t> want(4064);
	for (size_t i = 0; i < want.size(); i++)
		want[i] = uint8_t(i * 7 + 3);
	EXPECT_EQ(check_bytes(want.data(), want.data(), want.size(), 0x1000), "");
	for (size_t pos : {size_t(0), size_t(1), size_t(2031), size_t(4063)}) {
		auto got = want;
		got[pos] ^= 0x10;
		const std::string why = check_bytes(want.data(), got.data(), got.size(), 0x1000);
		EXPECT_FALSE(why.empty()) << "byte " << pos;
		char addr[32];
		snprintf(addr, sizeof(addr), "0x%zx", 0x1000 + pos);
		EXPECT_NE(why.find(addr), std::string::npos) << why;
		EXPECT_NE(why.find("1 of 4064 bytes differ"), std::string::npos) << why;
	}
}

Job small_job()
{
	Job job;
	job.blocks = 4;
	job.size = 16; // 1 KiB blocks, 8 KiB regions: 3 chunks (4068, 4068, 56 bytes)
	job.seed = 3;
	return job;
}

std::vector<uint32_t> all_tasks(const Job &job)
{
	return split_tasks(job.tasks(), 1)[0];
}

void expect_clean(const DeviceReport &r, const Job &job, size_t ntasks)
{
	EXPECT_TRUE(r.ok()) << r.error;
	EXPECT_EQ(r.error, "");
	EXPECT_EQ(r.bytes_written, ntasks * job.region_bytes());
	EXPECT_EQ(r.bytes_verified, ntasks * job.region_bytes());
	EXPECT_EQ(r.blocks_verified, ntasks);
	EXPECT_EQ(r.mismatches, 0u);
	EXPECT_EQ(r.bad_status, 0u);
	EXPECT_EQ(r.compute_cycles, ntasks * job.task_macs() * 10); // the fake's 10 cycles per item
	EXPECT_GT(r.sim_ps(), 0u);
}

TEST(OffloadRun, GoodDeviceVerifiesEveryByte)
{
	const Job job = small_job();
	FakeSst fake;
	auto ch = fake.open();
	const auto tasks = all_tasks(job);
	RunOptions opt;
	opt.depth = 32;
	const DeviceReport r = run_device(*ch, job, tasks, opt);
	expect_clean(r, job, tasks.size());
	// GET_INFO, 2 markers, and per task 3 WRITEs, 1 COMPUTE, 3 READs.
	EXPECT_EQ(r.requests, 3 + tasks.size() * 7);
	EXPECT_EQ(r.max_in_flight, 32u); // the queue was kept full
}

TEST(OffloadRun, DepthOneAndPartialSubmitsStillComplete)
{
	const Job job = small_job();
	for (uint32_t depth : {1u, 5u, 200u}) {
		FakeFaults f;
		f.partial_submit = true; // SUBMIT takes at most 16 per call
		FakeSst fake(4u << 20, f);
		auto ch = fake.open();
		RunOptions opt;
		opt.depth = depth;
		const DeviceReport r = run_device(*ch, job, all_tasks(job), opt);
		expect_clean(r, job, job.tasks());
		EXPECT_LE(r.max_in_flight, depth);
	}
}

TEST(OffloadRun, SmallMemoryReusesSlotsInOrder)
{
	const Job job = small_job();
	FakeSst fake(2 * job.region_bytes() + 100); // two task slots
	auto ch = fake.open();
	RunOptions opt;
	opt.depth = 64;
	expect_clean(run_device(*ch, job, all_tasks(job), opt), job, job.tasks());
}

TEST(OffloadRun, MemoryTooSmallIsAnError)
{
	const Job job = small_job();
	FakeSst fake(job.region_bytes() - 1);
	auto ch = fake.open();
	const DeviceReport r = run_device(*ch, job, all_tasks(job), RunOptions{});
	EXPECT_FALSE(r.ok());
	EXPECT_NE(r.error.find("holds no task region"), std::string::npos) << r.error;
}

TEST(OffloadRun, FourDevicesShareTheJob)
{
	const Job job = small_job();
	const auto split = split_tasks(job.tasks(), 4);
	std::vector<DeviceReport> reps(4);
	{
		std::vector<std::jthread> threads;
		for (size_t d = 0; d < 4; d++)
			threads.emplace_back([&, d] {
				FakeSst fake; // one device per thread, as in the guest
				auto ch = fake.open();
				reps[d] = run_device(*ch, job, split[d], RunOptions{});
			});
	}
	uint64_t bytes = 0, blocks = 0;
	for (size_t d = 0; d < 4; d++) {
		expect_clean(reps[d], job, split[d].size());
		bytes += reps[d].bytes_verified;
		blocks += reps[d].blocks_verified;
	}
	EXPECT_EQ(bytes, uint64_t(job.tasks()) * job.region_bytes());
	EXPECT_EQ(blocks, job.tasks());
}

TEST(OffloadRun, OneCorruptedByteFailsTheRun)
{
	const Job job = small_job();
	FakeFaults f;
	f.corrupt_addr = int64_t(job.region_bytes()) * 3 + 5000; // slot 3, second chunk
	FakeSst fake(4u << 20, f);
	auto ch = fake.open();
	const DeviceReport r = run_device(*ch, job, all_tasks(job), RunOptions{});
	EXPECT_FALSE(r.ok());
	EXPECT_EQ(r.mismatches, 2u); // the byte, then the C block computed from it
	EXPECT_EQ(r.blocks_verified, job.tasks() - 1);
	EXPECT_EQ(r.bytes_verified, job.tasks() * job.region_bytes() - kChunkBytes) << "one chunk short";
	EXPECT_NE(r.error.find("task 3 READ"), std::string::npos) << r.error;
	char addr[32];
	snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)f.corrupt_addr);
	EXPECT_NE(r.error.find(addr), std::string::npos) << r.error;
}

TEST(OffloadRun, WithoutTheProductEveryByteIsStillChecked)
{
	Job job = small_job();
	job.product = false;
	FakeSst good;
	auto ch = good.open();
	const DeviceReport r = run_device(*ch, job, all_tasks(job), RunOptions{});
	EXPECT_TRUE(r.ok()) << r.error;
	EXPECT_EQ(r.bytes_verified, job.tasks() * job.region_bytes());
	EXPECT_EQ(r.blocks_verified, 0u);
	EXPECT_EQ(r.product_ns, 0u);

	FakeFaults f;
	f.corrupt_addr = 77;
	FakeSst bad(4u << 20, f);
	auto ch2 = bad.open();
	const DeviceReport r2 = run_device(*ch2, job, all_tasks(job), RunOptions{});
	EXPECT_FALSE(r2.ok());
	EXPECT_EQ(r2.mismatches, 1u);
	EXPECT_NE(r2.error.find("0x4d"), std::string::npos) << r2.error;
}

TEST(OffloadRun, LostWritesFail)
{
	const Job job = small_job();
	FakeFaults f;
	f.ignore_write = true;
	FakeSst fake(4u << 20, f);
	auto ch = fake.open();
	const DeviceReport r = run_device(*ch, job, all_tasks(job), RunOptions{});
	EXPECT_FALSE(r.ok());
	EXPECT_GT(r.mismatches, 0u);
	EXPECT_EQ(r.bytes_verified, 0u);
}

TEST(OffloadRun, FailedComputeFails)
{
	const Job job = small_job();
	FakeFaults f;
	f.fail_compute = true;
	FakeSst fake(4u << 20, f);
	auto ch = fake.open();
	const DeviceReport r = run_device(*ch, job, all_tasks(job), RunOptions{});
	EXPECT_FALSE(r.ok());
	EXPECT_GT(r.bad_status, 0u);
	EXPECT_NE(r.error.find("COMPUTE"), std::string::npos) << r.error;
	EXPECT_NE(r.error.find("ERROR"), std::string::npos) << r.error;
	EXPECT_LT(r.blocks_verified, job.tasks());
}

// Passes everything through, except that it changes the user_data of the
// n-th answer (an answer for a request never sent), and records how many
// COMPUTEs with work each SUBMIT carried.
class StrayAnswer final : public Channel {
public:
	StrayAnswer(std::unique_ptr<Channel> in, int n) : in_(std::move(in)), n_(n) {}
	std::vector<uint32_t> computes_per_submit;
	ssize_t write_raw(const void *b, size_t l) override { return in_->write_raw(b, l); }
	ssize_t read_raw(void *b, size_t l) override { return in_->read_raw(b, l); }
	int poll(short e, int t, short *r) override { return in_->poll(e, t, r); }
	int set_nonblock(bool on) override { return in_->set_nonblock(on); }
	int info(sst_ioc_info *o) override { return in_->info(o); }
	int stats(sst_ioc_stats *o) override { return in_->stats(o); }
	int submit(const SSTRequest *q, uint32_t n, uint64_t *ids, bool nb, uint32_t *s) override
	{
		uint32_t k = 0;
		for (uint32_t i = 0; i < n; i++)
			k += q[i].type == SST_REQ_COMPUTE && q[i].payload.compute.compute_units;
		if (k)
			computes_per_submit.push_back(k);
		return in_->submit(q, n, ids, nb, s);
	}
	int reap(SSTResponse *r, uint32_t n, uint32_t m, int t, uint32_t *got) override
	{
		const int rc = in_->reap(r, n, m, t, got);
		for (uint32_t i = 0; i < *got; i++)
			if (seen_++ == n_)
				r[i].user_data ^= 1ull << 30;
		return rc;
	}
	int set_timeout(uint32_t ms) override { return in_->set_timeout(ms); }
	int events_enable(bool on) override { return in_->events_enable(on); }
	int get_events(SSTEvent *e, uint32_t n, int t, uint32_t *g, uint32_t *d) override
	{
		return in_->get_events(e, n, t, g, d);
	}

private:
	std::unique_ptr<Channel> in_;
	int n_, seen_ = 0;
};

TEST(OffloadRun, StrayAnswerFails)
{
	const Job job = small_job();
	FakeSst fake;
	StrayAnswer ch(fake.open(), 40);
	const DeviceReport r = run_device(ch, job, all_tasks(job), RunOptions{});
	EXPECT_FALSE(r.ok());
	EXPECT_EQ(r.bad_status, 1u);
	EXPECT_NE(r.error.find("never sent"), std::string::npos) << r.error;
}

// sst-sim overlaps only COMPUTEs that arrive together: they go out in gangs
// of at least the device's compute units (the fake has 4), but the last.
TEST(OffloadRun, ComputesGoOutInGangsOfTheUnits)
{
	const Job job = small_job();
	FakeSst fake;
	StrayAnswer ch(fake.open(), -1); // no stray answer
	RunOptions opt;
	opt.depth = 8; // fewer than 4 tasks' WRITEs at a time
	expect_clean(run_device(ch, job, all_tasks(job), opt), job, job.tasks());
	uint32_t sum = 0;
	const auto &ks = ch.computes_per_submit;
	for (size_t i = 0; i < ks.size(); i++) {
		sum += ks[i];
		if (i + 1 < ks.size()) {
			EXPECT_GE(ks[i], 4u) << "SUBMIT " << i << " of " << ks.size();
		}
	}
	EXPECT_EQ(sum, job.tasks());
	EXPECT_GE(ks.size(), 2u);
}

} // namespace
} // namespace vsst::guest::offload
