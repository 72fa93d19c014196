// SPDX-License-Identifier: Apache-2.0
// vsst-io: the guest side of the bulk I/O tests and benchmarks (virtio-blk, virtio-net),
// which busybox cannot measure: O_DIRECT block I/O at a queue depth (Linux AIO through
// the raw system calls, no libaio in the image), TCP stream throughput and request/
// response round trips, and a plain byte pipe for checksummed transfers.
//
//   vsst-io blk DEV read|write BS DEPTH BYTES
//   vsst-io blk DEV check BS DEPTH BYTES [ROUNDS]
//       writes BYTES of a pattern that depends on the round and each word's offset, reads
//       them back at the same depth and compares; ROUNDS times (default 1):
//       VSST-BLKCHECK rounds=... blocks=... bad=...   (exit 1 if bad > 0)
//       VSST-BENCH io=blk op=read bs=4096 depth=32 bytes=... secs=... mbps=... iops=...
//   vsst-io serve PORT [CONNECTIONS]   stream and rr server (default: forever)
//   vsst-io stream HOST PORT BYTES     VSST-BENCH io=tcp_stream bytes=... secs=... mbps=...
//   vsst-io rr HOST PORT COUNT [SIZE]  VSST-BENCH io=tcp_rr n=... size=... p50_us=... avg_us=...
//   vsst-io recv PORT                  accept one connection, copy it to stdout until EOF
//   vsst-io send HOST PORT             copy stdin to HOST:PORT, then wait for the peer's EOF
//
// busybox nc cannot stand in for recv/send: with stdin at EOF (/dev/null) it closes the
// connection before the data has arrived.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

uint64_t now_ns()
{
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

[[noreturn]] void die(const char *what)
{
	fprintf(stderr, "vsst-io: %s: %s\n", what, strerror(errno));
	exit(1);
}

bool parse_u64(const char *text, uint64_t &out)
{
	char *end = nullptr;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno || end == text)
		return false;
	uint64_t mult = 1;
	if (*end == 'K' || *end == 'k')
		mult = 1ull << 10, end++;
	else if (*end == 'M' || *end == 'm')
		mult = 1ull << 20, end++;
	else if (*end == 'G' || *end == 'g')
		mult = 1ull << 30, end++;
	if (*end)
		return false;
	out = v * mult;
	return true;
}

uint64_t arg_u64(const char *text, const char *name)
{
	uint64_t v = 0;
	if (!parse_u64(text, v)) {
		fprintf(stderr, "vsst-io: %s: '%s' is not a number\n", name, text);
		exit(2);
	}
	return v;
}

bool write_all(int fd, const void *buf, size_t len)
{
	const char *p = static_cast<const char *>(buf);
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		len -= size_t(w);
	}
	return true;
}

