// SPDX-License-Identifier: Apache-2.0
#include "guest_ram.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vsst {

std::vector<RamRegion> pc_ram_layout(uint64_t ram_bytes)
{
	// QEMU 7.2 pc_piix: RAM of 3.5 GiB or more keeps only 3 GiB below 4 GiB
	// (gigabyte alignment); the rest is mapped from 4 GiB up.
	constexpr uint64_t k4G = 4ull << 30;
	uint64_t lowmem = ram_bytes >= 0xe0000000ull ? 0xc0000000ull : ram_bytes;
	std::vector<RamRegion> layout{{0, lowmem, 0}};
	if (ram_bytes > lowmem)
		layout.push_back({k4G, ram_bytes - lowmem, lowmem});
	return layout;
}

GuestRam GuestRam::create(uint64_t ram_bytes, std::string &error)
{
	GuestRam ram;
	ram.fd_.reset(memfd_create("vsst-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING));
	if (!ram.fd_) {
		error = std::string("memfd_create: ") + strerror(errno);
		return ram;
	}
	if (ftruncate(ram.fd_.get(), static_cast<off_t>(ram_bytes)) < 0) {
		error = std::string("ftruncate guest RAM: ") + strerror(errno);
		ram.fd_.reset();
		return ram;
	}
	// Neither QEMU may resize the shared RAM under the other's feet.
	if (fcntl(ram.fd_.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0) {
		error = std::string("sealing guest RAM: ") + strerror(errno);
		ram.fd_.reset();
		return ram;
	}
	ram.size_ = ram_bytes;
	ram.layout_ = pc_ram_layout(ram_bytes);
	return ram;
}

} // namespace vsst
