// SPDX-License-Identifier: Apache-2.0
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "vsst/devvm/channel.h"
#include "vsst/devvm/command_line.h"
#include "vsst/devvm/device_vm.h"
#include "vsst/devvm/guest_ram.h"
#include "vsst/devvm/handshake.h"

namespace vsst::devvm {
namespace {

using namespace std::chrono_literals;

bool has(const std::vector<int> &v, int x)
{
	return std::find(v.begin(), v.end(), x) != v.end();
}

TEST(RamLayout, SmallRamIsOneRegion)
{
	auto l = pc_ram_layout(512ull << 20);
	ASSERT_EQ(l.size(), 1u);
	EXPECT_EQ(l[0].gpa, 0u);
	EXPECT_EQ(l[0].size, 512ull << 20);
	EXPECT_EQ(l[0].fd_offset, 0u);
}

TEST(RamLayout, LargeRamSplitsAt3G)
{
	auto l = pc_ram_layout(4ull << 30);
	ASSERT_EQ(l.size(), 2u);
	EXPECT_EQ(l[0].size, 3ull << 30);
	EXPECT_EQ(l[1].gpa, 4ull << 30);
	EXPECT_EQ(l[1].size, 1ull << 30);
	EXPECT_EQ(l[1].fd_offset, 3ull << 30);
	// Just below the threshold everything stays low.
	EXPECT_EQ(pc_ram_layout(0xdff00000ull).size(), 1u);
}

TEST(RamLayout, RamOptionAndSetupLayout)
{
	std::vector<RamRegion> l{{0, 0x2000000, 0}, {0x100000000ull, 0x2000000, 0x2000000}};
	EXPECT_EQ(ram_option(7, l), "7@0x0+0x2000000+0x0:7@0x100000000+0x2000000+0x2000000");
	vsst_ram_layout s;
	ASSERT_TRUE(to_setup_layout(7, l, s));
	ASSERT_EQ(s.count, 2u);
	EXPECT_EQ(s.region[1].gpa, 0x100000000ull);
	EXPECT_EQ(s.region[1].fd_offset, 0x2000000u);
	EXPECT_EQ(s.region[1].fd, 7);
	EXPECT_FALSE(to_setup_layout(7, std::vector<RamRegion>(VSST_RAM_MAX_REGIONS + 1, {0, 1, 0}), s));
}

TEST(GuestRamTest, MemfdIsSealedAgainstResizeAndNewSeals)
{
	std::string err;
	GuestRam ram = GuestRam::create(64ull << 20, err);
	ASSERT_TRUE(ram.valid()) << err;
	EXPECT_EQ(ram.size(), 64ull << 20);
	EXPECT_EQ(ram.layout().size(), 1u);
	EXPECT_NE(ftruncate(ram.fd(), 32ll << 20), 0);
	EXPECT_NE(ftruncate(ram.fd(), 128ll << 20), 0);
	EXPECT_EQ(ftruncate(ram.fd(), 64ll << 20), 0); // same size stays possible (QEMU may do it)
	EXPECT_TRUE(fcntl(ram.fd(), F_GETFD) & FD_CLOEXEC);
	// Sealed for good: a device VM cannot add a seal that breaks the guest's mapping.
	EXPECT_TRUE(fcntl(ram.fd(), F_GET_SEALS) & F_SEAL_SEAL);
	EXPECT_EQ(fcntl(ram.fd(), F_ADD_SEALS, F_SEAL_WRITE), -1);
	EXPECT_EQ(errno, EPERM);
}

TEST(GuestRamTest, MappingFollowsTheLayout)
{
	std::string err;
	GuestRam ram = GuestRam::create(8 << 20, {{0, 4 << 20, 0}, {1ull << 32, 4 << 20, 4 << 20}}, err);
	ASSERT_TRUE(ram.valid()) << err;
	EXPECT_EQ(ram.at(0, 1), nullptr) << "not mapped yet";
	ASSERT_TRUE(ram.map(err)) << err;
	ASSERT_NE(ram.at(0, 8), nullptr);
	EXPECT_EQ(ram.at((1ull << 32) + 16, 8), ram.base() + (4 << 20) + 16);
	EXPECT_EQ(ram.at((4 << 20) - 4, 8), nullptr) << "crosses the end of a region";
	EXPECT_EQ(ram.at(5 << 20, 1), nullptr) << "in the hole";
	// Bytes written here are in the file.
	*ram.at((1ull << 32) + 1) = 0x5a;
	uint8_t b = 0;
	EXPECT_EQ(pread(ram.fd(), &b, 1, (4 << 20) + 1), 1);
	EXPECT_EQ(b, 0x5a);
	GuestRam moved(std::move(ram));
	EXPECT_EQ(*moved.at((1ull << 32) + 1), 0x5a);
}

TEST(GuestRamTest, RegionsOutsideTheFileAreRefused)
{
	std::string err;
	GuestRam ram = GuestRam::create(4 << 20, {{0, 8 << 20, 0}}, err);
	EXPECT_FALSE(ram.valid());
	EXPECT_NE(err.find("outside"), std::string::npos);
}

TEST(CommandLine, SetupSocketIsolatedWithSandbox)
{
	DeviceVmArgs d;
	d.qemu = "/q";
	d.setup_fd = 9;
	d.accel_options = {"trace-fd=12"};
	d.ram_bytes = 512ull << 20;
	d.args = {"-device", "virtio-rng-pci"};
	Argv a = device_vm_argv(d);
	EXPECT_EQ(
		shell_quote(a.args),
		"/q -nodefaults -no-user-config -display none -monitor none -nic none -machine rpc-backend "
		"-accel rpc,setup-fd=9,trace-fd=12 -m 512M -serial none -parallel none -sandbox "
		"on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny -device virtio-rng-pci");
	EXPECT_EQ(a.inherit, std::vector<int>{9});
}

TEST(CommandLine, InheritedFdsAndControlSocket)
{
	DeviceVmArgs d;
	d.qemu = "/q";
	d.handoff = Handoff::InheritFds;
	d.channel = {3, 4, 5};
	d.ram_fd = 6;
	d.ram_layout = {{0, 0x4000000, 0}};
	d.sandbox = false;
	Argv a = device_vm_argv(d);
	const std::string line = shell_quote(a.args);
	EXPECT_NE(line.find("-accel rpc,fds=3:4:5,ram=6@0x0+0x4000000+0x0 -serial"), std::string::npos)
		<< line;
	EXPECT_EQ(line.find("-sandbox"), std::string::npos);
	EXPECT_EQ(line.find("-m "), std::string::npos);
	for (int fd : {3, 4, 5, 6})
		EXPECT_TRUE(has(a.inherit, fd));
	d.handoff = Handoff::ControlSocket;
	d.control_path = "/run/a,b.sock";
	a = device_vm_argv(d);
	EXPECT_NE(shell_quote(a.args).find("-accel rpc,control=/run/a,,b.sock "), std::string::npos);
	EXPECT_TRUE(a.inherit.empty());
}

TEST(CommandLine, DevicesWithFdSetsAndEscapes)
{
	DeviceSpec sst{DeviceKind::Sst, "/we,ird", "", false, {{"queue-size", "64"}}, ""};
	DeviceSpec rng{DeviceKind::Rng, "", "", false, {}, ""};
	DeviceSpec blk{DeviceKind::Blk, "", "/img/disk.img", true, {}, ""};
	Argv a;
	add_devices(a, {&sst, &rng, &blk}, {11});
	const std::string line = shell_quote(a.args);
	EXPECT_NE(line.find("-device virtio-sst-pci,id=sst0,socket=/we,,ird,queue-size=64"),
		  std::string::npos);
	EXPECT_NE(line.find("-object rng-builtin,id=rng0-src -device virtio-rng-pci,id=rng0,rng=rng0-src"),
		  std::string::npos);
	EXPECT_NE(
		line.find(
			"-add-fd fd=11,set=1 -drive file=/dev/fdset/1,format=raw,if=none,id=blk0-drive,readonly=on"),
		std::string::npos);
	EXPECT_EQ(line.find("/img"), std::string::npos) << "the image path must not reach the device VM";
	EXPECT_EQ(a.inherit, std::vector<int>{11});
	EXPECT_STREQ(device_kind_name(DeviceKind::Blk), "virtio-blk");
	EXPECT_EQ(shell_quote({"a b", "it's", "plain"}), "'a b' 'it'\\''s' plain");
}

TEST(CommandLine, SharedDirectoriesAreDescriptors)
{
	DeviceSpec rw{DeviceKind::NineP, "", "/home/u/work", false, {}, ""};
	DeviceSpec ro{DeviceKind::NineP, "", "/data", true, {{"mount_tag", "data"}}, ""};
	DeviceSpec blk{DeviceKind::Blk, "", "/img/disk.img", false, {}, ""};
	Argv a;
	add_devices(a, {&rw, &blk, &ro}, {11}, {12, 13});
	const std::string line = shell_quote(a.args);
	EXPECT_NE(line.find("-fsdev local,id=share0-fs,path=/proc/self/fd/12,security_model=none -device "
			    "virtio-9p-pci,id=share0,fsdev=share0-fs,mount_tag=vsst-host"),
		  std::string::npos)
		<< line;
	EXPECT_NE(line.find("-fsdev local,id=share1-fs,path=/proc/self/fd/13,security_model=none,readonly=on "
			    "-device virtio-9p-pci,id=share1,fsdev=share1-fs,mount_tag=data"),
		  std::string::npos)
		<< line;
	EXPECT_EQ(line.find("/home/u/work"), std::string::npos) << "the path must not reach the device VM";
	EXPECT_EQ(line.find("/data "), std::string::npos);
	EXPECT_EQ(a.inherit, (std::vector<int>{12, 11, 13})); // in device order
	EXPECT_STREQ(device_kind_name(DeviceKind::NineP), "virtio-9p");
}

TEST(CommandLine, NetAndConsoleSocketsAreDescriptors)
{
	DeviceSpec lan{DeviceKind::Net, "", "/run/lan.sock", false, {{"mac", "52:54:00:00:00:02"}}, ""};
	DeviceSpec joined{DeviceKind::Net, "", "/run/lan2.sock", false, {}, ""};
	DeviceSpec con{DeviceKind::Console, "", "/run/con.sock", false, {}, ""};
	Argv a;
	add_devices(a, {&lan, &con, &joined}, {}, {}, {{21, true}, {22, true}, {23, false}});
	const std::string line = shell_quote(a.args);
	EXPECT_NE(line.find("-netdev stream,id=net0-lan,server=on,addr.type=fd,addr.str=21 -device "
			    "virtio-net-pci,id=net0,netdev=net0-lan,romfile=,mac=52:54:00:00:00:02"),
		  std::string::npos)
		<< line;
	EXPECT_NE(line.find("-netdev stream,id=net1-lan,server=off,addr.type=fd,addr.str=23"),
		  std::string::npos)
		<< line;
	EXPECT_NE(
		line.find(
			"-chardev socket,id=con0-chr,fd=22,server=on,wait=off -device virtio-serial-pci,id=con0 "
			"-device virtconsole,id=con0-port,bus=con0.0,chardev=con0-chr"),
		std::string::npos)
		<< line;
	EXPECT_EQ(line.find("/run/"), std::string::npos) << "socket paths must not reach the device VM";
	EXPECT_EQ(a.inherit, (std::vector<int>{21, 22, 23}));
	EXPECT_STREQ(device_kind_name(DeviceKind::Net), "virtio-net");
	EXPECT_STREQ(device_kind_name(DeviceKind::Console), "virtio-console");
}

// QEMU opens an image read-only before the device claims write access, each time taking the
// fd set's descriptor of that access mode: a writable image's set holds both.
TEST(CommandLine, WritableImageSetHasAReadOnlyCompanion)
{
	DeviceSpec rw{DeviceKind::Blk, "", "/img/rw.img", false, {}, ""};
	DeviceSpec ro{DeviceKind::Blk, "", "/img/ro.img", true, {}, ""};
	Argv a;
	add_devices(a, {&rw, &ro}, {11, 12}, {}, {}, {13, -1});
	const std::string line = shell_quote(a.args);
	EXPECT_NE(line.find("-add-fd fd=11,set=1 -add-fd fd=13,set=1 -drive file=/dev/fdset/1,"),
		  std::string::npos)
		<< line;
	EXPECT_NE(line.find("-add-fd fd=12,set=2 -drive file=/dev/fdset/2,"), std::string::npos) << line;
	EXPECT_EQ(a.inherit, (std::vector<int>{11, 13, 12}));
}

// An in-process device side: attaches to the channel, waits for HELLO and answers
// with the given events.
class FakeDevice {
public:
	FakeDevice(const Channel &ch, std::vector<vsst_rpcmsg> answer,
		   uint64_t version = VSST_RPC_PROTOCOL_VERSION)
	{
		const vsst_rpc_fds fds = ch.fds();
		char err[256] = "";
		dev_ = vsst_rpc_attach(&fds, VSST_RPC_ROLE_DEVICE, err, sizeof err);
		EXPECT_NE(dev_, nullptr) << err;
		thread_ = std::thread([this, answer, version] {
			vsst_rpcmsg req{};
			if (vsst_rpc_dev_wait_request(dev_, &req, 5000) != 1)
				return;
			got_hello_ = vsst_rpc_mr0_op(req.mr0) == VSST_RPC_OP_HELLO;
			vsst_rpcmsg hello{vsst_rpc_mr0(VSST_RPC_OP_HELLO, 0, 0, 0, 0, 0), version, 0x5, 0};
			vsst_rpc_dev_send_event(dev_, &hello, 1000);
			for (const auto &m : answer)
				vsst_rpc_dev_send_event(dev_, &m, 1000);
		});
	}
	~FakeDevice()
	{
		thread_.join();
		vsst_rpc_close(dev_);
	}
	bool got_hello() const { return got_hello_; }

private:
	vsst_rpc *dev_ = nullptr;
	std::thread thread_;
	std::atomic<bool> got_hello_{false};
};

vsst_rpcmsg ev(unsigned op, uint64_t mr1 = 0, uint64_t mr2 = 0, uint64_t mr3 = 0)
{
	return {vsst_rpc_mr0(op, 0, 0, 0, 0, 0), mr1, mr2, mr3};
}

struct HandshakeTest : ::testing::Test {
	std::string err;
	Channel ch = Channel::create(err);
	ProxyEndpoint ep;
	HandshakeOptions opt;
	void SetUp() override
	{
		ASSERT_TRUE(ch.valid()) << err;
		ep = ProxyEndpoint::attach(ch.fds(), err);
		ASSERT_TRUE(ep) << err;
		opt.name = "dvm";
		opt.timeout = 3000ms;
	}
};

TEST_F(HandshakeTest, HelloRegistrationsStartVm)
{
	FakeDevice dev(ch,
		       {ev(VSST_RPC_OP_REGISTER_PCI_DEV, 0, 0x1af4107f, 0xff00),
			ev(VSST_RPC_OP_MMIO_REGION_CONFIG, 0xe0000000, 0x1000, 1),
			ev(VSST_RPC_OP_REGISTER_PCI_DEV, 1, 0x1af41044, 0xff00), ev(VSST_RPC_OP_START_VM)});
	std::vector<unsigned> seen;
	opt.min_devices = 2;
	opt.on_event = [&](const vsst_rpcmsg &m) { seen.push_back(vsst_rpc_mr0_op(m.mr0)); };
	HandshakeResult r = handshake(ep.get(), opt);
	ASSERT_TRUE(r) << r.error;
	EXPECT_TRUE(dev.got_hello());
	EXPECT_EQ(r.peer_features, 0x5u);
	ASSERT_EQ(r.devices.size(), 2u);
	EXPECT_EQ(r.devices[0].vendor, 0x1af4);
	EXPECT_EQ(r.devices[0].device, 0x107f);
	EXPECT_EQ(r.devices[0].class_code, 0xff00u);
	EXPECT_EQ(r.devices[1].index, 1u);
	EXPECT_EQ(seen, (std::vector<unsigned>{VSST_RPC_OP_HELLO, VSST_RPC_OP_REGISTER_PCI_DEV,
					       VSST_RPC_OP_MMIO_REGION_CONFIG, VSST_RPC_OP_REGISTER_PCI_DEV,
					       VSST_RPC_OP_START_VM}));
}

TEST_F(HandshakeTest, HostilePeersFailWithAReason)
{
	struct Case {
		std::vector<vsst_rpcmsg> answer;
		uint64_t version;
		HandshakeFailure failure;
		std::string text;
	};
	const std::vector<Case> cases = {
		{{}, VSST_RPC_PROTOCOL_VERSION + 1, HandshakeFailure::Protocol, "dvm speaks RPC protocol"},
		{{ev(VSST_RPC_OP_REGISTER_PCI_DEV, 0, 1, 1), ev(VSST_RPC_OP_REGISTER_PCI_DEV, 0, 1, 1)},
		 VSST_RPC_PROTOCOL_VERSION,
		 HandshakeFailure::Protocol,
		 "dvm registered device index 0 twice"},
		{{ev(VSST_RPC_OP_REGISTER_PCI_DEV, 0, 1, 1), ev(VSST_RPC_OP_START_VM)},
		 VSST_RPC_PROTOCOL_VERSION,
		 HandshakeFailure::Protocol,
		 "dvm is ready with 1 device(s), 2 were asked for"},
		{{ev(VSST_RPC_OP_STOP, 7)},
		 VSST_RPC_PROTOCOL_VERSION,
		 HandshakeFailure::Stopped,
		 "dvm sent STOP (reason 7) during the handshake"},
	};
	for (const Case &c : cases) {
		std::string e;
		Channel fresh = Channel::create(e);
		ProxyEndpoint p = ProxyEndpoint::attach(fresh.fds(), e);
		FakeDevice dev(fresh, c.answer, c.version);
		opt.min_devices = 2;
		HandshakeResult r = handshake(p.get(), opt);
		EXPECT_EQ(r.failure, c.failure) << c.text;
		EXPECT_NE(r.error.find(c.text), std::string::npos) << r.error;
	}
}

TEST_F(HandshakeTest, SilenceIsBoundedAndCheckAborts)
{
	opt.timeout = 300ms;
	auto start = std::chrono::steady_clock::now();
	HandshakeResult r = handshake(ep.get(), opt);
	EXPECT_EQ(r.failure, HandshakeFailure::Timeout);
	EXPECT_EQ(r.error, "dvm sent no START_VM within 300 ms (0 device(s) registered)");
	EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);

