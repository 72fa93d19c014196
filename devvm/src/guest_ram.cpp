// SPDX-License-Identifier: Apache-2.0
#include "vsst/devvm/guest_ram.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <utility>

namespace vsst::devvm {

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

bool to_setup_layout(int fd, const std::vector<RamRegion> &layout, vsst_ram_layout &out)
{
	out = {};
	if (layout.size() > VSST_RAM_MAX_REGIONS)
		return false;
	for (const RamRegion &r : layout)
		out.region[out.count++] = {r.gpa, r.size, r.fd_offset, fd};
	return true;
}

std::string ram_option(int fd, const std::vector<RamRegion> &layout)
{
	std::string s;
	for (const RamRegion &r : layout) {
		char b[96];
		std::snprintf(b, sizeof b, "%s%d@0x%" PRIx64 "+0x%" PRIx64 "+0x%" PRIx64,
			      s.empty() ? "" : ":", fd, r.gpa, r.size, r.fd_offset);
		s += b;
	}
	return s;
}

GuestRam::~GuestRam()
{
	if (base_)
		munmap(base_, size_);
}

GuestRam::GuestRam(GuestRam &&o) noexcept
	: fd_(std::move(o.fd_)), size_(std::exchange(o.size_, 0)), layout_(std::move(o.layout_)),
	  base_(std::exchange(o.base_, nullptr))
{
}

GuestRam &GuestRam::operator=(GuestRam &&o) noexcept
{
	if (this != &o) {
		if (base_)
			munmap(base_, size_);
		fd_ = std::move(o.fd_);
		size_ = std::exchange(o.size_, 0);
		layout_ = std::move(o.layout_);
		base_ = std::exchange(o.base_, nullptr);
	}
	return *this;
}

GuestRam GuestRam::create(uint64_t ram_bytes, std::string &error)
{
	return create(ram_bytes, pc_ram_layout(ram_bytes), error);
}

GuestRam GuestRam::create(uint64_t ram_bytes, std::vector<RamRegion> layout, std::string &error)
{
	GuestRam ram;
	for (const RamRegion &r : layout)
		if (r.size == 0 || r.fd_offset > ram_bytes || r.size > ram_bytes - r.fd_offset) {
			error = "guest RAM region outside the file";
			return ram;
		}
	UniqueFd fd(memfd_create("vsst-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING));
	if (!fd) {
		error = std::string("memfd_create: ") + strerror(errno);
		return ram;
	}
	if (ftruncate(fd.get(), static_cast<off_t>(ram_bytes)) < 0) {
		error = std::string("ftruncate guest RAM: ") + strerror(errno);
		return ram;
	}
	// Neither side may resize the shared RAM under the other's feet, and no side may add
	// a seal later (F_SEAL_WRITE or FUTURE_WRITE from a device VM would break the guest
	// VM's writable mapping).
	if (fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		error = std::string("sealing guest RAM: ") + strerror(errno);
		return ram;
	}
	ram.fd_ = std::move(fd);
	ram.size_ = ram_bytes;
	ram.layout_ = std::move(layout);
	return ram;
}

bool GuestRam::map(std::string &error)
{
	if (base_)
		return true;
	if (!valid() || size_ == 0) {
		error = "no guest RAM to map";
		return false;
	}
	void *p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
	if (p == MAP_FAILED) {
		error = std::string("mapping guest RAM: ") + strerror(errno);
		return false;
	}
	base_ = static_cast<uint8_t *>(p);
	return true;
}

uint8_t *GuestRam::at(uint64_t gpa, uint64_t len) const
{
	if (!base_)
		return nullptr;
	for (const RamRegion &r : layout_)
		if (gpa >= r.gpa && gpa - r.gpa <= r.size && len <= r.size - (gpa - r.gpa))
			return base_ + r.fd_offset + (gpa - r.gpa);
	return nullptr;
}

} // namespace vsst::devvm
