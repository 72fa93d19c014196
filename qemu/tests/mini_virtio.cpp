// SPDX-License-Identifier: Apache-2.0
#include "mini_virtio.h"

#include <cstring>

#include <gtest/gtest.h>

namespace vsst::backend_test {

namespace {

constexpr unsigned kPciCommand = 0x04, kPciStatus = 0x06, kPciBar0 = 0x10, kPciCapPtr = 0x34;
constexpr unsigned kCmdMem = 0x2, kCmdMaster = 0x4;

// virtio_pci_common_cfg offsets
constexpr unsigned kDevFeatSel = 0x00, kDevFeat = 0x04, kDrvFeatSel = 0x08, kDrvFeat = 0x0c;
constexpr unsigned kStatus = 0x14, kQSel = 0x16, kQSize = 0x18, kQVector = 0x1a;
constexpr unsigned kQEnable = 0x1c, kQNotifyOff = 0x1e, kQDesc = 0x20, kQDriver = 0x28, kQDevice = 0x30;
constexpr uint8_t kAck = 1, kDriver = 2, kDriverOk = 4, kFeaturesOk = 8;

} // namespace

uint64_t MiniVirtio::program_bar(ProxyChannel &ch, unsigned dev, unsigned bar, uint64_t gpa)
{
	unsigned off = kPciBar0 + 4 * bar;
	uint32_t orig = ch.cfg_read(dev, off, 4);
	bool is64 = (orig & 0x6) == 0x4;
	ch.cfg_write(dev, off, 4, 0xffffffff);
	uint64_t mask = ch.cfg_read(dev, off, 4) & ~0xfULL;
	if (is64) {
		ch.cfg_write(dev, off + 4, 4, 0xffffffff);
		mask |= static_cast<uint64_t>(ch.cfg_read(dev, off + 4, 4)) << 32;
	} else {
		mask |= 0xffffffff00000000ULL;
	}
	ch.cfg_write(dev, off, 4, static_cast<uint32_t>(gpa));
	if (is64)
		ch.cfg_write(dev, off + 4, 4, static_cast<uint32_t>(gpa >> 32));
	return ~mask + 1;
}

VirtioCaps MiniVirtio::find_caps(ProxyChannel &ch, unsigned dev)
{
	VirtioCaps c;
	EXPECT_TRUE(ch.cfg_read(dev, kPciStatus, 2) & 0x10) << "no capability list";
	unsigned ptr = ch.cfg_read(dev, kPciCapPtr, 1) & 0xfc;
	for (int guard = 0; ptr && guard < 48; guard++) {
		unsigned id = ch.cfg_read(dev, ptr, 1);
		if (id == 0x11)
			c.msix_cap = ptr;
		if (id == 0x09) { // vendor specific: struct virtio_pci_cap
			unsigned type = ch.cfg_read(dev, ptr + 3, 1);
			unsigned bar = ch.cfg_read(dev, ptr + 4, 1);
			uint32_t off = ch.cfg_read(dev, ptr + 8, 4);
			switch (type) {
			case 1:
				c.common = off;
				c.bar = bar;
				c.found_common = true;
				break;
			case 2:
				c.notify = off;
				c.notify_mult = ch.cfg_read(dev, ptr + 16, 4);
				break;
			case 3:
				c.isr = off;
				break;
			case 4:
				c.device = off;
				break;
			}
		}
		ptr = ch.cfg_read(dev, ptr + 1, 1) & 0xfc;
	}
	return c;
}

MiniVirtio::MiniVirtio(ProxyChannel &ch, GuestRam &ram, unsigned dev, uint64_t bar_gpa, uint64_t msix_gpa)
	: ch_(ch), ram_(ram), dev_(dev), bar_(bar_gpa)
{
	caps_ = find_caps(ch, dev);
	EXPECT_TRUE(caps_.found_common);
	program_bar(ch, dev, caps_.bar, bar_gpa);
	if (caps_.msix_cap) {
		unsigned bir = ch.cfg_read(dev, caps_.msix_cap + 4, 4) & 7;
		program_bar(ch, dev, bir, msix_gpa);
		msix_bar_ = msix_gpa;
	}
	ch.cfg_write(dev, kPciCommand, 2, kCmdMem | kCmdMaster);
}

uint64_t MiniVirtio::negotiate(uint64_t want)
{
	ch_.mem_write(common() + kStatus, 1, 0);
	ch_.mem_write(common() + kStatus, 1, kAck | kDriver);
	uint64_t offered = 0;
	for (uint32_t sel = 0; sel < 2; sel++) {
		ch_.mem_write(common() + kDevFeatSel, 4, sel);
		offered |= ch_.mem_read(common() + kDevFeat, 4) << (32 * sel);
	}
	uint64_t take = offered & want;
	for (uint32_t sel = 0; sel < 2; sel++) {
		ch_.mem_write(common() + kDrvFeatSel, 4, sel);
		ch_.mem_write(common() + kDrvFeat, 4, static_cast<uint32_t>(take >> (32 * sel)));
	}
	ch_.mem_write(common() + kStatus, 1, kAck | kDriver | kFeaturesOk);
	if (!(ch_.mem_read(common() + kStatus, 1) & kFeaturesOk))
		return 0;
	return take;
}

void MiniVirtio::setup_queue(unsigned q, uint64_t ring_gpa, unsigned max_size)
{
	Queue &Q = q_[q];
	ch_.mem_write(common() + kQSel, 2, q);
	unsigned size = static_cast<unsigned>(ch_.mem_read(common() + kQSize, 2));
	ASSERT_GT(size, 0u);
	if (size > max_size) {
		size = max_size;
		ch_.mem_write(common() + kQSize, 2, size);
	}
	Q.size = size;
	Q.desc = ring_gpa;
	Q.avail = ring_gpa + 0x1000;
	Q.used = ring_gpa + 0x2000;
	std::memset(ram_.at(ring_gpa), 0, 0x3000);
	ch_.mem_write(common() + kQDesc, 4, static_cast<uint32_t>(Q.desc));
	ch_.mem_write(common() + kQDesc + 4, 4, Q.desc >> 32);
	ch_.mem_write(common() + kQDriver, 4, static_cast<uint32_t>(Q.avail));
	ch_.mem_write(common() + kQDriver + 4, 4, Q.avail >> 32);
	ch_.mem_write(common() + kQDevice, 4, static_cast<uint32_t>(Q.used));
	ch_.mem_write(common() + kQDevice + 4, 4, Q.used >> 32);
	unsigned off = static_cast<unsigned>(ch_.mem_read(common() + kQNotifyOff, 2));
	Q.notify = bar_ + caps_.notify + off * caps_.notify_mult;
	ch_.mem_write(common() + kQEnable, 2, 1);
}

void MiniVirtio::driver_ok()
{
	ch_.mem_write(common() + kStatus, 1, kAck | kDriver | kFeaturesOk | kDriverOk);
}

void MiniVirtio::reset()
{
	ch_.mem_write(common() + kStatus, 1, 0);
	for (Queue &Q : q_)
		Q = Queue{};
}

void MiniVirtio::submit(unsigned q, const std::vector<Buf> &chain)
{
	Queue &Q = q_[q];
	ASSERT_GT(Q.size, 0u);
	uint16_t head = Q.next_desc;
	for (size_t i = 0; i < chain.size(); i++) {
		uint16_t idx = static_cast<uint16_t>((head + i) % Q.size);
		struct {
			uint64_t addr;
			uint32_t len;
			uint16_t flags, next;
		} d{chain[i].gpa, chain[i].len,
		    static_cast<uint16_t>((chain[i].device_writes ? 2 : 0) | (i + 1 < chain.size() ? 1 : 0)),
		    static_cast<uint16_t>((idx + 1) % Q.size)};
		std::memcpy(ram_.at(Q.desc + 16 * idx), &d, sizeof(d));
	}
	Q.next_desc = static_cast<uint16_t>((head + chain.size()) % Q.size);
	std::memcpy(ram_.at(Q.avail + 4 + 2 * (Q.avail_idx % Q.size)), &head, 2);
	Q.avail_idx++;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	std::memcpy(ram_.at(Q.avail + 2), &Q.avail_idx, 2);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	EXPECT_EQ(ch_.post(VSST_RPC_AS_GLOBAL, Q.notify, 2, q), 0);
}

uint16_t MiniVirtio::used_idx(unsigned q) const
{
	uint16_t i;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	std::memcpy(&i, ram_.at(q_[q].used + 2), 2);
	return i;
}

std::pair<uint32_t, uint32_t> MiniVirtio::used_elem(unsigned q, uint16_t i) const
{
	uint32_t e[2];
	std::memcpy(e, ram_.at(q_[q].used + 4 + 8 * (i % q_[q].size)), 8);
	return {e[0], e[1]};
}

void MiniVirtio::msix_route(unsigned q, unsigned entry, uint64_t addr, uint32_t data)
{
	ASSERT_NE(caps_.msix_cap, 0u);
	uint32_t table = ch_.cfg_read(dev_, caps_.msix_cap + 4, 4) & ~7u;
	uint64_t e = msix_bar_ + table + 16 * entry;
	ch_.mem_write(e + 0, 4, static_cast<uint32_t>(addr));
	ch_.mem_write(e + 4, 4, addr >> 32);
	ch_.mem_write(e + 8, 4, data);
	ch_.mem_write(e + 12, 4, 0);
	uint32_t ctrl = ch_.cfg_read(dev_, caps_.msix_cap + 2, 2);
	ch_.cfg_write(dev_, caps_.msix_cap + 2, 2, (ctrl | 0x8000) & ~0x4000u);
	ch_.mem_write(common() + kQSel, 2, q);
	ch_.mem_write(common() + kQVector, 2, entry);
	EXPECT_EQ(ch_.mem_read(common() + kQVector, 2), entry) << "vector refused";
}

} // namespace vsst::backend_test
