// SPDX-License-Identifier: Apache-2.0
#include "stats_out.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <iterator>

#include <fmt/format.h>

#include "vsst/posix/json_string.h"
#include "vsst/posix/unique_fd.h"
#include "vsst/sim/latency.h"
#include "vsst/sim/server_session.h"

namespace vsst::sim {

namespace {

using Out = fmt::memory_buffer;

// A JSON string (posix/json_string.h: UTF-8 kept, other bytes U+FFFD).
void put_string(Out &o, std::string_view s)
{
	const std::string q = json_quote(s);
	o.append(q.data(), q.data() + q.size());
}

// JSON has no inf/nan; the figures written here are never either, but a
// file that does not parse would lose the whole run.
double finite(double v)
{
	return std::isfinite(v) ? v : 0.0;
}

void put_params(Out &o, const ModelParams &p)
{
	o.push_back('{');
	bool first = true;
	for (const ParamInfo &info : param_table()) {
		if (!first)
			o.push_back(',');
		first = false;
		put_string(o, info.name);
		o.push_back(':');
		if (info.id == SST_CFG_LATENCY_MODEL)
			put_string(o, latency_model_name(get_param(p, info.id)));
		else
			fmt::format_to(std::back_inserter(o), "{}", get_param(p, info.id));
	}
	o.push_back('}');
}

double busy_pct(uint64_t busy_ps, uint64_t units, uint64_t time_ps)
{
	const long double capacity = static_cast<long double>(units) * static_cast<long double>(time_ps);
	if (capacity <= 0)
		return 0.0;
	return finite(std::min(100.0, static_cast<double>(100.0L * busy_ps / capacity)));
}

void put_device(Out &o, const DeviceRecord &d)
{
	auto out = std::back_inserter(o);
	fmt::format_to(out, "    {{\"connection\":{},\"device_id\":", d.connection);
	if (d.device_id)
		fmt::format_to(out, "{}", *d.device_id);
	else
		fmt::format_to(out, "null");
	fmt::format_to(out, ",\"protocol\":");
	put_string(o, d.protocol);
	fmt::format_to(out, ",\"clock_hz\":{},\"compute_units\":{},\n     \"requests\":{{", d.params.clock_hz,
		       d.params.compute_units);
	uint64_t total = d.unknown_type;
	for (uint32_t t = 0; t < SST_REQ_MAX; ++t) {
		fmt::format_to(out, "\"{}\":{},", request_type_name(t), d.requests[t]);
		total += d.requests[t];
	}
	fmt::format_to(out, "\"UNKNOWN\":{}}},\"requests_total\":{},", d.unknown_type, total);
	fmt::format_to(out,
		       "\"errors\":{},\"invalid\":{},\"error_frames\":{},\"responses\":{},\"events\":{},"
		       "\"memory_refused\":{},\"bytes_read\":{},\"bytes_written\":{},\n",
		       d.invalid + d.error_frames, d.invalid, d.error_frames, d.responses, d.events,
		       d.memory_refused, d.bytes_read, d.bytes_written);
	fmt::format_to(out,
		       "     \"sim_time_ps\":{},\"cycles\":{},\"busy_pct\":{},\"mem_busy_pct\":{},"
		       "\"wall_open_ns\":{},\"wall_close_ns\":{},\"close_reason\":",
		       d.sim_time_ps, ps_to_cycles(d.sim_time_ps, d.params.clock_hz),
		       busy_pct(d.unit_busy_ps, d.params.compute_units, d.sim_time_ps),
		       busy_pct(d.mem_busy_ps, 1, d.sim_time_ps), d.wall_open_ns, d.wall_close_ns);
	put_string(o, d.close_reason);
	fmt::format_to(out, ",\n     \"model\":");
	put_params(o, d.params);
	fmt::format_to(out, ",\n     \"samples_dropped\":{},\"samples\":[", d.samples.dropped);
	bool first = true;
	for (const RequestSample &s : d.samples.samples) {
		fmt::format_to(
			out,
			"{}\n      {{\"type\":\"{}\",\"ok\":{},\"wall_submit_ns\":{},\"wall_done_ns\":{},"
			"\"sim_start_ps\":{},\"sim_end_ps\":{}}}",
			first ? "" : ",", request_type_name(s.type), s.status == SST_STATUS_OK,
			s.wall_submit_ns, s.wall_done_ns, s.sim_start_ps, s.sim_end_ps);
		first = false;
	}
	fmt::format_to(out, "]}}");
}

} // namespace

const char *request_type_name(uint32_t type)
{
	static const char *kNames[SST_REQ_MAX] = {"NOOP",  "ECHO",  "COMPUTE",  "READ",
						  "WRITE", "RESET", "GET_INFO", "CONFIGURE"};
	return type < SST_REQ_MAX ? kNames[type] : "UNKNOWN";
}

std::string stats_json(const StatsDocument &doc)
{
	Out o;
	auto out = std::back_inserter(o);
	fmt::format_to(
		out, "{{\"schema\":\"vsst-sim-stats\",\"version\":1,\n \"simulator\":{{\"name\":\"sst-sim\","
		     "\"version\":");
	put_string(o, fmt::format("{} (protocol {}.{}, wire {})", VSST_VERSION, SST_PROTOCOL_VERSION >> 16,
				  SST_PROTOCOL_VERSION & 0xffff, VSST_SIM_VERSION));
	fmt::format_to(out, ",\"argv\":[");
	for (size_t i = 0; i < doc.argv.size(); ++i) {
		if (i)
			o.push_back(',');
		put_string(o, doc.argv[i]);
	}
	fmt::format_to(out, "],\"model\":");
	put_params(o, doc.start_params);
	fmt::format_to(
		out,
		"}},\n \"start_unix_ns\":{},\"wall_s\":{},\"sample_cap\":{},\"rejected_connections\":{},\n",
		doc.start_unix_ns, finite(doc.wall_s), doc.sample_cap, doc.rejected_connections);
	fmt::format_to(out, " \"devices\":[");
	for (size_t i = 0; i < doc.devices.size(); ++i) {
		fmt::format_to(out, "{}\n", i ? "," : "");
		put_device(o, doc.devices[i]);
	}
	fmt::format_to(out, "]}}\n");
	return fmt::to_string(o);
}

bool stats_path_usable(const std::string &path, std::string &err)
{
	if (path.empty() || path.back() == '/') {
		err = "--stats-out: '" + path + "' is not a file path";
		return false;
	}
	const auto slash = path.rfind('/');
	const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
	struct stat st {};
	if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
		err = "--stats-out: folder " + dir + " does not exist";
		return false;
	}
	if (::access(dir.c_str(), W_OK | X_OK) != 0) {
		err = "--stats-out: cannot write into " + dir + ": " + std::strerror(errno);
		return false;
	}
	if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
		err = "--stats-out: " + path + " is a folder";
		return false;
	}
	return true;
}

} // namespace vsst::sim
