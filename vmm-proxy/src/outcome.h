// SPDX-License-Identifier: Apache-2.0
// outcome.h - the run's verdict: the first thing that went wrong, one line, and the
// exit status it maps to.
#pragma once

#include <string>

namespace vsst {

// Exit statuses of vmm-proxy (also in usage_text and README.md).
enum ExitStatus : int {
	kExitPass = 0,         // the guest workload passed
	kExitWorkloadFail = 1, // it failed, or printed no summary
	kExitUsage = 2,
	kExitDied = 3, // a process died, or setup failed
	kExitTimeout = 4,
	kExitStackFailed = 125, // -- CMD: the stack failed before the command finished
	kExitInterrupted = 130,
};

struct Outcome {
	std::string reason; // first thing that went wrong
	int status = kExitPass;

	// Only the first failure counts: later ones are its consequences.
	void fail(int code, const std::string &why)
	{
		if (reason.empty()) {
			reason = why;
			status = code;
		}
	}
	bool failed() const { return !reason.empty(); }
};

} // namespace vsst
