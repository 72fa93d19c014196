// SPDX-License-Identifier: Apache-2.0
// Fuzz target sim_link: the device core's simulator link (device/src
// SimLink: its I/O thread, connect / handshake / ready / backoff states,
// timers, reconnects) against a scripted simulator on a real Unix socket.
// The input scripts the peer: accept the link's connection, answer it with
// sst-element's real ServerSession + DeviceModel (bytes optionally flipped or
// cut), send raw bytes or frames, close, stall, restart the listening socket
// (a simulator killed and started again), while the device side forwards
// requests and cancels epochs.
//
// Invariants: every forwarded request completes exactly once (a response,
// ERROR, TIMEOUT or NO_DEVICE), or at most once when its epoch was cancelled;
// no completion for an unknown cookie or an internal probe; statuses are
// known; and it all ends within a bound after the peer goes away (no hang).
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

// device core internals (device/src)
#include "acalsim_protocol.h"
#include "framed_protocol.h"
#include "pending.h"
#include "sim_link.h"

#include "fuzz_formats.h"
#include "fuzz_support.h"
#include "vsst/posix/unique_fd.h"
#include "vsst/protocol/byte_buffer.h"
#include "vsst/protocol/wire_size.h"
#include "vsst/sim-wire.h"
#include "vsst/sim/device_model.h"
#include "vsst/sim/server_session.h"
#include "vsst/sst-protocol.h"

namespace {

using vsst::fuzz::ByteReader;
namespace fmt = vsst::fuzz::sim_link;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int kMaxSteps = 64;
constexpr auto kRequestTimeout = 30ms;
constexpr auto kHandshakeTimeout = 30ms;
// After the peer is gone every request must be answered within this: the
// link's timers are tens of ms; the rest is slack for a loaded machine.
constexpr auto kSettleBound = 5s;
constexpr int kStallBudgetMs = 300;

// libFuzzer's -timeout watchdog is SIGALRM: every wait retries on EINTR.
int poll_retry(pollfd *p, nfds_t n, int timeout_ms)
{
	const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
	for (;;) {
		const auto left =
			std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
		const int r = ::poll(p, n, static_cast<int>(std::max<int64_t>(left.count(), 0)));
		if (r >= 0 || errno != EINTR)
			return r;
	}
}

void sleep_ms(int ms)
{
	const auto deadline = Clock::now() + std::chrono::milliseconds(ms);
	while (Clock::now() < deadline)
		poll_retry(nullptr, 0,
			   static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
						    deadline - Clock::now())
						    .count()));
}

// One directory per process for the socket.
const std::string &socket_path()
{
	static const std::string path = [] {
		char tmpl[] = "/tmp/vsst-fuzz-simlink-XXXXXX";
		const char *d = ::mkdtemp(tmpl);
		FUZZ_CHECK(d != nullptr, "mkdtemp: %s", std::strerror(errno));
		return std::string(d) + "/sim.sock";
	}();
	return path;
}

vsst::UniqueFd listen_at(const std::string &path)
{
	::unlink(path.c_str());
	sockaddr_un a{};
	a.sun_family = AF_UNIX;
	std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
	vsst::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	FUZZ_CHECK(fd.valid(), "socket: %s", std::strerror(errno));
	FUZZ_CHECK(::bind(fd.get(), reinterpret_cast<sockaddr *>(&a), sizeof a) == 0, "bind %s: %s",
		   path.c_str(), std::strerror(errno));
	FUZZ_CHECK(::listen(fd.get(), 8) == 0, "listen: %s", std::strerror(errno));
	return fd;
}

// What the device side forwarded, and what came back (written on the link's
// I/O thread, read by the harness).
class Ledger final : public vsst::CompletionSink {
public:
	struct Entry {
		uint64_t epoch = 0;
		uint32_t type = 0;
		bool cancelled = false;
		int done = 0;
	};

	void add(uint64_t cookie, uint64_t epoch, uint32_t type)
	{
		std::lock_guard<std::mutex> g(mu_);
		entries_[cookie] = Entry{epoch, type, false, 0};
	}
	void cancel_before(uint64_t epoch)
	{
		std::lock_guard<std::mutex> g(mu_);
		for (auto &[cookie, e] : entries_)
			e.cancelled |= e.epoch < epoch;
	}
	// Waits until every request not cancelled is done, or the bound passes.
	bool settle(Clock::duration bound)
	{
		std::unique_lock<std::mutex> g(mu_);
		return cv_.wait_for(g, bound, [this] { return open_locked() == 0; });
	}
	void check_final()
	{
		std::lock_guard<std::mutex> g(mu_);
		for (const auto &[cookie, e] : entries_) {
			FUZZ_CHECK(e.done == 1 || (e.cancelled && e.done == 0),
				   "cookie %llu (type %u%s) completed %d times",
				   static_cast<unsigned long long>(cookie), e.type,
				   e.cancelled ? ", cancelled" : "", e.done);
		}
	}
	size_t open()
	{
		std::lock_guard<std::mutex> g(mu_);
		return open_locked();
	}

