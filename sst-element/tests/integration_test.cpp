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
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "json_lite.h"
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

// --stats-out: the file written at SIGTERM holds what the clients sent, per
// connection (the closed acalsim one and the framed one still open), with
// samples matching the responses one by one up to the cap.
TEST_F(SimIntegration, StatsOutMatchesWhatWasSent)
{
	const std::string stats = dir_ + "/stats.json";
	constexpr uint64_t kCap = 50;
	auto sim = start({"--stats-out", stats, "--stats-samples", std::to_string(kCap)});

	// acalsim: 3 GET_INFO, then hang up (a closed connection must be in the file).
	{
		SimClient a = connect();
		for (uint64_t i = 1; i <= 3; ++i)
			ASSERT_TRUE(a.acalsim_call(test::make_req(SST_REQ_GET_INFO, i), kTimeout));
	}
	// framed: a known mix, one request at a time, recording what came back.
	SimClient c = connect();
	ASSERT_TRUE(c.hello(7, false, kTimeout));
	struct Sent {
		uint32_t type;
		uint64_t complete_ps;
		bool ok;
	};
	std::vector<Sent> sent;
	uint64_t tag = 0, last_ps = 0;
	auto call = [&](const SSTRequest &r, size_t len) {
		ASSERT_TRUE(c.send_request(++tag, r, len, kTimeout));
		auto f = c.read_frame(kTimeout);
		ASSERT_TRUE(f && f->hdr.type == VSST_SIM_RESPONSE) << sim->log();
		vsst_sim_resp_meta meta;
		std::memcpy(&meta, f->payload.data(), sizeof meta);
		SSTResponse resp{};
		std::memcpy(&resp, f->payload.data() + sizeof meta,
			    std::min(sizeof resp, f->payload.size() - sizeof meta));
		sent.push_back({r.type, meta.complete_ps, resp.status == SST_STATUS_OK});
		last_ps = std::max(last_ps, meta.complete_ps);
	};
	for (int i = 0; i < 30; ++i)
		call(test::make_req(SST_REQ_NOOP, tag + 1), 24);
	for (int i = 0; i < 20; ++i) {
		const SSTRequest r = test::compute_req(10, SST_LATENCY_FIXED, tag + 1);
		call(r, request_wire_size(r));
	}
	for (int i = 0; i < 10; ++i) {
		const SSTRequest w = test::write_req(4096u * i, std::vector<uint8_t>(100, 1), tag + 1);
		call(w, request_wire_size(w));
		const SSTRequest r = test::read_req(4096u * i, 100, tag + 1);
		call(r, request_wire_size(r));
	}
	for (int i = 0; i < 5; ++i) { // beyond the 256 MiB device memory: INVALID
		const SSTRequest r = test::read_req(1ull << 40, 8, tag + 1);
		call(r, request_wire_size(r));
	}
	call(test::make_req(99, tag + 1), 24); // unknown type: INVALID
	// A delimited frame of a type clients must not send: one ERROR frame.
	ASSERT_TRUE(c.send_frame(VSST_SIM_EVENT, 4242, nullptr, 0, kTimeout));
	auto err_frame = c.read_frame(kTimeout);
	ASSERT_TRUE(err_frame && err_frame->hdr.type == VSST_SIM_ERROR);
	ASSERT_EQ(sent.size(), 76u);

	ASSERT_EQ(::kill(sim->pid(), SIGTERM), 0);
	const auto status = sim->wait_exit(10000);
	ASSERT_TRUE(status && status->exited && status->status == 0) << sim->log();
	const std::string text = read_file(stats);
	test::JsonParser parser(text);
	const auto doc = parser.parse();
	ASSERT_TRUE(doc) << parser.error() << "\n" << text.substr(0, 2000);
	const test::Json &d = *doc;
	EXPECT_EQ(d["schema"].text, "vsst-sim-stats");
	EXPECT_EQ(d["version"].u64(), 1u);
	EXPECT_EQ(d["simulator"]["name"].text, "sst-sim");
	EXPECT_FALSE(d["simulator"]["version"].text.empty());
	ASSERT_EQ(d["simulator"]["argv"].kind, test::Json::Kind::kArray);
	EXPECT_EQ(d["simulator"]["argv"][0].text, g_sim_bin);
	EXPECT_EQ(d["sample_cap"].u64(), kCap);
	EXPECT_GT(d["wall_s"].num, 0.0);
	ASSERT_EQ(d["devices"].items.size(), 2u) << text.substr(0, 2000);

	const test::Json &acal = d["devices"][0];
	EXPECT_EQ(acal["connection"].u64(), 0u);
	EXPECT_EQ(acal["protocol"].text, "acalsim");
	EXPECT_EQ(acal["device_id"].kind, test::Json::Kind::kNull);
	EXPECT_EQ(acal["requests"]["GET_INFO"].u64(), 3u);
	EXPECT_EQ(acal["requests_total"].u64(), 3u);
	EXPECT_EQ(acal["close_reason"].text, "peer closed");
	EXPECT_EQ(acal["samples"].items.size(), 3u);

	const test::Json &dev = d["devices"][1];
	EXPECT_EQ(dev["connection"].u64(), 1u);
	EXPECT_EQ(dev["protocol"].text, "framed");
	EXPECT_EQ(dev["device_id"].u64(), 7u);
	EXPECT_EQ(dev["close_reason"].text, "server stopping");
	const test::Json &req = dev["requests"];
	EXPECT_EQ(req["NOOP"].u64(), 30u);
	EXPECT_EQ(req["COMPUTE"].u64(), 20u);
	EXPECT_EQ(req["WRITE"].u64(), 10u);
	EXPECT_EQ(req["READ"].u64(), 15u);
	EXPECT_EQ(req["UNKNOWN"].u64(), 1u);
	EXPECT_EQ(req["ECHO"].u64() + req["RESET"].u64() + req["GET_INFO"].u64() + req["CONFIGURE"].u64(),
		  0u);
	EXPECT_EQ(dev["requests_total"].u64(), 76u);
	EXPECT_EQ(dev["responses"].u64(), 76u);
	EXPECT_EQ(dev["invalid"].u64(), 6u);
	EXPECT_EQ(dev["error_frames"].u64(), 1u);
	EXPECT_EQ(dev["errors"].u64(), 7u);
	EXPECT_EQ(dev["bytes_written"].u64(), 1000u);
	EXPECT_EQ(dev["bytes_read"].u64(), 1000u);
	EXPECT_EQ(dev["clock_hz"].u64(), 1'000'000'000u);
	EXPECT_EQ(dev["sim_time_ps"].u64(), last_ps);
	EXPECT_EQ(dev["cycles"].u64(), last_ps / 1000); // 1 GHz: 1000 ps per cycle
	// 20 COMPUTEs x 10 items x 100 cycles on 4 units over the device's time.
	const double busy = 100.0 * 20 * 10 * 100 * 1000 / (4.0 * static_cast<double>(last_ps));
	EXPECT_NEAR(dev["busy_pct"].num, busy, 1e-9 * busy);
	// Samples: the first kCap responses in the order they were sent, the rest counted.
	ASSERT_EQ(dev["samples"].items.size(), kCap);
	EXPECT_EQ(dev["samples_dropped"].u64(), 76 - kCap);
	int64_t prev_done = 0;
	for (size_t i = 0; i < kCap; ++i) {
		const test::Json &smp = dev["samples"][i];
		EXPECT_EQ(smp["type"].text, i < 30 ? "NOOP" : "COMPUTE") << i;
		EXPECT_EQ(smp["sim_end_ps"].u64(), sent[i].complete_ps) << i;
		EXPECT_EQ(smp["ok"].b, sent[i].ok) << i;
		EXPECT_LE(smp["sim_start_ps"].u64(), smp["sim_end_ps"].u64()) << i;
		const int64_t sub = smp["wall_submit_ns"].i64(), done = smp["wall_done_ns"].i64();
		EXPECT_GT(sub, 0) << i;
		EXPECT_LE(sub, done) << i;
		EXPECT_GE(done, prev_done) << i; // answered one after the other
		EXPECT_LE(static_cast<double>(done), d["wall_s"].num * 1e9) << i;
		prev_done = done;
	}
	// A COMPUTE of 10 items at 100 cycles/item sent alone: 1000 cycles = 1 us.
	const test::Json &comp = dev["samples"][30];
	EXPECT_EQ(comp["sim_end_ps"].u64() - comp["sim_start_ps"].u64(), 1'000'000u);
}

// --stats-out refuses a folder that does not exist at start-up (exit 1, not
// a lost file at the end) and replaces a symlink at the path instead of
// writing through it.
TEST_F(SimIntegration, StatsOutPathHandling)
{
	auto bad = start({"--stats-out", dir_ + "/missing/stats.json"});
	const auto st = bad->wait_exit(10000);
	ASSERT_TRUE(st && st->exited);
	EXPECT_EQ(st->status, 1);
	EXPECT_NE(bad->log().find("does not exist"), std::string::npos) << bad->log();

	const std::string victim = dir_ + "/victim.txt", link = dir_ + "/stats.json";
	{
		std::ofstream(victim) << "keep me";
	}
	ASSERT_EQ(::symlink(victim.c_str(), link.c_str()), 0);
	auto sim = start({"--stats-out", link});
	{
		SimClient c = connect();
		ASSERT_TRUE(c.hello(1, false, kTimeout));
	}
	ASSERT_EQ(::kill(sim->pid(), SIGINT), 0);
	const auto st2 = sim->wait_exit(10000);
	ASSERT_TRUE(st2 && st2->exited && st2->status == 0) << sim->log();
	EXPECT_EQ(read_file(victim), "keep me");
	struct stat lst {};
	ASSERT_EQ(::lstat(link.c_str(), &lst), 0);
	EXPECT_TRUE(S_ISREG(lst.st_mode));
	const std::string text = read_file(link); // the parser keeps a view of it
	test::JsonParser parser(text);
	const auto doc = parser.parse();
	ASSERT_TRUE(doc) << parser.error();
	EXPECT_EQ((*doc)["devices"].items.size(), 1u);
	// Nothing but the file itself is left in the folder (no temporary).
	int entries = 0;
	for (const auto &e : std::filesystem::directory_iterator(dir_))
		entries += e.path().filename().string().find(".tmp.") != std::string::npos;
	EXPECT_EQ(entries, 0);
}

size_t count_of(const std::string &text, const std::string &what)
{
	size_t n = 0;
	for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
		++n;
	return n;
}

std::string fmt_refused(uint64_t n)
{
	return std::to_string(n) + " WRITEs refused";
}

std::optional<SSTResponse> framed_call(SimClient &c, const SSTRequest &r, uint64_t tag)
{
	if (!c.send_request(tag, r, request_wire_size(r), kTimeout))
		return std::nullopt;
	auto f = c.read_frame(kTimeout);
	if (!f || f->hdr.type != VSST_SIM_RESPONSE || f->hdr.tag != tag ||
	    f->payload.size() < sizeof(vsst_sim_resp_meta) + SST_RESPONSE_HEADER_SIZE) {
		return std::nullopt;
	}
	SSTResponse resp{};
	std::memcpy(&resp, f->payload.data() + sizeof(vsst_sim_resp_meta),
		    std::min(sizeof resp, f->payload.size() - sizeof(vsst_sim_resp_meta)));
	return resp;
}

// --memory-budget bounds the device memory committed by all connections
// together: WRITEs needing new pages beyond it are answered ERROR (logged once
// per connection), everything else keeps being served, and a closed
// connection's pages become available to the others.
TEST_F(SimIntegration, MemoryBudgetIsSharedByAllConnections)
{
	auto sim = start({"--memory-budget", "64Ki"}); // 16 pages
	SimClient a = connect();
	ASSERT_TRUE(a.hello(1, false, kTimeout));
	SimClient b = connect();
	ASSERT_TRUE(b.hello(2, false, kTimeout));
	const std::vector<uint8_t> data(4000, 0x5a);
	uint64_t tag = 1;
	// Each connection may CONFIGURE 4 GiB: nothing is committed by that.
	for (SimClient *c : {&a, &b}) {
		auto r = framed_call(*c, test::config_req(SST_CFG_MEM_SIZE, 1ull << 32, tag), tag);
		ASSERT_TRUE(r);
		EXPECT_EQ(r->status, SST_STATUS_OK);
		++tag;
	}
	for (uint64_t page = 0; page < 16; ++page) {
		auto r = framed_call(a, test::write_req(page << 24, data, tag), tag);
		ASSERT_TRUE(r) << sim->log();
		EXPECT_EQ(r->status, SST_STATUS_OK) << "page " << page;
		++tag;
	}
	for (int i = 0; i < 3; ++i) { // a's 17th page, and twice more
		auto r = framed_call(a, test::write_req((20ull + i) << 24, data, tag), tag);
		ASSERT_TRUE(r);
		EXPECT_EQ(r->status, SST_STATUS_ERROR);
		++tag;
	}
	for (int i = 0; i < 2; ++i) { // b has not written anything, and still cannot
		auto r = framed_call(b, test::write_req(4096, data, tag), tag);
		ASSERT_TRUE(r);
		EXPECT_EQ(r->status, SST_STATUS_ERROR);
		++tag;
	}
	// Everything else is served on both: rewriting a committed page, reads, info.
	auto rw = framed_call(a, test::write_req(0, data, tag), tag);
	ASSERT_TRUE(rw);
	EXPECT_EQ(rw->status, SST_STATUS_OK);
	++tag;
	auto rd = framed_call(b, test::read_req(4096, 64, tag), tag);
	ASSERT_TRUE(rd);
	EXPECT_EQ(rd->status, SST_STATUS_OK);
	EXPECT_EQ(rd->payload.data[0], 0); // the refused write left nothing
	++tag;
	auto info = framed_call(b, test::make_req(SST_REQ_GET_INFO, tag), tag);
	ASSERT_TRUE(info);
	EXPECT_EQ(info->payload.info.memory_size, 1ull << 32);
	++tag;
	// a goes away: its 16 pages come back, b's write goes through.
	{
		SimClient gone = std::move(a);
	}
	// The server may not have seen the close yet: retries are refused too.
	bool written = false;
	uint64_t b_refused = 2;
	for (int i = 0; i < 100 && !written; ++i, ++tag) {
		auto r = framed_call(b, test::write_req(4096, data, tag), tag);
		ASSERT_TRUE(r);
		written = r->status == SST_STATUS_OK;
		if (!written) {
			EXPECT_EQ(r->status, SST_STATUS_ERROR);
			++b_refused;
			std::this_thread::sleep_for(std::chrono::milliseconds(50));
		}
	}
	EXPECT_TRUE(written) << sim->log();
	ASSERT_EQ(::kill(sim->pid(), SIGTERM), 0);
	const auto st = sim->wait_exit(10000);
	ASSERT_TRUE(st && st->exited && st->status == 0) << sim->log();
	const std::string log = sim->log();
	EXPECT_EQ(count_of(log, "the device memory budget is exhausted"), 2u) << log; // once each
	EXPECT_NE(log.find("3 WRITEs refused by the memory budget"), std::string::npos) << log;
	EXPECT_NE(log.find("committed at most 65536 of 65536 bytes"), std::string::npos) << log;
	EXPECT_NE(log.find(fmt_refused(b_refused) + " by the memory budget"), std::string::npos) << log;
	EXPECT_NE(log.find(fmt_refused(3 + b_refused) + " for it"), std::string::npos) << log;
}

// --idle-timeout closes connections that send nothing (with or without a
// HELLO) and logs why; a connection that keeps talking stays open.
TEST_F(SimIntegration, IdleConnectionsAreClosed)
{
	auto sim = start({"--idle-timeout", "2"});
	SimClient silent = connect();
	ASSERT_TRUE(silent.hello(1, false, kTimeout));
	SimClient mute = connect(); // never sends a byte
	SimClient active = connect();
	ASSERT_TRUE(active.hello(2, false, kTimeout));
	const auto t0 = std::chrono::steady_clock::now();
	std::atomic<bool> active_ok{true};
	std::thread talker([&] {
		// Every 200 ms for 6 s: three idle periods.
		for (uint64_t tag = 1; tag <= 30; ++tag) {
			auto r = framed_call(active, test::make_req(SST_REQ_NOOP, tag), tag);
			if (!r || r->status != SST_STATUS_OK)
				active_ok = false;
			std::this_thread::sleep_for(std::chrono::milliseconds(200));
		}
	});
	EXPECT_TRUE(silent.wait_closed(kTimeout)) << sim->log();
	const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
	EXPECT_GE(secs, 1.9);
	EXPECT_TRUE(mute.wait_closed(kTimeout)) << sim->log();
	talker.join();
	EXPECT_TRUE(active_ok) << sim->log();
	auto r = framed_call(active, test::make_req(SST_REQ_GET_INFO, 99), 99);
	EXPECT_TRUE(r && r->status == SST_STATUS_OK) << sim->log();
	ASSERT_EQ(::kill(sim->pid(), SIGTERM), 0);
	ASSERT_TRUE(sim->wait_exit(10000));
	const std::string log = sim->log();
	EXPECT_EQ(count_of(log, "idle timeout: nothing received for"), 2u) << log;
	EXPECT_NE(log.find("2 for idleness"), std::string::npos) << log;
}

// A connection waiting for a held (paced) response has a request in flight:
// it is not idle while it waits, only once the answer is out.
TEST_F(SimIntegration, IdleTimeoutSparesRequestsInFlight)
{
	// 10 work items x 100 cycles at 1 GHz = 1 us simulated, held 3 s.
	auto sim = start({"--idle-timeout", "1", "--paced", "--pace-scale", "3e6"});
	SimClient c = connect();
	ASSERT_TRUE(c.hello(1, false, kTimeout));
	const auto t0 = std::chrono::steady_clock::now();
	const SSTRequest req = test::compute_req(10, SST_LATENCY_DEFAULT, 5);
	ASSERT_TRUE(c.send_request(5, req, request_wire_size(req), kTimeout));
	auto f = c.read_frame(kTimeout);
	ASSERT_TRUE(f) << sim->log();
	EXPECT_EQ(f->hdr.type, VSST_SIM_RESPONSE);
	EXPECT_EQ(f->hdr.tag, 5u);
	const double held = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
	EXPECT_GE(held, 2.5);                               // well past the idle timeout
	EXPECT_TRUE(c.wait_closed(kTimeout)) << sim->log(); // and idle after it
	ASSERT_EQ(::kill(sim->pid(), SIGTERM), 0);
	ASSERT_TRUE(sim->wait_exit(10000));
	EXPECT_EQ(count_of(sim->log(), "idle timeout:"), 1u) << sim->log();
}

// Without --socket the server listens in a private directory: created 0700
// under $XDG_RUNTIME_DIR, and refused when someone could have planted or can
// enter it.
TEST_F(SimIntegration, DefaultSocketInPrivateDirectory)
{
	const char *old = std::getenv("XDG_RUNTIME_DIR");
	const std::string saved = old ? old : "";
	const std::string run = dir_ + "/run";
	ASSERT_EQ(::mkdir(run.c_str(), 0700), 0);
	::setenv("XDG_RUNTIME_DIR", run.c_str(), 1); // inherited by the child
	auto sim = std::make_unique<SimProcess>(dir_, std::vector<std::string>{"--status-interval", "0"});
	const std::string sock = run + "/vsst/sim.sock";
	std::string err;
	auto c = SimClient::connect(sock, kTimeout, &err);
	ASSERT_TRUE(c) << err << "\n" << sim->log();
	EXPECT_TRUE(c->hello(1, false, kTimeout));
	struct stat st {};
	ASSERT_EQ(::lstat((run + "/vsst").c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 07777, 0700u);
	EXPECT_NE(sim->log().find("listening on " + sock), std::string::npos) << sim->log();
	ASSERT_EQ(::kill(sim->pid(), SIGTERM), 0);
	ASSERT_TRUE(sim->wait_exit(10000));

	// A directory others can write into (or a symlink to one) is refused.
	ASSERT_EQ(::chmod((run + "/vsst").c_str(), 0777), 0);
	auto loose = std::make_unique<SimProcess>(dir_, std::vector<std::string>{"--status-interval", "0"});
	auto st2 = loose->wait_exit(10000);
	ASSERT_TRUE(st2);
	EXPECT_EQ(st2->code(), 1);
	EXPECT_NE(loose->log().find("has mode 0777"), std::string::npos) << loose->log();
	ASSERT_EQ(::rmdir((run + "/vsst").c_str()), 0);
	ASSERT_EQ(::symlink("/tmp", (run + "/vsst").c_str()), 0);
	auto link = std::make_unique<SimProcess>(dir_, std::vector<std::string>{"--status-interval", "0"});
	auto st3 = link->wait_exit(10000);
	ASSERT_TRUE(st3);
	EXPECT_EQ(st3->code(), 1);
	EXPECT_NE(link->log().find("is not a directory"), std::string::npos) << link->log();
	if (old)
		::setenv("XDG_RUNTIME_DIR", saved.c_str(), 1);
	else
		::unsetenv("XDG_RUNTIME_DIR");
}

TEST_F(SimIntegration, HelpAndUsageErrors)
{
	auto help = std::make_unique<SimProcess>(dir_, std::vector<std::string>{"--help"});
	const auto st = help->wait_exit(10000);
	EXPECT_TRUE(st && st->exited && st->status == 0);
	const std::string text = help->log();
	for (const char *flag :
	     {"--socket", "--protocol", "--config", "--paced", "--pace-scale", "--status-interval",
	      "--stats-out", "--stats-samples", "--compute-units", "--latency-model", "--mem-size",
	      "--clock-hz", "--memory-budget", "--idle-timeout"}) {
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
