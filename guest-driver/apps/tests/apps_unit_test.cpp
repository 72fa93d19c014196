// SPDX-License-Identifier: Apache-2.0
// Host-side tests of the guest applications' logic: request builders,
// patterns, percentiles, and every sst-test case against a fake device that
// behaves (all pass) and that misbehaves in one way (that case fails).
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>

#include "fake_channel.h"
#include "latency.h"
#include "requests.h"
#include "test_cases.h"

namespace vsst::guest {
namespace {

using testing::FakeFaults;
using testing::FakeSst;
using Outcome = CaseResult::Outcome;

const TestCase &find_case(std::string_view name)
{
	for (const auto &tc : all_cases())
		if (tc.name == name)
			return tc;
	ADD_FAILURE() << "no case " << name;
	return all_cases().front();
}

// Runs one case against a fake device with the given faults.
CaseResult run_case(std::string_view name, FakeFaults faults = {})
{
	FakeSst fake(4u << 20, faults);
	auto ch = fake.open();
	CaseContext ctx{*ch, fake.opener(), ""};
	ctx.procs = 2;
	ctx.iterations = 20;
	EXPECT_EQ(probe_device(ctx), 0);
	return find_case(name).run(ctx);
}

FakeFaults with(bool FakeFaults::*knob)
{
	FakeFaults f;
	f.*knob = true;
	return f;
}

TEST(Requests, WriteDataSitsAtOffset12)
{
	const uint8_t data[3] = {1, 2, 3};
	const SSTRequest req = make_write(7, 0x1000, data, 3);
	EXPECT_EQ(req.type, uint32_t(SST_REQ_WRITE));
	EXPECT_EQ(req.user_data, 7u);
	EXPECT_EQ(req.payload.memory.addr, 0x1000u);
	EXPECT_EQ(req.payload.memory.size, 3u);
	const auto *raw = reinterpret_cast<const uint8_t *>(&req);
	EXPECT_EQ(0, std::memcmp(raw + SST_REQUEST_HEADER_SIZE + SST_WRITE_DATA_OFFSET, data, 3));
	EXPECT_EQ(write_data(req), raw + SST_REQUEST_HEADER_SIZE + SST_WRITE_DATA_OFFSET);
}

TEST(Requests, TypeNamesRoundTrip)
{
	for (uint32_t t = 0; t < SST_REQ_MAX; t++)
		EXPECT_EQ(type_from_name(type_name(t)), t);
	EXPECT_FALSE(type_from_name("bogus"));
	EXPECT_EQ(status_name(SST_STATUS_INVALID), "INVALID");
	EXPECT_EQ(status_name(77), "UNKNOWN");
}

TEST(Patterns, DeterministicAndDistinct)
{
	uint8_t a[256], b[256];
	std::set<std::string> seen;
	for (Pattern p : kAllPatterns) {
		fill_pattern(p, 5, a, sizeof(a));
		fill_pattern(p, 5, b, sizeof(b));
		EXPECT_FALSE(first_difference(a, b, sizeof(a))) << pattern_name(p);
		seen.insert(std::string(reinterpret_cast<char *>(a), sizeof(a)));
	}
	EXPECT_EQ(seen.size(), std::size(kAllPatterns));
	fill_pattern(Pattern::random, 6, b, sizeof(b));
	fill_pattern(Pattern::random, 5, a, sizeof(a));
	EXPECT_TRUE(first_difference(a, b, sizeof(a)));
}

TEST(Patterns, FirstDifference)
{
	uint8_t a[8] = {}, b[8] = {};
	EXPECT_FALSE(first_difference(a, b, 8));
	b[5] = 1;
	EXPECT_EQ(first_difference(a, b, 8), 5u);
	EXPECT_FALSE(first_difference(a, b, 5));
}

TEST(Latency, NearestRankPercentiles)
{
	std::vector<uint64_t> empty;
	EXPECT_EQ(percentile(empty, 50), 0u);
	std::vector<uint64_t> v;
	for (uint64_t i = 100; i >= 1; i--)
		v.push_back(i);
	EXPECT_EQ(percentile(v, 50), 50u);
	EXPECT_EQ(percentile(v, 99), 99u);
	EXPECT_EQ(percentile(v, 100), 100u);
	EXPECT_EQ(percentile(v, 0), 1u);
	std::vector<uint64_t> one{42};
	EXPECT_EQ(percentile(one, 99), 42u);
}

TEST(SstTest, EveryCasePassesOnAGoodDevice)
{
	FakeSst fake;
	auto ch = fake.open();
	CaseContext ctx{*ch, fake.opener(), ""};
	ctx.procs = 3;
	ctx.iterations = 30;
	ASSERT_EQ(probe_device(ctx), 0);
	EXPECT_EQ(ctx.memory_size, 4u << 20);
	for (const auto &tc : all_cases()) {
		const CaseResult r = tc.run(ctx);
		EXPECT_EQ(r.outcome, Outcome::pass) << tc.name << ": " << r.detail;
		EXPECT_EQ(drain_channel(*ch), 0u) << tc.name << " left responses behind";
	}
}

TEST(SstTest, BatchCaseCopesWithPartialSubmits)
{
	const CaseResult r = run_case("batch_ioctl", with(&FakeFaults::partial_submit));
	EXPECT_EQ(r.outcome, Outcome::pass) << r.detail;
	EXPECT_NE(r.detail.find("submit_calls=4"), std::string::npos) << r.detail;
}

TEST(SstTest, DrainEmptiesLeftovers)
{
	FakeSst fake;
	auto ch = fake.open();
	const SSTRequest req = make_request(SST_REQ_NOOP, 1);
	for (int i = 0; i < 20; i++)
		ASSERT_EQ(ch->write_raw(&req, sizeof(req)), ssize_t(sizeof(req)));
	EXPECT_EQ(drain_channel(*ch), 20u);
	EXPECT_EQ(drain_channel(*ch), 0u);
}

struct FaultCase {
	const char *name;
	FakeFaults faults;
	const char *failing_case;
};

class SstTestFaults : public ::testing::TestWithParam<FaultCase> {};

TEST_P(SstTestFaults, TheMatchingCaseFails)
{
	const FaultCase &fc = GetParam();
	const CaseResult r = run_case(fc.failing_case, fc.faults);
	EXPECT_EQ(r.outcome, Outcome::fail) << fc.failing_case << ": " << r.detail;
	EXPECT_FALSE(r.detail.empty());
}

INSTANTIATE_TEST_SUITE_P(
	Faults, SstTestFaults,
	::testing::Values(FaultCase{"flip_echo", with(&FakeFaults::flip_echo_byte), "echo"},
			  FaultCase{"flip_echo_pipelined", with(&FakeFaults::flip_echo_byte), "pipelined"},
			  FaultCase{"flip_echo_batch", with(&FakeFaults::flip_echo_byte), "batch_ioctl"},
			  FaultCase{"flip_echo_procs", with(&FakeFaults::flip_echo_byte), "concurrent_procs"},
			  FaultCase{"no_bounds", with(&FakeFaults::no_bounds_check), "out_of_range"},
			  FaultCase{"user_data", with(&FakeFaults::wrong_user_data), "noop"},
			  FaultCase{"corrupt_read", with(&FakeFaults::corrupt_read), "write_read"},
			  FaultCase{"corrupt_read_procs", with(&FakeFaults::corrupt_read),
				    "concurrent_procs"},
			  FaultCase{"no_event", with(&FakeFaults::no_async_event), "async_event"},
			  FaultCase{"bad_type", with(&FakeFaults::accept_bad_type), "invalid_type"},
			  FaultCase{"cross_fds", with(&FakeFaults::cross_fds), "two_fds"}),
	[](const auto &info) { return std::string(info.param.name); });

TEST(SstTest, AsyncEventSkipsWithoutTheFeature)
{
	const CaseResult r = run_case("async_event", with(&FakeFaults::no_events_feature));
	EXPECT_EQ(r.outcome, Outcome::skip) << r.detail;
}

} // namespace
} // namespace vsst::guest
