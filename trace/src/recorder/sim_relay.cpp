// SPDX-License-Identifier: Apache-2.0
#include "sim_relay.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace vsst::trace {

namespace {

bool make_addr(const std::string &path, sockaddr_un &sa)
{
	if (path.empty() || path.size() >= sizeof sa.sun_path)
		return false;
	std::memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	std::memcpy(sa.sun_path, path.data(), path.size());
	return true;
}

bool send_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				pollfd pf{fd, POLLOUT, 0};
				if (::poll(&pf, 1, 1000) <= 0)
					return false;
				continue;
			}
			return false;
		}
		p += w;
		n -= static_cast<size_t>(w);
	}
	return true;
}

} // namespace

SimRelay::~SimRelay()
{
	stop();
}

int SimRelay::start(const std::string &listen_path, const std::string &sim_path)
{
	sockaddr_un sa;
	sockaddr_un probe;
	if (!make_addr(listen_path, sa) || !make_addr(sim_path, probe))
		return -EINVAL;
	listen_path_ = listen_path;
	sim_path_ = sim_path;
	listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd_ < 0)
		return -errno;
	::unlink(listen_path.c_str());
	if (::bind(listen_fd_, reinterpret_cast<sockaddr *>(&sa), sizeof sa) < 0 ||
	    ::listen(listen_fd_, 8) < 0) {
		const int e = errno;
		::close(listen_fd_);
		listen_fd_ = -1;
		return -e;
	}
	wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (wake_fd_ < 0) {
		const int e = errno;
		::close(listen_fd_);
		listen_fd_ = -1;
		return -e;
	}
	try {
		thread_ = std::thread([this] { run(); });
	} catch (...) {
		::close(listen_fd_);
		::close(wake_fd_);
		listen_fd_ = wake_fd_ = -1;
		return -ENOMEM;
	}
	return 0;
}

void SimRelay::stop()
{
	if (thread_.joinable()) {
		const uint64_t one = 1;
		(void)!::write(wake_fd_, &one, sizeof one);
		thread_.join();
	}
	if (listen_fd_ >= 0) {
		::close(listen_fd_);
		::unlink(listen_path_.c_str());
		listen_fd_ = -1;
	}
	if (wake_fd_ >= 0) {
		::close(wake_fd_);
		wake_fd_ = -1;
	}
}

void SimRelay::run()
{
	struct Conn {
		unsigned id;
		int dev, sim;
	};
	std::vector<Conn> conns;
	unsigned next_id = 0;
	std::vector<uint8_t> buf(64 << 10);
	auto close_conn = [&](size_t i) {
		::close(conns[i].dev);
		::close(conns[i].sim);
		on_conn_(conns[i].id, false);
		conns.erase(conns.begin() + static_cast<long>(i));
	};
	for (;;) {
		std::vector<pollfd> pf;
		pf.push_back({wake_fd_, POLLIN, 0});
		pf.push_back({listen_fd_, POLLIN, 0});
		for (const Conn &c : conns) {
			pf.push_back({c.dev, POLLIN, 0});
			pf.push_back({c.sim, POLLIN, 0});
		}
		if (::poll(pf.data(), pf.size(), 1000) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[0].revents)
			break;
		if (pf[1].revents & POLLIN) {
			const int dev = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
			if (dev >= 0) {
				const int sim = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
				sockaddr_un sa;
				make_addr(sim_path_, sa);
				if (sim < 0 ||
				    ::connect(sim, reinterpret_cast<sockaddr *>(&sa), sizeof sa) < 0) {
					// No simulator: the device sees its connection close (as without
					// relay).
					if (sim >= 0)
						::close(sim);
					::close(dev);
				} else {
					conns.push_back({next_id++, dev, sim});
					on_conn_(conns.back().id, true);
				}
			}
		}
		// Walk backwards so closing a connection does not shift unvisited ones.
		for (size_t i = conns.size(); i-- > 0;) {
			const pollfd &pd = pf[2 + 2 * i], &ps = pf[2 + 2 * i + 1];
			bool dead = false;
			for (int dir = 0; dir < 2 && !dead; dir++) {
				const pollfd &p = dir == 0 ? pd : ps;
				if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
					continue;
				const ssize_t n = ::recv(p.fd, buf.data(), buf.size(), MSG_DONTWAIT);
				if (n < 0 && (errno == EAGAIN || errno == EINTR))
					continue;
				if (n <= 0) {
					dead = true;
					break;
				}
				on_data_(conns[i].id, dir, buf.data(), static_cast<size_t>(n));
				if (!send_all(dir == 0 ? conns[i].sim : conns[i].dev, buf.data(),
					      static_cast<size_t>(n)))
					dead = true;
			}
			if (dead)
				close_conn(i);
		}
	}
	while (!conns.empty())
		close_conn(conns.size() - 1);
}

} // namespace vsst::trace
