// SPDX-License-Identifier: Apache-2.0
// sst-test: functional test of /dev/sstN (driver + device + simulator).
// One line per case: "VSST-RESULT <case> PASS|FAIL|SKIP <detail>", then
// "VSST-RESULT summary pass=N fail=M skip=K". Exit status 0 only when no
// case failed.
#include <getopt.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>

#include "sst_channel.h"
#include "test_cases.h"

namespace {

using vsst::guest::CaseContext;
using vsst::guest::CaseResult;

void usage(FILE *out)
{
	fprintf(out, "usage: sst-test [options]\n"
		     "  -d, --device PATH     device node (default /dev/sst0)\n"
		     "  -c, --case NAME       run only this case (repeatable)\n"
		     "  -p, --procs N         processes in concurrent_procs (default 4)\n"
		     "  -n, --iterations N    iterations per process there (default 200)\n"
		     "  -s, --seed N          seed of the data patterns (default 1)\n"
		     "  -l, --list            list the cases and exit\n"
		     "  -h, --help            this text\n"
		     "Output: 'VSST-RESULT <case> PASS|FAIL|SKIP <detail>' per case and\n"
		     "'VSST-RESULT summary pass=N fail=M skip=K'. Exit 0 iff fail=0.\n");
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

// /sys/class/misc/<basename of the node>, when it exists.
std::string sysfs_dir_for(const std::string &path)
{
	const auto slash = path.rfind('/');
	const std::string dir =
		"/sys/class/misc/" + (slash == std::string::npos ? path : path.substr(slash + 1));
	return access((dir + "/stats").c_str(), R_OK) == 0 ? dir : std::string();
}

void print_result(const std::string_view name, const CaseResult &r)
{
	const char *word = r.outcome == CaseResult::Outcome::pass   ? "PASS"
			   : r.outcome == CaseResult::Outcome::fail ? "FAIL"
								    : "SKIP";
	printf("VSST-RESULT %.*s %s %s\n", int(name.size()), name.data(), word, r.detail.c_str());
	fflush(stdout);
}

} // namespace

int main(int argc, char **argv)
{
	std::string device = "/dev/sst0";
	std::set<std::string> only;
	unsigned long long procs = 4, iterations = 200, seed = 1;
	bool list = false;

	static const option opts[] = {
		{"device", required_argument, nullptr, 'd'}, {"case", required_argument, nullptr, 'c'},
		{"procs", required_argument, nullptr, 'p'},  {"iterations", required_argument, nullptr, 'n'},
		{"seed", required_argument, nullptr, 's'},   {"list", no_argument, nullptr, 'l'},
		{"help", no_argument, nullptr, 'h'},         {nullptr, 0, nullptr, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "d:c:p:n:s:lh", opts, nullptr)) != -1) {
		switch (c) {
		case 'd':
			device = optarg;
			break;
		case 'c':
			only.insert(optarg);
			break;
		case 'p':
			if (!parse_uint(optarg, 64, &procs) || procs == 0) {
				fprintf(stderr, "sst-test: --procs must be 1..64\n");
				return 2;
			}
			break;
		case 'n':
			if (!parse_uint(optarg, 1000000, &iterations) || iterations == 0) {
				fprintf(stderr, "sst-test: --iterations must be 1..1000000\n");
				return 2;
			}
			break;
		case 's':
			if (!parse_uint(optarg, ~0ull, &seed)) {
				fprintf(stderr, "sst-test: bad --seed\n");
				return 2;
			}
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
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	const auto &cases = vsst::guest::all_cases();
	if (list) {
		for (const auto &tc : cases)
			printf("%-18.*s %.*s\n", int(tc.name.size()), tc.name.data(), int(tc.what.size()),
			       tc.what.data());
		return 0;
	}
	for (const auto &name : only) {
		bool known = false;
		for (const auto &tc : cases)
			known |= tc.name == name;
		if (!known) {
			fprintf(stderr, "sst-test: unknown case '%s' (see --list)\n", name.c_str());
			return 2;
		}
	}

	int err = 0;
	auto ch = vsst::guest::open_device(device, &err);
	if (!ch) {
		printf("VSST-RESULT open FAIL %s: %s\n", device.c_str(), strerror(-err));
		printf("VSST-RESULT summary pass=0 fail=1 skip=0\n");
		return 1;
	}
	CaseContext ctx{*ch, [device](int *e) { return vsst::guest::open_device(device, e); },
			sysfs_dir_for(device)};
	ctx.procs = static_cast<unsigned>(procs);
	ctx.iterations = static_cast<unsigned>(iterations);
	ctx.seed = seed;

	unsigned pass = 0, fail = 0, skip = 0;
	if (const int rc = vsst::guest::probe_device(ctx)) {
		// The cases still run: they report what exactly does not work.
		fprintf(stderr, "sst-test: GET_INFO probe failed (%d); memory cases will fail\n", rc);
	}
	for (const auto &tc : cases) {
		if (!only.empty() && !only.count(std::string(tc.name)))
			continue;
		CaseResult r = tc.run(ctx);
		if (const unsigned left = vsst::guest::drain_channel(*ch);
		    left && r.outcome == CaseResult::Outcome::pass)
			r = {CaseResult::Outcome::fail, "left " + std::to_string(left) + " responses unread"};
		print_result(tc.name, r);
		switch (r.outcome) {
		case CaseResult::Outcome::pass:
			pass++;
			break;
		case CaseResult::Outcome::fail:
			fail++;
			break;
		case CaseResult::Outcome::skip:
			skip++;
			break;
		}
	}
	printf("VSST-RESULT summary pass=%u fail=%u skip=%u\n", pass, fail, skip);
	return fail ? 1 : 0;
}
