// SPDX-License-Identifier: Apache-2.0
// `vsst-trace dump` and `vsst-trace stats`.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "vsst/trace/reader.hpp"

namespace vsst::trace_tool {

struct DumpFilter {
	std::optional<unsigned> dev; // records that concern this device index
	std::set<std::string> ops;   // MMIO, MSI, SET_IRQ, ..., MEM, AVAIL, USED, SIM, NOTE (upper case)
	uint64_t from = 0, to = UINT64_MAX;
	uint64_t limit = UINT64_MAX;
	bool header = true;
};

int dump(const vsst::trace::Trace &t, const DumpFilter &f);
int stats(const vsst::trace::Trace &t, const std::string &path);
void print_header(const vsst::trace::Trace &t);

} // namespace vsst::trace_tool
