// SPDX-License-Identifier: Apache-2.0
#include "vsst/posix/unix_socket.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "vsst/posix/child_process.h"

namespace vsst {

namespace {

bool make_address(const std::string &path, sockaddr_un &sa)
{
	sa = {};
	if (path.empty() || path.size() >= sizeof sa.sun_path)
		return false;
	sa.sun_family = AF_UNIX;
	std::memcpy(sa.sun_path, path.data(), path.size());
	return true;
}

} // namespace

UniqueFd listen_unix(const std::string &path, std::string &error)
{
	sockaddr_un sa;
	if (!make_address(path, sa)) {
		error = path + ": socket path empty or too long";
		return UniqueFd();
	}
	UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
	if (!fd || bind(fd.get(), reinterpret_cast<sockaddr *>(&sa), sizeof sa) < 0 ||
	    listen(fd.get(), 4) < 0) {
		error = path + ": " + strerror(errno);
		return UniqueFd();
	}
	return fd;
}

UniqueFd accept_within(int listener, std::chrono::milliseconds timeout, const std::function<bool()> &stop)
{
	const auto deadline = std::chrono::steady_clock::now() + timeout;
	for (;;) {
		const auto now = std::chrono::steady_clock::now();
		if (now >= deadline)
			return UniqueFd();
		const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
		pollfd p{listener, POLLIN, 0};
		const int r = poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 100)));
		if (r > 0) {
			UniqueFd conn(accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
			if (conn)
				return conn; // accept4 does not inherit O_NONBLOCK: blocking
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				return UniqueFd();
		} else if (r < 0 && errno != EINTR) {
			return UniqueFd();
		}
		if (stop && stop())
			return UniqueFd();
	}
}

int send_with_fds(int sock, const void *data, size_t len, const int *fds, size_t nfds)
{
	std::vector<char> control(CMSG_SPACE(sizeof(int) * nfds));
	iovec iov{const_cast<void *>(data), len};
	msghdr mh{};
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds) {
		mh.msg_control = control.data();
		mh.msg_controllen = control.size();
		cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	for (;;) {
		if (sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno != EINTR)
			return errno;
	}
}

UniqueFd connect_unix(const std::string &path, int &err)
{
	sockaddr_un sa;
	if (!make_address(path, sa)) {
		err = ENAMETOOLONG;
		return UniqueFd();
	}
	UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (!fd) {
		err = errno;
		return UniqueFd();
	}
	while (connect(fd.get(), reinterpret_cast<sockaddr *>(&sa), sizeof sa) < 0) {
		if (errno == EINTR)
			continue;
		err = errno;
		return UniqueFd();
	}
	err = 0;
	return fd;
}

bool wait_for_socket(const std::string &path, std::chrono::milliseconds timeout, ChildProcess *owner)
{
	sockaddr_un sa;
	if (!make_address(path, sa))
		return false;
	const auto deadline = std::chrono::steady_clock::now() + timeout;
	for (;;) {
		UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
		if (fd && connect(fd.get(), reinterpret_cast<sockaddr *>(&sa), sizeof sa) == 0)
			return true;
		if ((owner && !owner->running()) || std::chrono::steady_clock::now() >= deadline)
			return false;
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
}

std::optional<PeerCred> peer_credentials(int fd)
{
	ucred c{};
	socklen_t len = sizeof c;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &len) != 0 || len != sizeof c)
		return std::nullopt;
	return PeerCred{c.pid, c.uid, c.gid};
}

} // namespace vsst
