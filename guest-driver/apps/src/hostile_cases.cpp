// SPDX-License-Identifier: Apache-2.0
#include "hostile_cases.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include <vsst/sst-ioctl.h>
#include <vsst/sst-protocol.h>

#include "requests.h"

namespace vsst::guest {
namespace {

constexpr size_t kReq = sizeof(SSTRequest);
constexpr size_t kResp = sizeof(SSTResponse);

std::string strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
std::string strf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return buf;
}

HostileResult ok(std::string d = "ok")
{
	return {true, std::move(d)};
}
HostileResult bad(std::string d)
{
	return {false, std::move(d)};
}

const char *ename(int e)
{
	return e ? (strerrorname_np(e) ?: "?") : "0";
}

// The raw calls, retried on EINTR; return the result or -errno. Through
// syscall(2): the libc wrappers are declared nonnull, and NULL is the point.
ssize_t xwrite(int fd, const void *buf, size_t len)
{
	ssize_t n;
	do
		n = ::syscall(SYS_write, fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}
ssize_t xread(int fd, void *buf, size_t len)
{
	ssize_t n;
	do
		n = ::syscall(SYS_read, fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}
int xioctl(int fd, unsigned long cmd, void *arg)
{
	int r;
	do
		r = ::ioctl(fd, cmd, arg);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

// A page-aligned read-write area followed by an inaccessible guard page,
// so that a transfer running past `len` faults at a known place.
class GuardedBuffer {
public:
	explicit GuardedBuffer(size_t len)
	{
		const size_t page = size_t(sysconf(_SC_PAGESIZE));
		rw_ = (len + page - 1) / page * page;
		total_ = rw_ + page;
		void *p = mmap(nullptr, total_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return;
		base_ = static_cast<uint8_t *>(p);
		mprotect(base_ + rw_, page, PROT_NONE);
	}
	~GuardedBuffer()
	{
		if (base_)
			munmap(base_, total_);
	}
	GuardedBuffer(const GuardedBuffer &) = delete;
	GuardedBuffer &operator=(const GuardedBuffer &) = delete;
	uint8_t *data() const { return base_; }
	uint8_t *guard() const { return base_ + rw_; } // first inaccessible byte
	size_t size() const { return rw_; }

private:
	uint8_t *base_ = nullptr;
	size_t rw_ = 0, total_ = 0;
};

// Reads exactly `want` responses (fewer if the driver runs dry), appending
// them to out. Returns 0 or -errno.
int read_responses(int fd, size_t want, std::vector<SSTResponse> &out)
{
	std::vector<SSTResponse> buf(16);
	while (want) {
		const size_t n = std::min(want, buf.size());
		const ssize_t r = xread(fd, buf.data(), n * kResp);
		if (r < 0)
			return int(r);
		if (r == 0 || r % kResp)
			return -EIO;
		const size_t got = size_t(r) / kResp;
		out.insert(out.end(), buf.begin(), buf.begin() + long(got));
		want -= got;
	}
	return 0;
}

// Sends reqs one write() each, reads their responses and checks that each
// request got exactly one answer, with its user_data, and the wanted status
// (want < 0: any status in the enum). Returns "" or what was wrong.
std::string exchange(int fd, const std::vector<SSTRequest> &reqs, int want,
		     std::vector<SSTResponse> *out = nullptr)
{
	for (size_t i = 0; i < reqs.size(); i++) {
		const ssize_t w = xwrite(fd, &reqs[i], kReq);
		if (w != ssize_t(kReq))
			return strf("write #%zu: %s", i, w < 0 ? ename(int(-w)) : "short");
	}
	std::vector<SSTResponse> resps;
	if (int rc = read_responses(fd, reqs.size(), resps); rc < 0)
		return strf("read: %s after %zu of %zu", ename(-rc), resps.size(), reqs.size());
	std::map<uint64_t, size_t> by_ud;
	for (size_t i = 0; i < reqs.size(); i++)
		by_ud[reqs[i].user_data] = i;
	std::vector<int> seen(reqs.size(), 0);
	for (const auto &r : resps) {
		const auto it = by_ud.find(r.user_data);
		if (it == by_ud.end())
			return strf("answer with unknown user_data %llu", (unsigned long long)r.user_data);
		if (seen[it->second]++)
			return strf("request #%zu answered twice", it->second);
		const uint32_t st = r.status;
		if ((want >= 0 && st != uint32_t(want)) || st > SST_STATUS_NO_DEVICE)
			return strf("request #%zu (type %u): status=%s want=%s", it->second,
				    reqs[it->second].type, std::string(status_name(st)).c_str(),
				    want < 0 ? "any" : std::string(status_name(uint32_t(want))).c_str());
		if (r.request_id == 0)
			return strf("request #%zu: request_id=0", it->second);
	}
	if (out)
		*out = std::move(resps);
	return "";
}

// Nothing of this file may be left in the driver after a case.
std::string expect_idle(int fd)
{
	SSTResponse r;
	const ssize_t n = xread(fd, &r, kResp);
	if (n != -ENODATA)
		return strf("idle read gave %s, want ENODATA", n < 0 ? ename(int(-n)) : "a response");
	return "";
}

int get_stats(int fd, sst_ioc_stats &st)
{
	return xioctl(fd, SST_IOC_GET_STATS, &st);
}

// ---- cases ----

HostileResult write_bad_lengths(HostileContext &c)
{
	std::vector<uint8_t> buf(3 * kReq, 0);
	for (size_t len :
	     {size_t(0), size_t(1), size_t(23), size_t(24), kReq - 1, kReq + 1, 2 * kReq - 1, 2 * kReq + 7}) {
		const ssize_t n = xwrite(c.fd, buf.data(), len);
		if (n != -EINVAL)
			return bad(strf("write of %zu bytes gave %s, want EINVAL", len,
					n < 0 ? ename(int(-n)) : "success"));
	}
	if (auto e = expect_idle(c.fd); !e.empty())
		return bad(e);
	return ok("lengths 0,1,23,24,4103,4105,8207,8215 -> EINVAL, nothing queued");
}

HostileResult read_bad_lengths(HostileContext &c)
{
	const SSTRequest req = make_request(SST_REQ_NOOP, 0x5151);
	if (xwrite(c.fd, &req, kReq) != ssize_t(kReq))
		return bad("write NOOP failed");
	std::vector<uint8_t> buf(2 * kResp);
	for (size_t len : {size_t(0), size_t(1), size_t(32), kResp - 1}) {
		const ssize_t n = xread(c.fd, buf.data(), len);
		if (n != -EINVAL)
			return bad(strf("read of %zu bytes gave %s, want EINVAL", len,
					n < 0 ? ename(int(-n)) : "data"));
	}
	// The response was not consumed by the refused reads.
	const ssize_t n = xread(c.fd, buf.data(), kResp + 100);
	SSTResponse r;
	memcpy(&r, buf.data(), kResp);
	if (n != ssize_t(kResp) || r.user_data != 0x5151 || r.status != SST_STATUS_OK)
		return bad(strf("the NOOP's answer after bad reads: n=%zd status=%u", n, r.status));
	if (auto e = expect_idle(c.fd); !e.empty())
		return bad(e);
	return ok("lengths 0,1,32,4111 -> EINVAL; the pending answer survived");
}

HostileResult bad_pointers(HostileContext &c)
{
	GuardedBuffer g(4096);
	if (!g.data())
		return bad("mmap failed");
	ssize_t n = xwrite(c.fd, nullptr, kReq);
	if (n != -EFAULT)
		return bad(strf("write(NULL) gave %s, want EFAULT", ename(int(-n))));
	n = xwrite(c.fd, g.guard(), kReq);
	if (n != -EFAULT)
		return bad(strf("write(guard page) gave %s, want EFAULT", ename(int(-n))));
	if (auto e = expect_idle(c.fd); !e.empty())
		return bad("after bad writes: " + e);
	// A bad read buffer must not lose the response.
	const SSTRequest req = make_request(SST_REQ_NOOP, 0x6262);
	if (xwrite(c.fd, &req, kReq) != ssize_t(kReq))
		return bad("write NOOP failed");
	n = xread(c.fd, nullptr, kResp);
	if (n != -EFAULT)
		return bad(strf("read(NULL) gave %s, want EFAULT", ename(int(-n))));
	n = xread(c.fd, g.guard(), kResp);
	if (n != -EFAULT)
		return bad(strf("read(guard page) gave %s, want EFAULT", ename(int(-n))));
	// Half inside the buffer, half in the guard: fails, keeps the response.
	n = xread(c.fd, g.guard() - kResp / 2, kResp);
	if (n != -EFAULT)
		return bad(strf("read across the guard gave %s, want EFAULT", ename(int(-n))));
	SSTResponse r;
	n = xread(c.fd, &r, kResp);
	if (n != ssize_t(kResp) || r.user_data != 0x6262)
		return bad("the NOOP's answer was lost by the faulting reads");
	if (auto e = expect_idle(c.fd); !e.empty())
		return bad(e);
	return ok("NULL/guard-page buffers -> EFAULT, answer kept");
}

HostileResult huge_counts(HostileContext &c)
{
	// Three whole requests, then the guard page: a write of half a million
	// requests (2 GB, just under the kernel's per-call limit) queues the
	// three and stops at the fault.
	GuardedBuffer g(3 * kReq);
	if (!g.data())
		return bad("mmap failed");
	uint8_t *first = g.guard() - 3 * kReq;
	for (int i = 0; i < 3; i++) {
		const SSTRequest req = make_request(SST_REQ_NOOP, 0x7000 + uint64_t(i));
		memcpy(first + size_t(i) * kReq, &req, kReq);
	}
	ssize_t n = xwrite(c.fd, first, 500000 * kReq);
	if (n != ssize_t(3 * kReq))
		return bad(strf("write of 500000 requests gave %zd, want %zu (3 requests)", n, 3 * kReq));
	std::vector<SSTResponse> resps;
	if (int rc = read_responses(c.fd, 3, resps); rc < 0)
		return bad(strf("reading the 3 answers: %s", ename(-rc)));
	// Past the kernel's per-call limit (the VFS shortens the count, which
	// then is no multiple of a request), and entirely unmapped: errors,
	// nothing queued.
	n = xwrite(c.fd, first, 1000000 * kReq);
	if (n >= 0)
		return bad(strf("a write of 1e6 requests (4 GB) gave %zd", n));
	n = xwrite(c.fd, g.guard(), (SIZE_MAX / 2 / kReq) * kReq);
	if (n >= 0)
		return bad(strf("a write of 2^62 bytes from a guard page gave %zd", n));
	if (auto e = expect_idle(c.fd); !e.empty())
		return bad("after the oversized writes: " + e);
	// SUBMIT with an absurd count and a NULL or short array.
	sst_ioc_submit s{};
	s.count = UINT32_MAX;
	int rc = xioctl(c.fd, SST_IOC_SUBMIT, &s);
	if (rc != -EFAULT)
		return bad(strf("SUBMIT count=2^32-1 reqs=NULL gave %s, want EFAULT", ename(-rc)));
	s = {};
	s.reqs = reinterpret_cast<uintptr_t>(first);
	s.count = UINT32_MAX;
	s.flags = SST_SUBMIT_NONBLOCK;
	rc = xioctl(c.fd, SST_IOC_SUBMIT, &s);
	if (rc != 0 || s.submitted != 3)
		return bad(strf("SUBMIT count=2^32-1 over 3 requests gave %s submitted=%u", ename(-rc),
				s.submitted));
	resps.clear();
	if (rc = read_responses(c.fd, 3, resps); rc < 0)
		return bad(strf("reading the SUBMIT answers: %s", ename(-rc)));
	// REAP with an absurd count into a NULL array while nothing is pending.
	sst_ioc_reap rp{};
	rp.count = UINT32_MAX;
	rp.min_complete = UINT32_MAX;
	rp.timeout_ms = 100;
	rc = xioctl(c.fd, SST_IOC_REAP, &rp);
	if (rc != 0 || rp.reaped != 0)
		return bad(strf("idle REAP count=2^32-1 gave %s reaped=%u", ename(-rc), rp.reaped));
	// More than the fd may own in one blocking write: a partial write, all answered.
	sst_ioc_info info{};
	if (xioctl(c.fd, SST_IOC_GET_INFO, &info) < 0)
		return bad("GET_INFO failed");
	const size_t many = size_t(info.max_per_fd) + 40;
	std::vector<SSTRequest> reqs(many);
	for (size_t i = 0; i < many; i++)
		reqs[i] = make_request(SST_REQ_NOOP, 0x8000 + i);
	n = xwrite(c.fd, reqs.data(), many * kReq);
	if (n <= 0 || n % kReq || size_t(n) / kReq > info.max_per_fd)
		return bad(strf("write of %zu requests (max_per_fd %u) gave %zd", many, info.max_per_fd, n));
	const size_t queued = size_t(n) / kReq;
	resps.clear();
	if (rc = read_responses(c.fd, queued, resps); rc < 0)
		return bad(strf("reading %zu answers: %s", queued, ename(-rc)));
	if (auto e = expect_idle(c.fd); !e.empty())
		return bad(e);
	return ok(strf(
		"5e5-request write -> 3 queued; 4 GB and 2^62 bytes -> error; SUBMIT 2^32-1 -> EFAULT/3; "
		"write of %zu -> %zu queued (max_per_fd %u)",
		many, queued, info.max_per_fd));
}

HostileResult bad_types(HostileContext &c)
{
	std::vector<SSTRequest> reqs;
	uint64_t ud = 0x9000;
	for (uint32_t t : {8u, 9u, 63u, 0x46535356u /* the sim frame magic */, 0x7fffffffu, 0xffffffffu})
		reqs.push_back(make_request(t, ud++));
	// Flags other than ASYNC, and ASYNC on a type that cannot have it.
	SSTRequest r = make_request(SST_REQ_NOOP, ud++);
	r.flags = 0x80000000u;
	reqs.push_back(r);
	r = make_compute(ud++, 10, SST_LATENCY_DEFAULT, 0xfffffffeu);
	reqs.push_back(r);
	r = make_read(ud++, 0, 8);
	r.flags = SST_REQ_FLAG_ASYNC;
	reqs.push_back(r);
	if (auto e = exchange(c.fd, reqs, SST_STATUS_INVALID); !e.empty())
		return bad(e);
	return ok(strf("%zu requests with bad type/flags -> INVALID each", reqs.size()));
}

HostileResult out_of_range(HostileContext &c)
{
	if (c.memory_size < 8192)
		return bad(strf("device memory size %llu unusable", (unsigned long long)c.memory_size));
	const uint64_t end = c.memory_size;
	uint8_t data[SST_MAX_WRITE_SIZE + 1] = {};
	std::vector<SSTRequest> reqs;
	uint64_t ud = 0xa000;
	reqs.push_back(make_read(ud++, end - 8, 16));
	reqs.push_back(make_read(ud++, end, 1));
	reqs.push_back(make_read(ud++, UINT64_MAX - 7, 16)); // addr + size overflows
	reqs.push_back(make_read(ud++, 0, 0));
	reqs.push_back(make_read(ud++, 0, SST_MAX_DATA_SIZE + 1));
	reqs.push_back(make_read(ud++, 0, UINT32_MAX));
	reqs.push_back(make_write(ud++, end - 1, data, 2));
	reqs.push_back(make_write(ud++, UINT64_MAX, data, 1));
	reqs.push_back(make_write(ud++, 0, data, 0));
	SSTRequest w = make_write(ud++, 0, data, SST_MAX_WRITE_SIZE);
	w.payload.memory.size = SST_MAX_WRITE_SIZE + 1;
	reqs.push_back(w);
	w.payload.memory.size = UINT32_MAX;
	w.user_data = ud++;
	reqs.push_back(w);
	reqs.push_back(make_compute(ud++, 10, 99));
	reqs.push_back(make_compute(ud++, 10, UINT32_MAX));
	reqs.push_back(make_configure(ud++, SST_CFG_MAX, 1));
	reqs.push_back(make_configure(ud++, UINT32_MAX, 1));
	if (auto e = exchange(c.fd, reqs, SST_STATUS_INVALID); !e.empty())
		return bad(e);
	// The last byte of memory stays readable (the checks are not off by one).
	const uint8_t one = 0x5a;
	std::vector<SSTResponse> resps;
	if (auto e = exchange(c.fd, {make_write(ud, end - 1, &one, 1), make_read(ud + 1, end - 1, 1)},
			      SST_STATUS_OK, &resps);
	    !e.empty())
		return bad("last byte: " + e);
	for (const auto &r : resps)
		if (r.user_data == ud + 1 && r.payload.data[0] != one)
			return bad("last byte read back wrong");
	return ok(strf("%zu out-of-range/oversize READ/WRITE/COMPUTE/CONFIGURE -> INVALID; last byte ok",
		       reqs.size()));
}

HostileResult garbage_ioctls(HostileContext &c)
{
	GuardedBuffer g(4096);
	if (!g.data())
		return bad("mmap failed");
	int rc;
	// Unknown numbers: other magic, unknown nr, known nr with the wrong size or direction.
	const unsigned long unknown[] = {
		_IO(SST_IOC_MAGIC, 0x07),
		_IOWR(SST_IOC_MAGIC, 0x7f, uint64_t),
		_IOR(SST_IOC_MAGIC, 0xff, struct sst_ioc_info),
		_IOC(_IOC_READ, SST_IOC_MAGIC, 0x00, 8),
		_IOC(_IOC_READ | _IOC_WRITE, SST_IOC_MAGIC, 0x01, 8),
		_IOC(_IOC_NONE, SST_IOC_MAGIC, 0x02, 0),
		_IOR('T', 0x01, int),
		0,
		~0ul,
		0xdeadbeefcafef00dul,
	};
	for (unsigned long cmd : unknown) {
		rc = xioctl(c.fd, cmd, g.data());
		if (rc != -ENOTTY && rc != -EINVAL)
			return bad(strf("ioctl 0x%lx gave %s, want ENOTTY/EINVAL", cmd, ename(-rc)));
	}
	// Known numbers with NULL and guard-page arguments.
	const unsigned long known[] = {SST_IOC_GET_INFO,    SST_IOC_SUBMIT,        SST_IOC_REAP,
				       SST_IOC_SET_TIMEOUT, SST_IOC_EVENTS_ENABLE, SST_IOC_GET_EVENTS,
				       SST_IOC_GET_STATS};
	for (unsigned long cmd : known) {
		for (void *arg : {static_cast<void *>(nullptr), static_cast<void *>(g.guard())}) {
			rc = xioctl(c.fd, cmd, arg);
			if (rc != -EFAULT)
				return bad(
					strf("ioctl 0x%lx(%p) gave %s, want EFAULT", cmd, arg, ename(-rc)));
		}
	}
	// Malformed structures.
	sst_ioc_submit s{};
	s.flags = 0xfffffffe;
	if ((rc = xioctl(c.fd, SST_IOC_SUBMIT, &s)) != -EINVAL)
		return bad(strf("SUBMIT with unknown flags gave %s, want EINVAL", ename(-rc)));
	s = {};
	s.reserved = 1;
	if ((rc = xioctl(c.fd, SST_IOC_SUBMIT, &s)) != -EINVAL)
		return bad(strf("SUBMIT with reserved!=0 gave %s, want EINVAL", ename(-rc)));
	sst_ioc_reap rp{};
	rp.reserved = 7;
	if ((rc = xioctl(c.fd, SST_IOC_REAP, &rp)) != -EINVAL)
		return bad(strf("REAP with reserved!=0 gave %s, want EINVAL", ename(-rc)));
	uint32_t v = 2;
	if ((rc = xioctl(c.fd, SST_IOC_EVENTS_ENABLE, &v)) != -EINVAL)
		return bad(strf("EVENTS_ENABLE(2) gave %s, want EINVAL", ename(-rc)));
	sst_ioc_events ev{};
	ev.count = 4;
	if ((rc = xioctl(c.fd, SST_IOC_GET_EVENTS, &ev)) != -EINVAL)
		return bad(strf("GET_EVENTS unsubscribed gave %s, want EINVAL", ename(-rc)));
	// Subscribed: an absurd count into NULL with no event pending returns nothing.
	v = 1;
	if ((rc = xioctl(c.fd, SST_IOC_EVENTS_ENABLE, &v)) != 0)
		return bad(strf("EVENTS_ENABLE(1) gave %s", ename(-rc)));
	ev = {};
	ev.count = UINT32_MAX;
	ev.timeout_ms = 50;
	rc = xioctl(c.fd, SST_IOC_GET_EVENTS, &ev);
	v = 0;
	xioctl(c.fd, SST_IOC_EVENTS_ENABLE, &v);
	if (rc != 0 || ev.got != 0)
		return bad(strf("GET_EVENTS count=2^32-1 events=NULL gave %s got=%u", ename(-rc), ev.got));
	// Absurd timeouts are clamped, not taken.
	v = UINT32_MAX;
	if ((rc = xioctl(c.fd, SST_IOC_SET_TIMEOUT, &v)) != 0)
		return bad(strf("SET_TIMEOUT(2^32-1) gave %s", ename(-rc)));
	sst_ioc_info info{};
	rc = xioctl(c.fd, SST_IOC_GET_INFO, &info);
	v = 0;
	xioctl(c.fd, SST_IOC_SET_TIMEOUT, &v);
	if (rc != 0 || info.timeout_ms == 0 || info.timeout_ms > 3600000u)
		return bad(strf("timeout after SET_TIMEOUT(2^32-1): %u ms", info.timeout_ms));
	// A pending answer reaped into NULL fails and stays.
	const SSTRequest req = make_request(SST_REQ_NOOP, 0xb0b0);
	if (xwrite(c.fd, &req, kReq) != ssize_t(kReq))
		return bad("write NOOP failed");
	rp = {};
	rp.count = 1;
	rp.min_complete = 1;
	rp.timeout_ms = 5000;
	if ((rc = xioctl(c.fd, SST_IOC_REAP, &rp)) != -EFAULT)
		return bad(strf("REAP into NULL with an answer pending gave %s, want EFAULT", ename(-rc)));
	// ids into the guard page: the requests are queued before their ids are
	// written back, so the call reports them (or EFAULT) and they are answered.
	std::vector<SSTRequest> four;
	for (int i = 0; i < 4; i++)
		four.push_back(make_request(SST_REQ_NOOP, 0xb100 + uint64_t(i)));
	s = {};
	s.reqs = reinterpret_cast<uintptr_t>(four.data());
	s.ids = reinterpret_cast<uintptr_t>(g.guard());
	s.count = 4;
	rc = xioctl(c.fd, SST_IOC_SUBMIT, &s);
	const size_t queued = 1 + (rc == 0 ? s.submitted : 0);
	if (rc != 0 && rc != -EFAULT)
		return bad(strf("SUBMIT with ids in a guard page gave %s", ename(-rc)));
	std::vector<SSTResponse> resps;
	if ((rc = read_responses(c.fd, queued, resps)) < 0)
		return bad(strf("reading %zu answers after the bad SUBMIT: %s", queued, ename(-rc)));
	if (auto e = expect_idle(c.fd); !e.empty())
		return bad(e);
	return ok("unknown numbers -> ENOTTY/EINVAL; NULL/guard args -> EFAULT; bad fields -> EINVAL; "
		  "answers kept");
}

HostileResult abandoned_requests(HostileContext &c)
{
	sst_ioc_stats before{};
	if (get_stats(c.fd, before) < 0)
		return bad("GET_STATS failed");
	// A second fd closed with requests in flight and answers unread.
	{
		const int fd2 = ::open(c.device.c_str(), O_RDWR | O_CLOEXEC);
		if (fd2 < 0)
			return bad(strf("open: %s", ename(errno)));
		std::vector<SSTRequest> reqs;
		for (int i = 0; i < 64; i++)
			reqs.push_back(make_compute(0xc000 + uint64_t(i), 500, SST_LATENCY_DEFAULT));
		const ssize_t n = xwrite(fd2, reqs.data(), reqs.size() * kReq);
		::close(fd2);
		if (n <= 0)
			return bad(strf("batch write on the second fd: %s", ename(int(-n))));
	}
	// A child killed with requests in flight.
	const pid_t pid = fork();
	if (pid < 0)
		return bad("fork failed");
	if (pid == 0) {
		const int fd3 = ::open(c.device.c_str(), O_RDWR);
		if (fd3 >= 0) {
			std::vector<SSTRequest> reqs;
			for (int i = 0; i < 32; i++)
				reqs.push_back(make_compute(0xc100 + uint64_t(i), 500, SST_LATENCY_DEFAULT));
			(void)!::write(fd3, reqs.data(), reqs.size() * kReq);
		}
		raise(SIGKILL);
		_exit(1);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	// The driver reclaims every abandoned request: in_flight drains.
	sst_ioc_stats st{};
	for (int i = 0; i < 300; i++) {
		if (get_stats(c.fd, st) < 0)
			return bad("GET_STATS failed");
		if (st.in_flight == 0)
			break;
		usleep(100000);
	}
	if (st.in_flight != 0)
		return bad(strf("in_flight=%u 30 s after the owners went away", st.in_flight));
	if (st.bad_responses != before.bad_responses || st.timeouts != before.timeouts)
		return bad(strf("bad_responses %llu->%llu timeouts %llu->%llu",
				(unsigned long long)before.bad_responses,
				(unsigned long long)st.bad_responses, (unsigned long long)before.timeouts,
				(unsigned long long)st.timeouts));
	return ok(strf("closed fd with 64 and killed child with 32 in flight: in_flight back to 0, "
		       "completed +%llu",
		       (unsigned long long)(st.completed - before.completed)));
}

uint64_t splitmix(uint64_t &s)
{
	uint64_t z = (s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

HostileResult random_requests(HostileContext &c)
{
	// Random bytes with a random type; CONFIGURE is left out (a valid one
	// would change the simulator for whoever runs next).
	uint64_t s = c.seed * 0x1234567ull + 99;
	std::vector<SSTRequest> batch;
	unsigned statuses[6] = {};
	for (unsigned i = 0; i < c.random_count; i++) {
		SSTRequest r;
		auto *b = reinterpret_cast<uint8_t *>(&r);
		for (size_t k = 0; k < kReq; k += 8) {
			const uint64_t x = splitmix(s);
			memcpy(b + k, &x, std::min<size_t>(8, kReq - k));
		}
		const uint64_t pick = splitmix(s);
		r.type = uint32_t(pick % 12);
		if (r.type == SST_REQ_CONFIGURE)
			r.type = 200;
		// Mostly sane flags so that some requests reach the simulator.
		r.flags = (pick >> 8) % 4 == 0 ? uint32_t(pick >> 32) : 0;
		if (r.type == SST_REQ_READ || r.type == SST_REQ_WRITE) {
			r.payload.memory.addr =
				(pick >> 16) % 2 ? (splitmix(s) % (c.memory_size + 8192)) : splitmix(s);
			r.payload.memory.size = uint32_t(splitmix(s) % (SST_MAX_DATA_SIZE + 64));
		}
		if (r.type == SST_REQ_COMPUTE) {
			r.payload.compute.compute_units = splitmix(s) % 2000;
			r.payload.compute.latency_model = uint32_t(splitmix(s) % 6);
		}
		r.user_data = 0xd000000 + i;
		batch.push_back(r);
		if (batch.size() == 8 || i + 1 == c.random_count) {
			std::vector<SSTResponse> resps;
			if (auto e = exchange(c.fd, batch, -1, &resps); !e.empty())
				return bad(strf("batch at %u: %s", i, e.c_str()));
			for (const auto &resp : resps) {
				statuses[resp.status]++;
				if (resp.status == SST_STATUS_TIMEOUT ||
				    resp.status == SST_STATUS_NO_DEVICE || resp.status == SST_STATUS_BUSY)
					return bad(strf("a random request got %s",
							std::string(status_name(resp.status)).c_str()));
			}
			batch.clear();
		}
	}
	return ok(strf("%u random requests answered once each: ok=%u invalid=%u error=%u", c.random_count,
		       statuses[SST_STATUS_OK], statuses[SST_STATUS_INVALID], statuses[SST_STATUS_ERROR]));
}

// Unbinds the device from virtio_sst while one thread's write() is stuck
// copying its request from a userfaultfd page nobody resolves and another's
// SUBMIT is stuck writing its id there. Removal waits for nothing the user
// controls, so the unbind must finish within the bound; then the write gets
// ENODEV and the submitted request exactly one answer. The device is bound
// again and c.fd reopened for the cases after this one.
HostileResult removal_stalled_copy(HostileContext &c)
{
	using Clock = std::chrono::steady_clock;
	constexpr int kBoundMs = 20000; // generous for a TCG guest
	const std::string name = c.device.substr(c.device.rfind('/') + 1);
	char link[PATH_MAX];
	const ssize_t ln = readlink(("/sys/class/misc/" + name + "/device").c_str(), link, sizeof link - 1);
	if (ln <= 0)
		return bad("no /sys/class/misc/" + name + "/device link");
	link[ln] = 0;
	const std::string vdev = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
	const std::string drv = "/sys/bus/virtio/drivers/virtio_sst/";

	const int uffd = int(::syscall(SYS_userfaultfd, O_CLOEXEC));
	if (uffd < 0)
		return bad(strf("userfaultfd: %s", ename(errno)));
	uffdio_api api{};
	api.api = UFFD_API;
	const size_t page = size_t(sysconf(_SC_PAGESIZE));
	auto *mem = static_cast<uint8_t *>(
		mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	uffdio_register reg{};
	reg.range.start = reinterpret_cast<uintptr_t>(mem);
	reg.range.len = 2 * page;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (mem == MAP_FAILED || ::ioctl(uffd, UFFDIO_API, &api) || ::ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		const int e = errno;
		::close(uffd);
		return bad(strf("userfaultfd setup: %s", ename(e)));
	}
	ssize_t wret = 0;
	int sret = 0;
	sst_ioc_submit s{};
	const SSTRequest req = make_request(SST_REQ_NOOP, 0xe000);
	s.reqs = reinterpret_cast<uintptr_t>(&req);
	s.ids = reinterpret_cast<uintptr_t>(mem + page);
	s.count = 1;
	std::thread tw([&] { wret = xwrite(c.fd, mem, kReq); });
	std::thread ts([&] { sret = xioctl(c.fd, SST_IOC_SUBMIT, &s); });
	// Both threads are inside the driver once their faults are reported.
	int faults = 0;
	while (faults < 2) {
		pollfd p{uffd, POLLIN, 0};
		uffd_msg msg;
		if (poll(&p, 1, 10000) != 1 || ::read(uffd, &msg, sizeof msg) != ssize_t(sizeof msg))
			break;
		faults += msg.event == UFFD_EVENT_PAGEFAULT;
	}
	const auto t0 = Clock::now();
	const pid_t child = faults == 2 ? fork() : -1;
	if (child == 0) {
		// Its copy of the userfaultfd would keep the faults unresolved.
		::close(uffd);
		const int u = ::open((drv + "unbind").c_str(), O_WRONLY);
		_exit(u < 0 || ::write(u, vdev.data(), vdev.size()) != ssize_t(vdev.size()));
	}
	auto reap = [&](int ms, int &status) {
		for (const auto end = Clock::now() + std::chrono::milliseconds(ms); Clock::now() < end;) {
			if (child > 0 && waitpid(child, &status, WNOHANG) == child)
				return true;
			usleep(10000);
		}
		return false;
	};
	int status = 0;
	const bool in_time = child > 0 && reap(kBoundMs, status);
	const long unbind_ms =
		long(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
	// Resolve the faults with zero pages (a NOOP request, a zero id).
	uffdio_zeropage zero{};
	zero.range = reg.range;
	::ioctl(uffd, UFFDIO_ZEROPAGE, &zero);
	::close(uffd);
	const bool unbound = in_time || (child > 0 && reap(kBoundMs, status));
	tw.join();
	ts.join();
	munmap(mem, 2 * page);
	std::string why;
	if (faults != 2)
		why = strf("%d of 2 user copies reached the stalled page", faults);
	else if (!in_time)
		why = strf("unbind of %s waited > %d ms on submitters stalled in user copies%s", vdev.c_str(),
			   kBoundMs, unbound ? " (finished once they were released)" : "");
	else if (!WIFEXITED(status) || WEXITSTATUS(status))
		why = "unbind of " + vdev + " failed";
	else if (wret != -ENODEV)
		why = strf("write after removal gave %s, want ENODEV",
			   wret < 0 ? ename(int(-wret)) : "success");
	else if (sret != 0 || s.submitted != 1)
		why = strf("SUBMIT gave %s submitted=%u, want 1", ename(-sret), s.submitted);
	std::vector<SSTResponse> resps;
	if (why.empty()) {
		if (int rc = read_responses(c.fd, 1, resps); rc < 0)
			why = strf("the SUBMIT's answer: %s", ename(-rc));
		else if (resps[0].user_data != 0xe000)
			why = "answer with another user_data";
		else if (const ssize_t n = xread(c.fd, &resps[0], kResp); n != -ENODEV)
			why = strf("read after the answer gave %s, want ENODEV",
				   n < 0 ? ename(int(-n)) : "data");
	}
	// Bind again (also after a failure) and reopen for the next cases.
	if (::access(c.device.c_str(), F_OK) != 0) {
		const int b = ::open((drv + "bind").c_str(), O_WRONLY);
		if (b >= 0) {
			(void)!::write(b, vdev.data(), vdev.size());
			::close(b);
		}
	}
	int fd = -1;
	for (int i = 0; i < 100 && fd < 0; i++) {
		fd = ::open(c.device.c_str(), O_RDWR | O_CLOEXEC);
		if (fd < 0)
			usleep(50000);
	}
	if (fd < 0)
		return bad(why.empty() ? c.device + " did not come back after rebinding" : why);
	::close(c.fd);
	c.fd = fd;
	if (!why.empty())
		return bad(why);
	return ok(strf("unbind of %s in %ld ms with two submitters stuck in user copies; write ENODEV, "
		       "SUBMIT 1 with one %s answer, then ENODEV; bound again",
		       vdev.c_str(), unbind_ms, std::string(status_name(resps[0].status)).c_str()));
}

HostileResult health(HostileContext &c)
{
	uint8_t pattern[512];
	fill_pattern(Pattern::random, c.seed + 7, pattern, sizeof pattern);
	std::vector<SSTResponse> resps;
	if (auto e = exchange(c.fd,
			      {make_request(SST_REQ_NOOP, 1), make_compute(2, 100, SST_LATENCY_DEFAULT),
			       make_write(3, 8192, pattern, sizeof pattern)},
			      SST_STATUS_OK);
	    !e.empty())
		return bad(e);
	if (auto e = exchange(c.fd, {make_read(4, 8192, sizeof pattern)}, SST_STATUS_OK, &resps); !e.empty())
		return bad(e);
	if (memcmp(resps[0].payload.data, pattern, sizeof pattern) != 0)
		return bad("READ after WRITE returned other data");
	sst_ioc_stats st{};
	if (get_stats(c.fd, st) < 0)
		return bad("GET_STATS failed");
	if (st.bad_responses || st.in_flight)
		return bad(strf("stats: bad_responses=%llu in_flight=%u",
				(unsigned long long)st.bad_responses, st.in_flight));
	return ok(strf("NOOP, COMPUTE, WRITE/READ ok; stats submitted=%llu completed=%llu timeouts=%llu "
		       "bad_responses=0",
		       (unsigned long long)st.submitted, (unsigned long long)st.completed,
		       (unsigned long long)st.timeouts));
}

} // namespace

const std::vector<HostileCase> &hostile_cases()
{
	static const std::vector<HostileCase> cases = {
		{"write_bad_lengths", "write() of lengths that are not whole requests", write_bad_lengths},
		{"read_bad_lengths", "read() shorter than a response", read_bad_lengths},
		{"bad_pointers", "NULL and unmapped buffers for read()/write()", bad_pointers},
		{"huge_counts", "million-request writes, 2^32-1 SUBMIT/REAP counts, quota overrun",
		 huge_counts},
		{"bad_types", "unknown request types and flags", bad_types},
		{"out_of_range", "READ/WRITE past memory, overflowing, oversize; bad COMPUTE/CONFIGURE",
		 out_of_range},
		{"garbage_ioctls", "unknown ioctl numbers, NULL arguments, malformed structures",
		 garbage_ioctls},
		{"abandoned_requests", "fd closed and process killed with requests in flight",
		 abandoned_requests},
		{"random_requests", "requests made of random bytes", random_requests},
		{"removal_stalled_copy", "unbind while submitters are stuck in userfaultfd user copies",
		 removal_stalled_copy},
		{"health", "the device still works and the driver counted nothing bad", health},
	};
	return cases;
}

} // namespace vsst::guest
