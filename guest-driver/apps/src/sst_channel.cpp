// SPDX-License-Identifier: Apache-2.0
#include "sst_channel.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>

namespace vsst::guest {
namespace {

// Owns the file descriptor of one open device node.
class DeviceChannel final : public Channel {
public:
	explicit DeviceChannel(int fd) : fd_(fd) {}
	~DeviceChannel() override { ::close(fd_); }
	DeviceChannel(const DeviceChannel &) = delete;
	DeviceChannel &operator=(const DeviceChannel &) = delete;

	ssize_t write_raw(const void *buf, size_t len) override
	{
		ssize_t n;
		do {
			n = ::write(fd_, buf, len);
		} while (n < 0 && errno == EINTR);
		return n < 0 ? -errno : n;
	}

	ssize_t read_raw(void *buf, size_t len) override
	{
		ssize_t n;
		do {
			n = ::read(fd_, buf, len);
		} while (n < 0 && errno == EINTR);
		return n < 0 ? -errno : n;
	}

	int poll(short events, int timeout_ms, short *revents) override
	{
		pollfd p{fd_, events, 0};
		int n;
		do {
			n = ::poll(&p, 1, timeout_ms);
		} while (n < 0 && errno == EINTR);
		if (n < 0)
			return -errno;
		*revents = p.revents;
		return 0;
	}

	int set_nonblock(bool on) override
	{
		const int fl = ::fcntl(fd_, F_GETFL);
		if (fl < 0 || ::fcntl(fd_, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK)) < 0)
			return -errno;
		return 0;
	}

	int info(sst_ioc_info *out) override { return call(SST_IOC_GET_INFO, out); }
	int stats(sst_ioc_stats *out) override { return call(SST_IOC_GET_STATS, out); }

	int submit(const SSTRequest *reqs, uint32_t n, uint64_t *ids, bool nonblock,
		   uint32_t *submitted) override
	{
		sst_ioc_submit a{};
		a.reqs = reinterpret_cast<uintptr_t>(reqs);
		a.ids = reinterpret_cast<uintptr_t>(ids);
		a.count = n;
		a.flags = nonblock ? SST_SUBMIT_NONBLOCK : 0;
		const int rc = call(SST_IOC_SUBMIT, &a);
		*submitted = rc == 0 ? a.submitted : 0;
		return rc;
	}

	int reap(SSTResponse *resps, uint32_t n, uint32_t min_complete, int timeout_ms,
		 uint32_t *reaped) override
	{
		sst_ioc_reap a{};
		a.resps = reinterpret_cast<uintptr_t>(resps);
		a.count = n;
		a.min_complete = min_complete;
		a.timeout_ms = timeout_ms;
		const int rc = call(SST_IOC_REAP, &a);
		*reaped = rc == 0 ? a.reaped : 0;
		return rc;
	}

	int set_timeout(uint32_t ms) override { return call(SST_IOC_SET_TIMEOUT, &ms); }

	int events_enable(bool on) override
	{
		uint32_t v = on ? 1 : 0;
		return call(SST_IOC_EVENTS_ENABLE, &v);
	}

	int get_events(SSTEvent *events, uint32_t n, int timeout_ms, uint32_t *got,
		       uint32_t *dropped) override
	{
		sst_ioc_events a{};
		a.events = reinterpret_cast<uintptr_t>(events);
		a.count = n;
		a.timeout_ms = timeout_ms;
		const int rc = call(SST_IOC_GET_EVENTS, &a);
		*got = rc == 0 ? a.got : 0;
		*dropped = rc == 0 ? a.dropped : 0;
		return rc;
	}

private:
	int call(unsigned long cmd, void *arg)
	{
		int rc;
		do {
			rc = ::ioctl(fd_, cmd, arg);
		} while (rc < 0 && errno == EINTR);
		return rc < 0 ? -errno : 0;
	}

	int fd_;
};

} // namespace

std::unique_ptr<Channel> open_device(const std::string &path, int *err)
{
	const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		*err = -errno;
		return nullptr;
	}
	*err = 0;
	return std::make_unique<DeviceChannel>(fd);
}

int roundtrip(Channel &ch, const SSTRequest &req, SSTResponse &resp)
{
	const ssize_t w = ch.write_raw(&req, sizeof(req));
	if (w < 0)
		return static_cast<int>(w);
	if (w != sizeof(req))
		return -EIO;
	const ssize_t r = ch.read_raw(&resp, sizeof(resp));
	if (r < 0)
		return static_cast<int>(r);
	return r == sizeof(resp) ? 0 : -EIO;
}

} // namespace vsst::guest