	opt.timeout = 30000ms;
	int calls = 0;
	opt.check = [&]() -> std::optional<std::string> {
		if (++calls < 3)
			return std::nullopt;
		return "the device VM died";
	};
	start = std::chrono::steady_clock::now();
	r = handshake(ep.get(), opt);
	EXPECT_EQ(r.failure, HandshakeFailure::Aborted);
	EXPECT_EQ(r.error, "the device VM died");
	EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST_F(HandshakeTest, PoisonedChannelIsAChannelFailure)
{
	vsst_rpc_poison(ep.get(), "test says so");
	HandshakeResult r = handshake(ep.get(), opt);
	EXPECT_EQ(r.failure, HandshakeFailure::Channel);
	EXPECT_NE(r.error.find("dvm: "), std::string::npos) << r.error;
}

TEST(SendSetup, ChannelAndRamArriveOverTheSocket)
{
	std::string err;
	Channel ch = Channel::create(err);
	GuestRam ram = GuestRam::create(8 << 20, err);
	ASSERT_TRUE(ch.valid() && ram.valid()) << err;
	int sp[2];
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	UniqueFd a(sp[0]), b(sp[1]);
	ASSERT_TRUE(send_setup(a.get(), ch.fds(), ram.fd(), ram.layout(), err)) << err;
	vsst_rpc_fds got{};
	vsst_ram_layout l{};
	char e[256] = "";
	ASSERT_EQ(vsst_setup_recv(b.get(), &got, &l, 1000, e, sizeof e), 0) << e;
	EXPECT_EQ(l.count, 1u);
	EXPECT_EQ(l.region[0].size, 8u << 20);
	for (int fd : {got.region, got.to_device, got.to_proxy, l.region[0].fd})
		close(fd);
}

TEST(DeviceVmProcess, MissingBinaryIsAnErrorWithTheName)
{
	std::string err;
	Channel ch = Channel::create(err);
	GuestRam ram = GuestRam::create(8 << 20, err);
	DeviceVmSpec s;
	s.name = "device VM 3";
	s.command.qemu = "/nonexistent/qemu";
	DeviceVm vm;
	EXPECT_FALSE(vm.start(s, ch.fds(), ram.fd(), ram.layout(), err));
	EXPECT_NE(err.find("device VM 3: exec: No such file"), std::string::npos) << err;
	ASSERT_FALSE(vm.command_line().empty());
	EXPECT_EQ(vm.command_line()[0], "/nonexistent/qemu");
	EXPECT_EQ(vm.process().exit_info()->code(), 127);
}

} // namespace
} // namespace vsst::devvm
