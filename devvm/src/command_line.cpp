// SPDX-License-Identifier: Apache-2.0
#include "vsst/devvm/command_line.h"

namespace vsst::devvm {

const char *device_kind_name(DeviceKind k)
{
	switch (k) {
	case DeviceKind::Sst:
		return "virtio-sst";
	case DeviceKind::Rng:
		return "virtio-rng";
	case DeviceKind::Blk:
		return "virtio-blk";
	case DeviceKind::NineP:
		return "virtio-9p";
	case DeviceKind::Net:
		return "virtio-net";
	case DeviceKind::Console:
		return "virtio-console";
	}
	return "?";
}

std::string device_props(const DeviceSpec &d)
{
	std::string s;
	for (const auto &[k, v] : d.extra)
		s += "," + k + "=" + v;
	return s;
}

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

void add_devices(Argv &a, const std::vector<const DeviceSpec *> &devices, const std::vector<int> &blk_fds,
		 const std::vector<int> &share_fds, const std::vector<SocketFd> &socket_fds,
		 const std::vector<int> &blk_ro_fds)
{
	size_t blk = 0, rng = 0, sst = 0, share = 0, sock = 0, net = 0, con = 0;
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
			a.add({"-add-fd", "fd=" + std::to_string(fd) + ",set=" + set});
			a.inherit.push_back(fd);
			if (blk < blk_ro_fds.size() && blk_ro_fds[blk] >= 0) {
				a.add({"-add-fd", "fd=" + std::to_string(blk_ro_fds[blk]) + ",set=" + set});
				a.inherit.push_back(blk_ro_fds[blk]);
			}
			a.add({"-drive",
			       "file=/dev/fdset/" + set + ",format=raw,if=none,id=" + id +
				       "-drive,readonly=" + (d->readonly ? "on" : "off"),
			       "-device",
			       "virtio-blk-pci,id=" + id + ",drive=" + id + "-drive" + device_props(*d)});
			blk++;
			break;
		}
		case DeviceKind::NineP: {
			// security_model=none: files are created with the server's own identity
			// and the guest's chown requests are ignored, which is what an
			// unprivileged device VM can do anyway (vmm-proxy/README.md, --share).
			std::string id = "share" + std::to_string(share);
			int fd = share_fds.at(share);
			bool tagged = false;
			for (const auto &kv : d->extra)
				tagged = tagged || kv.first == "mount_tag";
			a.add({"-fsdev",
			       "local,id=" + id + "-fs,path=/proc/self/fd/" + std::to_string(fd) +
				       ",security_model=none" + (d->readonly ? ",readonly=on" : ""),
			       "-device",
			       "virtio-9p-pci,id=" + id + ",fsdev=" + id + "-fs" +
				       (tagged ? "" : std::string(",mount_tag=") + kDefaultShareTag) +
				       device_props(*d)});
			a.inherit.push_back(fd);
			share++;
			break;
		}
		case DeviceKind::Net: {
			// romfile=: no option ROM (iPXE boot) to look up, which the sandboxed
			// device VM could not read anyway.
			const SocketFd s = socket_fds.at(sock++);
			std::string id = "net" + std::to_string(net++);
			a.add({"-netdev",
			       "stream,id=" + id + "-lan,server=" + (s.listening ? "on" : "off") +
				       ",addr.type=fd,addr.str=" + std::to_string(s.fd),
			       "-device",
			       "virtio-net-pci,id=" + id + ",netdev=" + id +
				       "-lan,romfile=" + device_props(*d)});
			a.inherit.push_back(s.fd);
			break;
		}
		case DeviceKind::Console: {
			// server=on,wait=off: QEMU accepts host programs on the launcher's listening
			// socket one at a time, without waiting for one at start.
			const SocketFd s = socket_fds.at(sock++);
			std::string id = "con" + std::to_string(con++);
			a.add({"-chardev",
			       "socket,id=" + id + "-chr,fd=" + std::to_string(s.fd) + ",server=on,wait=off",
			       "-device", "virtio-serial-pci,id=" + id, "-device",
			       "virtconsole,id=" + id + "-port,bus=" + id + ".0,chardev=" + id + "-chr" +
				       device_props(*d)});
			a.inherit.push_back(s.fd);
			break;
		}
		}
	}
}

Argv device_vm_argv(const DeviceVmArgs &d)
{
	Argv a;
	a.args.push_back(d.qemu);
	// Nothing QEMU would add by itself.
	a.add({"-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none", "-nic", "none"});
	std::string accel = "rpc";
	switch (d.handoff) {
	case Handoff::SetupSocket:
		accel += ",setup-fd=" + std::to_string(d.setup_fd);
		a.inherit.push_back(d.setup_fd);
		break;
	case Handoff::InheritFds:
		accel += ",fds=" + std::to_string(d.channel.region) + ":" +
			 std::to_string(d.channel.to_device) + ":" + std::to_string(d.channel.to_proxy) +
			 ",ram=" + ram_option(d.ram_fd, d.ram_layout);
		a.inherit.insert(a.inherit.end(),
				 {d.channel.region, d.channel.to_device, d.channel.to_proxy, d.ram_fd});
		break;
	case Handoff::ControlSocket:
		accel += ",control=" + qemu_escape(d.control_path);
		break;
	}
	for (const auto &o : d.accel_options)
		accel += "," + o;
	std::string machine = "rpc-backend";
	for (const auto &o : d.machine_options)
		machine += "," + o;
	a.add({"-machine", machine, "-accel", accel});
	if (d.ram_bytes)
		a.add({"-m", std::to_string(d.ram_bytes >> 20) + "M"});
	a.add({"-serial", "none", "-parallel", "none"});
	if (d.sandbox)
		// No new processes, no privilege changes, no obsolete or resource syscalls.
		a.add({"-sandbox",
		       "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"});
	a.args.insert(a.args.end(), d.args.begin(), d.args.end());
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

} // namespace vsst::devvm