	void complete(const vsst::PendingInfo &info, SSTResponse &resp) override
	{
		std::lock_guard<std::mutex> g(mu_);
		FUZZ_CHECK(!info.internal, "an internal probe reached the sink");
		auto it = entries_.find(info.cookie);
		FUZZ_CHECK(it != entries_.end(), "completion for unknown cookie %llu",
			   static_cast<unsigned long long>(info.cookie));
		FUZZ_CHECK(it->second.done == 0, "cookie %llu completed twice (status %u)",
			   static_cast<unsigned long long>(info.cookie), resp.status);
		FUZZ_CHECK(resp.status <= SST_STATUS_NO_DEVICE, "completion status %u", resp.status);
		++it->second.done;
		cv_.notify_all();
	}
	void event(const SSTEvent &) override {}

private:
	size_t open_locked() const
	{
		size_t n = 0;
		for (const auto &[cookie, e] : entries_)
			n += e.done == 0 && !e.cancelled;
		return n;
	}
	std::mutex mu_;
	std::condition_variable cv_;
	std::map<uint64_t, Entry> entries_;
};

// The scripted simulator: one listening socket, at most one connection.
class Peer {
public:
	explicit Peer(bool acalsim) : acalsim_(acalsim), listen_(listen_at(socket_path())) {}

