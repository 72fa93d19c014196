// SPDX-License-Identifier: Apache-2.0
// The run, in order: checks, engine choice, the device VMs (guest RAM, per device VM a
// channel + process + handshake: device_vms.cpp), then the guest VM (guest_vm.cpp),
// then supervision until the guest powers off, a child dies, a signal or the time
// bound; then teardown (supervision.cpp); the verdict from the console (console.cpp)
// and the first failure (outcome.h).
#include "launcher.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "console.h"
#include "device_vms.h"
#include "guest_vm.h"
#include "kvm_probe.h"
#include "launch_record.h"
#include "share_access.h"
#include "supervision.h"
#include "terminal.h"

namespace vsst {

namespace {

// Locks of the ids --run-as auto holds (run_identities.h).
constexpr const char *kIdLockDir = "/run/vsst/ids";

// Can user `who` connect to the Unix socket at path? (write on the socket, search on
// every directory above it). Only mode bits are checked; enough to explain a failure.
bool socket_usable_by(const std::string &path, const Credentials &who, std::string &why)
{
	auto allowed = [&](const struct stat &st, mode_t user_bit, mode_t group_bit, mode_t other_bit) {
		if (st.st_uid == who.uid)
			return (st.st_mode & user_bit) != 0;
		if (st.st_gid == who.gid)
			return (st.st_mode & group_bit) != 0;
		return (st.st_mode & other_bit) != 0;
	};
	struct stat st;
	if (stat(path.c_str(), &st) < 0) {
		why = path + ": " + strerror(errno);
		return false;
	}
	// Directories from the top down, then the socket itself.
	for (size_t slash = path.find('/', 1); slash != std::string::npos;
	     slash = path.find('/', slash + 1)) {
		std::string dir = path.substr(0, slash);
		struct stat dst;
		if (stat(dir.c_str(), &dst) == 0 && !allowed(dst, S_IXUSR, S_IXGRP, S_IXOTH)) {
			why = "directory " + dir + " is not searchable by " + who.name;
			return false;
		}
	}
	if (!allowed(st, S_IWUSR, S_IWGRP, S_IWOTH)) {
		why = path + " is not writable by " + who.name;
		return false;
	}
	return true;
}

} // namespace

struct Launcher::Impl {
	Options o;
	RunIdentities ids; // as root: whom the QEMUs run as
	bool use_kvm = false;
	Outcome outcome;
	Console console;
	Signals signals;
	DeviceVms device_vms{o, ids, console, outcome};
	GuestVm guest;
	bool stopped_after_summary = false;
	RawTerminal terminal; // --interactive
	using Clock = std::chrono::steady_clock;
	Clock::time_point t_start = Clock::now();
	std::optional<Clock::time_point> t_guest_start, t_guest_end, t_end;
	// --share / virtio-9p: the device VM's access to each shared directory, undone at
	// the end (reverse order, so a directory shared twice ends as it began).
	std::vector<std::unique_ptr<ShareAccess>> shares;

	explicit Impl(Options opts) : o(std::move(opts)) {}

	bool decide_engine()
	{
		switch (o.accel) {
		case Accel::Tcg:
			use_kvm = false;
			break;
		case Accel::Kvm:
			if (access("/dev/kvm", R_OK | W_OK) != 0) {
				outcome.fail(kExitDied, "--accel kvm: /dev/kvm is not usable: " +
								std::string(strerror(errno)));
				return false;
			}
			use_kvm = true;
			break;
		case Accel::Auto: {
			KvmProbeResult p = probe_kvm();
			use_kvm = p.usable;
			spdlog::info("engine: {} ({})", use_kvm ? "KVM" : "TCG", p.detail);
			return true;
		}
		}
		spdlog::info("engine: {}", use_kvm ? "KVM" : "TCG");
		return true;
	}

	// virtio-net and virtio-console: their sockets are descriptors the launcher hands to
	// the QEMU it starts (host_sockets.h), and a trace replay could not play their peers.
	bool check_sockets()
	{
		for (const auto &d : o.devices) {
			if (d.kind != DeviceKind::Net && d.kind != DeviceKind::Console)
				continue;
			if (!o.trace.empty() || !o.attach.empty()) {
				outcome.fail(kExitUsage, std::string(devvm::device_kind_name(d.kind)) +
								 ": not with " +
								 (o.trace.empty() ? "--attach" : "--trace"));
				return false;
			}
		}
		return true;
	}

