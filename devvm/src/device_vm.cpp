// SPDX-License-Identifier: Apache-2.0
#include "vsst/devvm/device_vm.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "vsst/posix/unique_fd.h"
#include "vsst/posix/unix_socket.h"

namespace vsst::devvm {

bool send_setup(int sock, const vsst_rpc_fds &channel, int ram_fd, const std::vector<RamRegion> &layout,
		std::string &error)
{
	vsst_ram_layout l;
	if (!to_setup_layout(ram_fd, layout, l)) {
		error = "sending the channel and guest RAM failed: too many RAM regions";
		return false;
	}
	if (int r = vsst_setup_send(sock, &channel, &l); r < 0) {
		error = std::string("sending the channel and guest RAM failed: ") + strerror(-r);
		return false;
	}
	return true;
}

bool DeviceVm::start(const DeviceVmSpec &spec, const vsst_rpc_fds &channel, int ram_fd,
		     const std::vector<RamRegion> &layout, std::string &error)
{
	name_ = spec.name;
	DeviceVmArgs cmd = spec.command;
	UniqueFd setup, child_end, listener;
	switch (cmd.handoff) {
	case Handoff::SetupSocket: {
		int sp[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
			error = name_ + ": socketpair: " + strerror(errno);
			return false;
		}
		setup.reset(sp[0]);
		child_end.reset(sp[1]);
		cmd.setup_fd = child_end.get();
		break;
	}
	case Handoff::InheritFds:
		cmd.channel = channel;
		cmd.ram_fd = ram_fd;
		cmd.ram_layout = layout;
		break;
	case Handoff::ControlSocket: {
		std::string why;
		listener = listen_unix(cmd.control_path, why);
		if (!listener) {
			error = name_ + ": control socket " + why;
			return false;
		}
		break;
	}
	}
	Argv argv = device_vm_argv(cmd);
	argv_ = argv.args;

	SpawnSpec s;
	s.name = name_;
	s.argv = argv.args;
	s.inherit_fds = argv.inherit;
	s.inherit_fds.insert(s.inherit_fds.end(), spec.inherit.begin(), spec.inherit.end());
	s.log_path = spec.log_path;
	s.stdout_fd = spec.stdout_fd;
	s.stderr_fd = spec.stderr_fd;
	s.run_as = spec.run_as;
	s.confine = spec.confine;
	s.death_signal = spec.death_signal;
	if (!proc_.spawn(s, error)) {
		if (cmd.handoff == Handoff::ControlSocket)
			unlink(cmd.control_path.c_str());
		return false;
	}
	child_end.reset();

	if (cmd.handoff == Handoff::ControlSocket) {
		setup = accept_within(listener.get(), spec.connect_timeout,
				      [this] { return !proc_.running(); });
		unlink(cmd.control_path.c_str()); // the socket exists only until it has connected
		if (!setup) {
			error = name_ + " did not connect to " + cmd.control_path;
			if (auto e = proc_.exit_info())
				error += " (" + e->describe() + ")";
			return false;
		}
	}
	if (setup && !send_setup(setup.get(), channel, ram_fd, layout, error)) {
		error = name_ + ": " + error;
		return false;
	}
	return true;
}

std::optional<ExitInfo> DeviceVm::shutdown(vsst_rpc *proxy, std::chrono::milliseconds timeout)
{
	if (proc_.pid() <= 0)
		return std::nullopt;
	if (!proc_.running())
		return proc_.exit_info();
	if (proxy) {
		vsst_rpcmsg m{vsst_rpc_mr0(VSST_RPC_OP_STOP, 0, 0, 0, 0, 0), 0, 0, 0};
		(void)vsst_rpc_proxy_send(proxy, &m, 100);
	}
	if (auto e = proc_.wait(timeout))
		return e;
	return proc_.terminate(std::chrono::milliseconds(2000));
}

} // namespace vsst::devvm
