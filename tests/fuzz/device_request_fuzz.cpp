// SPDX-License-Identifier: Apache-2.0
// Fuzz target device_request: the virtio-sst device core's request handling
// (sst_device.h C API, as the QEMU glue uses it) fed SSTRequest bytes of any
// length and content, with no simulator configured.
//
// Invariants (a violation aborts):
//  - vsst_dev_submit returns 0, or -EBUSY exactly when max_inflight
//    completions are outstanding;
//  - every accepted submit yields exactly one completion with its cookie
//    (without a simulator every request is answered at once: after a reap
//    nothing may be outstanding), none after cancel_all, none twice, no
//    unknown cookie, no simulator events;
//  - notify_fd is readable while completions wait;
//  - each response carries the request's request_id and user_data and the
//    status the guest ABI prescribes: INVALID for malformed requests (checked
//    against an independent reading of sst-protocol.h), OK for the local
//    types, NO_DEVICE for the simulator's types; ECHO returns exactly the
//    bytes it was given; GET_INFO reports the protocol version and features;
//  - statistics agree with what was submitted.
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "fuzz_formats.h"
#include "fuzz_support.h"
#include "vsst/sst-protocol.h"
#include "vsst/sst_device.h"

namespace {

using vsst::fuzz::ByteReader;
namespace ops = vsst::fuzz::device_request;

constexpr int kMaxSteps = 128;
constexpr size_t kMaxLen = sizeof(SSTRequest) + 96; // a little past the contract's bound

// What a response must look like, from an independent reading of the ABI.
struct Expected {
	SSTRequest body; // zero-filled copy of what was submitted
	size_t len = 0;  // effective length (0 for a NULL buffer)
	uint32_t status = 0;
};

bool is_local(uint32_t type)
{
	return type == SST_REQ_NOOP || type == SST_REQ_ECHO || type == SST_REQ_RESET ||
	       type == SST_REQ_GET_INFO;
}

// The validity rules of sst-protocol.h: header present, known type, known
// flags (ASYNC only on COMPUTE), each type's descriptor present and sane.
bool well_formed(const SSTRequest &r, size_t len)
{
	if (len < SST_REQUEST_HEADER_SIZE || len > sizeof(SSTRequest) || r.type >= SST_REQ_MAX)
		return false;
	if ((r.flags & ~SST_REQ_FLAG_ASYNC) || ((r.flags & SST_REQ_FLAG_ASYNC) && r.type != SST_REQ_COMPUTE))
		return false;
	const size_t payload = len - SST_REQUEST_HEADER_SIZE;
	switch (r.type) {
	case SST_REQ_COMPUTE:
		return payload >= 12 && r.payload.compute.latency_model < SST_LATENCY_MAX;
	case SST_REQ_READ:
	case SST_REQ_WRITE: {
		const uint64_t size = r.payload.memory.size;
		const uint64_t max = r.type == SST_REQ_READ ? SST_MAX_DATA_SIZE : SST_MAX_WRITE_SIZE;
		if (payload < 12 || size == 0 || size > max || r.payload.memory.addr > UINT64_MAX - size)
			return false;
		return r.type == SST_REQ_READ || payload >= SST_WRITE_DATA_OFFSET + size;
	}
	case SST_REQ_CONFIGURE:
		return payload >= 16 && r.payload.config.param < SST_CFG_MAX;
	}
	return true;
}

// Whether fd is readable right now. libFuzzer's -timeout watchdog is a
// SIGALRM every few seconds, and poll() is never restarted after a signal
// handler: retry EINTR rather than report a spurious invariant violation.
bool readable_now(int fd)
{
	pollfd p{fd, POLLIN, 0};
	int n;
	do
		n = ::poll(&p, 1, 0);
	while (n < 0 && errno == EINTR);
	FUZZ_CHECK(n >= 0, "poll(notify_fd): %s", std::strerror(errno));
	return n == 1 && (p.revents & POLLIN);
}

bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; ++i)
		if (p[i])
			return false;
	return true;
}

class Session {
public:
	bool init(ByteReader &in)
	{
		const uint8_t m = in.u8();
		max_inflight_ = m ? (m % 16) + 1 : 256;
		vsst_dev_config cfg{};
		cfg.socket_path = nullptr;
		cfg.device_id = 7;
		cfg.max_inflight = m ? max_inflight_ : 0;
		char err[256];
		dev_ = vsst_dev_new(&cfg, err, sizeof err);
		FUZZ_CHECK(dev_, "vsst_dev_new without a simulator failed: %s", err);
		return true;
	}
	~Session() { vsst_dev_free(dev_); }

