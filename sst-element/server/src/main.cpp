// SPDX-License-Identifier: Apache-2.0
// sst-sim: the standalone simulator server. See sst-element/README.md.
#include <signal.h>

#include <cstdio>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "vsst/sim/server.h"

int main(int argc, char **argv)
{
	// Block the stop signals before anything else so they are only ever
	// taken through the server's signalfd.
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, nullptr);
	signal(SIGPIPE, SIG_IGN);

	vsst::sim::ServerOptions opts;
	std::string message;
	switch (vsst::sim::parse_command_line(argc, argv, opts, message)) {
	case vsst::sim::ParseOutcome::kExitOk:
		std::fputs(message.c_str(), stdout);
		return 0;
	case vsst::sim::ParseOutcome::kError:
		std::fprintf(stderr, "sst-sim: %s\n", message.c_str());
		return 2;
	case vsst::sim::ParseOutcome::kRun:
		break;
	}

	auto logger = spdlog::stderr_color_mt("sst-sim");
	spdlog::set_default_logger(logger);
	spdlog::set_pattern("[%H:%M:%S.%e] [sst-sim] [%l] %v");
	spdlog::set_level(spdlog::level::from_str(opts.log_level));
	spdlog::flush_on(spdlog::level::info);

	vsst::sim::Server server(opts);
	std::string err;
	if (!server.open(&err)) {
		spdlog::error("cannot start: {}", err);
		return 1;
	}
	return server.run();
}
