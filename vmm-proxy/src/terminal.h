// SPDX-License-Identifier: Apache-2.0
// terminal.h - the interactive guest console (--interactive): the launcher's terminal in
// raw mode for the run (restored by RAII on every way out), and the keys typed on it
// forwarded to the guest's serial port. Ctrl-] (the escape key of telnet and virsh
// console) ends the session; every other byte, Ctrl-C included, belongs to the guest.
#pragma once

#include <termios.h>

#include <string>

#include "vsst/posix/unique_fd.h"

namespace vsst {

constexpr char kEscapeKey = 0x1d; // Ctrl-]

// Raw mode on a terminal for the object's lifetime (no-op if fd is not a terminal).
class RawTerminal {
public:
	RawTerminal() = default;
	~RawTerminal() { restore(); }
	RawTerminal(const RawTerminal &) = delete;
	RawTerminal &operator=(const RawTerminal &) = delete;

	// False with error set when fd is a terminal that refuses raw mode.
	bool enter(int fd, std::string &error);
	void restore();
	bool active() const { return fd_ >= 0; }

private:
	int fd_ = -1;
	termios saved_{};
};

// Copies the launcher's input to the guest console's input pipe.
class ConsoleInput {
public:
	// in: the launcher's input (stdin); to_guest: write end of the guest QEMU's stdin.
	ConsoleInput(int in, UniqueFd to_guest) : in_(in), to_guest_(std::move(to_guest)) {}

	int fd() const { return eof_ ? -1 : in_; }
	// Reads what is there and forwards it. Returns false once the escape key was typed.
	bool pump();
	bool escaped() const { return escaped_; }

private:
	int in_;
	UniqueFd to_guest_;
	bool eof_ = false;
	bool escaped_ = false;
};

} // namespace vsst
