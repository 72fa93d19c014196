// SPDX-License-Identifier: Apache-2.0
// supervision.h - while the guest runs: signals (SIGCHLD, SIGINT, SIGTERM, SIGHUP via a
// signalfd), the children's output, deaths, the --timeout bound, stopping a guest
// that does not go; then the teardown in order (guest, device VMs, last output).
#pragma once

#include <signal.h>

#include "console.h"
#include "device_vms.h"
#include "guest_vm.h"
#include "options.h"
#include "outcome.h"
#include "vsst/posix/unique_fd.h"

namespace vsst {

// Blocks the signals the run handles and reads them from a signalfd; restores the mask.
class Signals {
public:
	Signals() = default;
	~Signals();
	Signals(const Signals &) = delete;
	Signals &operator=(const Signals &) = delete;

	bool block();
	int fd() const { return fd_.get(); }
	// The last terminating signal pending (SIGCHLD only wakes), 0 if none.
	int drain();

private:
	UniqueFd fd_;
	sigset_t old_mask_{};
	bool blocked_ = false;
};

// How long a guest may take to power off after announcing it.
constexpr int kPoweroffAfterSummaryS = 20;

// Until the guest exits, a signal, --timeout; returns whether the guest was stopped for
// not powering off after announcing it.
bool supervise(const Options &o, Signals &signals, Console &console, GuestVm &guest, DeviceVms &device_vms,
	       Outcome &outcome);

// The guest first (it is the device VMs' client), then the device VMs, then whatever
// the children wrote last.
void teardown(GuestVm &guest, DeviceVms &device_vms, Console &console);

} // namespace vsst
