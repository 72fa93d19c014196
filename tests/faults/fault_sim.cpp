// SPDX-License-Identifier: Apache-2.0
// vsst-fault-sim: a hostile simulator for the simulator fault tests.
//
// It listens where the device expects the simulator and relays each
// connection to a real sst-sim (--upstream), frame by frame in the
// simulator-to-device direction. On the first --faults connections it
// replaces the --after-th RESPONSE frame by a malformed one (the kinds of
// --kinds, one per connection, in turn); later connections are relayed
// untouched, so the device must recover on its own. One line per event on
// stderr ("fault-sim: injected <kind> on connection <n>").
//
// Kinds: bad_magic, bad_version, oversize, unknown_type, unknown_tag,
// short_response, second_hello, garbage, truncated (half a frame, then the
// connection is closed).
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "vsst/sim-wire.h"

namespace {

std::atomic<bool> g_term{false};
void on_term(int)
{
	g_term = true;
}

const std::vector<std::string> kAllKinds = {"bad_magic",    "bad_version", "oversize",
					    "unknown_type", "unknown_tag", "short_response",
					    "second_hello", "garbage",     "truncated"};

struct Options {
	std::string socket, upstream;
	std::vector<std::string> kinds = kAllKinds;
	unsigned faults = 0; // 0: one per kind
	unsigned after = 50;
};

class Fd {
public:
	explicit Fd(int fd = -1) : fd_(fd) {}
	~Fd()
	{
		if (fd_ >= 0)
			close(fd_);
	}
	Fd(const Fd &) = delete;
	Fd &operator=(const Fd &) = delete;
	int get() const { return fd_; }

private:
	int fd_;
};

bool write_all(int fd, const void *p, size_t n)
{
	const auto *b = static_cast<const uint8_t *>(p);
	while (n) {
		const ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		b += w;
		n -= size_t(w);
	}
	return true;
}

int connect_to(const std::string &path)
{
	const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sockaddr_un a{};
	a.sun_family = AF_UNIX;
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
	if (fd < 0 || connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

// The malformed replacement for RESPONSE frame `f` (header + payload).
std::vector<uint8_t> malform(const std::string &kind, const std::vector<uint8_t> &f)
{
	std::vector<uint8_t> out = f;
	vsst_sim_frame_hdr h;
	memcpy(&h, f.data(), sizeof h);
	auto put = [&](const vsst_sim_frame_hdr &nh) { memcpy(out.data(), &nh, sizeof nh); };
	if (kind == "bad_magic") {
		h.magic = 0x21444142; // "BAD!"
		put(h);
	} else if (kind == "bad_version") {
		h.version = 99;
		put(h);
	} else if (kind == "oversize") {
		h.length = VSST_SIM_MAX_PAYLOAD + 1;
		put(h);
	} else if (kind == "unknown_type") {
		h.type = 0x77;
		put(h);
	} else if (kind == "unknown_tag") {
		h.tag ^= 0x4000000000000000ull;
		put(h);
	} else if (kind == "short_response") {
		h.length = 4;
		out.resize(sizeof h + 4);
		put(h);
	} else if (kind == "second_hello") {
		vsst_sim_hello hello{0, 0, 1000000000};
		h.type = VSST_SIM_HELLO;
		h.length = sizeof hello;
		h.tag = 0;
		out.assign(sizeof h + sizeof hello, 0);
		memcpy(out.data(), &h, sizeof h);
		memcpy(out.data() + sizeof h, &hello, sizeof hello);
	} else if (kind == "garbage") {
		out.assign(64, 0);
		for (size_t i = 0; i < out.size(); i++)
			out[i] = uint8_t(i * 37 + 11);
	} else if (kind == "truncated") {
		out.resize(sizeof h / 2);
	}
	return out;
}

// Relays one device connection; injects `kind` (empty: none) at the
// `after`-th RESPONSE.
void relay(int client, const std::string &upstream, std::string kind, unsigned after, unsigned conn)
{
	Fd c(client), u(connect_to(upstream));
	if (u.get() < 0) {
		spdlog::error("fault-sim: connection {}: cannot reach {}", conn, upstream);
		return;
	}
	std::vector<uint8_t> from_sim;
	unsigned responses = 0;
	uint8_t buf[65536];
	for (;;) {
		pollfd p[2] = {{c.get(), POLLIN, 0}, {u.get(), POLLIN, 0}};
		const int r = poll(p, 2, 200);
		if (g_term)
			return;
		if (r <= 0)
			continue;
		if (p[0].revents) {
			const ssize_t n = recv(c.get(), buf, sizeof buf, 0);
			if (n <= 0 || !write_all(u.get(), buf, size_t(n))) {
				spdlog::info(
					"fault-sim: connection {} closed by the device after {} responses",
					conn, responses);
				return;
			}
		}
		if (p[1].revents) {
			const ssize_t n = recv(u.get(), buf, sizeof buf, 0);
			if (n <= 0) {
				spdlog::info("fault-sim: connection {}: upstream closed", conn);
				return;
			}
			from_sim.insert(from_sim.end(), buf, buf + n);
			// Forward whole frames; the simulator's framing is trusted.
			while (from_sim.size() >= sizeof(vsst_sim_frame_hdr)) {
				vsst_sim_frame_hdr h;
				memcpy(&h, from_sim.data(), sizeof h);
				const size_t len = sizeof h + h.length;
				if (from_sim.size() < len)
					break;
				std::vector<uint8_t> f(from_sim.begin(), from_sim.begin() + long(len));
				from_sim.erase(from_sim.begin(), from_sim.begin() + long(len));
				if (h.type == VSST_SIM_RESPONSE && !kind.empty() && ++responses == after) {
					const auto bad = malform(kind, f);
					write_all(c.get(), bad.data(), bad.size());
					spdlog::warn("fault-sim: injected {} on connection {} (response {})",
						     kind, conn, responses);
					if (kind == "truncated") {
						spdlog::info("fault-sim: connection {}: hung up mid-frame",
							     conn);
						return;
					}
					kind.clear();
					continue;
				}
				if (h.type == VSST_SIM_RESPONSE && kind.empty())
					responses++;
				if (!write_all(c.get(), f.data(), f.size()))
					return;
			}
		}
	}
}

void usage(FILE *out)
{
	fprintf(out,
		"usage: vsst-fault-sim --socket PATH --upstream PATH [--kinds K1,K2,...] [--faults N]\n"
		"                      [--after N]\n"
		"  --kinds   malformations, one per connection in turn (default: all: bad_magic,\n"
		"            bad_version, oversize, unknown_type, unknown_tag, short_response,\n"
		"            second_hello, garbage, truncated)\n"
		"  --faults  connections that get a fault (default: one per kind); later ones are clean\n"
		"  --after   the RESPONSE frame of a connection that is replaced (default 50)\n");
}

} // namespace

int main(int argc, char **argv)
{
	Options o;
	static const option opts[] = {{"socket", required_argument, nullptr, 's'},
				      {"upstream", required_argument, nullptr, 'u'},
				      {"kinds", required_argument, nullptr, 'k'},
				      {"faults", required_argument, nullptr, 'f'},
				      {"after", required_argument, nullptr, 'a'},
				      {"help", no_argument, nullptr, 'h'},
				      {}};
	for (int c; (c = getopt_long(argc, argv, "s:u:k:f:a:h", opts, nullptr)) != -1;) {
		switch (c) {
		case 's':
			o.socket = optarg;
			break;
		case 'u':
			o.upstream = optarg;
			break;
		case 'k': {
			o.kinds.clear();
			std::string s = optarg;
			for (size_t pos = 0; pos <= s.size();) {
				const size_t comma = std::min(s.find(',', pos), s.size());
				const std::string k = s.substr(pos, comma - pos);
				pos = comma + 1;
				bool known = false;
				for (const auto &a : kAllKinds)
					known |= a == k;
				if (!known) {
					fprintf(stderr, "vsst-fault-sim: unknown kind '%s'\n", k.c_str());
					return 2;
				}
				o.kinds.push_back(k);
			}
			break;
		}
		case 'f':
			o.faults = unsigned(atoi(optarg));
			break;
		case 'a':
			o.after = unsigned(std::max(1, atoi(optarg)));
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (o.socket.empty() || o.upstream.empty() || o.kinds.empty()) {
		usage(stderr);
		return 2;
	}
	if (!o.faults)
		o.faults = unsigned(o.kinds.size());
	spdlog::set_pattern("%H:%M:%S.%e %^%l%$ %v");
	struct sigaction sa {};
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, nullptr);
	sigaction(SIGINT, &sa, nullptr);

	Fd ls(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	sockaddr_un a{};
	a.sun_family = AF_UNIX;
	snprintf(a.sun_path, sizeof a.sun_path, "%s", o.socket.c_str());
	unlink(o.socket.c_str());
	if (ls.get() < 0 || bind(ls.get(), reinterpret_cast<sockaddr *>(&a), sizeof a) < 0 ||
	    listen(ls.get(), 8) < 0) {
		spdlog::error("fault-sim: cannot listen on {}: {}", o.socket, strerror(errno));
		return 1;
	}
	spdlog::info("fault-sim: listening on {}, upstream {}, {} faulty connection(s)", o.socket, o.upstream,
		     o.faults);
	std::vector<std::thread> threads;
	unsigned conn = 0;
	while (!g_term) {
		pollfd p{ls.get(), POLLIN, 0};
		if (poll(&p, 1, 200) <= 0)
			continue;
		const int c = accept4(ls.get(), nullptr, nullptr, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		conn++;
		const std::string kind = conn <= o.faults ? o.kinds[(conn - 1) % o.kinds.size()] : "";
		spdlog::info("fault-sim: connection {} ({})", conn, kind.empty() ? "clean" : kind);
		threads.emplace_back(relay, c, o.upstream, kind, o.after, conn);
	}
	for (auto &t : threads)
		t.join();
	unlink(o.socket.c_str());
	spdlog::info("fault-sim: stopped after {} connection(s)", conn);
	return 0;
}
