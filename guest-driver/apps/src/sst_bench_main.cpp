// SPDX-License-Identifier: Apache-2.0
// sst-bench: latency percentiles and request rate of /dev/sstN for one
// request type, queue depth and number of processes. Prints one line:
//   VSST-BENCH type=noop mode=rw depth=1 procs=1 n=10000 p50_us=... p99_us=...
//              min_us=... avg_us=... max_us=... rps=... errors=0
// Exit status 0 only if every request completed with SST_STATUS_OK.
#include <getopt.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "latency.h"
#include "requests.h"
#include "sst_channel.h"

namespace {

using namespace vsst::guest;

struct Options {
	std::string device = "/dev/sst0";
	uint32_t type = SST_REQ_NOOP;
	unsigned depth = 1;
	unsigned procs = 1;
	unsigned count = 10000;  // measured requests per process
	unsigned warmup = 100;   // unmeasured requests per process first
	unsigned size = 64;      // bytes of READ/WRITE
	uint64_t units = 100;    // COMPUTE units
	bool ioctl_mode = false; // SUBMIT/REAP instead of write()/read()
	bool dump = false;       // --latencies: one VSST-LAT line per measured request
	unsigned timeout_s = 600;
};

// What one process reports back through shared memory.
struct ProcResult {
	uint64_t start_ns; // first measured request submitted
	uint64_t end_ns;   // last request completed
	uint64_t completed;
	uint64_t errors;
	int rc; // 0, or the -errno that stopped the process
	int pad;
};

void on_alarm(int)
{
}

uint64_t now_ns()
{
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

void usage(FILE *out)
{
	fprintf(out, "usage: sst-bench [options]\n"
		     "  -d, --device PATH   device node (default /dev/sst0)\n"
		     "  -t, --type NAME     noop|echo|compute|read|write|get_info (default noop)\n"
		     "  -q, --depth N       requests in flight per process (default 1)\n"
		     "  -p, --procs N       processes (default 1)\n"
		     "  -n, --count N       measured requests per process (default 10000)\n"
		     "  -w, --warmup N      unmeasured requests per process first (default 100)\n"
		     "  -s, --size N        bytes per READ/WRITE (default 64)\n"
		     "  -u, --units N       compute units per COMPUTE (default 100)\n"
		     "  -L, --latencies     also print each measured latency: VSST-LAT proc= seq= ns=\n"
		     "  -m, --mode MODE     rw (write/read, default) or ioctl (SUBMIT/REAP)\n"
		     "  -T, --timeout-s N   bound on the whole run (default 600)\n"
		     "  -h, --help          this text\n");
}

bool parse_uint(const char *s, unsigned long long lo, unsigned long long hi, unsigned long long *out)
{
	char *end = nullptr;
	errno = 0;
	const unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

SSTRequest make_template(const Options &o, unsigned proc, uint64_t memory_size)
{
	std::vector<uint8_t> data(SST_MAX_DATA_SIZE);
	fill_pattern(Pattern::random, proc + 1, data.data(), data.size());
	// Each process gets its own 64 KiB of device memory.
	const uint64_t addr = memory_size > uint64_t(proc + 1) * 0x10000 ? uint64_t(proc) * 0x10000 : 0;
	switch (o.type) {
	case SST_REQ_ECHO:
		return make_echo(0, data.data(), data.size());
	case SST_REQ_COMPUTE:
		return make_compute(0, o.units, SST_LATENCY_DEFAULT);
	case SST_REQ_READ:
		return make_read(0, addr, o.size);
	case SST_REQ_WRITE:
		return make_write(0, addr, data.data(), o.size);
	default:
		return make_request(o.type, 0);
	}
}

// Runs one process's share. lat receives count latencies in ns.
void run_proc(const Options &o, unsigned proc, uint64_t memory_size, uint64_t *lat, ProcResult *res)
{
	int err = 0;
	auto ch = open_device(o.device, &err);
	if (!ch) {
		res->rc = err;
		return;
	}
	const unsigned total = o.warmup + o.count;
	const SSTRequest tmpl = make_template(o, proc, memory_size);
	std::vector<SSTRequest> out(o.depth, tmpl);
	std::vector<SSTResponse> in(o.depth);
	std::vector<uint64_t> started(total, 0);
	unsigned issued = 0, done = 0;

	// Queues up to n more requests; returns how many went in, or -errno.
	auto submit = [&](unsigned n) -> long {
		n = std::min(n, total - issued);
		if (!n)
			return 0;
		const uint64_t t = now_ns();
		for (unsigned i = 0; i < n; i++) {
			out[i].user_data = issued + i;
			started[issued + i] = t;
		}
		if (issued <= o.warmup && issued + n > o.warmup)
			res->start_ns = t;
		long got;
		if (o.ioctl_mode) {
			uint32_t s = 0;
			const int rc = ch->submit(out.data(), n, nullptr, false, &s);
			got = rc ? rc : long(s);
		} else {
			const ssize_t w = ch->write_raw(out.data(), n * sizeof(SSTRequest));
			got = w < 0 ? long(w) : long(w / sizeof(SSTRequest));
		}
		if (got > 0)
			issued += unsigned(got);
		return got;
	};

	if (o.warmup == 0)
		res->start_ns = now_ns();
	long rc = submit(o.depth);
	while (rc >= 0 && done < total) {
		long k;
		if (o.ioctl_mode) {
			uint32_t r = 0;
			const int e = ch->reap(in.data(), o.depth, 1, 30000, &r);
			k = e ? e : long(r);
		} else {
			const ssize_t n = ch->read_raw(in.data(), o.depth * sizeof(SSTResponse));
			k = n < 0 ? long(n) : long(n / sizeof(SSTResponse));
		}
		if (k < 0) {
			rc = k;
			break;
		}
		const uint64_t t = now_ns();
		for (long i = 0; i < k; i++) {
			const uint64_t seq = in[i].user_data;
			if (seq >= total || !started[seq]) {
				res->errors++; // not a request of ours: count, do not index
				continue;
			}
			if (in[i].status != SST_STATUS_OK)
				res->errors++;
			if (seq >= o.warmup)
				lat[seq - o.warmup] = t - started[seq];
			started[seq] = 0;
			done++;
		}
		res->completed = done;
		res->end_ns = t;
		// Refill to depth requests in flight.
		rc = submit(o.depth - (issued - done));
	}
	res->rc = rc < 0 ? int(rc) : 0;
}

uint64_t probe_memory(const std::string &device)
{
	int err = 0;
	auto ch = open_device(device, &err);
	if (!ch)
		return 0;
	SSTResponse resp;
	if (roundtrip(*ch, make_request(SST_REQ_GET_INFO, 1), resp) || resp.status != SST_STATUS_OK)
		return 0;
	return resp.payload.info.memory_size;
}

} // namespace

int main(int argc, char **argv)
{
	Options o;
	static const option opts[] = {
		{"device", required_argument, nullptr, 'd'},
		{"type", required_argument, nullptr, 't'},
		{"depth", required_argument, nullptr, 'q'},
		{"procs", required_argument, nullptr, 'p'},
		{"count", required_argument, nullptr, 'n'},
		{"warmup", required_argument, nullptr, 'w'},
		{"size", required_argument, nullptr, 's'},
		{"units", required_argument, nullptr, 'u'},
		{"mode", required_argument, nullptr, 'm'},
		{"timeout-s", required_argument, nullptr, 'T'},
		{"latencies", no_argument, nullptr, 'L'},
		{"help", no_argument, nullptr, 'h'},
		{nullptr, 0, nullptr, 0},
	};
	int c;
	unsigned long long v = 0;
	auto bad = [](const char *what) {
		fprintf(stderr, "sst-bench: bad %s (see --help)\n", what);
		return 2;
	};
	while ((c = getopt_long(argc, argv, "d:t:q:p:n:w:s:u:m:T:Lh", opts, nullptr)) != -1) {
		switch (c) {
		case 'd':
			o.device = optarg;
			break;
		case 't': {
			const auto t = type_from_name(optarg);
			if (!t || *t == SST_REQ_RESET || *t == SST_REQ_CONFIGURE)
				return bad("--type");
			o.type = *t;
			break;
		}
		case 'q':
			if (!parse_uint(optarg, 1, 4096, &v))
				return bad("--depth (1..4096)");
			o.depth = unsigned(v);
			break;
		case 'p':
			if (!parse_uint(optarg, 1, 256, &v))
				return bad("--procs (1..256)");
			o.procs = unsigned(v);
			break;
		case 'n':
			if (!parse_uint(optarg, 1, 100000000, &v))
				return bad("--count");
			o.count = unsigned(v);
			break;
		case 'w':
			if (!parse_uint(optarg, 0, 100000000, &v))
				return bad("--warmup");
			o.warmup = unsigned(v);
			break;
		case 's':
			if (!parse_uint(optarg, 1, SST_MAX_WRITE_SIZE, &v))
				return bad("--size (1..4068)");
			o.size = unsigned(v);
			break;
		case 'u':
			if (!parse_uint(optarg, 1, ~0ull, &v))
				return bad("--units");
			o.units = v;
			break;
		case 'm':
			if (!strcmp(optarg, "rw"))
				o.ioctl_mode = false;
			else if (!strcmp(optarg, "ioctl"))
				o.ioctl_mode = true;
			else
				return bad("--mode");
			break;
		case 'T':
			if (!parse_uint(optarg, 1, 86400, &v))
				return bad("--timeout-s");
			o.timeout_s = unsigned(v);
			break;
		case 'L':
			o.dump = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	const uint64_t memory_size = probe_memory(o.device);
	// The driver bounds what one fd may own; stay inside it.
	{
		int err = 0;
		if (auto ch = open_device(o.device, &err)) {
			sst_ioc_info info{};
			if (ch->info(&info) == 0 && info.max_per_fd && o.depth > info.max_per_fd) {
				fprintf(stderr,
					"sst-bench: depth %u above the driver's max_per_fd, using %u\n",
					o.depth, info.max_per_fd);
				o.depth = info.max_per_fd;
			}
		} else {
			fprintf(stderr, "sst-bench: %s: %s\n", o.device.c_str(), strerror(-err));
			return 1;
		}
	}

	// Results and latencies live in shared memory the children write.
	const size_t lat_bytes = size_t(o.procs) * o.count * sizeof(uint64_t);
	const size_t res_bytes = size_t(o.procs) * sizeof(ProcResult);
	void *shm = mmap(nullptr, res_bytes + lat_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			 -1, 0);
	if (shm == MAP_FAILED) {
		fprintf(stderr, "sst-bench: mmap: %s\n", strerror(errno));
		return 1;
	}
	auto *results = static_cast<ProcResult *>(shm);
	auto *lat = reinterpret_cast<uint64_t *>(static_cast<char *>(shm) + res_bytes);

	// Children start together when the parent closes the barrier pipe.
	int barrier[2];
	if (pipe(barrier)) {
		fprintf(stderr, "sst-bench: pipe: %s\n", strerror(errno));
		return 1;
	}
	std::vector<pid_t> pids;
	for (unsigned i = 0; i < o.procs; i++) {
		fflush(nullptr);
		const pid_t pid = fork();
		if (pid < 0) {
			fprintf(stderr, "sst-bench: fork: %s\n", strerror(errno));
			for (pid_t p : pids)
				kill(p, SIGKILL);
			return 1;
		}
		if (pid == 0) {
			close(barrier[1]);
			char b;
			while (read(barrier[0], &b, 1) < 0 && errno == EINTR) {
			}
			run_proc(o, i, memory_size, lat + size_t(i) * o.count, &results[i]);
			_exit(0);
		}
		pids.push_back(pid);
	}
	close(barrier[0]);
	close(barrier[1]);

	// Block until the children end or the alarm fires: polling here would wake the
	// guest every few milliseconds and show up in the measured latencies.
	unsigned left = o.procs;
	struct sigaction sa {};
	sa.sa_handler = on_alarm; // no SA_RESTART: the alarm interrupts waitpid()
	sigaction(SIGALRM, &sa, nullptr);
	alarm(o.timeout_s);
	while (left) {
		const pid_t p = waitpid(-1, nullptr, 0);
		if (p > 0)
			left--;
		else
			break; // EINTR: the bound is reached (ECHILD: none left)
	}
	alarm(0);
	if (left) {
		for (pid_t p : pids)
			kill(p, SIGKILL);
		while (waitpid(-1, nullptr, 0) > 0) {
		}
		fprintf(stderr, "sst-bench: %u process(es) did not finish in %u s\n", left, o.timeout_s);
	}

	uint64_t start = ~0ull, end = 0, errors = 0, completed = 0;
	int first_rc = 0;
	std::vector<uint64_t> all;
	all.reserve(size_t(o.procs) * o.count);
	for (unsigned i = 0; i < o.procs; i++) {
		const ProcResult &r = results[i];
		if (r.rc && !first_rc)
			first_rc = r.rc;
		errors += r.errors;
		completed += r.completed > o.warmup ? r.completed - o.warmup : 0;
		if (r.start_ns)
			start = std::min(start, r.start_ns);
		end = std::max(end, r.end_ns);
		const uint64_t measured = r.completed > o.warmup ? r.completed - o.warmup : 0;
		for (uint64_t k = 0; k < measured && k < o.count; k++)
			if (lat[size_t(i) * o.count + k])
				all.push_back(lat[size_t(i) * o.count + k]);
	}
	const double secs = end > start && start != ~0ull ? double(end - start) / 1e9 : 0.0;
	uint64_t sum = 0;
	for (uint64_t x : all)
		sum += x;
	const uint64_t p50 = percentile(all, 50), p99 = percentile(all, 99);
	const double avg = all.empty() ? 0.0 : double(sum) / double(all.size());
	printf("VSST-BENCH type=%.*s mode=%s depth=%u procs=%u n=%llu p50_us=%.1f p99_us=%.1f "
	       "min_us=%.1f avg_us=%.1f max_us=%.1f rps=%.0f errors=%llu\n",
	       int(type_name(o.type).size()), type_name(o.type).data(), o.ioctl_mode ? "ioctl" : "rw",
	       o.depth, o.procs, (unsigned long long)completed, double(p50) / 1e3, double(p99) / 1e3,
	       all.empty() ? 0.0 : double(all.front()) / 1e3, avg / 1e3,
	       all.empty() ? 0.0 : double(all.back()) / 1e3, secs > 0 ? double(completed) / secs : 0.0,
	       (unsigned long long)errors);
	// Per request, in submission order (synchronized time makes these
	// reproducible to the nanosecond: the determinism test compares them).
	for (unsigned i = 0; o.dump && i < o.procs; i++)
		for (unsigned k = 0; k < o.count; k++)
			printf("VSST-LAT proc=%u seq=%u ns=%llu\n", i, k,
			       (unsigned long long)lat[size_t(i) * o.count + k]);
	if (first_rc)
		fprintf(stderr, "sst-bench: a process stopped early: %s\n", strerror(-first_rc));
	const bool ok = !left && !first_rc && !errors && completed == uint64_t(o.procs) * o.count;
	munmap(shm, res_bytes + lat_bytes);
	return ok ? 0 : 1;
}