	bool check_inputs()
	{
		for (const auto &f : {o.kernel, o.initrd}) {
			if (access(f.c_str(), R_OK) != 0) {
				outcome.fail(kExitUsage, f + ": " + strerror(errno));
				return false;
			}
		}
		if (o.qemu.find('/') != std::string::npos && access(o.qemu.c_str(), X_OK) != 0) {
			outcome.fail(kExitUsage, "QEMU " + o.qemu + ": " + strerror(errno) +
							 " (set --qemu or VSST_QEMU)");
			return false;
		}
		if (o.guest_qemu != o.qemu && o.guest_qemu.find('/') != std::string::npos &&
		    access(o.guest_qemu.c_str(), X_OK) != 0) {
			outcome.fail(kExitUsage, "guest QEMU " + o.guest_qemu + ": " + strerror(errno) +
							 " (build it: ./vsst qemu --arch " +
							 arch_info(o.arch).name + ", or set --guest-qemu)");
			return false;
		}
		if (!o.console.empty()) {
			UniqueFd file(open(o.console.c_str(),
					   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
			if (!file) {
				outcome.fail(kExitUsage, "--console " + o.console + ": " + strerror(errno));
				return false;
			}
			console.set_output(std::move(file), o.quiet_console);
		} else {
			console.set_output(UniqueFd(), o.quiet_console);
		}
		// x86's COMMAND_LINE_SIZE; a longer line is cut by the kernel, silently.
		constexpr size_t kMaxKernelCmdline = 2047;
		if (const size_t len = kernel_cmdline(o).size(); len > kMaxKernelCmdline) {
			outcome.fail(
				kExitUsage,
				"the kernel command line would be " + std::to_string(len) + " bytes (max " +
					std::to_string(kMaxKernelCmdline) + ")" +
					(o.guest_command.empty()
						 ? std::string()
						 : ": the command is too long; put it in a script in the "
						   "shared folder"));
			return false;
		}
		if (!o.guest_command.empty())
			console.set_command_mode();
		if (!check_sockets())
			return false;
		if (!o.trace.empty() && (o.monolithic || !o.attach.empty())) {
			outcome.fail(
				kExitUsage,
				std::string("--trace records in a device VM the launcher starts; not with ") +
					(o.monolithic
						 ? "--monolithic"
						 : "--attach (give the device VM -accel rpc,...,trace=FILE yourself)"));
			return false;
		}
		if (!o.monolithic && geteuid() == 0 && !o.run_as.empty()) {
			std::string why;
			if (o.run_as != "auto" && !ids.use_named(o.run_as, why)) {
				outcome.fail(kExitUsage, "--run-as: " + why);
				return false;
			}
		}
		if (!check_shares())
			return false;
		if (!o.monolithic && geteuid() == 0 && o.run_as == "auto" && !o.dry_run) {
			// The guest VM and each device VM the launcher starts.
			const size_t count = 1 + (o.attach.empty() ? DeviceVms::count(o) : 0);
			std::string why;
			if (!ids.take_distinct(count, o.id_range, kIdLockDir, why)) {
				outcome.fail(kExitUsage, "--run-as auto: " + why);
				return false;
			}
		}
		for (size_t i = 0; i < o.devices.size(); i++) {
			const auto &d = o.devices[i];
			const auto user = ids.device_vm(DeviceVms::serving(o, i));
			std::string why;
			if (user && d.kind == DeviceKind::Sst && !socket_usable_by(d.sim, *user, why)) {
				outcome.fail(kExitUsage,
					     "the device VM runs as " + user->name +
						     " and could not reach the simulator: " + why +
						     " (start sst-sim with umask 000 in a searchable "
						     "directory, or pass --run-as '')");
				return false;
			}
		}
		return true;
	}

	// The shared directories exist and are directories; the combinations that cannot
	// carry a virtio-9p are refused.
	bool check_shares()
	{
		for (const auto &d : o.devices) {
			if (d.kind != DeviceKind::NineP)
				continue;
			if (o.monolithic) {
				outcome.fail(
					kExitUsage,
					"virtio-9p (--share) lives in the device VM; not with --monolithic");
				return false;
			}
			if (!o.trace.empty()) {
				outcome.fail(
					kExitUsage,
					"--trace does not record a virtio-9p (--share); run without one of them");
				return false;
			}
			if (!o.attach.empty()) {
				outcome.fail(kExitUsage,
					     "virtio-9p (--share) needs a device VM the launcher starts (the "
					     "directory is passed as a descriptor); not with --attach");
				return false;
			}
			std::string why = check_share_dir(d.file);
			if (!why.empty()) {
				outcome.fail(kExitUsage, (o.share_mode.empty() ? "" : "--share: ") + why);
				return false;
			}
		}
		return true;
	}

	// Gives the device VM's user what each share needs for the run (share_access.h).
	bool grant_shares()
	{
		const ShareOwner owner = share_owner();
		for (size_t i = 0; i < o.devices.size(); i++) {
			const auto &d = o.devices[i];
			if (d.kind != DeviceKind::NineP)
				continue;
			// Not root: the device VM runs as this user; as root with --run-as '': as root.
			const auto user = ids.device_vm(DeviceVms::serving(o, i));
			const Credentials device = user ? *user : Credentials{geteuid(), getegid(), ""};
			auto access = std::make_unique<ShareAccess>();
			std::string error;
			if (!access->grant(d.file, d.readonly, device, owner, error)) {
				outcome.fail(kExitUsage, error);
				return false;
			}
			spdlog::info(
				"share {} ({}): {} entr{} granted, {} lent to {}; files the guest creates go to "
				"uid {} ({})",
				d.file, d.readonly ? "read-only" : "read-write", access->report().granted,
				access->report().granted == 1 ? "y" : "ies", access->report().lent,
				device.name.empty() ? std::to_string(device.uid) : device.name, owner.uid,
				owner.source);
			shares.push_back(std::move(access));
		}
		return true;
	}

	void restore_shares()
	{
		for (auto it = shares.rbegin(); it != shares.rend(); ++it) {
			const ShareAccess::Report r = (*it)->restore();
			if (r.failed)
				spdlog::warn("share {}: {} entr{} not restored; first: {}", (*it)->dir(),
					     r.failed, r.failed == 1 ? "y" : "ies", r.first_error);
			else if (r.granted || r.lent || r.handed)
				spdlog::info(
					"share {}: {} entr{} restored, {} new entr{} handed to the owner",
					(*it)->dir(), r.restored, r.restored == 1 ? "y" : "ies", r.handed,
					r.handed == 1 ? "y" : "ies");
		}
		shares.clear();
	}

	int finish()
	{
		std::string &reason = outcome.reason;
		int &status = outcome.status;
		const GuestResults &results = console.results();
		if (reason.empty()) {
			if (o.dry_run) {
				status = kExitPass;
				reason = "dry run";
			} else {
				status = results.passed() ? kExitPass : kExitWorkloadFail;
				reason = (stopped_after_summary
						  ? "guest stopped: no power-off within " +
							    std::to_string(kPoweroffAfterSummaryS) +
							    " s of announcing it; "
						  : std::string("guest powered off; ")) +
					 results.describe();
			}
		} else if (results.summary()) {
			reason += " (" + results.describe() + ")";
		}
		const std::string &channel_dead = console.channel_dead();
		if (!channel_dead.empty() && (status == kExitPass || status == kExitWorkloadFail)) {
			reason = "the guest side declared a device VM channel dead (" + channel_dead + "); " +
				 reason;
			status = kExitDied;
		}
		if (o.interactive && (status == kExitPass || status == kExitWorkloadFail) && !o.dry_run &&
		    o.guest_command.empty()) {
			// A session has no verdict: it ended by the escape key or the guest's power-off.
			const bool escaped = guest.input() && guest.input()->escaped();
			status = kExitPass;
			reason = escaped ? "session ended with the escape key"
					 : "session ended: guest powered off";
		}
		if (!o.guest_command.empty() && !o.dry_run)
			command_status(status, reason);
		const bool command_ran = console.command() && console.command()->ended() &&
					 reason.rfind("guest command exited", 0) == 0;
		if (status == kExitPass || command_ran)
			spdlog::info("{}; exit {}", reason, status);
		else
			spdlog::error("{}; exit {}", reason, status);
		write_record();
		return status;
	}

	// -- CMD: the command's exit status when it ran to its end and nothing in the stack
	// failed first; otherwise 125 (the reason says what failed).
	void command_status(int &status, std::string &reason)
	{
		if (status == kExitInterrupted)
			return; // Ctrl-C is the user's, whatever ran
		const auto &cmd = console.command();
		const std::optional<int> rc = cmd ? cmd->exit_status() : std::nullopt;
		const bool stack_failed = status != kExitPass && status != kExitWorkloadFail;
		if (rc && !stack_failed) {
			status = *rc;
			reason = "guest command exited " + std::to_string(*rc);
			return;
		}
		if (!stack_failed)
			reason = (cmd && cmd->begun() ? "the guest command did not finish: "
						      : "the guest never started the command: ") +
				 reason;
		status = kExitStackFailed;
	}

	void write_record()
	{
		if (o.report.empty())
			return;
		LaunchRecord r;
		r.argv = o.argv;
		r.argv.insert(r.argv.begin(), "vmm-proxy");
		auto secs = [](Clock::time_point a, Clock::time_point b) {
			return std::chrono::duration<double>(b - a).count();
		};
		const auto &booted = console.booted_at();
		if (t_guest_start) {
			r.setup_s = secs(t_start, *t_guest_start);
			if (booted)
				r.boot_s = secs(*t_guest_start, *booted);
		}
		if (booted && t_guest_end)
			r.run_s = secs(*booted, *t_guest_end);
		if (t_guest_end && t_end)
			r.teardown_s = secs(*t_guest_end, *t_end);
		if (guest.process().pid() > 0)
			r.processes.push_back({"guest VM", guest.process().pid(),
					       guest_user() ? guest_user()->name : current_user(),
					       guest.argv()});
		for (auto &vm : device_vms.all())
			if (vm->proc().pid() > 0) {
				const auto user = ids.device_vm(vm->number);
				r.processes.push_back({vm->name, vm->proc().pid(),
						       user ? user->name : current_user(),
						       vm->vm.command_line()});
			}
		r.booted = console.guest_booted();
		r.results = console.results().results();
		r.command = o.guest_command;
		if (console.command())
			r.command_exit = console.command()->exit_status();
		r.exit_status = outcome.status;
		r.exit_reason = outcome.reason;
		std::string error;
		if (!write_launch_record(o.report, r, error))
			spdlog::error("--report: {}", error);
	}

	// The guest QEMU faces the guest kernel: as root it drops to an id of its own (or
	// the --run-as user) and runs sandboxed like the device VMs. Not with KVM
	// (/dev/kvm is not that user's) and not for the monolithic baseline (its devices
	// reach host files and sockets by path).
	std::optional<Credentials> guest_user() const
	{
		if (use_kvm || o.monolithic)
			return std::nullopt;
		return ids.guest_vm();
	}

	static std::string current_user()
	{
		if (const passwd *pw = getpwuid(geteuid()))
			return pw->pw_name;
		return std::to_string(geteuid());
	}

	int run()
	{
		if (!signals.block()) {
			outcome.fail(kExitDied, "cannot set up signal handling");
			return finish();
		}
		if (check_inputs() && decide_engine()) {
			bool ok = true;
			if (o.dry_run && !o.monolithic) {
				// The command lines with placeholder descriptors (a real run passes its own
				// numbers).
				std::vector<GuestChannel> channels = device_vms.print_dry_run();
				spdlog::info(
					"guest VM: {}",
					shell_quote(
						guest_vm_argv(o, use_kvm, device_vms.ram(), channels).args));
			} else if (!o.monolithic) {
				ok = grant_shares() &&
				     device_vms.start([this] { return signals.drain() != 0; });
			}
			if (ok && !o.dry_run && o.interactive) {
				std::string error;
				if (!terminal.enter(STDIN_FILENO, error)) {
					outcome.fail(kExitUsage, "--interactive: " + error);
					ok = false;
				}
			}
			t_guest_start = Clock::now();
			if (ok && !o.dry_run &&
			    guest.start(o, use_kvm, device_vms, console, outcome, guest_user()))
				stopped_after_summary =
					supervise(o, signals, console, guest, device_vms, outcome);
			else if (ok && o.dry_run && o.monolithic)
				guest.start(o, use_kvm, device_vms, console, outcome);
			t_guest_end = Clock::now();
		}
		teardown(guest, device_vms, console);
		if (!device_vms.recovery_ms.empty()) {
			auto r = device_vms.recovery_ms;
			std::sort(r.begin(), r.end());
			spdlog::info("device VM restarts: {}; the guest waited p50 {:.0f} ms, max {:.0f} ms "
				     "(death -> running on the new device VM)",
				     r.size(), r[(r.size() - 1) / 2], r.back());
		}
		terminal.restore();
		// After the device VMs are gone: nothing writes into a share any more.
		restore_shares();
		t_end = Clock::now();
		return finish();
	}
};

Launcher::Launcher(Options options) : impl_(std::make_unique<Impl>(std::move(options)))
{
}
Launcher::~Launcher() = default;
int Launcher::run()
{
	return impl_->run();
}

} // namespace vsst
