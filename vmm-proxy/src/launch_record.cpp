// SPDX-License-Identifier: Apache-2.0
#include "launch_record.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "vsst/posix/atomic_file.h"
#include "vsst/posix/json_string.h"

namespace vsst {

namespace {

std::string quote_list(const std::vector<std::string> &v)
{
	std::string out = "[";
	for (size_t i = 0; i < v.size(); i++)
		out += (i ? "," : "") + json_quote(v[i]);
	return out + "]";
}

std::string seconds(double s)
{
	if (s < 0 || !std::isfinite(s))
		return "null";
	char buf[32];
	std::snprintf(buf, sizeof buf, "%.3f", s);
	return buf;
}

// Words of a result line: spaces separate them except inside double quotes.
std::vector<std::string> words(const std::string &text)
{
	std::vector<std::string> out;
	std::string word;
	bool quoted = false;
	for (char c : text) {
		if (c == '"')
			quoted = !quoted;
		if (c == ' ' && !quoted) {
			if (!word.empty())
				out.push_back(word);
			word.clear();
			continue;
		}
		word += c;
	}
	if (!word.empty())
		out.push_back(word);
	return out;
}

// "k=v k2=\"a b\"" -> {"k":"v","k2":"a b"}; words without '=' are kept under "text".
std::string fields_json(const std::string &details)
{
	std::string out = "{", text;
	bool first = true;
	for (const std::string &word : words(details)) {
		size_t eq = word.find('=');
		if (eq == std::string::npos || eq == 0) {
			text += (text.empty() ? "" : " ") + word;
			continue;
		}
		std::string value = word.substr(eq + 1);
		if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
			value = value.substr(1, value.size() - 2);
		out += (first ? "" : ",") + json_quote(word.substr(0, eq)) + ":" + json_quote(value);
		first = false;
	}
	if (!text.empty())
		out += (first ? "" : ",") + std::string("\"text\":") + json_quote(text);
	return out + "}";
}

} // namespace

std::string to_json(const LaunchRecord &r)
{
	std::string j = "{\n";
	j += "  \"schema\": \"vsst-launch\",\n  \"version\": 1,\n";
	j += "  \"argv\": " + quote_list(r.argv) + ",\n";
	j += "  \"processes\": [";
	for (size_t i = 0; i < r.processes.size(); i++) {
		const LaunchProcess &p = r.processes[i];
		j += std::string(i ? "," : "") + "\n    {\"role\": " + json_quote(p.role) +
		     ", \"pid\": " + std::to_string(p.pid) + ", \"user\": " + json_quote(p.user) +
		     ", \"argv\": " + quote_list(p.argv) + "}";
	}
	j += "\n  ],\n";
	j += "  \"stages\": {\"setup_s\": " + seconds(r.setup_s) + ", \"boot_s\": " + seconds(r.boot_s) +
	     ", \"run_s\": " + seconds(r.run_s) + ", \"teardown_s\": " + seconds(r.teardown_s) + "},\n";
	j += "  \"guest\": {\"booted\": " + std::string(r.booted ? "true" : "false") + ", \"results\": [";
	for (size_t i = 0; i < r.results.size(); i++) {
		const GuestResult &g = r.results[i];
		j += std::string(i ? "," : "") + "\n    {\"name\": " + json_quote(g.name) +
		     ", \"status\": " + json_quote(g.status) + ", \"fields\": " + fields_json(g.details) +
		     "}";
	}
	j += "],\n    \"command\": ";
	if (r.command.empty())
		j += "null";
	else
		j += "{\"argv\": " + quote_list(r.command) + ", \"exit\": " +
		     (r.command_exit ? std::to_string(*r.command_exit) : std::string("null")) + "}";
	j += "},\n";
	j += "  \"exit\": {\"status\": " + std::to_string(r.exit_status) +
	     ", \"reason\": " + json_quote(r.exit_reason) + "}\n}\n";
	return j;
}

bool write_launch_record(const std::string &path, const LaunchRecord &r, std::string &error)
{
	return write_file_atomically(path, to_json(r), error);
}

} // namespace vsst
