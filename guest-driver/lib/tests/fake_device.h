// SPDX-License-Identifier: Apache-2.0
// A device-side model for the unit tests: fake guest RAM, a virtio device
// core that consumes split rings (and can be told to misbehave), and two
// front ends that expose it as a virtio-pci modern function or a
// virtio-mmio window through the framework's accessor interfaces.
#pragma once

#include <array>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "vsst/virtio/accessor.h"
#include "vsst/virtio/region_allocator.h"

namespace vsst::virtio::fake {

class FakeRam {
public:
	FakeRam(uint64_t gpa, size_t size);
	// Over memory owned elsewhere (e.g. the RPC guest's shared RAM).
	FakeRam(std::byte *external, uint64_t gpa, size_t size);
	std::byte *at(uint64_t gpa, size_t len); // nullptr when out of range
	RegionAllocator &allocator() { return alloc_; }
	uint64_t gpa() const { return gpa_; }
	size_t size() const { return size_; }

private:
	uint64_t gpa_;
	size_t size_;
	std::unique_ptr<std::byte[]> owned_;
	std::byte *mem_;
	RegionAllocator alloc_;
};

class FakeInterrupts final : public InterruptSource {
public:
	explicit FakeInterrupts(unsigned vectors) : vectors_(vectors) {}
	unsigned msi_vectors() const override { return vectors_; }
	std::pair<uint64_t, uint32_t> msi_message(unsigned v) const override
	{
		return {0xfee00000u, 0x100 + v};
	}
	std::vector<uint32_t> wait(std::chrono::milliseconds) override
	{
		auto v = std::move(fired_);
		fired_.clear();
		return v;
	}
	// Device side: an MSI write or a line assertion. With on_msi/on_line
	// set, they go there instead (e.g. out as RPC events).
	std::function<void(uint64_t, uint32_t)> on_msi;
	std::function<void()> on_line;
	void msi(uint64_t addr, uint32_t data)
	{
		if (on_msi)
			return on_msi(addr, data);
		if (addr == 0xfee00000u && data >= 0x100)
			fired_.push_back(data - 0x100);
		else
			stray++;
	}
	void line()
	{
		if (on_line)
			return on_line();
		fired_.push_back(kLineVector);
	}
	size_t pending() const { return fired_.size(); }
	unsigned stray = 0;

private:
	unsigned vectors_;
	std::vector<uint32_t> fired_;
};

// Device core: status, features, queues, config; processes a queue when
// notified. The handler gets the readable bytes and the writable span and
// returns how many bytes it wrote.
class FakeVirtioCore {
public:
	using Handler =
		std::function<uint32_t(uint16_t q, std::span<const std::byte> in, std::span<std::byte> out)>;
	struct Queue {
		uint16_t max = 0, size = 0;
		uint64_t desc = 0, avail = 0, used = 0;
		bool ready = false;
		uint16_t last_avail = 0, used_idx = 0;
		uint16_t vector = 0xffff;
	};
	// Misbehaviour knobs (hostile device).
	struct Evil {
		int used_id_add = 0;       // added to the id of the next used element
		uint32_t used_len_add = 0; // added to the length
		uint16_t used_idx_jump = 0;
		bool repeat_last = false; // complete the previous head again
	};

	FakeVirtioCore(FakeRam &ram, uint32_t device_id, uint64_t features, std::vector<uint16_t> queue_max,
		       std::vector<std::byte> config);

	FakeRam &ram;
	uint32_t device_id;
	uint64_t device_features;
	uint64_t driver_features = 0;
	uint8_t status = 0;
	uint32_t generation = 0;
	std::vector<std::byte> config;
	std::vector<Queue> queues;
	Handler handler;
	Evil evil;
	bool no_notify = false;                // set VIRTQ_USED_F_NO_NOTIFY
	bool hold = false;                     // accept notifies but complete nothing until release()
	std::function<void(uint16_t q)> raise; // queue interrupt
	unsigned notifies = 0;
	std::vector<uint8_t> status_writes;

	void reset();
	void notify(uint16_t q);
	// Completes up to max available chains of queue q.
	void process(uint16_t q, unsigned max = ~0u);
};

// virtio-pci modern function: config space with capabilities + BARs.
// BAR0 (64-bit, 16 KiB): common 0x0000, ISR 0x1000, device 0x2000, notify
// 0x3000 (multiplier 4). BAR2 (32-bit, 4 KiB): MSI-X table, 4 entries.
class FakePciFunction final : public ConfigAccessor, public MemoryAccessor {
public:
	FakePciFunction(FakeVirtioCore &core, FakeInterrupts &irq, bool with_msix = true);
	uint32_t read(unsigned offset, unsigned len) override;
	void write(unsigned offset, unsigned len, uint32_t value) override;
	uint64_t read(uint64_t addr, unsigned len) override;
	void write(uint64_t addr, unsigned len, uint64_t value) override;
	void notify(uint64_t addr, unsigned len, uint64_t value) override
	{
		posted_notifies++;
		write(addr, len, value);
	}

	std::array<uint8_t, 4096> cfg{};
	unsigned posted_notifies = 0;
	uint8_t isr = 0;

	static constexpr uint32_t kBar0Size = 0x4000, kBar2Size = 0x1000;

private:
	uint64_t bar_addr(unsigned i) const;
	uint64_t common_read(unsigned reg, unsigned len);
	void common_write(unsigned reg, unsigned len, uint64_t v);
	void raise(uint16_t vector);

	FakeVirtioCore &core_;
	FakeInterrupts &irq_;
	bool msix_;
	uint32_t dfsel_ = 0, gfsel_ = 0;
	uint16_t qsel_ = 0;
	uint16_t msix_config_ = 0xffff;
	std::array<std::array<uint32_t, 4>, 4> msix_table_{};
	std::array<uint32_t, 6> bar_mask_{};
};

// virtio-mmio version 2 window at `base`.
class FakeMmioDevice final : public MemoryAccessor {
public:
	FakeMmioDevice(FakeVirtioCore &core, FakeInterrupts &irq, uint64_t base, uint32_t version = 2);
	uint64_t read(uint64_t addr, unsigned len) override;
	void write(uint64_t addr, unsigned len, uint64_t value) override;
	uint32_t int_status = 0;

private:
	FakeVirtioCore &core_;
	FakeInterrupts &irq_;
	uint64_t base_;
	uint32_t version_;
	uint32_t dfsel_ = 0, gfsel_ = 0, qsel_ = 0;
};

} // namespace vsst::virtio::fake