	void step(ByteReader &in)
	{
		switch (in.u8() % ops::kCount) {
		case ops::kSubmit: {
			const size_t len = in.u16() % (kMaxLen + 1);
			std::unique_ptr<uint8_t[]> buf(new uint8_t[len ? len : 1]);
			in.fill(buf.get(), len);
			submit(buf.get(), len);
			break;
		}
		case ops::kSubmitTyped:
			submit_typed(in);
			break;
		case ops::kSubmitNull:
			submit(nullptr, in.u16() % (kMaxLen + 1));
			break;
		case ops::kReap:
			reap();
			break;
		case ops::kCancelAll:
			vsst_dev_cancel_all(dev_);
			outstanding_.clear();
			break;
		}
	}

	void finish()
	{
		reap();
		FUZZ_CHECK(outstanding_.empty(), "%zu submitted requests never completed",
			   outstanding_.size());
		vsst_dev_stats st{};
		vsst_dev_get_stats(dev_, &st);
		FUZZ_CHECK(st.inflight == 0, "stats report %llu in flight after everything was reaped",
			   static_cast<unsigned long long>(st.inflight));
		SSTConfig c{};
		vsst_dev_get_config(dev_, &c);
		FUZZ_CHECK(c.version == SST_PROTOCOL_VERSION && c.device_id == 7, "config space is wrong");
	}

private:
	void submit_typed(ByteReader &in)
	{
		SSTRequest r;
		std::memset(&r, 0, sizeof r);
		r.type = in.u8() % (SST_REQ_MAX + 1);
		r.flags = in.u8() % 3;
		r.request_id = in.u64();
		r.user_data = ~r.request_id;
		const uint64_t a = in.u64();
		const uint32_t b = in.u32();
		size_t len = SST_REQUEST_HEADER_SIZE;
		switch (r.type) {
		case SST_REQ_COMPUTE:
			r.payload.compute.compute_units = a;
			r.payload.compute.latency_model = b % (SST_LATENCY_MAX + 1);
			len += 12;
			break;
		case SST_REQ_READ:
		case SST_REQ_WRITE:
			r.payload.memory.addr = a;
			r.payload.memory.size = b % (SST_MAX_DATA_SIZE + 2);
			len += 12;
			if (r.type == SST_REQ_WRITE)
				len += std::min<size_t>(r.payload.memory.size, SST_MAX_WRITE_SIZE);
			break;
		case SST_REQ_CONFIGURE:
			r.payload.config.param = b % (SST_CFG_MAX + 1);
			r.payload.config.value = a;
			len += 16;
			break;
		default:
			len += b % 64;
			break;
		}
		const uint16_t extra = in.u16();
		len = std::min(len + (extra % 8) - (extra & 8 ? std::min<size_t>(len, 4) : 0),
			       sizeof(SSTRequest));
		std::unique_ptr<uint8_t[]> buf(new uint8_t[len ? len : 1]);
		std::memcpy(buf.get(), &r, len);
		submit(buf.get(), len);
	}

	void submit(const uint8_t *req, size_t len)
	{
		Expected e;
		std::memset(&e.body, 0, sizeof e.body);
		if (req)
			std::memcpy(&e.body, req, std::min(len, sizeof e.body));
		e.len = req ? len : 0;
		if (!well_formed(e.body, e.len))
			e.status = SST_STATUS_INVALID;
		else
			e.status = is_local(e.body.type) ? SST_STATUS_OK : SST_STATUS_NO_DEVICE;

		const uint64_t cookie = next_cookie_++;
		const int r = vsst_dev_submit(dev_, req, len, cookie);
		const bool full = outstanding_.size() >= max_inflight_;
		FUZZ_CHECK(r == (full ? -EBUSY : 0), "submit returned %d with %zu of %u outstanding", r,
			   outstanding_.size(), max_inflight_);
		if (r != 0)
			return;
		++accepted_;
		outstanding_.emplace(cookie, e);

		// Without a simulator the completion is queued before submit returns.
		FUZZ_CHECK(readable_now(vsst_dev_notify_fd(dev_)),
			   "notify_fd not readable with a completion queued");
		vsst_dev_stats st{};
		vsst_dev_get_stats(dev_, &st);
		FUZZ_CHECK(st.inflight == outstanding_.size(), "stats inflight %llu, expected %zu",
			   static_cast<unsigned long long>(st.inflight), outstanding_.size());
	}

