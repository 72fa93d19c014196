// SPDX-License-Identifier: Apache-2.0
// console.h - everything the children print. The guest's serial console is copied to
// stdout (or --console FILE) and parsed for the workload's results; every child's
// stderr is logged line by line, its last lines kept to explain a death.
#pragma once

#include <poll.h>

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "guest_command.h"
#include "guest_results.h"
#include "vsst/posix/unique_fd.h"

namespace vsst {

// Output of one child (console or stderr), read line by line.
struct Stream {
	UniqueFd fd;
	std::string who;
	bool console = false;
	LineSplitter lines;
	std::deque<std::string> tail; // last lines, for the reason when it dies
};

// The last n lines, " | "-joined.
std::string join_tail(const std::deque<std::string> &tail, size_t n);

class Console {
public:
	using Clock = std::chrono::steady_clock;

	// Where the guest console goes: file (if valid), else stdout unless quiet.
	void set_output(UniqueFd file, bool quiet);
	// A guest command runs: stdout gets only its output; the file (if any) the console.
	void set_command_mode() { command_.emplace(); }
	const std::optional<CommandOutput> &command() const { return command_; }

	// A pipe for a child's output: the write end for the child; *stream (if given)
	// reads it. Invalid with error set on failure.
	UniqueFd pipe(const std::string &who, bool console, Stream **stream, std::string &error);
	// The guest QEMU's stderr: its "channel ... is dead" line makes the run fail.
	void set_guest_errors(Stream *s) { guest_err_ = s; }
	Stream *guest_errors() const { return guest_err_; }

	void poll_fds(std::vector<pollfd> &out) const;
	void pump_all();
	// Teardown: reads until every pipe is at EOF (all writers gone) or bound passes.
	void drain(std::chrono::milliseconds bound);
	void close_all();

	const GuestResults &results() const { return results_; }
	bool guest_booted() const { return guest_booted_; }
	const std::optional<Clock::time_point> &booted_at() const { return booted_at_; }
	// When the guest's /init said "VSST-BOOT poweroff".
	const std::optional<Clock::time_point> &poweroff_at() const { return poweroff_at_; }
	// The guest QEMU's report that it gave up on a device VM channel ("" if none).
	const std::string &channel_dead() const { return channel_dead_; }

private:
	bool pump(Stream &s); // false at EOF
	void on_line(Stream &s, const std::string &line);
	void write_console(const char *buf, size_t n);
	static void write_all(int fd, const char *buf, size_t n);

	std::vector<std::unique_ptr<Stream>> streams_;
	UniqueFd file_;
	bool quiet_ = false;
	Stream *guest_err_ = nullptr;
	GuestResults results_;
	bool guest_booted_ = false; // the console showed the guest's /init
	std::optional<Clock::time_point> booted_at_;
	std::optional<Clock::time_point> poweroff_at_;
	std::string channel_dead_;
	std::optional<CommandOutput> command_;
};

} // namespace vsst
