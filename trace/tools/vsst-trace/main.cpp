// SPDX-License-Identifier: Apache-2.0
// vsst-trace: look at and replay RPC traces (format: trace/TRACE.md).
//
//   vsst-trace dump FILE [--dev N] [--op OP[,OP..]] [--from I] [--to I] [--limit N] [--no-header]
//   vsst-trace stats FILE
//   vsst-trace validate FILE
//   vsst-trace replay FILE [--sim PATH] [--qemu PATH] [--qemu-arg ARG]... [--image-dir DIR]
//                          [--timeout-ms MS] [--repeat N] [--verbose]
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "dump.hpp"
#include "vsst/devvm/binaries.h"
#include "vsst/trace/replay.hpp"

using namespace vsst::trace;
using namespace vsst::trace_tool;

namespace {

int usage()
{
	std::fprintf(
		stderr,
		"usage: vsst-trace dump FILE [--dev N] [--op OP[,OP..]] [--from I] [--to I] [--limit N] [--no-header]\n"
		"       vsst-trace stats FILE\n"
		"       vsst-trace validate FILE\n"
		"       vsst-trace replay FILE [--sim PATH] [--qemu PATH] [--qemu-arg ARG]... [--image-dir DIR]\n"
		"                              [--timeout-ms MS] [--repeat N] [--verbose]\n"
		"ops: MMIO SET_IRQ MSI HELLO STOP START_VM REGISTER_PCI_DEV MMIO_REGION_CONFIG MEM AVAIL USED SIM NOTE\n"
		"replay exit status: 0 full match, 1 divergence, 2 error\n");
	return 2;
}

bool parse_u64(const char *s, uint64_t &out)
{
	char *end = nullptr;
	errno = 0;
	out = std::strtoull(s, &end, 0);
	return errno == 0 && end && *end == 0 && *s;
}

void log_line(void *, const std::string &s)
{
	spdlog::info("{}", s);
}

std::string result_line(const ReplayResult &r)
{
	char b[256];
	if (r.status == ReplayStatus::Match) {
		std::snprintf(
			b, sizeof b,
			"MATCH: %llu records (%llu requests, %llu completions, %llu events, %llu used elements, "
			"%llu simulator bytes)",
			(unsigned long long)r.records, (unsigned long long)r.requests,
			(unsigned long long)r.completions, (unsigned long long)r.events,
			(unsigned long long)r.used, (unsigned long long)r.sim_bytes);
		return b;
	}
	std::string s = r.status == ReplayStatus::Diverged ? "DIVERGED" : "ERROR";
	if (r.record >= 0)
		s += " at record #" + std::to_string(r.record);
	s += ": " + r.what;
	if (!r.recorded.empty())
		s += "\n  recorded: " + r.recorded;
	return s;
}

} // namespace

int main(int argc, char **argv)
{
	spdlog::set_pattern("vsst-trace: %l: %v");
	if (argc < 3)
		return usage();
	const std::string cmd = argv[1], file = argv[2];
	std::vector<std::string> args(argv + 3, argv + argc);
	auto need = [&](size_t &i) -> const char * {
		if (i + 1 >= args.size()) {
			spdlog::error("{} needs a value", args[i]);
			std::exit(2);
		}
		return args[++i].c_str();
	};

	Trace t;
	ParseError pe;
	const bool strict = cmd == "validate";
	if (!load_trace(file, t, pe, !strict)) {
		spdlog::error("{}: {}", file, pe.str());
		return 2;
	}

	if (cmd == "validate") {
		std::printf("%s: valid, %zu records, %llu bytes\n", file.c_str(), t.records.size(),
			    (unsigned long long)t.file_size);
		return 0;
	}
	if (cmd == "stats")
		return args.empty() ? stats(t, file) : usage();
	if (cmd == "dump") {
		DumpFilter f;
		for (size_t i = 0; i < args.size(); i++) {
			uint64_t v = 0;
			if (args[i] == "--dev" && parse_u64(need(i), v) && v < 240) {
				f.dev = static_cast<unsigned>(v);
			} else if (args[i] == "--op") {
				std::string list = need(i);
				for (size_t at = 0; at <= list.size();) {
					size_t comma = list.find(',', at);
					if (comma == std::string::npos)
						comma = list.size();
					std::string op = list.substr(at, comma - at);
					for (char &c : op)
						c = static_cast<char>(
							std::toupper(static_cast<unsigned char>(c)));
					if (!op.empty())
						f.ops.insert(op == "IRQ"      ? "SET_IRQ"
							     : op == "REGION" ? "MMIO_REGION_CONFIG"
									      : op);
					at = comma + 1;
				}
			} else if (args[i] == "--from" && parse_u64(need(i), v)) {
				f.from = v;
			} else if (args[i] == "--to" && parse_u64(need(i), v)) {
				f.to = v;
			} else if (args[i] == "--limit" && parse_u64(need(i), v)) {
				f.limit = v;
			} else if (args[i] == "--no-header") {
				f.header = false;
			} else {
				spdlog::error("dump: bad argument '{}'", args[i]);
				return usage();
			}
		}
		return dump(t, f);
	}
	if (cmd == "replay") {
		ReplayOptions o;
		o.qemu = vsst::devvm::default_qemu();
		o.image_dir = std::filesystem::absolute(file).parent_path().string();
		uint64_t repeat = 1;
		for (size_t i = 0; i < args.size(); i++) {
			uint64_t v = 0;
			if (args[i] == "--sim") {
				o.sim = need(i);
			} else if (args[i] == "--qemu") {
				o.qemu = need(i);
			} else if (args[i] == "--qemu-arg") {
				o.extra_qemu_args.push_back(need(i));
			} else if (args[i] == "--image-dir") {
				o.image_dir = need(i);
			} else if (args[i] == "--timeout-ms" && parse_u64(need(i), v) && v > 0 &&
				   v <= 600000) {
				o.timeout_ms = static_cast<int>(v);
			} else if (args[i] == "--repeat" && parse_u64(need(i), v) && v >= 1 && v <= 1000) {
				repeat = v;
			} else if (args[i] == "--verbose") {
				o.verbose = true;
			} else {
				spdlog::error("replay: bad argument '{}'", args[i]);
				return usage();
			}
		}
		o.log = log_line;
		if (!t.complete)
			spdlog::warn("{}: no END record; replaying what is there", file);
		std::string first;
		int rc = 0;
		for (uint64_t n = 0; n < repeat; n++) {
			const ReplayResult r = replay_trace(t, o);
			const std::string line = result_line(r);
			std::printf("replay %llu: %s\n", (unsigned long long)(n + 1), line.c_str());
			// Interrupts: their number depends on timing (not compared).
			std::printf("replay %llu: %.3f s, %.0f records/s, %llu interrupts\n",
				    (unsigned long long)(n + 1), r.seconds,
				    r.seconds > 0 ? static_cast<double>(r.records) / r.seconds : 0.0,
				    (unsigned long long)r.interrupts);
			if (r.status != ReplayStatus::Match && o.verbose && !r.qemu_log_tail.empty())
				std::fprintf(stderr, "device VM log (tail):\n%s\n", r.qemu_log_tail.c_str());
			if (n == 0) {
				first = line;
				rc = static_cast<int>(r.status);
			} else if (line != first) {
				std::printf("replay: NOT DETERMINISTIC: replay %llu differs from replay 1\n",
					    (unsigned long long)(n + 1));
				rc = 1;
			}
		}
		std::fflush(stdout);
		return rc;
	}
	return usage();
}
