// SPDX-License-Identifier: Apache-2.0
// Fuzz target rpc_ring: the RPC channel's ring consumers and message decoder
// fed arbitrary shared-memory contents.
//
// Each input creates a channel, attaches both roles through the C API (what
// QEMU uses), then interleaves API calls of both endpoints with a hostile
// peer's writes to the shared region (header, indices, slots, forged
// messages). See fuzz_formats.h (rpc_ring) for the format.
//
// Invariants (a violation aborts):
//  - no crash, no out-of-bounds access, no hang (every wait is timeout 0);
//  - every return code is one the API documents for that call;
//  - every message handed out by wait_request / recv_event passes the
//    decoder for its ring (validate() == None);
//  - a poisoned endpoint has a printable, terminated reason, and every call
//    afterwards returns -EPIPE; a healthy one reports "";
//  - while nobody wrote to the region behind the API's back, the channel
//    behaves like two FIFOs: requests and events arrive exactly as sent, in
//    order, and the channel never poisons unless asked to;
//  - when the only interference is forged completions, any completion that
//    is not exactly the answer to a request still outstanding (wrong slot,
//    token, address, size, direction, a duplicate) poisons the proxy once it
//    reads it, provided its token is one the device has already seen (a
//    larger token may belong to a request still in the ring or not yet made
//    by the time the proxy reads the forgery).
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "fuzz_formats.h"
#include "fuzz_support.h"
#include "vsst/rpc.h"
#include "vsst/rpc/channel.hpp"
#include "vsst/rpc/layout.hpp"
#include "vsst/rpc/message.hpp"

namespace {

using namespace vsst::rpc;
using vsst::fuzz::ByteReader;
namespace ops = vsst::fuzz::rpc_ring;

constexpr int kMaxSteps = 256;
// VSST_FUZZ_TRACE=1: print each operation (for triaging a crash input).
const bool g_trace = std::getenv("VSST_FUZZ_TRACE") != nullptr;

Message from_c(const vsst_rpcmsg &m)
{
	return Message::from_c(m);
}

// Fields a request keeps on its way to the device (slot and token are the proxy's).
bool same_request(const Message &a, const Message &b)
{
	if (a.op() == Op::Mmio && !a.posted())
		return a.op_raw() == b.op_raw() && a.as() == b.as() && a.len() == b.len() &&
		       a.dir() == b.dir() && !b.posted() && a.mr1 == b.mr1 && a.mr2 == b.mr2;
	return a == b;
}

class Session {
public:
	bool init(ByteReader &in)
	{
		const uint32_t cap = 2u << (in.u8() % 6);
		spin_us_ = in.u8() % 4;
		vsst_rpc_params p{cap, spin_us_};
		char err[256];
		if (vsst_rpc_create(&p, &fds_, err, sizeof err) != 0)
			return false;
		size_ = layout::region_size(cap);
		void *m = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fds_.region, 0);
		FUZZ_CHECK(m != MAP_FAILED, "mmap of a fresh region failed");
		region_ = static_cast<uint8_t *>(m);
		cap_ = cap;
		proxy_ = attach(VSST_RPC_ROLE_PROXY);
		dev_ = attach(VSST_RPC_ROLE_DEVICE);
		FUZZ_CHECK(proxy_ && dev_, "attaching to a fresh channel failed");
		return true;
	}

	~Session()
	{
		vsst_rpc_close(proxy_);
		vsst_rpc_close(dev_);
		if (region_)
			::munmap(region_, size_);
		for (int fd : {fds_.region, fds_.to_device, fds_.to_proxy})
			if (fd >= 0)
				::close(fd);
	}

	void step(ByteReader &in)
	{
		const unsigned op = in.u8() % ops::kCount;
		if (g_trace)
			std::fprintf(stderr, "op %u (tampered %d, forged-only %d)\n", op, tampered_,
				     only_forged_completions_);
		switch (op) {
		case ops::kRawWrite:
			raw_write(in);
			break;
		case ops::kSetProd:
			set_index(in, true);
			break;
		case ops::kSetCons:
			set_index(in, false);
			break;
		case ops::kForgeMessage:
			forge_message(in);
			break;
		case ops::kForgeCompletion:
			forge_completion(in);
			break;
		case ops::kDevWait:
			dev_wait();
			break;
		case ops::kDevComplete:
			dev_complete(in);
			break;
		case ops::kProxyRecvEvent:
			proxy_recv_event(false);
			break;
		case ops::kProxyMmio:
			proxy_mmio(in);
			break;
		case ops::kProxyPost:
			proxy_post(in);
			break;
		case ops::kDevSendEvent:
			dev_send_event(in);
			break;
		case ops::kProxySend:
			proxy_send(in);
			break;
		case ops::kPoison:
			poison(in);
			break;
		case ops::kReattach:
			reattach(in);
			break;
		case ops::kProxyWaitEvent:
			proxy_recv_event(true);
			break;
		}
	}