bool read_all(int fd, void *buf, size_t len)
{
	char *p = static_cast<char *>(buf);
	while (len) {
		ssize_t r = read(fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		p += r;
		len -= size_t(r);
	}
	return true;
}

// ------------------------------------------------------------------- virtio-blk
long io_setup(unsigned n, aio_context_t *ctx)
{
	return syscall(SYS_io_setup, n, ctx);
}
long io_destroy(aio_context_t ctx)
{
	return syscall(SYS_io_destroy, ctx);
}
long io_submit(aio_context_t ctx, long n, iocb **cbs)
{
	return syscall(SYS_io_submit, ctx, n, cbs);
}
long io_getevents(aio_context_t ctx, long min, long max, io_event *ev)
{
	return syscall(SYS_io_getevents, ctx, min, max, ev, nullptr);
}

// The word at byte offset off of round r (never the same for two rounds or offsets).
uint64_t blk_pattern(uint64_t round, uint64_t off)
{
	return (off + 1) * 0x9e3779b97f4a7c15ull ^ (round + 1) * 0xc2b2ae3d27d4eb4full;
}

void blk_fill(char *buf, uint64_t bs, uint64_t round, uint64_t base)
{
	for (uint64_t i = 0; i < bs; i += 8) {
		const uint64_t w = blk_pattern(round, base + i);
		memcpy(buf + i, &w, 8);
	}
}

bool blk_matches(const char *buf, uint64_t bs, uint64_t round, uint64_t base)
{
	for (uint64_t i = 0; i < bs; i += 8) {
		uint64_t w;
		memcpy(&w, buf + i, 8);
		if (w != blk_pattern(round, base + i))
			return false;
	}
	return true;
}

// One pass over [0, bytes) at `depth` requests in flight. check: -1 no pattern (the
// benchmark), else the round whose pattern is written or compared; *bad counts blocks
// read back wrong. Returns false after an I/O error (reported).
bool blk_pass(int fd, bool writing, uint64_t bs, uint64_t depth, uint64_t bytes, int64_t check, uint64_t *bad)
{
	aio_context_t ctx = 0;
	if (io_setup(unsigned(depth), &ctx) < 0)
		die("io_setup");
	std::vector<char *> bufs(depth);
	for (auto &b : bufs) {
		void *p = nullptr;
		if (posix_memalign(&p, 4096, bs))
			die("posix_memalign");
		memset(p, 0x5a, bs);
		b = static_cast<char *>(p);
	}
	std::vector<iocb> cbs(depth);
	std::vector<io_event> events(depth);
	const uint64_t total = bytes / bs;
	uint64_t next = 0, done = 0;
	bool ok = true;
	auto submit = [&](uint64_t slot) {
		iocb &cb = cbs[slot];
		memset(&cb, 0, sizeof cb);
		if (check >= 0 && writing)
			blk_fill(bufs[slot], bs, uint64_t(check), next * bs);
		cb.aio_data = slot;
		cb.aio_lio_opcode = writing ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
		cb.aio_fildes = uint32_t(fd);
		cb.aio_buf = uint64_t(uintptr_t(bufs[slot]));
		cb.aio_nbytes = bs;
		cb.aio_offset = int64_t(next * bs);
		next++;
		iocb *p = &cb;
		if (io_submit(ctx, 1, &p) != 1)
			die("io_submit");
	};
	for (uint64_t s = 0; s < depth && next < total; s++)
		submit(s);
	// After an error nothing new is submitted; what is in flight is still awaited.
	while (done < (ok ? total : next)) {
		long n = io_getevents(ctx, 1, long(depth), events.data());
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("io_getevents");
		for (long i = 0; i < n; i++) {
			const uint64_t slot = events[i].data;
			if (events[i].res != int64_t(bs)) {
				fprintf(stderr, "vsst-io: blk: %s of %llu bytes returned %lld\n",
					writing ? "write" : "read", (unsigned long long)bs,
					(long long)events[i].res);
				ok = false;
			} else if (check >= 0 && !writing &&
				   !blk_matches(bufs[slot], bs, uint64_t(check),
						uint64_t(cbs[slot].aio_offset))) {
				fprintf(stderr,
					"vsst-io: blk: block at %lld differs from round %lld's pattern\n",
					(long long)cbs[slot].aio_offset, (long long)check);
				(*bad)++;
			}
			done++;
			if (ok && next < total)
				submit(slot);
		}
	}
	if (ok && writing && fdatasync(fd) < 0)
		die("fdatasync");
	io_destroy(ctx);
	for (auto b : bufs)
		free(b);
	return ok;
}

int blk(int argc, char **argv)
{
	if (argc != 7 && argc != 8) {
		fprintf(stderr, "usage: vsst-io blk DEV read|write|check BS DEPTH BYTES [ROUNDS]\n");
		return 2;
	}
	const std::string op = argv[3];
	const bool checking = op == "check";
	const bool writing = op == "write";
	if (!writing && op != "read" && !checking) {
		fprintf(stderr, "vsst-io: blk: want read, write or check\n");
		return 2;
	}
	const uint64_t bs = arg_u64(argv[4], "BS"), depth = arg_u64(argv[5], "DEPTH"),
		       bytes = arg_u64(argv[6], "BYTES"), rounds = argc == 8 ? arg_u64(argv[7], "ROUNDS") : 1;
	if (bs == 0 || bs % 4096 || depth == 0 || depth > 256 || bytes < bs || bytes % bs ||
	    (argc == 8 && !checking) || rounds == 0) {
		fprintf(stderr, "vsst-io: blk: BS a multiple of 4096, DEPTH 1..256, BYTES a multiple "
				"of BS, ROUNDS >= 1 (check only)\n");
		return 2;
	}
	const int fd = open(argv[2], (checking ? O_RDWR : writing ? O_WRONLY : O_RDONLY) | O_DIRECT);
	if (fd < 0)
		die(argv[2]);
	uint64_t bad = 0;
	if (checking) {
		bool ok = true;
		for (uint64_t r = 0; r < rounds && ok; r++)
			ok = blk_pass(fd, true, bs, depth, bytes, int64_t(r), &bad) &&
			     blk_pass(fd, false, bs, depth, bytes, int64_t(r), &bad);
		close(fd);
		printf("VSST-BLKCHECK rounds=%llu blocks=%llu bad=%llu io_errors=%d\n",
		       (unsigned long long)rounds, (unsigned long long)(rounds * (bytes / bs)),
		       (unsigned long long)bad, ok ? 0 : 1);
		return ok && bad == 0 ? 0 : 1;
	}
	const uint64_t t0 = now_ns();
	if (!blk_pass(fd, writing, bs, depth, bytes, -1, &bad))
		return 1;
	const double secs = double(now_ns() - t0) / 1e9;
	close(fd);
	printf("VSST-BENCH io=blk op=%s bs=%llu depth=%llu bytes=%llu secs=%.3f mbps=%.1f iops=%.0f\n",
	       op.c_str(), (unsigned long long)bs, (unsigned long long)depth, (unsigned long long)bytes, secs,
	       double(bytes) / 1e6 / secs, double(bytes / bs) / secs);
	return 0;
}

// ------------------------------------------------------------------- virtio-net
int listen_on(const char *port_text)
{
	const uint64_t port = arg_u64(port_text, "PORT");
	int s = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		die("socket");
	int one = 1, zero = 0;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	// Both families on one socket: IPv4 (192.0.2.x) and IPv6 link-local peers.
	setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
	sockaddr_in6 sa{};
	sa.sin6_family = AF_INET6;
	sa.sin6_port = htons(uint16_t(port));
	sa.sin6_addr = in6addr_any;
	if (bind(s, reinterpret_cast<sockaddr *>(&sa), sizeof sa) < 0 || listen(s, 8) < 0)
		die("bind/listen");
	return s;
}

// HOST: an IPv4 address, or IPv6 with an optional %IFACE scope (link-local).
int connect_to(const char *host, const char *port_text)
{
	const uint64_t port = arg_u64(port_text, "PORT");
	// The peer may still be starting its server: retry for up to 60 s.
	for (int attempt = 0;; attempt++) {
		int s = -1, r = -1;
		sockaddr_in sa4{};
		sa4.sin_family = AF_INET;
		sa4.sin_port = htons(uint16_t(port));
		if (inet_pton(AF_INET, host, &sa4.sin_addr) == 1) {
			s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			r = connect(s, reinterpret_cast<sockaddr *>(&sa4), sizeof sa4);
		} else {
			sockaddr_in6 sa6{};
			sa6.sin6_family = AF_INET6;
			sa6.sin6_port = htons(uint16_t(port));
			std::string addr = host;
			if (auto pct = addr.find('%'); pct != std::string::npos) {
				sa6.sin6_scope_id = if_nametoindex(addr.substr(pct + 1).c_str());
				addr.resize(pct);
			}
			if (inet_pton(AF_INET6, addr.c_str(), &sa6.sin6_addr) != 1) {
				fprintf(stderr, "vsst-io: '%s' is not an IP address\n", host);
				exit(2);
			}
			s = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
			r = connect(s, reinterpret_cast<sockaddr *>(&sa6), sizeof sa6);
		}
		if (r == 0)
			return s;
		close(s);
		if (attempt >= 600)
			die("connect");
		usleep(100000);
	}
}

void nodelay(int s)
{
	int one = 1;
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Copies from one fd to another until EOF; returns the bytes copied.
uint64_t pump(int from, int to)
{
	std::vector<char> buf(256 << 10);
	uint64_t n = 0;
	for (;;) {
		ssize_t r = read(from, buf.data(), buf.size());
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("read");
		if (r == 0)
			return n;
		if (!write_all(to, buf.data(), size_t(r)))
			die("write");
		n += uint64_t(r);
	}
}

// One connection of serve: a mode byte, 'S' (stream: discard to EOF, answer the byte
// count) or 'R' (rr: echo fixed-size messages until EOF; the first 4 bytes give the size).
void serve_one(int c)
{
	char mode = 0;
	if (!read_all(c, &mode, 1))
		return;
	if (mode == 'S') {
		std::vector<char> buf(256 << 10);
		uint64_t n = 0;
		for (;;) {
			ssize_t r = read(c, buf.data(), buf.size());
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			n += uint64_t(r);
		}
		write_all(c, &n, sizeof n);
	} else if (mode == 'R') {
		nodelay(c);
		uint32_t size = 0;
		if (!read_all(c, &size, sizeof size) || size == 0 || size > (1u << 20))
			return;
		std::vector<char> msg(size);
		while (read_all(c, msg.data(), size) && write_all(c, msg.data(), size)) {
		}
	}
}

int serve(int argc, char **argv)
{
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: vsst-io serve PORT [CONNECTIONS]\n");
		return 2;
	}
	const uint64_t limit = argc == 4 ? arg_u64(argv[3], "CONNECTIONS") : 0;
	int ls = listen_on(argv[2]);
	for (uint64_t n = 0; limit == 0 || n < limit; n++) {
		int c = accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR)
				continue;
			die("accept");
		}
		serve_one(c);
		close(c);
	}
	return 0;
}

