// SPDX-License-Identifier: Apache-2.0
// Replaying a trace against a fresh device VM (see trace/TRACE.md).
//
// The replayer plays the proxy: it creates guest RAM and a channel, starts
// QEMU (-machine rpc-backend -accel rpc) with the trace's device arguments,
// and walks the records in order:
//   request (MSG ring 0)  -> sent as recorded (sync MMIO waits for its completion)
//   completion (ring 1)   -> compared with the oldest replayed completion
//   event (ring 2)        -> waited for (bounded) and compared field by field
//   MEM                   -> written into guest RAM (what the driver had written)
//   AVAIL late            -> an extra doorbell for that queue
//   USED                  -> waits for the used index, compares id, len and the
//                            device-written bytes (lengths only for nondet queues)
//   SIM (hermetic)        -> a fake simulator: device->sim bytes compared,
//                            sim->device bytes sent back at their recorded place
// The first mismatch ends the replay with its record index and a field diff.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vsst/trace/reader.hpp"

namespace vsst::trace {

struct ReplayOptions {
	std::string qemu;                         // device VM binary
	std::string sim;                          // "" hermetic; else sst-sim binary or a listening socket
	std::string image_dir;                    // where {image:NAME} files are looked up
	std::string work_dir;                     // scratch (sockets, logs); "" -> a temp dir, removed after
	std::vector<std::string> extra_qemu_args; // trusted extras (e.g. -global ...x-debug-echo-flip=3)
	int timeout_ms = 10000;                   // bound of every wait
	bool verbose = false;
	void (*log)(void *opaque, const std::string &line) = nullptr;
	void *log_opaque = nullptr;
};

enum class ReplayStatus { Match = 0, Diverged = 1, Error = 2 };

struct ReplayResult {
	ReplayStatus status = ReplayStatus::Error;
	int64_t record = -1;  // index of the diverging / failing record
	std::string what;     // one line: what differs (field, recorded, replayed)
	std::string recorded; // describe() of that record
	uint64_t records = 0; // records processed
	// events: the recorded non-interrupt events, waited for and compared.
	uint64_t requests = 0, completions = 0, events = 0, used = 0, mem_bytes = 0, sim_bytes = 0;
	// Interrupts received (each one the recording has); how many depends on
	// timing, so it is not part of the result a --repeat compares.
	uint64_t interrupts = 0;
	double seconds = 0; // from device VM start to the last record
	std::string qemu_log_tail;
};

ReplayResult replay_trace(const Trace &t, const ReplayOptions &opt);

} // namespace vsst::trace