	void finish()
	{
		for (vsst_rpc *ch : {proxy_, dev_}) {
			if (!ch)
				continue;
			const char *why = vsst_rpc_poison_reason(ch);
			if (vsst_rpc_poisoned(ch)) {
				FUZZ_CHECK(vsst::fuzz::sane_text(why, layout::kReasonMax),
					   "poisoned endpoint with an unprintable or empty reason");
			} else {
				FUZZ_CHECK(why && why[0] == '\0', "healthy endpoint reports a reason: %s",
					   why);
			}
		}
		if (only_forged_completions_ && expect_proxy_poison_ && proxy_) {
			// Make the proxy read its completions ring: a kick on its
			// doorbell, then recv_event, which passes completions on.
			const uint64_t one = 1;
			FUZZ_CHECK(::write(fds_.to_proxy, &one, sizeof one) == sizeof one, "kick failed");
			// recv_event looks at completions once the events ring is empty.
			vsst_rpcmsg ev;
			for (uint32_t i = 0; i <= cap_ && vsst_rpc_proxy_recv_event(proxy_, &ev) == 1; ++i) {
			}
			FUZZ_CHECK(vsst_rpc_poisoned(proxy_),
				   "the proxy accepted a forged completion that answers no "
				   "outstanding request");
		}
		if (!tampered_ && !asked_to_poison_) {
			for (vsst_rpc *ch : {proxy_, dev_})
				FUZZ_CHECK(!ch || !vsst_rpc_poisoned(ch) || lost_slots(ch),
					   "API-only traffic poisoned the channel: %s",
					   vsst_rpc_poison_reason(ch));
		}
		// Once poisoned, every call fails with -EPIPE.
		if (dev_ && vsst_rpc_poisoned(dev_)) {
			vsst_rpcmsg m;
			const int r = vsst_rpc_dev_wait_request(dev_, &m, 0);
			FUZZ_CHECK(r == -EPIPE, "poisoned device endpoint: wait_request returned %d", r);
		}
		if (proxy_ && vsst_rpc_poisoned(proxy_)) {
			vsst_rpcmsg m;
			const int r = vsst_rpc_proxy_recv_event(proxy_, &m);
			FUZZ_CHECK(r == -EPIPE, "poisoned proxy endpoint: recv_event returned %d", r);
			uint64_t d = 0;
			const int w = vsst_rpc_proxy_mmio(proxy_, VSST_RPC_AS_GLOBAL, 0x1000, 4, 0, &d, 0);
			FUZZ_CHECK(w == -EPIPE, "poisoned proxy endpoint: mmio returned %d", w);
		}
	}

private:
	vsst_rpc *attach(vsst_rpc_role role)
	{
		char err[256];
		vsst_rpc *ch = vsst_rpc_attach(&fds_, role, err, sizeof err);
		if (ch)
			vsst_rpc_set_spin_us(ch, spin_us_);
		return ch;
	}

	layout::RingControl *control(unsigned ring) const
	{
		return reinterpret_cast<layout::RingControl *>(region_ + layout::ring_offset(ring % 3, cap_));
	}
	Message *slots(unsigned ring) const
	{
		return reinterpret_cast<Message *>(reinterpret_cast<uint8_t *>(control(ring)) +
						   sizeof(layout::RingControl));
	}

	void raw_write(ByteReader &in)
	{
		const size_t off = in.u16() % size_;
		const size_t len = in.u8();
		auto b = in.bytes(std::min(len, size_ - off));
		if (!b.empty())
			std::memcpy(region_ + off, b.data(), b.size());
		tamper();
	}

	void set_index(ByteReader &in, bool prod)
	{
		layout::RingControl *c = control(in.u8());
		const uint32_t v = in.u32();
		__atomic_store_n(prod ? &c->prod : &c->cons, v, __ATOMIC_RELEASE);
		tamper();
	}

