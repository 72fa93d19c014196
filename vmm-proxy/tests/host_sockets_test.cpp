// SPDX-License-Identifier: Apache-2.0
// proxy.host_sockets_unit: the sockets vmm-proxy opens for virtio-net LANs and
// virtio-console host ends (host_sockets.h): who listens and who joins, stale socket
// files, refusals, permissions, and that only the file a run bound is removed.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "host_sockets.h"
#include "vsst/posix/temp_dir.h"
#include "vsst/posix/unix_socket.h"

namespace vsst {
namespace {

DeviceSpec device(DeviceKind kind, const std::string &path)
{
	DeviceSpec d;
	d.kind = kind;
	d.file = path;
	d.text = path;
	return d;
}

bool exists(const std::string &path)
{
	struct stat st;
	return lstat(path.c_str(), &st) == 0;
}

// A socket file nobody listens at (a run that was SIGKILLed leaves one).
void make_stale(const std::string &path)
{
	std::string error;
	UniqueFd l = listen_unix(path, error);
	ASSERT_TRUE(l) << error;
}

TEST(HostSockets, FirstRunListensSecondJoinsLastRemoves)
{
	TempDir dir("vsst-host-sockets");
	const std::string lan = dir.file("lan.sock");
	const DeviceSpec net = device(DeviceKind::Net, lan);
	std::vector<devvm::SocketFd> a_fds, b_fds;
	Outcome oa, ob;
	auto a = std::make_unique<HostSockets>();
	ASSERT_TRUE(a->open({&net}, a_fds, oa)) << oa.reason;
	ASSERT_EQ(a_fds.size(), 1u);
	EXPECT_TRUE(a_fds[0].listening);
	struct stat st;
	ASSERT_EQ(lstat(lan.c_str(), &st), 0);
	EXPECT_TRUE(S_ISSOCK(st.st_mode));
	EXPECT_EQ(st.st_mode & 0777, 0600u) << "born 0600";
	{
		HostSockets b;
		ASSERT_TRUE(b.open({&net}, b_fds, ob)) << ob.reason;
		ASSERT_EQ(b_fds.size(), 1u);
		EXPECT_FALSE(b_fds[0].listening) << "the second run joins the first";
		// The connection is in the first run's backlog: the listening fd accepts it.
		UniqueFd peer = accept_within(a_fds[0].fd, std::chrono::milliseconds(1000));
		EXPECT_TRUE(peer);
	}
	EXPECT_TRUE(exists(lan)) << "the joining run does not remove the LAN";
	a.reset();
	EXPECT_FALSE(exists(lan)) << "the listening run removes its socket file";
}

TEST(HostSockets, StaleSocketsAreReplaced)
{
	TempDir dir("vsst-host-sockets");
	const std::string lan = dir.file("lan.sock"), con = dir.file("con.sock");
	make_stale(lan);
	make_stale(con);
	const DeviceSpec net = device(DeviceKind::Net, lan), console = device(DeviceKind::Console, con);
	std::vector<devvm::SocketFd> fds;
	Outcome o;
	HostSockets s;
	ASSERT_TRUE(s.open({&net, &console}, fds, o)) << o.reason;
	ASSERT_EQ(fds.size(), 2u);
	EXPECT_TRUE(fds[0].listening);
	EXPECT_TRUE(fds[1].listening);
	int err = 0;
	EXPECT_TRUE(connect_unix(con, err)) << strerror(err);
}

TEST(HostSockets, RefusesWhatIsNotItsToReplace)
{
	TempDir dir("vsst-host-sockets");
	const std::string file = dir.file("not-a-socket");
	std::ofstream(file) << "data";
	for (DeviceKind kind : {DeviceKind::Net, DeviceKind::Console}) {
		const DeviceSpec d = device(kind, file);
		std::vector<devvm::SocketFd> fds;
		Outcome o;
		HostSockets s;
		EXPECT_FALSE(s.open({&d}, fds, o));
		EXPECT_EQ(o.status, kExitUsage);
		EXPECT_NE(o.reason.find(file), std::string::npos) << o.reason;
	}
	EXPECT_TRUE(exists(file)) << "a regular file is never removed";
	// A console socket somebody listens at is in use: refused, left alone.
	const std::string busy = dir.file("busy.sock");
	std::string error;
	UniqueFd l = listen_unix(busy, error);
	ASSERT_TRUE(l) << error;
	const DeviceSpec con = device(DeviceKind::Console, busy);
	std::vector<devvm::SocketFd> fds;
	Outcome o;
	{
		HostSockets s;
		EXPECT_FALSE(s.open({&con}, fds, o));
	}
	EXPECT_TRUE(exists(busy));
}

TEST(HostSockets, OnlyTheFileThisRunBoundIsRemoved)
{
	TempDir dir("vsst-host-sockets");
	const std::string con = dir.file("con.sock");
	const DeviceSpec console = device(DeviceKind::Console, con);
	std::vector<devvm::SocketFd> fds;
	Outcome o;
	{
		HostSockets s;
		ASSERT_TRUE(s.open({&console}, fds, o)) << o.reason;
		// Someone replaces the file during the run.
		ASSERT_EQ(unlink(con.c_str()), 0);
		std::ofstream(con) << "theirs";
	}
	EXPECT_TRUE(exists(con)) << "a file this run did not bind stays";
}

TEST(HostSockets, OtherDevicesAreSkipped)
{
	const DeviceSpec blk = device(DeviceKind::Blk, "/nonexistent.img");
	std::vector<devvm::SocketFd> fds;
	Outcome o;
	HostSockets s;
	EXPECT_TRUE(s.open({&blk}, fds, o));
	EXPECT_TRUE(fds.empty());
}

} // namespace
} // namespace vsst
