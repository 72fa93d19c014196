// SPDX-License-Identifier: Apache-2.0
#include "victims.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <vector>

#include "requests.h"

namespace vsst::guest {

double now_s()
{
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

namespace {

// What the victim tells its killer, in memory both processes see.
struct VictimShared {
	std::atomic<uint64_t> in_flight{0};
	std::atomic<uint64_t> answered{0};
	std::atomic<int> failed{0}; // errno of a failed open/write/read
};

class SharedPage {
public:
	SharedPage()
	{
		void *m = mmap(nullptr, sizeof(VictimShared), PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (m != MAP_FAILED)
			p_ = new (m) VictimShared;
	}
	~SharedPage()
	{
		if (p_) {
			p_->~VictimShared();
			munmap(p_, sizeof(VictimShared));
		}
	}
	SharedPage(const SharedPage &) = delete;
	SharedPage &operator=(const SharedPage &) = delete;
	VictimShared *get() const { return p_; }

private:
	VictimShared *p_ = nullptr;
};

[[noreturn]] void run_victim(const std::string &device, unsigned depth, bool at_once, VictimShared &sh)
{
	int err = 0;
	auto ch = open_device(device, &err);
	if (!ch) {
		sh.failed = -err;
		_exit(1);
	}
	// Distinct from the load's user_data, so a stray answer would show up
	// there as unknown. READs of the largest size at device address 0 (the
	// load's lanes use their own pages): the answers that keep the device
	// busiest, so that more are still in the device when the victim dies.
	uint64_t seq = 0xdead000000000000ull;
	auto send = [&](unsigned n) {
		std::vector<SSTRequest> reqs;
		for (unsigned i = 0; i < n; i++)
			reqs.push_back(make_read(seq++, 0, SST_MAX_DATA_SIZE));
		// Counted before the write: at a kill inside it the count is high,
		// never low, and the killer only needs "some are outstanding".
		sh.in_flight += n;
		const ssize_t w = ch->write_raw(reqs.data(), reqs.size() * sizeof(SSTRequest));
		if (w < 0) {
			sh.failed = int(-w);
			_exit(1);
		}
		sh.in_flight -= n - unsigned(size_t(w) / sizeof(SSTRequest));
	};
	send(depth);
	if (at_once)
		raise(SIGKILL);
	for (;;) {
		SSTResponse r;
		const ssize_t n = ch->read_raw(&r, sizeof r);
		if (n < 0) {
			sh.failed = int(-n);
			_exit(1);
		}
		sh.in_flight--;
		sh.answered++;
		send(1);
	}
}

} // namespace

VictimResult kill_one_victim(const std::string &device, unsigned depth, bool at_once, unsigned delay_ms,
			     double bound_s)
{
	VictimResult res;
	SharedPage page;
	VictimShared *sh = page.get();
	if (!sh) {
		res.error = std::string("mmap: ") + strerror(errno);
		return res;
	}
	const pid_t pid = fork();
	if (pid < 0) {
		res.error = std::string("fork: ") + strerror(errno);
		return res;
	}
	if (pid == 0)
		run_victim(device, depth, at_once, *sh);
	const double deadline = now_s() + bound_s;
	int st = 0;
	bool reaped = false;
	if (at_once) {
		while (!(reaped = waitpid(pid, &st, WNOHANG) == pid) && now_s() < deadline)
			usleep(1000);
	} else {
		while (!(sh->answered > 0 && sh->in_flight > 0) && !sh->failed && now_s() < deadline)
			usleep(1000);
		if (sh->answered > 0 && !sh->failed)
			usleep(delay_ms * 1000u);
	}
	if (!reaped) {
		kill(pid, SIGKILL);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	res.in_flight = sh->in_flight;
	res.answered = sh->answered;
	if (sh->failed)
		res.error = std::string("the victim failed: ") + strerror(sh->failed);
	else if (!at_once && res.answered == 0)
		res.error = "the victim got no answer in time";
	else
		res.killed = res.in_flight > 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
	if (!res.killed && res.error.empty())
		res.error = "nothing was in flight at the kill";
	return res;
}

std::string wait_driver_quiet(Channel &ch, double bound_s, sst_ioc_stats *out)
{
	const double deadline = now_s() + bound_s;
	sst_ioc_stats st{};
	for (;;) {
		const int rc = ch.stats(&st);
		if (rc < 0)
			return std::string("GET_STATS: ") + strerror(-rc);
		if (st.in_flight == 0 || now_s() >= deadline)
			break;
		usleep(100000);
	}
	if (out)
		*out = st;
	char b[160];
	if (st.in_flight != 0) {
		snprintf(b, sizeof b, "driver-in-flight=%u-after-%.0fs", st.in_flight, bound_s);
		return b;
	}
	if (st.submitted != st.completed) {
		snprintf(b, sizeof b, "driver-submitted=%llu-completed=%llu",
			 (unsigned long long)st.submitted, (unsigned long long)st.completed);
		return b;
	}
	return "";
}

} // namespace vsst::guest
