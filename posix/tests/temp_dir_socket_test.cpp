// SPDX-License-Identifier: Apache-2.0
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "vsst/posix/child_process.h"
#include "vsst/posix/temp_dir.h"
#include "vsst/posix/unix_socket.h"

namespace vsst {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST(TempDir, CreatedAndRemovedWithItsContents)
{
	fs::path p;
	{
		TempDir d("vsst-posix-test");
		p = d.path();
		EXPECT_TRUE(fs::is_directory(p));
		EXPECT_NE(p.filename().string().find("vsst-posix-test-"), std::string::npos);
		std::ofstream(d.file("f")) << "x";
		fs::create_directory(p / "sub");
		std::ofstream((p / "sub" / "g").string()) << "y";
		TempDir moved(std::move(d));
		EXPECT_EQ(moved.path(), p);
	}
	EXPECT_FALSE(fs::exists(p));
}

TEST(TempDir, KeepLeavesIt)
{
	fs::path p;
	{
		TempDir d("vsst-posix-test");
		p = d.path();
		d.keep();
	}
	EXPECT_TRUE(fs::exists(p));
	fs::remove_all(p);
}

TEST(TempDir, FailureThrows)
{
	EXPECT_THROW(TempDir("no/such/dir/x"), std::system_error);
}

TEST(UnixSocket, WaitForSocketSeesAListener)
{
	TempDir d("vsst-posix-test");
	const std::string path = d.file("s.sock");
	EXPECT_FALSE(wait_for_socket(path, 50ms));
	std::string err;
	UniqueFd ls = listen_unix(path, err);
	ASSERT_TRUE(ls) << err;
	EXPECT_TRUE(wait_for_socket(path, 1s));
	UniqueFd conn = accept_within(ls.get(), 1s);
	EXPECT_TRUE(conn); // the probe's connection
}

TEST(UnixSocket, AcceptIsBoundedAndStoppable)
{
	TempDir d("vsst-posix-test");
	std::string err;
	UniqueFd ls = listen_unix(d.file("s.sock"), err);
	ASSERT_TRUE(ls) << err;
	auto start = std::chrono::steady_clock::now();
	EXPECT_FALSE(accept_within(ls.get(), 150ms));
	EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);
	start = std::chrono::steady_clock::now();
	EXPECT_FALSE(accept_within(ls.get(), 10s, [] { return true; }));
	EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
	EXPECT_FALSE(listen_unix(std::string(200, 'x'), err));
	EXPECT_NE(err.find("too long"), std::string::npos);
}

TEST(UnixSocket, WaitForSocketStopsWhenTheServerDies)
{
	TempDir d("vsst-posix-test");
	ChildProcess c;
	std::string err;
	SpawnSpec s;
	s.name = "no server";
	s.argv = {"/bin/sh", "-c", "exit 1"};
	ASSERT_TRUE(c.spawn(s, err));
	auto start = std::chrono::steady_clock::now();
	EXPECT_FALSE(wait_for_socket(d.file("never.sock"), 10s, &c));
	EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

} // namespace
} // namespace vsst