	void publish(unsigned ring, const Message &m)
	{
		layout::RingControl *c = control(ring);
		const uint32_t prod = __atomic_load_n(&c->prod, __ATOMIC_ACQUIRE);
		std::memcpy(&slots(ring)[prod & (cap_ - 1)], &m, sizeof m);
		__atomic_store_n(&c->prod, prod + 1, __ATOMIC_RELEASE);
		tampered_ = true;
	}

	// Any interference other than forged completions ends the completion model.
	void tamper()
	{
		tampered_ = true;
		only_forged_completions_ = false;
	}

	void forge_message(ByteReader &in)
	{
		const unsigned ring = in.u8() % 3;
		Message m;
		in.fill(&m, sizeof m);
		publish(ring, m);
		tamper();
	}

	// A completion for a request the device saw (or a made-up one), with one
	// word optionally corrupted: exercises the proxy's stateful checks.
	void forge_completion(ByteReader &in)
	{
		const uint8_t pick = in.u8();
		const uint8_t field = in.u8();
		const uint64_t flip = in.u64();
		const uint64_t data = in.u64();
		const bool error = in.flag();
		Message req = seen_.empty()
				      ? mmio_request(pick % kMaxSlots, kAsGlobal, 0x1000, 4, Dir::Read, 0, 1)
				      : seen_[pick % seen_.size()];
		Message c = mmio_completion(req, data, error);
		(&c.mr0)[field % 4] ^= (field & 4) ? flip : 0;
		publish(static_cast<unsigned>(Ring::Completions), c);
		forged_ = true;
		// Faithful: exactly the answer to a request still outstanding.
		auto it = outstanding_.find(c.slot());
		const bool faithful = it != outstanding_.end() &&
				      validate(c, Ring::Completions) == DecodeError::None &&
				      (c.mr0 & ~VSST_RPC_MR0_ERROR) == mmio_completion(it->second, 0).mr0 &&
				      c.mr1 == it->second.mr1 && c.mr3 == it->second.mr3;
		if (g_trace)
			std::fprintf(stderr,
				     "  forged completion mr0=%#llx mr1=%#llx mr2=%#llx mr3=%#llx: %s\n",
				     static_cast<unsigned long long>(c.mr0),
				     static_cast<unsigned long long>(c.mr1),
				     static_cast<unsigned long long>(c.mr2),
				     static_cast<unsigned long long>(c.mr3),
				     faithful ? "faithful" : "should poison");
		if (faithful)
			outstanding_.erase(it);
		else if (c.token() != 0 && c.token() <= max_seen_token_)
			expect_proxy_poison_ = true;
		// Otherwise the verdict depends on when the proxy reads it: the
		// proxy numbers its requests 1, 2, ... and a request the device has
		// not seen yet (or one the proxy has yet to make) may own exactly
		// this slot and token by then, making the forgery a valid answer.
	}

	void dev_wait()
	{
		if (!dev_)
			return;
		vsst_rpcmsg cm;
		const int r = vsst_rpc_dev_wait_request(dev_, &cm, 0);
		FUZZ_CHECK(r == 1 || r == -ETIMEDOUT || r == -EPIPE, "dev_wait_request returned %d", r);
		if (r != 1)
			return;
		const Message m = from_c(cm);
		if (g_trace)
			std::fprintf(stderr, "  device got mr0=%#llx mr1=%#llx mr2=%#llx mr3=%#llx\n",
				     static_cast<unsigned long long>(m.mr0),
				     static_cast<unsigned long long>(m.mr1),
				     static_cast<unsigned long long>(m.mr2),
				     static_cast<unsigned long long>(m.mr3));
		FUZZ_CHECK(validate(m, Ring::Requests) == DecodeError::None,
			   "device received an invalid request: %s (mr0=%#llx)",
			   to_string(validate(m, Ring::Requests)), static_cast<unsigned long long>(m.mr0));
		if (!tampered_) {
			FUZZ_CHECK(!expected_requests_.empty(),
				   "device received a request nobody sent (mr0=%#llx)",
				   static_cast<unsigned long long>(m.mr0));
			FUZZ_CHECK(
				same_request(expected_requests_.front(), m),
				"requests out of order or altered: got mr0=%#llx mr1=%#llx, expected mr0=%#llx mr1=%#llx",
				static_cast<unsigned long long>(m.mr0),
				static_cast<unsigned long long>(m.mr1),
				static_cast<unsigned long long>(expected_requests_.front().mr0),
				static_cast<unsigned long long>(expected_requests_.front().mr1));
			expected_requests_.pop_front();
		}
		if (m.op() == Op::Mmio && !m.posted()) {
			max_seen_token_ = std::max(max_seen_token_, m.token());
			inflight_.push_back(m);
			outstanding_[m.slot()] = m;
			if (seen_.size() < 64)
				seen_.push_back(m);
		}
	}

