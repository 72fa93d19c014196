// SPDX-License-Identifier: Apache-2.0
// rpc-ping: shows the RPC channel working between two processes.
//
//   rpc-ping demo [--count N] [--spin-us U] [--capacity C] [--via inherit|socket]
//       creates a channel, starts itself as the device side (fds inherited,
//       or sent over a Unix socket with SCM_RIGHTS), does N synchronous MMIO
//       round trips and N posted writes, prints latency figures, stops.
//   rpc-ping device --fds REGION,TO_DEVICE,TO_PROXY | --socket-fd FD
//       the device side (started by demo).
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "vsst/posix/child_process.h"
#include "vsst/posix/unique_fd.h"
#include "vsst/rpc.h"
#include "vsst/rpc/channel.hpp"

namespace {

using namespace vsst::rpc;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kPattern = 0x5a5a'0000'a5a5'0000ull;
constexpr int kTimeoutMs = 10000; // generous: busy hosts deschedule peers for milliseconds

int usage()
{
	std::fprintf(stderr,
		     "usage: rpc-ping demo [--count N] [--spin-us U] [--capacity C] [--via inherit|socket]\n"
		     "       rpc-ping device --fds REGION,TO_DEVICE,TO_PROXY | --socket-fd FD\n");
	return 2;
}

// ---- device side ----

int run_device(const vsst_rpc_fds &fds)
{
	std::string err;
	auto dev = DeviceEndpoint::attach(fds, &err);
	if (!dev) {
		spdlog::error("device: attach failed: {}", err);
		return 1;
	}
	if (int r = dev->send_event(hello(), kTimeoutMs); r < 0) {
		spdlog::error("device: HELLO failed: {}", std::strerror(-r));
		return 1;
	}
	uint64_t reads = 0, writes = 0, posted = 0, last_posted = 0;
	for (;;) {
		Message req;
		const int r = dev->wait_request(req, 10 * kTimeoutMs);
		if (r < 0) {
			spdlog::error("device: wait_request: {} {}", std::strerror(-r), dev->poison_reason());
			return 1;
		}
		if (req.op() == Op::Stop) {
			spdlog::info("device: STOP after {} reads, {} writes, {} posted writes", reads,
				     writes, posted);
			return 0;
		}
		if (req.op() != Op::Mmio)
			continue;
		if (req.posted()) {
			// The demo posts increasing values: check nothing is lost or reordered.
			if (req.data() != last_posted + 1) {
				dev->poison("rpc-ping: posted write out of sequence");
				return 1;
			}
			last_posted = req.data();
			++posted;
			continue;
		}
		int cr;
		if (req.is_write()) {
			++writes;
			cr = dev->complete(req, 0, kTimeoutMs);
		} else {
			++reads;
			cr = dev->complete(req, req.addr() ^ kPattern, kTimeoutMs);
		}
		if (cr < 0) {
			spdlog::error("device: complete: {}", std::strerror(-cr));
			return 1;
		}
	}
}

bool parse_fds(const char *s, vsst_rpc_fds &fds)
{
	return std::sscanf(s, "%d,%d,%d", &fds.region, &fds.to_device, &fds.to_proxy) == 3;
}

// ---- proxy side (demo) ----

struct DemoOptions {
	int count = 20000;
	uint32_t spin_us = kDefaultSpinUs;
	uint32_t capacity = 256;
	bool via_socket = false;
};

double percentile(std::vector<double> &v, double p)
{
	const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
	std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
	return v[k];
}

// Starts this program again as the device side, the channel's fds inherited or sent
// over a Unix socket (our end in sock_out).
bool start_device(const ChannelFds &ch, bool via_socket, vsst::ChildProcess &child, int &sock_out,
		  std::string &error)
{
	const vsst_rpc_fds raw = ch.raw();
	int sv[2] = {-1, -1};
	if (via_socket && ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		error = std::string("socketpair: ") + std::strerror(errno);
		return false;
	}
	vsst::UniqueFd ours(sv[0]), theirs(sv[1]);
	vsst::SpawnSpec spec;
	spec.name = "device process";
	if (via_socket) {
		spec.argv = {"/proc/self/exe", "device", "--socket-fd", std::to_string(sv[1])};
		spec.inherit_fds = {sv[1]};
	} else {
		spec.argv = {"/proc/self/exe", "device", "--fds",
			     std::to_string(raw.region) + "," + std::to_string(raw.to_device) + "," +
				     std::to_string(raw.to_proxy)};
		spec.inherit_fds = {raw.region, raw.to_device, raw.to_proxy};
	}
	if (!child.spawn(spec, error))
		return false;
	sock_out = ours.release();
	return true;
}

// Waits for the child at most timeout_ms, then kills it; its exit code (128 + signal
// when killed), 1 when it had to be killed.
int reap(vsst::ChildProcess &child, int timeout_ms)
{
	if (auto e = child.wait(std::chrono::milliseconds(timeout_ms)))
		return e->code();
	spdlog::error("device process {} did not exit; killing it", child.pid());
	child.terminate(std::chrono::milliseconds(0));
	return 1;
}

int run_demo(const DemoOptions &o)
{
	ChannelFds ch;
	std::string err;
	if (create_channel({o.capacity, o.spin_us}, ch, &err) < 0) {
		spdlog::error("create channel: {}", err);
		return 1;
	}
	int sock = -1;
	vsst::ChildProcess device;
	if (!start_device(ch, o.via_socket, device, sock, err)) {
		spdlog::error("cannot start the device process: {}", err);
		return 1;
	}
	if (o.via_socket) {
		const vsst_rpc_fds raw = ch.raw();
		const int r = vsst_setup_send(sock, &raw, nullptr);
		::close(sock);
		if (r < 0) {
			spdlog::error("setup send: {}", std::strerror(-r));
			return reap(device, kTimeoutMs), 1;
		}
	}
	auto px = ProxyEndpoint::attach(ch.raw(), &err);
	if (!px) {
		spdlog::error("proxy attach: {}", err);
		return reap(device, kTimeoutMs), 1;
	}
	px->set_spin_us(o.spin_us);
	Message ev;
	if (int r = px->wait_event(ev, 5000); r < 0 || ev.op() != Op::Hello) {
		spdlog::error("no HELLO from the device side ({})", r < 0 ? std::strerror(-r) : "wrong op");
		return reap(device, kTimeoutMs), 1;
	}
	std::printf("rpc-ping: device process %d attached (%s), protocol version %" PRIu64
		    ", ring capacity %u\n",
		    static_cast<int>(device.pid()), o.via_socket ? "fds over a Unix socket" : "fds inherited",
		    ev.mr1, px->ring_capacity());
	px->send(hello(), kTimeoutMs);

	int rc = 0;
	std::vector<double> lat;
	lat.reserve(static_cast<size_t>(o.count));
	const auto t0 = Clock::now();
	for (int i = 0; i < o.count && rc == 0; ++i) {
		const uint64_t addr = 0x1000 + uint64_t(i) * 8;
		uint64_t v = 0;
		const auto a = Clock::now();
		const int r = px->read(VSST_RPC_AS_GLOBAL, addr, 8, &v, kTimeoutMs);
		lat.push_back(std::chrono::duration<double, std::micro>(Clock::now() - a).count());
		if (r < 0 || v != (addr ^ kPattern)) {
			spdlog::error("round trip {} failed: {} (value 0x{:x})", i,
				      r < 0 ? std::strerror(-r) : "bad data", v);
			rc = 1;
		}
	}
	const double total_s = std::chrono::duration<double>(Clock::now() - t0).count();
	const auto p0 = Clock::now();
	for (int i = 1; i <= o.count && rc == 0; ++i)
		if (px->post(VSST_RPC_AS_GLOBAL, 0x2000, 8, uint64_t(i), kTimeoutMs) < 0)
			rc = 1;
	uint64_t flush = 0; // a synchronous access behind the posted writes
	if (rc == 0 && px->read(VSST_RPC_AS_GLOBAL, 0x3000, 4, &flush, kTimeoutMs) < 0)
		rc = 1;
	const double post_s = std::chrono::duration<double>(Clock::now() - p0).count();

	if (rc == 0 && !lat.empty()) {
		double sum = 0;
		for (double x : lat)
			sum += x;
		const double mean = sum / static_cast<double>(lat.size());
		const double p50 = percentile(lat, 0.50), p99 = percentile(lat, 0.99);
		std::printf("rpc-ping: %d round trips (synchronous 8-byte MMIO reads) in %.3f s\n", o.count,
			    total_s);
		std::printf("rpc-ping: latency mean %.2f us, p50 %.2f us, p99 %.2f us (spin budget %u us)\n",
			    mean, p50, p99, o.spin_us);
		std::printf("rpc-ping: %d posted writes + 1 read in %.3f s (%.2f M msgs/s)\n", o.count,
			    post_s, o.count / post_s / 1e6);
		const Stats s = px->stats();
		std::printf("rpc-ping: proxy sent %" PRIu64 ", received %" PRIu64 ", kicks %" PRIu64
			    " (suppressed %" PRIu64 "), sleeps %" PRIu64 "\n",
			    s.sent, s.received, s.kicks_sent, s.kicks_suppressed, s.sleeps);
	}
	if (px->poisoned())
		spdlog::error("channel poisoned: {}", px->poison_reason());
	px->send(stop(), kTimeoutMs);
	const int child = reap(device, 5000);
	if (child != 0) {
		spdlog::error("device process exited with {}", child);
		rc = 1;
	}
	std::printf("rpc-ping: %s\n", rc == 0 ? "OK" : "FAILED");
	return rc;
}

} // namespace

