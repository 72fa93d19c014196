// SPDX-License-Identifier: Apache-2.0
#include "vsst/posix/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "vsst/posix/unique_fd.h"

namespace vsst {

bool write_file_atomically(const std::string &path, const std::string &text, std::string &err)
{
	// The temporary name is unique per process and attempt; O_EXCL|O_NOFOLLOW
	// refuse anything (a planted symlink included) already at that name.
	std::string tmp;
	UniqueFd fd;
	for (int attempt = 0; attempt < 100 && !fd; ++attempt) {
		tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(attempt);
		fd.reset(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
		if (!fd && errno != EEXIST) {
			err = "create " + tmp + ": " + std::strerror(errno);
			return false;
		}
	}
	if (!fd) {
		err = "create " + tmp + ": no free temporary name";
		return false;
	}
	auto fail = [&](std::string why) {
		err = std::move(why);
		::unlink(tmp.c_str());
		return false;
	};
	size_t done = 0;
	while (done < text.size()) {
		const ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return fail("write " + tmp + ": " + (n < 0 ? std::strerror(errno) : "no progress"));
		done += static_cast<size_t>(n);
	}
	if (::fsync(fd.get()) != 0)
		return fail("fsync " + tmp + ": " + std::strerror(errno));
	fd.reset();
	if (::rename(tmp.c_str(), path.c_str()) != 0)
		return fail("rename " + tmp + " -> " + path + ": " + std::strerror(errno));
	return true;
}

} // namespace vsst
