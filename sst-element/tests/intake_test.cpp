// SPDX-License-Identifier: Apache-2.0
// The SST-core bridge's client side without SST (sim::ClientIntake) and the
// socket checks it shares with sst-sim (sim::SocketFile, PeerPolicy): each
// bound of issue 16's finding 7 on its own, over a real socketpair.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "sim_test_util.h"
#include "vsst/protocol/frame_codec.h"
#include "vsst/sim/client_intake.h"
#include "vsst/sim/memory_budget.h"
#include "vsst/sim/socket_place.h"

namespace vsst::sim {
namespace {

constexpr int64_t kSec = 1'000'000'000;

struct Pair {
	UniqueFd ours, peer;
	Pair()
	{
		int sv[2];
		EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
		ours.reset(sv[0]);
		peer.reset(sv[1]);
	}
	// Writes what the socket takes (non-blocking); returns the count.
	size_t send(std::span<const uint8_t> b) const
	{
		size_t done = 0;
		while (done < b.size()) {
			const ssize_t n = ::send(peer.get(), b.data() + done, b.size() - done, MSG_NOSIGNAL);
			if (n <= 0)
				break;
			done += static_cast<size_t>(n);
		}
		return done;
	}
};

std::vector<uint8_t> acalsim_noops(size_t count)
{
	std::vector<uint8_t> v;
	for (size_t i = 0; i < count; ++i) {
		const SSTRequest r = test::make_req(SST_REQ_NOOP, i + 1);
		auto b = test::bytes_of(r);
		v.insert(v.end(), b.begin(), b.end());
	}
	return v;
}

// Answers every request at once (as the bridge's embedded model would).
struct Answerer {
	ClientIntake &in;
	std::vector<uint64_t> tokens;
	ServerSession::RequestFn fn()
	{
		return [this](uint64_t token, std::span<const uint8_t>) { tokens.push_back(token); };
	}
	void answer_all()
	{
		for (uint64_t t : tokens) {
			SSTResponse r{};
			in.session().emit_response(
				in.output(), t, 0, 0,
				{reinterpret_cast<const uint8_t *>(&r), SST_RESPONSE_HEADER_SIZE});
			EXPECT_TRUE(in.retire());
		}
		tokens.clear();
	}
};

TEST(ClientIntake, ReadsAtMostItsBudgetPerPump)
{
	Pair p;
	IntakeLimits lim;
	lim.read_budget = 16 * 1024;
	ClientIntake in(Protocol::kAcalsim, 1'000'000'000, lim);
	Answerer a{in, {}};
	const auto bytes = acalsim_noops(20); // 82 KB: several pumps' worth
	ASSERT_EQ(p.send(bytes), bytes.size());
	uint64_t last = 0;
	int pumps = 0;
	while (in.bytes_received() < bytes.size() && pumps < 100) {
		in.pump(p.ours.get(), 0, a.fn());
		EXPECT_LE(in.bytes_received() - last, lim.read_budget);
		last = in.bytes_received();
		a.answer_all();
		++pumps;
	}
	EXPECT_EQ(in.bytes_received(), bytes.size());
	EXPECT_GE(pumps, 6);
	EXPECT_EQ(in.handed_out(), 20u);
}

TEST(ClientIntake, HandsOutNoMoreThanMaxInFlight)
{
	Pair p;
	IntakeLimits lim;
	lim.max_in_flight = 8;
	ClientIntake in(Protocol::kAcalsim, 1'000'000'000, lim);
	std::vector<uint64_t> tokens;
	auto fn = [&](uint64_t t, std::span<const uint8_t>) { tokens.push_back(t); };
	const auto bytes = acalsim_noops(40);
	ASSERT_EQ(p.send(bytes), bytes.size());
	for (int i = 0; i < 5; ++i)
		in.pump(p.ours.get(), 0, fn);
	EXPECT_EQ(tokens.size(), 8u);
	EXPECT_EQ(in.in_flight(), 8u);
	EXPECT_FALSE(in.wants_read());
	// Unread bytes stay in the socket, not in our buffer: at most what was
	// read before the limit was reached (one chunk) is held.
	EXPECT_LE(in.buffered_input(), 64u * 1024);
	for (int i = 0; i < 3; ++i)
		EXPECT_TRUE(in.retire());
	in.pump(p.ours.get(), 0, fn);
	EXPECT_EQ(tokens.size(), 11u);
	EXPECT_EQ(in.in_flight(), 8u);
	// More retirements than requests are refused, not counted.
	ClientIntake empty(Protocol::kAcalsim, 1'000'000'000, lim);
	EXPECT_FALSE(empty.retire());
	EXPECT_EQ(empty.in_flight(), 0u);
}

TEST(ClientIntake, StopsTakingRequestsWhileThePeerDoesNotRead)
{
	Pair p;
	IntakeLimits lim;
	lim.output_high_water = 64 * 1024;
	lim.max_in_flight = 1'000'000;
	ClientIntake in(Protocol::kAcalsim, 1'000'000'000, lim);
	Answerer a{in, {}};
	const auto bytes = acalsim_noops(200); // 800 KB of 4112-byte answers if all were taken
	size_t sent = 0;
	for (int i = 0; i < 200; ++i) {
		sent += p.send(std::span(bytes).subspan(sent));
		in.pump(p.ours.get(), 0, a.fn());
		a.answer_all();
		in.flush(p.ours.get(), 0); // the socket buffer fills; the peer never reads
	}
	// Output is held to the high-water mark plus one pump's answers.
	EXPECT_LT(in.output().size(), lim.output_high_water + 300 * 4112);
	EXPECT_FALSE(in.can_take_requests());
	EXPECT_LT(in.handed_out(), 200u);
}

TEST(ClientIntake, IdleTimeoutOnlyWithNothingInFlight)
{
	Pair p;
	IntakeLimits lim;
	lim.idle_timeout_ns = 2 * kSec;
	ClientIntake in(Protocol::kAcalsim, 1'000'000'000, lim);
	Answerer a{in, {}};
	in.pump(p.ours.get(), 0, a.fn());
	EXPECT_FALSE(in.check_idle(1 * kSec));
	EXPECT_FALSE(in.input_over());
	// A request in flight is not idleness, however long it takes.
	const auto one = acalsim_noops(1);
	p.send(one);
	in.pump(p.ours.get(), 1 * kSec, a.fn());
	EXPECT_EQ(in.in_flight(), 1u);
	EXPECT_FALSE(in.check_idle(10 * kSec));
	a.answer_all();
	in.flush(p.ours.get(), 10 * kSec);
	EXPECT_FALSE(in.check_idle(11 * kSec));
	EXPECT_TRUE(in.check_idle(12 * kSec));
	EXPECT_TRUE(in.input_over());
	EXPECT_TRUE(in.finished(12 * kSec));
	EXPECT_NE(in.end_reason().find("idle timeout: nothing received for 2.0 s"), std::string::npos)
		<< in.end_reason();
	// Off by default.
	ClientIntake off(Protocol::kAcalsim, 1'000'000'000);
	off.pump(p.ours.get(), 0, a.fn());
	EXPECT_FALSE(off.check_idle(1'000'000 * kSec));
}

TEST(ClientIntake, ClosedPeerStillGetsItsAnswers)
{
	Pair p;
	ClientIntake in(Protocol::kAcalsim, 1'000'000'000);
	Answerer a{in, {}};
	const auto two = acalsim_noops(2);
	p.send(two);
	::shutdown(p.peer.get(), SHUT_WR);
	in.pump(p.ours.get(), 0, a.fn());
	EXPECT_TRUE(in.input_over());
	EXPECT_EQ(in.end_reason(), "peer closed");
	EXPECT_FALSE(in.finished(100 * kSec)); // two answers owed, whatever the time
	a.answer_all();
	EXPECT_FALSE(in.finished(0)); // written yet? not flushed
	in.flush(p.ours.get(), 0);
	EXPECT_TRUE(in.finished(0));
	std::vector<uint8_t> got(3 * 4112);
	EXPECT_EQ(::recv(p.peer.get(), got.data(), got.size(), 0), 2 * 4112);
}

TEST(ClientIntake, ProtocolErrorAbandonsWhatIsInFlight)
{
	Pair p;
	ClientIntake in(Protocol::kFramed, 1'000'000'000);
	Answerer a{in, {}};
	const std::vector<uint8_t> junk(64, 0xab); // not the frame magic
	p.send(junk);
	in.pump(p.ours.get(), 0, a.fn());
	EXPECT_TRUE(in.session().closing());
	EXPECT_NE(in.end_reason().find("protocol error"), std::string::npos) << in.end_reason();
	in.flush(p.ours.get(), 0); // the ERROR frame
	EXPECT_TRUE(in.finished(0));
	EXPECT_FALSE(in.wants_read());
}

TEST(ClientIntake, LingerBoundsAPeerThatNeverReads)
{
	Pair p;
	IntakeLimits lim;
	lim.linger_ns = 5 * kSec;
	ClientIntake in(Protocol::kAcalsim, 1'000'000'000, lim);
	Answerer a{in, {}};
	const int small = 4096; // our answers back up after a few
	ASSERT_EQ(::setsockopt(p.ours.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
	const auto many = acalsim_noops(40);
	ASSERT_EQ(p.send(many), many.size());
	::shutdown(p.peer.get(), SHUT_WR);
	for (int i = 0; i < 20 && !in.input_over(); ++i) {
		in.pump(p.ours.get(), 0, a.fn());
		a.answer_all();
		in.flush(p.ours.get(), 0);
	}
	ASSERT_TRUE(in.input_over());
	ASSERT_FALSE(in.output().empty()); // the peer's socket buffer is full
	EXPECT_FALSE(in.finished(4 * kSec));
	EXPECT_TRUE(in.finished(6 * kSec));
}

std::string temp_dir()
{
	char tmpl[] = "/tmp/vsst-intake-XXXXXX";
	const char *d = ::mkdtemp(tmpl);
	EXPECT_NE(d, nullptr);
	return d ? d : "";
}

bool connects(const std::string &path)
{
	sockaddr_un a{};
	a.sun_family = AF_UNIX;
	std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
	UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	return ::connect(fd.get(), reinterpret_cast<sockaddr *>(&a), sizeof a) == 0;
}

TEST(SocketFile, RemovesOnlyItsOwnFile)
{
	const std::string dir = temp_dir();
	const std::string path = dir + "/s.sock";
	std::string err;
	{
		SocketFile s;
		ASSERT_TRUE(s.open(path, 4, err)) << err;
		EXPECT_TRUE(s.still_ours());
		EXPECT_TRUE(connects(path));
	}
	struct stat st {};
	EXPECT_NE(::lstat(path.c_str(), &st), 0); // ours: removed

	// Someone removes our file and binds their own at the path: ours must
	// not delete theirs when it closes.
	SocketFile mine;
	ASSERT_TRUE(mine.open(path, 4, err)) << err;
	ASSERT_EQ(::unlink(path.c_str()), 0);
	SocketFile theirs;
	ASSERT_TRUE(theirs.open(path, 4, err)) << err;
	EXPECT_FALSE(mine.still_ours());
	mine.close();
	EXPECT_EQ(::lstat(path.c_str(), &st), 0);
	EXPECT_TRUE(connects(path));
	// A regular file put in place of the socket is left alone, too.
	theirs.close();
	SocketFile again;
	ASSERT_TRUE(again.open(path, 4, err)) << err;
	ASSERT_EQ(::unlink(path.c_str()), 0);
	std::ofstream(path) << "not a socket";
	again.close();
	EXPECT_EQ(::lstat(path.c_str(), &st), 0);
	EXPECT_TRUE(S_ISREG(st.st_mode));
	std::filesystem::remove_all(dir);
}

TEST(SocketFile, RefusesLiveServerAndNonSocketReplacesStale)
{
	const std::string dir = temp_dir();
	const std::string path = dir + "/s.sock";
	std::string err;
	SocketFile live;
	ASSERT_TRUE(live.open(path, 4, err)) << err;
	SocketFile second;
	EXPECT_FALSE(second.open(path, 4, err));
	EXPECT_NE(err.find("live server"), std::string::npos) << err;

	// Stale: bound but nobody listening.
	const std::string stale = dir + "/stale.sock";
	{
		UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
		sockaddr_un a{};
		a.sun_family = AF_UNIX;
		std::strncpy(a.sun_path, stale.c_str(), sizeof a.sun_path - 1);
		ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr *>(&a), sizeof a), 0);
	}
	bool replaced = false;
	SocketFile s;
	ASSERT_TRUE(s.open(stale, 4, err, &replaced)) << err;
	EXPECT_TRUE(replaced);

	const std::string file = dir + "/file";
	std::ofstream(file) << "x";
	SocketFile f;
	EXPECT_FALSE(f.open(file, 4, err));
	EXPECT_NE(err.find("not a socket"), std::string::npos) << err;
	std::filesystem::remove_all(dir);
}

TEST(PeerPolicy, ParsesAndAdmits)
{
	std::string err;
	auto def = PeerPolicy::parse("", err);
	ASSERT_TRUE(def);
	EXPECT_TRUE(def->allows(::geteuid()));
	EXPECT_TRUE(def->allows(0));
	EXPECT_FALSE(def->allows(::geteuid() + 12345));
	auto any = PeerPolicy::parse("any", err);
	ASSERT_TRUE(any);
	EXPECT_TRUE(any->allows(4242));
	auto list = PeerPolicy::parse("65534,1000", err);
	ASSERT_TRUE(list);
	EXPECT_TRUE(list->allows(1000));
	EXPECT_FALSE(list->allows(0));
	EXPECT_EQ(list->describe(), "uid 65534,1000");
	// vmm-proxy's --run-as auto ids: a range, next to root.
	auto range = PeerPolicy::parse("0,2100000000-2100065535", err);
	ASSERT_TRUE(range) << err;
	EXPECT_TRUE(range->allows(0));
	EXPECT_TRUE(range->allows(2100000000));
	EXPECT_TRUE(range->allows(2100065535));
	EXPECT_FALSE(range->allows(2100065536));
	EXPECT_FALSE(range->allows(1000));
	EXPECT_EQ(range->describe(), "uid 0,2100000000-2100065535");
	for (const char *bad : {"x", "1,,2", "1,", "-1", "99999999999", "5-3", "1-", "1-x"}) {
		EXPECT_FALSE(PeerPolicy::parse(bad, err)) << bad;
		EXPECT_NE(err.find("not a uid"), std::string::npos) << err;
	}
}

// The first connector does not win: a peer of a uid the policy does not
// admit is closed at accept, and the next admitted one is served.
TEST(PeerPolicy, AcceptRefusesForeignUids)
{
	const std::string dir = temp_dir();
	const std::string path = dir + "/s.sock";
	std::string err;
	SocketFile s;
	ASSERT_TRUE(s.open(path, 4, err)) << err;
	PeerPolicy others;
	others.uids = {::geteuid() + 4242}; // we are "foreign" to it
	ASSERT_TRUE(connects(path));
	std::vector<std::string> refused;
	UniqueFd fd = accept_admitted(s.fd(), others, refused);
	EXPECT_FALSE(fd);
	ASSERT_EQ(refused.size(), 1u);
	EXPECT_NE(
		refused[0].find("uid " + std::to_string(::geteuid()) + " pid " + std::to_string(::getpid())),
		std::string::npos)
		<< refused[0];
	refused.clear();
	ASSERT_TRUE(connects(path));
	fd = accept_admitted(s.fd(), PeerPolicy::own_uid_and_root(), refused);
	EXPECT_TRUE(fd);
	EXPECT_TRUE(refused.empty());
	std::filesystem::remove_all(dir);
}

TEST(ProcessMemoryBudget, OneBudgetPerProcess)
{
	MemoryBudget &a = process_memory_budget(1 << 20);
	MemoryBudget &b = process_memory_budget(1 << 30);
	EXPECT_EQ(&a, &b);
	EXPECT_EQ(b.limit(), 1u << 20); // the first call fixed it
}

} // namespace
} // namespace vsst::sim
