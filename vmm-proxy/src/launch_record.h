// SPDX-License-Identifier: Apache-2.0
// launch_record.h - `--report FILE`: what the launcher knows of a run, as JSON for
// tools (report/ assembles it with the simulators' statistics into the run report).
// Schema "vsst-launch", version 1 (vmm-proxy/README.md): argv, every process it
// started, wall-clock stages, the guest's results and command, the exit.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "guest_results.h"

namespace vsst {

struct LaunchProcess {
	std::string role; // "guest VM", "device VM 0", ...
	int pid = 0;
	std::string user; // who it runs as
	std::vector<std::string> argv;
};

struct LaunchRecord {
	std::vector<std::string> argv;
	std::vector<LaunchProcess> processes;
	// Seconds; negative = the stage was not reached.
	double setup_s = -1, boot_s = -1, run_s = -1, teardown_s = -1;
	bool booted = false;
	std::vector<GuestResult> results;
	std::vector<std::string> command; // -- CMD (empty: the image's workloads)
	std::optional<int> command_exit;
	int exit_status = 0;
	std::string exit_reason;
};

std::string to_json(const LaunchRecord &r);
// Writes atomically (temp file + rename); false with error set.
bool write_launch_record(const std::string &path, const LaunchRecord &r, std::string &error);

} // namespace vsst
