// SPDX-License-Identifier: Apache-2.0
#include "fake_sim.h"

#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace vsst::test {

FakeSim::FakeSim(Proto proto) : proto_(proto)
{
	char tmpl[] = "/tmp/vsst-devtest-XXXXXX";
	if (!mkdtemp(tmpl))
		throw std::runtime_error("mkdtemp failed");
	dir_ = tmpl;
	path_ = dir_ + "/sim.sock";
}

FakeSim::~FakeSim()
{
	stop();
	::rmdir(dir_.c_str());
}

void FakeSim::start()
{
	stop();
	listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sockaddr_un a{};
	a.sun_family = AF_UNIX;
	std::strncpy(a.sun_path, path_.c_str(), sizeof(a.sun_path) - 1);
	::unlink(path_.c_str());
	if (::bind(listen_fd_, reinterpret_cast<sockaddr *>(&a), sizeof(a)) < 0 ||
	    ::listen(listen_fd_, 8) < 0)
		throw std::runtime_error(std::string("fake sim bind/listen: ") + std::strerror(errno));
	wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	stop_ = false;
	drop_ = false;
	thread_ = std::thread([this] { run(); });
}

void FakeSim::stop()
{
	if (!thread_.joinable())
		return;
	stop_ = true;
	wake();
	thread_.join();
	{
		std::lock_guard<std::mutex> g(mu_);
		close_client_locked();
		held_.clear();
	}
	unanswered_ = 0;
	::close(listen_fd_);
	::close(wake_fd_);
	listen_fd_ = wake_fd_ = -1;
	::unlink(path_.c_str());
}

void FakeSim::wake()
{
	uint64_t one = 1;
	[[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof(one));
}

void FakeSim::close_client_locked()
{
	if (client_fd_ >= 0)
		::close(client_fd_);
	client_fd_ = -1;
	inbuf_.clear();
}

void FakeSim::drop_client()
{
	drop_ = true;
	wake();
	// Wait until the sim thread has done it, so the test can rely on it.
	for (int i = 0; i < 2000 && drop_; i++)
		std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void FakeSim::run()
{
	while (!stop_) {
		int cfd;
		{
			std::lock_guard<std::mutex> g(mu_);
			if (drop_) {
				close_client_locked();
				drop_ = false;
			}
			cfd = client_fd_;
		}
		pollfd p[3] = {{wake_fd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}, {cfd, POLLIN, 0}};
		::poll(p, cfd >= 0 ? 3 : 2, 100);
		if (p[0].revents) {
			uint64_t v;
			[[maybe_unused]] ssize_t r = ::read(wake_fd_, &v, sizeof(v));
		}
		if (stop_)
			break;
		if (p[1].revents & POLLIN) {
			int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
			if (fd >= 0) {
				std::lock_guard<std::mutex> g(mu_);
				close_client_locked();
				client_fd_ = fd;
				unanswered_ = 0;
				connections++;
			}
			continue;
		}
		if (cfd >= 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR)))
			on_bytes();
	}
}

void FakeSim::on_bytes()
{
	uint8_t buf[65536];
	ssize_t n;
	{
		std::lock_guard<std::mutex> g(mu_);
		if (client_fd_ < 0)
			return;
		n = ::recv(client_fd_, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			close_client_locked();
			return;
		}
	}
	if (n <= 0)
		return;
	inbuf_.insert(inbuf_.end(), buf, buf + n);

	if (proto_ == Proto::acalsim) {
		while (inbuf_.size() >= sizeof(SSTRequest)) {
			SSTRequest req;
			std::memcpy(&req, inbuf_.data(), sizeof(req));
			inbuf_.erase(inbuf_.begin(), inbuf_.begin() + sizeof(req));
			// One at a time: a request while another is unanswered is a violation.
			if (unanswered_.fetch_add(1) > 0)
				overlap++;
			handle_request(0, req, sizeof(req));
		}
		return;
	}
	size_t off = 0;
	while (inbuf_.size() - off >= sizeof(vsst_sim_frame_hdr)) {
		vsst_sim_frame_hdr h;
		std::memcpy(&h, inbuf_.data() + off, sizeof(h));
		if (h.magic != VSST_SIM_MAGIC || h.length > VSST_SIM_MAX_PAYLOAD) {
			std::lock_guard<std::mutex> g(mu_);
			close_client_locked();
			return;
		}
		if (inbuf_.size() - off < sizeof(h) + h.length)
			break;
		handle_frame(h.type, h.tag, inbuf_.data() + off + sizeof(h), h.length);
		off += sizeof(h) + h.length;
	}
	inbuf_.erase(inbuf_.begin(), inbuf_.begin() + static_cast<long>(off));
}

void FakeSim::handle_frame(uint16_t type, uint64_t tag, const uint8_t *p, uint32_t len)
{
	switch (type) {
	case VSST_SIM_HELLO: {
		vsst_sim_hello h{};
		std::memcpy(&h, p, std::min<size_t>(len, sizeof(h)));
		hello_device_id = h.device_id;
		hello_features = h.features;
		hellos++;
		if (answer_hello) {
			vsst_sim_hello a{};
			a.device_id = h.device_id;
			a.features = 1;
			a.clock_hz = 1000000000ull;
			send_frame(VSST_SIM_HELLO, 0, &a, sizeof(a));
		}
		break;
	}
	case VSST_SIM_REQUEST: {
		SSTRequest req;
		std::memset(&req, 0, sizeof(req));
		std::memcpy(&req, p, std::min<size_t>(len, sizeof(req)));
		handle_request(tag, req, len);
		break;
	}
	case VSST_SIM_PONG:
		pongs++;
		break;
	default:
		break;
	}
}

