// SPDX-License-Identifier: Apache-2.0
// launcher.h - one run of vmm-proxy: shared resources, device VM(s), guest VM,
// supervision and teardown.
#pragma once

#include <memory>

#include "options.h"

namespace vsst {

// Exit statuses of vmm-proxy (also in usage_text and README.md).
enum ExitStatus : int {
	kExitPass = 0,        // the guest workload passed
	kExitWorkloadFail = 1,// it failed, or printed no summary
	kExitUsage = 2,
	kExitDied = 3,        // a process died, or setup failed
	kExitTimeout = 4,
	kExitInterrupted = 130,
};

class Launcher {
public:
	explicit Launcher(Options options);
	~Launcher();
	Launcher(const Launcher &) = delete;
	Launcher &operator=(const Launcher &) = delete;

	// Runs to the end; everything started is stopped and reaped before it returns.
	int run();

private:
	struct Impl;
	std::unique_ptr<Impl> impl_;
};

} // namespace vsst
