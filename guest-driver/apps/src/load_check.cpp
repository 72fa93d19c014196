// SPDX-License-Identifier: Apache-2.0
#include "load_check.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "requests.h"

namespace vsst::guest {
namespace {

// user_data = (worker + 1) << 44 | sequence number: unique per run and
// recognisable, so foreign or invented answers are told apart from repeats.
constexpr unsigned kSeqBits = 44;
constexpr uint64_t kSeqMask = (uint64_t{1} << kSeqBits) - 1;
// Each lane owns one 4 KiB page of device memory, starting past the first
// MiB (sst-test uses the start and the end of memory).
constexpr uint64_t kAreaBase = 1u << 20;
constexpr uint64_t kLanePage = 4096;

enum class Phase : uint8_t { compute, write, read };

struct Lane {
	Phase next = Phase::compute;
	uint64_t addr = 0;
	bool has_data = false; // device memory at addr holds pattern(data_seed)
	uint64_t data_seed = 0;
	Phase in_flight = Phase::compute;
};

class Worker {
public:
	Worker(Channel &ch, const LoadWorkerParams &p, LoadCounters &c)
		: ch_(ch), p_(p), c_(c), lanes_(p.depth), buf_(p.depth)
	{
		for (unsigned i = 0; i < p.depth; i++)
			lanes_[i].addr = kAreaBase + (uint64_t(p.index) * p.depth + i) * kLanePage;
	}

	int run(const std::atomic<bool> &stop)
	{
		// A failed submission (e.g. a dead device whose virtqueue filled
		// up) stops new submissions; what is in flight is still drained,
		// since the driver answers every accepted request exactly once.
		int first_error = 0;
		auto submit = [&](unsigned lane) {
			if (first_error || stopping(stop))
				return;
			if (int rc = issue(lane); rc < 0)
				first_error = rc;
		};
		for (unsigned i = 0; i < lanes_.size(); i++)
			submit(i);
		while (!outstanding_.empty()) {
			const ssize_t n = ch_.read_raw(buf_.data(), buf_.size() * sizeof(SSTResponse));
			if (n == -ENODATA) // the driver holds nothing of ours: the rest is lost
				return finish(first_error);
			if (n < 0 || n % sizeof(SSTResponse)) {
				c_.io_errors++;
				return finish(n < 0 ? static_cast<int>(n) : -EIO);
			}
			for (size_t k = 0; k < size_t(n) / sizeof(SSTResponse); k++) {
				const int lane = handle(buf_[k]);
				if (lane >= 0)
					submit(unsigned(lane));
			}
		}
		return finish(first_error);
	}

private:
	bool stopping(const std::atomic<bool> &stop) const
	{
		return stop.load(std::memory_order_relaxed) ||
		       (p_.max_requests && next_seq_ >= p_.max_requests);
	}

	int finish(int rc)
	{
		c_.lost += outstanding_.size();
		outstanding_.clear();
		return rc;
	}

	int issue(unsigned li)
	{
		Lane &l = lanes_[li];
		const uint64_t seq = next_seq_++;
		const uint64_t ud = (uint64_t(p_.index + 1) << kSeqBits) | (seq & kSeqMask);
		SSTRequest req;
		switch (l.next) {
		case Phase::compute:
			req = make_compute(ud, 1 + (seq % p_.compute_units), SST_LATENCY_DEFAULT);
			break;
		case Phase::write: {
			std::vector<uint8_t> data(p_.io_size);
			fill_pattern(Pattern::random, p_.seed ^ seq, data.data(), data.size());
			req = make_write(ud, l.addr, data.data(), p_.io_size);
			break;
		}
		case Phase::read:
			req = make_read(ud, l.addr, p_.io_size);
			break;
		}
		const ssize_t w = ch_.write_raw(&req, sizeof req);
		if (w != ssize_t(sizeof req)) {
			c_.io_errors++;
			return w < 0 ? static_cast<int>(w) : -EIO;
		}
		l.in_flight = l.next;
		l.next = l.next == Phase::compute ? Phase::write
			 : l.next == Phase::write ? Phase::read
						  : Phase::compute;
		outstanding_.emplace(seq, li);
		c_.submitted++;
		return 0;
	}

	// Accounts for one response; returns its lane, or -1 if it had none.
	int handle(const SSTResponse &r)
	{
		const uint64_t seq = r.user_data & kSeqMask;
		if ((r.user_data >> kSeqBits) != p_.index + 1 || seq >= next_seq_) {
			c_.unknown++;
			return -1;
		}
		const auto it = outstanding_.find(seq);
		if (it == outstanding_.end()) {
			c_.duplicate++;
			return -1;
		}
		const unsigned li = it->second;
		outstanding_.erase(it);
		c_.answered++;
		if (r.status < 6)
			c_.status[r.status]++;
		else
			c_.bad_status++;
		Lane &l = lanes_[li];
		const bool ok = r.status == SST_STATUS_OK;
		if (l.in_flight == Phase::write) {
			// A failed WRITE leaves the memory unknown (a restarted
			// simulator starts from zeros): stop verifying this lane.
			l.has_data = ok;
			l.data_seed = p_.seed ^ seq;
		} else if (l.in_flight == Phase::read && ok && p_.verify && l.has_data) {
			std::vector<uint8_t> want(p_.io_size);
			fill_pattern(Pattern::random, l.data_seed, want.data(), want.size());
			if (std::memcmp(want.data(), r.payload.data, p_.io_size) != 0)
				c_.mismatch++;
		}
		return int(li);
	}

	Channel &ch_;
	const LoadWorkerParams p_;
	LoadCounters &c_;
	std::vector<Lane> lanes_;
	std::vector<SSTResponse> buf_;
	std::unordered_map<uint64_t, unsigned> outstanding_; // seq -> lane
	uint64_t next_seq_ = 0;
};

} // namespace

int run_load_worker(Channel &ch, const LoadWorkerParams &p, LoadCounters &c, const std::atomic<bool> &stop)
{
	if (p.depth == 0 || p.io_size == 0 || p.io_size > SST_MAX_WRITE_SIZE || p.compute_units == 0)
		return -EINVAL;
	Worker w(ch, p, c);
	return w.run(stop);
}

std::string describe(const LoadCounters &c)
{
	char buf[512];
	snprintf(buf, sizeof buf,
		 "submitted=%llu answered=%llu ok=%llu no_device=%llu invalid=%llu timeout=%llu "
		 "error=%llu busy=%llu bad_status=%llu lost=%llu duplicate=%llu unknown=%llu "
		 "mismatch=%llu io_errors=%llu",
		 (unsigned long long)c.submitted.load(), (unsigned long long)c.answered.load(),
		 (unsigned long long)c.status[SST_STATUS_OK].load(),
		 (unsigned long long)c.status[SST_STATUS_NO_DEVICE].load(),
		 (unsigned long long)c.status[SST_STATUS_INVALID].load(),
		 (unsigned long long)c.status[SST_STATUS_TIMEOUT].load(),
		 (unsigned long long)c.status[SST_STATUS_ERROR].load(),
		 (unsigned long long)c.status[SST_STATUS_BUSY].load(),
		 (unsigned long long)c.bad_status.load(), (unsigned long long)c.lost.load(),
		 (unsigned long long)c.duplicate.load(), (unsigned long long)c.unknown.load(),
		 (unsigned long long)c.mismatch.load(), (unsigned long long)c.io_errors.load());
	return buf;
}

} // namespace vsst::guest