void FakeSim::handle_request(uint64_t tag, const SSTRequest &req, uint32_t len)
{
	Held h;
	h.tag = tag;
	h.len = len;
	h.req = req;
	// The core's capacity probe: a GET_INFO with request_id 0.
	if (req.type == SST_REQ_GET_INFO && req.request_id == 0 && proto_ == Proto::framed) {
		if (answer_get_info)
			reply(h);
		return;
	}
	requests++;
	last_req_len = len;
	if (auto_reply) {
		if (int d = reply_delay_ms.load())
			std::this_thread::sleep_for(std::chrono::milliseconds(d));
		reply(h);
		return;
	}
	std::lock_guard<std::mutex> g(mu_);
	held_.push_back(h);
	cv_.notify_all();
}

SSTResponse FakeSim::model(const SSTRequest &req, uint64_t &cycles, uint64_t &ps)
{
	SSTResponse r;
	std::memset(&r, 0, sizeof(r));
	r.status = SST_STATUS_OK;
	r.request_id = req.request_id;
	r.user_data = req.user_data;
	cycles = 100 + req.request_id;
	ps = cycles * 1000;
	switch (req.type) {
	case SST_REQ_COMPUTE:
		r.result = req.payload.compute.compute_units * 2;
		cycles = req.payload.compute.compute_units * 10;
		ps = cycles * 1000;
		break;
	case SST_REQ_READ:
		r.result = req.payload.memory.size;
		for (uint32_t i = 0; i < req.payload.memory.size && i < SST_MAX_DATA_SIZE; i++)
			r.payload.data[i] = static_cast<uint8_t>(req.payload.memory.addr + i);
		break;
	case SST_REQ_WRITE: {
		uint64_t sum = 0;
		for (uint32_t i = 0; i < req.payload.memory.size && i < SST_MAX_WRITE_SIZE; i++)
			sum += req.payload.data[SST_WRITE_DATA_OFFSET + i];
		r.result = sum;
		break;
	}
	case SST_REQ_CONFIGURE:
		r.result = req.payload.config.value;
		break;
	case SST_REQ_GET_INFO:
		r.payload.info.version = SST_PROTOCOL_VERSION;
		r.payload.info.max_compute_units = 64;
		r.payload.info.memory_size = 1u << 20;
		break;
	default:
		break;
	}
	return r;
}

void FakeSim::reply(const Held &h, uint32_t status)
{
	uint64_t cycles, ps;
	SSTResponse r = model(h.req, cycles, ps);
	r.status = status;
	if (wrong_ids) {
		r.request_id = ~h.req.request_id;
		r.user_data = 0xdeadbeef;
	}
	if (proto_ == Proto::acalsim) {
		unanswered_--; // before the bytes leave: the next request may follow at once
		send_raw(&r, sizeof(r));
		return;
	}
	// Only the meaningful prefix of the response, as sim-wire allows.
	uint32_t rlen = SST_RESPONSE_HEADER_SIZE + 16;
	if (h.req.type == SST_REQ_READ || h.req.type == SST_REQ_GET_INFO)
		rlen = sizeof(SSTResponse);
	std::vector<uint8_t> payload(sizeof(vsst_sim_resp_meta) + rlen);
	vsst_sim_resp_meta m{cycles, ps};
	std::memcpy(payload.data(), &m, sizeof(m));
	std::memcpy(payload.data() + sizeof(m), &r, rlen);
	send_frame(VSST_SIM_RESPONSE, h.tag, payload.data(), static_cast<uint32_t>(payload.size()));
}

void FakeSim::send_frame(uint16_t type, uint64_t tag, const void *payload, uint32_t len, uint32_t magic,
			 uint16_t version)
{
	std::vector<uint8_t> f(sizeof(vsst_sim_frame_hdr) + len);
	vsst_sim_frame_hdr h{};
	h.magic = magic;
	h.version = version;
	h.type = type;
	h.length = len;
	h.tag = tag;
	std::memcpy(f.data(), &h, sizeof(h));
	if (len)
		std::memcpy(f.data() + sizeof(h), payload, len);
	send_raw(f.data(), f.size());
}

void FakeSim::send_event(const SSTEvent &ev)
{
	send_frame(VSST_SIM_EVENT, 0, &ev, sizeof(ev));
}

void FakeSim::send_raw(const void *p, size_t n)
{
	std::lock_guard<std::mutex> g(mu_);
	write_all(p, n);
}

void FakeSim::write_all(const void *p, size_t n)
{
	const auto *b = static_cast<const uint8_t *>(p);
	while (n > 0 && client_fd_ >= 0) {
		ssize_t w = ::send(client_fd_, b, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return; // peer gone; the test sees it elsewhere
		}
		b += w;
		n -= static_cast<size_t>(w);
	}
}

bool FakeSim::wait_connections(int n, std::chrono::milliseconds t)
{
	const auto end = std::chrono::steady_clock::now() + t;
	while (connections.load() < n) {
		if (std::chrono::steady_clock::now() > end)
			return false;
		std::this_thread::sleep_for(std::chrono::milliseconds(2));
	}
	return true;
}

bool FakeSim::wait_held(size_t n, std::chrono::milliseconds t)
{
	std::unique_lock<std::mutex> g(mu_);
	return cv_.wait_for(g, t, [&] { return held_.size() >= n; });
}

std::vector<FakeSim::Held> FakeSim::take_held()
{
	std::lock_guard<std::mutex> g(mu_);
	std::vector<Held> v(held_.begin(), held_.end());
	held_.clear();
	return v;
}

} // namespace vsst::test
