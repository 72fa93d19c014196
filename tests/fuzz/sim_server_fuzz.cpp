// SPDX-License-Identifier: Apache-2.0
// Fuzz target sim_server: sst-sim's front end (sst-element/server):
//
// Connection mode: up to four `Connection`s (one device each, as the server
// makes them) over socketpairs, sharing one small memory budget, driven the
// way the server's loop drives them (on_readable, resume, flush, paced
// release, idle check, finished -> closed) while the clients send hostile
// bytes, frames and well-formed requests, read some or none of the answers,
// half-close, and the clock jumps. Invariants: the budget's committed bytes
// never exceed its limit and are all given back once every connection is
// gone; each connection has sent exactly one response per request its model
// took (none held: paced responses still held are the only difference), even
// one closed for a protocol error; a connection silent both ways for the
// idle timeout with nothing held is reported idle, one holding a paced
// response is not; nothing hangs and nothing crashes.
//
// Server mode: a real `Server` (epoll loop on a Unix socket, in a thread)
// with --max-connections 3 and a small budget; clients connect, send,
// read and leave; at stop, every connection's responses equal its requests
// (server totals), refused connections are counted, the budget is back to 0.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

// sst-sim internals (sst-element/server/src)
#include "connection.h"

#include "fuzz_formats.h"
#include "fuzz_support.h"
#include "sim_bytes.h"
#include "vsst/posix/unique_fd.h"
#include "vsst/sim-wire.h"
#include "vsst/sim/memory_budget.h"
#include "vsst/sim/server.h"
#include "vsst/sim/server_options.h"
#include "vsst/sst-protocol.h"

