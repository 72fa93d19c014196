// SPDX-License-Identifier: Apache-2.0
// The platform below the transports: three small interfaces a host program
// implements to play the guest. A fake implementation drives the unit tests;
// the RPC channel implementation (rpc/) drives a real device-VM QEMU.
//
//   ConfigAccessor   PCI configuration space of one function
//   MemoryAccessor   guest-physical MMIO (BARs, virtio-mmio register windows)
//   GuestMemory      allocator of driver buffers in memory the device can DMA
//   InterruptSource  interrupt vectors raised by one device
//
// Accessors throw vsst::virtio::Error when an access cannot complete (for
// example the channel is poisoned); a read the device answers with an error
// returns all-ones, as a PCI master abort would.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace vsst::virtio {

class ConfigAccessor {
public:
	virtual ~ConfigAccessor() = default;
	// offset < 4096, len 1, 2 or 4, naturally aligned.
	virtual uint32_t read(unsigned offset, unsigned len) = 0;
	virtual void write(unsigned offset, unsigned len, uint32_t value) = 0;

	uint8_t read8(unsigned off) { return static_cast<uint8_t>(read(off, 1)); }
	uint16_t read16(unsigned off) { return static_cast<uint16_t>(read(off, 2)); }
	uint32_t read32(unsigned off) { return read(off, 4); }
	void write8(unsigned off, uint8_t v) { write(off, 1, v); }
	void write16(unsigned off, uint16_t v) { write(off, 2, v); }
	void write32(unsigned off, uint32_t v) { write(off, 4, v); }
};

class MemoryAccessor {
public:
	virtual ~MemoryAccessor() = default;
	// len 1, 2, 4 or 8.
	virtual uint64_t read(uint64_t addr, unsigned len) = 0;
	virtual void write(uint64_t addr, unsigned len, uint64_t value) = 0;
	// A doorbell write: the accessor may post it (no completion) when the
	// platform allows that for addr; the default is an ordinary write.
	virtual void notify(uint64_t addr, unsigned len, uint64_t value) { write(addr, len, value); }
};

// A block of guest memory: host mapping, guest-physical address, size.
struct DmaRegion {
	std::byte *host = nullptr;
	uint64_t gpa = 0;
	size_t size = 0;

	std::span<std::byte> bytes() const { return {host, size}; }
	template <typename T> T *as() const { return reinterpret_cast<T *>(host); }
};

class GuestMemory {
public:
	virtual ~GuestMemory() = default;
	// Zeroed, aligned (align a power of two). Throws Error when exhausted.
	virtual DmaRegion alloc(size_t size, size_t align) = 0;
	virtual void free(const DmaRegion &region) = 0;
};

// Owns one allocation (RAII).
class DmaBuffer {
public:
	DmaBuffer() = default;
	DmaBuffer(GuestMemory &mem, size_t size, size_t align = 64)
		: mem_(&mem), region_(mem.alloc(size, align))
	{
	}
	~DmaBuffer() { reset(); }
	DmaBuffer(DmaBuffer &&o) noexcept : mem_(o.mem_), region_(o.region_) { o.mem_ = nullptr; }
	DmaBuffer &operator=(DmaBuffer &&o) noexcept
	{
		if (this != &o) {
			reset();
			mem_ = o.mem_;
			region_ = o.region_;
			o.mem_ = nullptr;
		}
		return *this;
	}
	DmaBuffer(const DmaBuffer &) = delete;
	DmaBuffer &operator=(const DmaBuffer &) = delete;

	void reset()
	{
		if (mem_)
			mem_->free(region_);
		mem_ = nullptr;
		region_ = {};
	}
	const DmaRegion &region() const { return region_; }
	std::byte *host() const { return region_.host; }
	uint64_t gpa() const { return region_.gpa; }
	size_t size() const { return region_.size; }
	template <typename T> T *as() const { return region_.as<T>(); }

private:
	GuestMemory *mem_ = nullptr;
	DmaRegion region_;
};

// Interrupts of one device. A vector is an MSI-X table index; a device on a
// pin-based line (INTx, virtio-mmio) reports kLineVector.
class InterruptSource {
public:
	static constexpr uint32_t kLineVector = 0xffffffffu;
	virtual ~InterruptSource() = default;
	// Number of MSI-X vectors the platform can deliver (0: line only).
	virtual unsigned msi_vectors() const { return 0; }
	// The message (address, data) the device must write for vector v.
	virtual std::pair<uint64_t, uint32_t> msi_message(unsigned v) const { return {0, v}; }
	// Waits up to timeout for at least one interrupt; returns the vectors
	// that fired since the last call (empty on timeout).
	virtual std::vector<uint32_t> wait(std::chrono::milliseconds timeout) = 0;
};

} // namespace vsst::virtio
