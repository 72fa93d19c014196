// SPDX-License-Identifier: Apache-2.0
// Setup: channel fds and guest RAM layout over a Unix socket (SCM_RIGHTS),
// hostile setup messages, and inheritance across fork+exec.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <cstring>
#include <thread>

#include "rpc_test_util.hpp"

using namespace vsst::rpc;
using vsst::UniqueFd;
using namespace vsst::rpc::test;

namespace {

struct SockPair {
	UniqueFd a, b;
	SockPair()
	{
		int sv[2];
		EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		a.reset(sv[0]);
		b.reset(sv[1]);
	}
};

UniqueFd ram_fd(size_t size)
{
	UniqueFd fd(::memfd_create("guest-ram", MFD_CLOEXEC));
	EXPECT_EQ(::ftruncate(fd.get(), static_cast<off_t>(size)), 0);
	return fd;
}

int open_fd_count()
{
	int n = 0;
	for (int fd = 0; fd < 1024; ++fd)
		n += ::fcntl(fd, F_GETFD) >= 0;
	return n;
}

// Sends a hand-made setup message: `bytes` of payload and the given fds.
void send_raw(int sock, const void *bytes, size_t len, const int *fds, int nfds)
{
	alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * 16)] = {};
	iovec iov{const_cast<void *>(bytes), len};
	msghdr mh{};
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds) {
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		std::memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	ASSERT_EQ(::sendmsg(sock, &mh, 0), static_cast<ssize_t>(len));
}

} // namespace

TEST(Setup, ChannelAndRamLayoutTravelOverASocket)
{
	TestChannel ch(256, 5, false);
	UniqueFd low = ram_fd(1 << 20), high = ram_fd(1 << 20);
	vsst_ram_layout ram{};
	ram.count = 2;
	ram.region[0] = {0, 1 << 20, 0, low.get()};
	ram.region[1] = {1ull << 32, 1 << 19, 1 << 19, high.get()};
	SockPair sp;
	const vsst_rpc_fds raw = ch.fds.raw();
	ASSERT_EQ(vsst_setup_send(sp.a.get(), &raw, &ram), 0);

	vsst_rpc_fds got{-1, -1, -1};
	vsst_ram_layout got_ram{};
	char err[128] = {};
	ASSERT_EQ(vsst_setup_recv(sp.b.get(), &got, &got_ram, 1000, err, sizeof err), 0) << err;
	UniqueFd r(got.region), d(got.to_device), p(got.to_proxy);
	ASSERT_EQ(got_ram.count, 2u);
	UniqueFd g0(got_ram.region[0].fd), g1(got_ram.region[1].fd);
	EXPECT_EQ(got_ram.region[1].gpa, 1ull << 32);
	EXPECT_EQ(got_ram.region[1].size, 1u << 19);
	EXPECT_EQ(got_ram.region[1].fd_offset, 1u << 19);
	EXPECT_TRUE(::fcntl(got.region, F_GETFD) & FD_CLOEXEC);
	EXPECT_TRUE(::fcntl(g1.get(), F_GETFD) & FD_CLOEXEC);

	// The received RAM fd is the same memory.
	auto *mine = static_cast<uint32_t *>(
		::mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, high.get(), 0));
	auto *theirs = static_cast<uint32_t *>(
		::mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, g1.get(), 0));
	ASSERT_NE(mine, MAP_FAILED);
	ASSERT_NE(theirs, MAP_FAILED);
	mine[100] = 0xfeedface;
	EXPECT_EQ(theirs[100], 0xfeedfaceu);
	::munmap(mine, 1 << 20);
	::munmap(theirs, 1 << 20);

	// And the received channel fds make a working channel.
	auto px = ProxyEndpoint::attach(ch.fds.raw());
	auto dev = DeviceEndpoint::attach(got);
	ASSERT_TRUE(px && dev);
	ASSERT_EQ(dev->send_event(start_vm(), 100), 0);
	Message m;
	EXPECT_EQ(px->wait_event(m, 1000), 1);
	EXPECT_EQ(m.op(), Op::StartVm);
}