	static void on_done(void *opaque, uint64_t cookie, const SSTResponse *resp)
	{
		static_cast<Session *>(opaque)->check_done(cookie, *resp);
	}
	static void on_event(void *, const SSTEvent *ev)
	{
		FUZZ_CHECK(false, "simulator event (type %u) without a simulator", ev->type);
	}

	void check_done(uint64_t cookie, const SSTResponse &resp)
	{
		auto it = outstanding_.find(cookie);
		FUZZ_CHECK(it != outstanding_.end(),
			   "completion for cookie %llu, which is not outstanding "
			   "(never submitted, cancelled or completed already)",
			   static_cast<unsigned long long>(cookie));
		const Expected &e = it->second;
		FUZZ_CHECK(resp.request_id == e.body.request_id && resp.user_data == e.body.user_data,
			   "cookie %llu (type %u): response ids %#llx/%#llx, request had %#llx/%#llx",
			   static_cast<unsigned long long>(cookie), e.body.type,
			   static_cast<unsigned long long>(resp.request_id),
			   static_cast<unsigned long long>(resp.user_data),
			   static_cast<unsigned long long>(e.body.request_id),
			   static_cast<unsigned long long>(e.body.user_data));
		FUZZ_CHECK(resp.status == e.status, "type %u len %zu flags %#x: status %u, expected %u",
			   e.body.type, e.len, e.body.flags, resp.status, e.status);
		const auto *payload = reinterpret_cast<const uint8_t *>(&resp.payload);
		if (resp.status == SST_STATUS_OK && e.body.type == SST_REQ_ECHO) {
			const size_t n = e.len - SST_REQUEST_HEADER_SIZE;
			FUZZ_CHECK(resp.result == n, "ECHO of %zu bytes reports result %llu", n,
				   static_cast<unsigned long long>(resp.result));
			FUZZ_CHECK(std::memcmp(payload, e.body.payload.data, n) == 0,
				   "ECHO altered the payload");
			FUZZ_CHECK(all_zero(payload + n, sizeof resp.payload - n),
				   "ECHO leaks bytes past the payload");
		} else if (resp.status == SST_STATUS_OK && e.body.type == SST_REQ_GET_INFO) {
			FUZZ_CHECK(resp.payload.info.version == SST_PROTOCOL_VERSION, "GET_INFO version %#x",
				   resp.payload.info.version);
			FUZZ_CHECK(resp.payload.info.capabilities == vsst_dev_features(dev_),
				   "GET_INFO capabilities");
			FUZZ_CHECK(resp.result == 0 && resp.payload.info.max_compute_units == 0,
				   "GET_INFO claims a live simulator");
		} else {
			FUZZ_CHECK(all_zero(payload, sizeof resp.payload),
				   "status-only response (type %u, status %u) "
				   "carries payload bytes",
				   e.body.type, resp.status);
		}
		outstanding_.erase(it);
	}

	void reap()
	{
		const size_t before = outstanding_.size();
		const int n = vsst_dev_reap(dev_, on_done, on_event, this);
		FUZZ_CHECK(n >= 0 && static_cast<size_t>(n) == before - outstanding_.size(),
			   "reap returned %d for %zu delivered", n, before - outstanding_.size());
		FUZZ_CHECK(outstanding_.empty(), "%zu completions missing after reap", outstanding_.size());
		FUZZ_CHECK(!readable_now(vsst_dev_notify_fd(dev_)),
			   "notify_fd still readable with nothing to reap");
	}

	vsst_dev *dev_ = nullptr;
	uint32_t max_inflight_ = 0;
	uint64_t next_cookie_ = 1;
	uint64_t accepted_ = 0;
	std::map<uint64_t, Expected> outstanding_;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ByteReader in(data, size);
	Session s;
	s.init(in);
	for (int i = 0; i < kMaxSteps && !in.empty(); ++i)
		s.step(in);
	s.finish();
	return 0;
}
