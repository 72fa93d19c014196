// SPDX-License-Identifier: Apache-2.0
#include "console.h"

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace vsst {

std::string join_tail(const std::deque<std::string> &tail, size_t n)
{
	std::string out;
	size_t start = tail.size() > n ? tail.size() - n : 0;
	for (size_t i = start; i < tail.size(); i++)
		out += (out.empty() ? "" : " | ") + tail[i];
	return out;
}

void Console::set_output(UniqueFd file, bool quiet)
{
	file_ = std::move(file);
	quiet_ = quiet;
}

UniqueFd Console::pipe(const std::string &who, bool console, Stream **stream, std::string &error)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		error = std::string("pipe: ") + strerror(errno);
		return UniqueFd();
	}
	fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
	auto s = std::make_unique<Stream>();
	s->fd.reset(p[0]);
	s->who = who;
	s->console = console;
	if (stream)
		*stream = s.get();
	streams_.push_back(std::move(s));
	return UniqueFd(p[1]);
}

void Console::on_line(Stream &s, const std::string &line)
{
	if (s.console) {
		results_.add_line(line);
		if (!guest_booted_ && line.find("VSST-BOOT init") != std::string::npos) {
			guest_booted_ = true;
			booted_at_ = Clock::now();
		}
		// /init's last word before poweroff -f (apps print summaries of their own).
		if (!poweroff_at_ && line.find("VSST-BOOT poweroff") != std::string::npos)
			poweroff_at_ = Clock::now();
		return;
	}
	s.tail.push_back(line);
	if (s.tail.size() > 20)
		s.tail.pop_front();
	spdlog::info("{}: {}", s.who, line);
	// rpc-channel's error_report when it gives up on a device VM that is
	// alive but silent (or hostile): the run must not end "passed".
	if (&s == guest_err_ && channel_dead_.empty() &&
	    line.find("the channel to the device VM is dead") != std::string::npos)
		channel_dead_ = line;
}

void Console::write_all(int fd, const char *buf, size_t n)
{
	while (fd >= 0 && n > 0) {
		ssize_t w = write(fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; // a closed stdout must not stop the run
		buf += w;
		n -= static_cast<size_t>(w);
	}
}

void Console::write_console(const char *buf, size_t n)
{
	if (command_) {
		if (file_)
			write_all(file_.get(), buf, n);
		std::string out;
		command_->feed(buf, n, out);
		write_all(STDOUT_FILENO, out.data(), out.size());
		return;
	}
	write_all(file_ ? file_.get() : (quiet_ ? -1 : STDOUT_FILENO), buf, n);
}

bool Console::pump(Stream &s)
{
	char buf[8192];
	for (;;) {
		ssize_t n = read(s.fd.get(), buf, sizeof buf);
		if (n > 0) {
			if (s.console)
				write_console(buf, static_cast<size_t>(n));
			s.lines.feed(buf, static_cast<size_t>(n),
				     [&](const std::string &l) { on_line(s, l); });
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		s.lines.flush([&](const std::string &l) { on_line(s, l); });
		s.fd.reset();
		return false;
	}
}

void Console::close_all()
{
	streams_.clear();
	if (command_) {
		std::string out;
		command_->flush(out);
		write_all(STDOUT_FILENO, out.data(), out.size());
	}
}

void Console::poll_fds(std::vector<pollfd> &out) const
{
	for (auto &s : streams_)
		if (s->fd)
			out.push_back({s->fd.get(), POLLIN, 0});
}

void Console::pump_all()
{
	for (auto &s : streams_)
		if (s->fd)
			pump(*s);
}

void Console::drain(std::chrono::milliseconds bound)
{
	auto until = Clock::now() + bound;
	for (;;) {
		bool open = false;
		for (auto &s : streams_)
			if (s->fd && pump(*s))
				open = true;
		if (!open || Clock::now() >= until)
			break;
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
}

} // namespace vsst
