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

#include "vsst/posix/unique_fd.h"
#include "vsst/sim/latency.h"
#include "vsst/sim/server_session.h"

namespace vsst::sim {

namespace {

using Out = fmt::memory_buffer;

// Length of the valid UTF-8 sequence at s[i..n), or 0 when it is not one.
size_t utf8_len(const unsigned char *s, size_t i, size_t n)
{
	const unsigned char c = s[i];
	size_t len;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0) {
		len = 2;
		cp = c & 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3;
		cp = c & 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (i + len > n)
		return 0;
	for (size_t k = 1; k < len; ++k) {
		if ((s[i + k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i + k] & 0x3f);
	}
	// Overlong forms, surrogates and values beyond U+10FFFF are not UTF-8.
	static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
	if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

// A JSON string. Command lines may hold any bytes: bytes that are not UTF-8
// become U+FFFD so the file always parses.
void put_string(Out &o, std::string_view s)
{
	o.push_back('"');
	const auto *u = reinterpret_cast<const unsigned char *>(s.data());
	for (size_t i = 0; i < s.size();) {
		const unsigned char c = u[i];
		if (c == '"' || c == '\\') {
			o.push_back('\\');
			o.push_back(static_cast<char>(c));
			++i;
		} else if (c == '\n') {
			fmt::format_to(std::back_inserter(o), "\\n");
			++i;
		} else if (c == '\t') {
			fmt::format_to(std::back_inserter(o), "\\t");
			++i;
		} else if (c < 0x20 || c == 0x7f) {
			fmt::format_to(std::back_inserter(o), "\\u{:04x}", c);
			++i;
		} else if (const size_t len = utf8_len(u, i, s.size()); len > 0) {
			o.append(s.data() + i, s.data() + i + len);
			i += len;
		} else {
			fmt::format_to(std::back_inserter(o), "\\ufffd");
			++i;
		}
	}
	o.push_back('"');
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

bool write_file_atomically(const std::string &path, const std::string &text, std::string &err)
{
	// The temporary name is unique per process and attempt; O_EXCL|O_NOFOLLOW
	// refuse anything (a planted symlink included) already at that name.
	std::string tmp;
	UniqueFd fd;
	for (int attempt = 0; attempt < 100 && !fd; ++attempt) {
		tmp = fmt::format("{}.tmp.{}.{}", path, ::getpid(), attempt);
		fd.reset(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
		if (!fd && errno != EEXIST) {
			err = "create " + tmp + ": " + std::strerror(errno);
			return false;
		}
	}
	if (!fd) {
		err = "create " + tmp + ": no free temporary name";
		return false;
	}
	auto fail = [&](std::string why) {
		err = std::move(why);
		::unlink(tmp.c_str());
		return false;
	};
	size_t done = 0;
	while (done < text.size()) {
		const ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return fail("write " + tmp + ": " + (n < 0 ? std::strerror(errno) : "no progress"));
		done += static_cast<size_t>(n);
	}
	if (::fsync(fd.get()) != 0)
		return fail("fsync " + tmp + ": " + std::strerror(errno));
	fd.reset();
	if (::rename(tmp.c_str(), path.c_str()) != 0)
		return fail("rename " + tmp + " -> " + path + ": " + std::strerror(errno));
	return true;
}

} // namespace vsst::sim
