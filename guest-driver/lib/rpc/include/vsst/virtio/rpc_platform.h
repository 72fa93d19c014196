// SPDX-License-Identifier: Apache-2.0
// The RPC channel as a virtio platform: a host process plays the guest VM of
// a device-VM QEMU (-accel rpc). It owns guest RAM (one memfd) and the
// channel, and provides the accessors the transports need:
//
//   config(n)      PCI config space of backend device n   -> AS n
//   mmio()         guest-physical MMIO (the BARs we program) -> AS global;
//                  doorbells inside a region the backend announced as
//                  posted (MMIO_REGION_CONFIG) go out as posted writes
//   memory()       allocator of driver buffers in the shared guest RAM
//   interrupts(n)  MSI-X vectors (address 0xfee00000, data = n<<8 | vector)
//                  from MSI events, or the INTx line from SET_IRQ events
//
// One event pump serves every device: whichever thread waits pumps, and
// events are sorted per device. Every wait is bounded.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "vsst/devvm/channel.h"
#include "vsst/devvm/guest_ram.h"
#include "vsst/rpc.h"
#include "vsst/virtio/accessor.h"
#include "vsst/virtio/pci.h"
#include "vsst/virtio/region_allocator.h"

namespace vsst::virtio {

struct RpcGuestOptions {
	uint64_t ram_size = 64ull << 20;         // guest RAM at guest-physical 0
	uint64_t driver_mem_offset = 1ull << 20; // driver buffers from here to the end of RAM
	uint64_t pci_hole_base = 0xe0000000ull;  // BARs are assigned here (above RAM)
	uint64_t pci_hole_size = 0x10000000ull;
	uint32_t ring_capacity = 256;
	int access_timeout_ms = 5000; // one config/MMIO round trip
};

// What REGISTER_PCI_DEV said about one backend device.
struct RpcPciDevice {
	unsigned index = 0;
	uint16_t vendor = 0, device = 0;
	uint32_t class_code = 0;
};

struct RpcGuestCounters {
	uint64_t msi = 0, set_irq = 0, regions = 0, stray_msi = 0, unknown_events = 0;
	uint64_t posted_writes = 0, sync_writes = 0, reads = 0, error_completions = 0;
};

class RpcGuest {
public:
	explicit RpcGuest(RpcGuestOptions opt = {});
	~RpcGuest();
	RpcGuest(const RpcGuest &) = delete;
	RpcGuest &operator=(const RpcGuest &) = delete;

	// Resources to hand to the backend (inherit them, or vsst_setup_send).
	const vsst_rpc_fds &channel_fds() const { return fds_; }
	const vsst_ram_layout &ram_layout() const { return layout_; }
	int ram_fd() const { return ram_.fd(); }
	vsst_rpc *channel() { return ch_; }

	// The device-VM handshake (devvm/): sends HELLO and collects the backend's
	// start-up events (HELLO, REGISTER_PCI_DEV, MMIO_REGION_CONFIG) until
	// START_VM. Throws Error or TimeoutError.
	void start(std::chrono::milliseconds timeout);
	const std::vector<RpcPciDevice> &devices() const { return devices_; }
	std::optional<unsigned> find_device(uint16_t vendor, uint16_t device) const;
	uint32_t peer_version() const { return peer_version_; }

	std::unique_ptr<ConfigAccessor> config(unsigned index);
	MemoryAccessor &mmio();
	RegionAllocator &memory() { return *alloc_; }
	InterruptSource &interrupts(unsigned index);
	PciWindow &pci_window() { return window_; }
	// Host pointer for guest-physical RAM, nullptr outside RAM.
	std::byte *ram_at(uint64_t gpa, size_t len) const;

	// Handles events for up to timeout (0: only what is pending).
	void pump(std::chrono::milliseconds timeout);
	// Vectors that fired for device index (empty on timeout).
	std::vector<uint32_t> wait_irq(unsigned index, std::chrono::milliseconds timeout);
	bool is_posted(uint64_t addr, unsigned len) const;
	size_t posted_regions() const;

	// Sends STOP (best effort).
	void stop(uint64_t reason = 0);
	std::string poison_reason() const;
	RpcGuestCounters counters() const;
	int access_timeout_ms() const { return opt_.access_timeout_ms; }

	// Internal (used by the accessors).
	uint64_t access(unsigned as, uint64_t addr, unsigned len, unsigned dir, uint64_t data);
	void post(uint64_t addr, unsigned len, uint64_t data);

private:
	class Config;
	class Mmio;
	class Irq;
	void handle(const vsst_rpcmsg &m); // with mu_ held
	[[noreturn]] void channel_failed(const std::string &what, int rc);

	RpcGuestOptions opt_;
	devvm::GuestRam ram_;
	vsst_ram_layout layout_{};
	devvm::Channel channel_;
	vsst_rpc_fds fds_{-1, -1, -1};
	devvm::ProxyEndpoint ep_;
	vsst_rpc *ch_ = nullptr;
	std::unique_ptr<RegionAllocator> alloc_;
	std::unique_ptr<Mmio> mmio_;
	std::map<unsigned, std::unique_ptr<Irq>> irqs_;
	PciWindow window_;

	mutable std::mutex mu_;
	std::condition_variable cv_;
	bool pumping_ = false;
	bool started_ = false, stopped_ = false;
	uint32_t peer_version_ = 0;
	std::vector<RpcPciDevice> devices_;
	std::map<uint64_t, uint64_t> posted_;               // base -> size
	std::map<unsigned, std::vector<uint32_t>> pending_; // device -> fired vectors
	RpcGuestCounters counters_;
	std::atomic<uint64_t> posted_writes_{0}, sync_writes_{0}, reads_{0}, error_completions_{0};
};

} // namespace vsst::virtio
