// SPDX-License-Identifier: Apache-2.0
#include "guest_vm.h"

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

#include "qemu_cmdline.h"

namespace vsst {

bool GuestVm::start(const Options &opts, bool use_kvm, DeviceVms &device_vms, Console &console,
		    Outcome &outcome, const std::optional<Credentials> &user)
{
	Options dropped;
	if (user) {
		// The unprivileged QEMU may not reach the files' folders (e.g. under /root):
		// it reads them through descriptors the launcher opened.
		dropped = opts;
		for (std::string *path : {&dropped.kernel, &dropped.initrd}) {
			UniqueFd f(open(path->c_str(), O_RDONLY | O_CLOEXEC));
			if (!f) {
				outcome.fail(kExitUsage, *path + ": " + strerror(errno));
				return false;
			}
			*path = "/proc/self/fd/" + std::to_string(f.get());
			boot_files_.push_back(std::move(f));
		}
	}
	const Options &o = user ? dropped : opts;
	Argv argv;
	if (o.monolithic) {
		std::vector<const DeviceSpec *> all;
		std::vector<int> fds, ro_fds;
		for (const auto &d : o.devices)
			all.push_back(&d);
		if (!open_blk_images(all, blk_files_, fds, ro_fds, outcome))
			return false;
		std::vector<devvm::SocketFd> sockets;
		if (o.dry_run) {
			// Placeholders, as for the device VM's dry run: nothing is bound.
			for (const DeviceSpec *d : all)
				if (d->kind == DeviceKind::Net || d->kind == DeviceKind::Console)
					sockets.push_back({-1, true});
		} else if (!sockets_.open(all, sockets, outcome)) {
			return false;
		}
		argv = monolithic_argv(o, use_kvm, fds, sockets, ro_fds);
	} else {
		argv = guest_vm_argv(o, use_kvm, device_vms.ram(), device_vms.guest_channels());
	}
	if (user) {
		for (const UniqueFd &f : boot_files_)
			argv.inherit.push_back(f.get());
		add_guest_sandbox(argv);
	}
	spdlog::info("guest VM: {}", shell_quote(argv.args));
	argv_ = argv.args;
	if (o.dry_run)
		return true;
	std::string error;
	Stream *err_stream = nullptr;
	UniqueFd con_wr = console.pipe("guest console", true, nullptr, error);
	UniqueFd err_wr = con_wr ? console.pipe("guest VM", false, &err_stream, error) : UniqueFd();
	if (!con_wr || !err_wr) {
		outcome.fail(kExitDied, error);
		return false;
	}
	console.set_guest_errors(err_stream);
	// --interactive: QEMU's stdio chardev reads the console input from a pipe the
	// launcher fills from its terminal (QEMU never touches the terminal itself).
	UniqueFd in_rd;
	if (o.interactive) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0) {
			outcome.fail(kExitDied, std::string("pipe: ") + strerror(errno));
			return false;
		}
		in_rd.reset(p[0]);
		input_.emplace(STDIN_FILENO, UniqueFd(p[1]));
	}
	SpawnSpec spec;
	spec.name = "guest VM";
	spec.argv = argv.args;
	spec.inherit_fds = argv.inherit;
	spec.stdout_fd = con_wr.get();
	spec.stderr_fd = err_wr.get();
	spec.stdin_fd = in_rd ? in_rd.get() : -1;
	spec.run_as = user;
	spec.confine = true; // it faces the guest kernel: keep it away from other processes
	if (!proc_.spawn(spec, error)) {
		outcome.fail(kExitDied, error);
		return false;
	}
	spdlog::info("guest VM: started, pid {}", proc_.pid());
	return true;
}

} // namespace vsst