	void dev_complete(ByteReader &in)
	{
		if (!dev_)
			return;
		const uint8_t pick = in.u8();
		const uint8_t mode = in.u8();
		const uint64_t data = in.u64();
		// After a forgery the device's own completions would overwrite forged
		// slots (its producer index is private): it stays quiet from then on.
		if (forged_)
			return;
		if (inflight_.empty() || (mode & 4)) {
			// Not an in-flight request: must be refused, never sent.
			Message bogus = mmio_request(pick % kMaxSlots, kAsGlobal, data & 0xfff0, 4, Dir::Read,
						     0, data);
			const vsst_rpcmsg c = bogus.to_c();
			const auto known = std::find(inflight_.begin(), inflight_.end(), bogus);
			const int r = (mode & 1) ? vsst_rpc_dev_complete_error(dev_, &c, 0)
						 : vsst_rpc_dev_complete(dev_, &c, data, 0);
			if (known == inflight_.end())
				FUZZ_CHECK(r == -EINVAL || r == -EPIPE,
					   "completing a request never received returned %d", r);
			else if (r == 0 || r == -EPIPE)
				// The made-up message is one the device holds: it
				// was completed like any other.
				forget(known);
			return;
		}
		const size_t i = pick % inflight_.size();
		const vsst_rpcmsg c = inflight_[i].to_c();
		const int r = (mode & 1) ? vsst_rpc_dev_complete_error(dev_, &c, 0)
					 : vsst_rpc_dev_complete(dev_, &c, data, 0);
		FUZZ_CHECK(r == 0 || r == -ETIMEDOUT || r == -EPIPE, "dev_complete returned %d", r);
		if (r == 0 || r == -EPIPE)
			forget(inflight_.begin() + static_cast<ptrdiff_t>(i));
		if (r == 0) {
			// A second completion of the same request must be refused.
			const int again = vsst_rpc_dev_complete(dev_, &c, data, 0);
			FUZZ_CHECK(again == -EINVAL || again == -EPIPE,
				   "second completion of one request returned %d", again);
		}
	}

	// The documented poison of a device VM that leaves half the request
	// slots unanswered (rpc/README.md): allowed once that many calls timed out.
	bool lost_slots(vsst_rpc *ch) const
	{
		static constexpr char kWhy[] = "requests ring: the device VM never answered";
		return unanswered_ >= kMaxSlots / 2 &&
		       std::strncmp(vsst_rpc_poison_reason(ch), kWhy, sizeof kWhy - 1) == 0;
	}

	// A request the device has completed (or can no longer complete).
	void forget(std::vector<Message>::iterator it)
	{
		auto o = outstanding_.find(it->slot());
		if (o != outstanding_.end() && o->second == *it)
			outstanding_.erase(o);
		inflight_.erase(it);
	}

	void proxy_recv_event(bool wait)
	{
		if (!proxy_)
			return;
		vsst_rpcmsg cm;
		const int r = wait ? vsst_rpc_proxy_wait_event(proxy_, &cm, 0)
				   : vsst_rpc_proxy_recv_event(proxy_, &cm);
		if (wait)
			FUZZ_CHECK(r == 1 || r == -ETIMEDOUT || r == -EPIPE, "proxy_wait_event returned %d",
				   r);
		else
			FUZZ_CHECK(r == 1 || r == 0 || r == -EPIPE, "proxy_recv_event returned %d", r);
		if (r != 1)
			return;
		const Message m = from_c(cm);
		FUZZ_CHECK(validate(m, Ring::Events) == DecodeError::None,
			   "proxy received an invalid event: %s (mr0=%#llx)",
			   to_string(validate(m, Ring::Events)), static_cast<unsigned long long>(m.mr0));
		if (!tampered_) {
			FUZZ_CHECK(!expected_events_.empty() && expected_events_.front() == m,
				   "events out of order, altered or invented (mr0=%#llx)",
				   static_cast<unsigned long long>(m.mr0));
			expected_events_.pop_front();
		}
	}

