// SPDX-License-Identifier: Apache-2.0
#include "qemu_cmdline.h"

namespace vsst {

namespace {

std::string device_props(const DeviceSpec &d)
{
	std::string s;
	for (const auto &[k, v] : d.extra)
		s += "," + k + "=" + v;
	return s;
}

// Escapes a value for QEMU's key=value option syntax (a comma is written twice).
std::string qemu_escape(const std::string &v)
{
	std::string out;
	for (char c : v) {
		out += c;
		if (c == ',')
			out += ',';
	}
	return out;
}

// Common front of both roles: nothing QEMU would add by itself.
void add_common(Argv &a, const Options &o)
{
	a.args.push_back(o.qemu);
	a.add({"-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none",
	       "-nic", "none"});
}

void add_engine(Argv &a, bool use_kvm)
{
	if (use_kvm)
		a.add({"-accel", "kvm", "-cpu", "host"});
	else
		a.add({"-accel", "tcg"});
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

// -device lines of devices that run inside this QEMU (device VM or baseline).
void add_devices(Argv &a, const std::vector<const DeviceSpec *> &devices,
		 const std::vector<int> &blk_fds)
{
	size_t blk = 0, rng = 0, sst = 0;
	for (const DeviceSpec *d : devices) {
		switch (d->kind) {
		case DeviceKind::Sst:
			a.add({"-device", "virtio-sst-pci,id=sst" + std::to_string(sst++) +
						  ",socket=" + qemu_escape(d->sim) + device_props(*d)});
			break;
		case DeviceKind::Rng: {
			std::string id = "rng" + std::to_string(rng++);
			a.add({"-object", "rng-builtin,id=" + id + "-src", "-device",
			       "virtio-rng-pci,id=" + id + ",rng=" + id + "-src" + device_props(*d)});
			break;
		}
		case DeviceKind::Blk: {
			std::string id = "blk" + std::to_string(blk);
			int fd = blk_fds.at(blk);
			std::string set = std::to_string(blk + 1);
			// The image is opened by the launcher and handed over as an fd set, so
			// the device VM needs no access to its path.
			a.add({"-add-fd", "fd=" + std::to_string(fd) + ",set=" + set,
			       "-drive", "file=/dev/fdset/" + set + ",format=raw,if=none,id=" + id +
						 "-drive,readonly=" + (d->readonly ? "on" : "off"),
			       "-device", "virtio-blk-pci,id=" + id + ",drive=" + id + "-drive" +
						  device_props(*d)});
			a.inherit.push_back(fd);
			blk++;
			break;
		}
		}
	}
}

} // namespace

std::string kernel_cmdline(const Options &o)
{
	std::string cmd = "console=ttyS0 panic=-1";
	if (o.append.find("vsst.ndev=") == std::string::npos) {
		size_t n = 0;
		for (const auto &d : o.devices)
			n += d.kind == DeviceKind::Sst;
		cmd += " vsst.ndev=" + std::to_string(n);
	}
	if (!o.append.empty())
		cmd += " " + o.append;
	// Scripts pass multi-line strings; the kernel wants one line.
	for (char &c : cmd)
		if (c == '\n' || c == '\t' || c == '\r')
			c = ' ';
	return cmd;
}

Argv device_vm_argv(const Options &o, const DeviceVmPlan &plan, uint64_t ram_bytes)
{
	Argv a;
	add_common(a, o);
	std::string accel = "rpc,setup-fd=" + std::to_string(plan.setup_fd);
	a.inherit.push_back(plan.setup_fd);
	if (plan.trace_fd >= 0) {
		// Descriptors, not paths: the device VM may run as nobody in a sandbox.
		accel += ",trace-fd=" + std::to_string(plan.trace_fd);
		a.inherit.push_back(plan.trace_fd);
		if (plan.trace_args_fd >= 0) {
			accel += ",trace-args=/proc/self/fd/" + std::to_string(plan.trace_args_fd);
			a.inherit.push_back(plan.trace_args_fd);
		}
		a.inherit.insert(a.inherit.end(), plan.trace_image_fds.begin(), plan.trace_image_fds.end());
	}
	a.add({"-machine", "rpc-backend", "-accel", accel, "-m", std::to_string(ram_bytes >> 20) + "M",
	       "-serial", "none", "-parallel", "none"});
	if (o.sandbox)
		// No new processes, no privilege changes, no obsolete or resource syscalls.
		a.add({"-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,"
				   "resourcecontrol=deny"});
	add_devices(a, plan.devices, plan.blk_fds);
	for (const auto &extra : o.device_args)
		a.args.push_back(extra);
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
			line("virtio-sst-pci,id=sst" + std::to_string(sst++) + ",socket={sim}" + device_props(*d));
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
			line("virtio-rng-pci,id=rng" + std::to_string(rng++) + device_props(*d));
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
			line("virtio-blk-pci,id=" + id + ",drive=" + id + "-drive" + device_props(*d));
			if (blk < plan.trace_image_fds.size())
				images += "image=" + name + "=/proc/self/fd/" + std::to_string(plan.trace_image_fds[blk]) +
					  "\n";
			blk++;
			break;
		}
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

Argv guest_vm_argv(const Options &o, bool use_kvm, const GuestRam &ram,
		   const std::vector<GuestChannel> &channels)
{
	Argv a;
	add_common(a, o);
	std::string size = std::to_string(ram.size() >> 20) + "M";
	a.add({"-machine", "pc,memory-backend=ram0", "-m", size});
	add_engine(a, use_kvm);
	// Guest RAM is the launcher's memfd, mapped shared so the device VM sees it too.
	a.add({"-object", "memory-backend-file,id=ram0,size=" + size +
				  ",mem-path=/proc/self/fd/" + std::to_string(ram.fd()) + ",share=on"});
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
		a.inherit.insert(a.inherit.end(), {ch.region, ch.to_device, ch.to_proxy});
		if (ch.peer_fd >= 0) {
			obj += ",peer-fd=" + std::to_string(ch.peer_fd);
			a.inherit.push_back(ch.peer_fd);
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

Argv monolithic_argv(const Options &o, bool use_kvm, const std::vector<int> &blk_fds)
{
	Argv a;
	add_common(a, o);
	a.add({"-machine", "pc", "-m", std::to_string(o.memory_bytes >> 20) + "M"});
	add_engine(a, use_kvm);
	add_boot(a, o);
	std::vector<const DeviceSpec *> devices;
	for (const auto &d : o.devices)
		devices.push_back(&d);
	add_devices(a, devices, blk_fds);
	for (const auto &extra : o.guest_args)
		a.args.push_back(extra);
	return a;
}

std::string shell_quote(const std::vector<std::string> &args)
{
	std::string out;
	for (const auto &a : args) {
		if (!out.empty())
			out += ' ';
		if (!a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
						      "0123456789-_=,./:@+%") == std::string::npos) {
			out += a;
			continue;
		}
		out += '\'';
		for (char c : a) {
			if (c == '\'')
				out += "'\\''";
			else
				out += c;
		}
		out += '\'';
	}
	return out;
}

} // namespace vsst
