// SPDX-License-Identifier: Apache-2.0
// guest_command.h - a command run in the guest (`vmm-proxy ... -- CMD ARGS`): how its
// argv travels on the kernel command line, and which part of the guest console is its
// output. /init frames the command's output with two OSC escape sequences
//   ESC ] vsst-cmd;begin BEL   ...output...   ESC ] vsst-cmd;end;rc=N BEL
// which terminals ignore and programs do not print, so the frame needs no newline of
// its own and the output streams through unchanged (a partial line shows at once).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace vsst {

// vsst.cmd= value: each argument base64-encoded (any byte survives the kernel command
// line and /init's shell), comma-separated ("" for an empty argument).
std::string encode_guest_command(const std::vector<std::string> &argv);

// Cuts the command's output out of the console byte stream.
class CommandOutput {
public:
	// Appends to out what of [p, p+n) is the command's output ("\r\n" becomes "\n":
	// the serial line's carriage returns are the tty's, not the program's).
	void feed(const char *p, size_t n, std::string &out);
	// At the end of the run: whatever was held back (an unfinished frame).
	void flush(std::string &out);

	bool begun() const { return state_ != State::Before; }
	bool ended() const { return state_ == State::After; }
	// The command's exit status (once ended), as /init's shell reported it.
	std::optional<int> exit_status() const { return rc_; }

private:
	enum class State { Before, Inside, After };
	void inside(char c, std::string &out);
	void emit(char c, std::string &out);

	State state_ = State::Before;
	std::string window_; // Before: the tail that may be the start of the begin frame
	std::string hold_;   // Inside: bytes that may be the start of the end frame
	bool cr_ = false;    // a '\r' waiting to see whether '\n' follows
	std::optional<int> rc_;
};

} // namespace vsst
