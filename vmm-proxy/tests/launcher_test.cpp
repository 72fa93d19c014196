// SPDX-License-Identifier: Apache-2.0
// The launcher end to end with fake-qemu standing in for both QEMU roles: setup over the
// socket, handshake, guest command line, supervision, exit statuses, and that nothing
// is left running afterwards.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "vsst/posix/child_process.h"
#include "vsst/posix/temp_dir.h"
#include "vsst/posix/unique_fd.h"

namespace {

struct LaunchResult {
	int status = -1; // exit status, or 128 + signal
	std::string out, err;
};

std::string slurp(const std::string &path)
{
	std::ifstream in(path);
	std::stringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

class LauncherTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		dir_ = tmp_.path().string();
		chmod(dir_.c_str(), 0755);
		kernel_ = dir_ + "/kernel";
		initrd_ = dir_ + "/initrd";
		std::ofstream(kernel_) << "k";
		std::ofstream(initrd_) << "i";
		static int seq = 0;
		token_ = "vsst-launcher-test-" + std::to_string(getpid()) + "-" + std::to_string(++seq);
	}
	void TearDown() override { EXPECT_EQ(leftovers(), 0) << "processes of this test are still running"; }

	// Runs vmm-proxy with fake-qemu; bounded by 60 s. signal_after_ms >= 0 sends sig.
	LaunchResult run(std::vector<std::string> extra, const std::string &fake = "", int sig = 0,
			 int signal_after_ms = -1)
	{
		std::vector<std::string> args = {VMM_PROXY_BIN, "--kernel",     kernel_,       "--initrd",
						 initrd_,       "--qemu",       FAKE_QEMU_BIN, "--guest-arg",
						 token_,        "--device-arg", token_};
		args.insert(args.end(), extra.begin(), extra.end());
		std::string out = dir_ + "/out", err = dir_ + "/err";
		LaunchResult r;
		vsst::UniqueFd o(open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
		vsst::UniqueFd e(open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
		if (!o || !e) {
			ADD_FAILURE() << "cannot create " << out << " / " << err;
			return r;
		}
		// The child inherits our environment: FAKE_QEMU is set for the spawn only.
		const char *outer = getenv("FAKE_QEMU");
		const std::optional<std::string> saved =
			outer ? std::optional<std::string>(outer) : std::nullopt;
		if (fake.empty())
			unsetenv("FAKE_QEMU");
		else
			setenv("FAKE_QEMU", fake.c_str(), 1);
		vsst::SpawnSpec spec;
		spec.name = "vmm-proxy";
		spec.argv = args;
		spec.stdout_fd = o.get();
		spec.stderr_fd = e.get();
		vsst::ChildProcess proc;
		std::string error;
		const bool started = proc.spawn(spec, error);
		if (saved)
			setenv("FAKE_QEMU", saved->c_str(), 1);
		else
			unsetenv("FAKE_QEMU");
		if (!started) {
			ADD_FAILURE() << error;
			r.status = proc.exit_info() ? proc.exit_info()->code() : -1;
			return r;
		}
		const auto t0 = std::chrono::steady_clock::now();
		bool signalled = false;
		std::optional<vsst::ExitInfo> ended;
		while (!(ended = proc.wait(std::chrono::milliseconds(20)))) {
			auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
					  std::chrono::steady_clock::now() - t0)
					  .count();
			// To vmm-proxy alone, as a terminal would: its children are its business.
			if (!signalled && signal_after_ms >= 0 && ms >= signal_after_ms) {
				kill(proc.pid(), sig);
				signalled = true;
			}
			if (ms > 60000) {
				ADD_FAILURE() << "vmm-proxy did not finish in 60 s";
				ended = proc.terminate(std::chrono::milliseconds(0));
				break;
			}
		}
		r.status = ended->code();
		r.out = slurp(out);
		r.err = slurp(err);
		return r;
	}

	// Processes whose command line carries this test's token.
	int leftovers()
	{
		int n = 0;
		DIR *d = opendir("/proc");
		while (struct dirent *e = readdir(d)) {
			if (e->d_name[0] < '0' || e->d_name[0] > '9')
				continue;
			std::string cmd = slurp(std::string("/proc/") + e->d_name + "/cmdline");
			for (auto &c : cmd)
				if (c == 0)
					c = ' ';
			if (cmd.find(token_) != std::string::npos && cmd.find("fake") != std::string::npos) {
				// A zombie not yet reaped by init counts too: it would still be a child.
				n++;
			}
		}
		closedir(d);
		return n;
	}

	vsst::TempDir tmp_{"vmm-proxy-test"};
	std::string dir_, kernel_, initrd_, token_;
};

#define EXPECT_CONTAINS(hay, needle) EXPECT_NE((hay).find(needle), std::string::npos) << (hay)

TEST_F(LauncherTest, SplitRunPasses)
{
	LaunchResult r = run({"--device", "virtio-rng", "--device", "virtio-rng"});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_CONTAINS(r.out, "VSST-RESULT config.ch0.0 PASS");
	EXPECT_CONTAINS(r.out, "VSST-RESULT config.ch0.1 PASS");
	EXPECT_CONTAINS(r.out, "VSST-RESULT ram.shared PASS");
	EXPECT_CONTAINS(r.err, "START_VM, 2 device(s)");
	EXPECT_CONTAINS(r.err, "guest powered off; guest summary pass=");
	if (geteuid() == 0) {
		EXPECT_EQ(r.err.find("fake device VM: 2 device(s), uid 0"), std::string::npos)
			<< "the device VM must not run as root";
	}
}

// The uid (= gid) each QEMU of a run reported ("fake guest VM: ... uid N", "fake device
// VM: ... uid N"), in order of the lines. (No std::regex: GCC 12 warns inside it under
// ASan, and warnings are errors.)
std::vector<std::string> reported_uids(const std::string &err)
{
	std::vector<std::string> uids;
	std::istringstream lines(err);
	std::string line;
	while (std::getline(lines, line)) {
		if (line.find("fake guest VM: ") == std::string::npos &&
		    line.find("fake device VM: ") == std::string::npos)
			continue;
		const size_t at = line.rfind("uid ");
		if (at == std::string::npos)
			continue;
		size_t end = at + 4;
		while (end < line.size() && std::isdigit(static_cast<unsigned char>(line[end])))
			end++;
		if (end > at + 4)
			uids.push_back(line.substr(at + 4, end - at - 4));
	}
	return uids;
}

// As root, every QEMU of a run gets an id of its own (--run-as auto): the guest VM
// and each device VM, from --id-range, none of them an account's; two runs at once
// never share one (an id with a lock or a process is skipped). --run-as USER gives them all one named user,
// as before.
TEST_F(LauncherTest, EachQemuRunsAsAnIdOfItsOwn)
{
	if (geteuid() != 0)
		GTEST_SKIP() << "only root drops privileges";
	const std::vector<std::string> iso = {
		"--device",  "virtio-rng", "--device",   "virtio-rng",
		"--isolate", "per-device", "--id-range", "2100100000-2100100099"};
	LaunchResult r = run(iso);
	EXPECT_EQ(r.status, 0) << r.err;
	std::vector<std::string> uids = reported_uids(r.err);
	ASSERT_EQ(uids.size(), 3u) << r.err;
	std::set<std::string> distinct(uids.begin(), uids.end());
	EXPECT_EQ(distinct.size(), 3u) << r.err;
	for (const auto &u : uids) {
		EXPECT_GE(std::stoul(u), 2100100000ul) << r.err;
		EXPECT_LE(std::stoul(u), 2100100099ul) << r.err;
	}
	// An id another run holds (its lock) or a process runs as is never taken.
	vsst::UniqueFd held(open("/run/vsst/ids/2100100000.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600));
	ASSERT_TRUE(held);
	ASSERT_EQ(flock(held.get(), LOCK_EX | LOCK_NB), 0);
	vsst::ChildProcess squatter;
	vsst::SpawnSpec sq;
	sq.name = "squatter";
	sq.argv = {"sleep", "60"};
	sq.run_as = vsst::Credentials{2100100001, 2100100001, "squatter"};
	std::string error;
	ASSERT_TRUE(squatter.spawn(sq, error)) << error;
	r = run(iso);
	EXPECT_EQ(r.status, 0) << r.err;
	uids = reported_uids(r.err);
	EXPECT_EQ(std::set<std::string>(uids.begin(), uids.end()),
		  (std::set<std::string>{"2100100002", "2100100003", "2100100004"}))
		<< r.err;
	squatter.terminate(std::chrono::milliseconds(0));
	held.reset();
	// A range too small for the run is a usage error before anything starts.
	r = run({"--device", "virtio-rng", "--device", "virtio-rng", "--isolate", "per-device", "--id-range",
		 "2100100000-2100100001"});
	EXPECT_EQ(r.status, 2) << r.err;
	EXPECT_CONTAINS(r.err, "the run needs 3");
	EXPECT_EQ(r.err.find("started"), std::string::npos) << r.err;
	// --run-as nobody: everyone is nobody.
	r = run({"--device", "virtio-rng", "--run-as", "nobody"});
	EXPECT_EQ(r.status, 0) << r.err;
	auto nobody = vsst::lookup_user("nobody");
	ASSERT_TRUE(nobody);
	for (const auto &u : reported_uids(r.err))
		EXPECT_EQ(u, std::to_string(nobody->uid)) << r.err;
}

TEST_F(LauncherTest, PerDeviceIsolationGivesEachDeviceItsOwnDeviceVm)
{
	LaunchResult r = run({"--device", "virtio-rng", "--device", "virtio-rng", "--isolate", "per-device"});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_CONTAINS(r.out, "VSST-RESULT config.ch0.0 PASS");
	EXPECT_CONTAINS(r.out, "VSST-RESULT config.ch1.0 PASS");
	EXPECT_CONTAINS(r.err, "device VM 0 (virtio-rng): START_VM, 1 device(s)");
	EXPECT_CONTAINS(r.err, "device VM 1 (virtio-rng): START_VM, 1 device(s)");
}

TEST_F(LauncherTest, ConsoleToFile)
{
	std::string con = dir_ + "/console.log";
	LaunchResult r = run({"--device", "virtio-rng", "--console", con});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(r.out.find("VSST-RESULT"), std::string::npos);
	EXPECT_CONTAINS(slurp(con), "VSST-RESULT summary pass=");
}

TEST_F(LauncherTest, ConsoleFileThatIsASymlinkIsRefused)
{
	// Run as root: a link planted at the console path must not redirect the write.
	std::string victim = dir_ + "/victim", con = dir_ + "/console.log";
	{
		std::ofstream(victim) << "keep me";
	}
	ASSERT_EQ(symlink(victim.c_str(), con.c_str()), 0);
	LaunchResult r = run({"--device", "virtio-rng", "--console", con});
	EXPECT_EQ(r.status, 2) << r.err;
	EXPECT_CONTAINS(r.err, "--console " + con);
	EXPECT_EQ(slurp(victim), "keep me");
}

TEST_F(LauncherTest, GuestWorkloadFailureExits1)
{
	LaunchResult r = run({"--device", "virtio-rng"}, "guest-fail");
	EXPECT_EQ(r.status, 1) << r.err;
	EXPECT_CONTAINS(r.err, "fail=1");
}

TEST_F(LauncherTest, DeviceVmDeathEndsTheRunWithItsReason)
{
	LaunchResult r =
		run({"--device", "virtio-rng", "--grace", "1"}, "dev-die-after-ms=300,guest-wait-peer");
	EXPECT_EQ(r.status, 3) << r.err;
	EXPECT_CONTAINS(r.err, "device VM (pid ");
	EXPECT_CONTAINS(r.err, "killed by signal 9");
	EXPECT_CONTAINS(r.out, "VSST-RESULT after-device-death FAIL") << "the guest side saw the peer go";
}

TEST_F(LauncherTest, DeviceVmThatNeverStartsTimesOut)
{
	LaunchResult r = run({"--device", "virtio-rng", "--start-timeout", "1"}, "dev-no-start");
	EXPECT_EQ(r.status, 3) << r.err;
	EXPECT_CONTAINS(r.err, "sent no START_VM within 1 s (1 device(s) registered)");
}

TEST_F(LauncherTest, DeviceVmExitingAtStartIsReported)
{
	LaunchResult r = run({"--device", "virtio-rng"}, "dev-exit-early");
	EXPECT_EQ(r.status, 3) << r.err;
	EXPECT_CONTAINS(r.err, "exited with status 5");
	EXPECT_CONTAINS(r.err, "exiting early on purpose");
	EXPECT_EQ(r.err.find("guest VM: started"), std::string::npos) << "no guest without a device VM";
}

TEST_F(LauncherTest, TimeoutStopsEverything)
{
	LaunchResult r = run({"--device", "virtio-rng", "--timeout", "2"}, "guest-hang");
	EXPECT_EQ(r.status, 4) << r.err;
	EXPECT_CONTAINS(r.err, "timeout");
}

TEST_F(LauncherTest, CtrlCStopsEverything)
{
	LaunchResult r = run({"--device", "virtio-rng"}, "guest-hang", SIGINT, 1500);
	EXPECT_EQ(r.status, 130) << r.err;
	EXPECT_CONTAINS(r.err, "interrupted by INT");
}

TEST_F(LauncherTest, GuestQemuCrashIsReported)
{
	LaunchResult r = run({"--device", "virtio-rng"}, "guest-crash");
	EXPECT_EQ(r.status, 3) << r.err;
	EXPECT_CONTAINS(r.err, "guest VM (pid ");
	EXPECT_CONTAINS(r.err, "killed by signal 6");
}

TEST_F(LauncherTest, GuestQemuFailingAtStartIsReportedWithItsError)
{
	LaunchResult r = run({"--device", "virtio-rng"}, "guest-bad-option");
	EXPECT_EQ(r.status, 3) << r.err;
	EXPECT_CONTAINS(r.err, "guest VM exited with status 1 before the guest booted: fake-qemu: -device "
			       "rpc-proxy-pci: something is wrong");
}

TEST_F(LauncherTest, MonolithicBaselineStartsNoDeviceVm)
{
	LaunchResult r = run({"--device", "virtio-rng", "--monolithic"});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(r.err.find("device VM"), std::string::npos);
	EXPECT_CONTAINS(r.err, "virtio-rng-pci");
}

TEST_F(LauncherTest, AttachToADeviceVmStartedByHand)
{
	// The device VM is started separately with -accel rpc,control=PATH and connects to
	// the launcher's socket, which must be gone afterwards.
	std::string sock = dir_ + "/control.sock";
	vsst::SpawnSpec spec;
	spec.name = "fake device VM";
	spec.argv = {FAKE_QEMU_BIN,         "-machine", "rpc-backend", "-accel",
		     "rpc,control=" + sock, "-device",  "x",           token_};
	vsst::ChildProcess dev;
	std::string error;
	ASSERT_TRUE(dev.spawn(spec, error)) << error;
	LaunchResult r = run({"--attach", sock, "--device", "virtio-rng"});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_CONTAINS(r.out, "VSST-RESULT config.ch0.0 PASS");
	struct stat st;
	EXPECT_NE(stat(sock.c_str(), &st), 0) << "stale control socket";
	if (!dev.wait(std::chrono::milliseconds(2000))) {
		ADD_FAILURE() << "the device VM did not stop after the guest's STOP";
		dev.terminate(std::chrono::milliseconds(0));
	}
}

TEST_F(LauncherTest, AttachSocketAdmitsOnlyTheDeviceVmUser)
{
	if (geteuid() != 0)
		GTEST_SKIP() << "needs root (users to drop to)";
	// Whoever connects receives guest RAM. With --run-as daemon only root and daemon may:
	// nobody, trying first and over and over, must get nothing; the device VM still attaches.
	ASSERT_EQ(chmod(dir_.c_str(), 0755), 0);
	std::string sock = dir_ + "/control.sock";
	auto nobody = vsst::lookup_user("nobody");
	ASSERT_TRUE(nobody);
	vsst::SpawnSpec foreign;
	foreign.name = "foreign connector";
	foreign.argv = {
		"/bin/sh", "-c",
		"for i in $(seq 200); do [ -S \"$1\" ] && break; sleep 0.02; done; "
		"python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); "
		"sys.exit(9)' \"$1\"",
		"sh", sock};
	foreign.run_as = *nobody;
	vsst::ChildProcess intruder;
	std::string error;
	ASSERT_TRUE(intruder.spawn(foreign, error)) << error;
	vsst::SpawnSpec spec;
	spec.name = "fake device VM";
	spec.argv = {"/bin/sh",     "-c",     "sleep 1; exec \"$@\"", "sh",      FAKE_QEMU_BIN, "-machine",
		     "rpc-backend", "-accel", "rpc,control=" + sock,  "-device", "x",           token_};
	vsst::ChildProcess dev;
	ASSERT_TRUE(dev.spawn(spec, error)) << error;
	LaunchResult r = run({"--attach", sock, "--run-as", "daemon", "--device", "virtio-rng"});
	EXPECT_EQ(r.status, 0) << r.err;
	auto ended = intruder.wait(std::chrono::milliseconds(5000));
	ASSERT_TRUE(ended);
	EXPECT_NE(ended->status, 9) << "a foreign user connected to the control socket";
	if (!dev.wait(std::chrono::milliseconds(2000)))
		dev.terminate(std::chrono::milliseconds(0));
}

TEST_F(LauncherTest, GuestVmDropsPrivilegesWhenRoot)
{
	if (geteuid() != 0)
		GTEST_SKIP() << "only root drops privileges";
	// The kernel lives where nobody cannot search (like ~/.cache under /root): the
	// unprivileged guest QEMU still reads it, through the launcher's descriptor.
	LaunchResult r = run({"--device", "virtio-rng"});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(r.err.find("fake guest VM: uid 0"), std::string::npos) << r.err;
	EXPECT_CONTAINS(r.err, "fake guest VM: uid 21");
	EXPECT_CONTAINS(r.out, "VSST-RESULT read-kernel PASS");
	EXPECT_CONTAINS(r.out, "VSST-RESULT read-initrd PASS");
	EXPECT_CONTAINS(r.err, "-sandbox on,obsolete=deny");
	// --run-as '' keeps both VMs as root.
	r = run({"--device", "virtio-rng", "--run-as", ""});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_CONTAINS(r.err, "fake guest VM: uid 0");
}

TEST_F(LauncherTest, DeviceVmStopsCleanlyWhenTheGuestEnds)
{
	LaunchResult r = run({"--device", "virtio-rng"});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_CONTAINS(r.err, "device VM: exited with status 0");
}

TEST_F(LauncherTest, UnreachableSimulatorSocketIsExplainedWhenRoot)
{
	if (geteuid() != 0)
		GTEST_SKIP() << "only root drops the device VM's privileges";
	std::string priv = dir_ + "/private";
	mkdir(priv.c_str(), 0700);
	std::string sock = priv + "/sim.sock";
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	sockaddr_un a{};
	a.sun_family = AF_UNIX;
	std::snprintf(a.sun_path, sizeof a.sun_path, "%s", sock.c_str());
	ASSERT_EQ(bind(s, reinterpret_cast<sockaddr *>(&a), sizeof a), 0);
	LaunchResult r = run({"--device", "virtio-sst,sim=" + sock});
	close(s);
	EXPECT_EQ(r.status, 2) << r.err;
	EXPECT_CONTAINS(r.err, "is not searchable by uid 21");
}

TEST_F(LauncherTest, ShareFolderProblemsAreUsageErrors)
{
	LaunchResult r = run({"--device", "virtio-rng", "--share", dir_ + "/missing"});
	EXPECT_EQ(r.status, 2) << r.err;
	EXPECT_CONTAINS(r.err, "--share: shared directory " + dir_ + "/missing does not exist; exit 2");
	r = run({"--device", "virtio-rng", "--share", kernel_ + ":ro"});
	EXPECT_EQ(r.status, 2) << r.err;
	EXPECT_CONTAINS(r.err, "is not a directory; exit 2");
	EXPECT_EQ(r.err.find("device VM: started"), std::string::npos) << "nothing may start";
	EXPECT_EQ(leftovers(), 0);
}

// The fake device VM writes into the share through the descriptor, as the device VM's
// user: as root it is nobody, who needs the launcher's grant; afterwards the file is
// the invoking user's (SUDO_UID), and the share's mode and ACL are as before.
TEST_F(LauncherTest, ShareIsGrantedForTheRunAndHandedBack)
{
	const std::string share = dir_ + "/share";
	ASSERT_EQ(mkdir(share.c_str(), 0700), 0);
	{
		std::ofstream(share + "/old.txt") << "before the run";
	}
	ASSERT_EQ(chmod((share + "/old.txt").c_str(), 04755), 0);
	const bool root = geteuid() == 0;
	if (root)
		setenv("SUDO_UID", "4321", 1), setenv("SUDO_GID", "4322", 1);
	LaunchResult r = run({"--device", "virtio-rng", "--share", share});
	unsetenv("SUDO_UID");
	unsetenv("SUDO_GID");
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_CONTAINS(r.err, "START_VM, 2 device(s)");
	struct stat st;
	ASSERT_EQ(stat((share + "/fake-9p/0.txt").c_str(), &st), 0) << r.err;
	EXPECT_EQ(st.st_uid, root ? 4321u : getuid());
	ASSERT_EQ(stat((share + "/fake-9p").c_str(), &st), 0);
	EXPECT_EQ(st.st_uid, root ? 4321u : getuid());
	ASSERT_EQ(stat(share.c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 07777, 0700u);
	EXPECT_LT(getxattr(share.c_str(), "system.posix_acl_access", nullptr, 0), 0) << "the grant is undone";
	// Lent to the device VM's user for the run (rw), given back with its set-id bit.
	EXPECT_EQ(st.st_uid, getuid()) << "the share's owner is given back";
	ASSERT_EQ(stat((share + "/old.txt").c_str(), &st), 0);
	EXPECT_EQ(st.st_uid, getuid());
	EXPECT_EQ(st.st_mode & 07777, 04755u);
	if (root) {
		EXPECT_CONTAINS(r.err, "2 lent to uid 21");
		EXPECT_CONTAINS(r.err, "2 new entries handed to the owner");
	}
	// Read-only: the fake device VM only opens it; nothing changes.
	r = run({"--device", "virtio-rng", "--share", share + ":ro"});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_CONTAINS(r.err, "readonly=on");
	EXPECT_EQ(leftovers(), 0);
}

// Ctrl-C in the middle of a run: the grant is undone and what the device VM wrote is
// handed over all the same.
TEST_F(LauncherTest, ShareIsRestoredAfterCtrlC)
{
	const std::string share = dir_ + "/share-int";
	ASSERT_EQ(mkdir(share.c_str(), 0700), 0);
	LaunchResult r = run({"--device", "virtio-rng", "--share", share}, "guest-hang", SIGINT, 1500);
	EXPECT_EQ(r.status, 130) << r.err;
	struct stat st;
	ASSERT_EQ(stat((share + "/fake-9p/0.txt").c_str(), &st), 0) << r.err;
	EXPECT_EQ(st.st_uid, getuid());
	EXPECT_LT(getxattr(share.c_str(), "system.posix_acl_access", nullptr, 0), 0) << "the grant is undone";
	ASSERT_EQ(stat(share.c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 07777, 0700u);
	EXPECT_EQ(leftovers(), 0);
}

} // namespace
