// SPDX-License-Identifier: Apache-2.0
#include "vsst/sim/client_intake.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace vsst::sim {

namespace {
constexpr size_t kReadChunk = 64 * 1024;
} // namespace

ClientIntake::ClientIntake(Protocol protocol, uint64_t clock_hz, IntakeLimits limits)
	: limits_(limits), session_(protocol, clock_hz)
{
	limits_.max_in_flight = std::max<size_t>(limits_.max_in_flight, 1);
	limits_.read_budget = std::max<size_t>(limits_.read_budget, 1);
}

bool ClientIntake::can_take_requests() const
{
	return !broken_ && !session_.closing() && out_.size() < limits_.output_high_water &&
	       in_flight() < limits_.max_in_flight;
}

bool ClientIntake::input_over() const
{
	return peer_eof_ || broken_ || idle_ || session_.closing();
}

void ClientIntake::end_input(std::string why, int64_t now_ns)
{
	if (reason_.empty())
		reason_ = std::move(why);
	if (linger_deadline_ns_ == 0)
		linger_deadline_ns_ = now_ns + limits_.linger_ns;
}

bool ClientIntake::retire()
{
	if (retired_ >= handed_)
		return false;
	++retired_;
	return true;
}

size_t ClientIntake::feed(const ServerSession::RequestFn &on_request)
{
	size_t total = 0;
	auto count = [this, &on_request](uint64_t token, std::span<const uint8_t> req) {
		++handed_;
		on_request(token, req);
	};
	while (can_take_requests() && !in_.empty()) {
		const size_t n = session_.feed(in_, out_, count, limits_.max_in_flight - in_flight());
		total += n;
		if (n == 0)
			break; // only a partial frame left (replies to bad frames are queued)
	}
	return total;
}

size_t ClientIntake::pump(int fd, int64_t now_ns, const ServerSession::RequestFn &on_request)
{
	if (last_io_ns_ < 0)
		last_io_ns_ = now_ns;
	size_t handed = feed(on_request);
	size_t got = 0;
	while (wants_read() && got < limits_.read_budget) {
		const size_t want = std::min(kReadChunk, limits_.read_budget - got);
		uint8_t *buf = in_.prepare(want);
		const ssize_t n = ::recv(fd, buf, want, 0);
		if (n > 0) {
			in_.commit(static_cast<size_t>(n));
			got += static_cast<size_t>(n);
			received_ += static_cast<uint64_t>(n);
			last_io_ns_ = now_ns;
			handed += feed(on_request);
			continue;
		}
		in_.commit(0);
		if (n == 0) {
			peer_eof_ = true;
			std::string why = "peer closed";
			if (auto t = session_.truncated_input(in_))
				why += " (short frame: " + *t + ")";
			end_input(std::move(why), now_ns);
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			broken_ = true;
			end_input(std::string("recv: ") + std::strerror(errno), now_ns);
		}
		break;
	}
	if (session_.closing())
		end_input("protocol error: " + session_.close_reason(), now_ns);
	return handed;
}

void ClientIntake::flush(int fd, int64_t now_ns)
{
	while (!out_.empty() && !broken_) {
		const ssize_t n = ::send(fd, out_.data(), out_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			out_.consume(static_cast<size_t>(n));
			last_io_ns_ = now_ns;
			// A draining peer keeps its grace period while it makes progress.
			if (linger_deadline_ns_ != 0)
				linger_deadline_ns_ = now_ns + limits_.linger_ns;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		// The peer is gone: what it would not take is dropped.
		broken_ = true;
		out_.clear();
		end_input(std::string("send: ") + (n < 0 ? std::strerror(errno) : "no progress"), now_ns);
	}
}

bool ClientIntake::check_idle(int64_t now_ns)
{
	if (limits_.idle_timeout_ns <= 0 || idle_ || input_over() || in_flight() > 0 || last_io_ns_ < 0 ||
	    now_ns - last_io_ns_ < limits_.idle_timeout_ns)
		return false;
	idle_ = true;
	const double secs = static_cast<double>(now_ns - last_io_ns_) / 1e9;
	char buf[160];
	if (!out_.empty()) {
		std::snprintf(buf, sizeof buf,
			      "idle timeout: the peer read none of its %zu bytes of answers for %.1f s",
			      out_.size(), secs);
	} else {
		std::snprintf(buf, sizeof buf, "idle timeout: nothing received for %.1f s", secs);
	}
	end_input(buf, now_ns);
	return true;
}

bool ClientIntake::finished(int64_t now_ns) const
{
	if (broken_)
		return true;
	if (!input_over())
		return false;
	// A protocol error or an idle peer owes nothing more than what is queued;
	// a closed peer still gets the answers to what it sent.
	const bool owed = !(session_.closing() || idle_) && in_flight() > 0;
	if (out_.empty() && !owed)
		return true;
	return !owed && now_ns >= linger_deadline_ns_;
}

} // namespace vsst::sim
