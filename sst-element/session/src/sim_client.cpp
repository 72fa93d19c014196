// SPDX-License-Identifier: Apache-2.0
#include "vsst/sim/sim_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "vsst/protocol/frame_codec.h"

namespace vsst::sim {

namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline)
{
	const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
	return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

bool wait_fd(int fd, short events, Clock::time_point deadline)
{
	for (;;) {
		pollfd p{fd, events, 0};
		const int r = ::poll(&p, 1, remaining_ms(deadline));
		if (r > 0)
			return true;
		if (r == 0)
			return false;
		if (errno != EINTR)
			return false;
	}
}

} // namespace

std::optional<SimClient> SimClient::connect(const std::string &path, int timeout_ms, std::string *err)
{
	sockaddr_un addr{};
	if (path.size() >= sizeof addr.sun_path) {
		if (err)
			*err = "socket path too long";
		return std::nullopt;
	}
	addr.sun_family = AF_UNIX;
	std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
	const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
	for (;;) {
		UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
		if (!fd) {
			if (err)
				*err = std::string("socket: ") + std::strerror(errno);
			return std::nullopt;
		}
		if (::connect(fd.get(), reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0) {
			::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) | O_NONBLOCK);
			return SimClient(std::move(fd));
		}
		const int e = errno;
		if ((e != ENOENT && e != ECONNREFUSED) || Clock::now() >= deadline) {
			if (err)
				*err = "connect " + path + ": " + std::strerror(e);
			return std::nullopt;
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
}

bool SimClient::send_all(const void *data, size_t len, int timeout_ms)
{
	const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
	const auto *p = static_cast<const uint8_t *>(data);
	while (len > 0) {
		const ssize_t n = ::send(fd_.get(), p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= static_cast<size_t>(n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!wait_fd(fd_.get(), POLLOUT, deadline))
				return false;
			continue;
		}
		return false;
	}
	return true;
}

bool SimClient::read_exact(void *data, size_t len, int timeout_ms)
{
	const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
	auto *p = static_cast<uint8_t *>(data);
	while (len > 0) {
		const ssize_t n = ::recv(fd_.get(), p, len, 0);
		if (n > 0) {
			p += n;
			len -= static_cast<size_t>(n);
			continue;
		}
		if (n == 0)
			return false; // closed
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (!wait_fd(fd_.get(), POLLIN, deadline))
				return false;
			continue;
		}
		return false;
	}
	return true;
}

bool SimClient::wait_closed(int timeout_ms)
{
	const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
	uint8_t buf[4096];
	for (;;) {
		const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
		if (n == 0)
			return true;
		if (n > 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno == ECONNRESET)
			return true;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return false;
		if (!wait_fd(fd_.get(), POLLIN, deadline))
			return false;
	}
}

bool SimClient::send_frame(uint16_t type, uint64_t tag, const void *payload, size_t len, int timeout_ms)
{
	ByteBuffer out;
	encode_frame(out, type, tag, {{static_cast<const uint8_t *>(payload), len}});
	return send_all(out.data(), out.size(), timeout_ms);
}

std::optional<ClientFrame> SimClient::read_frame(int timeout_ms)
{
	const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
	ClientFrame f;
	if (!read_exact(&f.hdr, sizeof f.hdr, timeout_ms))
		return std::nullopt;
	if (f.hdr.magic != VSST_SIM_MAGIC || f.hdr.length > VSST_SIM_MAX_PAYLOAD)
		return std::nullopt;
	f.payload.resize(f.hdr.length);
	if (f.hdr.length > 0 && !read_exact(f.payload.data(), f.hdr.length, remaining_ms(deadline))) {
		return std::nullopt;
	}
	return f;
}

std::optional<vsst_sim_hello> SimClient::hello(uint32_t device_id, bool events, int timeout_ms)
{
	vsst_sim_hello h{};
	h.device_id = device_id;
	h.features = events ? 1u : 0u;
	if (!send_frame(VSST_SIM_HELLO, 0, &h, sizeof h, timeout_ms))
		return std::nullopt;
	auto f = read_frame(timeout_ms);
	if (!f || f->hdr.type != VSST_SIM_HELLO || f->payload.size() < sizeof h)
		return std::nullopt;
	std::memcpy(&h, f->payload.data(), sizeof h);
	return h;
}

bool SimClient::send_request(uint64_t tag, const SSTRequest &req, size_t len, int timeout_ms)
{
	return send_frame(VSST_SIM_REQUEST, tag, &req, len, timeout_ms);
}

std::optional<SSTResponse> SimClient::acalsim_call(const SSTRequest &req, int timeout_ms)
{
	if (!send_all(&req, sizeof req, timeout_ms))
		return std::nullopt;
	SSTResponse resp;
	if (!read_exact(&resp, sizeof resp, timeout_ms))
		return std::nullopt;
	return resp;
}

} // namespace vsst::sim
