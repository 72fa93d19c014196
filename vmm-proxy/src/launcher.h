// SPDX-License-Identifier: Apache-2.0
// launcher.h - one run of vmm-proxy: shared resources, device VM(s), guest VM,
// supervision and teardown.
#pragma once

#include <memory>

#include "options.h"
#include "outcome.h"

namespace vsst {

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
