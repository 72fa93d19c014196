// SPDX-License-Identifier: Apache-2.0
// json_string.h - a JSON string literal from any bytes (one home for the project's
// JSON writers: sst-sim --stats-out, vmm-proxy --report). Valid UTF-8 is kept as
// is; bytes that are not UTF-8 become U+FFFD, so the document always parses.
#pragma once

#include <string>
#include <string_view>

namespace vsst {

// Appends s as a quoted JSON string to out.
void append_json_string(std::string &out, std::string_view s);
// s as a quoted JSON string.
std::string json_quote(std::string_view s);

} // namespace vsst
