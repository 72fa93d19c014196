// SPDX-License-Identifier: Apache-2.0
// The sst-sim server in-process, over real Unix sockets: malformed input
// drops only the offending connection, acalsim and framed clients side by
// side, socket path handling, options, paced mode.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "connection.h" // sst-element/server/src: backpressure test
#include "json_lite.h"
#include "sim_test_util.h"
#include "stats_out.h" // sst-element/server/src: --stats-out encoding
#include "vsst/protocol/frame_codec.h"
#include "vsst/sim/server.h"
#include "vsst/sim/sim_client.h"

namespace vsst::sim {
namespace {

constexpr int kTimeout = 5000;

std::string temp_dir()
{
	char tmpl[] = "/tmp/vsst-simtest-XXXXXX";
	const char *d = ::mkdtemp(tmpl);
	EXPECT_NE(d, nullptr);
	return d ? d : "/tmp";
}

class RunningServer {
public:
	explicit RunningServer(ServerOptions o) : server_(std::move(o))
	{
		std::string err;
		ok_ = server_.open(&err);
		EXPECT_TRUE(ok_) << err;
		if (ok_)
			thread_ = std::thread([this] { server_.run(); });
	}
	~RunningServer() { stop(); }
	void stop()
	{
		if (thread_.joinable()) {
			server_.stop();
			thread_.join();
		}
	}
	Server &server() { return server_; }

private:
	Server server_;
	bool ok_ = false;
	std::thread thread_;
};

ServerOptions test_options(const std::string &path)
{
	ServerOptions o;
	o.socket_path = path;
	o.handle_signals = false;
	o.status_interval_s = 0;
	return o;
}

class ServerTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		spdlog::set_level(spdlog::level::warn);
		dir_ = temp_dir();
		path_ = dir_ + "/sim.sock";
	}
	void TearDown() override
	{
		::unlink(path_.c_str());
		::rmdir(dir_.c_str());
	}
	SimClient connect()
	{
		std::string err;
		auto c = SimClient::connect(path_, kTimeout, &err);
		EXPECT_TRUE(c) << err;
		return std::move(*c);
	}
	SimClient framed_client(bool events = false)
	{
		SimClient c = connect();
		EXPECT_TRUE(c.hello(3, events, kTimeout));
		return c;
	}
	// One request/response round trip over the framed protocol.
	static std::optional<SSTResponse> roundtrip(SimClient &c, const SSTRequest &r, uint64_t tag,
						    vsst_sim_resp_meta *meta = nullptr)
	{
		if (!c.send_request(tag, r, request_wire_size(r), kTimeout))
			return std::nullopt;
		auto f = c.read_frame(kTimeout);
		if (!f || f->hdr.type != VSST_SIM_RESPONSE || f->hdr.tag != tag ||
		    f->payload.size() < sizeof(vsst_sim_resp_meta) + SST_RESPONSE_HEADER_SIZE) {
			return std::nullopt;
		}
		if (meta)
			std::memcpy(meta, f->payload.data(), sizeof *meta);
		SSTResponse resp{};
		std::memcpy(&resp, f->payload.data() + sizeof(vsst_sim_resp_meta),
			    std::min(sizeof resp, f->payload.size() - sizeof(vsst_sim_resp_meta)));
		return resp;
	}
	void expect_served(SimClient &c, uint64_t tag)
	{
		auto r = roundtrip(c, test::make_req(SST_REQ_GET_INFO, tag), tag);
		ASSERT_TRUE(r);
		EXPECT_EQ(r->status, SST_STATUS_OK);
		EXPECT_EQ(r->request_id, tag);
	}

	std::string dir_, path_;
};

