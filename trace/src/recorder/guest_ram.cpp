// SPDX-License-Identifier: Apache-2.0
#include "guest_ram.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vsst::trace {

GuestRam::~GuestRam()
{
	for (Region &r : regions_)
		::munmap(r.map_addr, r.map_len);
}

int GuestRam::map(const vsst_ram_layout &l)
{
	if (l.count == 0 || l.count > VSST_RAM_MAX_REGIONS)
		return -EINVAL;
	const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
	std::vector<Region> out;
	for (uint32_t i = 0; i < l.count; i++) {
		const vsst_ram_region &r = l.region[i];
		if (r.size == 0 || r.gpa + r.size < r.gpa || r.fd < 0) {
			for (Region &m : out)
				::munmap(m.map_addr, m.map_len);
			return -EINVAL;
		}
		const uint64_t aligned = r.fd_offset & ~(page - 1);
		const uint64_t skew = r.fd_offset - aligned;
		void *p = ::mmap(nullptr, r.size + skew, PROT_READ, MAP_SHARED, r.fd,
				 static_cast<off_t>(aligned));
		if (p == MAP_FAILED) {
			const int e = errno;
			for (Region &m : out)
				::munmap(m.map_addr, m.map_len);
			return -e;
		}
		out.push_back({r.gpa, r.size, static_cast<const uint8_t *>(p) + skew, r.size + skew, p});
	}
	regions_ = std::move(out);
	return 0;
}

bool GuestRam::contains(uint64_t gpa, uint64_t len) const
{
	if (gpa + len < gpa)
		return false;
	while (len) {
		const Region *hit = nullptr;
		for (const Region &r : regions_)
			if (gpa >= r.gpa && gpa - r.gpa < r.size)
				hit = &r;
		if (!hit)
			return false;
		const uint64_t n = std::min<uint64_t>(len, hit->size - (gpa - hit->gpa));
		gpa += n;
		len -= n;
	}
	return true;
}

bool GuestRam::read(uint64_t gpa, void *out, size_t len) const
{
	if (!contains(gpa, len))
		return false;
	auto *o = static_cast<uint8_t *>(out);
	while (len) {
		for (const Region &r : regions_) {
			if (gpa >= r.gpa && gpa - r.gpa < r.size) {
				const size_t n =
					static_cast<size_t>(std::min<uint64_t>(len, r.size - (gpa - r.gpa)));
				std::memcpy(o, r.base + (gpa - r.gpa), n);
				o += n;
				gpa += n;
				len -= n;
				break;
			}
		}
	}
	return true;
}

} // namespace vsst::trace
