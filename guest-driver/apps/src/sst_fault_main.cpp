// SPDX-License-Identifier: Apache-2.0
// sst-fault: the guest side of the fault-injection and soak tests.
//
//   sst-fault hostile [options]  malformed use of /dev/sstN (hostile user
//                                space); one VSST-RESULT line per case
//   sst-fault load [options]     checked load: every request answered
//                                exactly once, statuses counted, progress
//                                lines while it runs
//
// Output lines: "VSST-RESULT <name> PASS|FAIL <detail>", a final
// "VSST-RESULT summary pass=N fail=M skip=0"; load also prints
// "VSST-LOAD t=<s> <counters>" every --report seconds. Exit 0 iff no FAIL.
#include <fcntl.h>
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
#include <new>
#include <set>
#include <string>
#include <vector>

#include "hostile_cases.h"
#include "load_check.h"
#include "requests.h"
#include "sst_channel.h"
#include "victims.h"

namespace {

using namespace vsst::guest;

void usage(FILE *out)
{
	fprintf(out,
		"usage: sst-fault hostile [-d DEV] [-c CASE]... [-s SEED] [-n N] [-l]\n"
		"       sst-fault load [-d DEV]... [-p PROCS] [-q DEPTH] [-t SECONDS] [-r SECONDS]\n"
		"                      [-a STATUS,...] [-m MIN_OK] [-z BYTES] [-u UNITS] [-N REQUESTS]\n"
		"                      [-T MS] [-k SECONDS] [--no-verify]\n"
		"hostile: malformed use of the device; the device must survive.\n"
		"  -d, --device PATH   device node (default /dev/sst0)\n"
		"  -c, --case NAME     run only this case (repeatable); -l lists them\n"
		"  -s, --seed N        seed of the random requests (default 1)\n"
		"  -n, --random N      random requests (default 400)\n"
		"load: COMPUTE/WRITE/READ lanes, each request accounted for.\n"
		"  -d, --device PATH   device node, repeatable: workers go round-robin\n"
		"  -p, --procs N       worker processes (default 4)\n"
		"  -q, --depth N       requests in flight per worker (default 8, <= 256)\n"
		"  -t, --seconds S     run time before draining (default 30)\n"
		"  -N, --requests N    stop each worker after N requests instead (0: by time)\n"
		"  -r, --report S      progress line period (default 5, 0: none)\n"
		"  -a, --allow LIST    statuses allowed besides OK: no_device,timeout,error,busy,invalid\n"
		"  -m, --min-ok N      OK answers required (default 1)\n"
		"  -z, --size N        bytes per WRITE/READ (default 256)\n"
		"  -u, --units N       COMPUTE work items, 1..N (default 64)\n"
		"  -T, --timeout-ms MS per-fd request timeout (SST_IOC_SET_TIMEOUT; default: driver's)\n"
		"      --no-verify     do not compare READ data (a restarted simulator forgets memory)\n"
		"  -k, --kill-every S  every S seconds a victim process with requests in flight is\n"
		"                      SIGKILLed; at the end the driver must have nothing in flight\n"
		"                      and every request it sent must have come back once\n"
		"Output: VSST-RESULT lines and a summary; exit 0 iff nothing failed.\n");
}

bool parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end = nullptr;
	errno = 0;
	const unsigned long long v = strtoull(s, &end, 0);
	if (errno || !end || *end || end == s || v > max)
		return false;
	*out = v;
	return true;
}

void result(const std::string &name, bool pass, const std::string &detail)
{
	printf("VSST-RESULT %s %s %s\n", name.c_str(), pass ? "PASS" : "FAIL", detail.c_str());
	fflush(stdout);
}

// ------------------------------------------------------------------ hostile

