// SPDX-License-Identifier: Apache-2.0
#include "terminal.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vsst {

bool RawTerminal::enter(int fd, std::string &error)
{
	if (!isatty(fd))
		return true;
	termios t;
	if (tcgetattr(fd, &t) < 0) {
		error = std::string("tcgetattr: ") + strerror(errno);
		return false;
	}
	saved_ = t;
	cfmakeraw(&t);
	// Output processing stays on: the launcher's own log lines end in "\n" alone.
	t.c_oflag |= OPOST;
	if (tcsetattr(fd, TCSAFLUSH, &t) < 0) {
		error = std::string("tcsetattr: ") + strerror(errno);
		return false;
	}
	fd_ = fd;
	return true;
}

void RawTerminal::restore()
{
	if (fd_ < 0)
		return;
	tcsetattr(fd_, TCSAFLUSH, &saved_);
	fd_ = -1;
}

bool ConsoleInput::pump()
{
	char buf[512];
	ssize_t n = read(in_, buf, sizeof buf);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0) {
		// End of input (or a broken terminal): the guest keeps running; the user
		// ends the session from the guest or with a signal.
		eof_ = true;
		return true;
	}
	size_t len = static_cast<size_t>(n);
	if (const void *esc = memchr(buf, kEscapeKey, len)) {
		len = static_cast<size_t>(static_cast<const char *>(esc) - buf);
		escaped_ = true;
	}
	// The guest reads its console slower than a paste arrives: a short blocking
	// write keeps every byte (the pipe holds 64 KiB; QEMU drains it continuously).
	const char *p = buf;
	while (len > 0 && to_guest_) {
		ssize_t w = write(to_guest_.get(), p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break; // the guest QEMU is gone; supervision notices
		p += w;
		len -= static_cast<size_t>(w);
	}
	return !escaped_;
}

} // namespace vsst
