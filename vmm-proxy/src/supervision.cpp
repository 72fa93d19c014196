// SPDX-License-Identifier: Apache-2.0
#include "supervision.h"

#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cstring>

namespace vsst {

using Clock = std::chrono::steady_clock;

Signals::~Signals()
{
	if (blocked_)
		sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
}

bool Signals::block()
{
	sigset_t set;
	sigemptyset(&set);
	for (int sig : {SIGCHLD, SIGINT, SIGTERM, SIGHUP})
		sigaddset(&set, sig);
	if (sigprocmask(SIG_BLOCK, &set, &old_mask_) < 0)
		return false;
	blocked_ = true;
	fd_.reset(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
	signal(SIGPIPE, SIG_IGN);
	return fd_.valid();
}

int Signals::drain()
{
	int last = 0;
	struct signalfd_siginfo si;
	while (read(fd_.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si))
		if (si.ssi_signo != SIGCHLD)
			last = static_cast<int>(si.ssi_signo);
	return last;
}

namespace {

// The guest has exited: what that means for the run.
void guest_exited(GuestVm &guest, Console &console, Outcome &outcome, bool stop_sent)
{
	const ExitInfo &e = *guest.process().exit_info();
	if (!e.exited) {
		outcome.fail(kExitDied,
			     "guest VM (pid " + std::to_string(guest.process().pid()) + ") " + e.describe());
	} else if (e.status != 0 && !stop_sent && !console.guest_booted()) {
		console.pump_all();
		std::string why = "guest VM " + e.describe() + " before the guest booted";
		Stream *err = console.guest_errors();
		if (err && !err->tail.empty())
			why += ": " + join_tail(err->tail, 3);
		outcome.fail(kExitDied, why);
	} else if (e.status != 0 && !stop_sent) {
		outcome.fail(kExitWorkloadFail,
			     "guest VM " + e.describe() +
				     (console.results().summary() ? "" : " (guest panic?)"));
	}
}

} // namespace

bool supervise(const Options &o, Signals &signals, Console &console, GuestVm &guest, DeviceVms &device_vms,
	       Outcome &outcome)
{
	auto start = Clock::now();
	std::optional<Clock::time_point> stop_guest_at;
	bool guest_stop_sent = false;
	bool stopped_after_summary = false;
	ChildProcess &gp = guest.process();
	for (;;) {
		std::vector<pollfd> pfds;
		pfds.push_back({signals.fd(), POLLIN, 0});
		console.poll_fds(pfds);
		ConsoleInput *input = guest.input();
		const bool typing = input && input->fd() >= 0 && !guest_stop_sent && !stop_guest_at;
		if (typing)
			pfds.push_back({input->fd(), POLLIN, 0});
		poll(pfds.data(), pfds.size(), 100);
		console.pump_all();
		if (typing && (pfds.back().revents & (POLLIN | POLLHUP | POLLERR)) && !input->pump()) {
			spdlog::info("escape key: ending the session");
			stop_guest_at = Clock::now();
		}
		if (int sig = signals.drain()) {
			outcome.fail(kExitInterrupted, std::string("interrupted by ") + sigabbrev_np(sig));
			spdlog::warn("{}: stopping", outcome.reason);
			return stopped_after_summary;
		}
		if (gp.poll_exit()) {
			guest_exited(guest, console, outcome, guest_stop_sent);
			return stopped_after_summary;
		}
		if (o.restart > 0)
			device_vms.poll_restart_messages();
		for (auto &vm : device_vms.all()) {
			if (vm->proc().pid() > 0 && !vm->expected_exit && vm->proc().poll_exit()) {
				// A device VM ends cleanly (status 0) on the guest QEMU's STOP,
				// which comes just before the guest QEMU itself exits: wait for
				// that a moment before calling it a death.
				const ExitInfo &e = *vm->proc().exit_info();
				if (e.exited && e.status == 0) {
					if (!vm->clean_exit_seen) {
						vm->clean_exit_seen = Clock::now();
						continue;
					}
					if (Clock::now() - *vm->clean_exit_seen < std::chrono::seconds(1))
						continue;
				}
				vm->expected_exit = true; // reported once
				if (o.restart > 0 && !guest_stop_sent && !stop_guest_at) {
					int sig = 0;
					const bool up =
						device_vms.restart(*vm, device_vms.died_reason(*vm), [&] {
							return (sig = signals.drain()) != 0;
						});
					if (sig) {
						outcome.fail(kExitInterrupted,
							     std::string("interrupted by ") +
								     sigabbrev_np(sig));
						spdlog::warn("{}: stopping", outcome.reason);
						return stopped_after_summary;
					}
					if (up)
						continue;
					outcome.fail(kExitDied, device_vms.gave_up_reason);
					spdlog::error(
						"the guest sees its devices fail; stopping the guest in {} s",
						o.grace_s);
					if (!stop_guest_at)
						stop_guest_at =
							Clock::now() + std::chrono::seconds(o.grace_s);
					continue;
				}
				outcome.fail(kExitDied, device_vms.died_reason(*vm));
				spdlog::error(
					"{}; the guest sees its devices fail; stopping the guest in {} s",
					outcome.reason, o.grace_s);
				if (!stop_guest_at)
					stop_guest_at = Clock::now() + std::chrono::seconds(o.grace_s);
			}
		}
		// /init announced power-off but the guest does not go: with a dead
		// device, Linux's virtio reset at shutdown waits forever for an
		// all-ones status to read 0. The verdict is known; stop the guest.
		if (console.poweroff_at() && !stop_guest_at &&
		    Clock::now() - *console.poweroff_at() >= std::chrono::seconds(kPoweroffAfterSummaryS)) {
			stopped_after_summary = true;
			spdlog::warn(
				"the guest announced power-off {} s ago but is still running; stopping it",
				kPoweroffAfterSummaryS);
			stop_guest_at = Clock::now();
		}
		if (o.timeout_s > 0 && Clock::now() - start >= std::chrono::seconds(o.timeout_s)) {
			outcome.fail(kExitTimeout, "timeout: the guest ran for more than " +
							   std::to_string(o.timeout_s) + " s");
			spdlog::error("{}; stopping", outcome.reason);
			return stopped_after_summary;
		}
		if (stop_guest_at && Clock::now() >= *stop_guest_at && !guest_stop_sent) {
			guest_stop_sent = true;
			gp.signal(SIGTERM);
			stop_guest_at = Clock::now() + std::chrono::seconds(3);
		} else if (stop_guest_at && guest_stop_sent && Clock::now() >= *stop_guest_at) {
			gp.signal(SIGKILL);
		}
	}
}

void teardown(GuestVm &guest, DeviceVms &device_vms, Console &console)
{
	ChildProcess &gp = guest.process();
	if (gp.running())
		gp.terminate(std::chrono::milliseconds(3000));
	device_vms.stop(gp.pid() > 0);
	// Whatever the children wrote last (pipes are at EOF once all writers are gone).
	console.drain(std::chrono::milliseconds(500));
	console.close_all();
	device_vms.report_traces();
}

} // namespace vsst
