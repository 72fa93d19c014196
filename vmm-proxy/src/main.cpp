// SPDX-License-Identifier: Apache-2.0
// vmm-proxy: launches a guest VM whose devices live in a device VM, supervises both.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <string>
#include <vector>

#include "launcher.h"
#include "options.h"

int main(int argc, char **argv)
{
	std::vector<std::string> args(argv + 1, argv + argc);
	vsst::ParseResult parsed = vsst::parse_options(args);
	if (parsed.help) {
		std::fputs(vsst::usage_text().c_str(), stdout);
		return 0;
	}
	if (!parsed.options) {
		std::fprintf(stderr, "vmm-proxy: %s\n(try --help)\n", parsed.error.c_str());
		return vsst::kExitUsage;
	}
	// Log lines go to stderr; stdout carries the guest console.
	auto logger = spdlog::stderr_color_mt("vmm-proxy");
	spdlog::set_default_logger(logger);
	spdlog::set_pattern("%^vmm-proxy [%L] %v%$");
	spdlog::set_level(spdlog::level::from_str(parsed.options->log_level));
	spdlog::flush_on(spdlog::level::trace);
	vsst::Launcher launcher(std::move(*parsed.options));
	return launcher.run();
}