	static unsigned pick_as(uint8_t v)
	{
		switch (v % 4) {
		case 0:
			return VSST_RPC_AS_GLOBAL;
		case 1:
			return VSST_RPC_AS_IOPORT;
		case 2:
			return v >> 2; // a PCI device's config space, or an invalid space
		}
		return 0xf0 + (v >> 4); // 0xf0..0xff: mostly reserved
	}

	uint64_t sent_requests() const
	{
		vsst_rpc_stats s{};
		vsst_rpc_get_stats(proxy_, &s);
		return s.sent;
	}

	void proxy_mmio(ByteReader &in)
	{
		const unsigned as = pick_as(in.u8());
		const uint64_t addr = in.u64();
		const unsigned len = in.u8() % 10;
		const unsigned dir = in.u8() & 1;
		uint64_t data = in.u64();
		const int timeout = (in.u8() % 8 == 7 && slow_calls_++ < 2) ? 1 : 0;
		if (!proxy_)
			return;
		const Message shape = mmio_request(0, as, addr, len, static_cast<Dir>(dir),
						   dir ? (data & len_mask(len)) : 0, 0);
		const bool valid = len <= 8 && validate(shape, Ring::Requests) == DecodeError::None;
		const uint64_t before = sent_requests();
		const int r = vsst_rpc_proxy_mmio(proxy_, as, addr, len, dir, &data, timeout);
		if (g_trace)
			std::fprintf(stderr, "  mmio as %#x addr %#llx len %u dir %u timeout %d: %d\n", as,
				     static_cast<unsigned long long>(addr), len, dir, timeout, r);
		FUZZ_CHECK(r == 0 || r == -EIO || r == -ETIMEDOUT || r == -EBUSY || r == -EPIPE ||
				   r == -EINVAL,
			   "proxy_mmio returned %d", r);
		FUZZ_CHECK(valid || r == -EINVAL,
			   "an invalid access (as %#x addr %#llx len %u) was not refused: %d", as,
			   static_cast<unsigned long long>(addr), len, r);
		FUZZ_CHECK(!valid || r != -EINVAL, "a valid access (as %#x addr %#llx len %u) was refused",
			   as, static_cast<unsigned long long>(addr), len);
		if (sent_requests() != before && (r == -ETIMEDOUT || r == -EPIPE))
			++unanswered_;
		if (!tampered_ && sent_requests() != before) {
			FUZZ_CHECK(sent_requests() == before + 1, "one mmio sent several messages");
			expected_requests_.push_back(shape);
		}
		if (!tampered_ && r == 0)
			FUZZ_CHECK(false, "mmio completed although nobody answered it");
	}

	void proxy_post(ByteReader &in)
	{
		const unsigned as = pick_as(in.u8());
		const uint64_t addr = in.u64();
		const unsigned len = in.u8() % 10;
		const uint64_t data = in.u64();
		if (!proxy_)
			return;
		const Message shape = mmio_posted_write(as, addr, len, data & len_mask(len));
		const bool valid = len <= 8 && validate(shape, Ring::Requests) == DecodeError::None;
		const int r = vsst_rpc_proxy_post(proxy_, as, addr, len, data, 0);
		FUZZ_CHECK(r == 0 || r == -ETIMEDOUT || r == -EPIPE || r == -EINVAL, "proxy_post returned %d",
			   r);
		FUZZ_CHECK(valid == (r != -EINVAL), "posted write validity mismatch: valid=%d rc=%d", valid,
			   r);
		if (!tampered_ && r == 0)
			expected_requests_.push_back(shape);
	}

