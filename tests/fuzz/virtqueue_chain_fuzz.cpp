// SPDX-License-Identifier: Apache-2.0
// Fuzz target virtqueue_chain: split-virtqueue handling of descriptor chains
// and used rings (guest-driver/lib SplitVirtqueue, the driver side) against a
// device that may write anything into the ring memory it shares with the
// driver: descriptor table, avail ring, used ring, indices.
//
// The project has no device-side descriptor-chain walker of its own (the
// device VM uses QEMU's virtqueue_pop); the driver side is what parses
// device-written memory here, and what builds the chains a device walks.
//
// Invariants (a violation aborts):
//  - add_buffer's answer follows its contract (broken / invalid: empty list,
//    zero length, address wrap, > 4 GiB writable / no space / ok);
//  - every chain it publishes is well formed in the descriptor table, read
//    back the way a device would: the buffers given, in order, device-
//    writable flags on the in part, NEXT links inside the table, no loop,
//    the head in the avail ring at the published index;
//  - get_buffer hands back only chains in flight, each once, with a length
//    no larger than the chain's writable bytes; descriptors are conserved
//    (free + in flight == size);
//  - a queue, once broken, stays broken and hands out nothing more;
//  - against an honest device (completions written properly, nothing
//    else touched) the queue never breaks and returns chains in completion
//    order with their exact lengths.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <vector>

#include "fuzz_formats.h"
#include "fuzz_support.h"
#include "vsst/virtio/error.h"
#include "vsst/virtio/region_allocator.h"
#include "vsst/virtio/spec.h"
#include "vsst/virtio/virtqueue.h"

namespace {

using namespace vsst::virtio;
using vsst::fuzz::ByteReader;
namespace ops = vsst::fuzz::virtqueue_chain;

constexpr int kMaxSteps = 512;
constexpr uint64_t kRamGpa = 0x100000;
constexpr size_t kRamSize = 64 * 1024;

struct Chain {
	uint64_t token = 0;
	uint64_t writable = 0;
	uint16_t ndesc = 0;
};

struct FreeDeleter {
	void operator()(std::byte *p) const { std::free(p); }
};

class Session {
public:
	void init(ByteReader &in)
	{
		size_ = static_cast<uint16_t>(1u << (in.u8() % 9));
		event_idx_ = in.flag();
		ram_.reset(static_cast<std::byte *>(std::aligned_alloc(4096, kRamSize)));
		FUZZ_CHECK(ram_, "out of memory");
		alloc_ = std::make_unique<RegionAllocator>(ram_.get(), kRamGpa, kRamSize);
		vq_ = std::make_unique<SplitVirtqueue>(*alloc_, 0, size_, event_idx_, [this](uint16_t q) {
			FUZZ_CHECK(q == 0, "notified queue %u", q);
			++notifies_;
		});
		FUZZ_CHECK(vq_->free_descriptors() == size_ && vq_->in_flight() == 0,
			   "fresh queue is not empty");
	}

	void step(ByteReader &in)
	{
		switch (in.u8() % ops::kCount) {
		case ops::kAdd:
			add(in);
			break;
		case ops::kUsedElem: {
			const uint16_t slot = in.u16();
			const uint32_t id = in.u32(), len = in.u32();
			put_used_elem(slot, id, len);
			honest_ = false;
			break;
		}
		case ops::kUsedIdx: {
			const uint16_t idx = in.u16();
			std::memcpy(vq_->used_area() + 2, &idx, 2);
			honest_ = false;
			break;
		}
		case ops::kComplete:
			complete(in);
			break;
		case ops::kRawWrite:
			raw_write(in);
			break;
		case ops::kGet:
			get();
			break;
		case ops::kKick:
			vq_->kick();
			break;
		case ops::kDisableCb:
			vq_->disable_cb();
			break;
		case ops::kEnableCb: {
			const bool pending = vq_->enable_cb();
			FUZZ_CHECK(!pending || !vq_->broken(), "a broken queue reports pending buffers");
			break;
		}
		}
		check_state();
	}

