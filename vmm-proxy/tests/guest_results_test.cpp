// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "guest_results.h"

namespace vsst {
namespace {

TEST(GuestResults, PassingRun)
{
	GuestResults r;
	r.add_line("VSST-BOOT init uptime=1.2");
	r.add_line("VSST-RESULT sst-test.noop PASS latency_us=12");
	r.add_line("[   3.1] random kernel line");
	r.add_line("VSST-RESULT rng PASS bytes=64");
	r.add_line("VSST-RESULT summary pass=2 fail=0 skip=0");
	r.add_line("VSST-BOOT poweroff uptime=9");
	ASSERT_EQ(r.results().size(), 2u);
	EXPECT_EQ(r.results()[0].name, "sst-test.noop");
	EXPECT_EQ(r.results()[0].details, "latency_us=12");
	EXPECT_TRUE(r.passed());
	EXPECT_TRUE(r.powered_off());
	EXPECT_EQ(r.describe(), "guest summary pass=2 fail=0 skip=0");
}

TEST(GuestResults, FailureOrMissingSummaryIsNotAPass)
{
	GuestResults r;
	r.add_line("VSST-RESULT a PASS");
	EXPECT_FALSE(r.passed()) << "no summary yet";
	r.add_line("VSST-RESULT summary pass=1 fail=1 skip=0");
	EXPECT_FALSE(r.passed());
	GuestResults none;
	none.add_line("VSST-RESULT summary pass=0 fail=0 skip=3");
	EXPECT_FALSE(none.passed()) << "nothing passed";
}

TEST(GuestResults, AFloodOfResultLinesIsBounded)
{
	GuestResults r;
	const std::string huge(100000, 'x');
	for (size_t i = 0; i < GuestResults::kMaxResults + 100; i++)
		r.add_line("VSST-RESULT t" + huge + " PASS " + huge);
	r.add_line("VSST-RESULT summary pass=1 fail=0 skip=0");
	EXPECT_EQ(r.results().size(), GuestResults::kMaxResults);
	EXPECT_EQ(r.dropped(), 100u);
	EXPECT_LE(r.results()[0].name.size(), GuestResults::kMaxField);
	EXPECT_LE(r.results()[0].details.size(), GuestResults::kMaxDetails);
	EXPECT_TRUE(r.passed()) << "the summary still counts";
}

TEST(GuestResults, GarbageIsIgnored)
{
	GuestResults r;
	r.add_line("VSST-RESULT");
	r.add_line("VSST-RESULT summary pass=x fail=0");
	r.add_line("VSST-RESULT summary fail=0");
	r.add_line("VSST-RESULT lonely");
	r.add_line("noise VSST-RESULT summary pass=1 fail=0 skip=0"); // prefixed by console noise
	EXPECT_TRUE(r.results().empty());
	ASSERT_TRUE(r.summary());
	EXPECT_EQ(r.summary()->pass, 1u);
}

TEST(LineSplitterTest, SplitsAcrossChunksAndBoundsLength)
{
	LineSplitter s(8);
	std::vector<std::string> lines;
	auto sink = [&](const std::string &l) { lines.push_back(l); };
	s.feed("ab\r\ncd", 6, sink);
	s.feed("e\n", 2, sink);
	s.feed("0123456789\n", 11, sink);
	s.feed("tail", 4, sink);
	s.flush(sink);
	ASSERT_EQ(lines.size(), 5u);
	EXPECT_EQ(lines[0], "ab");
	EXPECT_EQ(lines[1], "cde");
	EXPECT_EQ(lines[2], "01234567");
	EXPECT_EQ(lines[3], "89");
	EXPECT_EQ(lines[4], "tail");
}

} // namespace
} // namespace vsst
