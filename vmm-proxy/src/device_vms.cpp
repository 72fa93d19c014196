// SPDX-License-Identifier: Apache-2.0
// Handshake ownership: the launcher attaches to each channel as the proxy, sends HELLO,
// collects REGISTER_PCI_DEV and waits for START_VM, then closes its endpoint and hands
// the channel to the guest QEMU, which re-attaches (ring indices live in the shared
// region, so nothing is lost in between) and consumes every later event. The launcher
// needs the registered device indices to write the guest's -device lines.
#include "device_vms.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "vsst/posix/unix_socket.h"
#include "vsst/rpc_restart.h"

namespace vsst {

using Clock = std::chrono::steady_clock;

bool open_blk_images(const std::vector<const DeviceSpec *> &devices, std::vector<UniqueFd> &out,
		     std::vector<int> &fds, std::vector<int> &ro_fds, Outcome &outcome)
{
	for (const DeviceSpec *d : devices) {
		if (d->kind != DeviceKind::Blk)
			continue;
		UniqueFd f(open(d->file.c_str(), (d->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC));
		if (!f) {
			outcome.fail(kExitUsage, "virtio-blk image " + d->file + ": " + strerror(errno));
			return false;
		}
		fds.push_back(f.get());
		out.push_back(std::move(f));
		if (d->readonly) {
			ro_fds.push_back(-1);
			continue;
		}
		UniqueFd ro(open(d->file.c_str(), O_RDONLY | O_CLOEXEC));
		if (!ro) {
			outcome.fail(kExitUsage, "virtio-blk image " + d->file + ": " + strerror(errno));
			return false;
		}
		ro_fds.push_back(ro.get());
		out.push_back(std::move(ro));
	}
	return true;
}

bool open_share_dirs(const std::vector<const DeviceSpec *> &devices, std::vector<UniqueFd> &out,
		     std::vector<int> &fds, Outcome &outcome)
{
	for (const DeviceSpec *d : devices) {
		if (d->kind != DeviceKind::NineP)
			continue;
		// O_NOFOLLOW is not wanted: a share given as a symlink to a directory is
		// fine; what the device VM gets is the directory itself.
		UniqueFd f(open(d->file.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
		if (!f) {
			outcome.fail(kExitUsage, "shared directory " + d->file + ": " + strerror(errno));
			return false;
		}
		fds.push_back(f.get());
		out.push_back(std::move(f));
	}
	return true;
}

size_t DeviceVms::count(const Options &o)
{
	return o.isolate == Isolation::PerDevice ? o.devices.size() : 1;
}

size_t DeviceVms::serving(const Options &o, size_t device)
{
	return o.isolate == Isolation::PerDevice ? device : 0;
}

void DeviceVms::plan()
{
	vms_.clear();
	if (o_.isolate == Isolation::PerDevice) {
		for (size_t i = 0; i < o_.devices.size(); i++) {
			auto vm = std::make_unique<HostedDeviceVm>();
			vm->number = i;
			vm->name = "device VM " + std::to_string(i) + " (" +
				   devvm::device_kind_name(o_.devices[i].kind) + ")";
			vm->devices.push_back(&o_.devices[i]);
			vms_.push_back(std::move(vm));
		}
		return;
	}
	auto vm = std::make_unique<HostedDeviceVm>();
	vm->name = "device VM";
	for (const auto &d : o_.devices)
		vm->devices.push_back(&d);
	vms_.push_back(std::move(vm));
}

bool DeviceVms::start(const std::function<bool()> &interrupted)
{
	std::string error;
	ram_ = GuestRam::create(o_.memory_bytes, guest_ram_layout(o_.arch, o_.memory_bytes), error);
	if (!ram_.valid()) {
		out().fail(kExitDied, "guest RAM: " + error);
		return false;
	}
	plan();
	for (auto &vm : vms_) {
		vm->channel = devvm::Channel::create(error, 0, static_cast<uint32_t>(o_.rpc_spin_us));
		if (!vm->channel.valid()) {
			out().fail(kExitDied, vm->name + ": " + error);
			return false;
		}
		if (o_.restart > 0 && !open_restart(*vm))
			return false;
		if (!(o_.attach.empty() ? spawn(*vm) : attach(*vm, interrupted)))
			return false;
	}
	for (auto &vm : vms_)
		if (!handshake(*vm))
			return false;
	return true;
}

// --restart: the guest QEMU's restart socket and the inflight records, both kept for
// every incarnation of this device VM.
bool DeviceVms::open_restart(HostedDeviceVm &vm)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		out().fail(kExitDied, std::string("socketpair: ") + strerror(errno));
		return false;
	}
	vm.restart_sock.reset(sv[0]);
	vm.restart_guest_end.reset(sv[1]);
	vm.inflight.reset(memfd_create("vsst-inflight", MFD_CLOEXEC));
	if (!vm.inflight) {
		out().fail(kExitDied, std::string("memfd_create: ") + strerror(errno));
		return false;
	}
	return true;
}

bool DeviceVms::restart(HostedDeviceVm &vm, const std::string &why, const std::function<bool()> &interrupted)
{
	const auto now = Clock::now();
	const auto window = std::chrono::seconds(o_.restart_window_s);
	std::erase_if(vm.restarts, [&](auto t) { return now - t >= window; });
	if (!vm.down_since)
		vm.down_since = now;
	std::string last = why;
	for (;;) {
		if (vm.restarts.size() >= static_cast<size_t>(o_.restart)) {
			gave_up_reason = vm.name + ": " + std::to_string(vm.restarts.size()) +
					 " restart(s) within " + std::to_string(o_.restart_window_s) +
					 " s, giving up; last: " + last;
			vsst_restart_msg m{};
			m.type = VSST_RESTART_GIVE_UP;
			snprintf(m.text, sizeof m.text, "%s", gave_up_reason.c_str());
			send_with_fds(vm.restart_sock.get(), &m, sizeof m, nullptr, 0);
			spdlog::error("{}", gave_up_reason);
			return false;
		}
		vm.restarts.push_back(Clock::now());
		vm.incarnation++;
		spdlog::warn("{}: {}; starting a new one ({} of {} within {} s)", vm.name, why,
			     vm.restarts.size(), o_.restart, o_.restart_window_s);
		if (vm.proc().running())
			vm.proc().terminate(std::chrono::milliseconds(1000));
		// What one incarnation owned; guest RAM, the inflight records and the restart
		// socket stay.
		vm.vm = devvm::DeviceVm();
		vm.alive_rd.reset();
		vm.blk_files.clear();
		vm.share_dirs.clear();
		vm.registered.clear();
		vm.expected_exit = false;
		vm.clean_exit_seen.reset();
		Outcome attempt;
		sink_ = &attempt;
		interrupted_ = interrupted;
		std::string error;
		vm.channel = devvm::Channel::create(error, 0, static_cast<uint32_t>(o_.rpc_spin_us));
		bool ok = vm.channel.valid();
		if (!ok)
			attempt.fail(kExitDied, error);
		ok = ok && spawn(vm) && handshake(vm);
		sink_ = &outcome_;
		interrupted_ = nullptr;
		if (ok && vm.registered.size() != vm.devices.size())
			attempt.fail(kExitDied,
				     "the new device VM registered " + std::to_string(vm.registered.size()) +
					     " device(s), not " + std::to_string(vm.devices.size()));
		if (ok && !attempt.failed()) {
			const vsst_rpc_fds f = vm.channel.fds();
			const int fds[VSST_RESTART_CHANNEL_FDS] = {f.region, f.to_device, f.to_proxy,
								   vm.alive_rd.get()};
			vsst_restart_msg m{};
			m.type = VSST_RESTART_CHANNEL;
			if (int e = send_with_fds(vm.restart_sock.get(), &m, sizeof m, fds,
						  VSST_RESTART_CHANNEL_FDS)) {
				gave_up_reason = vm.name + ": cannot hand the new channel to the guest VM: " +
						 strerror(e);
				spdlog::error("{}", gave_up_reason);
				return false;
			}
			vm.handed++;
			spdlog::info("{}: incarnation {} (pid {}) handed to the guest VM", vm.name,
				     vm.incarnation, vm.proc().pid());
			return true;
		}
		if (attempt.status == kExitInterrupted) {
			gave_up_reason = "interrupted while a new device VM started";
			return false;
		}
		spdlog::warn("{}: the new device VM did not come up: {}", vm.name, attempt.reason);
		last = "a new device VM did not come up: " + attempt.reason;
	}
}

void DeviceVms::poll_restart_messages()
{
	for (auto &vm : vms_) {
		if (!vm->restart_sock)
			continue;
		vsst_restart_msg m{};
		ssize_t n;
		while ((n = recv(vm->restart_sock.get(), &m, sizeof m, MSG_DONTWAIT)) > 0) {
			m.text[sizeof m.text - 1] = 0;
			if (m.generation != vm->handed) {
				spdlog::debug("{}: ignoring a message about generation {} (now {}): {}",
					      vm->name, m.generation, vm->handed, m.text);
				continue;
			}
			if (m.type == VSST_RESTART_DOWN) {
				spdlog::warn("{}: the guest VM lost its channel: {}", vm->name, m.text);
				if (!vm->down_since)
					vm->down_since = Clock::now();
				// Alive but useless (poisoned, silent): its death starts the restart.
				if (vm->proc().running())
					vm->proc().signal(SIGKILL);
			} else if (m.type == VSST_RESTART_UP) {
				double ms = vm->down_since ? std::chrono::duration<double, std::milli>(
								     Clock::now() - *vm->down_since)
								     .count()
							   : 0.0;
				vm->down_since.reset();
				recovery_ms.push_back(ms);
				spdlog::info("{}: the guest runs on incarnation {} again, {:.0f} ms after "
					     "the death ({})",
					     vm->name, vm->incarnation, ms, m.text);
			}
		}
	}
}

bool DeviceVms::spawn(HostedDeviceVm &vm)
{
	int ap[2];
	if (pipe2(ap, O_CLOEXEC) < 0) {
		out().fail(kExitDied, std::string("pipe: ") + strerror(errno));
		return false;
	}
	vm.alive_rd.reset(ap[0]);
	UniqueFd alive_wr(ap[1]);
	DeviceVmPlan plan;
	plan.devices = vm.devices;
	plan.inflight_fd = vm.inflight.get();
	if (!open_blk_images(vm.devices, vm.blk_files, plan.blk_fds, plan.blk_ro_fds, out()))
		return false;
	if (!open_share_dirs(vm.devices, vm.share_dirs, plan.share_fds, out()))
		return false;
	if (!vm.sockets.open(vm.devices, plan.socket_fds, out()))
		return false;
	if (!o_.trace.empty() && !open_trace(vm, plan))
		return false;
	std::string error;
	UniqueFd err_wr = console_.pipe(vm.name, false, &vm.err, error);
	if (!err_wr) {
		out().fail(kExitDied, error);
		return false;
	}
	DeviceVmCommand cmd = device_vm_command(o_, plan, ram_.size());
	devvm::DeviceVmSpec spec;
	spec.name = vm.name;
	spec.command = std::move(cmd.args);
	spec.inherit = std::move(cmd.inherit);
	spec.inherit.push_back(alive_wr.get());
	spec.stdout_fd = err_wr.get();
	spec.stderr_fd = err_wr.get();
	spec.run_as = ids_.device_vm(vm.number);
	const bool ok = vm.vm.start(spec, vm.channel.fds(), ram_.fd(), ram_.layout(), error);
	spdlog::info("{}: {}", vm.name, shell_quote(vm.vm.command_line()));
	if (!ok) {
		// A device VM that exits at once makes the hand-over fail (EPIPE): its exit
		// and last words are the reason, not the broken pipe.
		if (vm.proc().pid() > 0 && vm.proc().wait(std::chrono::seconds(1)))
			out().fail(kExitDied, died_reason(vm) + " before START_VM");
		else
			out().fail(kExitDied, error);
		return false;
	}
	spdlog::info("{}: started, pid {}{}", vm.name, vm.proc().pid(),
		     spec.run_as ? " as " + spec.run_as->name : "");
	return true;
}

// --trace: the launcher creates the file (the device VM may run as nobody in a
// sandbox) and passes it with the device template as descriptors.
bool DeviceVms::open_trace(HostedDeviceVm &vm, DeviceVmPlan &plan)
{
	vm.trace_path = trace_path(o_.trace, vm.number, vms_.size());
	// O_NOFOLLOW: run as root, a symlink planted at the path must not redirect the write.
	vm.trace_file.reset(
		open(vm.trace_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
	if (!vm.trace_file) {
		out().fail(kExitUsage, "--trace " + vm.trace_path + ": " + strerror(errno));
		return false;
	}
	for (int fd : plan.blk_fds) {
		vm.trace_images.emplace_back(fcntl(fd, F_DUPFD_CLOEXEC, 3));
		if (!vm.trace_images.back()) {
			out().fail(kExitDied, std::string("--trace: dup: ") + strerror(errno));
			return false;
		}
		plan.trace_image_fds.push_back(vm.trace_images.back().get());
	}
	const std::string text = trace_template(plan);
	vm.trace_args.reset(memfd_create("vsst-trace-args", MFD_CLOEXEC));
	bool ok = vm.trace_args.valid();
	for (size_t off = 0; ok && off < text.size();) {
		ssize_t w = write(vm.trace_args.get(), text.data() + off, text.size() - off);
		if (w < 0 && errno == EINTR)
			continue;
		ok = w > 0;
		off += ok ? static_cast<size_t>(w) : 0;
	}
	if (!ok) {
		out().fail(kExitDied,
			   std::string("--trace: writing the device template: ") + strerror(errno));
		return false;
	}
	plan.trace_fd = vm.trace_file.get();
	plan.trace_args_fd = vm.trace_args.get();
	spdlog::info("{}: recording the RPC trace into {}", vm.name, vm.trace_path);
	return true;
}

// --attach PATH: a device VM started by hand with -accel rpc,control=PATH connects
// here; the socket exists only until it has.
bool DeviceVms::attach(HostedDeviceVm &vm, const std::function<bool()> &interrupted)
{
	if (o_.attach.size() >= sizeof(sockaddr_un::sun_path)) {
		out().fail(kExitUsage, "--attach: socket path too long");
		return false;
	}
	std::string error;
	// The socket is born 0600 (no window in which anyone may connect), then handed to
	// the user the device VM runs as; whoever connects receives guest RAM, so the peer's
	// credentials are checked as well.
	const mode_t old_mask = umask(0177);
	UniqueFd ls = listen_unix(o_.attach, error);
	umask(old_mask);
	if (!ls) {
		out().fail(kExitDied, "--attach " + error);
		return false;
	}
	// Only a named --run-as user may attach besides root (a device VM started by
	// hand cannot know an id --run-as auto would pick).
	const std::optional<Credentials> &user_ = ids_.named();
	if (user_ && chown(o_.attach.c_str(), user_->uid, user_->gid) < 0) {
		out().fail(kExitDied, "--attach " + o_.attach + ": chown: " + strerror(errno));
		unlink(o_.attach.c_str());
		return false;
	}
	auto allowed = [&](uid_t uid) {
		return uid == 0 || uid == geteuid() || (user_ && uid == user_->uid);
	};
	spdlog::info("{}: waiting up to {} s for a device VM started with -accel rpc,control={}", vm.name,
		     o_.start_timeout_s, o_.attach);
	bool stopped = false;
	const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o_.start_timeout_s);
	UniqueFd conn;
	while (!stopped && std::chrono::steady_clock::now() < deadline) {
		conn = accept_within(ls.get(),
				     std::chrono::ceil<std::chrono::milliseconds>(
					     deadline - std::chrono::steady_clock::now()),
				     [&] { return stopped = interrupted(); });
		if (!conn)
			break;
		const auto peer = peer_credentials(conn.get());
		if (peer && allowed(peer->uid))
			break;
		spdlog::warn("{}: refused a connection to {} from uid {} (pid {}): only root{} may attach",
			     vm.name, o_.attach, peer ? std::to_string(peer->uid) : "?",
			     peer ? std::to_string(peer->pid) : "?", user_ ? " and " + user_->name : "");
		conn.reset();
	}
	unlink(o_.attach.c_str());
	if (stopped) {
		out().fail(kExitInterrupted, "interrupted while waiting for the device VM");
		return false;
	}
	if (!conn) {
		out().fail(kExitDied, "no device VM connected to " + o_.attach + " within " +
					      std::to_string(o_.start_timeout_s) + " s");
		return false;
	}
	spdlog::info("{}: connected through {}", vm.name, o_.attach);
	if (!devvm::send_setup(conn.get(), vm.channel.fds(), ram_.fd(), ram_.layout(), error)) {
		out().fail(kExitDied, vm.name + ": " + error);
		return false;
	}
	return true;
}

std::string DeviceVms::died_reason(HostedDeviceVm &vm)
{
	console_.pump_all();
	std::string why = vm.name + " (pid " + std::to_string(vm.proc().pid()) + ") " +
			  vm.proc().exit_info()->describe();
	if (vm.err && !vm.err->tail.empty())
		why += ": " + join_tail(vm.err->tail, 3);
	return why;
}

// HELLO, then REGISTER_PCI_DEV..., until START_VM; bounded; watches the child.
bool DeviceVms::handshake(HostedDeviceVm &vm)
{
	std::string error;
	devvm::ProxyEndpoint ep = devvm::ProxyEndpoint::attach(vm.channel.fds(), error);
	if (!ep) {
		out().fail(kExitDied, vm.name + ": " + error);
		return false;
	}
	devvm::HandshakeOptions opt;
	opt.name = vm.name;
	opt.timeout = std::chrono::seconds(o_.start_timeout_s);
	opt.min_devices = vm.devices.size();
	opt.check = [&]() -> std::optional<std::string> {
		console_.pump_all();
		if (interrupted_ && interrupted_()) {
			out().fail(kExitInterrupted, "interrupted");
			return std::string("interrupted");
		}
		if (vm.proc().pid() > 0 && vm.proc().poll_exit())
			return died_reason(vm) + " before START_VM";
		return std::nullopt;
	};
	opt.on_event = [&](const vsst_rpcmsg &ev) {
		switch (vsst_rpc_mr0_op(ev.mr0)) {
		case VSST_RPC_OP_HELLO:
			spdlog::debug("{}: HELLO, features 0x{:x}", vm.name, ev.mr2);
			break;
		case VSST_RPC_OP_REGISTER_PCI_DEV:
			spdlog::info("{}: device {} registered: {:04x}:{:04x} class {:06x}", vm.name, ev.mr1,
				     (ev.mr2 >> 16) & 0xffff, ev.mr2 & 0xffff, ev.mr3 & 0xffffff);
			break;
		case VSST_RPC_OP_START_VM:
			break;
		default:
			spdlog::warn("{}: ignoring op {} during the handshake", vm.name,
				     vsst_rpc_mr0_op(ev.mr0));
			break;
		}
	};
	devvm::HandshakeResult r = devvm::handshake(ep.get(), opt);
	if (!r) {
		std::string why = r.error;
		if (r.failure == devvm::HandshakeFailure::Timeout && vm.err && !vm.err->tail.empty())
			why += ": " + join_tail(vm.err->tail, 3);
		out().fail(kExitDied, why);
		return false;
	}
	vm.registered = std::move(r.devices);
	spdlog::info("{}: START_VM, {} device(s)", vm.name, vm.registered.size());
	return true;
}

std::vector<GuestChannel> DeviceVms::guest_channels() const
{
	std::vector<GuestChannel> channels;
	for (auto &vm : vms_) {
		const vsst_rpc_fds fds = vm->channel.fds();
		GuestChannel c;
		c.region = fds.region;
		c.to_device = fds.to_device;
		c.to_proxy = fds.to_proxy;
		c.peer_fd = vm->alive_rd.get(); // -1 when attached: no liveness pipe
		c.restart_fd = vm->restart_guest_end.get();
		for (const auto &r : vm->registered)
			c.indices.push_back(r.index);
		channels.push_back(c);
	}
	return channels;
}

std::vector<GuestChannel> DeviceVms::print_dry_run()
{
	plan();
	std::vector<GuestChannel> channels;
	int next_fd = 10;
	for (auto &vm : vms_) {
		DeviceVmPlan plan;
		plan.devices = vm->devices;
		plan.setup_fd = next_fd++;
		for (const auto *d : vm->devices)
			if (d->kind == DeviceKind::Blk) {
				plan.blk_fds.push_back(next_fd++);
				plan.blk_ro_fds.push_back(d->readonly ? -1 : next_fd++);
			} else if (d->kind == DeviceKind::NineP)
				plan.share_fds.push_back(next_fd++);
			else if (d->kind == DeviceKind::Net || d->kind == DeviceKind::Console)
				plan.socket_fds.push_back({next_fd++, true});
		if (!o_.trace.empty()) {
			for (size_t i = 0; i < plan.blk_fds.size(); i++)
				plan.trace_image_fds.push_back(next_fd++);
			plan.trace_fd = next_fd++;
			plan.trace_args_fd = next_fd++;
			spdlog::info("{}: trace {}, template: {}", vm->name,
				     trace_path(o_.trace, vm->number, vms_.size()), trace_template(plan));
		}
		spdlog::info("{}: {}", vm->name, shell_quote(device_vm_argv(o_, plan, o_.memory_bytes).args));
		GuestChannel c{next_fd, next_fd + 1, next_fd + 2, plan.setup_fd, {}};
		next_fd += 3;
		for (unsigned i = 0; i < vm->devices.size(); i++)
			c.indices.push_back(i);
		channels.push_back(c);
	}
	std::string error;
	ram_ = GuestRam::create(o_.memory_bytes, guest_ram_layout(o_.arch, o_.memory_bytes), error);
	return channels;
}

void DeviceVms::stop(bool guest_ran)
{
	// A guest QEMU that exits sends STOP: give the device VMs a moment (2 s) to end cleanly.
	auto settle = Clock::now() + std::chrono::milliseconds(guest_ran ? 2000 : 0);
	for (bool any = true; any && Clock::now() < settle;) {
		any = false;
		for (auto &vm : vms_)
			any |= vm->proc().pid() > 0 && !vm->proc().poll_exit();
		if (any)
			std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
	for (auto &vm : vms_) {
		if (vm->proc().exit_info() && !vm->expected_exit)
			spdlog::info("{}: {}", vm->name, vm->proc().exit_info()->describe());
		vm->expected_exit = true;
		if (vm->proc().running())
			vm->proc().terminate(std::chrono::milliseconds(2000));
	}
}

void DeviceVms::report_traces()
{
	for (auto &vm : vms_) {
		struct stat st;
		if (!vm->trace_path.empty() && stat(vm->trace_path.c_str(), &st) == 0)
			spdlog::info("{}: trace {} ({} bytes)", vm->name, vm->trace_path, st.st_size);
	}
}

} // namespace vsst