int main(int argc, char **argv)
{
	std::setvbuf(stdout, nullptr, _IOLBF, 0);
	spdlog::set_pattern("[%H:%M:%S.%e] [rpc-ping] [%l] %v");
	if (argc < 2)
		return usage();
	const std::string mode = argv[1];
	if (mode == "device") {
		vsst_rpc_fds fds{-1, -1, -1};
		if (argc == 4 && std::strcmp(argv[2], "--fds") == 0 && parse_fds(argv[3], fds))
			return run_device(fds);
		if (argc == 4 && std::strcmp(argv[2], "--socket-fd") == 0) {
			char err[160] = {};
			const int sock = std::atoi(argv[3]);
			if (vsst_setup_recv(sock, &fds, nullptr, 5000, err, sizeof err) < 0) {
				spdlog::error("device: setup receive failed: {}", err);
				return 1;
			}
			::close(sock);
			const int rc = run_device(fds);
			::close(fds.region), ::close(fds.to_device), ::close(fds.to_proxy);
			return rc;
		}
		return usage();
	}
	if (mode != "demo")
		return usage();
	DemoOptions o;
	for (int i = 2; i < argc; ++i) {
		const std::string a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : nullptr;
		if (!v)
			return usage();
		if (a == "--count")
			o.count = std::max(1, std::atoi(v));
		else if (a == "--spin-us")
			o.spin_us = static_cast<uint32_t>(std::atoi(v));
		else if (a == "--capacity")
			o.capacity = static_cast<uint32_t>(std::atoi(v));
		else if (a == "--via")
			o.via_socket = std::strcmp(v, "socket") == 0;
		else
			return usage();
		++i;
	}
	return run_demo(o);
}
