// SPDX-License-Identifier: Apache-2.0
// Handing the channel and guest RAM to another process: one sendmsg carrying
// a fixed-size description plus the fds (SCM_RIGHTS), or fd inheritance.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "vsst/posix/unique_fd.h"
#include "vsst/rpc.h"

namespace {

using vsst::UniqueFd;

constexpr uint32_t kSetupMagic = 0x55535356; // "VSSU"
constexpr uint32_t kSetupVersion = 1;
constexpr int kChannelFds = 3;
constexpr int kMaxFds = kChannelFds + VSST_RAM_MAX_REGIONS;

struct WireRegion {
	uint64_t gpa, size, fd_offset;
};
struct Wire {
	uint32_t magic, version, ram_count, reserved;
	WireRegion region[VSST_RAM_MAX_REGIONS];
};

int set_err(char *err, size_t errlen, int rc, const std::string &msg)
{
	if (err && errlen) {
		std::snprintf(err, errlen, "%s", msg.c_str());
	}
	return rc;
}

int wait_in(int fd, std::chrono::steady_clock::time_point end)
{
	for (;;) {
		const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
			end - std::chrono::steady_clock::now());
		pollfd p{fd, POLLIN, 0};
		const int r = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
		if (r > 0)
			return 0;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

int setup_send(int sock, const struct vsst_rpc_fds *ch, const struct vsst_ram_layout *ram)
{
	if (!ch)
		return -EINVAL;
	const uint32_t count = ram ? ram->count : 0;
	if (count > VSST_RAM_MAX_REGIONS)
		return -EINVAL;
	Wire w{};
	w.magic = kSetupMagic;
	w.version = kSetupVersion;
	w.ram_count = count;
	int fds[kMaxFds] = {ch->region, ch->to_device, ch->to_proxy};
	for (uint32_t i = 0; i < count; ++i) {
		w.region[i] = {ram->region[i].gpa, ram->region[i].size, ram->region[i].fd_offset};
		fds[kChannelFds + i] = ram->region[i].fd;
	}
	const int nfds = kChannelFds + static_cast<int>(count);
	for (int i = 0; i < nfds; ++i)
		if (fds[i] < 0)
			return -EINVAL;

	alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
	iovec iov{&w, sizeof w};
	msghdr mh{};
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
	cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
	std::memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	ssize_t n;
	do {
		n = ::sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	// The fds went with the first byte; push out any remainder (stream sockets).
	size_t sent = static_cast<size_t>(n);
	while (sent < sizeof w) {
		n = ::send(sock, reinterpret_cast<char *>(&w) + sent, sizeof w - sent, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		sent += static_cast<size_t>(n);
	}
	return 0;
}

int setup_recv(int sock, struct vsst_rpc_fds *ch, struct vsst_ram_layout *ram, int timeout_ms, char *err,
	       size_t errlen)
{
	if (!ch || timeout_ms < 0)
		return set_err(err, errlen, -EINVAL, "bad argument");
	const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
	Wire w{};
	size_t got = 0;
	std::vector<UniqueFd> fds;
	bool truncated = false;
	while (got < sizeof w) {
		const int wr = wait_in(sock, end);
		if (wr < 0)
			return set_err(err, errlen, wr,
				       wr == -ETIMEDOUT ? "timed out waiting for setup message"
							: "poll on setup socket failed");
		alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
		iovec iov{reinterpret_cast<char *>(&w) + got, sizeof w - got};
		msghdr mh{};
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof cbuf;
		const ssize_t n = ::recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return set_err(err, errlen, -errno, std::string("recvmsg: ") + std::strerror(errno));
		for (cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			const size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; ++i) {
				int fd;
				std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
				fds.emplace_back(fd);
			}
		}
		if (mh.msg_flags & MSG_CTRUNC)
			truncated = true;
		if (n == 0)
			return set_err(err, errlen, -EPIPE, "peer closed the setup socket");
		got += static_cast<size_t>(n);
	}
	if (truncated)
		return set_err(err, errlen, -EPROTO, "setup message carried too many fds");
	if (w.magic != kSetupMagic || w.version != kSetupVersion)
		return set_err(err, errlen, -EPROTO, "setup message has a bad magic or version");
	if (w.ram_count > VSST_RAM_MAX_REGIONS)
		return set_err(err, errlen, -EPROTO, "setup message has too many RAM regions");
	if (fds.size() != kChannelFds + w.ram_count)
		return set_err(err, errlen, -EPROTO,
			       "setup message carried " + std::to_string(fds.size()) + " fds, expected " +
				       std::to_string(kChannelFds + w.ram_count));
	for (uint32_t i = 0; i < w.ram_count; ++i) {
		const WireRegion &r = w.region[i];
		struct stat sb;
		const int fd = fds[kChannelFds + i].get();
		if (r.size == 0 || r.gpa + r.size < r.gpa || r.fd_offset + r.size < r.fd_offset)
			return set_err(err, errlen, -EPROTO,
				       "RAM region " + std::to_string(i) + " is empty or wraps");
		if (::fstat(fd, &sb) < 0 || static_cast<uint64_t>(sb.st_size) < r.fd_offset + r.size)
			return set_err(err, errlen, -EPROTO,
				       "RAM region " + std::to_string(i) + " exceeds its file");
		for (uint32_t j = 0; j < i; ++j) {
			const WireRegion &o = w.region[j];
			if (r.gpa < o.gpa + o.size && o.gpa < r.gpa + r.size)
				return set_err(err, errlen, -EPROTO,
					       "RAM regions " + std::to_string(j) + " and " +
						       std::to_string(i) + " overlap");
		}
	}
	ch->region = fds[0].release();
	ch->to_device = fds[1].release();
	ch->to_proxy = fds[2].release();
	if (ram) {
		ram->count = w.ram_count;
		for (uint32_t i = 0; i < w.ram_count; ++i)
			ram->region[i] = {w.region[i].gpa, w.region[i].size, w.region[i].fd_offset,
					  fds[kChannelFds + i].release()};
	}
	// Without `ram`, the RAM fds are closed by their UniqueFd here.
	return 0;
}

} // namespace

extern "C" {

int vsst_setup_send(int sock, const struct vsst_rpc_fds *ch, const struct vsst_ram_layout *ram)
{
	try {
		return setup_send(sock, ch, ram);
	} catch (...) {
		return -ENOMEM;
	}
}

int vsst_setup_recv(int sock, struct vsst_rpc_fds *ch, struct vsst_ram_layout *ram, int timeout_ms, char *err,
		    size_t errlen)
{
	try {
		return setup_recv(sock, ch, ram, timeout_ms, err, errlen);
	} catch (...) {
		return set_err(err, errlen, -ENOMEM, "out of memory");
	}
}

int vsst_fd_set_inheritable(int fd)
{
	const int fl = ::fcntl(fd, F_GETFD);
	if (fl < 0 || ::fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

} // extern "C"