TEST(Setup, HostileMessagesAreRefusedAndLeakNoFds)
{
	TestChannel ch(256, 5, false);
	char err[160];
	vsst_rpc_fds got{-1, -1, -1};
	vsst_ram_layout ram{};
	struct Wire {
		uint32_t magic, version, ram_count, reserved;
		uint64_t region[8][3];
	};
	const int three[3] = {ch.fds.region.get(), ch.fds.to_device.get(), ch.fds.to_proxy.get()};
	UniqueFd small = ram_fd(4096);
	const int four[4] = {three[0], three[1], three[2], small.get()};
	const int before = open_fd_count();
	{
		SockPair sp; // bad magic
		Wire w{};
		w.magic = 1;
		w.version = 1;
		send_raw(sp.a.get(), &w, sizeof w, three, 3);
		EXPECT_EQ(vsst_setup_recv(sp.b.get(), &got, &ram, 1000, err, sizeof err), -EPROTO);
		EXPECT_NE(std::string(err).find("magic"), std::string::npos) << err;
	}
	{
		SockPair sp; // fd count does not match the layout
		Wire w{0x55535356, 1, 1, 0, {}};
		w.region[0][1] = 4096;
		send_raw(sp.a.get(), &w, sizeof w, three, 3);
		EXPECT_EQ(vsst_setup_recv(sp.b.get(), &got, &ram, 1000, err, sizeof err), -EPROTO);
		EXPECT_NE(std::string(err).find("fds"), std::string::npos) << err;
	}
	{
		SockPair sp; // region larger than its file
		Wire w{0x55535356, 1, 1, 0, {}};
		w.region[0][1] = 8192;
		send_raw(sp.a.get(), &w, sizeof w, four, 4);
		EXPECT_EQ(vsst_setup_recv(sp.b.get(), &got, &ram, 1000, err, sizeof err), -EPROTO);
		EXPECT_NE(std::string(err).find("exceeds"), std::string::npos) << err;
	}
	{
		SockPair sp; // too many regions claimed
		Wire w{0x55535356, 1, 9, 0, {}};
		send_raw(sp.a.get(), &w, sizeof w, three, 3);
		EXPECT_EQ(vsst_setup_recv(sp.b.get(), &got, &ram, 1000, err, sizeof err), -EPROTO);
	}
	{
		SockPair sp; // short message then the peer goes away
		Wire w{0x55535356, 1, 0, 0, {}};
		send_raw(sp.a.get(), &w, 8, three, 3);
		sp.a.reset();
		EXPECT_EQ(vsst_setup_recv(sp.b.get(), &got, &ram, 1000, err, sizeof err), -EPIPE);
	}
	{
		SockPair sp; // nothing arrives: bounded wait
		EXPECT_EQ(vsst_setup_recv(sp.b.get(), &got, &ram, 50, err, sizeof err), -ETIMEDOUT);
	}
	EXPECT_EQ(open_fd_count(), before);
	EXPECT_EQ(vsst_setup_send(-1, nullptr, nullptr), -EINVAL);
}

TEST(Setup, InheritanceAcrossExec)
{
	TestChannel ch(256, 5, false);
	const int fd = ch.fds.to_device.get();
	EXPECT_TRUE(::fcntl(fd, F_GETFD) & FD_CLOEXEC);
	// The child clears O_CLOEXEC and execs a shell that checks the fd is open.
	Child child([&] {
		if (vsst_fd_set_inheritable(fd) != 0)
			return 3;
		const std::string cmd = "test -e /proc/self/fd/" + std::to_string(fd);
		::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char *>(nullptr));
		return 4;
	});
	EXPECT_EQ(child.wait(10000), 0);
	Child closed([&] {
		const std::string cmd = "test ! -e /proc/self/fd/" + std::to_string(fd);
		::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char *>(nullptr));
		return 4;
	});
	EXPECT_EQ(closed.wait(10000), 0);
	EXPECT_EQ(vsst_fd_set_inheritable(-1), -EBADF);
}