	void accept_one(int wait_ms)
	{
		pollfd p{listen_.get(), POLLIN, 0};
		if (poll_retry(&p, 1, wait_ms) <= 0)
			return;
		vsst::UniqueFd fd(::accept4(listen_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
		if (!fd.valid())
			return;
		conn_ = std::move(fd);
		session_ = std::make_unique<vsst::sim::ServerSession>(acalsim_ ? vsst::sim::Protocol::kAcalsim
									       : vsst::sim::Protocol::kFramed,
								      1'000'000'000);
		model_ = std::make_unique<vsst::sim::DeviceModel>();
		in_.clear();
	}

	// Reads what the link sent (waiting up to wait_ms for the first byte),
	// runs it through the real server and model, and writes the answers back,
	// maybe damaged: how 1 flips the byte at `where`, 2 cuts the output there.
	void serve(int wait_ms, uint8_t how, uint16_t where)
	{
		if (!conn_.valid())
			return;
		pollfd p{conn_.get(), POLLIN, 0};
		poll_retry(&p, 1, wait_ms);
		for (;;) {
			uint8_t *b = in_.prepare(64 * 1024);
			const ssize_t n = ::recv(conn_.get(), b, 64 * 1024, MSG_DONTWAIT);
			if (n > 0) {
				in_.commit(static_cast<size_t>(n));
				continue;
			}
			in_.commit(0);
			if (n < 0 && errno == EINTR)
				continue;
			break;
		}
		vsst::ByteBuffer out;
		session_->feed(in_, out, [this](uint64_t token, std::span<const uint8_t> req) {
			model_->submit(token, req, session_->events_enabled());
		});
		while (auto o = model_->pop()) {
			if (o->kind == vsst::sim::SimOutput::Kind::kEvent)
				session_->emit_event(out, o->bytes);
			else
				session_->emit_response(out, o->token, o->cycles, o->complete_ps, o->bytes);
		}
		std::vector<uint8_t> bytes(out.data(), out.data() + out.size());
		if (how % 3 == 1 && !bytes.empty())
			bytes[where % bytes.size()] ^= static_cast<uint8_t>(1u << (where % 8));
		else if (how % 3 == 2 && !bytes.empty())
			bytes.resize(where % bytes.size());
		write(bytes.data(), bytes.size());
		if (session_->closing())
			close();
	}

	void write(const uint8_t *p, size_t n)
	{
		size_t done = 0;
		while (conn_.valid() && done < n) {
			const ssize_t k =
				::send(conn_.get(), p + done, n - done, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (k > 0) {
				done += static_cast<size_t>(k);
				continue;
			}
			if (k < 0 && errno == EINTR)
				continue;
			break; // full or gone: the rest is lost, as on a real stalled socket
		}
	}

	void close() { conn_.reset(); }
	// The simulator dies and comes back: the listening socket is recreated.
	void restart(bool back)
	{
		conn_.reset();
		listen_.reset();
		::unlink(socket_path().c_str());
		if (back)
			listen_ = listen_at(socket_path());
	}
	void ensure_listening()
	{
		if (!listen_.valid())
			listen_ = listen_at(socket_path());
	}

private:
	bool acalsim_;
	vsst::UniqueFd listen_;
	vsst::UniqueFd conn_;
	std::unique_ptr<vsst::sim::ServerSession> session_;
	std::unique_ptr<vsst::sim::DeviceModel> model_;
	vsst::ByteBuffer in_;
};

void append_frame(std::vector<uint8_t> &buf, uint16_t type, uint64_t tag, size_t len, ByteReader &in)
{
	vsst_sim_frame_hdr h{};
	h.magic = VSST_SIM_MAGIC;
	h.version = VSST_SIM_VERSION;
	h.type = type;
	h.length = static_cast<uint32_t>(len);
	h.tag = tag;
	const auto *hp = reinterpret_cast<const uint8_t *>(&h);
	buf.insert(buf.end(), hp, hp + sizeof h);
	const size_t at = buf.size();
	buf.resize(at + len);
	in.fill(buf.data() + at, len);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ByteReader in(data, size);
	const uint8_t flags = in.u8();
	const bool acalsim = flags & 1;

	Ledger ledger;
	vsst::Stats stats;
	Peer peer(acalsim);
	vsst::LinkOptions opts;
	opts.socket_path = socket_path();
	opts.device_id = 1;
	opts.request_timeout = kRequestTimeout;
	opts.handshake_timeout = kHandshakeTimeout;
	opts.reconnect_min = 1ms;
	opts.reconnect_max = 4ms;
	std::unique_ptr<vsst::SimProtocol> proto;
	if (acalsim)
		proto = std::make_unique<vsst::AcalsimProtocol>();
	else
		proto = std::make_unique<vsst::FramedProtocol>();
	vsst::SimLink link(opts, std::move(proto), ledger, stats, vsst::Logger());
	std::string err;
	FUZZ_CHECK(link.start(err), "SimLink::start: %s", err.c_str());

	uint64_t cookie = 0;
	uint64_t epoch = 0;
	int stall_left_ms = kStallBudgetMs;
	for (int step = 0; step < kMaxSteps && !in.empty(); ++step) {
		switch (in.u8() % fmt::kCount) {
		case fmt::kSubmit: {
			static const uint32_t kTypes[] = {SST_REQ_COMPUTE, SST_REQ_READ, SST_REQ_WRITE,
							  SST_REQ_CONFIGURE, SST_REQ_NOOP};
			vsst::ForwardRequest r;
			r.body = std::make_unique<SSTRequest>();
			std::memset(r.body.get(), 0, sizeof(SSTRequest));
			r.body->type = kTypes[in.u8() % 5];
			r.body->flags = in.u8() & SST_REQ_FLAG_ASYNC;
			r.body->request_id = in.u64();
			const uint32_t a = in.u32();
			if (r.body->type == SST_REQ_COMPUTE) {
				r.body->payload.compute.compute_units = a % 4096;
			} else if (r.body->type == SST_REQ_READ || r.body->type == SST_REQ_WRITE) {
				r.body->payload.memory.addr = (a & 0xffff) * 8;
				r.body->payload.memory.size = (a >> 16) % (SST_MAX_WRITE_SIZE + 2);
			} else if (r.body->type == SST_REQ_CONFIGURE) {
				r.body->payload.config.param = a % (SST_CFG_MAX + 1);
				r.body->payload.config.value = a >> 8;
			}
			r.info.cookie = ++cookie;
			r.info.epoch = epoch;
			r.info.request_id = r.body->request_id;
			r.info.user_data = cookie * 3;
			r.info.type = r.body->type;
			r.info.param = r.body->payload.config.param;
			r.info.deadline = vsst::Clock::now() + kRequestTimeout;
			r.wire_len = vsst::request_wire_size(*r.body);
			ledger.add(r.info.cookie, epoch, r.info.type);
			link.submit(std::move(r));
			break;
		}
		case fmt::kAccept:
			peer.accept_one(in.u8() % 20);
			break;
		case fmt::kServe: {
			const int wait = in.u8() % 20;
			const uint8_t how = in.u8();
			peer.serve(wait, how, in.u16());
			break;
		}
		case fmt::kSendRaw: {
			auto b = in.bytes(in.u16() % 9000);
			peer.write(b.data(), b.size());
			break;
		}
		case fmt::kSendFrame: {
			std::vector<uint8_t> b;
			const uint16_t type = in.u16() % 10;
			const uint64_t tag = in.u64() % 64;
			append_frame(b, type, tag, in.u16() % (VSST_SIM_MAX_PAYLOAD + 64), in);
			peer.write(b.data(), b.size());
			break;
		}
		case fmt::kClose:
			peer.close();
			break;
		case fmt::kStall: {
			// At most kStallBudgetMs per input: more finds nothing new (the
			// timers are 30 ms) and only slows the fuzzer down.
			const int ms = std::min<int>(in.u8() % 40, stall_left_ms);
			stall_left_ms -= ms;
			sleep_ms(ms);
			break;
		}
		case fmt::kCancel:
			++epoch;
			ledger.cancel_before(epoch);
			link.cancel(epoch);
			break;
		case fmt::kRestart:
			peer.restart(in.flag());
			break;
		}
	}
	// The simulator goes away for good: whatever is in flight must now end,
	// by the link's own timers and its loss of the connection.
	peer.restart(false);
	const bool settled = ledger.settle(kSettleBound);
	FUZZ_CHECK(settled, "%zu forwarded requests still unanswered %lld ms after the simulator left",
		   ledger.open(),
		   static_cast<long long>(
			   std::chrono::duration_cast<std::chrono::milliseconds>(kSettleBound).count()));
	ledger.check_final();
	return 0;
}
