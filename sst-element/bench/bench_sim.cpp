// SPDX-License-Identifier: Apache-2.0
// vsst-bench-sim: requests/s through sst-sim over its Unix socket, for
// NOOP-size requests and 4 KiB WRITEs, at depth 1 and depth 64, in both
// protocols. acalsim is one request at a time by definition, so it only has
// a depth-1 figure. Starts its own sst-sim (next to this binary, or
// $VSST_BIN/sst-sim, or --sim PATH).
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "vsst/posix/child_process.h"
#include "vsst/posix/temp_dir.h"
#include "vsst/posix/unix_socket.h"
#include "vsst/protocol/frame_codec.h"
#include "vsst/sim/sim_client.h"

namespace {

using namespace vsst;
using namespace vsst::sim;
using Clock = std::chrono::steady_clock;

struct Case {
	const char *name;
	bool framed;
	bool write4k;
	int depth;
};

SSTRequest make_request(bool write4k, uint64_t id)
{
	SSTRequest r{};
	r.request_id = id;
	if (!write4k) {
		r.type = SST_REQ_NOOP;
		return r;
	}
	r.type = SST_REQ_WRITE;
	r.payload.memory.addr = (id % 1024) * 4096;
	r.payload.memory.size = SST_MAX_WRITE_SIZE; // the whole 4 KiB request
	std::memset(r.payload.data + SST_WRITE_DATA_OFFSET, static_cast<int>(id), SST_MAX_WRITE_SIZE);
	return r;
}

// Keeps `depth` framed requests in flight for `seconds`; returns requests/s.
double run_framed(SimClient &c, bool write4k, int depth, double seconds)
{
	ByteBuffer out, in;
	const SSTRequest templ = make_request(write4k, 1);
	const size_t wire = request_wire_size(templ);
	uint64_t next_tag = 1, done = 0;
	int inflight = 0;
	const auto start = Clock::now();
	const auto end =
		start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
	bool sending = true;
	while (sending || inflight > 0) {
		if (sending && Clock::now() >= end)
			sending = false;
		if (!sending && inflight == 0)
			break;
		while (sending && inflight < depth) {
			SSTRequest r = templ;
			r.request_id = next_tag;
			encode_frame(out, VSST_SIM_REQUEST, next_tag++,
				     {{reinterpret_cast<uint8_t *>(&r), wire}});
			++inflight;
		}
		// Try the write first: most of the time the socket takes it, saving a poll.
		while (!out.empty()) {
			const ssize_t n = ::send(c.fd(), out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n <= 0)
				break;
			out.consume(static_cast<size_t>(n));
		}
		pollfd p{c.fd(), static_cast<short>(POLLIN | (out.empty() ? 0 : POLLOUT)), 0};
		if (::poll(&p, 1, 5000) <= 0) {
			std::fprintf(
				stderr,
				"bench: simulator stopped answering (in flight %d, %zu bytes unsent, %zu bytes unparsed, %llu done)\n",
				inflight, out.size(), in.size(), static_cast<unsigned long long>(done));
			return 0;
		}
		if (p.revents & POLLOUT) {
			const ssize_t n = ::send(c.fd(), out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0)
				out.consume(static_cast<size_t>(n));
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			uint8_t *buf = in.prepare(256 * 1024);
			const ssize_t n = ::recv(c.fd(), buf, 256 * 1024, MSG_DONTWAIT);
			in.commit(n > 0 ? static_cast<size_t>(n) : 0);
			if (n == 0) {
				std::fprintf(stderr, "bench: simulator closed the connection\n");
				return 0;
			}
			for (;;) {
				ParsedFrame f = parse_frame(in.view());
				if (f.status != ParsedFrame::Status::frame)
					break;
				if (f.hdr.type == VSST_SIM_RESPONSE) {
					--inflight;
					++done;
				}
				in.consume(f.consumed);
			}
		}
	}
	const double secs = std::chrono::duration<double>(Clock::now() - start).count();
	return static_cast<double>(done) / secs;
}

double run_acalsim(SimClient &c, bool write4k, double seconds)
{
	uint64_t done = 0;
	const auto start = Clock::now();
	const auto end =
		start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
	while (Clock::now() < end) {
		if (!c.acalsim_call(make_request(write4k, done + 1), 5000)) {
			std::fprintf(stderr, "bench: acalsim call failed\n");
			return 0;
		}
		++done;
	}
	return static_cast<double>(done) / std::chrono::duration<double>(Clock::now() - start).count();
}

std::string find_sim(const char *override_path)
{
	if (override_path)
		return override_path;
	char self[PATH_MAX];
	const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0) {
		self[n] = '\0';
		std::string dir(self);
		dir.resize(dir.rfind('/'));
		if (::access((dir + "/sst-sim").c_str(), X_OK) == 0)
			return dir + "/sst-sim";
	}
	if (const char *bin = std::getenv("VSST_BIN"))
		return std::string(bin) + "/sst-sim";
	return "sst-sim";
}

