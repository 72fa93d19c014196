// SPDX-License-Identifier: Apache-2.0
// sst-offload: one application driving several simulated accelerators. It
// finds every /dev/sstN (or takes --devices), splits a blocked matrix job
// C = A x B across them, and per device WRITEs the operands, COMPUTEs, READs
// them back and checks every byte, with many requests in flight through the
// driver's SUBMIT/REAP ioctls. Prints one VSST-OFFLOAD line per device, a
// total line, and `VSST-RESULT offload PASS|FAIL key=value...`.
//
// One thread per device: the devices are independent, each thread blocks in
// SST_IOC_REAP on its own fd (no poll bookkeeping), and with more than one
// guest vCPU the threads' copying and checking run in parallel.
#include <dirent.h>
#include <getopt.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "offload.h"

namespace {

using namespace vsst::guest;
using namespace vsst::guest::offload;

// Exit statuses (documented in README.md).
constexpr int kExitOk = 0;
constexpr int kExitCheck = 1;  // a byte, block, status or answer was wrong
constexpr int kExitUsage = 2;  // bad command line
constexpr int kExitDevice = 3; // no device, or one could not be used

struct Options {
	std::vector<std::string> devices; // empty: every /dev/sstN
	Job job;
	uint32_t depth = 32;
	unsigned timeout_s = 600;
};

void usage(FILE *out)
{
	fprintf(out,
		"usage: sst-offload [options]\n"
		"Splits C = A x B (int32, blocks x blocks blocks of size x size) across the\n"
		"virtio-sst devices: per block of C, WRITE its operands to device memory,\n"
		"COMPUTE, READ them back; every byte read back is checked.\n"
		"  -d, --devices LIST  comma-separated device nodes or numbers (2 = /dev/sst2);\n"
		"                      default: every /dev/sstN\n"
		"  -b, --blocks N      blocks per matrix dimension, 1..%u (default 4)\n"
		"  -s, --size N        block edge in elements, 1..%u (default 16)\n"
		"  -q, --depth N       requests in flight per device (default 32, capped at the\n"
		"                      driver's max_per_fd)\n"
		"  -S, --seed N        seed of the operands (default 1)\n"
		"  -m, --model NAME    COMPUTE latency model: default|fixed|pipelined|bandwidth\n"
		"  -n, --no-product    skip the guest-side C = A x B check of each block (the\n"
		"                      byte-for-byte check of every READ still runs)\n"
		"  -T, --timeout-s N   bound on the whole run (default 600)\n"
		"  -h, --help          this text\n"
		"Exit status: 0 all verified, 1 a check failed, 2 usage, 3 no usable device.\n",
		kMaxBlocks, kMaxSize);
}

bool parse_uint(const char *s, unsigned long long lo, unsigned long long hi, unsigned long long *out)
{
	char *end = nullptr;
	errno = 0;
	const unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-' || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

// "/dev/sst0,2" -> {"/dev/sst0", "/dev/sst2"}; false on an empty item.
bool parse_devices(const std::string &list, std::vector<std::string> *out)
{
	size_t pos = 0;
	for (;;) {
		const size_t comma = list.find(',', pos);
		const std::string item = list.substr(pos, comma == std::string::npos ? comma : comma - pos);
		unsigned long long n;
		if (item.empty())
			return false;
		out->push_back(parse_uint(item.c_str(), 0, 1u << 20, &n) ? "/dev/sst" + item : item);
		if (comma == std::string::npos)
			return true;
		pos = comma + 1;
	}
}

// Every /dev/sstN, by N.
std::vector<std::string> discover()
{
	std::vector<std::pair<unsigned long long, std::string>> found;
	if (DIR *d = opendir("/dev")) {
		while (dirent *e = readdir(d)) {
			unsigned long long n;
			if (!strncmp(e->d_name, "sst", 3) && parse_uint(e->d_name + 3, 0, ~0ull, &n))
				found.emplace_back(n, std::string("/dev/") + e->d_name);
		}
		closedir(d);
	}
	std::sort(found.begin(), found.end());
	std::vector<std::string> out;
	for (auto &f : found)
		out.push_back(f.second);
	return out;
}

int parse(int argc, char **argv, Options *o)
{
	static const option opts[] = {{"devices", required_argument, nullptr, 'd'},
				      {"blocks", required_argument, nullptr, 'b'},
				      {"size", required_argument, nullptr, 's'},
				      {"depth", required_argument, nullptr, 'q'},
				      {"seed", required_argument, nullptr, 'S'},
				      {"model", required_argument, nullptr, 'm'},
				      {"timeout-s", required_argument, nullptr, 'T'},
				      {"no-product", no_argument, nullptr, 'n'},
				      {"help", no_argument, nullptr, 'h'},
				      {nullptr, 0, nullptr, 0}};
	int c;
	unsigned long long v;
	auto bad = [](const char *what, const char *arg) {
		fprintf(stderr, "sst-offload: bad %s '%s' (see --help)\n", what, arg);
		return kExitUsage;
	};
	while ((c = getopt_long(argc, argv, "d:b:s:q:S:m:T:nh", opts, nullptr)) != -1) {
		switch (c) {
		case 'd':
			if (!parse_devices(optarg, &o->devices))
				return bad("--devices", optarg);
			break;
		case 'b':
			if (!parse_uint(optarg, 1, kMaxBlocks, &v))
				return bad("--blocks", optarg);
			o->job.blocks = uint32_t(v);
			break;
		case 's':
			if (!parse_uint(optarg, 1, kMaxSize, &v))
				return bad("--size", optarg);
			o->job.size = uint32_t(v);
			break;
		case 'q':
			if (!parse_uint(optarg, 1, 4096, &v))
				return bad("--depth", optarg);
			o->depth = uint32_t(v);
			break;
		case 'S':
			if (!parse_uint(optarg, 0, ~0ull, &v))
				return bad("--seed", optarg);
			o->job.seed = v;
			break;
		case 'm': {
			static const char *names[] = {"default", "fixed", "pipelined", "bandwidth"};
			const auto *it = std::find_if(std::begin(names), std::end(names),
						      [](const char *n) { return !strcmp(n, optarg); });
			if (it == std::end(names))
				return bad("--model", optarg);
			o->job.latency_model = uint32_t(it - std::begin(names));
			break;
		}
		case 'T':
			if (!parse_uint(optarg, 1, 86400, &v))
				return bad("--timeout-s", optarg);
			o->timeout_s = unsigned(v);
			break;
		case 'n':
			o->job.product = false;
			break;
		case 'h':
			usage(stdout);
			exit(kExitOk);
		default:
			usage(stderr);
			return kExitUsage;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sst-offload: unexpected argument '%s' (see --help)\n", argv[optind]);
		return kExitUsage;
	}
	return -1;
}

double us(uint64_t ps_or_ns, double div)
{
	return double(ps_or_ns) / div;
}

} // namespace

int main(int argc, char **argv)
{
	Options o;
	if (const int rc = parse(argc, argv, &o); rc >= 0)
		return rc;
	if (o.devices.empty())
		o.devices = discover();
	const Job &job = o.job;
	if (o.devices.empty()) {
		fprintf(stderr,
			"sst-offload: no /dev/sstN found (is virtio_sst loaded, is there a virtio-sst device?)\n");
		printf("VSST-RESULT offload FAIL reason=no-devices\n");
		return kExitDevice;
	}
	const auto n_dev = uint32_t(o.devices.size());
	const auto split = split_tasks(job.tasks(), n_dev);
	printf("sst-offload: C = A x B, %ux%u int32 in %ux%u blocks of %ux%u, seed %llu; %u task(s) on %u "
	       "device(s), depth %u\n",
	       job.dim(), job.dim(), job.blocks, job.blocks, job.size, job.size, (unsigned long long)job.seed,
	       job.tasks(), n_dev, o.depth);
	fflush(stdout);

	RunOptions ro;
	ro.depth = o.depth;
	const uint64_t t0 = monotonic_ns();
	ro.deadline_ns = int64_t(t0 + uint64_t(o.timeout_s) * 1000000000ull);
	std::vector<DeviceReport> reps(n_dev);
	{
		std::vector<std::jthread> threads;
		for (uint32_t d = 0; d < n_dev; d++)
			threads.emplace_back([&, d] {
				int err = 0;
				auto ch = open_device(o.devices[d], &err);
				if (!ch) {
					reps[d].io_failed = true;
					reps[d].error = std::string("open: ") + strerror(-err);
				} else {
					reps[d] = run_device(*ch, job, split[d], ro);
				}
				reps[d].device = o.devices[d];
				reps[d].tasks = uint32_t(split[d].size());
			});
	}
	const uint64_t wall_ns = monotonic_ns() - t0;

	DeviceReport tot;
	uint64_t sim_max = 0, sim_sum = 0;
	uint32_t io_failed = 0, failed = 0;
	for (const DeviceReport &r : reps) {
		printf("VSST-OFFLOAD device=%s tasks=%u requests=%llu max_in_flight=%u bytes_written=%llu "
		       "bytes_verified=%llu blocks_verified=%llu mismatches=%llu bad_status=%llu "
		       "compute_cycles=%llu sim_ps=%llu sim_us=%.3f wall_ms=%.1f product_ms=%.1f%s\n",
		       r.device.c_str(), r.tasks, (unsigned long long)r.requests, r.max_in_flight,
		       (unsigned long long)r.bytes_written, (unsigned long long)r.bytes_verified,
		       (unsigned long long)r.blocks_verified, (unsigned long long)r.mismatches,
		       (unsigned long long)r.bad_status, (unsigned long long)r.compute_cycles,
		       (unsigned long long)r.sim_ps(), us(r.sim_ps(), 1e6), us(r.wall_ns, 1e6),
		       us(r.product_ns, 1e6), r.ok() ? "" : " FAILED");
		if (!r.error.empty())
			fprintf(stderr, "sst-offload: %s: %s\n", r.device.c_str(), r.error.c_str());
		tot.requests += r.requests;
		tot.bytes_written += r.bytes_written;
		tot.bytes_verified += r.bytes_verified;
		tot.blocks_verified += r.blocks_verified;
		tot.mismatches += r.mismatches;
		tot.bad_status += r.bad_status;
		tot.compute_cycles += r.compute_cycles;
		tot.product_ns += r.product_ns;
		sim_max = std::max(sim_max, r.sim_ps());
		sim_sum += r.sim_ps();
		io_failed += r.io_failed;
		failed += !r.ok();
	}
	const uint64_t want_bytes = uint64_t(job.tasks()) * job.region_bytes();
	const bool all =
		tot.bytes_verified == want_bytes && (!job.product || tot.blocks_verified == job.tasks());
	// Simulated time of the job: the devices run side by side, so the
	// slowest one's (sim_ps); sim_sum_ps is the device time spent in total.
	printf("VSST-OFFLOAD total devices=%u tasks=%u requests=%llu bytes_written=%llu bytes_verified=%llu "
	       "blocks_verified=%llu mismatches=%llu bad_status=%llu compute_cycles=%llu sim_ps=%llu "
	       "sim_us=%.3f sim_sum_ps=%llu wall_ms=%.1f product_ms=%.1f\n",
	       n_dev, job.tasks(), (unsigned long long)tot.requests, (unsigned long long)tot.bytes_written,
	       (unsigned long long)tot.bytes_verified, (unsigned long long)tot.blocks_verified,
	       (unsigned long long)tot.mismatches, (unsigned long long)tot.bad_status,
	       (unsigned long long)tot.compute_cycles, (unsigned long long)sim_max, us(sim_max, 1e6),
	       (unsigned long long)sim_sum, us(wall_ns, 1e6), us(tot.product_ns, 1e6));
	const bool check_failed = tot.mismatches || tot.bad_status || (!io_failed && (failed || !all));
	const char *reason = check_failed ? (tot.mismatches ? "mismatch" : "bad-status")
			     : io_failed  ? "device-error"
					  : nullptr;
	printf("VSST-RESULT offload %s devices=%u blocks=%u size=%u depth=%u seed=%llu tasks=%u "
	       "bytes_verified=%llu bytes_expected=%llu blocks_verified=%llu mismatches=%llu "
	       "bad_status=%llu product=%s sim_ps=%llu sim_sum_ps=%llu wall_ms=%.1f%s%s\n",
	       reason ? "FAIL" : "PASS", n_dev, job.blocks, job.size, o.depth, (unsigned long long)job.seed,
	       job.tasks(), (unsigned long long)tot.bytes_verified, (unsigned long long)want_bytes,
	       (unsigned long long)tot.blocks_verified, (unsigned long long)tot.mismatches,
	       (unsigned long long)tot.bad_status, job.product ? "on" : "off", (unsigned long long)sim_max,
	       (unsigned long long)sim_sum, us(wall_ns, 1e6), reason ? " reason=" : "", reason ? reason : "");
	return check_failed ? kExitCheck : io_failed ? kExitDevice : kExitOk;
}
