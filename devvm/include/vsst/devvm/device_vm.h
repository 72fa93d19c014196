// SPDX-License-Identifier: Apache-2.0
// A device VM process: started on a channel and guest RAM (handed over as chosen),
// optionally as an unprivileged user, supervised through posix's ChildProcess, and
// stopped (STOP, bounded wait, then SIGTERM/SIGKILL).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "vsst/devvm/command_line.h"
#include "vsst/devvm/guest_ram.h"
#include "vsst/posix/child_process.h"
#include "vsst/rpc.h"

namespace vsst::devvm {

struct DeviceVmSpec {
	std::string name = "device VM";
	// qemu, handoff (+ control_path for ControlSocket), accel_options, ram_bytes,
	// sandbox, args; the handoff's fds are filled in by start().
	DeviceVmArgs command;
	std::vector<int> inherit; // further fds the child keeps (named in accel_options / args)
	// Output: a log file, or given fds, or ours (posix SpawnSpec).
	std::string log_path;
	int stdout_fd = -1, stderr_fd = -1;
	std::optional<Credentials> run_as;
	// The seccomp confinement against other processes (posix/process_confinement.h).
	bool confine = true;
	int death_signal = SIGKILL;
	// ControlSocket: bound for the device VM to connect.
	std::chrono::milliseconds connect_timeout{10000};
};

// Sends the channel and guest RAM over a connected setup socket (vsst_setup_send).
bool send_setup(int sock, const vsst_rpc_fds &channel, int ram_fd, const std::vector<RamRegion> &layout,
		std::string &error);

class DeviceVm {
public:
	DeviceVm() = default;
	DeviceVm(DeviceVm &&) = default;
	DeviceVm &operator=(DeviceVm &&) = default;

	// Starts the device VM and hands it channel and RAM (layout: as the device VM
	// should map ram_fd). False with error set (prefixed with the name) on failure; the
	// command line is known (command_line()) even then.
	bool start(const DeviceVmSpec &spec, const vsst_rpc_fds &channel, int ram_fd,
		   const std::vector<RamRegion> &layout, std::string &error);

	const std::string &name() const { return name_; }
	const std::vector<std::string> &command_line() const { return argv_; }
	ChildProcess &process() { return proc_; }
	const ChildProcess &process() const { return proc_; }

	// Teardown: STOP through proxy (if given), wait up to timeout for a clean exit,
	// then terminate (SIGTERM, SIGKILL after 2 s). nullopt if it never ran.
	std::optional<ExitInfo> shutdown(vsst_rpc *proxy, std::chrono::milliseconds timeout);

private:
	std::string name_;
	std::vector<std::string> argv_;
	ChildProcess proc_;
};

} // namespace vsst::devvm