// Runs one case against the server on `sock`; returns requests/s (0 on failure).
double run_case(const std::string &sock, const Case &c, double seconds)
{
	std::string err;
	auto client = SimClient::connect(sock, 10000, &err);
	if (!client) {
		std::fprintf(stderr, "bench: %s\n", err.c_str());
		return 0;
	}
	if (!c.framed)
		return run_acalsim(*client, c.write4k, seconds);
	if (!client->hello(0, false, 5000))
		return 0;
	return run_framed(*client, c.write4k, c.depth, seconds);
}

// Starts sst-sim (extra: more flags) and waits until it listens on `sock`.
bool start_sim(ChildProcess &server, const std::string &sim, const std::string &sock,
	       const std::vector<std::string> &extra)
{
	SpawnSpec spec;
	spec.name = "sst-sim";
	spec.argv = {sim, "--socket", sock, "--status-interval", "0", "--log-level", "warn"};
	spec.argv.insert(spec.argv.end(), extra.begin(), extra.end());
	std::string error;
	if (!server.spawn(spec, error)) {
		std::fprintf(stderr, "bench: %s\n", error.c_str());
		return false;
	}
	if (!wait_for_socket(sock, std::chrono::seconds(10), &server)) {
		std::fprintf(stderr, "bench: sst-sim did not listen on %s within 10 s\n", sock.c_str());
		return false;
	}
	return true;
}

const Case kCases[] = {
	{"framed   NOOP        depth  1", true, false, 1},
	{"framed   NOOP        depth 64", true, false, 64},
	{"framed   WRITE 4 KiB depth  1", true, true, 1},
	{"framed   WRITE 4 KiB depth 64", true, true, 64},
	{"acalsim  NOOP        depth  1", false, false, 1},
	{"acalsim  WRITE 4 KiB depth  1", false, true, 1},
};

