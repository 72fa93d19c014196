// SPDX-License-Identifier: Apache-2.0
#include "vsst/posix/json_string.h"

#include <cstdint>
#include <cstdio>

namespace vsst {

namespace {

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

} // namespace

// A JSON string. Command lines may hold any bytes: bytes that are not UTF-8
// become U+FFFD so the file always parses.
void append_json_string(std::string &o, std::string_view s)
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
			o += "\\n";
			++i;
		} else if (c == '\t') {
			o += "\\t";
			++i;
		} else if (c < 0x20 || c == 0x7f) {
			{
				char buf[8];
				std::snprintf(buf, sizeof buf, "\\u%04x", c);
				o += buf;
			}
			++i;
		} else if (const size_t len = utf8_len(u, i, s.size()); len > 0) {
			o.append(s.data() + i, s.data() + i + len);
			i += len;
		} else {
			o += "\\ufffd";
			++i;
		}
	}
	o.push_back('"');
}

std::string json_quote(std::string_view s)
{
	std::string out;
	append_json_string(out, s);
	return out;
}

} // namespace vsst
