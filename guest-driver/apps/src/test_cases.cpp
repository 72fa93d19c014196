// SPDX-License-Identifier: Apache-2.0
#include "test_cases.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <vector>

#include "requests.h"

namespace vsst::guest {
namespace {

using Outcome = CaseResult::Outcome;

std::string strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
std::string strf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return buf;
}

CaseResult pass(std::string detail = "ok")
{
	return {Outcome::pass, std::move(detail)};
}
CaseResult fail(std::string detail)
{
	return {Outcome::fail, std::move(detail)};
}
CaseResult skip(std::string detail)
{
	return {Outcome::skip, std::move(detail)};
}

std::string err_str(int neg_errno)
{
	return strf("errno=%s", strerrorname_np(-neg_errno) ?: "?");
}

// Checks the parts of a response every request type shares.
bool check_header(const SSTResponse &resp, const SSTRequest &req, uint32_t want_status, std::string &why)
{
	if (resp.status != want_status) {
		why = strf("status=%s want=%s", std::string(status_name(resp.status)).c_str(),
			   std::string(status_name(want_status)).c_str());
		return false;
	}
	if (resp.user_data != req.user_data) {
		why = strf("user_data=%llu want=%llu", (unsigned long long)resp.user_data,
			   (unsigned long long)req.user_data);
		return false;
	}
	if (resp.request_id == 0) {
		why = "request_id=0";
		return false;
	}
	return true;
}

// Round trip + header check. Empty string on success, the reason otherwise.
std::string exchange(Channel &ch, const SSTRequest &req, SSTResponse &resp, uint32_t want)
{
	const int rc = roundtrip(ch, req, resp);
	if (rc)
		return err_str(rc);
	std::string why;
	if (!check_header(resp, req, want, why))
		return std::string(type_name(req.type)) + ": " + why;
	return {};
}

// Largest address range the memory cases use; keeps away from the ends
// the boundary cases own.
uint64_t mem_span(const CaseContext &ctx)
{
	return ctx.memory_size;
}

CaseResult case_driver_info(CaseContext &ctx)
{
	sst_ioc_info info{};
	const int rc = ctx.ch.info(&info);
	if (rc)
		return fail("GET_INFO ioctl " + err_str(rc));
	if (info.abi_version != SST_IOCTL_ABI_VERSION)
		return fail(strf("abi_version=%u want=%u", info.abi_version, SST_IOCTL_ABI_VERSION));
	if (info.queue_size == 0 || info.max_per_fd == 0 || info.timeout_ms == 0)
		return fail(strf("queue_size=%u max_per_fd=%u timeout_ms=%u", info.queue_size,
				 info.max_per_fd, info.timeout_ms));
	return pass(strf("index=%u protocol=%#x device_id=%u features=%#x queue=%u", info.index,
			 info.sst_version, info.device_id, info.device_features, info.queue_size));
}

CaseResult case_noop(CaseContext &ctx)
{
	SSTResponse resp;
	const SSTRequest req = make_request(SST_REQ_NOOP, 0x1001);
	if (auto why = exchange(ctx.ch, req, resp, SST_STATUS_OK); !why.empty())
		return fail(why);
	return pass(strf("request_id=%llu", (unsigned long long)resp.request_id));
}

CaseResult case_echo(CaseContext &ctx)
{
	uint8_t data[SST_MAX_DATA_SIZE];
	unsigned n = 0;
	for (Pattern p : kAllPatterns) {
		fill_pattern(p, ctx.seed + n, data, sizeof(data));
		const SSTRequest req = make_echo(0x2000 + n, data, sizeof(data));
		SSTResponse resp;
		if (auto why = exchange(ctx.ch, req, resp, SST_STATUS_OK); !why.empty())
			return fail(std::string(pattern_name(p)) + " " + why);
		if (auto at = first_difference(resp.payload.data, data, sizeof(data)))
			return fail(strf("%s: byte %zu is %#x want %#x", std::string(pattern_name(p)).c_str(),
					 *at, resp.payload.data[*at], data[*at]));
		if (resp.result != sizeof(data))
			return fail(
				strf("result=%llu want=%zu", (unsigned long long)resp.result, sizeof(data)));
		n++;
	}
	return pass(strf("patterns=%u bytes=%zu", n, sizeof(data)));
}

CaseResult case_get_info(CaseContext &ctx)
{
	SSTResponse resp;
	const SSTRequest req = make_request(SST_REQ_GET_INFO, 0x3001);
	if (auto why = exchange(ctx.ch, req, resp, SST_STATUS_OK); !why.empty())
		return fail(why);
	const auto &info = resp.payload.info;
	if (info.version != SST_PROTOCOL_VERSION)
		return fail(strf("version=%#x want=%#x", info.version, SST_PROTOCOL_VERSION));
	if (info.memory_size == 0 || info.max_compute_units == 0)
		return fail(strf("memory_size=%llu max_compute_units=%llu (simulator connected?)",
				 (unsigned long long)info.memory_size,
				 (unsigned long long)info.max_compute_units));
	return pass(strf("memory_size=%llu compute_units=%llu capabilities=%#x",
			 (unsigned long long)info.memory_size, (unsigned long long)info.max_compute_units,
			 info.capabilities));
}

CaseResult case_compute(CaseContext &ctx)
{
	std::string detail;
	const uint32_t models[] = {SST_LATENCY_DEFAULT, SST_LATENCY_FIXED, SST_LATENCY_PIPELINED,
				   SST_LATENCY_BANDWIDTH};
	for (uint32_t m : models) {
		const SSTRequest req = make_compute(0x4000 + m, 1000, m);
		SSTResponse resp;
		if (auto why = exchange(ctx.ch, req, resp, SST_STATUS_OK); !why.empty())
			return fail(strf("model=%u ", m) + why);
		if (resp.payload.compute.cycles == 0)
			return fail(strf("model=%u cycles=0", m));
		detail += strf("%scycles[%u]=%llu", detail.empty() ? "" : " ", m,
			       (unsigned long long)resp.payload.compute.cycles);
	}
	return pass(detail);
}

CaseResult case_configure(CaseContext &ctx)
{
	// 1 GHz is the documented default clock: setting it changes nothing.
	SSTResponse resp;
	SSTRequest req = make_configure(0x5001, SST_CFG_CLOCK_HZ, 1000000000ull);
	if (auto why = exchange(ctx.ch, req, resp, SST_STATUS_OK); !why.empty())
		return fail("clock_hz " + why);
	req = make_configure(0x5002, SST_CFG_MAX, 1);
	if (auto why = exchange(ctx.ch, req, resp, SST_STATUS_INVALID); !why.empty())
		return fail("bad param " + why);
	return pass("clock_hz=1e9 ok, bad param INVALID");
}

CaseResult case_reset(CaseContext &ctx)
{
	SSTResponse resp;
	const SSTRequest req = make_request(SST_REQ_RESET, 0x6001);
	if (auto why = exchange(ctx.ch, req, resp, SST_STATUS_OK); !why.empty())
		return fail(why);
	// The device keeps working after a reset.
	const SSTRequest noop = make_request(SST_REQ_NOOP, 0x6002);
	if (auto why = exchange(ctx.ch, noop, resp, SST_STATUS_OK); !why.empty())
		return fail("after reset " + why);
	return pass();
}

// WRITE data at addr then READ it back and compare.
std::string write_read(Channel &ch, uint64_t addr, const uint8_t *data, uint32_t len, uint64_t tag)
{
	SSTResponse resp;
	const SSTRequest w = make_write(tag, addr, data, len);
	if (auto why = exchange(ch, w, resp, SST_STATUS_OK); !why.empty())
		return strf("write addr=%#llx len=%u ", (unsigned long long)addr, len) + why;
	const SSTRequest r = make_read(tag + 1, addr, len);
	if (auto why = exchange(ch, r, resp, SST_STATUS_OK); !why.empty())
		return strf("read addr=%#llx len=%u ", (unsigned long long)addr, len) + why;
	if (auto at = first_difference(resp.payload.data, data, len))
		return strf("addr=%#llx len=%u: byte %zu is %#x want %#x", (unsigned long long)addr, len, *at,
			    resp.payload.data[*at], data[*at]);
	return {};
}

CaseResult case_write_read(CaseContext &ctx)
{
	const uint64_t mem = mem_span(ctx);
	if (mem < 2 * SST_MAX_DATA_SIZE + 0x20000)
		return fail(strf("memory_size=%llu too small", (unsigned long long)mem));
	struct Span {
		uint64_t addr;
		uint32_t len;
	};
	const Span spans[] = {
		{0, SST_MAX_WRITE_SIZE},                        // start of memory, largest write
		{0x1001, 1000},                                 // unaligned
		{0x10003, 1},                                   // one byte
		{0x12345, 64},                                  // small, odd address
		{mem / 2 + 7, 3001},                            // middle
		{mem - SST_MAX_WRITE_SIZE, SST_MAX_WRITE_SIZE}, // ends at the last byte
	};
	uint8_t data[SST_MAX_WRITE_SIZE];
	unsigned n = 0;
	for (Pattern p : kAllPatterns) {
		for (const Span &s : spans) {
			fill_pattern(p, ctx.seed * 131 + n, data, s.len);
			if (auto why = write_read(ctx.ch, s.addr, data, s.len, 0x7000 + 2 * n); !why.empty())
				return fail(std::string(pattern_name(p)) + " " + why);
			n++;
		}
	}
	// A READ may return more than a WRITE carries: read 4080 bytes that two
	// writes put down.
	uint8_t big[SST_MAX_DATA_SIZE];
	fill_pattern(Pattern::random, ctx.seed + 99, big, sizeof(big));
	const uint64_t base = 0x40000;
	SSTResponse resp;
	const SSTRequest w1 = make_write(0x7f00, base, big, SST_MAX_WRITE_SIZE);
	const SSTRequest w2 = make_write(0x7f01, base + SST_MAX_WRITE_SIZE, big + SST_MAX_WRITE_SIZE,
					 SST_MAX_DATA_SIZE - SST_MAX_WRITE_SIZE);
	const SSTRequest rd = make_read(0x7f02, base, SST_MAX_DATA_SIZE);
	for (const SSTRequest *req : {&w1, &w2, &rd})
		if (auto why = exchange(ctx.ch, *req, resp, SST_STATUS_OK); !why.empty())
			return fail("max read " + why);
	if (auto at = first_difference(resp.payload.data, big, sizeof(big)))
		return fail(
			strf("max read: byte %zu is %#x want %#x", *at, resp.payload.data[*at], big[*at]));
	return pass(strf("round_trips=%u max_read=%d", n + 1, SST_MAX_DATA_SIZE));
}

CaseResult case_invalid_type(CaseContext &ctx)
{
	for (uint32_t type : {uint32_t(SST_REQ_MAX), 99u, 0xffffffffu}) {
		SSTResponse resp;
		const SSTRequest req = make_request(type, 0x8000 + (type & 0xff));
		if (auto why = exchange(ctx.ch, req, resp, SST_STATUS_INVALID); !why.empty())
			return fail(strf("type=%u ", type) + why);
	}
	return pass("types 8,99,0xffffffff INVALID");
}

CaseResult case_invalid_flags(CaseContext &ctx)
{
	SSTResponse resp;
	SSTRequest req = make_request(SST_REQ_NOOP, 0x8101);
	req.flags = 0x80000000u;
	if (auto why = exchange(ctx.ch, req, resp, SST_STATUS_INVALID); !why.empty())
		return fail("unknown flag " + why);
	req = make_request(SST_REQ_ECHO, 0x8102);
	req.flags = SST_REQ_FLAG_ASYNC; // only COMPUTE may be asynchronous
	if (auto why = exchange(ctx.ch, req, resp, SST_STATUS_INVALID); !why.empty())
		return fail("async echo " + why);
	return pass();
}

CaseResult case_out_of_range(CaseContext &ctx)
{
	const uint64_t mem = mem_span(ctx);
	if (mem < 0x10000)
		return fail("memory_size unknown");
	// Known content just below the end, which failed WRITEs must not touch.
	uint8_t guard[32];
	fill_pattern(Pattern::counter, 7, guard, sizeof(guard));
	if (auto why = write_read(ctx.ch, mem - 32, guard, 32, 0x8200); !why.empty())
		return fail("guard " + why);

	uint8_t junk[64];
	fill_pattern(Pattern::ones, 0, junk, sizeof(junk));
	struct Bad {
		uint64_t addr;
		uint32_t len;
	};
	const Bad bad[] = {
		{mem, 16},           // first byte past the end
		{mem - 16, 32},      // straddles the end
		{mem + 0x100000, 8}, // far beyond
		{~0ull - 7, 16},     // wraps around
	};
	for (const Bad &b : bad) {
		SSTResponse resp;
		const SSTRequest r = make_read(0x8210, b.addr, b.len);
		if (auto why = exchange(ctx.ch, r, resp, SST_STATUS_INVALID); !why.empty())
			return fail(strf("read addr=%#llx len=%u ", (unsigned long long)b.addr, b.len) + why);
		const SSTRequest w = make_write(0x8211, b.addr, junk, b.len);
		if (auto why = exchange(ctx.ch, w, resp, SST_STATUS_INVALID); !why.empty())
			return fail(strf("write addr=%#llx len=%u ", (unsigned long long)b.addr, b.len) +
				    why);
	}
	SSTResponse resp;
	const SSTRequest r = make_read(0x8220, mem - 32, 32);
	if (auto why = exchange(ctx.ch, r, resp, SST_STATUS_OK); !why.empty())
		return fail("guard read " + why);
	if (auto at = first_difference(resp.payload.data, guard, sizeof(guard)))
		return fail(strf("failed WRITE changed memory at end-32+%zu", *at));
	return pass("reads and writes past the end INVALID, memory unchanged");
}

CaseResult case_bad_sizes(CaseContext &ctx)
{
	uint8_t data[SST_MAX_DATA_SIZE] = {};
	struct Bad {
		uint32_t type, len;
	};
	const Bad bad[] = {
		{SST_REQ_READ, 0},
		{SST_REQ_READ, SST_MAX_DATA_SIZE + 1},
		{SST_REQ_WRITE, 0},
		{SST_REQ_WRITE, SST_MAX_WRITE_SIZE + 1},
	};
	for (const Bad &b : bad) {
		SSTResponse resp;
		SSTRequest req =
			b.type == SST_REQ_READ ? make_read(0x8300, 0, b.len) : make_write(0x8300, 0, data, 0);
		req.payload.memory.size = b.len;
		if (auto why = exchange(ctx.ch, req, resp, SST_STATUS_INVALID); !why.empty())
			return fail(strf("%s size=%u ", std::string(type_name(b.type)).c_str(), b.len) + why);
	}
	return pass("zero and oversize READ/WRITE INVALID");
}

CaseResult case_async_event(CaseContext &ctx)
{
	if (!(ctx.capabilities & (1u << SST_FEATURE_EVENTS)))
		return skip("device has no SST_FEATURE_EVENTS");
	int rc = ctx.ch.events_enable(true);
	if (rc)
		return fail("EVENTS_ENABLE " + err_str(rc));
	SSTResponse resp;
	const SSTRequest req = make_compute(0x9001, 5000, SST_LATENCY_DEFAULT, SST_REQ_FLAG_ASYNC);
	auto why = exchange(ctx.ch, req, resp, SST_STATUS_OK);
	CaseResult result = pass();
	if (!why.empty()) {
		result = fail("async compute " + why);
	} else {
		// Other events may be queued; look for ours within the bound.
		bool found = false;
		for (int tries = 0; tries < 50 && !found; tries++) {
			SSTEvent ev[8];
			uint32_t got = 0, dropped = 0;
			rc = ctx.ch.get_events(ev, 8, 200, &got, &dropped);
			if (rc) {
				result = fail("GET_EVENTS " + err_str(rc));
				break;
			}
			for (uint32_t i = 0; i < got; i++)
				if (ev[i].type == SST_EVENT_COMPLETION && ev[i].data == resp.request_id)
					found = true;
		}
		if (result.outcome == Outcome::pass)
			result = found ? pass(strf("completion event for request_id=%llu",
						   (unsigned long long)resp.request_id))
				       : fail("no completion event within 10 s");
	}
	ctx.ch.events_enable(false);
	return result;
}

CaseResult case_short_io(CaseContext &ctx)
{
	SSTRequest req = make_request(SST_REQ_NOOP, 0xa001);
	ssize_t n = ctx.ch.write_raw(&req, 100);
	if (n != -EINVAL)
		return fail(strf("write of 100 bytes returned %zd want -EINVAL", n));
	std::vector<uint8_t> big(sizeof(SSTRequest) + 1);
	n = ctx.ch.write_raw(big.data(), big.size());
	if (n != -EINVAL)
		return fail(strf("write of %zu bytes returned %zd want -EINVAL", big.size(), n));
	uint8_t small[100];
	n = ctx.ch.read_raw(small, sizeof(small));
	if (n != -EINVAL)
		return fail(strf("read into 100 bytes returned %zd want -EINVAL", n));
	// Nothing outstanding: read must not block.
	SSTResponse resp;
	n = ctx.ch.read_raw(&resp, sizeof(resp));
	if (n != -ENODATA)
		return fail(strf("idle read returned %zd want -ENODATA", n));
	// The device still works.
	if (auto why = exchange(ctx.ch, req, resp, SST_STATUS_OK); !why.empty())
		return fail("after bad I/O " + why);
	return pass("short write/read EINVAL, idle read ENODATA");
}

// Checks a set of responses against the echo requests that produced them.
std::string check_echo_set(const std::vector<SSTRequest> &reqs, const SSTResponse *resps, size_t n)
{
	std::map<uint64_t, const SSTRequest *> by_tag;
	for (const auto &r : reqs)
		by_tag[r.user_data] = &r;
	std::set<uint64_t> ids;
	for (size_t i = 0; i < n; i++) {
		const SSTResponse &resp = resps[i];
		auto it = by_tag.find(resp.user_data);
		if (it == by_tag.end())
			return strf("unexpected or duplicate user_data=%llu",
				    (unsigned long long)resp.user_data);
		std::string why;
		if (!check_header(resp, *it->second, SST_STATUS_OK, why))
			return why;
		if (!ids.insert(resp.request_id).second)
			return strf("duplicate request_id=%llu", (unsigned long long)resp.request_id);
		if (auto at =
			    first_difference(resp.payload.data, it->second->payload.data, SST_MAX_DATA_SIZE))
			return strf("user_data=%llu byte %zu differs", (unsigned long long)resp.user_data,
				    *at);
		by_tag.erase(it);
	}
	if (!by_tag.empty())
		return strf("%zu responses missing", by_tag.size());
	return {};
}

std::vector<SSTRequest> echo_batch(uint64_t seed, uint64_t first_tag, size_t n)
{
	std::vector<SSTRequest> reqs;
	uint8_t data[SST_MAX_DATA_SIZE];
	for (size_t i = 0; i < n; i++) {
		fill_pattern(Pattern::random, seed + i, data, sizeof(data));
		reqs.push_back(make_echo(first_tag + i, data, sizeof(data)));
	}
	return reqs;
}

CaseResult case_pipelined(CaseContext &ctx)
{
	constexpr size_t kN = 32;
	const auto reqs = echo_batch(ctx.seed, 0xb000, kN);
	for (const auto &r : reqs) {
		const ssize_t n = ctx.ch.write_raw(&r, sizeof(r));
		if (n != sizeof(r))
			return fail(strf("write returned %zd", n));
	}
	std::vector<SSTResponse> resps(kN);
	for (size_t i = 0; i < kN; i++) {
		const ssize_t n = ctx.ch.read_raw(&resps[i], sizeof(SSTResponse));
		if (n != sizeof(SSTResponse))
			return fail(strf("read %zu returned %zd", i, n));
	}
	if (auto why = check_echo_set(reqs, resps.data(), kN); !why.empty())
		return fail(why);
	return pass(strf("outstanding=%zu", kN));
}

CaseResult case_multi_write(CaseContext &ctx)
{
	constexpr size_t kN = 8;
	const auto reqs = echo_batch(ctx.seed + 50, 0xb100, kN);
	const ssize_t n = ctx.ch.write_raw(reqs.data(), kN * sizeof(SSTRequest));
	if (n != static_cast<ssize_t>(kN * sizeof(SSTRequest)))
		return fail(strf("write of %zu requests returned %zd", kN, n));
	std::vector<SSTResponse> resps(kN);
	size_t got = 0;
	while (got < kN) {
		const ssize_t r = ctx.ch.read_raw(&resps[got], (kN - got) * sizeof(SSTResponse));
		if (r <= 0 || r % sizeof(SSTResponse))
			return fail(strf("read returned %zd", r));
		got += r / sizeof(SSTResponse);
	}
	if (auto why = check_echo_set(reqs, resps.data(), kN); !why.empty())
		return fail(why);
	return pass(strf("requests_per_write=%zu", kN));
}

CaseResult case_nonblock_poll(CaseContext &ctx)
{
	int rc = ctx.ch.set_nonblock(true);
	if (rc)
		return fail("O_NONBLOCK " + err_str(rc));
	CaseResult result = pass("EAGAIN when empty, POLLIN on completion");
	SSTResponse resp;
	const SSTRequest req = make_request(SST_REQ_NOOP, 0xc001);
	short revents = 0;
	ssize_t n = ctx.ch.read_raw(&resp, sizeof(resp));
	if (n != -ENODATA && n != -EAGAIN) {
		result = fail(strf("empty nonblocking read returned %zd", n));
	} else if ((n = ctx.ch.write_raw(&req, sizeof(req))) != sizeof(req)) {
		result = fail(strf("write returned %zd", n));
	} else if ((rc = ctx.ch.poll(POLLIN, 10000, &revents)) || !(revents & POLLIN)) {
		result = fail(strf("poll rc=%d revents=%#x", rc, revents));
	} else if ((n = ctx.ch.read_raw(&resp, sizeof(resp))) != sizeof(resp)) {
		result = fail(strf("read after POLLIN returned %zd", n));
	} else if (std::string why; !check_header(resp, req, SST_STATUS_OK, why)) {
		result = fail(why);
	} else if ((rc = ctx.ch.poll(POLLOUT, 0, &revents)) || !(revents & POLLOUT)) {
		result = fail(strf("idle poll rc=%d revents=%#x, want POLLOUT", rc, revents));
	}
	ctx.ch.set_nonblock(false);
	return result;
}

CaseResult case_batch_ioctl(CaseContext &ctx)
{
	constexpr uint32_t kN = 64;
	const auto reqs = echo_batch(ctx.seed + 100, 0xd000, kN);
	std::vector<uint64_t> ids(kN, 0);
	std::vector<SSTResponse> resps(kN);
	// SUBMIT may take fewer than asked (queue or quota full): keep going,
	// reaping in between, within a bound.
	uint32_t sent = 0, total = 0, calls = 0;
	for (int rounds = 0; total < kN && rounds < 200; rounds++) {
		if (sent < kN) {
			uint32_t submitted = 0;
			const int rc = ctx.ch.submit(reqs.data() + sent, kN - sent, ids.data() + sent, false,
						     &submitted);
			if (rc && rc != -EAGAIN)
				return fail("SUBMIT " + err_str(rc));
			sent += submitted;
			calls++;
		}
		uint32_t reaped = 0;
		const int rc = ctx.ch.reap(resps.data() + total, kN - total, sent - total, 10000, &reaped);
		if (rc)
			return fail("REAP " + err_str(rc));
		total += reaped;
	}
	if (total != kN)
		return fail(strf("reaped=%u want=%u", total, kN));
	if (auto why = check_echo_set(reqs, resps.data(), kN); !why.empty())
		return fail(why);
	// The ids SUBMIT returned are the ones the responses carry.
	std::map<uint64_t, uint64_t> id_of;
	for (uint32_t i = 0; i < kN; i++)
		id_of[reqs[i].user_data] = ids[i];
	for (const auto &r : resps)
		if (id_of[r.user_data] != r.request_id)
			return fail(strf("user_data=%llu request_id=%llu, SUBMIT said %llu",
					 (unsigned long long)r.user_data, (unsigned long long)r.request_id,
					 (unsigned long long)id_of[r.user_data]));
	return pass(strf("batch=%u submit_calls=%u", kN, calls));
}

CaseResult case_two_fds(CaseContext &ctx)
{
	int err = 0;
	auto other = ctx.open(&err);
	if (!other)
		return fail("second open " + err_str(err));
	const SSTRequest a = make_request(SST_REQ_NOOP, 0xe001);
	const SSTRequest b = make_request(SST_REQ_NOOP, 0xe002);
	if (ctx.ch.write_raw(&a, sizeof(a)) != sizeof(a) || other->write_raw(&b, sizeof(b)) != sizeof(b))
		return fail("write failed");
	SSTResponse ra, rb;
	if (other->read_raw(&rb, sizeof(rb)) != sizeof(rb) || ctx.ch.read_raw(&ra, sizeof(ra)) != sizeof(ra))
		return fail("read failed");
	if (ra.user_data != a.user_data || rb.user_data != b.user_data)
		return fail(strf("responses crossed: fd1 got %llu, fd2 got %llu",
				 (unsigned long long)ra.user_data, (unsigned long long)rb.user_data));
	return pass("each fd gets its own responses");
}

// Body of one child of the concurrency case: a private memory region,
// mixed ECHO/WRITE/READ with a few requests in flight. Returns 0 on success.
int concurrent_child(CaseContext &ctx, unsigned index, uint64_t region)
{
	int err = 0;
	auto ch = ctx.open(&err);
	if (!ch) {
		fprintf(stderr, "sst-test: child %u: open: %s\n", index, strerror(-err));
		return 2;
	}
	uint8_t data[SST_MAX_WRITE_SIZE];
	for (unsigned i = 0; i < ctx.iterations; i++) {
		const uint64_t tag = (uint64_t(index + 1) << 32) | (uint64_t(i) << 4);
		const uint32_t len = 1 + (i * 97) % SST_MAX_WRITE_SIZE;
		const uint64_t addr = region + (i * 1031) % (0x10000 - SST_MAX_WRITE_SIZE);
		fill_pattern(Pattern::random, tag, data, len);
		// Two requests in flight: an echo and a write.
		const SSTRequest echo = make_echo(tag | 1, data, len);
		const SSTRequest w = make_write(tag | 2, addr, data, len);
		if (ch->write_raw(&echo, sizeof(echo)) != sizeof(echo) ||
		    ch->write_raw(&w, sizeof(w)) != sizeof(w))
			return 3;
		SSTResponse resp[2];
		for (auto &r : resp)
			if (ch->read_raw(&r, sizeof(r)) != sizeof(r))
				return 4;
		for (const auto &r : resp) {
			if (r.status != SST_STATUS_OK) {
				fprintf(stderr, "sst-test: child %u: status %u for %#llx\n", index, r.status,
					(unsigned long long)r.user_data);
				return 5;
			}
			if (r.user_data == echo.user_data) {
				if (first_difference(r.payload.data, data, len))
					return 6;
			} else if (r.user_data != w.user_data) {
				return 7;
			}
		}
		SSTResponse rr;
		const SSTRequest rd = make_read(tag | 3, addr, len);
		if (roundtrip(*ch, rd, rr) || rr.status != SST_STATUS_OK || rr.user_data != rd.user_data ||
		    first_difference(rr.payload.data, data, len)) {
			fprintf(stderr, "sst-test: child %u: read back differs at %#llx\n", index,
				(unsigned long long)addr);
			return 8;
		}
	}
	return 0;
}

CaseResult case_concurrent_procs(CaseContext &ctx)
{
	const uint64_t mem = mem_span(ctx);
	if (mem < uint64_t(ctx.procs + 1) * 0x10000 + 0x100000)
		return fail("memory_size too small for the regions");
	std::vector<pid_t> pids;
	for (unsigned i = 0; i < ctx.procs; i++) {
		fflush(nullptr);
		const pid_t pid = fork();
		if (pid < 0) {
			for (pid_t p : pids)
				kill(p, SIGKILL);
			return fail(strf("fork: %s", strerror(errno)));
		}
		if (pid == 0)
			_exit(concurrent_child(ctx, i, 0x100000 + uint64_t(i) * 0x10000));
		pids.push_back(pid);
	}
	// Reap with a bound: a stuck child is killed and counts as a failure.
	unsigned failed = 0, left = ctx.procs;
	std::string first;
	for (int waited_ms = 0; left && waited_ms < ctx.child_timeout_s * 1000;) {
		int status = 0;
		const pid_t p = waitpid(-1, &status, WNOHANG);
		if (p > 0) {
			left--;
			if (!WIFEXITED(status) || WEXITSTATUS(status)) {
				failed++;
				if (first.empty())
					first = strf("pid %d exit=%d", p,
						     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
			}
			continue;
		}
		usleep(10000);
		waited_ms += 10;
	}
	if (left) {
		for (pid_t p : pids)
			kill(p, SIGKILL);
		while (waitpid(-1, nullptr, 0) > 0) {
		}
		return fail(strf("%u of %u processes did not finish in %d s", left, ctx.procs,
				 ctx.child_timeout_s));
	}
	if (failed)
		return fail(strf("%u of %u processes failed (%s)", failed, ctx.procs, first.c_str()));
	return pass(strf("procs=%u requests=%u", ctx.procs, ctx.procs * ctx.iterations * 3));
}

std::string read_sysfs(const std::string &path)
{
	std::ifstream in(path);
	std::string s;
	if (!(in >> s))
		return {};
	return s;
}

CaseResult case_stats(CaseContext &ctx)
{
	sst_ioc_stats before{}, after{};
	int rc = ctx.ch.stats(&before);
	if (rc)
		return fail("GET_STATS " + err_str(rc));
	SSTResponse resp;
	const SSTRequest req = make_request(SST_REQ_NOOP, 0xf001);
	if (auto why = exchange(ctx.ch, req, resp, SST_STATUS_OK); !why.empty())
		return fail(why);
	if ((rc = ctx.ch.stats(&after)))
		return fail("GET_STATS " + err_str(rc));
	if (after.submitted <= before.submitted || after.completed <= before.completed)
		return fail(strf("submitted %llu->%llu completed %llu->%llu",
				 (unsigned long long)before.submitted, (unsigned long long)after.submitted,
				 (unsigned long long)before.completed, (unsigned long long)after.completed));
	std::string detail =
		strf("submitted=%llu completed=%llu timeouts=%llu bad=%llu",
		     (unsigned long long)after.submitted, (unsigned long long)after.completed,
		     (unsigned long long)after.timeouts, (unsigned long long)after.bad_responses);
	if (after.bad_responses)
		return fail("device sent malformed responses: " + detail);
	if (!ctx.sysfs_dir.empty()) {
		const std::string s = read_sysfs(ctx.sysfs_dir + "/stats/submitted");
		if (s.empty())
			return fail("cannot read " + ctx.sysfs_dir + "/stats/submitted");
		if (std::stoull(s) < after.submitted)
			return fail("sysfs submitted=" + s + " below the ioctl's");
		detail += " sysfs=ok";
	}
	return pass(detail);
}

CaseResult case_timeout_setting(CaseContext &ctx)
{
	sst_ioc_info info{};
	int rc = ctx.ch.set_timeout(1234);
	if (!rc)
		rc = ctx.ch.info(&info);
	if (rc)
		return fail(err_str(rc));
	if (info.timeout_ms != 1234)
		return fail(strf("timeout_ms=%u after SET_TIMEOUT(1234)", info.timeout_ms));
	if ((rc = ctx.ch.set_timeout(0)) || (rc = ctx.ch.info(&info)))
		return fail(err_str(rc));
	return pass(strf("default timeout_ms=%u", info.timeout_ms));
}

const std::vector<TestCase> kCases = {
	{"driver_info", "GET_INFO ioctl: ABI version and limits", case_driver_info},
	{"noop", "NOOP round trip", case_noop},
	{"echo", "ECHO of 4080 bytes in every pattern", case_echo},
	{"get_info", "GET_INFO request: protocol version and capacities", case_get_info},
	{"compute", "COMPUTE with every latency model", case_compute},
	{"configure", "CONFIGURE a valid and an invalid parameter", case_configure},
	{"reset", "RESET, then the device still answers", case_reset},
	{"write_read", "WRITE then READ back, patterns x places", case_write_read},
	{"invalid_type", "unknown request types answer INVALID", case_invalid_type},
	{"invalid_flags", "unknown or misplaced flags answer INVALID", case_invalid_flags},
	{"out_of_range", "READ/WRITE past the memory answer INVALID", case_out_of_range},
	{"bad_sizes", "zero and oversize READ/WRITE answer INVALID", case_bad_sizes},
	{"async_event", "asynchronous COMPUTE raises a completion event", case_async_event},
	{"short_io", "short writes/reads rejected, idle read does not block", case_short_io},
	{"pipelined", "32 requests outstanding on one fd", case_pipelined},
	{"multi_write", "several requests in one write()", case_multi_write},
	{"nonblock_poll", "O_NONBLOCK and poll()", case_nonblock_poll},
	{"batch_ioctl", "SUBMIT/REAP ioctls with 64 requests", case_batch_ioctl},
	{"two_fds", "two fds in one process keep their responses apart", case_two_fds},
	{"concurrent_procs", "processes in parallel, each on its own memory", case_concurrent_procs},
	{"stats", "statistics ioctl and sysfs", case_stats},
	{"timeout_setting", "per-fd request timeout", case_timeout_setting},
};

} // namespace

const std::vector<TestCase> &all_cases()
{
	return kCases;
}

unsigned drain_channel(Channel &ch)
{
	unsigned drained = 0;
	SSTResponse resp[16];
	for (int rounds = 0; rounds < 1000; rounds++) {
		uint32_t got = 0;
		// Responses still on their way arrive within the request timeout.
		if (ch.reap(resp, 16, 1, 2000, &got) || !got)
			break;
		drained += got;
	}
	return drained;
}

int probe_device(CaseContext &ctx)
{
	SSTResponse resp;
	const SSTRequest req = make_request(SST_REQ_GET_INFO, 1);
	const int rc = roundtrip(ctx.ch, req, resp);
	if (rc)
		return rc;
	if (resp.status != SST_STATUS_OK)
		return static_cast<int>(resp.status);
	ctx.memory_size = resp.payload.info.memory_size;
	ctx.capabilities = resp.payload.info.capabilities;
	return 0;
}

} // namespace vsst::guest