// CPU time (user + system) a process has used so far, in ns; 0 if unknown.
double cpu_ns(pid_t pid)
{
	FILE *f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
	if (!f)
		return 0;
	char buf[1024] = {};
	const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
	std::fclose(f);
	// Fields after the command name (which may hold spaces): state is field 3,
	// utime and stime are fields 14 and 15.
	const char *p = std::strrchr(buf, ')');
	if (!p || n == 0)
		return 0;
	unsigned long long ut = 0, st = 0;
	if (std::sscanf(p + 2, "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu", &ut, &st) != 2)
		return 0;
	return static_cast<double>(ut + st) * 1e9 / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// One case on one server: requests/s and the server's CPU ns per request.
struct Measured {
	double rate = 0;
	double cpu_per_req = 0;
};

Measured measure(const std::string &sock, pid_t pid, const Case &c, double seconds)
{
	const double cpu0 = cpu_ns(pid);
	const auto t0 = Clock::now();
	Measured m;
	m.rate = run_case(sock, c, seconds);
	const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
	const double requests = m.rate * secs;
	m.cpu_per_req = requests > 0 ? (cpu_ns(pid) - cpu0) / requests : 0;
	return m;
}

// --compare-stats-out: the same cases against two servers started side by
// side, one plain and one with --stats-out (samples on, the default cap),
// alternating A B A B so drift on a shared machine hits both alike.
int compare_stats_out(const std::string &sim, TempDir &dir, double seconds, const std::string &samples)
{
	ChildProcess plain, stats;
	const std::string sock_a = dir.file("plain.sock"), sock_b = dir.file("stats.sock");
	if (!start_sim(plain, sim, sock_a, {}) ||
	    !start_sim(stats, sim, sock_b,
		       {"--stats-out", dir.file("stats.json"), "--stats-samples", samples}))
		return 1;
	std::printf("vsst-bench-sim --compare-stats-out: %s, 2 x %.1f s per case and server, "
		    "--stats-samples %s\n",
		    sim.c_str(), seconds, samples.c_str());
	std::printf("  %-30s  %12s %12s %7s   %s\n", "case", "plain req/s", "stats req/s", "ratio",
		    "sst-sim CPU ns/request plain, stats, ratio");
	int rc = 0;
	double log_rate = 0, log_cpu = 0;
	int n = 0;
	for (const Case &c : kCases) {
		Measured a, b;
		for (int round = 0; round < 2; ++round) {
			const Measured ma = measure(sock_a, plain.pid(), c, seconds);
			const Measured mb = measure(sock_b, stats.pid(), c, seconds);
			a.rate += ma.rate / 2;
			a.cpu_per_req += ma.cpu_per_req / 2;
			b.rate += mb.rate / 2;
			b.cpu_per_req += mb.cpu_per_req / 2;
		}
		if (a.rate == 0 || b.rate == 0 || a.cpu_per_req == 0 || b.cpu_per_req == 0) {
			rc = 1;
			continue;
		}
		std::printf("  %-30s  %12.0f %12.0f %7.3f   %8.0f %8.0f %7.3f\n", c.name, a.rate, b.rate,
			    b.rate / a.rate, a.cpu_per_req, b.cpu_per_req, b.cpu_per_req / a.cpu_per_req);
		std::fflush(stdout);
		log_rate += std::log(b.rate / a.rate);
		log_cpu += std::log(b.cpu_per_req / a.cpu_per_req);
		++n;
	}
	if (n > 0) {
		std::printf("geometric mean stats/plain: throughput %.3f, sst-sim CPU per request %.3f\n",
			    std::exp(log_rate / n), std::exp(log_cpu / n));
	}
	plain.terminate(std::chrono::seconds(10));
	stats.terminate(std::chrono::seconds(10));
	return rc;
}

} // namespace

int main(int argc, char **argv)
{
	double seconds = 2.0;
	const char *sim_path = nullptr;
	bool compare = false;
	std::string samples = "200000";
	for (int i = 1; i < argc; ++i) {
		const std::string a = argv[i];
		if (a == "--seconds" && i + 1 < argc) {
			seconds = std::atof(argv[++i]);
		} else if (a == "--sim" && i + 1 < argc) {
			sim_path = argv[++i];
		} else if (a == "--compare-stats-out") {
			compare = true;
		} else if (a == "--stats-samples" && i + 1 < argc) {
			samples = argv[++i];
		} else {
			std::printf(
				"usage: vsst-bench-sim [--seconds S per case, default 2] [--sim PATH]\n"
				"                      [--compare-stats-out: each case against a plain sst-sim\n"
				"                       and one with --stats-out, alternating; prints the ratio]\n"
				"                      [--stats-samples N: the --stats-out server's cap, default 200000]\n");
			return a == "--help" ? 0 : 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	const std::string sim = find_sim(sim_path);
	TempDir dir("vsst-bench-sim");
	if (compare)
		return compare_stats_out(sim, dir, seconds, samples);
	const std::string sock = dir.file("sim.sock");
	ChildProcess server;
	if (!start_sim(server, sim, sock, {}))
		return 1;

	std::vector<double> rates;
	int rc = 0;
	std::printf("vsst-bench-sim: %s, %.1f s per case\n", sim.c_str(), seconds);
	for (const Case &c : kCases) {
		const double rate = run_case(sock, c, seconds);
		rates.push_back(rate);
		std::printf("  %s  %12.0f requests/s\n", c.name, rate);
		std::fflush(stdout);
		if (rate == 0) {
			rc = 1;
			break;
		}
	}
	if (rates.size() == std::size(kCases)) {
		std::printf("ratio depth 64 / depth 1 (framed): NOOP %.2fx, WRITE 4 KiB %.2fx\n",
			    rates[1] / rates[0], rates[3] / rates[2]);
		std::printf("framed depth 1 / acalsim depth 1: NOOP %.2fx, WRITE 4 KiB %.2fx\n",
			    rates[0] / rates[4], rates[2] / rates[5]);
		std::printf("(acalsim carries one request at a time by definition: no depth-64 figure)\n");
	}
	server.terminate(std::chrono::seconds(10));
	return rc;
}