TEST_F(ServerTest, FramedRequestsCarryTimingAndData)
{
	RunningServer s(test_options(path_));
	SimClient c = connect();
	auto hello = c.hello(9, false, kTimeout);
	ASSERT_TRUE(hello);
	EXPECT_EQ(hello->device_id, 9u);
	EXPECT_EQ(hello->clock_hz, 1'000'000'000u);
	vsst_sim_resp_meta meta{};
	auto r = roundtrip(c, test::compute_req(10, SST_LATENCY_FIXED, 1), 1, &meta);
	ASSERT_TRUE(r);
	EXPECT_EQ(meta.cycles, 1000u);
	EXPECT_EQ(meta.complete_ps, 1'000'000u);
	EXPECT_EQ(r->payload.compute.timestamp, 1'000'000u);
	const uint8_t data[6] = {9, 8, 7, 6, 5, 4};
	ASSERT_EQ(roundtrip(c, test::write_req(4096, data, 2), 2)->status, SST_STATUS_OK);
	auto rd = roundtrip(c, test::read_req(4096, 6, 3), 3);
	ASSERT_TRUE(rd);
	EXPECT_EQ(rd->result, 6u);
	EXPECT_EQ(0, std::memcmp(rd->payload.data, data, 6));
	// Bad request: INVALID, not a protocol error.
	EXPECT_EQ(roundtrip(c, test::read_req(1ull << 40, 6, 4), 4)->status, SST_STATUS_INVALID);
	// PING/PONG.
	ASSERT_TRUE(c.send_frame(VSST_SIM_PING, 31337, nullptr, 0, kTimeout));
	auto pong = c.read_frame(kTimeout);
	ASSERT_TRUE(pong);
	EXPECT_EQ(pong->hdr.type, VSST_SIM_PONG);
	EXPECT_EQ(pong->hdr.tag, 31337u);
}

// Synchronized time: HELLO grants TIMED and announces the minimum latency;
// REQUEST_AT starts each request at max(device time, submit time), so a
// request submitted later completes later by the same amount, and 16 equal
// COMPUTEs on 4 units form 4 waves. The same stream twice gives the same times.
TEST_F(ServerTest, TimedRequestsStartAtTheirSubmitTime)
{
	RunningServer s(test_options(path_));
	auto run = [&] {
		std::vector<uint64_t> times;
		SimClient c = connect();
		vsst_sim_hello h{};
		h.device_id = 3;
		h.features = VSST_SIM_FEATURE_TIMED;
		EXPECT_TRUE(c.send_frame(VSST_SIM_HELLO, 0, &h, sizeof h, kTimeout));
		auto f = c.read_frame(kTimeout);
		EXPECT_TRUE(f && f->hdr.type == VSST_SIM_HELLO);
		if (!f || f->payload.size() != sizeof(vsst_sim_hello) + sizeof(vsst_sim_hello_timing))
			return times;
		std::memcpy(&h, f->payload.data(), sizeof h);
		EXPECT_EQ(h.features & VSST_SIM_FEATURE_TIMED, VSST_SIM_FEATURE_TIMED);
		auto call = [&](const SSTRequest &r, uint64_t tag, uint64_t submit_ps) -> uint64_t {
			ByteBuffer b;
			encode_request_at(b, tag, submit_ps,
					  {reinterpret_cast<const uint8_t *>(&r), request_wire_size(r)});
			// The frame as encoded, header included: send it raw.
			EXPECT_TRUE(c.send_all(b.data(), b.size(), kTimeout));
			return tag;
		};
		auto answer = [&](uint64_t tag) -> uint64_t {
			auto a = c.read_frame(kTimeout);
			EXPECT_TRUE(a && a->hdr.type == VSST_SIM_RESPONSE && a->hdr.tag == tag);
			vsst_sim_resp_meta meta{};
			if (a && a->payload.size() >= sizeof meta)
				std::memcpy(&meta, a->payload.data(), sizeof meta);
			return meta.complete_ps;
		};
		answer(call(test::config_req(SST_CFG_COMPUTE_UNITS, 4, 1), 1, 0));
		// One COMPUTE at 1 us, one at 5 ms: the second is not queued behind
		// the first (free mode would start it when the first ends).
		const uint64_t a = answer(call(test::compute_req(10, SST_LATENCY_FIXED, 2), 2, 1'000'000));
		const uint64_t b =
			answer(call(test::compute_req(10, SST_LATENCY_FIXED, 3), 3, 5'000'000'000));
		EXPECT_EQ(b - 5'000'000'000, a - 1'000'000);
		times.push_back(a);
		times.push_back(b);
		// 16 equal COMPUTEs submitted together on 4 units: 4 waves.
		for (uint64_t i = 0; i < 16; ++i)
			call(test::compute_req(10, SST_LATENCY_FIXED, 10 + i), 10 + i, 6'000'000'000);
		std::set<uint64_t> waves;
		for (uint64_t i = 0; i < 16; ++i) {
			const uint64_t t = answer(10 + i);
			times.push_back(t);
			waves.insert(t);
		}
		EXPECT_EQ(waves.size(), 4u);
		// A request with a submit time in the device's past starts at its own time.
		const uint64_t late = answer(call(test::compute_req(10, SST_LATENCY_FIXED, 40), 40, 0));
		EXPECT_GE(late, *waves.begin());
		// REQUEST_AT too short for its submit time: an ERROR frame, the link stays.
		const uint8_t four[4] = {};
		EXPECT_TRUE(c.send_frame(VSST_SIM_REQUEST_AT, 41, four, sizeof four, kTimeout));
		auto e = c.read_frame(kTimeout);
		EXPECT_TRUE(e && e->hdr.type == VSST_SIM_ERROR && e->hdr.tag == 41u);
		return times;
	};
	const auto first = run();
	ASSERT_EQ(first.size(), 18u);
	EXPECT_EQ(run(), first);
}

// REQUEST_AT on a session that did not ask for TIMED is refused (ERROR frame).
TEST_F(ServerTest, RequestAtNeedsTheTimedFeature)
{
	RunningServer s(test_options(path_));
	SimClient c = connect();
	auto hello = c.hello(9, false, kTimeout);
	ASSERT_TRUE(hello);
	EXPECT_EQ(hello->features & VSST_SIM_FEATURE_TIMED, 0u);
	ByteBuffer b;
	const SSTRequest r = test::make_req(SST_REQ_NOOP, 5);
	encode_request_at(b, 5, 0, {reinterpret_cast<const uint8_t *>(&r), SST_REQUEST_HEADER_SIZE});
	ASSERT_TRUE(c.send_all(b.data(), b.size(), kTimeout));
	auto e = c.read_frame(kTimeout);
	ASSERT_TRUE(e);
	EXPECT_EQ(e->hdr.type, VSST_SIM_ERROR);
	EXPECT_EQ(e->hdr.tag, 5u);
}

// --peer-uids: a peer of a uid not admitted is closed at accept (and counted
// as refused); one of an admitted uid is served.
// --resume-window: a device whose connection closed is kept for the next connection
// naming the same device id (a restarted device VM); others, and everyone after the
// window, start afresh. Off by default.
TEST_F(ServerTest, ResumeWindowKeepsAClosedDevicesMemory)
{
	const uint8_t data[4] = {0xde, 0xad, 0xbe, 0xef};
	auto wait_closed = [&](RunningServer &s, uint64_t connections) {
		for (int i = 0; i < 200 && s.server().totals().connections < connections; i++)
			std::this_thread::sleep_for(std::chrono::milliseconds(10));
	};
	auto read_back = [&](SimClient &c, uint64_t tag) {
		auto r = roundtrip(c, test::read_req(8192, 4, tag), tag);
		return r && r->status == SST_STATUS_OK ? std::memcmp(r->payload.data, data, 4) == 0 : false;
	};
	for (bool on : {false, true}) {
		ServerOptions o = test_options(path_);
		o.resume_window_s = on ? 0.5 : 0;
		RunningServer s(o);
		{
			SimClient c = connect();
			ASSERT_TRUE(c.hello(7, false, kTimeout));
			ASSERT_EQ(roundtrip(c, test::write_req(8192, data, 1), 1)->status, SST_STATUS_OK);
		} // closed: a device VM killed
		std::this_thread::sleep_for(std::chrono::milliseconds(100));
		{
			SimClient other = connect();
			ASSERT_TRUE(other.hello(8, false, kTimeout));
			EXPECT_FALSE(read_back(other, 2)) << "another device id never gets it";
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(100));
		{
			SimClient again = connect();
			ASSERT_TRUE(again.hello(7, false, kTimeout));
			EXPECT_EQ(read_back(again, 3), on) << (on ? "resumed" : "off by default: afresh");
		}
		wait_closed(s, 3);
		if (on) {
			// Kept again at that close, then dropped after the window.
			std::this_thread::sleep_for(std::chrono::milliseconds(1700));
			SimClient late = connect();
			ASSERT_TRUE(late.hello(7, false, kTimeout));
			EXPECT_FALSE(read_back(late, 4)) << "kept only for the window";
		}
	}
}

TEST_F(ServerTest, PeerUidsRefuseOthers)
{
	ServerOptions o = test_options(path_);
	o.peers = PeerPolicy{false, {::geteuid() + 4242}, {}};
	{
		RunningServer s(o);
		SimClient c = connect();
		EXPECT_FALSE(c.hello(3, false, kTimeout));
		s.stop();
		EXPECT_EQ(s.server().totals().rejected_connections, 1u);
		EXPECT_EQ(s.server().totals().connections, 0u);
	}
	std::string err;
	ASSERT_TRUE(apply_option(o, "peer-uids", "0," + std::to_string(::geteuid()), err)) << err;
	{
		RunningServer s(o);
		SimClient c = framed_client();
		expect_served(c, 1);
	}
	EXPECT_FALSE(apply_option(o, "peer-uids", "nobody", err));
	EXPECT_FALSE(apply_option(o, "peer-uids", "", err));
	ASSERT_TRUE(apply_option(o, "peer-uids", "any", err)) << err;
	EXPECT_TRUE(o.peers.any);
}

TEST_F(ServerTest, AsyncComputeSendsEventFrame)
{
	RunningServer s(test_options(path_));
	SimClient c = framed_client(true);
	const SSTRequest r = test::compute_req(10, SST_LATENCY_FIXED, 555, SST_REQ_FLAG_ASYNC);
	ASSERT_TRUE(c.send_request(8, r, request_wire_size(r), kTimeout));
	auto resp = c.read_frame(kTimeout);
	auto ev = c.read_frame(kTimeout);
	ASSERT_TRUE(resp && ev);
	EXPECT_EQ(resp->hdr.type, VSST_SIM_RESPONSE);
	ASSERT_EQ(ev->hdr.type, VSST_SIM_EVENT);
	SSTEvent e;
	ASSERT_EQ(ev->payload.size(), sizeof e);
	std::memcpy(&e, ev->payload.data(), sizeof e);
	EXPECT_EQ(e.data, 555u);
	EXPECT_EQ(e.timestamp, 1'000'000u);
}

TEST_F(ServerTest, MalformedConnectionsAreDroppedOthersKeepBeingServed)
{
	RunningServer s(test_options(path_));
	SimClient good = framed_client();
	expect_served(good, 1);

	struct Bad {
		const char *name;
		std::vector<uint8_t> bytes;
		uint32_t code;            // 0: no ERROR frame expected, just a close
		bool hello_first = false; // auto mode: only a framed peer can send a bad magic
	};
	auto frame = [](uint32_t magic, uint16_t version, uint16_t type, uint32_t length, size_t actual) {
		vsst_sim_frame_hdr h{magic, version, type, length, 0, 1};
		std::vector<uint8_t> b(sizeof h + actual, 0);
		std::memcpy(b.data(), &h, sizeof h);
		return b;
	};
	const Bad cases[] = {
		{"bad magic", frame(0x12345678, 1, VSST_SIM_REQUEST, 24, 24), VSST_SIM_ERR_BAD_MAGIC, true},
		{"bad version", frame(VSST_SIM_MAGIC, 7, VSST_SIM_HELLO, 16, 16), VSST_SIM_ERR_BAD_VERSION},
		{"oversize", frame(VSST_SIM_MAGIC, 1, VSST_SIM_REQUEST, 1u << 20, 0),
		 VSST_SIM_ERR_BAD_LENGTH},
		{"no hello", frame(VSST_SIM_MAGIC, 1, VSST_SIM_REQUEST, 24, 24), VSST_SIM_ERR_NO_HELLO},
		{"short frame", frame(VSST_SIM_MAGIC, 1, VSST_SIM_REQUEST, 24, 10), 0},
		{"short header", std::vector<uint8_t>{0x56, 0x53, 0x53, 0x46, 1, 0}, 0},
		{"short acalsim request", std::vector<uint8_t>(100, 0), 0},
	};
	for (const Bad &b : cases) {
		SCOPED_TRACE(b.name);
		SimClient bad = connect();
		if (b.hello_first) {
			ASSERT_TRUE(bad.hello(1, false, kTimeout));
		}
		ASSERT_TRUE(bad.send_all(b.bytes.data(), b.bytes.size(), kTimeout));
		if (b.code != 0) {
			auto f = bad.read_frame(kTimeout);
			ASSERT_TRUE(f);
			EXPECT_EQ(f->hdr.type, VSST_SIM_ERROR);
			vsst_sim_error e{};
			std::memcpy(&e, f->payload.data(), sizeof e);
			EXPECT_EQ(e.code, b.code);
			EXPECT_TRUE(bad.wait_closed(kTimeout));
		} else {
			::shutdown(bad.fd(), SHUT_WR); // the peer goes away mid-frame
			EXPECT_TRUE(bad.wait_closed(kTimeout));
		}
		expect_served(good, 2);
	}

	// Recoverable: unknown type -> ERROR with its tag, connection still served.
	SimClient odd = framed_client();
	ASSERT_TRUE(odd.send_frame(200, 4242, "xx", 2, kTimeout));
	auto f = odd.read_frame(kTimeout);
	ASSERT_TRUE(f);
	EXPECT_EQ(f->hdr.type, VSST_SIM_ERROR);
	EXPECT_EQ(f->hdr.tag, 4242u);
	expect_served(odd, 3);
	expect_served(good, 4);
}

TEST_F(ServerTest, AcalsimAndFramedSideBySide)
{
	RunningServer s(test_options(path_));
	SimClient framed = framed_client();
	SimClient raw = connect(); // no HELLO: auto-detected as acalsim
	auto info = raw.acalsim_call(test::make_req(SST_REQ_GET_INFO, 5), kTimeout);
	ASSERT_TRUE(info);
	EXPECT_EQ(info->status, SST_STATUS_OK);
	EXPECT_EQ(info->request_id, 5u);
	EXPECT_EQ(info->payload.info.version, SST_PROTOCOL_VERSION);
	EXPECT_EQ(info->payload.info.max_compute_units, 4u);
	const uint8_t data[3] = {1, 2, 3};
	ASSERT_EQ(raw.acalsim_call(test::write_req(0, data, 6), kTimeout)->status, SST_STATUS_OK);
	auto rd = raw.acalsim_call(test::read_req(0, 3, 7), kTimeout);
	ASSERT_TRUE(rd);
	EXPECT_EQ(0, std::memcmp(rd->payload.data, data, 3));
	// Separate devices: the framed client's memory is its own.
	auto other = roundtrip(framed, test::read_req(0, 3, 8), 8);
	ASSERT_TRUE(other);
	EXPECT_EQ(other->payload.data[0], 0);
	auto c = raw.acalsim_call(test::compute_req(3, SST_LATENCY_FIXED, 9), kTimeout);
	EXPECT_EQ(c->payload.compute.cycles, 300u);
}

TEST_F(ServerTest, ForcedAcalsimTreatsMagicAsData)
{
	auto o = test_options(path_);
	o.protocol = Protocol::kAcalsim;
	RunningServer s(o);
	SimClient c = connect();
	SSTRequest r = test::make_req(SST_REQ_NOOP, 1);
	r.type = VSST_SIM_MAGIC; // a framed client talking to an acalsim-only server
	auto resp = c.acalsim_call(r, kTimeout);
	ASSERT_TRUE(resp);
	EXPECT_EQ(resp->status, SST_STATUS_INVALID);
}

TEST_F(ServerTest, SocketPathHandling)
{
	{
		// A stale socket (bound, nobody listening) is replaced.
		int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
		sockaddr_un a{};
		a.sun_family = AF_UNIX;
		std::strcpy(a.sun_path, path_.c_str());
		ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a), 0);
		::close(fd);
		struct stat st {};
		ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
	}
	{
		RunningServer s(test_options(path_));
		SimClient c = framed_client();
		expect_served(c, 1);
		// A second server on a live path is refused and leaves the socket alone.
		Server second(test_options(path_));
		std::string err;
		EXPECT_FALSE(second.open(&err));
		EXPECT_NE(err.find("live server"), std::string::npos) << err;
		expect_served(c, 2);
		s.stop();
		struct stat st {};
		EXPECT_NE(::lstat(path_.c_str(), &st), 0) << "socket file left behind";
	}
	// Not a socket: refused, untouched.
	{
		std::ofstream(path_) << "precious";
	}
	Server third(test_options(path_));
	std::string err;
	EXPECT_FALSE(third.open(&err));
	EXPECT_NE(err.find("not a socket"), std::string::npos) << err;
	std::ifstream in(path_);
	std::string content;
	in >> content;
	EXPECT_EQ(content, "precious");
}

TEST_F(ServerTest, PacedModeHoldsResponsesBack)
{
	auto o = test_options(path_);
	o.paced = true;
	o.pace_scale = 1.0;
	RunningServer s(o);
	SimClient c = framed_client();
	const auto t0 = std::chrono::steady_clock::now();
	// 100000 items x 100 cycles at 1 GHz = 10 ms simulated.
	auto r = roundtrip(c, test::compute_req(100000, SST_LATENCY_FIXED, 1), 1);
	const auto waited = std::chrono::steady_clock::now() - t0;
	ASSERT_TRUE(r);
	EXPECT_GE(waited, std::chrono::milliseconds(10));
	// Requests that take no simulated time are not held.
	expect_served(c, 2);
}

TEST_F(ServerTest, TotalsCountRequests)
{
	RunningServer s(test_options(path_));
	{
		SimClient c = framed_client();
		for (uint64_t i = 1; i <= 10; ++i)
			expect_served(c, i);
	}
	s.stop();
	EXPECT_EQ(s.server().totals().requests, 10u);
	EXPECT_EQ(s.server().totals().requests_by_type[SST_REQ_GET_INFO], 10u);
	EXPECT_EQ(s.server().totals().connections, 1u);
}

// Requests buffered while the output is over its limit are still served
// when the peer has half-closed in the meantime.
TEST(Backpressure, BufferedRequestsServedAfterPeerHalfClose)
{
	int sv[2];
	ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	UniqueFd peer(sv[1]);
	ServerOptions opts;
	Connection conn(UniqueFd(sv[0]), opts);
	ByteBuffer req;
	vsst_sim_hello h{};
	encode_frame(req, VSST_SIM_HELLO, 0, {as_bytes(h)});
	// 1060 READ frames (60 B each) arrive in one 64 KiB read; the first 1024
	// answers (4.1 KiB each) already pass the 4 MiB output limit, so 36
	// requests wait in the input buffer while the peer's EOF is next in line.
	constexpr uint64_t kCount = 1060;
	for (uint64_t i = 1; i <= kCount; ++i) {
		const SSTRequest r = test::read_req(0, SST_MAX_DATA_SIZE, i);
		encode_frame(req, VSST_SIM_REQUEST, i, {test::bytes_of(r, request_wire_size(r))});
	}
	ASSERT_EQ(::send(peer.get(), req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
	ASSERT_EQ(::shutdown(peer.get(), SHUT_WR), 0);
	conn.on_readable(); // reads everything, stops processing at the output limit
	ByteBuffer in;
	uint64_t responses = 0;
	const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
	while (!conn.finished(monotonic_ns()) && std::chrono::steady_clock::now() < deadline) {
		uint8_t *buf = in.prepare(1 << 20);
		const ssize_t n = ::recv(peer.get(), buf, 1 << 20, 0);
		in.commit(n > 0 ? static_cast<size_t>(n) : 0);
		for (ParsedFrame f = parse_frame(in.view()); f.status == ParsedFrame::Status::frame;
		     f = parse_frame(in.view())) {
			responses += f.hdr.type == VSST_SIM_RESPONSE;
			in.consume(f.consumed);
		}
		conn.on_readable();
		conn.flush();
		conn.resume();
	}
	for (ssize_t n; (n = ::recv(peer.get(), in.prepare(1 << 20), 1 << 20, 0)) > 0;) {
		in.commit(static_cast<size_t>(n));
	}
	in.commit(0);
	for (ParsedFrame f = parse_frame(in.view()); f.status == ParsedFrame::Status::frame;
	     f = parse_frame(in.view())) {
		responses += f.hdr.type == VSST_SIM_RESPONSE;
		in.consume(f.consumed);
	}
	EXPECT_TRUE(conn.finished(monotonic_ns()));
	EXPECT_EQ(responses, kCount);
}

TEST(Options, CommandLineAndConfigFile)
{
	const std::string dir = temp_dir();
	const std::string cfg = dir + "/sim.conf";
	{
		std::ofstream f(cfg);
		f << "# test config\ncompute_units = 8\nlatency-model = pipelined\nclock-hz = 2GHz\n"
		     "mem-size = 64Mi   # trailing comment\nstatus-interval = 0\n";
	}
	std::vector<std::string> args = {"sst-sim",  "--socket",   dir + "/x.sock",
					 "--config", cfg,          "--compute-units=16",
					 "--paced",  "--protocol", "acalsim"};
	std::vector<char *> argv;
	for (auto &a : args)
		argv.push_back(a.data());
	ServerOptions o;
	std::string msg;
	ASSERT_EQ(parse_command_line(static_cast<int>(argv.size()), argv.data(), o, msg), ParseOutcome::kRun)
		<< msg;
	EXPECT_EQ(o.model.compute_units, 16u); // the later flag wins
	EXPECT_EQ(o.model.latency_model, static_cast<uint64_t>(SST_LATENCY_PIPELINED));
	EXPECT_EQ(o.model.clock_hz, 2'000'000'000u);
	EXPECT_EQ(o.model.mem_size, 64 * kMiB);
	EXPECT_TRUE(o.paced);
	EXPECT_EQ(o.protocol, Protocol::kAcalsim);
	EXPECT_EQ(o.status_interval_s, 0.0);

	auto parse = [](std::vector<std::string> a, std::string &m) {
		a.insert(a.begin(), "sst-sim");
		std::vector<char *> v;
		for (auto &s : a)
			v.push_back(s.data());
		ServerOptions opts;
		return parse_command_line(static_cast<int>(v.size()), v.data(), opts, m);
	};
	const std::vector<std::vector<std::string>> bad = {{"--compute-units", "0"},
							   {"--mem-size", "4097"},
							   {"--latency-model", "quantum"},
							   {"--protocol", "http"},
							   {"--bogus", "1"},
							   {"--clock-hz"},
							   {"positional"},
							   {"--config", dir + "/missing.conf"},
							   {"--pace-scale", "-1"},
							   {"--memory-budget", "4095"},
							   {"--memory-budget", "lots"},
							   {"--idle-timeout", "-1"},
							   {"--idle-timeout", "soon"}};
	for (const auto &b : bad) {
		std::string m;
		EXPECT_EQ(parse(b, m), ParseOutcome::kError) << b[0];
		EXPECT_FALSE(m.empty());
	}
	std::string help;
	EXPECT_EQ(parse({"--help"}, help), ParseOutcome::kExitOk);
	for (const ParamInfo &p : param_table()) {
		EXPECT_NE(help.find("--" + std::string(p.flag)), std::string::npos) << p.flag;
	}
	for (const char *flag :
	     {"--socket", "--protocol", "--config", "--paced", "--pace-scale", "--status-interval",
	      "--max-connections", "--log-level", "--memory-budget", "--idle-timeout"}) {
		EXPECT_NE(help.find(flag), std::string::npos) << flag;
	}
	{
		ServerOptions d;
		EXPECT_EQ(d.memory_budget, 1ull << 30);
		EXPECT_EQ(d.idle_timeout_s, 300.0);
		EXPECT_TRUE(d.socket_path.empty()); // the private default, resolved at open()
		std::vector<std::string> a = {"sst-sim", "--memory-budget", "64Mi", "--idle-timeout", "0"};
		std::vector<char *> v;
		for (auto &x : a)
			v.push_back(x.data());
		std::string m;
		ASSERT_EQ(parse_command_line(static_cast<int>(v.size()), v.data(), d, m), ParseOutcome::kRun)
			<< m;
		EXPECT_EQ(d.memory_budget, 64 * kMiB);
		EXPECT_EQ(d.idle_timeout_s, 0.0);
	}
	::unlink(cfg.c_str());
	::rmdir(dir.c_str());
}

// The default socket's directory: created 0700, and refused when it could be
// someone else's (a symlink, a file, another owner, group/other access).
TEST(RuntimeDir, PrivateDirectoryChecks)
{
	const std::string base = temp_dir();
	std::string err;
	const std::string fresh = base + "/fresh";
	ASSERT_TRUE(ensure_private_dir(fresh, err)) << err;
	struct stat st {};
	ASSERT_EQ(::lstat(fresh.c_str(), &st), 0);
	EXPECT_TRUE(S_ISDIR(st.st_mode));
	EXPECT_EQ(st.st_mode & 0777, 0700u);
	EXPECT_TRUE(ensure_private_dir(fresh, err)) << err; // existing and ours: fine

	const std::string loose = base + "/loose";
	ASSERT_EQ(::mkdir(loose.c_str(), 0700), 0);
	ASSERT_EQ(::chmod(loose.c_str(), 0777), 0);
	err.clear();
	EXPECT_FALSE(ensure_private_dir(loose, err));
	EXPECT_NE(err.find("mode 0777"), std::string::npos) << err;
	ASSERT_EQ(::chmod(loose.c_str(), 0750), 0);
	EXPECT_FALSE(ensure_private_dir(loose, err)); // group access is too much, too

	const std::string link = base + "/link";
	ASSERT_EQ(::symlink(fresh.c_str(), link.c_str()), 0);
	err.clear();
	EXPECT_FALSE(ensure_private_dir(link, err)); // a symlink to our own 0700 dir still
	EXPECT_NE(err.find("not a directory"), std::string::npos) << err;

	const std::string file = base + "/file";
	std::ofstream(file) << "x";
	EXPECT_FALSE(ensure_private_dir(file, err));

	const std::string theirs = base + "/theirs";
	ASSERT_EQ(::mkdir(theirs.c_str(), 0700), 0);
	if (::geteuid() == 0) {
		ASSERT_EQ(::chown(theirs.c_str(), 65534, 65534), 0);
		err.clear();
		EXPECT_FALSE(ensure_private_dir(theirs, err));
		EXPECT_NE(err.find("owned by uid 65534"), std::string::npos) << err;
	}
	EXPECT_FALSE(ensure_private_dir(base + "/missing/parent", err));

	// The default follows XDG_RUNTIME_DIR, else a per-uid name in /tmp.
	const char *old = std::getenv("XDG_RUNTIME_DIR");
	const std::string saved = old ? old : "";
	::setenv("XDG_RUNTIME_DIR", base.c_str(), 1);
	EXPECT_EQ(default_socket_dir(), base + "/vsst");
	EXPECT_EQ(default_socket_path(), base + "/vsst/sim.sock");
	::unsetenv("XDG_RUNTIME_DIR");
	EXPECT_EQ(default_socket_dir(), "/tmp/vsst-" + std::to_string(::geteuid()));
	if (old)
		::setenv("XDG_RUNTIME_DIR", saved.c_str(), 1);
	std::filesystem::remove_all(base);
}

// --stats-out must always parse: any bytes in argv (not UTF-8, quotes,
// control characters) are escaped or replaced, and a device with no
// simulated time has busy 0, not NaN.
TEST(StatsOut, JsonSurvivesAnyArgvAndEmptyDevices)
{
	StatsDocument doc;
	doc.argv = {"sst-sim",         "caf\xc3\xa9", "bad\xff\xfe",
		    "q\"b\\s\n\t\x01", "\xe2\x82",    "\xf0\x9f\x98\x80"};
	doc.wall_s = 0.5;
	DeviceRecord idle;
	idle.protocol = "auto";
	idle.close_reason = "peer closed";
	doc.devices.push_back(idle);
	DeviceRecord busy;
	busy.connection = 1;
	busy.device_id = 3;
	busy.protocol = "framed";
	busy.requests[SST_REQ_COMPUTE] = 2;
	busy.unknown_type = 1;
	busy.invalid = 1;
	busy.error_frames = 2;
	busy.sim_time_ps = 2'000'000;
	busy.unit_busy_ps = 4'000'000; // 4 units x 2 us, half of them busy
	busy.samples.cap = 1;
	busy.samples.add({10, 20, 0, 1000, SST_REQ_COMPUTE, SST_STATUS_OK});
	busy.samples.add({11, 21, 0, 2000, SST_REQ_COMPUTE, SST_STATUS_OK});
	doc.devices.push_back(std::move(busy));
	const std::string text = stats_json(doc);
	test::JsonParser parser(text);
	const auto d = parser.parse();
	ASSERT_TRUE(d) << parser.error() << "\n" << text;
	const auto &argv = (*d)["simulator"]["argv"];
	EXPECT_EQ(argv[1].text, "caf\xc3\xa9");                 // valid UTF-8 kept
	EXPECT_EQ(argv[2].text, "bad\xef\xbf\xbd\xef\xbf\xbd"); // each bad byte -> U+FFFD
	EXPECT_EQ(argv[3].text, "q\"b\\s\n\t\x01");             // escaped, and back
	EXPECT_EQ(argv[4].text, "\xef\xbf\xbd\xef\xbf\xbd");    // truncated sequence
	EXPECT_EQ(argv[5].text, "\xf0\x9f\x98\x80");            // 4-byte UTF-8 kept
	const auto &dev0 = (*d)["devices"][0];
	EXPECT_EQ(dev0["busy_pct"].num, 0.0);
	EXPECT_EQ(dev0["device_id"].kind, test::Json::Kind::kNull);
	const auto &dev1 = (*d)["devices"][1];
	EXPECT_EQ(dev1["requests_total"].u64(), 3u);
	EXPECT_EQ(dev1["requests"]["UNKNOWN"].u64(), 1u);
	EXPECT_EQ(dev1["errors"].u64(), 3u);
	EXPECT_EQ(dev1["cycles"].u64(), 2000u);
	EXPECT_DOUBLE_EQ(dev1["busy_pct"].num, 50.0);
	EXPECT_EQ(dev1["samples"].items.size(), 1u);
	EXPECT_EQ(dev1["samples_dropped"].u64(), 1u);
	EXPECT_EQ(dev1["samples"][0]["type"].text, "COMPUTE");
}

} // namespace
} // namespace vsst::sim