namespace {

using vsst::fuzz::ByteReader;
using vsst::fuzz::hello_frame;
using vsst::fuzz::request_bytes;
namespace fmt = vsst::fuzz::sim_server;

constexpr int kMaxSteps = 96;
constexpr size_t kMaxConns = 4;
constexpr uint64_t kBudget = 16 * 4096; // 16 pages for all connections
constexpr int64_t kIdleNs = 2'000'000'000;

int poll_retry(pollfd *p, nfds_t n, int timeout_ms)
{
	for (;;) {
		const int r = ::poll(p, n, timeout_ms);
		if (r >= 0 || errno != EINTR)
			return r;
	}
}

void quiet_logs()
{
	static const bool done = [] {
		spdlog::set_level(spdlog::level::off);
		return true;
	}();
	(void)done;
}

size_t send_some(int fd, const uint8_t *p, size_t n)
{
	size_t done = 0;
	while (done < n) {
		const ssize_t k = ::send(fd, p + done, n - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k > 0) {
			done += static_cast<size_t>(k);
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		break;
	}
	return done;
}

size_t drain(int fd, size_t max)
{
	size_t got = 0;
	uint8_t buf[16384];
	while (got < max) {
		const ssize_t k = ::recv(fd, buf, std::min(sizeof buf, max - got), MSG_DONTWAIT);
		if (k > 0) {
			got += static_cast<size_t>(k);
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		break;
	}
	return got;
}

// ---------------------------------------------------------------- Connection mode

struct Slot {
	std::unique_ptr<vsst::sim::Connection> conn;
	vsst::UniqueFd client;
	bool framed = false; // the client said HELLO first
	bool said_anything = false;
	uint64_t next_tag = 1;
	int64_t last_touch = 0; // synthetic time of the last op on this slot
};

class ConnHarness {
public:
	ConnHarness(uint8_t flags) : budget_(kBudget)
	{
		opts_.protocol = static_cast<vsst::sim::Protocol>(flags % 3);
		opts_.paced = flags & 4;
		opts_.pace_scale = 1000.0; // a 10 µs COMPUTE is held 10 ms, a 10 ms one 10 s
		opts_.idle_timeout_s = static_cast<double>(kIdleNs) / 1e9;
		opts_.memory_budget = kBudget;
		opts_.status_interval_s = 0;
		opts_.stats_out = flags & 8 ? "/dev/null" : ""; // samples recorded, never written
		opts_.stats_samples = 64;
	}
	~ConnHarness()
	{
		for (Slot &s : slots_)
			s.conn.reset();
		FUZZ_CHECK(budget_.used() == 0,
			   "%llu bytes still charged to the budget with every connection gone",
			   static_cast<unsigned long long>(budget_.used()));
	}

	int64_t now() const { return vsst::sim::monotonic_ns() + offset_; }

	void step(ByteReader &in)
	{
		const uint8_t op = in.u8() % fmt::kConnCount;
		if (op == fmt::kConnTime) {
			offset_ += static_cast<int64_t>(in.u16()) * 1'000'000; // up to 65 s
			tick_all();
			return;
		}
		Slot *s = pick(in.u8(), op == fmt::kConnOpen);
		if (!s)
			return;
		switch (op) {
		case fmt::kConnOpen:
			break;
		case fmt::kConnRaw: {
			auto b = in.bytes(in.u16() % 9000);
			client_send(*s, b.data(), b.size());
			break;
		}
		case fmt::kConnHello: {
			const auto v = hello_frame(in.u32(), in.u8() & 1);
			if (!s->said_anything)
				s->framed = true;
			client_send(*s, v.data(), v.size());
			break;
		}
		case fmt::kConnRequests: {
			const int n = 1 + in.u8() % 16;
			std::vector<uint8_t> all;
			for (int i = 0; i < n; ++i) {
				const auto v = request_bytes(in, s->framed, s->next_tag++);
				all.insert(all.end(), v.begin(), v.end());
			}
			client_send(*s, all.data(), all.size());
			break;
		}
		case fmt::kConnRead:
			drain(s->client.get(), in.u8() == 0 ? SIZE_MAX : in.u16() * 16u);
			s->conn->flush();
			s->conn->resume();
			s->last_touch = now();
			break;
		case fmt::kConnShutdown:
			::shutdown(s->client.get(), in.flag() ? SHUT_RDWR : SHUT_WR);
			serve(*s);
			break;
		}
		tick_all();
	}

	void finish()
	{
		// The clients read everything, then leave; the loop runs until every
		// connection is closed (a closing one lingers at most 5 s of
		// synthetic time without progress).
		for (int round = 0; round < 64 && any_open(); ++round) {
			for (Slot &s : slots_) {
				if (!s.conn)
					continue;
				drain(s.client.get(), SIZE_MAX);
				if (round == 0)
					::shutdown(s.client.get(), SHUT_WR);
				serve(s);
			}
			offset_ += 1'000'000'000;
			tick_all();
		}
		FUZZ_CHECK(!any_open(),
			   "a connection is still open after its client read everything and left");
	}

private:
	Slot *pick(uint8_t k, bool open)
	{
		Slot &s = slots_[k % kMaxConns];
		if (!s.conn && open) {
			int sv[2];
			FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) ==
					   0,
				   "socketpair: %s", std::strerror(errno));
			s = Slot{};
			s.client.reset(sv[1]);
			s.conn = std::make_unique<vsst::sim::Connection>(vsst::UniqueFd(sv[0]), opts_, 0,
									 &budget_);
			s.last_touch = now();
		}
		return s.conn ? &s : nullptr;
	}

	void client_send(Slot &s, const uint8_t *p, size_t n)
	{
		if (n > 0)
			s.said_anything = true;
		size_t done = 0;
		// What the socket does not take now waits for the server to read.
		for (int i = 0; i < 8 && done < n; ++i) {
			done += send_some(s.client.get(), p + done, n - done);
			serve(s);
			if (!s.conn)
				return;
		}
	}

	// What the server loop does on an event for this connection.
	void serve(Slot &s)
	{
		if (!s.conn)
			return;
		s.conn->on_readable();
		s.conn->flush();
		s.conn->resume();
		s.last_touch = now();
		check(s);
	}

	void tick_all()
	{
		const int64_t t = now();
		for (Slot &s : slots_) {
			if (!s.conn)
				continue;
			if (opts_.paced && s.conn->next_release_ns() <= t) {
				s.conn->release_due(t);
				s.conn->resume();
				s.last_touch = now();
			}
			check(s);
			if (!s.conn)
				continue;
			const bool held = s.conn->next_release_ns() != INT64_MAX;
			const std::string idle = s.conn->idle_reason(t, kIdleNs);
			if (held)
				FUZZ_CHECK(idle.empty(),
					   "a connection holding a paced response reported idle: %s",
					   idle.c_str());
			if (!held && t - s.last_touch >= kIdleNs)
				FUZZ_CHECK(!idle.empty(), "silent for %lld ms with nothing held, not idle",
					   static_cast<long long>((t - s.last_touch) / 1'000'000));
			if (!idle.empty()) {
				close(s);
				continue;
			}
			if (s.conn->finished(t))
				close(s);
		}
	}

	void check(Slot &s)
	{
		FUZZ_CHECK(budget_.used() <= budget_.limit(), "budget %llu > limit %llu",
			   static_cast<unsigned long long>(budget_.used()),
			   static_cast<unsigned long long>(budget_.limit()));
		const uint64_t taken = s.conn->model().stats().total();
		const uint64_t answered = s.conn->session().counters().responses;
		const bool held = s.conn->next_release_ns() != INT64_MAX;
		FUZZ_CHECK(answered <= taken, "%llu responses for %llu requests",
			   static_cast<unsigned long long>(answered), static_cast<unsigned long long>(taken));
		if (!held)
			FUZZ_CHECK(answered == taken, "%llu requests taken, %llu answered, none held",
				   static_cast<unsigned long long>(taken),
				   static_cast<unsigned long long>(answered));
		if (s.conn->finished(now()))
			close(s);
	}

	void close(Slot &s)
	{
		s.conn->flush();
		(void)s.conn->take_record(now(), nullptr);
		s.conn.reset();
		s.client.reset();
	}

	bool any_open() const
	{
		for (const Slot &s : slots_)
			if (s.conn)
				return true;
		return false;
	}

	vsst::sim::MemoryBudget budget_;
	vsst::sim::ServerOptions opts_;
	std::array<Slot, kMaxConns> slots_;
	int64_t offset_ = 0;
};

// ---------------------------------------------------------------- Server mode

const std::string &server_socket()
{
	static const std::string path = [] {
		char tmpl[] = "/tmp/vsst-fuzz-simsrv-XXXXXX";
		const char *d = ::mkdtemp(tmpl);
		FUZZ_CHECK(d != nullptr, "mkdtemp: %s", std::strerror(errno));
		return std::string(d) + "/sim.sock";
	}();
	return path;
}

vsst::UniqueFd connect_to(const std::string &path)
{
	sockaddr_un a{};
	a.sun_family = AF_UNIX;
	std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
	vsst::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	if (::connect(fd.get(), reinterpret_cast<sockaddr *>(&a), sizeof a) != 0)
		return vsst::UniqueFd();
	return fd;
}

void run_server_mode(ByteReader &in, uint8_t flags)
{
	vsst::sim::ServerOptions o;
	o.socket_path = server_socket();
	o.protocol = static_cast<vsst::sim::Protocol>(flags % 3);
	o.max_connections = 3;
	o.memory_budget = kBudget;
	o.idle_timeout_s = 0;
	o.status_interval_s = 0;
	o.handle_signals = false;
	vsst::sim::Server server(o);
	std::string err;
	FUZZ_CHECK(server.open(&err), "Server::open: %s", err.c_str());
	std::thread loop([&server] { server.run(); });
	std::array<vsst::UniqueFd, 6> clients;
	std::array<bool, 6> framed{};
	std::array<uint64_t, 6> tags{};
	for (int step = 0; step < kMaxSteps && !in.empty(); ++step) {
		const uint8_t op = in.u8() % fmt::kSrvCount;
		const size_t k = in.u8() % clients.size();
		switch (op) {
		case fmt::kSrvConnect:
			clients[k] = connect_to(o.socket_path);
			framed[k] = false;
			break;
		case fmt::kSrvRaw: {
			auto b = in.bytes(in.u16() % 9000);
			if (clients[k].valid())
				send_some(clients[k].get(), b.data(), b.size());
			break;
		}
		case fmt::kSrvHello: {
			const auto v = hello_frame(in.u32(), in.u8() & 1);
			if (clients[k].valid() && send_some(clients[k].get(), v.data(), v.size()))
				framed[k] = true;
			break;
		}
		case fmt::kSrvRequests: {
			const int n = 1 + in.u8() % 16;
			for (int i = 0; i < n && clients[k].valid(); ++i) {
				const auto v = request_bytes(in, framed[k], ++tags[k]);
				send_some(clients[k].get(), v.data(), v.size());
			}
			break;
		}
		case fmt::kSrvRead:
			if (clients[k].valid()) {
				pollfd p{clients[k].get(), POLLIN, 0};
				poll_retry(&p, 1, in.u8() % 10);
				drain(clients[k].get(), SIZE_MAX);
			}
			break;
		case fmt::kSrvClose:
			clients[k].reset();
			break;
		}
	}
	// Let the loop take what was sent, then stop it.
	for (auto &c : clients) {
		if (c.valid()) {
			pollfd p{c.get(), POLLIN, 0};
			poll_retry(&p, 1, 5);
			drain(c.get(), SIZE_MAX);
		}
	}
	server.stop();
	loop.join();
	const auto &t = server.totals();
	FUZZ_CHECK(t.responses == t.requests, "server totals: %llu requests, %llu responses",
		   static_cast<unsigned long long>(t.requests), static_cast<unsigned long long>(t.responses));
	FUZZ_CHECK(t.connections <= 6 * static_cast<uint64_t>(kMaxSteps), "connections %llu",
		   static_cast<unsigned long long>(t.connections));
	FUZZ_CHECK(server.memory_budget().used() == 0, "budget still holds %llu bytes after stop",
		   static_cast<unsigned long long>(server.memory_budget().used()));
	FUZZ_CHECK(server.memory_budget().peak() <= kBudget, "budget peak %llu",
		   static_cast<unsigned long long>(server.memory_budget().peak()));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	quiet_logs();
	ByteReader in(data, size);
	const uint8_t flags = in.u8();
	if (flags & 0x80) {
		run_server_mode(in, flags);
		return 0;
	}
	ConnHarness h(flags);
	for (int step = 0; step < kMaxSteps && !in.empty(); ++step)
		h.step(in);
	h.finish();
	return 0;
}