	void dev_send_event(ByteReader &in)
	{
		const uint8_t kind = in.u8();
		const uint64_t a = in.u64(), b = in.u64(), c = in.u64();
		Message ev;
		switch (kind % 16) {
		case 0:
			ev = set_irq(a & 0xff, static_cast<unsigned>(b % 4));
			break;
		case 1:
			ev = start_vm();
			break;
		case 2:
			ev = register_pci_dev(a & 0xff, static_cast<uint16_t>(b),
					      static_cast<uint16_t>(b >> 16), static_cast<uint32_t>(c));
			break;
		case 3:
			ev = mmio_region_config(a, b, c & 3);
			break;
		case 4:
			ev = msi(a, static_cast<uint32_t>(b), c & 0xff);
			break;
		case 5:
			ev = hello(a, b);
			break;
		case 6:
			ev = stop(a);
			break;
		case 7:
			ev = set_irq(a, static_cast<unsigned>(b));
			break;
		default:
			ev = Message{a, b, c, kind};
			break;
		}
		if (!dev_)
			return;
		const bool valid = validate(ev, Ring::Events) == DecodeError::None;
		const vsst_rpcmsg cm = ev.to_c();
		const int r = vsst_rpc_dev_send_event(dev_, &cm, 0);
		FUZZ_CHECK(r == 0 || r == -ETIMEDOUT || r == -EPIPE || r == -EINVAL,
			   "dev_send_event returned %d", r);
		FUZZ_CHECK(valid == (r != -EINVAL), "event validity mismatch: valid=%d rc=%d (mr0=%#llx)",
			   valid, r, static_cast<unsigned long long>(ev.mr0));
		if (!tampered_ && r == 0)
			expected_events_.push_back(ev);
	}

	void proxy_send(ByteReader &in)
	{
		const uint8_t kind = in.u8();
		const uint64_t a = in.u64(), b = in.u64();
		Message m = (kind % 3 == 0)   ? hello(a, b)
			    : (kind % 3 == 1) ? stop(a)
					      : Message{kind, a, b, 0};
		if (!proxy_)
			return;
		const bool valid = (m.op() == Op::Hello || m.op() == Op::Stop) &&
				   validate(m, Ring::Requests) == DecodeError::None;
		const vsst_rpcmsg cm = m.to_c();
		const int r = vsst_rpc_proxy_send(proxy_, &cm, 0);
		FUZZ_CHECK(r == 0 || r == -ETIMEDOUT || r == -EPIPE || r == -EINVAL, "proxy_send returned %d",
			   r);
		FUZZ_CHECK(valid == (r != -EINVAL), "control message validity mismatch: valid=%d rc=%d",
			   valid, r);
		if (!tampered_ && r == 0)
			expected_requests_.push_back(m);
	}

	void poison(ByteReader &in)
	{
		const bool device = in.flag();
		auto b = in.bytes(in.u8());
		std::string reason(b.begin(), b.end());
		vsst_rpc *ch = device ? dev_ : proxy_;
		if (!ch)
			return;
		vsst_rpc_poison(ch, reason.c_str());
		asked_to_poison_ = true;
		FUZZ_CHECK(vsst_rpc_poisoned(ch), "poison() did not poison");
		FUZZ_CHECK(vsst::fuzz::sane_text(vsst_rpc_poison_reason(ch), layout::kReasonMax),
			   "unprintable poison reason after poison()");
	}

	void reattach(ByteReader &in)
	{
		const bool device = in.flag();
		vsst_rpc *&ch = device ? dev_ : proxy_;
		vsst_rpc_close(ch);
		ch = attach(device ? VSST_RPC_ROLE_DEVICE : VSST_RPC_ROLE_PROXY);
		only_forged_completions_ = false;
		if (device)
			inflight_.clear();
		else
			unanswered_ = 0; // a new proxy starts with no lost slots
		// A new endpoint starts with fresh local state (slots, tokens): the
		// FIFO model no longer applies.
		tampered_ = true;
	}

	vsst_rpc_fds fds_{-1, -1, -1};
	uint8_t *region_ = nullptr;
	size_t size_ = 0;
	uint32_t cap_ = 0;
	uint32_t spin_us_ = 0;
	vsst_rpc *proxy_ = nullptr;
	vsst_rpc *dev_ = nullptr;
	bool tampered_ = false;
	bool asked_to_poison_ = false;
	bool only_forged_completions_ = true; // no interference but forged completions
	bool forged_ = false;
	bool expect_proxy_poison_ = false;
	std::map<unsigned, Message> outstanding_; // by slot: seen by the device, not answered
	int slow_calls_ = 0;
	uint64_t max_seen_token_ = 0; // requests arrive in token order: smaller tokens are never reissued
	std::deque<Message> expected_requests_, expected_events_;
	std::vector<Message> inflight_; // received by the device, not completed
	uint32_t unanswered_ = 0;       // proxy calls whose request got no answer in time
	std::vector<Message> seen_;     // every non-posted request the device received
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ByteReader in(data, size);
	Session s;
	if (!s.init(in))
		return 0; // out of fds/memory: not the code under test
	for (int i = 0; i < kMaxSteps && !in.empty(); ++i)
		s.step(in);
	s.finish();
	return 0;
}
