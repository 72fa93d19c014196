// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the trace reader on arbitrary bytes (a trace file is
// untrusted input). Seeds: tests/traces/*.vtrace.
#include <cstddef>
#include <cstdint>

#include "vsst/trace/reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vsst::trace::Trace t;
	vsst::trace::ParseError e;
	if (vsst::trace::parse_trace({data, size}, t, e, true))
		for (const vsst::trace::Record &r : t.records)
			(void)vsst::trace::describe(t, r);
	return 0;
}