int stream(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: vsst-io stream HOST PORT BYTES\n");
		return 2;
	}
	const uint64_t bytes = arg_u64(argv[4], "BYTES");
	int s = connect_to(argv[2], argv[3]);
	std::vector<char> buf(128 << 10, 'v');
	const uint64_t t0 = now_ns();
	if (!write_all(s, "S", 1))
		die("write");
	for (uint64_t left = bytes; left;) {
		const size_t n = size_t(std::min<uint64_t>(left, buf.size()));
		if (!write_all(s, buf.data(), n))
			die("write");
		left -= n;
	}
	shutdown(s, SHUT_WR);
	uint64_t got = 0;
	if (!read_all(s, &got, sizeof got))
		die("reading the server's count");
	const double secs = double(now_ns() - t0) / 1e9;
	close(s);
	if (got != bytes) {
		fprintf(stderr, "vsst-io: stream: the server counted %llu bytes of %llu\n",
			(unsigned long long)got, (unsigned long long)bytes);
		return 1;
	}
	printf("VSST-BENCH io=tcp_stream bytes=%llu secs=%.3f mbps=%.1f\n", (unsigned long long)bytes, secs,
	       double(bytes) / 1e6 / secs);
	return 0;
}

int rr(int argc, char **argv)
{
	if (argc < 5 || argc > 6) {
		fprintf(stderr, "usage: vsst-io rr HOST PORT COUNT [SIZE]\n");
		return 2;
	}
	const uint64_t count = arg_u64(argv[4], "COUNT");
	const uint32_t size = argc == 6 ? uint32_t(arg_u64(argv[5], "SIZE")) : 64;
	if (count == 0 || size == 0 || size > (1u << 20)) {
		fprintf(stderr, "vsst-io: rr: COUNT > 0, SIZE 1..1M\n");
		return 2;
	}
	int s = connect_to(argv[2], argv[3]);
	nodelay(s);
	if (!write_all(s, "R", 1) || !write_all(s, &size, sizeof size))
		die("write");
	std::vector<char> msg(size, 'r'), back(size);
	std::vector<uint64_t> rtt;
	rtt.reserve(count);
	const uint64_t warmup = std::min<uint64_t>(count / 10, 100);
	for (uint64_t i = 0; i < count + warmup; i++) {
		const uint64_t t = now_ns();
		if (!write_all(s, msg.data(), size) || !read_all(s, back.data(), size))
			die("rr exchange");
		if (i >= warmup)
			rtt.push_back(now_ns() - t);
	}
	close(s);
	std::sort(rtt.begin(), rtt.end());
	double sum = 0;
	for (uint64_t v : rtt)
		sum += double(v);
	printf("VSST-BENCH io=tcp_rr n=%zu size=%u p50_us=%.1f p99_us=%.1f avg_us=%.1f min_us=%.1f\n",
	       rtt.size(), size, double(rtt[rtt.size() / 2]) / 1e3, double(rtt[rtt.size() * 99 / 100]) / 1e3,
	       sum / double(rtt.size()) / 1e3, double(rtt.front()) / 1e3);
	return 0;
}

