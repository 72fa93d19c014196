// SPDX-License-Identifier: Apache-2.0
#include "vsst/sim/server_options.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace vsst::sim {

namespace {

std::string_view trim(std::string_view s)
{
	while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
		s.remove_prefix(1);
	while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
		s.remove_suffix(1);
	return s;
}

std::string normalize(std::string_view key)
{
	std::string k(key);
	for (char &c : k) {
		if (c == '_')
			c = '-';
	}
	return k;
}

bool parse_double(std::string_view text, double &out)
{
	std::string s(text);
	char *end = nullptr;
	out = std::strtod(s.c_str(), &end);
	return !s.empty() && end && *end == '\0' && std::isfinite(out);
}

bool parse_bool(std::string_view text, bool &out)
{
	if (text == "1" || text == "true" || text == "yes" || text == "on")
		return out = true, true;
	if (text == "0" || text == "false" || text == "no" || text == "off")
		return out = false, true;
	return false;
}

} // namespace

bool parse_size(std::string_view text, uint64_t &value)
{
	text = trim(text);
	if (text.size() > 2 && (text.ends_with("Hz") || text.ends_with("hz"))) {
		text.remove_suffix(2);
	}
	if (text.empty())
		return false;
	size_t digits = 0;
	while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9')
		++digits;
	if (digits == 0 || digits > 19)
		return false;
	unsigned __int128 v = 0;
	for (size_t i = 0; i < digits; ++i)
		v = v * 10 + static_cast<unsigned>(text[i] - '0');
	const std::string_view suffix = text.substr(digits);
	uint64_t mult = 1;
	if (suffix.empty())
		mult = 1;
	else if (suffix == "k" || suffix == "K")
		mult = 1000ull;
	else if (suffix == "M")
		mult = 1000'000ull;
	else if (suffix == "G")
		mult = 1000'000'000ull;
	else if (suffix == "T")
		mult = 1000'000'000'000ull;
	else if (suffix == "Ki")
		mult = 1ull << 10;
	else if (suffix == "Mi")
		mult = 1ull << 20;
	else if (suffix == "Gi")
		mult = 1ull << 30;
	else if (suffix == "Ti")
		mult = 1ull << 40;
	else
		return false;
	v *= mult;
	if (v > UINT64_MAX)
		return false;
	value = static_cast<uint64_t>(v);
	return true;
}

bool apply_option(ServerOptions &opts, std::string_view raw_key, std::string_view raw_value, std::string &err)
{
	const std::string key = normalize(trim(raw_key));
	const std::string_view value = trim(raw_value);
	auto bad = [&](std::string_view what) {
		err = "--" + key + ": " + std::string(what) + " '" + std::string(value) + "'";
		return false;
	};
	if (key == "socket") {
		if (value.empty())
			return bad("needs a path");
		opts.socket_path = std::string(value);
		return true;
	}
	if (key == "protocol") {
		auto p = protocol_by_name(value);
		if (!p)
			return bad("expected auto, framed or acalsim, got");
		opts.protocol = *p;
		return true;
	}
	if (key == "paced") {
		bool b = true;
		if (!value.empty() && !parse_bool(value, b))
			return bad("expected true/false, got");
		opts.paced = b;
		return true;
	}
	if (key == "pace-scale") {
		double d;
		if (!parse_double(value, d) || d <= 0 || d > 1e9)
			return bad("expected a number > 0, got");
		opts.pace_scale = d;
		opts.paced = true;
		return true;
	}
	if (key == "status-interval") {
		double d;
		if (!parse_double(value, d) || d < 0 || d > 86400)
			return bad("expected seconds >= 0, got");
		opts.status_interval_s = d;
		return true;
	}
	if (key == "max-connections") {
		uint64_t n;
		if (!parse_size(value, n) || n < 1 || n > 4096)
			return bad("expected 1..4096, got");
		opts.max_connections = n;
		return true;
	}
	if (key == "memory-budget") {
		uint64_t n;
		if (!parse_size(value, n) || n < 4096)
			return bad("expected bytes >= 4096 (suffixes k M G, Ki Mi Gi), got");
		opts.memory_budget = n;
		return true;
	}
	if (key == "idle-timeout") {
		double d;
		if (!parse_double(value, d) || d < 0 || d > 31'536'000)
			return bad("expected seconds >= 0 (0 = never), got");
		opts.idle_timeout_s = d;
		return true;
	}
	if (key == "resume-window") {
		double d;
		if (!parse_double(value, d) || d < 0 || d > 86400)
			return bad("expected seconds 0..86400 (0 = never), got");
		opts.resume_window_s = d;
		return true;
	}
	if (key == "peer-uids") {
		std::string why;
		auto p = PeerPolicy::parse(value, why);
		if (!p || value.empty())
			return bad("expected \"any\" or uids separated by commas, got");
		opts.peers = *p;
		return true;
	}
	if (key == "stats-out") {
		if (value.empty())
			return bad("needs a file path");
		opts.stats_out = std::string(value);
		return true;
	}
	if (key == "stats-samples") {
		uint64_t n;
		if (!parse_size(value, n) || n > 100'000'000)
			return bad("expected 0..100M, got");
		opts.stats_samples = n;
		return true;
	}
	if (key == "log-level") {
		static constexpr std::string_view kLevels[] = {"trace", "debug", "info",
							       "warn",  "error", "off"};
		for (auto l : kLevels) {
			if (value == l) {
				opts.log_level = std::string(value);
				return true;
			}
		}
		return bad("expected trace|debug|info|warn|error|off, got");
	}
	if (key == "config") {
		return load_config_file(std::string(value), opts, err);
	}
	if (auto id = param_by_name(key)) {
		uint64_t v;
		if (*id == SST_CFG_LATENCY_MODEL) {
			auto m = latency_model_by_name(value);
			if (!m)
				return bad("expected fixed, pipelined or bandwidth, got");
			v = *m;
		} else if (!parse_size(value, v)) {
			return bad("expected a number (suffixes k M G, Ki Mi Gi), got");
		}
		std::string why;
		if (!set_param(opts.model, *id, v, &why)) {
			err = "--" + key + ": " + why;
			return false;
		}
		return true;
	}
	err = "unknown option --" + key;
	return false;
}

