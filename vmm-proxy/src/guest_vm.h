// SPDX-License-Identifier: Apache-2.0
// guest_vm.h - the guest QEMU: on the shared RAM with one rpc-channel per device VM,
// or (--monolithic) with the devices inside it; console and stderr to the Console.
#pragma once

#include "console.h"
#include "device_vms.h"
#include "options.h"
#include "outcome.h"
#include "vsst/posix/child_process.h"

namespace vsst {

class GuestVm {
public:
	// Logs the command line; starts it unless o.dry_run. False after outcome.fail().
	bool start(const Options &o, bool use_kvm, DeviceVms &device_vms, Console &console, Outcome &outcome);
	ChildProcess &process() { return proc_; }

private:
	ChildProcess proc_;
	std::vector<UniqueFd> blk_files_; // monolithic baseline
};

} // namespace vsst
