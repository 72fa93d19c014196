// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "options.h"
#include "qemu_cmdline.h"

namespace vsst {
namespace {

ParseResult parse(std::vector<std::string> args)
{
	return parse_options(args);
}

std::vector<std::string> base()
{
	return {"--kernel", "K", "--initrd", "I", "--qemu", "/q"};
}

TEST(Options, MinimalSplitRun)
{
	auto a = base();
	a.insert(a.end(), {"--device", "virtio-sst,sim=/tmp/s.sock"});
	auto r = parse(a);
	ASSERT_TRUE(r.options) << r.error;
	EXPECT_EQ(r.options->kernel, "K");
	ASSERT_EQ(r.options->devices.size(), 1u);
	EXPECT_EQ(r.options->devices[0].kind, DeviceKind::Sst);
	EXPECT_EQ(r.options->devices[0].sim, "/tmp/s.sock");
	EXPECT_EQ(r.options->accel, Accel::Tcg);
	EXPECT_EQ(r.options->isolate, Isolation::Shared);
	EXPECT_EQ(r.options->memory_bytes, 512ull << 20);
	EXPECT_EQ(r.options->doorbell_poll_us, 100);
	EXPECT_EQ(r.options->rpc_spin_us, 0);
}

TEST(Options, AllDeviceKindsAndFlags)
{
	auto a = base();
	a.insert(a.end(), {"--device",
			   "virtio-sst,sim=/a,queue-size=64",
			   "--device",
			   "virtio-rng",
			   "--device",
			   "virtio-blk,file=/d.img,readonly=on",
			   "--isolate",
			   "per-device",
			   "--accel=auto",
			   "--memory",
			   "1G",
			   "--trace",
			   "/t",
			   "--console",
			   "/c",
			   "--timeout",
			   "30",
			   "--smp",
			   "2",
			   "--append",
			   "a=1",
			   "--append",
			   "b=2",
			   "--doorbell-poll-us",
			   "0",
			   "--rpc-spin-us",
			   "50"});
	auto r = parse(a);
	ASSERT_TRUE(r.options) << r.error;
	const Options &o = *r.options;
	ASSERT_EQ(o.devices.size(), 3u);
	ASSERT_EQ(o.devices[0].extra.size(), 1u);
	EXPECT_EQ(o.devices[0].extra[0].first, "queue-size");
	EXPECT_EQ(o.devices[1].kind, DeviceKind::Rng);
	EXPECT_EQ(o.devices[2].file, "/d.img");
	EXPECT_TRUE(o.devices[2].readonly);
	EXPECT_EQ(o.isolate, Isolation::PerDevice);
	EXPECT_EQ(o.accel, Accel::Auto);
	EXPECT_EQ(o.memory_bytes, 1ull << 30);
	EXPECT_EQ(o.trace, "/t");
	EXPECT_EQ(o.timeout_s, 30);
	EXPECT_EQ(o.smp, 2u);
	EXPECT_EQ(o.append, "a=1 b=2");
	EXPECT_EQ(o.doorbell_poll_us, 0);
	EXPECT_EQ(o.rpc_spin_us, 50);
}

TEST(Options, RejectsBadInput)
{
	const std::vector<std::vector<std::string>> bad = {
		{"--initrd", "I", "--device", "virtio-rng"},                  // no kernel
		{"--kernel", "K", "--device", "virtio-rng"},                  // no initrd
		{"--kernel", "K", "--initrd", "I"},                           // no device
		{"--kernel", "K", "--initrd", "I", "--device", "virtio-sst"}, // no sim
		{"--kernel", "K", "--initrd", "I", "--device", "virtio-blk"}, // no file
		{"--kernel", "K", "--initrd", "I", "--device", "virtio-net"},
		{"--kernel", "K", "--initrd", "I", "--device", "virtio-rng,x"},
		{"--kernel", "K", "--initrd", "I", "--device", "virtio-rng", "--accel", "hvf"},
		{"--kernel", "K", "--initrd", "I", "--device", "virtio-rng", "--memory", "12Q"},
		{"--kernel", "K", "--initrd", "I", "--device", "virtio-rng", "--memory", "1M"},
		{"--kernel", "K", "--initrd", "I", "--device", "virtio-rng", "--isolate", "all"},
		{"--kernel", "K", "--initrd", "I", "--device", "virtio-rng", "--timeout", "-1"},
		{"--kernel", "K", "--initrd", "I", "--device", "virtio-rng", "--bogus"},
		{"--kernel", "K", "--initrd", "I", "--device", "virtio-rng", "--monolithic", "--isolate",
		 "per-device"},
		{"--kernel", "K", "--initrd", "I", "--device", "virtio-rng", "--doorbell-poll-us", "5000"},
		{"--kernel"},
	};
	for (const auto &args : bad) {
		auto r = parse(args);
		EXPECT_FALSE(r.options) << "accepted: " << shell_quote(args);
		EXPECT_FALSE(r.error.empty());
	}
}

TEST(Options, NetAndConsoleDevices)
{
	auto a = base();
	a.insert(a.end(), {"--device", "virtio-net,lan=/run/lan.sock,mac=52:54:00:aa:bb:cc", "--device",
			   "virtio-net,lan=/run/lan2.sock", "--device", "virtio-console,socket=/run/c.sock"});
	auto r = parse(a);
	ASSERT_TRUE(r.options) << r.error;
	const auto &d = r.options->devices;
	ASSERT_EQ(d.size(), 3u);
	EXPECT_EQ(d[0].kind, DeviceKind::Net);
	EXPECT_EQ(d[0].file, "/run/lan.sock");
	EXPECT_EQ(d[0].extra,
		  (std::vector<std::pair<std::string, std::string>>{{"mac", "52:54:00:aa:bb:cc"}}));
	// No mac=: a random one in QEMU's OUI (QEMU's fixed default would be the same in both
	// guests of a LAN).
	ASSERT_EQ(d[1].extra.size(), 1u);
	EXPECT_EQ(d[1].extra[0].first, "mac");
	EXPECT_EQ(d[1].extra[0].second.rfind("52:54:00:", 0), 0u) << d[1].extra[0].second;
	EXPECT_EQ(d[1].extra[0].second.size(), 17u);
	EXPECT_EQ(d[2].kind, DeviceKind::Console);
	EXPECT_EQ(d[2].file, "/run/c.sock");
	for (const char *bad : {"virtio-net", "virtio-net,lan=/l,mac=01:00:00:00:00:01",
				"virtio-net,lan=/l,mac=zz", "virtio-net,lan=/l,netdev=x", "virtio-console",
				"virtio-console,socket=/s,chardev=c", "virtio-console,lan=/l"}) {
		auto b = base();
		b.insert(b.end(), {"--device", bad});
		EXPECT_FALSE(parse(b).options) << bad;
	}
}

TEST(Options, Help)
{
	EXPECT_TRUE(parse({"--help"}).help);
	EXPECT_NE(usage_text().find("--isolate per-device"), std::string::npos);
}

TEST(Options, Sizes)
{
	EXPECT_EQ(parse_size("512"), 512ull << 20);
	EXPECT_EQ(parse_size("2G"), 2ull << 30);
	EXPECT_EQ(parse_size("65536K"), 64ull << 20);
	EXPECT_FALSE(parse_size(""));
	EXPECT_FALSE(parse_size("G"));
	EXPECT_FALSE(parse_size("0"));
	EXPECT_FALSE(parse_size("99999999999999999999G"));
}

TEST(Options, Restart)
{
	auto a = base();
	a.insert(a.end(),
		 {"--device", "virtio-sst,sim=/a", "--device", "virtio-blk,file=/x", "--device", "virtio-rng",
		  "--restart", "3", "--restart-window", "30", "--restart-wait", "5000"});
	auto r = parse(a);
	ASSERT_TRUE(r.options) << r.error;
	EXPECT_EQ(r.options->restart, 3);
	EXPECT_EQ(r.options->restart_window_s, 30);
	EXPECT_EQ(r.options->restart_wait_ms, 5000);
	const std::vector<std::vector<std::string>> refused = {
		{"--device", "virtio-net,lan=/l", "--restart", "1"},
		{"--device", "virtio-console,socket=/c", "--restart", "1"},
		{"--share", "/tmp", "--restart", "1"},
		{"--device", "virtio-rng", "--trace", "/t", "--restart", "1"},
		{"--device", "virtio-sst,sim=/a", "--timing", "sync", "--restart", "1"},
		{"--device", "virtio-rng", "--monolithic", "--restart", "1"},
		{"--device", "virtio-rng", "--attach", "/s", "--restart", "1"},
		{"--device", "virtio-rng", "--restart", "-1"},
		{"--device", "virtio-rng", "--restart", "x"},
		{"--device", "virtio-rng", "--restart-wait", "5"},
		{"--device", "virtio-rng", "--restart-window", "0"},
	};
	for (const auto &extra : refused) {
		auto b = base();
		b.insert(b.end(), extra.begin(), extra.end());
		auto rr = parse(b);
		EXPECT_FALSE(rr.options) << "accepted: " << shell_quote(extra);
		EXPECT_FALSE(rr.error.empty());
	}
	// Restart without those devices: fine, and --restart 0 allows them.
	auto c = base();
	c.insert(c.end(), {"--device", "virtio-net,lan=/l", "--restart", "0"});
	EXPECT_TRUE(parse(c).options);
}

// RAM layout and sealing: devvm/tests (devvm.unit).

TEST(Cmdline, GuestVmUsesSharedRamAndOneProxyPerDevice)
{
	auto a = base();
	a.insert(a.end(), {"--device", "virtio-sst,sim=/a", "--device", "virtio-rng"});
	auto r = parse(a);
	ASSERT_TRUE(r.options);
	std::string err;
	GuestRam ram = GuestRam::create(r.options->memory_bytes, err);
	GuestChannel ch{20, 21, 22, 23, {0, 1}};
	Argv argv = guest_vm_argv(*r.options, false, ram, {ch});
	std::string line = shell_quote(argv.args);
	EXPECT_NE(line.find("mem-path=/proc/self/fd/" + std::to_string(ram.fd()) + ",share=on"),
		  std::string::npos);
	EXPECT_NE(line.find("-device rpc-channel,id=ch0,fds=20:21:22"), std::string::npos);
	EXPECT_NE(line.find("peer-fd=23"), std::string::npos);
	EXPECT_NE(line.find("doorbell-poll-us=100"), std::string::npos);
	EXPECT_NE(line.find("rpc-proxy-pci,id=proxy0.0,chan=ch0,index=0"), std::string::npos);
	EXPECT_NE(line.find("rpc-proxy-pci,id=proxy0.1,chan=ch0,index=1"), std::string::npos);
	EXPECT_NE(line.find("vsst.ndev=1"), std::string::npos);
	for (int fd : {20, 21, 22, 23, ram.fd()})
		EXPECT_NE(std::find(argv.inherit.begin(), argv.inherit.end(), fd), argv.inherit.end());
	EXPECT_EQ(line.find("restart-fd"), std::string::npos);
}

TEST(Cmdline, RestartHandsTheGuestASocketAndTheDeviceVmItsInflightRecords)
{
	auto a = base();
	a.insert(a.end(), {"--device", "virtio-sst,sim=/a", "--restart", "2", "--restart-wait", "7000"});
	auto r = parse(a);
	ASSERT_TRUE(r.options) << r.error;
	std::string err;
	GuestRam ram = GuestRam::create(r.options->memory_bytes, err);
	GuestChannel ch{20, 21, 22, 23, {0}, 24};
	Argv guest = guest_vm_argv(*r.options, false, ram, {ch});
	EXPECT_NE(shell_quote(guest.args).find("peer-fd=23,restart-fd=24,restart-wait=7000"),
		  std::string::npos)
		<< shell_quote(guest.args);
	EXPECT_NE(std::find(guest.inherit.begin(), guest.inherit.end(), 24), guest.inherit.end());
	DeviceVmPlan plan;
	for (const auto &d : r.options->devices)
		plan.devices.push_back(&d);
	plan.setup_fd = 9;
	plan.inflight_fd = 12;
	DeviceVmCommand dev = device_vm_command(*r.options, plan, r.options->memory_bytes);
	std::string accel;
	for (const auto &o : dev.args.accel_options)
		accel += o + ",";
	EXPECT_NE(accel.find("inflight-fd=12"), std::string::npos) << accel;
	EXPECT_NE(std::find(dev.inherit.begin(), dev.inherit.end(), 12), dev.inherit.end());
}

TEST(Cmdline, DeviceVmIsIsolated)
{
	auto a = base();
	a.insert(a.end(), {"--device", "virtio-sst,sim=/a,b", "--device", "virtio-blk,file=/x"});
	auto r = parse(a);
	ASSERT_FALSE(r.options); // "b" is not key=value
	a = base();
	a.insert(a.end(), {"--device", "virtio-sst,sim=/a", "--device", "virtio-blk,file=/x"});
	r = parse(a);
	ASSERT_TRUE(r.options);
	DeviceVmPlan plan;
	for (const auto &d : r.options->devices)
		plan.devices.push_back(&d);
	plan.setup_fd = 9;
	plan.blk_fds = {11};
	Argv argv = device_vm_argv(*r.options, plan, r.options->memory_bytes);
	std::string line = shell_quote(argv.args);
	EXPECT_NE(line.find("-machine rpc-backend"), std::string::npos);
	EXPECT_NE(line.find("-sandbox on"), std::string::npos);
	EXPECT_NE(line.find("-nic none"), std::string::npos);
	EXPECT_NE(line.find("virtio-sst-pci,id=sst0,socket=/a"), std::string::npos);
	EXPECT_NE(line.find("-add-fd fd=11,set=1"), std::string::npos);
	EXPECT_EQ(line.find("/x"), std::string::npos) << "the image path must not reach the device VM";
}

// --timing sync: -icount for the guest, timing=sync on its channels and on every
// virtio-sst; refused with what cannot carry time (acalsim, KVM, the monolithic baseline).
TEST(Cmdline, SyncTimingReachesBothVms)
{
	auto a = base();
	a.insert(a.end(), {"--timing", "sync", "--device", "virtio-sst,sim=/a", "--device", "virtio-rng"});
	auto r = parse(a);
	ASSERT_TRUE(r.options) << r.error;
	EXPECT_EQ(r.options->timing, Timing::Sync);
	std::string err;
	GuestRam ram = GuestRam::create(r.options->memory_bytes, err);
	GuestChannel ch{20, 21, 22, 23, {0, 1}};
	std::string guest = shell_quote(guest_vm_argv(*r.options, false, ram, {ch}).args);
	EXPECT_NE(guest.find("-icount shift=0,sleep=off"), std::string::npos) << guest;
	EXPECT_NE(guest.find(",timing=sync"), std::string::npos) << guest;
	DeviceVmPlan plan;
	for (const auto &d : r.options->devices)
		plan.devices.push_back(&d);
	plan.setup_fd = 9;
	std::string dev = shell_quote(device_vm_argv(*r.options, plan, r.options->memory_bytes).args);
	EXPECT_NE(dev.find("virtio-sst-pci,id=sst0,socket=/a,timing=sync"), std::string::npos) << dev;
	EXPECT_EQ(dev.find("virtio-rng-pci,timing"), std::string::npos) << dev;

	// Free (the default): none of it.
	auto f = base();
	f.insert(f.end(), {"--device", "virtio-sst,sim=/a"});
	r = parse(f);
	ASSERT_TRUE(r.options);
	EXPECT_EQ(r.options->timing, Timing::Free);
	guest = shell_quote(guest_vm_argv(*r.options, false, ram, {ch}).args);
	EXPECT_EQ(guest.find("-icount"), std::string::npos);
	EXPECT_EQ(guest.find("timing="), std::string::npos);

	for (const std::vector<std::string> &bad :
	     {std::vector<std::string>{"--timing", "sync", "--device", "virtio-sst,sim=/a,protocol=acalsim"},
	      {"--timing", "sync", "--accel", "kvm", "--device", "virtio-sst,sim=/a"},
	      {"--timing", "sync", "--monolithic", "--device", "virtio-sst,sim=/a"},
	      {"--timing", "later", "--device", "virtio-sst,sim=/a"}}) {
		auto b = base();
		b.insert(b.end(), bad.begin(), bad.end());
		auto e = parse(b);
		EXPECT_FALSE(e.options) << bad[1];
		EXPECT_NE(e.error.find("--timing"), std::string::npos) << e.error;
	}
}

// --arch: the guest QEMU, machine, console and RAM base per architecture; the device VM
// stays the --qemu binary with its MSI window on the platform's doorbell.
TEST(Arch, DefaultsAndParsing)
{
	auto a = base();
	a.insert(a.end(), {"--device", "virtio-rng"});
	auto r = parse(a);
	ASSERT_TRUE(r.options) << r.error;
	EXPECT_EQ(r.options->arch, Arch::X86_64);
	EXPECT_EQ(r.options->guest_qemu, "/q");
	a.insert(a.end(), {"--arch", "aarch64", "--qemu", "/b/qemu-system-x86_64"});
	r = parse(a);
	ASSERT_TRUE(r.options) << r.error;
	EXPECT_EQ(r.options->arch, Arch::Aarch64);
	EXPECT_EQ(r.options->guest_qemu, "/b/qemu-system-aarch64");
	auto b = base();
	b.insert(b.end(),
		 {"--device", "virtio-rng", "--arch", "riscv64", "--guest-qemu", "/g", "--accel", "auto"});
	r = parse(b);
	ASSERT_TRUE(r.options) << r.error;
	EXPECT_EQ(r.options->guest_qemu, "/g");
	EXPECT_EQ(r.options->accel, Accel::Tcg) << "a foreign guest never probes KVM";
	b.insert(b.end(), {"--accel", "kvm"});
	EXPECT_FALSE(parse(b).options);
	auto c = base();
	c.insert(c.end(), {"--device", "virtio-rng", "--arch", "mips"});
	EXPECT_FALSE(parse(c).options);
}

TEST(Arch, RamLayouts)
{
	auto x86 = guest_ram_layout(Arch::X86_64, 4ull << 30);
	ASSERT_EQ(x86.size(), 2u); // pc: below and above 4 GiB
	auto rv = guest_ram_layout(Arch::Riscv64, 1ull << 30);
	ASSERT_EQ(rv.size(), 1u);
	EXPECT_EQ(rv[0].gpa, 0x80000000ull);
	EXPECT_EQ(rv[0].size, 1ull << 30);
	EXPECT_EQ(rv[0].fd_offset, 0u);
	auto arm = guest_ram_layout(Arch::Aarch64, 4ull << 30);
	ASSERT_EQ(arm.size(), 1u);
	EXPECT_EQ(arm[0].gpa, 0x40000000ull);
}

TEST(Arch, GuestAndDeviceVmCommandLines)
{
	for (const char *arch : {"riscv64", "aarch64"}) {
		auto a = base();
		a.insert(a.end(), {"--arch", arch, "--device", "virtio-sst,sim=/a"});
		auto r = parse(a);
		ASSERT_TRUE(r.options) << r.error;
		const Options &o = *r.options;
		std::string err;
		GuestRam ram =
			GuestRam::create(o.memory_bytes, guest_ram_layout(o.arch, o.memory_bytes), err);
		ASSERT_TRUE(ram.valid()) << err;
		Argv g = guest_vm_argv(o, false, ram, {GuestChannel{20, 21, 22, 23, {0}}});
		std::string gl = shell_quote(g.args);
		EXPECT_EQ(g.args[0], std::string("/qemu-system-") + arch) << "beside --qemu /q";
		DeviceVmPlan plan;
		plan.devices.push_back(&o.devices[0]);
		plan.setup_fd = 9;
		std::string dl = shell_quote(device_vm_argv(o, plan, o.memory_bytes).args);
		EXPECT_EQ(dl.rfind("/q ", 0), 0u) << "the device VM is always --qemu";
		if (std::string(arch) == "riscv64") {
			EXPECT_NE(gl.find("-machine virt,memory-backend=ram0"), std::string::npos);
			EXPECT_NE(gl.find("-bios /usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"),
				  std::string::npos);
			EXPECT_NE(gl.find("console=ttyS0"), std::string::npos);
			EXPECT_NE(dl.find("-machine rpc-backend,msi-base=0x28000000,msi-size=0x1000000"),
				  std::string::npos);
		} else {
			EXPECT_NE(gl.find("-machine virt,gic-version=3,its=on,memory-backend=ram0"),
				  std::string::npos);
			EXPECT_NE(gl.find("-cpu cortex-a57"), std::string::npos);
			EXPECT_NE(gl.find("console=ttyAMA0"), std::string::npos);
			EXPECT_NE(dl.find("-machine rpc-backend,msi-base=0x8090000,msi-size=0x10000"),
				  std::string::npos);
		}
		Argv m = monolithic_argv(o, false, {});
		EXPECT_EQ(m.args[0], std::string("/qemu-system-") + arch);
	}
}

TEST(Cmdline, CommasInPathsAreEscaped)
{
	auto a = base();
	a.insert(a.end(), {"--device", "virtio-sst,sim=/a"});
	auto r = parse(a);
	ASSERT_TRUE(r.options);
	r.options->devices[0].sim = "/we,ird";
	Argv argv = monolithic_argv(*r.options, false, {});
	EXPECT_NE(shell_quote(argv.args).find("socket=/we,,ird"), std::string::npos);
}

TEST(Trace, DeviceVmGetsTheTraceAsDescriptors)
{
	auto a = base();
	a.insert(a.end(),
		 {"--device", "virtio-sst,sim=/s/sim.sock,protocol=acalsim", "--device", "virtio-rng",
		  "--device", "virtio-blk,file=/img/disk.img,readonly=on", "--trace", "/t/run.vtrace"});
	auto r = parse(a);
	ASSERT_TRUE(r.options);
	DeviceVmPlan plan;
	for (const auto &d : r.options->devices)
		plan.devices.push_back(&d);
	plan.setup_fd = 9;
	plan.blk_fds = {11};
	plan.trace_fd = 12;
	plan.trace_args_fd = 13;
	plan.trace_image_fds = {14};
	Argv argv = device_vm_argv(*r.options, plan, r.options->memory_bytes);
	std::string line = shell_quote(argv.args);
	EXPECT_NE(line.find("rpc,setup-fd=9,trace-fd=12,trace-args=/proc/self/fd/13"), std::string::npos)
		<< line;
	EXPECT_EQ(line.find("/t/run"), std::string::npos) << "the trace path must not reach the device VM";
	for (int fd : {12, 13, 14})
		EXPECT_NE(std::find(argv.inherit.begin(), argv.inherit.end(), fd), argv.inherit.end());

	// The template a replay uses: placeholders, never the recording's paths.
	const std::string t = trace_template(plan);
	EXPECT_EQ(t, "-device\nvirtio-sst-pci,id=sst0,socket={sim},protocol=acalsim\n"
		     "-device\nvirtio-rng-pci,id=rng0\n"
		     "-drive\nfile={image:disk.img},format=raw,if=none,id=blk0-drive,readonly=on\n"
		     "-device\nvirtio-blk-pci,id=blk0,drive=blk0-drive\n"
		     "image=disk.img=/proc/self/fd/14\n"
		     "origin=vmm-proxy --trace\n"
		     "note=recorded in a device VM started by vmm-proxy with --device "
		     "virtio-sst,sim=/s/sim.sock,protocol=acalsim --device virtio-rng --device "
		     "virtio-blk,file=/img/disk.img,readonly=on\n"
		     "sim-protocol=acalsim\n");
}

TEST(Trace, NoTraceNoTraceOptions)
{
	auto a = base();
	a.insert(a.end(), {"--device", "virtio-rng"});
	auto r = parse(a);
	ASSERT_TRUE(r.options);
	DeviceVmPlan plan;
	plan.devices.push_back(&r.options->devices[0]);
	plan.setup_fd = 9;
	EXPECT_EQ(shell_quote(device_vm_argv(*r.options, plan, r.options->memory_bytes).args).find("trace"),
		  std::string::npos);
}

TEST(Trace, OneFilePerDeviceVm)
{
	EXPECT_EQ(trace_path("/t/run.vtrace", 0, 1), "/t/run.vtrace");
	EXPECT_EQ(trace_path("/t/run.vtrace", 0, 3), "/t/run.0.vtrace");
	EXPECT_EQ(trace_path("/t/run.vtrace", 2, 3), "/t/run.2.vtrace");
	EXPECT_EQ(trace_path("/t.d/run", 1, 2), "/t.d/run.1");
	EXPECT_EQ(trace_path("/t/.hidden", 1, 2), "/t/.hidden.1");
}

} // namespace
} // namespace vsst
