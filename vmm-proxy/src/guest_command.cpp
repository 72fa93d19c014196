// SPDX-License-Identifier: Apache-2.0
#include "guest_command.h"

#include <charconv>

namespace vsst {

namespace {

constexpr std::string_view kBegin = "\033]vsst-cmd;begin\007";
constexpr std::string_view kEndPrefix = "\033]vsst-cmd;end;rc=";
constexpr size_t kMaxRcDigits = 3; // 0..255

std::string base64(const std::string &in)
{
	static const char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	std::string out;
	size_t i = 0;
	for (; i + 2 < in.size(); i += 3) {
		unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
			     (static_cast<unsigned char>(in[i + 1]) << 8) |
			     static_cast<unsigned char>(in[i + 2]);
		out += table[(v >> 18) & 63];
		out += table[(v >> 12) & 63];
		out += table[(v >> 6) & 63];
		out += table[v & 63];
	}
	if (i + 1 == in.size()) {
		unsigned v = static_cast<unsigned char>(in[i]) << 16;
		out += table[(v >> 18) & 63];
		out += table[(v >> 12) & 63];
		out += "==";
	} else if (i + 2 == in.size()) {
		unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
			     (static_cast<unsigned char>(in[i + 1]) << 8);
		out += table[(v >> 18) & 63];
		out += table[(v >> 12) & 63];
		out += table[(v >> 6) & 63];
		out += '=';
	}
	return out;
}

} // namespace

std::string encode_guest_command(const std::vector<std::string> &argv)
{
	std::string out;
	for (size_t i = 0; i < argv.size(); i++) {
		if (i)
			out += ',';
		out += base64(argv[i]);
	}
	return out;
}

void CommandOutput::emit(char c, std::string &out)
{
	if (cr_) {
		cr_ = false;
		if (c != '\n')
			out += '\r';
	}
	if (c == '\r')
		cr_ = true;
	else
		out += c;
}

void CommandOutput::inside(char c, std::string &out)
{
	if (hold_.empty() && c != kEndPrefix[0]) {
		emit(c, out);
		return;
	}
	hold_ += c;
	if (hold_.size() <= kEndPrefix.size()) {
		if (kEndPrefix.substr(0, hold_.size()) == hold_)
			return;
	} else {
		// Past the prefix: the exit status digits, then BEL.
		const std::string_view digits(hold_.data() + kEndPrefix.size(),
					      hold_.size() - kEndPrefix.size() - 1);
		if (c == '\007' && !digits.empty()) {
			int rc = 0;
			auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), rc);
			if (ec == std::errc() && end == digits.data() + digits.size()) {
				rc_ = rc;
				state_ = State::After;
				hold_.clear();
				return;
			}
		} else if (c >= '0' && c <= '9' && hold_.size() - kEndPrefix.size() <= kMaxRcDigits) {
			return;
		}
	}
	// Not the frame after all: it was output. The last byte may start a frame itself.
	std::string held;
	held.swap(hold_);
	const char last = held.back();
	held.pop_back();
	for (char h : held)
		emit(h, out);
	inside(last, out);
}

void CommandOutput::feed(const char *p, size_t n, std::string &out)
{
	for (size_t i = 0; i < n; i++) {
		const char c = p[i];
		switch (state_) {
		case State::Before:
			window_ += c;
			if (window_.size() > kBegin.size())
				window_.erase(0, window_.size() - kBegin.size());
			if (window_ == kBegin) {
				state_ = State::Inside;
				window_.clear();
			}
			break;
		case State::Inside:
			inside(c, out);
			break;
		case State::After:
			return;
		}
	}
}

void CommandOutput::flush(std::string &out)
{
	if (state_ != State::Inside)
		return;
	std::string held;
	held.swap(hold_);
	for (char h : held)
		emit(h, out);
	if (cr_) {
		cr_ = false;
		out += '\r';
	}
}

} // namespace vsst
