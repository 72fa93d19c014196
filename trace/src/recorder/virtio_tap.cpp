// SPDX-License-Identifier: Apache-2.0
#include "virtio_tap.hpp"

#include <algorithm>

namespace vsst::trace {

namespace {

constexpr uint16_t kDescNext = 1, kDescWrite = 2, kDescIndirect = 4;
constexpr uint32_t kMaxIndirect = 4096;     // entries in one indirect table
constexpr uint64_t kMaxChainIn = 16u << 20; // device-writable bytes one chain may claim
// Chains remembered per head. A well-behaved driver has at most two: one
// used but not yet recorded, one made available again with the same head.
constexpr size_t kMaxChainsPerHead = 8;
// Estimated memory of the in-flight bookkeeping (TapLimits::inflight_bytes):
// a head's map node and deque (libstdc++ gives every deque a 512-byte block),
// a chain's vector, a segment.
constexpr uint64_t kHeadCost = 640, kChainCost = 32, kSegCost = 16;

#pragma pack(push, 1)
struct Desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
#pragma pack(pop)
static_assert(sizeof(Desc) == 16);

uint32_t cfg32(const std::array<uint8_t, 256> &c, unsigned off)
{
	uint32_t v;
	std::memcpy(&v, &c[off], 4);
	return v;
}

} // namespace

// The chains remembered for head id, oldest first; nullptr when none (an
// entry is erased when its last chain is used, so it is never empty).
std::deque<std::vector<VirtioTap::Seg>> *VirtioTap::chains_of(Queue &q, uint32_t id)
{
	const auto it = id < q.size ? q.inflight.find(static_cast<uint16_t>(id)) : q.inflight.end();
	return it == q.inflight.end() ? nullptr : &it->second;
}

VirtioTap::Dev &VirtioTap::dev(unsigned i)
{
	auto [it, fresh] = devs_.try_emplace(i);
	if (fresh)
		it->second.bar_type.fill(-1);
	return it->second;
}

void VirtioTap::anomaly(const std::string &what)
{
	anomalies_++;
	if (anomalies_ <= 100)
		w_.append(RecType::Note, 1, 0, {{what.data(), what.size()}});
}

void VirtioTap::begin_call()
{
	call_copied_ = 0;
}

void VirtioTap::end_call()
{
	max_call_bytes_ = std::max(max_call_bytes_, call_copied_);
}

// Whether n more bytes may be copied in this call.
bool VirtioTap::take_copy(uint64_t n)
{
	if (call_copied_ + n > limits_.call_bytes)
		return false;
	call_copied_ += n;
	return true;
}

void VirtioTap::remember(Queue &q, uint16_t head, std::vector<Seg> in)
{
	const bool fresh = !q.inflight.count(head);
	const uint64_t cost = (fresh ? kHeadCost : 0) + kChainCost + kSegCost * in.size();
	if (inflight_bytes_ + cost > limits_.inflight_bytes) {
		// Its used element will be recorded as of an unknown chain.
		anomaly("tap: in-flight budget spent; chain at head " + std::to_string(head) +
			" not remembered");
		return;
	}
	inflight_bytes_ += cost;
	q.inflight[head].push_back(std::move(in));
}

void VirtioTap::forget_front(Queue &q, uint16_t head)
{
	const auto it = q.inflight.find(head);
	if (it == q.inflight.end() || it->second.empty())
		return;
	inflight_bytes_ -= kChainCost + kSegCost * it->second.front().size();
	it->second.pop_front();
	if (it->second.empty()) {
		inflight_bytes_ -= kHeadCost;
		q.inflight.erase(it);
	}
}

// Records [gpa, gpa+len) as Mem records. False when a limit cut it short:
// the rest is counted as dropped, and the guest RAM is not read for it.
bool VirtioTap::mem(unsigned di, unsigned qi, uint64_t gpa, uint32_t len)
{
	while (len) {
		const uint32_t n = std::min(len, kMaxBlob);
		if (!w_.has_room(sizeof(MemHdr) + n) || !take_copy(n)) {
			w_.count_dropped(sizeof(MemHdr) + len);
			return false;
		}
		scratch_.resize(n);
		if (!ram_.read(gpa, scratch_.data(), n)) {
			anomaly("tap: buffer outside guest RAM at 0x" + std::to_string(gpa) + " (dev " +
				std::to_string(di) + " queue " + std::to_string(qi) + ")");
			return true;
		}
		MemHdr h{gpa, static_cast<uint8_t>(di), 0, static_cast<uint16_t>(qi), n};
		w_.append(RecType::Mem, 0, 0, {{&h, sizeof h}, {scratch_.data(), n}});
		gpa += n;
		len -= n;
	}
	return true;
}

void VirtioTap::on_message(int ring, const vsst_rpcmsg &m)
{
	begin_call();
	on_message_bounded(ring, m);
	end_call();
}

void VirtioTap::on_message_bounded(int ring, const vsst_rpcmsg &m)
{
	const unsigned op = vsst_rpc_mr0_op(m.mr0);
	if (ring == 0 || ring == 1) {
		if (op != VSST_RPC_OP_MMIO || (m.mr0 & VSST_RPC_MR0_ERROR))
			return;
		const unsigned as = vsst_rpc_mr0_as(m.mr0), len = vsst_rpc_mr0_len(m.mr0);
		const bool write = vsst_rpc_mr0_dir(m.mr0) == VSST_RPC_DIR_WRITE;
		// The channel validates what it delivers; an observer copy is
		// checked again rather than trusted (data is one 64-bit word).
		if (len == 0 || len > 8)
			return;
		// Writes act when requested, reads when their data comes back.
		if (write != (ring == 0))
			return;
		if (as == VSST_RPC_AS_GLOBAL)
			global_access(m.mr1, len, m.mr2, write, vsst_rpc_mr0_posted(m.mr0));
		else if (as < VSST_RPC_AS_PCI_LIMIT && as < kMaxDevs)
			config_access(as, m.mr1, len, m.mr2, write);
		return;
	}
	if (ring != 2)
		return;
	switch (op) {
	case VSST_RPC_OP_REGISTER_PCI_DEV: {
		if (m.mr1 >= kMaxDevs)
			return;
		Dev &d = dev(static_cast<unsigned>(m.mr1));
		d.known = true;
		d.vendor = static_cast<uint16_t>(m.mr2 >> 16);
		d.device = static_cast<uint16_t>(m.mr2);
		for (const NondetRule &r : nondet_)
			if (r.vendor == d.vendor && r.device == d.device)
				d.nondet_mask |= r.queue_mask;
		break;
	}
	case VSST_RPC_OP_MSI:
		if (m.mr3 < kMaxDevs)
			walk_all(static_cast<unsigned>(m.mr3));
		break;
	case VSST_RPC_OP_SET_IRQ:
		if (m.mr1 < kMaxDevs && m.mr2 != VSST_RPC_IRQ_CLEAR)
			walk_all(static_cast<unsigned>(m.mr1));
		break;
	default:
		break;
	}
}

void VirtioTap::config_access(unsigned di, uint64_t addr, unsigned len, uint64_t data, bool write)
{
	if (addr >= 256 || addr + len > 256)
		return;
	Dev &d = dev(di);
	for (unsigned i = 0; i < len; i++) {
		d.cfg[addr + i] = static_cast<uint8_t>(data >> (8 * i));
		d.cfg_valid[addr + i] = true;
	}
	if (!write && len == 4 && addr >= 0x10 && addr < 0x28 && (addr & 3) == 0) {
		const unsigned bar = static_cast<unsigned>(addr - 0x10) / 4;
		const uint32_t v = static_cast<uint32_t>(data);
		d.bar_type[bar] = (v & 1) ? 1 : (((v >> 1) & 3) == 2 ? 2 : 0);
	}
	d.caps_dirty = true;
}

uint64_t VirtioTap::bar_base(const Dev &d, unsigned bar) const
{
	if (bar >= 6)
		return 0;
	const unsigned off = 0x10 + 4 * bar;
	for (unsigned i = 0; i < 4; i++)
		if (!d.cfg_valid[off + i])
			return 0;
	if (d.bar_type[bar] == 1)
		return 0;
	const uint32_t lo = cfg32(d.cfg, off);
	if (lo == 0xffffffffu)
		return 0; // being sized
	uint64_t base = lo & ~0xfull;
	if (d.bar_type[bar] == 2 && bar < 5) {
		for (unsigned i = 0; i < 4; i++)
			if (!d.cfg_valid[off + 4 + i])
				return 0;
		const uint32_t hi = cfg32(d.cfg, off + 4);
		if (hi == 0xffffffffu)
			return 0;
		base |= static_cast<uint64_t>(hi) << 32;
	}
	return base;
}

void VirtioTap::parse_caps(Dev &d)
{
	d.caps_dirty = false;
	d.common = d.notify = d.isr = d.devcfg = Cap{};
	if (!d.cfg_valid[0x34])
		return;
	unsigned ptr = d.cfg[0x34] & 0xfcu;
	for (unsigned n = 0; n < 48 && ptr >= 0x40 && ptr + 16 <= 256; n++) {
		bool ok = d.cfg_valid[ptr] && d.cfg_valid[ptr + 1];
		if (!ok)
			break;
		if (d.cfg[ptr] == 0x09) {
			// Drivers read only the fields they need: type, bar, offset, length.
			bool full = d.cfg_valid[ptr + 3] && d.cfg_valid[ptr + 4];
			for (unsigned i = 8; i < 16; i++)
				full = full && d.cfg_valid[ptr + i];
			if (full) {
				Cap c{true, d.cfg[ptr + 4], cfg32(d.cfg, ptr + 8), cfg32(d.cfg, ptr + 12)};
				switch (d.cfg[ptr + 3]) {
				case 1:
					if (!d.common.present)
						d.common = c;
					break;
				case 2:
					if (!d.notify.present && ptr + 20 <= 256 && d.cfg_valid[ptr + 16] &&
					    d.cfg_valid[ptr + 17] && d.cfg_valid[ptr + 18] &&
					    d.cfg_valid[ptr + 19]) {
						d.notify = c;
						d.notify_mult = cfg32(d.cfg, ptr + 16);
					}
					break;
				case 3:
					if (!d.isr.present)
						d.isr = c;
					break;
				case 4:
					if (!d.devcfg.present)
						d.devcfg = c;
					break;
				default:
					break;
				}
			}
		}
		ptr = d.cfg[ptr + 1] & 0xfcu;
	}
}

bool VirtioTap::in_cap(const Dev &d, const Cap &c, uint64_t addr, unsigned len, uint64_t &off) const
{
	if (!c.present)
		return false;
	const uint64_t base = bar_base(d, c.bar);
	if (!base)
		return false;
	const uint64_t start = base + c.offset;
	if (addr < start || addr + len > start + c.length)
		return false;
	off = addr - start;
	return true;
}

uint64_t VirtioTap::notify_addr(const Dev &d, const Queue &q) const
{
	if (!d.notify.present)
		return 0;
	const uint64_t base = bar_base(d, d.notify.bar);
	return base ? base + d.notify.offset + static_cast<uint64_t>(q.notify_off) * d.notify_mult : 0;
}

void VirtioTap::global_access(uint64_t addr, unsigned len, uint64_t data, bool write, bool posted)
{
	(void)posted;
	for (auto &[di, d] : devs_) {
		if (d.caps_dirty)
			parse_caps(d);
		uint64_t off = 0;
		if (write && in_cap(d, d.notify, addr, len, off)) {
			// Doorbell: without VIRTIO_F_NOTIFICATION_DATA the value is the queue index.
			const unsigned qi = static_cast<unsigned>(data & 0xffff);
			if (qi >= kMaxQueues) {
				anomaly("tap: doorbell for queue " + std::to_string(qi) + " of device " +
					std::to_string(di));
				return;
			}
			walk_used(di, qi);
			walk_avail(di, qi, false);
			return;
		}
		if (in_cap(d, d.common, addr, len, off)) {
			if (write)
				common_write(di, d, off, len, data);
			else
				common_read(d, off, len, data);
			return;
		}
	}
}

void VirtioTap::reset_queues(Dev &d)
{
	for (Queue &q : d.q) {
		while (!q.inflight.empty())
			forget_front(q, q.inflight.begin()->first);
		q = Queue{};
	}
}

void VirtioTap::common_write(unsigned di, Dev &d, uint64_t off, unsigned len, uint64_t v)
{
	Queue *q = d.queue_select < kMaxQueues ? &d.q[d.queue_select] : nullptr;
	auto set64 = [&](uint64_t &field, uint64_t base) {
		if (off == base && len == 8)
			field = v;
		else if (off == base && len == 4)
			field = (field & ~0xffffffffull) | (v & 0xffffffffull);
		else if (off == base + 4 && len == 4)
			field = (field & 0xffffffffull) | (v << 32);
	};
	if (off == 20 && len == 1) {
		if ((v & 0xff) == 0)
			reset_queues(d);
	} else if (off == 22 && len == 2) {
		d.queue_select = static_cast<uint16_t>(v);
	} else if (off == 24 && len == 2 && q) {
		// QEMU keeps the old size for 0 (a queue cannot disappear) and for
		// sizes above VIRTQUEUE_MAX_SIZE; the tap follows the device.
		const uint16_t size = static_cast<uint16_t>(v);
		if (size && size <= kMaxQueueSize)
			q->size = size;
		else
			anomaly("tap: queue size " + std::to_string(size) + " written for device " +
				std::to_string(di) + " queue " + std::to_string(d.queue_select) +
				" (the device keeps its size)");
	} else if (off >= 32 && off < 56 && q) {
		set64(q->desc, 32);
		set64(q->avail, 40);
		set64(q->used, 48);
	}
}

void VirtioTap::common_read(Dev &d, uint64_t off, unsigned len, uint64_t v)
{
	Queue *q = d.queue_select < kMaxQueues ? &d.q[d.queue_select] : nullptr;
	if (!q || len != 2)
		return;
	if (off == 24 && static_cast<uint16_t>(v) <= kMaxQueueSize)
		q->size = static_cast<uint16_t>(v);
	else if (off == 30)
		q->notify_off = static_cast<uint16_t>(v);
}

void VirtioTap::sync_all()
{
	begin_call();
	for (auto &[di, d] : devs_)
		walk_all(di);
	end_call();
}

void VirtioTap::walk_all(unsigned di)
{
	auto it = devs_.find(di);
	if (it == devs_.end())
		return;
	for (unsigned qi = 0; qi < kMaxQueues; qi++)
		if (it->second.q[qi].size)
			walk_avail(di, qi, true);
	for (unsigned qi = 0; qi < kMaxQueues; qi++)
		if (it->second.q[qi].size)
			walk_used(di, qi);
}

void VirtioTap::walk_avail(unsigned di, unsigned qi, bool late)
{
	Dev &d = dev(di);
	Queue &q = d.q[qi];
	if (!q.size || !q.desc || !q.avail || (q.size & (q.size - 1)) || q.size > kMaxQueueSize)
		return;
	uint16_t idx;
	if (!ram_.read(q.avail + 2, &idx, 2)) {
		anomaly("tap: avail ring of device " + std::to_string(di) + " queue " + std::to_string(qi) +
			" outside guest RAM");
		return;
	}
	const uint16_t n = static_cast<uint16_t>(idx - q.last_avail);
	if (n == 0)
		return;
	if (n > q.size) {
		anomaly("tap: avail index of device " + std::to_string(di) + " queue " + std::to_string(qi) +
			" moved by " + std::to_string(n) + " > queue size");
		q.last_avail = idx;
		return;
	}
	for (uint16_t i = 0; i < n; i++) {
		const uint16_t slot = static_cast<uint16_t>((q.last_avail + i) & (q.size - 1));
		const uint64_t entry = q.avail + 4 + 2ull * slot;
		uint16_t head;
		if (!ram_.read(entry, &head, 2))
			break;
		std::vector<Seg> in;
		uint64_t in_total = 0, out_total = 0;
		bool out_cut = false;
		// The chain's device-readable bytes, up to TapLimits::chain_out_bytes.
		auto out = [&](uint64_t gpa, uint32_t len) {
			if (out_cut)
				return;
			if (out_total + len > limits_.chain_out_bytes) {
				out_cut = true;
				anomaly("tap: chain at head " + std::to_string(head) + " of device " +
					std::to_string(di) + " queue " + std::to_string(qi) +
					" reads more than " + std::to_string(limits_.chain_out_bytes) +
					" bytes; the rest is dropped");
				w_.count_dropped(sizeof(MemHdr) + len);
				return;
			}
			out_total += len;
			if (!mem(di, qi, gpa, len))
				out_cut = true;
		};
		if (head >= q.size) {
			anomaly("tap: avail head " + std::to_string(head) + " >= queue size");
		} else {
			uint64_t table = q.desc;
			uint32_t tsize = q.size;
			uint16_t cur = head;
			bool indirect = false;
			for (uint32_t steps = 0;; steps++) {
				if (steps > tsize) {
					anomaly("tap: descriptor chain loops");
					break;
				}
				Desc ds;
				const uint64_t at = table + 16ull * cur;
				if (!ram_.read(at, &ds, sizeof ds)) {
					anomaly("tap: descriptor outside guest RAM");
					break;
				}
				if (!indirect)
					mem(di, qi, at, sizeof ds);
				if (ds.flags & kDescIndirect) {
					if (indirect || ds.len == 0 || ds.len % 16 ||
					    ds.len / 16 > kMaxIndirect) {
						anomaly("tap: bad indirect descriptor");
						break;
					}
					out(ds.addr, ds.len);
					table = ds.addr;
					tsize = ds.len / 16;
					cur = 0;
					steps = 0;
					indirect = true;
					continue;
				}
				if (ds.flags & kDescWrite) {
					if (in.size() < kMaxSegments && in_total + ds.len <= kMaxChainIn) {
						in.push_back({ds.addr, ds.len});
						in_total += ds.len;
					} else {
						anomaly("tap: chain has too many device-writable buffers");
					}
				} else if (ds.len) {
					out(ds.addr, ds.len);
				}
				if (!(ds.flags & kDescNext))
					break;
				cur = ds.next;
				if (cur >= tsize) {
					anomaly("tap: descriptor next out of range");
					break;
				}
			}
			const auto known = q.inflight.find(head);
			if (known != q.inflight.end() && known->second.size() >= kMaxChainsPerHead) {
				anomaly("tap: head " + std::to_string(head) + " made available " +
					std::to_string(known->second.size() + 1) +
					" times without being used");
				forget_front(q, head);
			}
			remember(q, head, std::move(in));
		}
		mem(di, qi, entry, 2);
	}
	mem(di, qi, q.avail, 4); // flags + idx
	if (ram_.contains(q.avail + 4 + 2ull * q.size, 2))
		mem(di, qi, q.avail + 4 + 2ull * q.size, 2); // used_event
	const uint64_t na = notify_addr(d, q);
	AvailRec a{static_cast<uint8_t>(di),
		   static_cast<uint8_t>(late),
		   static_cast<uint16_t>(qi),
		   idx,
		   n,
		   na,
		   na ? 2u : 0u,
		   0};
	w_.append(RecType::Avail, 0, 0, {{&a, sizeof a}});
	q.last_avail = idx;
}

void VirtioTap::walk_used(unsigned di, unsigned qi)
{
	Dev &d = dev(di);
	Queue &q = d.q[qi];
	if (!q.size || !q.used || (q.size & (q.size - 1)))
		return;
	uint16_t idx;
	if (!ram_.read(q.used + 2, &idx, 2))
		return;
	// Signed: a device that reports its elements (device_used) is ahead of
	// the ring until it publishes used.idx.
	const int ahead = static_cast<int16_t>(static_cast<uint16_t>(idx - q.last_used));
	if (ahead <= 0)
		return;
	if (ahead > q.size) {
		anomaly("tap: used index moved by more than the queue size");
		q.last_used = idx;
		return;
	}
	bool walked = false;
	for (int i = 0; i < ahead; i++) {
		const uint16_t pos = static_cast<uint16_t>(q.last_used + i);
		struct {
			uint32_t id, len;
		} e;
		if (!ram_.read(q.used + 4 + 8ull * (pos & (q.size - 1)), &e, sizeof e))
			break;
		// A chain the device took before any doorbell the tap saw (QEMU
		// kicks every queue once when DRIVER_OK starts its ioeventfds):
		// record its availability first, as a late one.
		if (!walked && !chains_of(q, e.id)) {
			walk_avail(di, qi, true);
			walked = true;
		}
		record_used(di, qi, pos, e.id, e.len);
	}
	q.last_used = idx;
}

void VirtioTap::device_used(unsigned di, unsigned qi, uint16_t pos, uint32_t head, uint32_t len)
{
	if (di >= kMaxDevs || qi >= kMaxQueues)
		return;
	begin_call();
	device_used_bounded(di, qi, pos, head, len);
	end_call();
}

void VirtioTap::device_used_bounded(unsigned di, unsigned qi, uint16_t pos, uint32_t head, uint32_t len)
{
	Dev &d = dev(di);
	Queue &q = d.q[qi];
	if (!q.size || !q.used || (q.size & (q.size - 1))) {
		anomaly("tap: device " + std::to_string(di) + " reported a used element of queue " +
			std::to_string(qi) + " the tap does not know");
		return;
	}
	// Chains the device took without a doorbell the tap saw, and elements
	// published before this one that no walk has recorded yet.
	walk_avail(di, qi, true);
	walk_used(di, qi);
	const int behind = static_cast<int16_t>(static_cast<uint16_t>(pos - q.last_used));
	if (behind < 0) {
		anomaly("tap: device " + std::to_string(di) + " queue " + std::to_string(qi) +
			" reported used[" + std::to_string(pos) + "] twice");
		return;
	}
	if (behind > 0)
		anomaly("tap: device " + std::to_string(di) + " queue " + std::to_string(qi) + " skipped " +
			std::to_string(behind) + " used element(s)");
	record_used(di, qi, pos, head, len);
	q.last_used = static_cast<uint16_t>(pos + 1);
}

void VirtioTap::record_used(unsigned di, unsigned qi, uint16_t pos, uint32_t id, uint32_t len)
{
	Dev &d = dev(di);
	Queue &q = d.q[qi];
	const bool nondet = (d.nondet_mask >> qi) & 1;
	UsedHdr h{};
	h.dev = static_cast<uint8_t>(di);
	h.queue = static_cast<uint16_t>(qi);
	h.pos = pos;
	h.qsize = q.size;
	h.used_gpa = q.used;
	h.id = id;
	h.len = len;
	std::vector<UsedSeg> segs;
	scratch_.clear();
	std::deque<std::vector<Seg>> *chains = chains_of(q, id);
	if (!chains) {
		h.flags |= kUsedUnknown;
	} else {
		uint64_t left = nondet ? 0 : std::min<uint64_t>(len, kMaxBlob);
		if (left && !take_copy(left)) {
			// The call's copy budget is spent: the element without its bytes
			// (a replay then compares its length only).
			anomaly("tap: copy budget of one call spent; bytes of used[" + std::to_string(pos) +
				"] of device " + std::to_string(di) + " queue " + std::to_string(qi) +
				" not recorded");
			left = 0;
		}
		for (const Seg &s : chains->front()) {
			segs.push_back({s.gpa, s.len});
			const uint32_t take = static_cast<uint32_t>(std::min<uint64_t>(left, s.len));
			if (take) {
				const size_t at = scratch_.size();
				scratch_.resize(at + take);
				if (!ram_.read(s.gpa, scratch_.data() + at, take))
					scratch_.resize(at);
				left -= take;
			}
		}
		forget_front(q, static_cast<uint16_t>(id));
	}
	if (nondet)
		h.flags |= kUsedNondet;
	h.nseg = static_cast<uint32_t>(segs.size());
	h.data_len = static_cast<uint32_t>(scratch_.size());
	w_.append(RecType::Used, 0, 0,
		  {{&h, sizeof h},
		   {segs.data(), segs.size() * sizeof(UsedSeg)},
		   {scratch_.data(), scratch_.size()}});
}

} // namespace vsst::trace
