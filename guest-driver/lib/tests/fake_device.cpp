// SPDX-License-Identifier: Apache-2.0
#include "fake_device.h"

#include <stdexcept>

#include "vsst/virtio/spec.h"

namespace vsst::virtio::fake {

FakeRam::FakeRam(uint64_t gpa, size_t size)
	: gpa_(gpa), size_(size), owned_(new std::byte[size]()), mem_(owned_.get()), alloc_(mem_, gpa, size)
{
}

FakeRam::FakeRam(std::byte *external, uint64_t gpa, size_t size)
	: gpa_(gpa), size_(size), mem_(external), alloc_(mem_, gpa, size)
{
}

std::byte *FakeRam::at(uint64_t gpa, size_t len)
{
	if (gpa < gpa_ || len > size_ || gpa - gpa_ > size_ - len)
		return nullptr;
	return mem_ + (gpa - gpa_);
}

FakeVirtioCore::FakeVirtioCore(FakeRam &r, uint32_t id, uint64_t features, std::vector<uint16_t> queue_max,
			       std::vector<std::byte> cfg)
	: ram(r), device_id(id), device_features(features), config(std::move(cfg))
{
	for (uint16_t m : queue_max)
		queues.push_back(Queue{m, m}); // queue_size reads the maximum until the driver writes it
}

void FakeVirtioCore::reset()
{
	status = 0;
	driver_features = 0;
	for (auto &q : queues)
		q = Queue{q.max, q.max};
}

void FakeVirtioCore::notify(uint16_t q)
{
	notifies++;
	if (!hold)
		process(q);
}

template <typename T> static T get(std::byte *p)
{
	T v;
	std::memcpy(&v, p, sizeof v);
	return v;
}
template <typename T> static void put(std::byte *p, T v)
{
	std::memcpy(p, &v, sizeof v);
}

void FakeVirtioCore::process(uint16_t qi, unsigned max)
{
	if (qi >= queues.size() || !queues[qi].ready || !(status & status::kDriverOk))
		return;
	Queue &q = queues[qi];
	std::byte *avail = ram.at(q.avail, 4 + 2u * q.size + 2);
	std::byte *used = ram.at(q.used, 4 + 8u * q.size + 2);
	std::byte *desc = ram.at(q.desc, 16u * q.size);
	if (!avail || !used || !desc)
		throw std::runtime_error("fake device: ring outside RAM");
	put<uint16_t>(used, no_notify ? ring::kUsedNoNotify : 0);
	const bool event_idx = driver_features & feature::bit(feature::kEventIdx);
	const uint16_t old_used = q.used_idx;
	uint16_t prev_head = 0;
	for (unsigned done = 0; done < max && q.last_avail != get<uint16_t>(avail + 2); done++) {
		const uint16_t head = get<uint16_t>(avail + 4 + 2u * (q.last_avail % q.size));
		q.last_avail++;
		std::vector<std::byte> in;
		std::vector<std::pair<std::byte *, uint32_t>> outs;
		uint32_t out_total = 0;
		uint16_t i = head;
		for (unsigned n = 0; n < q.size; n++) {
			std::byte *d = desc + 16u * i;
			const uint64_t addr = get<uint64_t>(d);
			const uint32_t len = get<uint32_t>(d + 8);
			const uint16_t flags = get<uint16_t>(d + 12);
			std::byte *p = ram.at(addr, len);
			if (!p)
				throw std::runtime_error("fake device: descriptor outside RAM");
			if (flags & ring::kDescWrite) {
				outs.emplace_back(p, len);
				out_total += len;
			} else {
				in.insert(in.end(), p, p + len);
			}
			if (!(flags & ring::kDescNext))
				break;
			i = get<uint16_t>(d + 14);
		}
		std::vector<std::byte> out(out_total);
		uint32_t written = handler ? handler(qi, in, out) : 0;
		written = std::min(written, out_total);
		size_t off = 0;
		for (auto &[p, len] : outs) {
			const size_t n = std::min<size_t>(len, written - std::min<size_t>(off, written));
			std::memcpy(p, out.data() + off, n);
			off += len;
		}
		std::byte *elem = used + 4 + 8u * (q.used_idx % q.size);
		uint32_t id = evil.repeat_last && q.used_idx != old_used ? prev_head : head;
		id = static_cast<uint32_t>(static_cast<int>(id) + evil.used_id_add);
		put<uint32_t>(elem, id);
		put<uint32_t>(elem + 4, written + evil.used_len_add);
		prev_head = head;
		q.used_idx++;
	}
	q.used_idx = static_cast<uint16_t>(q.used_idx + evil.used_idx_jump);
	// EVENT_IDX: ask to be notified about anything after what was consumed.
	put<uint16_t>(used + 4 + 8u * q.size, q.last_avail);
	std::atomic_thread_fence(std::memory_order_release);
	put<uint16_t>(used + 2, q.used_idx);
	if (q.used_idx == old_used)
		return;
	bool signal;
	if (event_idx) {
		const uint16_t used_event = get<uint16_t>(avail + 4 + 2u * q.size);
		signal = static_cast<uint16_t>(q.used_idx - used_event - 1) <
			 static_cast<uint16_t>(q.used_idx - old_used);
	} else {
		signal = !(get<uint16_t>(avail) & ring::kAvailNoInterrupt);
	}
	if (signal && raise)
		raise(qi);
}

// ---- PCI ----

namespace {
constexpr unsigned kCapCommon = 0x40, kCapNotify = 0x50, kCapIsr = 0x68, kCapDevice = 0x78, kCapMsix = 0x88;
} // namespace

FakePciFunction::FakePciFunction(FakeVirtioCore &core, FakeInterrupts &irq, bool with_msix)
	: core_(core), irq_(irq), msix_(with_msix)
{
	auto w16 = [&](unsigned o, uint16_t v) { std::memcpy(&cfg[o], &v, 2); };
	auto w32 = [&](unsigned o, uint32_t v) { std::memcpy(&cfg[o], &v, 4); };
	w16(pci::kVendorId, pci::kVirtioVendor);
	w16(pci::kDeviceId, static_cast<uint16_t>(pci::kModernDeviceBase + core.device_id));
	w16(pci::kStatus, pci::kStatusCapList);
	cfg[0x0b] = 0xff;         // class: misc
	w32(pci::kBar0, 0x4);     // 64-bit memory
	w32(pci::kBar0 + 8, 0x0); // BAR2 32-bit memory
	bar_mask_[0] = ~(kBar0Size - 1);
	bar_mask_[1] = 0xffffffffu; // upper half of BAR0: all bits writable
	bar_mask_[2] = ~(kBar2Size - 1);
	cfg[pci::kCapPtr] = kCapCommon;
	auto cap = [&](unsigned at, unsigned next, uint8_t type, uint32_t off, uint32_t len, uint8_t caplen) {
		cfg[at] = pci::kCapVendor;
		cfg[at + 1] = static_cast<uint8_t>(next);
		cfg[at + 2] = caplen;
		cfg[at + 3] = type;
		cfg[at + 4] = 0; // BAR0
		w32(at + 8, off);
		w32(at + 12, len);
	};
	cap(kCapCommon, kCapNotify, pci::kCapCommonCfg, 0x0000, pci::common::kSize, 16);
	cap(kCapNotify, kCapIsr, pci::kCapNotifyCfg, 0x3000, 0x1000, 20);
	w32(kCapNotify + 16, 4);
	cap(kCapIsr, kCapDevice, pci::kCapIsrCfg, 0x1000, 1, 16);
	cap(kCapDevice, msix_ ? kCapMsix : 0, pci::kCapDeviceCfg, 0x2000,
	    static_cast<uint32_t>(core.config.size() ? core.config.size() : 4), 16);
	if (msix_) {
		cfg[kCapMsix] = pci::kCapMsix;
		cfg[kCapMsix + 1] = 0;
		w16(kCapMsix + 2, 3); // 4 entries
		w32(kCapMsix + 4, 2); // BIR 2, offset 0
	}
	core_.raise = [this](uint16_t q) {
		if (q < core_.queues.size())
			raise(core_.queues[q].vector);
	};
}

uint64_t FakePciFunction::bar_addr(unsigned i) const
{
	uint32_t lo, hi = 0;
	std::memcpy(&lo, &cfg[pci::kBar0 + 4 * i], 4);
	if (i == 0)
		std::memcpy(&hi, &cfg[pci::kBar0 + 4], 4);
	return (uint64_t{hi} << 32) | (lo & ~0xfu);
}

uint32_t FakePciFunction::read(unsigned offset, unsigned len)
{
	if (offset + len > cfg.size())
		return 0xffffffffu;
	uint32_t v = 0;
	std::memcpy(&v, &cfg[offset], len);
	return v;
}

void FakePciFunction::write(unsigned offset, unsigned len, uint32_t value)
{
	if (offset + len > cfg.size())
		return;
	if (offset >= pci::kBar0 && offset < pci::kBar0 + 24) {
		const unsigned i = (offset - pci::kBar0) / 4;
		uint32_t old;
		std::memcpy(&old, &cfg[pci::kBar0 + 4 * i], 4);
		const uint32_t flags = i == 1 ? 0 : (old & 0xf);
		const uint32_t v = (value & bar_mask_[i] & (i == 1 ? ~0u : ~0xfu)) | flags;
		std::memcpy(&cfg[pci::kBar0 + 4 * i], &v, 4);
		return;
	}
	if (offset == pci::kCommand || offset == kCapMsix + 2) {
		std::memcpy(&cfg[offset], &value, len);
		return;
	}
	// Everything else is read-only in this model.
}

void FakePciFunction::raise(uint16_t vector)
{
	uint16_t msix_ctrl = 0;
	std::memcpy(&msix_ctrl, &cfg[kCapMsix + 2], 2);
	if (msix_ && (msix_ctrl & pci::kMsixEnable)) {
		if (vector >= 4 || (msix_ctrl & pci::kMsixFunctionMask) || (msix_table_[vector][3] & 1))
			return; // no vector / masked: dropped in this model
		const auto &e = msix_table_[vector];
		irq_.msi((uint64_t{e[1]} << 32) | e[0], e[2]);
		return;
	}
	isr |= kIsrQueue;
	irq_.line();
}

uint64_t FakePciFunction::read(uint64_t addr, unsigned len)
{
	uint16_t cmd;
	std::memcpy(&cmd, &cfg[pci::kCommand], 2);
	if (cmd & pci::kCmdMemory) {
		const uint64_t b0 = bar_addr(0), b2 = bar_addr(2);
		if (b0 && addr >= b0 && addr < b0 + kBar0Size) {
			const uint64_t o = addr - b0;
			if (o < pci::common::kSize)
				return common_read(static_cast<unsigned>(o), len);
			if (o == 0x1000) {
				const uint8_t v = isr;
				isr = 0;
				return v;
			}
			if (o >= 0x2000 && o + len <= 0x2000 + core_.config.size()) {
				uint64_t v = 0;
				std::memcpy(&v, &core_.config[o - 0x2000], len);
				return v;
			}
			return 0;
		}
		if (b2 && addr >= b2 && addr < b2 + kBar2Size) {
			const uint64_t o = addr - b2;
			if (o < 64 && len == 4)
				return msix_table_[o / 16][(o % 16) / 4];
			return 0;
		}
	}
	return ~uint64_t{0} >> (64 - 8 * len);
}

void FakePciFunction::write(uint64_t addr, unsigned len, uint64_t value)
{
	uint16_t cmd;
	std::memcpy(&cmd, &cfg[pci::kCommand], 2);
	if (!(cmd & pci::kCmdMemory))
		return;
	const uint64_t b0 = bar_addr(0), b2 = bar_addr(2);
	if (b0 && addr >= b0 && addr < b0 + kBar0Size) {
		const uint64_t o = addr - b0;
		if (o < pci::common::kSize)
			common_write(static_cast<unsigned>(o), len, value);
		else if (o >= 0x3000 && o < 0x4000)
			core_.notify(static_cast<uint16_t>((o - 0x3000) /
							   4)); // the address selects the queue, as in QEMU
		else if (o >= 0x2000 && o + len <= 0x2000 + core_.config.size())
			std::memcpy(&core_.config[o - 0x2000], &value, len);
		return;
	}
	if (b2 && addr >= b2 && addr < b2 + kBar2Size) {
		const uint64_t o = addr - b2;
		if (o < 64 && len == 4)
			msix_table_[o / 16][(o % 16) / 4] = static_cast<uint32_t>(value);
	}
}

uint64_t FakePciFunction::common_read(unsigned reg, unsigned len)
{
	using namespace pci::common;
	FakeVirtioCore::Queue *q = qsel_ < core_.queues.size() ? &core_.queues[qsel_] : nullptr;
	auto lo = [](uint64_t v) { return v & 0xffffffffu; };
	switch (reg) {
	case kDeviceFeatureSelect:
		return dfsel_;
	case kDeviceFeature:
		return dfsel_ < 2 ? lo(core_.device_features >> (32 * dfsel_)) : 0;
	case kDriverFeatureSelect:
		return gfsel_;
	case kDriverFeature:
		return gfsel_ < 2 ? lo(core_.driver_features >> (32 * gfsel_)) : 0;
	case kMsixConfig:
		return msix_config_;
	case kNumQueues:
		return core_.queues.size();
	case kDeviceStatus:
		return core_.status;
	case kConfigGeneration:
		return core_.generation & 0xff;
	case kQueueSelect:
		return qsel_;
	case kQueueSize:
		return q ? q->size : 0;
	case kQueueMsixVector:
		return q ? q->vector : 0xffff;
	case kQueueEnable:
		return q ? q->ready : 0;
	case kQueueNotifyOff:
		return q ? qsel_ : 0; // doorbell i at notify + 4*i
	case kQueueDesc:
		return q ? lo(q->desc) : 0;
	case kQueueDesc + 4:
		return q ? q->desc >> 32 : 0;
	case kQueueDriver:
		return q ? lo(q->avail) : 0;
	case kQueueDriver + 4:
		return q ? q->avail >> 32 : 0;
	case kQueueDevice:
		return q ? lo(q->used) : 0;
	case kQueueDevice + 4:
		return q ? q->used >> 32 : 0;
	default:
		(void)len;
		return 0;
	}
}

void FakePciFunction::common_write(unsigned reg, unsigned, uint64_t v)
{
	using namespace pci::common;
	FakeVirtioCore::Queue *q = qsel_ < core_.queues.size() ? &core_.queues[qsel_] : nullptr;
	auto set_lo = [](uint64_t &f, uint64_t v) { f = (f & ~0xffffffffull) | (v & 0xffffffffu); };
	auto set_hi = [](uint64_t &f, uint64_t v) { f = (f & 0xffffffffull) | (v << 32); };
	switch (reg) {
	case kDeviceFeatureSelect:
		dfsel_ = static_cast<uint32_t>(v);
		break;
	case kDriverFeatureSelect:
		gfsel_ = static_cast<uint32_t>(v);
		break;
	case kDriverFeature:
		if (gfsel_ == 0)
			set_lo(core_.driver_features, v);
		else if (gfsel_ == 1)
			set_hi(core_.driver_features, v);
		break;
	case kMsixConfig:
		msix_config_ = static_cast<uint16_t>(v < 4 ? v : 0xffff);
		break;
	case kDeviceStatus:
		core_.status_writes.push_back(static_cast<uint8_t>(v));
		if (v == 0) {
			core_.reset();
			qsel_ = 0;
		} else {
			// FEATURES_OK sticks only if the driver asked for offered bits.
			uint8_t s = static_cast<uint8_t>(v);
			if ((s & status::kFeaturesOk) && (core_.driver_features & ~core_.device_features))
				s &= ~status::kFeaturesOk;
			core_.status = s;
		}
		break;
	case kQueueSelect:
		qsel_ = static_cast<uint16_t>(v);
		break;
	case kQueueSize:
		if (q)
			q->size = static_cast<uint16_t>(v);
		break;
	case kQueueMsixVector:
		if (q)
			q->vector = static_cast<uint16_t>(v < 4 ? v : 0xffff);
		break;
	case kQueueEnable:
		if (q)
			q->ready = v & 1;
		break;
	case kQueueDesc:
		if (q)
			set_lo(q->desc, v);
		break;
	case kQueueDesc + 4:
		if (q)
			set_hi(q->desc, v);
		break;
	case kQueueDriver:
		if (q)
			set_lo(q->avail, v);
		break;
	case kQueueDriver + 4:
		if (q)
			set_hi(q->avail, v);
		break;
	case kQueueDevice:
		if (q)
			set_lo(q->used, v);
		break;
	case kQueueDevice + 4:
		if (q)
			set_hi(q->used, v);
		break;
	default:
		break;
	}
}

// ---- MMIO ----

FakeMmioDevice::FakeMmioDevice(FakeVirtioCore &core, FakeInterrupts &irq, uint64_t base, uint32_t version)
	: core_(core), irq_(irq), base_(base), version_(version)
{
	core_.raise = [this](uint16_t) {
		int_status |= mmio::kIntUsedBuffer;
		irq_.line();
	};
}

uint64_t FakeMmioDevice::read(uint64_t addr, unsigned len)
{
	using namespace mmio;
	if (addr < base_ || addr >= base_ + 0x1000)
		return ~uint64_t{0} >> (64 - 8 * len);
	const uint64_t o = addr - base_;
	FakeVirtioCore::Queue *q = qsel_ < core_.queues.size() ? &core_.queues[qsel_] : nullptr;
	if (o >= kConfig) {
		uint64_t v = 0;
		if (o - kConfig + len <= core_.config.size())
			std::memcpy(&v, &core_.config[o - kConfig], len);
		return v;
	}
	switch (o) {
	case kMagic:
		return kMagicValue;
	case kVersion:
		return version_;
	case kDeviceId:
		return core_.device_id;
	case kVendorId:
		return 0x554d4551;
	case kDeviceFeatures:
		return dfsel_ < 2 ? (core_.device_features >> (32 * dfsel_)) & 0xffffffffu : 0;
	case kQueueNumMax:
		return q ? q->max : 0;
	case kQueueReady:
		return q ? q->ready : 0;
	case kInterruptStatus:
		return int_status;
	case kStatus:
		return core_.status;
	case kConfigGeneration:
		return core_.generation;
	default:
		return 0;
	}
}

void FakeMmioDevice::write(uint64_t addr, unsigned len, uint64_t value)
{
	using namespace mmio;
	if (addr < base_ || addr >= base_ + 0x1000)
		return;
	const uint64_t o = addr - base_;
	const uint32_t v = static_cast<uint32_t>(value);
	FakeVirtioCore::Queue *q = qsel_ < core_.queues.size() ? &core_.queues[qsel_] : nullptr;
	if (o >= kConfig) {
		if (o - kConfig + len <= core_.config.size())
			std::memcpy(&core_.config[o - kConfig], &value, len);
		return;
	}
	auto set_lo = [](uint64_t &f, uint32_t x) { f = (f & ~0xffffffffull) | x; };
	auto set_hi = [](uint64_t &f, uint32_t x) { f = (f & 0xffffffffull) | (uint64_t{x} << 32); };
	switch (o) {
	case kDeviceFeaturesSel:
		dfsel_ = v;
		break;
	case kDriverFeaturesSel:
		gfsel_ = v;
		break;
	case kDriverFeatures:
		if (gfsel_ == 0)
			set_lo(core_.driver_features, v);
		else if (gfsel_ == 1)
			set_hi(core_.driver_features, v);
		break;
	case kQueueSel:
		qsel_ = v;
		break;
	case kQueueNum:
		if (q)
			q->size = static_cast<uint16_t>(v);
		break;
	case kQueueReady:
		if (q)
			q->ready = v & 1;
		break;
	case kQueueNotify:
		core_.notify(static_cast<uint16_t>(v));
		break;
	case kInterruptAck:
		int_status &= ~v;
		break;
	case kStatus:
		core_.status_writes.push_back(static_cast<uint8_t>(v));
		if (v == 0) {
			core_.reset();
			int_status = 0;
		} else {
			uint8_t s = static_cast<uint8_t>(v);
			if ((s & status::kFeaturesOk) && (core_.driver_features & ~core_.device_features))
				s &= ~status::kFeaturesOk;
			core_.status = s;
		}
		break;
	case kQueueDescLow:
		if (q)
			set_lo(q->desc, v);
		break;
	case kQueueDescHigh:
		if (q)
			set_hi(q->desc, v);
		break;
	case kQueueDriverLow:
		if (q)
			set_lo(q->avail, v);
		break;
	case kQueueDriverHigh:
		if (q)
			set_hi(q->avail, v);
		break;
	case kQueueDeviceLow:
		if (q)
			set_lo(q->used, v);
		break;
	case kQueueDeviceHigh:
		if (q)
			set_hi(q->used, v);
		break;
	default:
		break;
	}
}

} // namespace vsst::virtio::fake
