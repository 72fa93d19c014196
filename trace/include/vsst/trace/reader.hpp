// SPDX-License-Identifier: Apache-2.0
// Reading vsst RPC traces. A trace file is untrusted input: parse_trace()
// checks every field (sizes, types, ranges, guest addresses against the RAM
// layout, the END record's totals) and either returns a fully validated
// Trace or a reason with the byte offset and record index.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vsst/rpc.h"
#include "vsst/trace/format.hpp"

namespace vsst::trace {

struct RamRegion {
	uint64_t gpa = 0, size = 0;
};
struct ImageInfo {
	std::string name;
	uint64_t size = 0, hash = 0;
};
struct NondetInfo {
	uint16_t vendor = 0, device = 0;
	uint32_t queue_mask = 0;
};

struct TraceHeader {
	uint16_t major = 0, minor = 0;
	uint64_t start_unix_ns = 0;
	Side side = Side::Proxy;
	uint32_t flags = 0;
	std::string origin;
	std::vector<RamRegion> ram;
	std::vector<std::string> qemu_args;
	std::vector<ImageInfo> images;
	std::vector<NondetInfo> nondet;
	uint32_t sim_protocol = 0;
	std::vector<std::string> notes;
	uint32_t size = 0;
};

struct Record {
	uint64_t index = 0; // 0-based position in the trace (shown as #index)
	size_t offset = 0;  // byte offset in the file
	RecType type{};
	uint8_t sub = 0;
	uint16_t aux = 0;
	uint64_t t_ns = 0;
	std::span<const uint8_t> payload;

	vsst_rpcmsg msg() const; // type Msg
	MemHdr mem() const;      // type Mem; data: mem_data()
	std::span<const uint8_t> mem_data() const;
	AvailRec avail() const;
	UsedHdr used() const;
	std::vector<UsedSeg> used_segs() const;
	std::span<const uint8_t> used_data() const;
	DroppedRec dropped() const;
	EndRec end() const;
	std::string text() const; // Note
};

struct Trace {
	TraceHeader header;
	std::vector<Record> records;
	bool complete = false; // ends with a consistent END record
	uint64_t file_size = 0;
	std::vector<uint8_t> bytes; // the records' payloads point in here
};

struct ParseError {
	size_t offset = 0;
	int64_t record = -1; // -1: in the header
	std::string what;
	std::string str() const;
};

// Parses and validates a whole trace. On success out holds a copy of data.
// allow_truncated: accept a trace without END (a recorder that was killed);
// out.complete says which.
bool parse_trace(std::span<const uint8_t> data, Trace &out, ParseError &err, bool allow_truncated = true);
bool load_trace(const std::string &path, Trace &out, ParseError &err, bool allow_truncated = true);

// One readable line per record ("#12 t=0.001234 MSG sent req MMIO W as=glob ...").
std::string describe(const Trace &t, const Record &r);
std::string op_name(unsigned op);
std::string rec_type_name(RecType t);

} // namespace vsst::trace