bool load_config_file(const std::string &path, ServerOptions &opts, std::string &err)
{
	std::ifstream in(path);
	if (!in) {
		err = "cannot read config file " + path;
		return false;
	}
	std::string line;
	int lineno = 0;
	while (std::getline(in, line)) {
		++lineno;
		std::string_view l = line;
		if (auto hash = l.find('#'); hash != std::string_view::npos)
			l = l.substr(0, hash);
		l = trim(l);
		if (l.empty())
			continue;
		const auto eq = l.find('=');
		std::string_view key = eq == std::string_view::npos ? l : l.substr(0, eq);
		std::string_view value = eq == std::string_view::npos ? std::string_view{} : l.substr(eq + 1);
		if (trim(key) == "config") {
			err = path + ":" + std::to_string(lineno) + ": config files do not nest";
			return false;
		}
		std::string e;
		if (!apply_option(opts, key, value, e)) {
			err = path + ":" + std::to_string(lineno) + ": " + e;
			return false;
		}
	}
	return true;
}

ParseOutcome parse_command_line(int argc, char **argv, ServerOptions &opts, std::string &message)
{
	opts.argv.assign(argv, argv + argc);
	for (int i = 1; i < argc; ++i) {
		std::string_view arg = argv[i];
		if (arg == "-h" || arg == "--help") {
			message = usage_text();
			return ParseOutcome::kExitOk;
		}
		if (arg == "--version") {
			message = "sst-sim (vsst) protocol " + std::to_string(SST_PROTOCOL_VERSION >> 16) +
				  "." + std::to_string(SST_PROTOCOL_VERSION & 0xffff) + ", wire version " +
				  std::to_string(VSST_SIM_VERSION) + "\n";
			return ParseOutcome::kExitOk;
		}
		if (!arg.starts_with("--")) {
			message = "unexpected argument '" + std::string(arg) + "' (see --help)";
			return ParseOutcome::kError;
		}
		arg.remove_prefix(2);
		std::string_view key = arg;
		std::string_view value;
		if (auto eq = arg.find('='); eq != std::string_view::npos) {
			key = arg.substr(0, eq);
			value = arg.substr(eq + 1);
		} else if (key != "paced") {
			if (i + 1 >= argc) {
				message = "--" + std::string(key) + " needs a value (see --help)";
				return ParseOutcome::kError;
			}
			value = argv[++i];
		}
		if (!apply_option(opts, key, value, message))
			return ParseOutcome::kError;
	}
	if (std::string why = validate(opts.model); !why.empty()) {
		message = why;
		return ParseOutcome::kError;
	}
	return ParseOutcome::kRun;
}

