// SPDX-License-Identifier: Apache-2.0
// Fuzz target trace_reader: the RPC trace reader/validator (trace/ vsst_trace:
// parse_trace, the record accessors, describe) fed arbitrary files.
//
// Input: one flag byte (bit 0: allow_truncated), then the trace file bytes.
// Invariants (a violation aborts):
//  - no crash, no out-of-bounds access; a rejected file comes with a reason
//    and an offset inside the file;
//  - an accepted trace owns its bytes (the caller's buffer is freed before
//    the records are read); records are numbered in order, lie inside the
//    file one after another, and their typed accessors and describe() work;
//  - strict parsing accepts exactly the accepted traces that are complete;
//    a complete trace ends with its END record; parsing is deterministic.
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "fuzz_support.h"
#include "vsst/trace/format.hpp"
#include "vsst/trace/reader.hpp"

namespace {

using namespace vsst::trace;

// Reads every byte, so ASan sees a span that reaches past its buffer.
void touch(std::span<const uint8_t> s)
{
	volatile uint8_t sink = 0;
	for (uint8_t b : s)
		sink = sink ^ b;
	(void)sink;
}

void check_record(const Trace &t, const Record &r)
{
	const uint8_t *lo = t.bytes.data(), *hi = lo + t.bytes.size();
	FUZZ_CHECK(r.payload.empty() || (r.payload.data() >= lo && r.payload.data() + r.payload.size() <= hi),
		   "record #%llu payload points outside the trace's own bytes",
		   static_cast<unsigned long long>(r.index));
	FUZZ_CHECK(static_cast<unsigned>(r.type) >= 1 && static_cast<unsigned>(r.type) <= kRecTypeMax,
		   "record #%llu of type %u accepted", static_cast<unsigned long long>(r.index),
		   static_cast<unsigned>(r.type));
	switch (r.type) {
	case RecType::Msg:
		FUZZ_CHECK(r.payload.size() == sizeof(MsgRec), "MSG payload %zu bytes", r.payload.size());
		(void)r.msg();
		break;
	case RecType::Mem: {
		const MemHdr h = r.mem();
		FUZZ_CHECK(r.payload.size() == sizeof(MemHdr) + h.len && r.mem_data().size() == h.len,
			   "MEM payload %zu bytes, header says %u of data", r.payload.size(), h.len);
		touch(r.mem_data());
		break;
	}
	case RecType::Avail:
		(void)r.avail();
		break;
	case RecType::Used: {
		const UsedHdr h = r.used();
		FUZZ_CHECK(r.payload.size() ==
				   sizeof(UsedHdr) + size_t{h.nseg} * sizeof(UsedSeg) + h.data_len,
			   "USED payload %zu bytes, header says %u segments + %u bytes", r.payload.size(),
			   h.nseg, h.data_len);
		FUZZ_CHECK(r.used_segs().size() == h.nseg, "USED segments");
		uint64_t room = 0;
		for (const UsedSeg &g : r.used_segs())
			room += g.len;
		FUZZ_CHECK(h.data_len <= room && h.data_len <= h.len,
			   "USED data %u bytes > in-buffers %llu or len %u", h.data_len,
			   static_cast<unsigned long long>(room), h.len);
		touch(r.used_data());
		break;
	}
	case RecType::Dropped:
		(void)r.dropped();
		break;
	case RecType::End:
		(void)r.end();
		break;
	case RecType::Note:
		(void)r.text();
		break;
	default:
		break;
	}
	FUZZ_CHECK(!describe(t, r).empty(), "describe() of record #%llu is empty",
		   static_cast<unsigned long long>(r.index));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	const bool allow_truncated = data[0] & 1;
	auto file = std::make_unique<std::vector<uint8_t>>(data + 1, data + size);
	const size_t n = file->size();
	Trace t;
	ParseError e;
	const bool ok = parse_trace(*file, t, e, allow_truncated);
	Trace strict;
	ParseError se;
	const bool strict_ok = parse_trace(*file, strict, se, false);
	file.reset(); // an accepted trace must not point into the caller's buffer

	if (!ok) {
		FUZZ_CHECK(!e.what.empty() && e.offset <= n,
			   "rejection without a reason or at offset %zu of %zu", e.offset, n);
		FUZZ_CHECK(!e.str().empty(), "empty error text");
		FUZZ_CHECK(!strict_ok, "strict parsing accepted what lenient parsing rejected");
		return 0;
	}
	FUZZ_CHECK(t.bytes.size() == n && t.file_size == n, "trace keeps %zu of %zu bytes", t.bytes.size(),
		   n);
	FUZZ_CHECK(allow_truncated || t.complete, "an incomplete trace passed strict parsing");
	FUZZ_CHECK(strict_ok == t.complete, "strict parsing %s a trace that is %scomplete",
		   strict_ok ? "accepted" : "rejected", t.complete ? "" : "not ");
	FUZZ_CHECK(t.header.size <= n, "header size %u past the file", t.header.size);
	size_t next = t.header.size;
	for (size_t i = 0; i < t.records.size(); ++i) {
		const Record &r = t.records[i];
		FUZZ_CHECK(r.index == i, "record %zu numbered %llu", i,
			   static_cast<unsigned long long>(r.index));
		FUZZ_CHECK(r.offset == next, "record #%zu at offset %zu, expected %zu", i, r.offset, next);
		next = r.offset + kRecordHeader + r.payload.size();
		FUZZ_CHECK(next <= n, "record #%zu runs past the file", i);
		check_record(t, r);
	}
	if (t.complete) {
		FUZZ_CHECK(!t.records.empty() && t.records.back().type == RecType::End && next == n,
			   "a complete trace does not end with its END record");
		const EndRec end = t.records.back().end();
		FUZZ_CHECK(end.records == t.records.size() && end.bytes == n,
			   "END says %llu records / %llu bytes, the file has %zu / %zu",
			   static_cast<unsigned long long>(end.records),
			   static_cast<unsigned long long>(end.bytes), t.records.size(), n);
	}

	Trace again;
	ParseError ae;
	FUZZ_CHECK(parse_trace(t.bytes, again, ae, allow_truncated) &&
			   again.records.size() == t.records.size() && again.complete == t.complete,
		   "parsing the same bytes twice disagrees");
	return 0;
}
