// SPDX-License-Identifier: Apache-2.0
#include "qemu_cmdline.h"

#include <cstdio>
#include <utility>

#include "guest_command.h"

namespace vsst {

namespace {

// Common front of the guest VM and the baseline: nothing QEMU would add by itself.
void add_common(Argv &a, const Options &o)
{
	a.args.push_back(o.guest_qemu);
	a.add({"-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none", "-nic", "none"});
}

void add_engine(Argv &a, const Options &o, bool use_kvm)
{
	const ArchInfo &arch = arch_info(o.arch);
	if (use_kvm)
		a.add({"-accel", "kvm", "-cpu", "host"});
	else
		a.add({"-accel", "tcg"});
	if (!use_kvm && *arch.cpu)
		a.add({"-cpu", arch.cpu});
	if (*arch.bios)
		a.add({"-bios", arch.bios});
}

// The architecture's machine; memory_backend names the shared RAM object (split).
std::string machine_option(const Options &o, const char *memory_backend)
{
	std::string m = arch_info(o.arch).machine;
	if (memory_backend)
		m += std::string(",memory-backend=") + memory_backend;
	return m;
}

// Synchronized time: the guest's clock counts instructions; an idle guest jumps to its
// next timer instead of sleeping (sleep=off), so waiting costs no wall time.
void add_sync_timing(Argv &a, const Options &o)
{
	if (o.timing != Timing::Sync)
		return;
	a.add({"-icount", "shift=" + std::to_string(kSyncIcountShift) + ",sleep=off"});
	// What else the host would feed the guest: RDRAND and friends from a fixed seed,
	// and a real-time clock that starts at a fixed date and runs on the virtual clock.
	a.add({"-seed", "1", "-rtc", "base=2026-01-01T00:00:00,clock=vm"});
}

void add_boot(Argv &a, const Options &o)
{
	a.add({"-kernel", o.kernel, "-initrd", o.initrd, "-append", kernel_cmdline(o)});
	a.add({"-smp", std::to_string(o.smp)});
	// The console goes to QEMU's stdout, a pipe the launcher reads.
	a.add({"-chardev", "stdio,id=con0,signal=off", "-serial", "chardev:con0"});
	// Power-off or reboot ends the run; a guest panic is a failure.
	a.add({"-no-reboot", "-action", "panic=exit-failure"});
}

} // namespace

std::string kernel_cmdline(const Options &o)
{
	std::string cmd = std::string("console=") + arch_info(o.arch).console + " panic=-1";
	if (o.append.find("vsst.ndev=") == std::string::npos) {
		size_t n = 0;
		for (const auto &d : o.devices)
			n += d.kind == DeviceKind::Sst;
		cmd += " vsst.ndev=" + std::to_string(n);
	}
	// Synchronized time: no address-space randomisation (it changes code paths and so
	// instruction counts from run to run), and TCG's TSC counts virtual nanoseconds, so
	// 1 GHz exactly: no calibration, whose rounding would differ between runs.
	if (o.timing == Timing::Sync)
		cmd += " nokaslr norandmaps tsc=reliable tsc_early_khz=1000000";
	if (!o.append.empty())
		cmd += " " + o.append;
	if (!o.guest_command.empty())
		cmd += " vsst.cmd=" + encode_guest_command(o.guest_command);
	// Scripts pass multi-line strings; the kernel wants one line.
	for (char &c : cmd)
		if (c == '\n' || c == '\t' || c == '\r')
			c = ' ';
	return cmd;
}

DeviceVmCommand device_vm_command(const Options &o, const DeviceVmPlan &plan, uint64_t ram_bytes)
{
	DeviceVmCommand c;
	devvm::DeviceVmArgs &d = c.args;
	d.qemu = o.qemu;
	d.handoff = devvm::Handoff::SetupSocket;
	d.setup_fd = plan.setup_fd;
	if (plan.inflight_fd >= 0) {
		d.accel_options.push_back("inflight-fd=" + std::to_string(plan.inflight_fd));
		c.inherit.push_back(plan.inflight_fd);
	}
	if (plan.trace_fd >= 0) {
		// Descriptors, not paths: the device VM may run as nobody in a sandbox.
		d.accel_options.push_back("trace-fd=" + std::to_string(plan.trace_fd));
		c.inherit.push_back(plan.trace_fd);
		if (plan.trace_args_fd >= 0) {
			d.accel_options.push_back("trace-args=/proc/self/fd/" +
						  std::to_string(plan.trace_args_fd));
			c.inherit.push_back(plan.trace_args_fd);
		}
		c.inherit.insert(c.inherit.end(), plan.trace_image_fds.begin(), plan.trace_image_fds.end());
	}
	d.ram_bytes = ram_bytes;
	if (o.arch != Arch::X86_64) {
		// Devices write MSIs to the guest platform's doorbell: the window goes there.
		char window[80];
		snprintf(window, sizeof window, "msi-base=0x%llx,msi-size=0x%llx",
			 static_cast<unsigned long long>(arch_info(o.arch).msi_base),
			 static_cast<unsigned long long>(arch_info(o.arch).msi_size));
		d.machine_options.push_back(window);
	}
	d.sandbox = o.sandbox;
	Argv devices;
	devvm::add_devices(devices, plan.devices, plan.blk_fds, plan.share_fds, plan.socket_fds,
			   plan.blk_ro_fds);
	d.args = std::move(devices.args);
	d.args.insert(d.args.end(), o.device_args.begin(), o.device_args.end());
	c.inherit.insert(c.inherit.end(), devices.inherit.begin(), devices.inherit.end());
	return c;
}

Argv device_vm_argv(const Options &o, const DeviceVmPlan &plan, uint64_t ram_bytes)
{
	DeviceVmCommand c = device_vm_command(o, plan, ram_bytes);
	Argv a = devvm::device_vm_argv(c.args);
	a.inherit.insert(a.inherit.end(), c.inherit.begin(), c.inherit.end());
	return a;
}

std::string trace_template(const DeviceVmPlan &plan)
{
	std::string out, images;
	const char *sim_protocol = nullptr;
	auto line = [&out](const std::string &l) {
		for (char c : l)
			out += c == '\n' ? ' ' : c; // one argument per line
		out += '\n';
	};
	size_t blk = 0, rng = 0, sst = 0;
	std::vector<std::string> names;
	for (const DeviceSpec *d : plan.devices) {
		switch (d->kind) {
		case DeviceKind::Sst: {
			line("-device");
			line("virtio-sst-pci,id=sst" + std::to_string(sst++) + ",socket={sim}" +
			     devvm::device_props(*d));
			bool acalsim = false;
			for (const auto &[k, v] : d->extra)
				acalsim = acalsim || (k == "protocol" && v == "acalsim");
			if (!sim_protocol || acalsim)
				sim_protocol = acalsim ? "acalsim" : "framed";
			break;
		}
		case DeviceKind::Rng:
			// The replay's device VM takes no -object: virtio-rng's default
			// backend is the same rng-builtin the recording used.
			line("-device");
			line("virtio-rng-pci,id=rng" + std::to_string(rng++) + devvm::device_props(*d));
			break;
		case DeviceKind::Blk: {
			// The replay finds the image next to the trace by its file name.
			std::string name = d->file.substr(d->file.find_last_of('/') + 1);
			for (const auto &n : names)
				if (n == name)
					name = std::to_string(blk) + "-" + name;
			names.push_back(name);
			std::string id = "blk" + std::to_string(blk);
			line("-drive");
			line("file={image:" + name + "},format=raw,if=none,id=" + id +
			     "-drive,readonly=" + (d->readonly ? "on" : "off"));
			line("-device");
			line("virtio-blk-pci,id=" + id + ",drive=" + id + "-drive" + devvm::device_props(*d));
			if (blk < plan.trace_image_fds.size())
				images += "image=" + name + "=/proc/self/fd/" +
					  std::to_string(plan.trace_image_fds[blk]) + "\n";
			blk++;
			break;
		}
		case DeviceKind::NineP:
		case DeviceKind::Net:
		case DeviceKind::Console:
			// Not recorded: the launcher refuses --trace with these (their
			// backends are host sockets and folders a replay cannot play).
			break;
		}
	}
	out += images;
	std::string what;
	for (const DeviceSpec *d : plan.devices)
		what += (what.empty() ? "" : " ") + std::string("--device ") + d->text;
	line("origin=vmm-proxy --trace");
	line("note=recorded in a device VM started by vmm-proxy with " + what);
	if (sim_protocol)
		out += std::string("sim-protocol=") + sim_protocol + "\n";
	return out;
}

std::string trace_path(const std::string &trace, size_t vm, size_t count)
{
	if (count <= 1)
		return trace;
	const size_t slash = trace.find_last_of('/');
	const size_t dot = trace.find_last_of('.');
	const bool has_ext = dot != std::string::npos && (slash == std::string::npos || dot > slash + 1);
	const std::string stem = has_ext ? trace.substr(0, dot) : trace;
	const std::string ext = has_ext ? trace.substr(dot) : "";
	return stem + "." + std::to_string(vm) + ext;
}

void add_guest_sandbox(Argv &a)
{
	a.add({"-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"});
	// Debian's firmware packages (qemu/build-qemu.sh's FIRMWARE_DIRS, QEMU's --firmwarepath).
	for (const char *dir : {"/usr/share/qemu", "/usr/share/seabios", "/usr/lib/ipxe/qemu"})
		a.add({"-L", dir});
}

Argv guest_vm_argv(const Options &o, bool use_kvm, const GuestRam &ram,
		   const std::vector<GuestChannel> &channels)
{
	Argv a;
	add_common(a, o);
	std::string size = std::to_string(ram.size() >> 20) + "M";
	a.add({"-machine", machine_option(o, "ram0"), "-m", size});
	add_engine(a, o, use_kvm);
	add_sync_timing(a, o);
	// Guest RAM is the launcher's memfd, mapped shared so the device VM sees it too.
	a.add({"-object", "memory-backend-file,id=ram0,size=" + size + ",mem-path=/proc/self/fd/" +
				  std::to_string(ram.fd()) + ",share=on"});
	a.inherit.push_back(ram.fd());
	add_boot(a, o);
	for (size_t c = 0; c < channels.size(); c++) {
		const GuestChannel &ch = channels[c];
		std::string id = "ch" + std::to_string(c);
		std::string obj = "rpc-channel,id=" + id + ",fds=" + std::to_string(ch.region) + ":" +
				  std::to_string(ch.to_device) + ":" + std::to_string(ch.to_proxy) +
				  ",timeout=" + std::to_string(o.mmio_timeout_ms);
		if (o.doorbell_poll_us > 0)
			obj += ",doorbell-poll-us=" + std::to_string(o.doorbell_poll_us);
		if (o.rpc_spin_us > 0)
			obj += ",spin-us=" + std::to_string(o.rpc_spin_us);
		if (o.timing == Timing::Sync)
			obj += ",timing=sync";
		a.inherit.insert(a.inherit.end(), {ch.region, ch.to_device, ch.to_proxy});
		if (ch.peer_fd >= 0) {
			obj += ",peer-fd=" + std::to_string(ch.peer_fd);
			a.inherit.push_back(ch.peer_fd);
		}
		if (ch.restart_fd >= 0) {
			obj += ",restart-fd=" + std::to_string(ch.restart_fd) +
			       ",restart-wait=" + std::to_string(o.restart_wait_ms);
			a.inherit.push_back(ch.restart_fd);
		}
		a.add({"-device", obj});
		for (unsigned index : ch.indices)
			a.add({"-device", "rpc-proxy-pci,id=proxy" + std::to_string(c) + "." +
						  std::to_string(index) + ",chan=" + id +
						  ",index=" + std::to_string(index)});
	}
	for (const auto &extra : o.guest_args)
		a.args.push_back(extra);
	return a;
}

Argv monolithic_argv(const Options &o, bool use_kvm, const std::vector<int> &blk_fds,
		     const std::vector<devvm::SocketFd> &socket_fds, const std::vector<int> &blk_ro_fds)
{
	Argv a;
	add_common(a, o);
	a.add({"-machine", machine_option(o, nullptr), "-m", std::to_string(o.memory_bytes >> 20) + "M"});
	add_engine(a, o, use_kvm);
	add_boot(a, o);
	std::vector<const DeviceSpec *> devices;
	for (const auto &d : o.devices)
		devices.push_back(&d);
	devvm::add_devices(a, devices, blk_fds, {}, socket_fds, blk_ro_fds);
	for (const auto &extra : o.guest_args)
		a.args.push_back(extra);
	return a;
}

} // namespace vsst
