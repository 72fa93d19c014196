// SPDX-License-Identifier: Apache-2.0
// Options of the sst-sim server: command line and config file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vsst/sim/model_params.h"
#include "vsst/sim/server_session.h"
#include "vsst/sim/socket_place.h"

namespace vsst::sim {

struct ServerOptions {
	// "" = the default: default_socket_path(), in a private directory that
	// Server::open() creates (0700) or checks.
	std::string socket_path;
	Protocol protocol = Protocol::kAuto;
	ModelParams model;
	bool paced = false;
	double pace_scale = 1.0;        // wall-clock ns per simulated ns
	double status_interval_s = 5.0; // 0: no status line
	size_t max_connections = 64;
	// Device memory committed by all connections together (bytes); a WRITE
	// that needs more is answered SST_STATUS_ERROR.
	uint64_t memory_budget = 1ull << 30;
	// A connection that moved no byte in either direction for this long, with
	// no response held back, is closed (0 = never).
	double idle_timeout_s = 300.0;
	// --resume-window: when a device's connection closes, its model (memory, parameters,
	// time) is kept this long for the next connection that names the same device id in
	// its HELLO (a restarted device VM); 0 = never (each connection starts afresh).
	double resume_window_s = 0.0;
	// Who may connect (SO_PEERCRED uid). Any by default: the default socket's
	// directory is private already, and the launcher's device VM runs as
	// another user; --peer-uids narrows it where the socket is reachable.
	PeerPolicy peers = PeerPolicy{true, {}, {}};
	std::string log_level = "info";
	bool handle_signals = true; // SIGINT/SIGTERM stop the server (off in tests)
	// --stats-out: JSON statistics written when the server stops ("" = off).
	std::string stats_out;
	// Per-request samples kept per connection in the statistics file; later
	// requests are only counted (samples_dropped).
	uint64_t stats_samples = 200'000;
	// The command line, recorded in the statistics file.
	std::vector<std::string> argv;
};

enum class ParseOutcome { kRun, kExitOk, kError };

// Parses argv into opts. kExitOk: --help/--version printed into `message`;
// kError: `message` says why.
ParseOutcome parse_command_line(int argc, char **argv, ServerOptions &opts, std::string &message);

// Applies one option given by its long name without dashes (as in a config
// file: `key = value`). Model parameters accept snake_case or kebab-case.
bool apply_option(ServerOptions &opts, std::string_view key, std::string_view value, std::string &err);

// Reads `key = value` lines ('#' starts a comment) and applies them in order.
bool load_config_file(const std::string &path, ServerOptions &opts, std::string &err);

std::string usage_text();

// The default socket: <dir>/sim.sock in default_socket_dir() (socket_place.h,
// with ensure_private_dir(), shared with the SST-core bridge).
std::string default_socket_path();

// "1G", "2GHz", "256Mi", "4096" -> number (k/M/G/T decimal, Ki/Mi/Gi/Ti binary).
bool parse_size(std::string_view text, uint64_t &value);

} // namespace vsst::sim