int hostile_main(int argc, char **argv)
{
	HostileContext ctx;
	ctx.device = "/dev/sst0";
	std::set<std::string> only;
	bool list = false;
	unsigned long long v;
	static const option opts[] = {{"device", required_argument, nullptr, 'd'},
				      {"case", required_argument, nullptr, 'c'},
				      {"seed", required_argument, nullptr, 's'},
				      {"random", required_argument, nullptr, 'n'},
				      {"list", no_argument, nullptr, 'l'},
				      {"help", no_argument, nullptr, 'h'},
				      {}};
	for (int c; (c = getopt_long(argc, argv, "d:c:s:n:lh", opts, nullptr)) != -1;) {
		switch (c) {
		case 'd':
			ctx.device = optarg;
			break;
		case 'c':
			only.insert(optarg);
			break;
		case 's':
			if (!parse_uint(optarg, UINT64_MAX, &v))
				return usage(stderr), 2;
			ctx.seed = v;
			break;
		case 'n':
			if (!parse_uint(optarg, 1000000, &v))
				return usage(stderr), 2;
			ctx.random_count = unsigned(v);
			break;
		case 'l':
			list = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc)
		return usage(stderr), 2;
	for (const auto &name : only) {
		bool known = false;
		for (const auto &c : hostile_cases())
			known |= c.name == name;
		if (!known) {
			fprintf(stderr, "sst-fault: unknown case '%s' (see --list)\n", name.c_str());
			return 2;
		}
	}
	if (list) {
		for (const auto &c : hostile_cases())
			printf("%-20.*s %.*s\n", int(c.name.size()), c.name.data(), int(c.what.size()),
			       c.what.data());
		return 0;
	}
	ctx.fd = open(ctx.device.c_str(), O_RDWR | O_CLOEXEC);
	if (ctx.fd < 0) {
		result("hostile.open", false, ctx.device + ": " + strerror(errno));
		printf("VSST-RESULT summary pass=0 fail=1 skip=0\n");
		return 1;
	}
	// Device memory size from GET_INFO, for the out-of-range requests.
	int err = 0;
	auto ch = open_device(ctx.device, &err);
	if (ch) {
		SSTResponse resp;
		if (roundtrip(*ch, make_request(SST_REQ_GET_INFO, 1), resp) == 0 &&
		    resp.status == SST_STATUS_OK)
			ctx.memory_size = resp.payload.info.memory_size;
	}
	unsigned pass = 0, fail = 0;
	for (const auto &c : hostile_cases()) {
		if (!only.empty() && !only.count(std::string(c.name)))
			continue;
		const HostileResult r = c.run(ctx);
		result("hostile." + std::string(c.name), r.pass, r.detail);
		(r.pass ? pass : fail)++;
	}
	close(ctx.fd);
	printf("VSST-RESULT summary pass=%u fail=%u skip=0\n", pass, fail);
	return fail ? 1 : 0;
}

// --------------------------------------------------------------------- load

struct Shared {
	LoadCounters counters;
	std::atomic<bool> stop{false};
};

std::atomic<bool> *g_stop = nullptr;
void on_signal(int)
{
	g_stop->store(true);
}

int load_main(int argc, char **argv)
{
	std::vector<std::string> devices;
	unsigned procs = 4, depth = 8;
	double seconds = 30, report = 5;
	std::set<uint32_t> allowed{SST_STATUS_OK};
	unsigned long long min_ok = 1, v;
	LoadWorkerParams wp;
	uint32_t timeout_ms = 0;
	double kill_every = 0;
	enum { kNoVerify = 1000 };
	static const option opts[] = {{"device", required_argument, nullptr, 'd'},
				      {"procs", required_argument, nullptr, 'p'},
				      {"depth", required_argument, nullptr, 'q'},
				      {"seconds", required_argument, nullptr, 't'},
				      {"requests", required_argument, nullptr, 'N'},
				      {"report", required_argument, nullptr, 'r'},
				      {"allow", required_argument, nullptr, 'a'},
				      {"min-ok", required_argument, nullptr, 'm'},
				      {"size", required_argument, nullptr, 'z'},
				      {"units", required_argument, nullptr, 'u'},
				      {"timeout-ms", required_argument, nullptr, 'T'},
				      {"no-verify", no_argument, nullptr, kNoVerify},
				      {"kill-every", required_argument, nullptr, 'k'},
				      {"help", no_argument, nullptr, 'h'},
				      {}};
	for (int c; (c = getopt_long(argc, argv, "d:p:q:t:N:r:a:m:z:u:T:k:h", opts, nullptr)) != -1;) {
		switch (c) {
		case 'd':
			devices.push_back(optarg);
			break;
		case 'p':
			if (!parse_uint(optarg, 256, &v) || v == 0)
				return usage(stderr), 2;
			procs = unsigned(v);
			break;
		case 'q':
			if (!parse_uint(optarg, 256, &v) || v == 0)
				return usage(stderr), 2;
			depth = unsigned(v);
			break;
		case 't':
			if (!parse_uint(optarg, 30 * 24 * 3600, &v))
				return usage(stderr), 2;
			seconds = double(v);
			break;
		case 'N':
			if (!parse_uint(optarg, 1ull << 40, &v))
				return usage(stderr), 2;
			wp.max_requests = v;
			break;
		case 'r':
			if (!parse_uint(optarg, 3600, &v))
				return usage(stderr), 2;
			report = double(v);
			break;
		case 'a': {
			std::string list = optarg;
			size_t pos = 0;
			while (pos <= list.size()) {
				const size_t comma = std::min(list.find(',', pos), list.size());
				const std::string name = list.substr(pos, comma - pos);
				pos = comma + 1;
				if (name == "no_device")
					allowed.insert(SST_STATUS_NO_DEVICE);
				else if (name == "timeout")
					allowed.insert(SST_STATUS_TIMEOUT);
				else if (name == "error")
					allowed.insert(SST_STATUS_ERROR);
				else if (name == "busy")
					allowed.insert(SST_STATUS_BUSY);
				else if (name == "invalid")
					allowed.insert(SST_STATUS_INVALID);
				else if (name != "ok" && !name.empty())
					return usage(stderr), 2;
			}
			break;
		}
		case 'm':
			if (!parse_uint(optarg, UINT64_MAX, &v))
				return usage(stderr), 2;
			min_ok = v;
			break;
		case 'z':
			if (!parse_uint(optarg, SST_MAX_WRITE_SIZE, &v) || v == 0)
				return usage(stderr), 2;
			wp.io_size = uint32_t(v);
			break;
		case 'u':
			if (!parse_uint(optarg, 1u << 20, &v) || v == 0)
				return usage(stderr), 2;
			wp.compute_units = v;
			break;
		case 'T':
			if (!parse_uint(optarg, 3600000, &v))
				return usage(stderr), 2;
			timeout_ms = uint32_t(v);
			break;
		case kNoVerify:
			wp.verify = false;
			break;
		case 'k':
			if (!parse_uint(optarg, 3600, &v) || v == 0)
				return usage(stderr), 2;
			kill_every = double(v);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc)
		return usage(stderr), 2;
	if (devices.empty())
		devices.push_back("/dev/sst0");
	wp.depth = depth;

	void *mem = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	auto *sh = new (mem) Shared;
	g_stop = &sh->stop;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	const double t0 = now_s();
	std::vector<pid_t> kids;
	for (unsigned i = 0; i < procs; i++) {
		const pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			sh->stop = true;
			break;
		}
		if (pid == 0) {
			const std::string &dev = devices[i % devices.size()];
			int err = 0;
			auto ch = open_device(dev, &err);
			if (!ch) {
				fprintf(stderr, "sst-fault load: worker %u: %s: %s\n", i, dev.c_str(),
					strerror(-err));
				sh->counters.io_errors++;
				_exit(1);
			}
			if (timeout_ms)
				ch->set_timeout(timeout_ms);
			LoadWorkerParams p = wp;
			p.index = i;
			p.seed = 0x5eed0000ull + i;
			const int rc = run_load_worker(*ch, p, sh->counters, sh->stop);
			if (rc < 0)
				fprintf(stderr, "sst-fault load: worker %u: %s\n", i, strerror(-rc));
			_exit(rc < 0 ? 1 : 0);
		}
		kids.push_back(pid);
	}
	printf("VSST-LOAD start procs=%u depth=%u devices=%zu seconds=%.0f requests=%llu\n", procs, depth,
	       devices.size(), seconds, (unsigned long long)wp.max_requests);
	fflush(stdout);
	double next_report = t0 + report;
	const bool by_time = wp.max_requests == 0;
	// Draining is bounded by the driver's request timeout (every request
	// completes or times out); past that plus a margin a worker is stuck.
	const double drain_bound = std::max(60.0, 3.0 * (timeout_ms ? timeout_ms : 10000) / 1000.0);
	bool workers_ok = true, killed = false;
	size_t reaped = 0;
	// Victims (--kill-every): killed is how many had requests in flight at
	// the kill, abandoned those requests; a miss (no answer in time, e.g.
	// while a fault stalls the simulator) is reported, not failed.
	double next_victim = t0 + kill_every;
	unsigned victims = 0, victims_killed = 0, victim_misses = 0;
	uint64_t abandoned = 0;
	std::string victim_miss;
	while (reaped < kids.size()) {
		double t = now_s();
		if (by_time && t - t0 >= seconds)
			sh->stop = true;
		if (kill_every > 0 && !sh->stop && t >= next_victim) {
			const std::string &dev = devices[victims % devices.size()];
			// Every other one dies right after writing 96 (under TCG its exit
			// takes longer than the device needs for a few: so many that most
			// are still in the device); the others at a varying moment of
			// their exchange, 16 in flight.
			const bool at_once = victims % 2 == 0;
			const VictimResult vr =
				kill_one_victim(dev, at_once ? 96 : 16, at_once, (victims * 7) % 20, 10.0);
			victims++;
			if (vr.killed) {
				victims_killed++;
				abandoned += vr.in_flight;
			} else {
				victim_misses++;
				victim_miss = vr.error;
			}
			next_victim += kill_every;
			t = now_s();
		}
		if (report > 0 && t >= next_report) {
			printf("VSST-LOAD t=%.0f %s\n", t - t0, describe(sh->counters).c_str());
			fflush(stdout);
			next_report += report;
		}
		if (by_time && !killed && t - t0 > seconds + drain_bound) {
			fprintf(stderr, "sst-fault load: workers did not drain in %.0f s; killing them\n",
				drain_bound);
			for (pid_t k : kids)
				kill(k, SIGKILL);
			killed = true;
		}
		int st = 0;
		pid_t done;
		while ((done = waitpid(-1, &st, WNOHANG)) > 0) {
			reaped++;
			if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
				workers_ok = false;
		}
		if (done < 0 && errno == ECHILD)
			break;
		usleep(100000);
	}
	const LoadCounters &c = sh->counters;
	std::string why, victim_detail;
	if (kill_every > 0) {
		// Each device once: the driver reclaimed what the victims left.
		std::set<std::string> seen;
		uint64_t drv_submitted = 0, drv_completed = 0;
		std::string drv_why;
		for (const std::string &dev : devices) {
			if (!seen.insert(dev).second)
				continue;
			int err = 0;
			auto ch = open_device(dev, &err);
			if (!ch) {
				drv_why = dev + ":open:" + strerror(-err);
				continue;
			}
			sst_ioc_stats st{};
			const std::string w = wait_driver_quiet(*ch, drain_bound, &st);
			drv_submitted += st.submitted;
			drv_completed += st.completed;
			if (!w.empty())
				drv_why = dev + ":" + w;
		}
		char b[384];
		snprintf(b, sizeof b,
			 " victims=%u killed=%u abandoned=%llu victim_misses=%u drv_submitted=%llu "
			 "drv_completed=%llu",
			 victims, victims_killed, (unsigned long long)abandoned, victim_misses,
			 (unsigned long long)drv_submitted, (unsigned long long)drv_completed);
		victim_detail = b;
		if (!victim_miss.empty())
			fprintf(stderr, "sst-fault load: last victim miss: %s\n", victim_miss.c_str());
		if (victims_killed == 0)
			why += std::string(why.empty() ? "" : ",") + "no-victim-killed";
		if (!drv_why.empty()) {
			fprintf(stderr, "sst-fault load: driver check: %s\n", drv_why.c_str());
			why += std::string(why.empty() ? "" : ",") + "driver-unbalanced";
		}
	}
	auto need = [&](bool cond, const char *what) {
		if (!cond)
			why += std::string(why.empty() ? "" : ",") + what;
	};
	need(c.lost == 0, "lost");
	need(c.duplicate == 0, "duplicate");
	need(c.unknown == 0, "unknown");
	need(c.mismatch == 0, "data-mismatch");
	need(c.bad_status == 0, "bad-status");
	need(c.io_errors == 0, "io-errors");
	need(c.answered == c.submitted, "answered!=submitted");
	need(c.status[SST_STATUS_OK] >= min_ok, "too-few-ok");
	for (uint32_t s = 0; s < 6; s++)
		if (!allowed.count(s) && c.status[s] > 0)
			need(false, ("status-" + std::string(status_name(s))).c_str());
	need(workers_ok, "worker-failed");
	need(!killed, "workers-stuck");
	const bool pass = why.empty();
	char detail[768];
	snprintf(detail, sizeof detail, "%s procs=%u depth=%u secs=%.1f%s%s%s", describe(c).c_str(), procs,
		 depth, now_s() - t0, victim_detail.c_str(), pass ? "" : " reason=", why.c_str());
	result("load", pass, detail);
	printf("VSST-RESULT summary pass=%d fail=%d skip=0\n", pass ? 1 : 0, pass ? 0 : 1);
	return pass ? 0 : 1;
}

} // namespace

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const std::string mode = argv[1];
	if (mode == "-h" || mode == "--help") {
		usage(stdout);
		return 0;
	}
	// Let getopt see the mode's own arguments.
	argv[1] = argv[0];
	if (mode == "hostile")
		return hostile_main(argc - 1, argv + 1);
	if (mode == "load")
		return load_main(argc - 1, argv + 1);
	fprintf(stderr, "sst-fault: unknown mode '%s'\n", mode.c_str());
	usage(stderr);
	return 2;
}
