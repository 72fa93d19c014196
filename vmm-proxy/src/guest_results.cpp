// SPDX-License-Identifier: Apache-2.0
#include "guest_results.h"

#include <charconv>
#include <sstream>

namespace vsst {

namespace {

bool parse_count(const std::string &token, const char *key, unsigned &out)
{
	std::string prefix = std::string(key) + "=";
	if (token.rfind(prefix, 0) != 0)
		return false;
	const char *b = token.data() + prefix.size(), *e = token.data() + token.size();
	unsigned v = 0;
	auto [p, ec] = std::from_chars(b, e, v);
	if (ec != std::errc() || p != e)
		return false;
	out = v;
	return true;
}

} // namespace

void GuestResults::add_line(const std::string &line)
{
	if (line.find("VSST-BOOT poweroff") != std::string::npos)
		powered_off_ = true;
	auto pos = line.find("VSST-RESULT ");
	if (pos == std::string::npos)
		return;
	std::istringstream in(line.substr(pos + 12));
	std::string name, status;
	if (!(in >> name))
		return;
	if (name == "summary") {
		GuestSummary s;
		bool have_pass = false, have_fail = false;
		std::string tok;
		while (in >> tok) {
			have_pass |= parse_count(tok, "pass", s.pass);
			have_fail |= parse_count(tok, "fail", s.fail);
			parse_count(tok, "skip", s.skip);
		}
		if (have_pass && have_fail)
			summary_ = s;
		return;
	}
	if (!(in >> status))
		return;
	for (auto &c : status)
		c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
	std::string details;
	std::getline(in, details);
	if (!details.empty() && details.front() == ' ')
		details.erase(0, 1);
	// The guest is not trusted to be brief: bounded count, bounded size.
	if (results_.size() >= kMaxResults) {
		dropped_++;
		return;
	}
	if (name.size() > kMaxField)
		name.resize(kMaxField);
	if (status.size() > kMaxField)
		status.resize(kMaxField);
	if (details.size() > kMaxDetails)
		details.resize(kMaxDetails);
	results_.push_back({name, status, details});
}

bool GuestResults::passed() const
{
	return summary_ && summary_->fail == 0 && summary_->pass > 0;
}

std::string GuestResults::describe() const
{
	if (!summary_)
		return "the guest printed no VSST-RESULT summary";
	return "guest summary pass=" + std::to_string(summary_->pass) +
	       " fail=" + std::to_string(summary_->fail) + " skip=" + std::to_string(summary_->skip);
}

} // namespace vsst