int recv_cmd(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: vsst-io recv PORT\n");
		return 2;
	}
	int ls = listen_on(argv[2]);
	int c = accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
	if (c < 0)
		die("accept");
	close(ls);
	const uint64_t n = pump(c, STDOUT_FILENO);
	close(c);
	fprintf(stderr, "vsst-io: received %llu bytes\n", (unsigned long long)n);
	return 0;
}

int send_cmd(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: vsst-io send HOST PORT\n");
		return 2;
	}
	int s = connect_to(argv[2], argv[3]);
	const uint64_t n = pump(STDIN_FILENO, s);
	// Half-close, then wait for the receiver to close: everything has arrived.
	shutdown(s, SHUT_WR);
	char c;
	while (read(s, &c, 1) > 0) {
	}
	close(s);
	fprintf(stderr, "vsst-io: sent %llu bytes\n", (unsigned long long)n);
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	const std::string cmd = argc > 1 ? argv[1] : "";
	if (cmd == "blk")
		return blk(argc, argv);
	if (cmd == "serve")
		return serve(argc, argv);
	if (cmd == "stream")
		return stream(argc, argv);
	if (cmd == "rr")
		return rr(argc, argv);
	if (cmd == "recv")
		return recv_cmd(argc, argv);
	if (cmd == "send")
		return send_cmd(argc, argv);
	fprintf(stderr, "usage: vsst-io blk|serve|stream|rr|recv|send ... (see the source's head)\n");
	return 2;
}
