// SPDX-License-Identifier: Apache-2.0
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "vsst/posix/child_process.h"
#include "vsst/posix/temp_dir.h"
#include "vsst/posix/unique_fd.h"

namespace vsst {
namespace {

using namespace std::chrono_literals;

SpawnSpec sh(const std::string &script, const std::string &log = {})
{
	SpawnSpec s;
	s.name = "test child";
	s.argv = {"/bin/sh", "-c", script};
	s.log_path = log;
	return s;
}

TEST(ChildProcess, ExitStatusAndLogTail)
{
	TempDir dir("vsst-posix-test");
	ChildProcess c;
	std::string err;
	ASSERT_TRUE(c.spawn(sh("echo out; echo err >&2; exit 3", dir.file("log")), err)) << err;
	auto e = c.wait(5s);
	ASSERT_TRUE(e);
	EXPECT_TRUE(e->exited);
	EXPECT_EQ(e->status, 3);
	EXPECT_EQ(e->code(), 3);
	EXPECT_EQ(e->describe(), "exited with status 3");
	EXPECT_EQ(c.log_tail(), "out\nerr\n");
	EXPECT_EQ(c.log_tail(4), "...err\n");
	EXPECT_FALSE(c.running());
}

TEST(ChildProcess, FindsProgramsInPath)
{
	ChildProcess c;
	std::string err;
	SpawnSpec s;
	s.name = "true";
	s.argv = {"true"};
	ASSERT_TRUE(c.spawn(s, err)) << err;
	auto e = c.wait(5s);
	ASSERT_TRUE(e);
	EXPECT_EQ(e->code(), 0);
}

TEST(ChildProcess, ExecOfMissingBinaryFailsWith127)
{
	ChildProcess c;
	std::string err;
	SpawnSpec s;
	s.name = "ghost";
	s.argv = {"/nonexistent/vsst-no-such-binary", "x"};
	EXPECT_FALSE(c.spawn(s, err));
	EXPECT_NE(err.find("ghost: exec: No such file or directory"), std::string::npos) << err;
	ASSERT_TRUE(c.exit_info());
	EXPECT_EQ(c.exit_info()->code(), 127);
	EXPECT_FALSE(c.running());
}

TEST(ChildProcess, EmptyCommandLineAndBadLogAreErrors)
{
	ChildProcess c;
	std::string err;
	SpawnSpec s;
	s.name = "nothing";
	EXPECT_FALSE(c.spawn(s, err));
	EXPECT_NE(err.find("empty command line"), std::string::npos);
	EXPECT_FALSE(c.spawn(sh("true", "/nonexistent/dir/log"), err));
	EXPECT_NE(err.find("/nonexistent/dir/log"), std::string::npos) << err;
	EXPECT_EQ(c.pid(), -1);
}

TEST(ChildProcess, InheritedFdsKeepTheirNumbers)
{
	int p[2];
	ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
	UniqueFd rd(p[0]), wr(p[1]);
	int other[2];
	ASSERT_EQ(pipe2(other, O_CLOEXEC), 0);
	UniqueFd ord(other[0]), owr(other[1]);
	SpawnSpec s = sh("echo hi >&" + std::to_string(wr.get()) + " && ! (true >&" +
			 std::to_string(owr.get()) + ") 2>/dev/null");
	s.inherit_fds = {wr.get()};
	ChildProcess c;
	std::string err;
	ASSERT_TRUE(c.spawn(s, err)) << err;
	auto e = c.wait(5s);
	ASSERT_TRUE(e);
	EXPECT_EQ(e->code(), 0) << "the non-inherited fd was open in the child";
	wr.reset();
	char buf[8] = {};
	EXPECT_EQ(read(rd.get(), buf, sizeof buf), 3);
	EXPECT_EQ(std::string(buf), "hi\n");
	// The parent's copy stays close-on-exec.
	EXPECT_TRUE(fcntl(owr.get(), F_GETFD) & FD_CLOEXEC);
}

TEST(ChildProcess, OutputToGivenFds)
{
	int p[2];
	ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
	UniqueFd rd(p[0]), wr(p[1]);
	SpawnSpec s = sh("echo a; echo b >&2");
	s.stdout_fd = wr.get();
	s.stderr_fd = wr.get();
	ChildProcess c;
	std::string err;
	ASSERT_TRUE(c.spawn(s, err)) << err;
	ASSERT_TRUE(c.wait(5s));
	wr.reset();
	char buf[16] = {};
	EXPECT_EQ(read(rd.get(), buf, sizeof buf), 4);
	EXPECT_EQ(std::string(buf), "a\nb\n");
}

TEST(ChildProcess, OwnProcessGroup)
{
	ChildProcess c;
	std::string err;
	ASSERT_TRUE(c.spawn(sh("sleep 10"), err)) << err;
	EXPECT_EQ(getpgid(c.pid()), c.pid());
	EXPECT_NE(getpgid(c.pid()), getpgrp());
	c.terminate(2000ms);
}

TEST(ChildProcess, BoundedWaitOnAChildThatIgnoresSigterm)
{
	TempDir dir("vsst-posix-test");
	ChildProcess c;
	std::string err;
	// The trap is set before "ready" appears in the log.
	ASSERT_TRUE(
		c.spawn(sh("trap '' TERM; echo ready; while :; do sleep 0.05; done", dir.file("log")), err));
	const auto until = std::chrono::steady_clock::now() + 5s;
	while (c.log_tail().find("ready") == std::string::npos && std::chrono::steady_clock::now() < until)
		usleep(10000);
	ASSERT_NE(c.log_tail().find("ready"), std::string::npos);
	auto start = std::chrono::steady_clock::now();
	EXPECT_FALSE(c.wait(200ms));
	EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
	EXPECT_TRUE(c.running());
	start = std::chrono::steady_clock::now();
	ExitInfo e = c.terminate(300ms);
	const auto took = std::chrono::steady_clock::now() - start;
	EXPECT_FALSE(e.exited);
	EXPECT_EQ(e.status, SIGKILL);
	EXPECT_EQ(e.code(), 128 + SIGKILL);
	EXPECT_EQ(e.describe(), "killed by signal 9 (Killed)");
	EXPECT_GE(took, 300ms);
	EXPECT_LT(took, 3s);
	EXPECT_FALSE(c.running());
}

TEST(ChildProcess, TerminateEndsAWellBehavedChildWithSigterm)
{
	ChildProcess c;
	std::string err;
	ASSERT_TRUE(c.spawn(sh("exec sleep 30"), err));
	ExitInfo e = c.terminate(5000ms);
	EXPECT_FALSE(e.exited);
	EXPECT_EQ(e.status, SIGTERM);
}

TEST(ChildProcess, HelpersInItsGroupDieWithIt)
{
	TempDir dir("vsst-posix-test");
	ChildProcess c;
	std::string err;
	// The child starts a helper in its group, prints its pid and exits.
	ASSERT_TRUE(c.spawn(sh("sleep 30 & echo $!; exit 0", dir.file("log")), err));
	auto e = c.wait(5s);
	ASSERT_TRUE(e);
	const pid_t helper = std::stoi(c.log_tail());
	const auto until = std::chrono::steady_clock::now() + 5s;
	while (kill(helper, 0) == 0 && std::chrono::steady_clock::now() < until)
		usleep(10000);
	EXPECT_NE(kill(helper, 0), 0) << "helper " << helper << " survived its group leader";
}

TEST(ChildProcess, DestructorReapsARunningChild)
{
	pid_t pid;
	{
		ChildProcess c;
		std::string err;
		ASSERT_TRUE(c.spawn(sh("exec sleep 30"), err));
		pid = c.pid();
	}
	EXPECT_NE(kill(pid, 0), 0); // gone and reaped (no zombie)
}

TEST(ChildProcess, MoveKeepsOwnership)
{
	ChildProcess a;
	std::string err;
	ASSERT_TRUE(a.spawn(sh("exit 5"), err));
	ChildProcess b(std::move(a));
	EXPECT_EQ(a.pid(), -1);
	auto e = b.wait(5s);
	ASSERT_TRUE(e);
	EXPECT_EQ(e->code(), 5);
}

TEST(ChildProcess, RunAsNeedsAnExistingUser)
{
	EXPECT_FALSE(lookup_user("vsst-no-such-user-xyz"));
	auto root = lookup_user("root");
	ASSERT_TRUE(root);
	EXPECT_EQ(root->uid, 0u);
	if (geteuid() != 0)
		GTEST_SKIP() << "dropping privileges needs root";
	auto nobody = lookup_user("nobody");
	ASSERT_TRUE(nobody);
	TempDir dir("vsst-posix-test");
	std::string log = dir.file("log");
	SpawnSpec s = sh("id -u");
	s.run_as = nobody;
	int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_GE(fd, 0);
	UniqueFd out(fd);
	s.stdout_fd = out.get();
	ChildProcess c;
	std::string err;
	ASSERT_TRUE(c.spawn(s, err)) << err;
	auto e = c.wait(5s);
	ASSERT_TRUE(e);
	EXPECT_EQ(e->code(), 0);
	std::ifstream in(log);
	unsigned uid = ~0u;
	in >> uid;
	EXPECT_EQ(uid, nobody->uid);
}

} // namespace
} // namespace vsst
