// SPDX-License-Identifier: Apache-2.0
// guest_vm.h - the guest QEMU: on the shared RAM with one rpc-channel per device VM,
// or (--monolithic) with the devices inside it; console and stderr to the Console.
#pragma once

#include "console.h"
#include "device_vms.h"
#include "options.h"
#include "outcome.h"
#include "terminal.h"
#include "vsst/posix/child_process.h"

namespace vsst {

class GuestVm {
public:
	// Logs the command line; starts it unless o.dry_run. False after outcome.fail().
	// user: who the guest QEMU runs as (nullopt: the launcher's identity). Dropped, it
	// gets QEMU's seccomp sandbox and reads the kernel and initrd through descriptors.
	bool start(const Options &o, bool use_kvm, DeviceVms &device_vms, Console &console, Outcome &outcome,
		   const std::optional<Credentials> &user = std::nullopt);
	ChildProcess &process() { return proc_; }
	// --interactive: the keys typed for the guest console (null otherwise).
	ConsoleInput *input() { return input_ ? &*input_ : nullptr; }
	// The guest QEMU's command line as started (empty before start).
	const std::vector<std::string> &argv() const { return argv_; }

private:
	std::optional<ConsoleInput> input_;
	std::vector<UniqueFd> boot_files_; // kernel, initrd (dropped privileges)
	std::vector<std::string> argv_;
	ChildProcess proc_;
	std::vector<UniqueFd> blk_files_; // monolithic baseline
	HostSockets sockets_;             // monolithic baseline: LANs, consoles
};

} // namespace vsst
