// SPDX-License-Identifier: Apache-2.0
// guest_results.h - the guest workload's verdict, read from its console: lines
//   VSST-RESULT <name> <PASS|FAIL|SKIP> [key=value ...]
//   VSST-RESULT summary pass=N fail=N skip=N
// (written by the image's /init, see images/init.sh).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace vsst {

struct GuestResult {
	std::string name;
	std::string status; // PASS, FAIL, SKIP (as written, upper-cased)
	std::string details;
};

struct GuestSummary {
	unsigned pass = 0, fail = 0, skip = 0;
};

class GuestResults {
public:
	// A guest may print any number of result lines: the launcher keeps this many.
	static constexpr size_t kMaxResults = 4096;
	static constexpr size_t kMaxField = 128;    // name, status
	static constexpr size_t kMaxDetails = 1024; // key=value words
	// Feeds one console line (without the newline).
	void add_line(const std::string &line);

	const std::vector<GuestResult> &results() const { return results_; }
	const std::optional<GuestSummary> &summary() const { return summary_; }
	// Result lines past kMaxResults (counted, not kept).
	size_t dropped() const { return dropped_; }
	bool powered_off() const { return powered_off_; }
	// Passed: a summary was printed, with no failure and at least one pass.
	bool passed() const;
	// One line for the log: "summary pass=3 fail=0 skip=0" or "no summary line".
	std::string describe() const;

private:
	std::vector<GuestResult> results_;
	std::optional<GuestSummary> summary_;
	bool powered_off_ = false;
	size_t dropped_ = 0;
};

// Splits a byte stream into lines (bounded: an endless line is cut at max_len).
class LineSplitter {
public:
	explicit LineSplitter(size_t max_len = 64 * 1024) : max_len_(max_len) {}
	// Calls fn(line) for each complete line in data.
	template <typename Fn> void feed(const char *data, size_t n, Fn &&fn)
	{
		for (size_t i = 0; i < n; i++) {
			char c = data[i];
			if (c == '\n' || partial_.size() >= max_len_) {
				if (!partial_.empty() && partial_.back() == '\r')
					partial_.pop_back();
				fn(partial_);
				partial_.clear();
				if (c == '\n')
					continue;
			}
			partial_.push_back(c);
		}
	}
	template <typename Fn> void flush(Fn &&fn)
	{
		if (!partial_.empty())
			fn(partial_);
		partial_.clear();
	}

private:
	size_t max_len_;
	std::string partial_;
};

} // namespace vsst
