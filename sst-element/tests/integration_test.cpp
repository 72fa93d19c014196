// SPDX-License-Identifier: Apache-2.0
// sst-sim as a real process, driven over its Unix socket.
// Usage: sim_integration <path to sst-sim> [gtest flags]
// (falls back to $VSST_BIN/sst-sim).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "sim_test_util.h"
#include "vsst/posix/child_process.h"
#include "vsst/posix/temp_dir.h"
#include "vsst/posix/unique_fd.h"
#include "vsst/sim/sim_client.h"

namespace vsst::sim {
namespace {

std::string g_sim_bin;
constexpr int kTimeout = 10000;

std::string read_file(const std::string &path)
{
	std::ifstream in(path);
	std::stringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

// A child process running sst-sim; killed and reaped on destruction. Its output is
// appended to <dir>/sim.log, which the processes of one test share.
class SimProcess {
public:
	SimProcess(const std::string &dir, std::vector<std::string> args) : log_(dir + "/sim.log")
	{
		vsst::SpawnSpec spec;
		spec.name = "sst-sim";
		spec.argv = std::move(args);
		spec.argv.insert(spec.argv.begin(), g_sim_bin);
		vsst::UniqueFd log(::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
		spec.stdout_fd = spec.stderr_fd = log.get();
		std::string error;
		if (!proc_.spawn(spec, error) && !proc_.exit_info())
			ADD_FAILURE() << error; // a failed exec is seen as exit status 127
	}
	~SimProcess() { proc_.terminate(std::chrono::milliseconds(0)); }
	pid_t pid() const { return proc_.pid(); }
	// Waits up to timeout_ms for the exit; nullopt if it is still running.
	std::optional<vsst::ExitInfo> wait_exit(int timeout_ms)
	{
		return proc_.wait(std::chrono::milliseconds(timeout_ms));
	}
	std::string log() const { return read_file(log_); }

private:
	std::string log_;
	vsst::ChildProcess proc_;
};

class SimIntegration : public ::testing::Test {
protected:
	void SetUp() override
	{
		dir_ = tmp_.path().string();
		path_ = dir_ + "/sim.sock";
	}
	std::unique_ptr<SimProcess> start(std::vector<std::string> extra = {})
	{
		std::vector<std::string> args = {"--socket", path_, "--status-interval", "0.5"};
		args.insert(args.end(), extra.begin(), extra.end());
		return std::make_unique<SimProcess>(dir_, args);
	}
	SimClient connect()
	{
		std::string err;
		auto c = SimClient::connect(path_, kTimeout, &err);
		EXPECT_TRUE(c) << err;
		if (!c)
			throw std::runtime_error(err);
		return std::move(*c);
	}
	bool socket_exists() const
	{
		struct stat st {};
		return ::lstat(path_.c_str(), &st) == 0;
	}
	vsst::TempDir tmp_{"vsst-siminteg"};
	std::string dir_, path_;
};

// A deterministic mix: NOOP, COMPUTE, WRITE of 4 KiB, READ.
SSTRequest mixed_request(uint64_t i)
{
	switch (i % 4) {
	case 0:
		return test::make_req(SST_REQ_NOOP, i);
	case 1:
		return test::compute_req(1 + i % 5, static_cast<uint32_t>(1 + i % 3), i);
	case 2: {
		std::vector<uint8_t> data(4000, static_cast<uint8_t>(i));
		return test::write_req((i % 64) * 4096, data, i);
	}
	default:
		return test::read_req((i % 64) * 4096, 64, i);
	}
}

TEST_F(SimIntegration, Pipelined10kRequests)
{
	auto sim = start();
	SimClient c = connect();
	ASSERT_TRUE(c.hello(1, false, kTimeout));
	constexpr uint64_t kCount = 10000;
	std::atomic<bool> send_ok{true};
	// The writer never waits for answers: everything is in flight at once,
	// bounded only by the socket buffers and the server's backpressure.
	std::thread writer([&] {
		for (uint64_t i = 1; i <= kCount && send_ok; ++i) {
			const SSTRequest r = mixed_request(i);
			if (!c.send_request(i, r, request_wire_size(r), kTimeout))
				send_ok = false;
		}
	});
	std::set<uint64_t> seen;
	uint64_t last_ps = 0;
	bool ordered = true;
	for (uint64_t n = 0; n < kCount; ++n) {
		auto f = c.read_frame(kTimeout);
		ASSERT_TRUE(f) << "after " << n << " responses\n" << sim->log();
		ASSERT_EQ(f->hdr.type, VSST_SIM_RESPONSE);
		ASSERT_GE(f->payload.size(), sizeof(vsst_sim_resp_meta) + SST_RESPONSE_HEADER_SIZE);
		vsst_sim_resp_meta meta;
		std::memcpy(&meta, f->payload.data(), sizeof meta);
		SSTResponse r{};
		std::memcpy(&r, f->payload.data() + sizeof meta,
			    std::min(sizeof r, f->payload.size() - sizeof meta));
		EXPECT_EQ(r.status, SST_STATUS_OK) << "tag " << f->hdr.tag;
		EXPECT_EQ(r.request_id, f->hdr.tag);
		EXPECT_EQ(r.user_data, f->hdr.tag * 7 + 3);
		EXPECT_TRUE(seen.insert(f->hdr.tag).second) << "duplicate tag " << f->hdr.tag;
		ordered = ordered && meta.complete_ps >= last_ps; // delivered in simulated-time order
		last_ps = std::max(last_ps, meta.complete_ps);
	}
	writer.join();
	EXPECT_TRUE(send_ok);
	EXPECT_EQ(seen.size(), kCount);
	EXPECT_EQ(*seen.begin(), 1u);
	EXPECT_EQ(*seen.rbegin(), kCount);
	EXPECT_GT(last_ps, 0u);
	EXPECT_TRUE(ordered);
}

// A burst whose answers exceed the server's output limit, then a
// half-close: the server throttles, resumes, and still answers everything.
TEST_F(SimIntegration, HalfClosedBurstGetsEveryAnswer)
{
	auto sim = start();
	SimClient c = connect();
	ASSERT_TRUE(c.hello(1, false, kTimeout));
	constexpr uint64_t kCount = 3000; // 3000 x ~4.1 KiB answers = ~12 MiB
	std::atomic<bool> send_ok{true};
	std::thread writer([&] {
		for (uint64_t i = 1; i <= kCount && send_ok; ++i) {
			const SSTRequest r = test::read_req((i % 128) * 4096, SST_MAX_DATA_SIZE, i);
			if (!c.send_request(i, r, request_wire_size(r), kTimeout))
				send_ok = false;
		}
		::shutdown(c.fd(), SHUT_WR);
	});
	std::this_thread::sleep_for(std::chrono::milliseconds(300)); // let the output pile up
	uint64_t got = 0;
	while (got < kCount) {
		auto f = c.read_frame(kTimeout);
		if (!f)
			break;
		if (f->hdr.type == VSST_SIM_RESPONSE)
			++got;
	}
	writer.join();
	EXPECT_TRUE(send_ok);
	EXPECT_EQ(got, kCount) << sim->log();
	EXPECT_TRUE(c.wait_closed(kTimeout)); // and then the server hangs up
}

// One framed client with a window of 64 and one acalsim client, at once:
// each sees its own device memory and all its answers.
TEST_F(SimIntegration, TwoClientsAtOnce)
{
	auto sim = start();
	constexpr uint64_t kEach = 2000;
	std::atomic<int> framed_ok{0}, acalsim_ok{0};
	std::thread framed([&] {
		SimClient c = connect();
		if (!c.hello(1, false, kTimeout))
			return;
		uint64_t sent = 0, got = 0;
		auto send_next = [&] {
			++sent;
			// Odd requests write this client's pattern, even ones read it back.
			SSTRequest r = (sent % 2) ? test::write_req(0, std::vector<uint8_t>(256, 0xAA), sent)
						  : test::read_req(0, 256, sent);
			return c.send_request(sent, r, request_wire_size(r), kTimeout);
		};
		while (sent < 64 && send_next()) {
		}
		while (got < kEach) {
			auto f = c.read_frame(kTimeout);
			if (!f || f->hdr.type != VSST_SIM_RESPONSE)
				return;
			++got;
			SSTResponse r{};
			std::memcpy(&r, f->payload.data() + sizeof(vsst_sim_resp_meta),
				    std::min(sizeof r, f->payload.size() - sizeof(vsst_sim_resp_meta)));
			const bool is_read = f->hdr.tag % 2 == 0;
			if (r.status == SST_STATUS_OK && r.request_id == f->hdr.tag &&
			    (!is_read || (r.payload.data[0] == 0xAA && r.payload.data[255] == 0xAA))) {
				++framed_ok;
			}
			if (sent < kEach && !send_next())
				return;
		}
	});
	std::thread acalsim([&] {
		SimClient c = connect();
		for (uint64_t i = 1; i <= kEach; ++i) {
			SSTRequest r = (i % 2) ? test::write_req(0, std::vector<uint8_t>(256, 0x55), i)
					       : test::read_req(0, 256, i);
			auto resp = c.acalsim_call(r, kTimeout);
			if (!resp)
				return;
			const bool is_read = i % 2 == 0;
			if (resp->status == SST_STATUS_OK && resp->request_id == i &&
			    (!is_read ||
			     (resp->payload.data[0] == 0x55 && resp->payload.data[255] == 0x55))) {
				++acalsim_ok;
			}
		}
	});
	framed.join();
	acalsim.join();
	EXPECT_EQ(framed_ok.load(), static_cast<int>(kEach)) << sim->log();
	EXPECT_EQ(acalsim_ok.load(), static_cast<int>(kEach)) << sim->log();
}

TEST_F(SimIntegration, SigtermDuringLoadStopsCleanly)
{
	auto sim = start();
	std::atomic<bool> stop{false};
	std::atomic<uint64_t> answered{0};
	auto load = [&](bool framed) {
		try {
			SimClient c = connect();
			if (framed && !c.hello(1, false, kTimeout))
				return;
			for (uint64_t i = 1; !stop; ++i) {
				const SSTRequest r = mixed_request(i);
				if (framed) {
					if (!c.send_request(i, r, request_wire_size(r), 2000))
						return;
					if (!c.read_frame(2000))
						return;
				} else if (!c.acalsim_call(r, 2000)) {
					return;
				}
				++answered;
			}
		} catch (const std::exception &) {
		}
	};
	std::thread a(load, true), b(load, false);
	const auto t0 = std::chrono::steady_clock::now();
	const auto deadline = t0 + std::chrono::seconds(10);
	// Under load for at least two status periods.
	while ((answered < 1000 || std::chrono::steady_clock::now() < t0 + std::chrono::seconds(1)) &&
	       std::chrono::steady_clock::now() < deadline) {
		std::this_thread::sleep_for(std::chrono::milliseconds(5));
	}
	EXPECT_GE(answered.load(), 1000u) << "no load reached the server\n" << sim->log();
	ASSERT_EQ(::kill(sim->pid(), SIGTERM), 0);
	const auto status = sim->wait_exit(10000);
	stop = true;
	a.join();
	b.join();
	ASSERT_TRUE(status) << "sst-sim did not exit after SIGTERM\n" << sim->log();
	EXPECT_TRUE(status->exited) << sim->log();
	EXPECT_EQ(status->status, 0) << sim->log();
	EXPECT_FALSE(socket_exists()) << "socket file left behind";
	const std::string log = sim->log();
	EXPECT_NE(log.find("statistics:"), std::string::npos) << log;
	EXPECT_NE(log.find("status:"), std::string::npos) << log; // periodic status line ran
}

TEST_F(SimIntegration, RefusesLiveSocketReplacesStaleOne)
{
	auto sim = start();
	SimClient c = connect();
	ASSERT_TRUE(c.hello(1, false, kTimeout));
	auto second = start();
	const auto status = second->wait_exit(10000);
	ASSERT_TRUE(status);
	EXPECT_EQ(status->code(), 1);
	// The first one is unharmed.
	ASSERT_TRUE(c.send_request(1, test::make_req(SST_REQ_NOOP), 24, kTimeout));
	EXPECT_TRUE(c.read_frame(kTimeout));
	// SIGKILL leaves a stale socket file behind; a new server takes it over.
	::kill(sim->pid(), SIGKILL);
	sim->wait_exit(10000);
	EXPECT_TRUE(socket_exists());
	auto third = start();
	SimClient d = connect();
	EXPECT_TRUE(d.hello(2, false, kTimeout)) << third->log();
	::kill(third->pid(), SIGINT);
	const auto st3 = third->wait_exit(10000);
	EXPECT_TRUE(st3 && st3->exited && st3->status == 0);
	EXPECT_FALSE(socket_exists());
}

TEST_F(SimIntegration, HelpAndUsageErrors)
{
	auto help = std::make_unique<SimProcess>(dir_, std::vector<std::string>{"--help"});
	const auto st = help->wait_exit(10000);
	EXPECT_TRUE(st && st->exited && st->status == 0);
	const std::string text = help->log();
	for (const char *flag :
	     {"--socket", "--protocol", "--config", "--paced", "--pace-scale", "--status-interval",
	      "--compute-units", "--latency-model", "--mem-size", "--clock-hz"}) {
		EXPECT_NE(text.find(flag), std::string::npos) << flag;
	}
	auto bad = std::make_unique<SimProcess>(dir_, std::vector<std::string>{"--compute-units", "0"});
	const auto st2 = bad->wait_exit(10000);
	EXPECT_TRUE(st2 && st2->exited && st2->status == 2);
}

} // namespace
} // namespace vsst::sim

int main(int argc, char **argv)
{
	::testing::InitGoogleTest(&argc, argv);
	if (argc > 1) {
		vsst::sim::g_sim_bin = argv[1];
	} else if (const char *bin = std::getenv("VSST_BIN")) {
		vsst::sim::g_sim_bin = std::string(bin) + "/sst-sim";
	}
	if (vsst::sim::g_sim_bin.empty() || ::access(vsst::sim::g_sim_bin.c_str(), X_OK) != 0) {
		std::fprintf(stderr, "sst-sim binary not found ('%s'): pass its path or set VSST_BIN\n",
			     vsst::sim::g_sim_bin.c_str());
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	return RUN_ALL_TESTS();
}