	void finish()
	{
		// Drain what an honest device completed.
		while (vq_->has_used())
			get();
		if (honest_)
			FUZZ_CHECK(completed_.empty(), "%zu honest completions never returned",
				   completed_.size());
		check_state();
	}

private:
	size_t desc_bytes() const { return sizeof(SplitVirtqueue::Desc) * size_; }
	size_t avail_bytes() const { return 4 + 2u * size_ + 2; }
	size_t used_bytes() const { return 4 + 8u * size_ + 2; }

	void put_used_elem(uint16_t slot, uint32_t id, uint32_t len)
	{
		std::byte *e = vq_->used_area() + 4 + 8u * (slot % size_);
		std::memcpy(e, &id, 4);
		std::memcpy(e + 4, &len, 4);
	}

	void add(ByteReader &in)
	{
		const size_t nout = in.u8() % 5, nin = in.u8() % 5;
		std::vector<BufferRef> out(nout), inb(nin);
		bool invalid = nout + nin == 0;
		uint64_t writable = 0;
		for (auto *list : {&out, &inb})
			for (BufferRef &b : *list) {
				b.gpa = in.u64();
				b.len = in.u32();
				invalid |= b.len == 0 || b.gpa + b.len < b.gpa;
				if (list == &inb)
					writable += b.len;
			}
		invalid |= writable > UINT32_MAX;
		const uint64_t token = next_token_++;
		const bool was_broken = vq_->broken();
		const uint16_t free_before = vq_->free_descriptors();
		const AddResult r = vq_->add_buffer(out, inb, token);
		AddResult want = AddResult::kOk;
		if (was_broken)
			want = AddResult::kBroken;
		else if (invalid)
			want = AddResult::kInvalid;
		else if (nout + nin > free_before)
			want = AddResult::kNoSpace;
		FUZZ_CHECK(r == want, "add_buffer(%zu out, %zu in) returned %d, expected %d (free %u)", nout,
			   nin, static_cast<int>(r), static_cast<int>(want), free_before);
		if (r != AddResult::kOk) {
			FUZZ_CHECK(vq_->free_descriptors() == free_before,
				   "a refused add_buffer consumed descriptors");
			return;
		}
		++avail_idx_;
		// Read the chain back as a device would.
		const uint16_t *avail = vq_->avail_words();
		FUZZ_CHECK(avail[1] == avail_idx_, "avail idx %u, expected %u", avail[1], avail_idx_);
		const uint16_t head = avail[2 + (avail_idx_ - 1) % size_];
		FUZZ_CHECK(head < size_, "avail ring names descriptor %u of %u", head, size_);
		FUZZ_CHECK(!inflight_.count(head), "head %u published while its chain is still in flight",
			   head);
		const SplitVirtqueue::Desc *table = vq_->desc_table();
		std::vector<bool> visited(size_);
		uint16_t d = head;
		size_t k = 0;
		for (auto *list : {&out, &inb})
			for (const BufferRef &b : *list) {
				FUZZ_CHECK(d < size_ && !visited[d],
					   "chain from head %u loops or leaves the table at %u", head, d);
				visited[d] = true;
				const SplitVirtqueue::Desc &e = table[d];
				const bool last = ++k == nout + nin;
				const uint16_t flags = static_cast<uint16_t>(
					(list == &inb ? ring::kDescWrite : 0) | (last ? 0 : ring::kDescNext));
				FUZZ_CHECK(
					e.addr == b.gpa && e.len == b.len && e.flags == flags,
					"descriptor %u of the chain: addr %#llx len %u flags %#x, expected %#llx %u %#x",
					d, static_cast<unsigned long long>(e.addr), e.len, e.flags,
					static_cast<unsigned long long>(b.gpa), b.len, flags);
				d = e.next;
			}
		inflight_[head] = Chain{token, writable, static_cast<uint16_t>(nout + nin)};
		pending_heads_.push_back(head);
	}