std::string usage_text()
{
	std::ostringstream o;
	const ModelParams d;
	o << "usage: sst-sim [options]\n"
	     "\n"
	     "Standalone simulator of the virtio-sst device: serves one device per connection on a\n"
	     "Unix socket, many connections at once, many requests in flight per connection.\n"
	     "\n"
	     "Server options:\n"
	     "  --socket PATH            Unix socket to listen on. A stale socket file is replaced; a\n"
	     "                           path served by a live server or a non-socket file is refused.\n"
	     "                           Default: sim.sock in a private directory, $XDG_RUNTIME_DIR/vsst\n"
	     "                           when XDG_RUNTIME_DIR is set, else /tmp/vsst-<uid>; created with\n"
	     "                           mode 0700, refused (exit 1) if it is a symlink, not ours, or\n"
	     "                           open to group/others. Here: "
	  << default_socket_path()
	  << "\n"
	     "  --protocol P             auto (default): framed if a connection starts with the frame\n"
	     "                           magic \"VSSF\", acalsim otherwise; framed: sim-wire.h frames only;\n"
	     "                           acalsim: raw SSTRequest (4104 B) -> SSTResponse (4112 B).\n"
	     "  --config FILE            read options from FILE: one `key = value` per line, keys are\n"
	     "                           the long option names (e.g. compute-units = 8), '#' comments.\n"
	     "                           Options are applied in command-line order, so later flags\n"
	     "                           override the file and vice versa.\n"
	     "  --paced                  hold each response back in wall-clock time by its simulated\n"
	     "                           latency x pace-scale (timing-faithful co-simulation).\n"
	     "  --pace-scale X           wall-clock ns per simulated ns (default 1.0; implies --paced).\n"
	     "  --status-interval SEC    period of the status line (requests/s, simulated time, busy %);\n"
	     "                           0 turns it off (default 5).\n"
	     "  --max-connections N      connections served at once; more are closed (default 64).\n"
	     "  --memory-budget SIZE     device memory committed by all connections together (default\n"
	     "                           1Gi). Memory is sparse: CONFIGURE mem_size commits nothing, a\n"
	     "                           WRITE commits 4 KiB pages; a WRITE needing pages beyond the\n"
	     "                           budget is answered SST_STATUS_ERROR and changes nothing (logged\n"
	     "                           once per connection). RESET, a shrinking CONFIGURE or a close\n"
	     "                           gives the pages back.\n"
	     "  --idle-timeout SEC       close a connection that moved no byte either way for SEC\n"
	     "                           seconds and has no response held back (--paced); checked about\n"
	     "                           once a second; 0 = never (default 300).\n"
	     "  --resume-window SEC      keep the device of a closed connection (memory, parameters,\n"
	     "                           time) SEC seconds for the next connection whose HELLO names\n"
	     "                           the same device id: a restarted device VM finds its device\n"
	     "                           memory (vmm-proxy --restart); 0 = never (default).\n"
	     "  --peer-uids LIST         admit only peers whose uid (SO_PEERCRED) is in LIST (uids\n"
	     "                           and FIRST-LAST ranges separated by commas); others are\n"
	     "                           closed at accept and\n"
	     "                           logged. Default: any (the socket's directory is the gate).\n"
	     "  --log-level L            trace, debug, info (default), warn, error, off.\n"
	     "  --stats-out FILE         when the server stops (SIGINT/SIGTERM), write the run's\n"
	     "                           statistics as JSON (schema vsst-sim-stats, version 1; see\n"
	     "                           sst-element/README.md): one entry per connection served,\n"
	     "                           closed ones included: requests by type, errors, simulated\n"
	     "                           time and cycles, busy %, per-request samples. Written to a\n"
	     "                           temporary file in FILE's folder, then renamed over FILE (a\n"
	     "                           symlink at FILE is replaced, never followed). The folder must\n"
	     "                           exist at start-up.\n"
	     "  --stats-samples N        per-request samples kept per connection in --stats-out\n"
	     "                           (default 200000, ~40 bytes each in memory); later requests\n"
	     "                           are counted in samples_dropped. 0 keeps none.\n"
	     "  --help                   this text.   --version   protocol versions.\n"
	     "\n"
	     "Model parameters (also settable per device with SST_REQ_CONFIGURE; see README):\n";
	for (const ParamInfo &p : param_table()) {
		o << "  --" << p.flag << " N\n"
		  << std::string(8, ' ') << p.what << "\n"
		  << std::string(8, ' ') << "[" << p.unit << ", " << p.min << ".." << p.max << ", default ";
		if (p.id == SST_CFG_LATENCY_MODEL) {
			o << latency_model_name(get_param(d, p.id)) << "; names fixed|pipelined|bandwidth";
		} else {
			o << get_param(d, p.id);
		}
		o << "]\n";
	}
	o << "\n"
	     "Timing (w = work items of a COMPUTE, n = bytes of a READ/WRITE; cycles):\n"
	     "  fixed      unit busy w*L\n"
	     "  pipelined  unit busy S + L + (w-1)\n"
	     "  bandwidth  unit busy S + Lm + ceil(w / min(Bu, Bm)); the memory channel is held for\n"
	     "             the streaming part ceil(w / min(Bu, Bm))\n"
	     "  READ/WRITE Lm + ceil(n / Bm); the memory channel is held ceil(n / Bm)\n"
	     "COMPUTEs queue FIFO for the unit that frees first, memory accesses for the channel.\n"
	     "Responses carry the total cycles (queueing included) and the completion time in\n"
	     "simulated ps; requests read in one batch arrive at the same simulated time.\n"
	     "\n"
	     "Numbers accept suffixes k M G T (x1000) and Ki Mi Gi Ti (x1024); a trailing Hz is ignored\n"
	     "(--clock-hz 2GHz). Signals: SIGINT/SIGTERM stop the server cleanly (statistics printed,\n"
	     "socket file removed). Exit status: 0 clean stop, 1 start-up error, 2 usage error,\n"
	     "3 stopped cleanly but the --stats-out file could not be written.\n";
	return o.str();
}

std::string default_socket_path()
{
	return default_socket_dir() + "/sim.sock";
}

} // namespace vsst::sim
