// SPDX-License-Identifier: Apache-2.0
// The real device VM (the project's QEMU, -machine rpc-backend -accel rpc) started by
// vsst_devvm each way the channel and RAM can be handed over, handshaken, stopped.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include <gtest/gtest.h>

#include "vsst/devvm/binaries.h"
#include "vsst/devvm/channel.h"
#include "vsst/devvm/device_vm.h"
#include "vsst/devvm/guest_ram.h"
#include "vsst/devvm/handshake.h"
#include "vsst/posix/temp_dir.h"

namespace vsst::devvm {
namespace {

using namespace std::chrono_literals;

std::string qemu()
{
	std::string q = default_qemu();
	if (q.empty())
		if (const char *d = std::getenv("VSST_DEFAULT_QEMU"))
			q = d;
	return executable(q) ? q : std::string();
}

class Env : public ::testing::Environment {
public:
	void SetUp() override
	{
		if (!qemu().empty())
			return;
		const char *req = std::getenv("VSST_REQUIRE_ALL");
		if (req && std::strcmp(req, "1") == 0) {
			std::fprintf(
				stderr,
				"FAIL: no QEMU (VSST_QEMU or this checkout's build) and VSST_REQUIRE_ALL=1\n");
			std::exit(1);
		}
		std::fprintf(stderr,
			     "SKIP: no QEMU: VSST_QEMU is not set and this checkout's build is missing "
			     "(run ./vsst qemu)\n");
		std::exit(77);
	}
};
const auto *const kEnv = ::testing::AddGlobalTestEnvironment(new Env);

class DeviceVmTest : public ::testing::TestWithParam<Handoff> {
protected:
	TempDir dir{"vsst-devvm-test"};
	std::string err;
	GuestRam ram = GuestRam::create(64 << 20, err);
	Channel ch = Channel::create(err);
	ProxyEndpoint ep;
	DeviceVm vm;

	void TearDown() override
	{
		if (HasFailure())
			std::fprintf(stderr, "---- device VM output ----\n%s\n----\n",
				     vm.process().log_tail().c_str());
	}
};

TEST_P(DeviceVmTest, StartsHandshakesAndStops)
{
	ASSERT_TRUE(ram.valid() && ch.valid()) << err;
	ep = ProxyEndpoint::attach(ch.fds(), err);
	ASSERT_TRUE(ep) << err;
	DeviceVmSpec s;
	s.command.qemu = qemu();
	s.command.handoff = GetParam();
	s.command.control_path = dir.file("ctl.sock");
	s.command.args = {"-device", "virtio-rng-pci,id=rng0"};
	s.log_path = dir.file("device-vm.log");
	ASSERT_TRUE(vm.start(s, ch.fds(), ram.fd(), ram.layout(), err)) << err;
	HandshakeOptions o;
	o.timeout = 20000ms;
	o.min_devices = 1;
	o.check = [this]() -> std::optional<std::string> {
		if (vm.process().running())
			return std::nullopt;
		return "device VM " + vm.process().exit_info()->describe();
	};
	HandshakeResult r = handshake(ep.get(), o);
	ASSERT_TRUE(r) << r.error;
	ASSERT_EQ(r.devices.size(), 1u);
	EXPECT_EQ(r.devices[0].vendor, 0x1af4);
	// A config read through the channel reaches the device.
	uint64_t id = 0;
	EXPECT_EQ(vsst_rpc_proxy_mmio(ep.get(), r.devices[0].index, 0, 2, VSST_RPC_DIR_READ, &id, 5000), 0);
	EXPECT_EQ(id, 0x1af4u);
	auto e = vm.shutdown(ep.get(), 10000ms);
	ASSERT_TRUE(e);
	EXPECT_TRUE(e->exited) << e->describe();
	EXPECT_EQ(e->status, 0) << e->describe();
}

// Device VMs of several runs may share the unprivileged uid: each must be non-dumpable
// (its /proc files then belong to root, and nobody else of its uid may ptrace it).
TEST_F(DeviceVmTest, RunsAsTheUserAndIsNotDumpable)
{
	if (geteuid() != 0)
		GTEST_SKIP() << "needs root to drop to nobody";
	auto nobody = lookup_user("nobody");
	ASSERT_TRUE(nobody);
	ASSERT_TRUE(ram.valid() && ch.valid()) << err;
	ep = ProxyEndpoint::attach(ch.fds(), err);
	ASSERT_TRUE(ep) << err;
	DeviceVmSpec s;
	s.command.qemu = qemu();
	s.command.handoff = Handoff::SetupSocket;
	s.command.args = {"-device", "virtio-rng-pci,id=rng0"};
	s.log_path = dir.file("device-vm.log");
	s.run_as = *nobody;
	ASSERT_TRUE(vm.start(s, ch.fds(), ram.fd(), ram.layout(), err)) << err;
	HandshakeOptions o;
	o.timeout = 20000ms;
	o.min_devices = 1;
	HandshakeResult r = handshake(ep.get(), o);
	ASSERT_TRUE(r) << r.error;
	const std::string proc = "/proc/" + std::to_string(vm.process().pid());
	struct stat st;
	ASSERT_EQ(stat(proc.c_str(), &st), 0);
	ASSERT_EQ(stat((proc + "/environ").c_str(), &st), 0);
	EXPECT_EQ(st.st_uid, 0u) << "the device VM is dumpable: its /proc files belong to its own uid";
	std::ifstream status(proc + "/status");
	std::string line;
	bool seen = false;
	while (std::getline(status, line))
		if (line.rfind("Uid:", 0) == 0) {
			seen = true;
			EXPECT_NE(line.find(std::to_string(nobody->uid)), std::string::npos) << line;
		}
	EXPECT_TRUE(seen);
	auto e = vm.shutdown(ep.get(), 10000ms);
	ASSERT_TRUE(e);
}

INSTANTIATE_TEST_SUITE_P(Handoffs, DeviceVmTest,
			 ::testing::Values(Handoff::SetupSocket, Handoff::InheritFds,
					   Handoff::ControlSocket));

TEST(DeviceVmFailure, BadDeviceExitsAndHandshakeSaysWhy)
{
	if (qemu().empty())
		GTEST_SKIP();
	TempDir dir{"vsst-devvm-test"};
	std::string err;
	GuestRam ram = GuestRam::create(64 << 20, err);
	Channel ch = Channel::create(err);
	ProxyEndpoint ep = ProxyEndpoint::attach(ch.fds(), err);
	DeviceVm vm;
	DeviceVmSpec s;
	s.name = "device VM";
	s.command.qemu = qemu();
	s.command.args = {"-device", "no-such-device-vsst"};
	s.log_path = dir.file("device-vm.log");
	ASSERT_TRUE(vm.start(s, ch.fds(), ram.fd(), ram.layout(), err)) << err;
	HandshakeOptions o;
	o.timeout = 20000ms;
	o.check = [&vm]() -> std::optional<std::string> {
		if (vm.process().running())
			return std::nullopt;
		return "device VM " + vm.process().exit_info()->describe() + ": " +
		       vm.process().log_tail(200);
	};
	HandshakeResult r = handshake(ep.get(), o);
	EXPECT_EQ(r.failure, HandshakeFailure::Aborted);
	EXPECT_NE(r.error.find("exited with status 1"), std::string::npos) << r.error;
	EXPECT_NE(r.error.find("no-such-device-vsst"), std::string::npos) << r.error;
}

} // namespace
} // namespace vsst::devvm