	// An honest device completes one chain it has seen in the avail ring.
	void complete(ByteReader &in)
	{
		const uint8_t pick = in.u8();
		const uint32_t len = in.u32();
		if (pending_heads_.empty())
			return;
		const size_t i = pick % pending_heads_.size();
		const uint16_t head = pending_heads_[i];
		pending_heads_.erase(pending_heads_.begin() + static_cast<ptrdiff_t>(i));
		const Chain &c = inflight_.at(head);
		const uint32_t n = static_cast<uint32_t>(len % (c.writable + 1));
		put_used_elem(dev_used_, head, n);
		++dev_used_;
		std::memcpy(vq_->used_area() + 2, &dev_used_, 2);
		completed_.push_back({c.token, n});
	}

	void raw_write(ByteReader &in)
	{
		const uint8_t area = in.u8() % 3;
		std::byte *base = area == 0   ? reinterpret_cast<std::byte *>(vq_->desc_table())
				  : area == 1 ? reinterpret_cast<std::byte *>(vq_->avail_words())
					      : vq_->used_area();
		const size_t size = area == 0 ? desc_bytes() : area == 1 ? avail_bytes() : used_bytes();
		const size_t off = in.u16() % size;
		auto b = in.bytes(std::min<size_t>(in.u8(), size - off));
		if (!b.empty())
			std::memcpy(base + off, b.data(), b.size());
		// The driver never reads back its own descriptor table or avail
		// ring, so only used-ring writes make the device dishonest.
		if (area == 2)
			honest_ = false;
	}

	void get()
	{
		const bool was_broken = vq_->broken();
		auto u = vq_->get_buffer();
		if (was_broken)
			FUZZ_CHECK(!u && vq_->broken(), "a broken queue handed out a buffer");
		if (honest_) {
			FUZZ_CHECK(!vq_->broken(), "an honest device broke the queue: %s",
				   vq_->broken_reason().c_str());
			if (completed_.empty()) {
				FUZZ_CHECK(!u, "buffer returned that the device never completed");
			} else {
				FUZZ_CHECK(u && u->token == completed_.front().token &&
						   u->len == completed_.front().len,
					   "honest completion lost or reordered");
				completed_.pop_front();
			}
		}
		if (vq_->broken())
			FUZZ_CHECK(!vq_->broken_reason().empty(), "broken queue without a reason");
		if (!u)
			return;
		auto it = inflight_.begin();
		for (; it != inflight_.end() && it->second.token != u->token; ++it) {
		}
		FUZZ_CHECK(it != inflight_.end(), "get_buffer returned token %llu, which is not in flight",
			   static_cast<unsigned long long>(u->token));
		FUZZ_CHECK(u->len <= it->second.writable,
			   "used len %u exceeds the chain's %llu writable bytes", u->len,
			   static_cast<unsigned long long>(it->second.writable));
		std::erase(pending_heads_, it->first);
		inflight_.erase(it);
	}

	void check_state()
	{
		size_t ndesc = 0;
		for (const auto &[head, c] : inflight_)
			ndesc += c.ndesc;
		FUZZ_CHECK(vq_->free_descriptors() + ndesc == size_,
			   "descriptors lost: %u free + %zu in flight != %u", vq_->free_descriptors(), ndesc,
			   size_);
		FUZZ_CHECK(vq_->in_flight() == inflight_.size(), "queue counts %u in flight, model %zu",
			   vq_->in_flight(), inflight_.size());
		if (was_broken_)
			FUZZ_CHECK(vq_->broken(), "a broken queue recovered by itself");
		was_broken_ = vq_->broken();
		if (was_broken_)
			FUZZ_CHECK(!vq_->has_used(), "a broken queue reports used buffers");
	}

	std::unique_ptr<std::byte, FreeDeleter> ram_;
	std::unique_ptr<RegionAllocator> alloc_;
	std::unique_ptr<SplitVirtqueue> vq_;
	uint16_t size_ = 1;
	bool event_idx_ = false;
	bool honest_ = true;
	bool was_broken_ = false;
	uint16_t avail_idx_ = 0;
	uint16_t dev_used_ = 0;
	uint64_t next_token_ = 1;
	uint64_t notifies_ = 0;
	std::map<uint16_t, Chain> inflight_;  // by head descriptor
	std::vector<uint16_t> pending_heads_; // in flight, not yet completed by the honest device
	std::deque<UsedBuffer> completed_;    // honest completions, in order
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
