// SPDX-License-Identifier: Apache-2.0
// The run, in order: engine choice, guest RAM, per device VM a channel + setup socket +
// process + handshake (HELLO ... START_VM), then the guest VM, then supervision until the
// guest powers off, a child dies, a signal or the time bound; then teardown.
//
// Handshake ownership: the launcher attaches to each channel as the proxy, sends HELLO,
// collects REGISTER_PCI_DEV and waits for START_VM, then closes its endpoint and hands
// the channel to the guest QEMU, which re-attaches (ring indices live in the shared
// region, so nothing is lost in between) and consumes every later event. The launcher
// needs the registered device indices to write the guest's -device lines.
#include "launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"
#include "guest_ram.h"
#include "guest_results.h"
#include "kvm_probe.h"
#include "qemu_cmdline.h"
#include "vsst/posix/unique_fd.h"
#include "vsst/rpc.h"

namespace vsst {

namespace {

using Clock = std::chrono::steady_clock;

const char *device_kind_name(DeviceKind k)
{
	switch (k) {
	case DeviceKind::Sst:
		return "virtio-sst";
	case DeviceKind::Rng:
		return "virtio-rng";
	case DeviceKind::Blk:
		return "virtio-blk";
	}
	return "?";
}

// Owns an attached rpc endpoint.
struct RpcEndpoint {
	vsst_rpc *ch = nullptr;
	~RpcEndpoint() { vsst_rpc_close(ch); }
};

// Output of a child (console or stderr), read line by line.
struct Stream {
	UniqueFd fd;
	std::string who;
	bool console = false;
	LineSplitter lines;
	std::deque<std::string> tail; // last lines, for the reason when it dies
};

struct Registered {
	unsigned index;
	uint32_t ids;   // vendor << 16 | device
	uint32_t klass; // class code
};

struct DeviceVm {
	std::string name;
	std::vector<const DeviceSpec *> devices;
	UniqueFd region, to_device, to_proxy; // the channel
	UniqueFd setup;                       // launcher end of the setup socket
	// Liveness pipe: only the device VM holds the write end, so the read end (given to
	// the guest QEMU as peer-fd) reaches EOF the moment the device VM is gone.
	UniqueFd alive_rd;
	std::vector<UniqueFd> blk_files;
	size_t number = 0;               // position among the device VMs
	std::string trace_path;          // --trace: where this device VM records
	UniqueFd trace_file, trace_args; // handed to the device VM
	std::vector<UniqueFd> trace_images; // image fds for the recorder's fingerprint
	ChildProcess proc;
	Stream *err = nullptr;
	std::vector<Registered> registered;
	bool expected_exit = false;
	std::optional<std::chrono::steady_clock::time_point> clean_exit_seen;
};

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
	for (size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
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

std::string join_tail(const std::deque<std::string> &tail, size_t n)
{
	std::string out;
	size_t start = tail.size() > n ? tail.size() - n : 0;
	for (size_t i = start; i < tail.size(); i++)
		out += (out.empty() ? "" : " | ") + tail[i];
	return out;
}

} // namespace

struct Launcher::Impl {
	Options o;
	std::optional<Credentials> device_user;
	bool use_kvm = false;
	GuestRam ram;
	std::vector<std::unique_ptr<DeviceVm>> vms;
	std::vector<std::unique_ptr<Stream>> streams;
	ChildProcess guest;
	Stream *guest_err = nullptr;
	bool guest_booted = false; // the console showed the guest's /init
	std::vector<UniqueFd> guest_blk_files; // monolithic baseline
	UniqueFd console_file;
	UniqueFd sigfd;
	sigset_t old_mask{};
	GuestResults results;
	std::string reason; // first thing that went wrong, one line
	int status = kExitPass;

	explicit Impl(Options opts) : o(std::move(opts)) {}

	// How long a guest may take to power off after printing its summary.
	static constexpr int kPoweroffAfterSummaryS = 20;
	bool stopped_after_summary = false;
	std::string channel_dead; // the guest QEMU's report, if any
	std::optional<std::chrono::steady_clock::time_point> poweroff_at; // console "VSST-BOOT poweroff"

	void fail(int code, const std::string &why)
	{
		if (reason.empty()) {
			reason = why;
			status = code;
		}
	}

	// ---- streams ----

	Stream *add_stream(UniqueFd fd, std::string who, bool console)
	{
		fcntl(fd.get(), F_SETFL, fcntl(fd.get(), F_GETFL) | O_NONBLOCK);
		auto s = std::make_unique<Stream>();
		s->fd = std::move(fd);
		s->who = std::move(who);
		s->console = console;
		streams.push_back(std::move(s));
		return streams.back().get();
	}

	void on_line(Stream &s, const std::string &line)
	{
		if (s.console) {
			results.add_line(line);
			guest_booted = guest_booted || line.find("VSST-BOOT init") != std::string::npos;
			// /init's last word before poweroff -f (apps print summaries of their own).
			if (!poweroff_at && line.find("VSST-BOOT poweroff") != std::string::npos)
				poweroff_at = Clock::now();
			return;
		}
		s.tail.push_back(line);
		if (s.tail.size() > 20)
			s.tail.pop_front();
		spdlog::info("{}: {}", s.who, line);
		// rpc-channel's error_report when it gives up on a device VM that is
		// alive but silent (or hostile): the run must not end "passed".
		if (&s == guest_err && channel_dead.empty() &&
		    line.find("the channel to the device VM is dead") != std::string::npos)
			channel_dead = line;
	}

	void write_console(const char *buf, size_t n)
	{
		int fd = console_file ? console_file.get() : (o.quiet_console ? -1 : STDOUT_FILENO);
		while (fd >= 0 && n > 0) {
			ssize_t w = write(fd, buf, n);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return; // a closed stdout must not stop the run
			buf += w;
			n -= static_cast<size_t>(w);
		}
	}

	// Reads what is available; returns false at EOF.
	bool pump(Stream &s)
	{
		char buf[8192];
		for (;;) {
			ssize_t n = read(s.fd.get(), buf, sizeof buf);
			if (n > 0) {
				if (s.console)
					write_console(buf, static_cast<size_t>(n));
				s.lines.feed(buf, static_cast<size_t>(n), [&](const std::string &l) { on_line(s, l); });
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				return true;
			s.lines.flush([&](const std::string &l) { on_line(s, l); });
			s.fd.reset();
			return false;
		}
	}

	void pump_all()
	{
		for (auto &s : streams)
			if (s->fd)
				pump(*s);
	}

	// ---- setup ----

	bool setup_signals()
	{
		sigset_t set;
		sigemptyset(&set);
		for (int sig : {SIGCHLD, SIGINT, SIGTERM, SIGHUP})
			sigaddset(&set, sig);
		if (sigprocmask(SIG_BLOCK, &set, &old_mask) < 0)
			return false;
		sigfd.reset(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
		signal(SIGPIPE, SIG_IGN);
		return sigfd.valid();
	}

	bool decide_engine()
	{
		switch (o.accel) {
		case Accel::Tcg:
			use_kvm = false;
			break;
		case Accel::Kvm:
			if (access("/dev/kvm", R_OK | W_OK) != 0) {
				fail(kExitDied, "--accel kvm: /dev/kvm is not usable: " + std::string(strerror(errno)));
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

	bool check_inputs()
	{
		for (const auto &f : {o.kernel, o.initrd}) {
			if (access(f.c_str(), R_OK) != 0) {
				fail(kExitUsage, f + ": " + strerror(errno));
				return false;
			}
		}
		if (o.qemu.find('/') != std::string::npos && access(o.qemu.c_str(), X_OK) != 0) {
			fail(kExitUsage, "QEMU " + o.qemu + ": " + strerror(errno) + " (set --qemu or VSST_QEMU)");
			return false;
		}
		if (!o.console.empty()) {
			console_file.reset(open(o.console.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
			if (!console_file) {
				fail(kExitUsage, "--console " + o.console + ": " + strerror(errno));
				return false;
			}
		}
		if (!o.trace.empty() && (o.monolithic || !o.attach.empty())) {
			fail(kExitUsage, std::string("--trace records in a device VM the launcher starts; not with ") +
						 (o.monolithic ? "--monolithic" : "--attach (give the device VM "
										  "-accel rpc,...,trace=FILE yourself)"));
			return false;
		}
		if (!o.monolithic && geteuid() == 0 && !o.run_as.empty()) {
			device_user = lookup_user(o.run_as);
			if (!device_user) {
				fail(kExitUsage, "--run-as: no user named '" + o.run_as + "'");
				return false;
			}
		}
		if (device_user) {
			for (const auto &d : o.devices) {
				std::string why;
				if (d.kind == DeviceKind::Sst && !socket_usable_by(d.sim, *device_user, why)) {
					fail(kExitUsage, "the device VM runs as " + device_user->name +
								 " and could not reach the simulator: " + why +
								 " (start sst-sim with umask 000 in a searchable "
								 "directory, or pass --run-as '')");
					return false;
				}
			}
		}
		return true;
	}

	bool open_blk_images(const std::vector<const DeviceSpec *> &devices, std::vector<UniqueFd> &out,
			     std::vector<int> &fds)
	{
		for (const DeviceSpec *d : devices) {
			if (d->kind != DeviceKind::Blk)
				continue;
			UniqueFd f(open(d->file.c_str(), (d->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC));
			if (!f) {
				fail(kExitUsage, "virtio-blk image " + d->file + ": " + strerror(errno));
				return false;
			}
			fds.push_back(f.get());
			out.push_back(std::move(f));
		}
		return true;
	}

	// Pipe for a child's output: returns the write end for the child.
	UniqueFd make_output_pipe(const std::string &who, bool console, Stream **stream)
	{
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0) {
			fail(kExitDied, std::string("pipe: ") + strerror(errno));
			return UniqueFd();
		}
		Stream *s = add_stream(UniqueFd(p[0]), who, console);
		if (stream)
			*stream = s;
		return UniqueFd(p[1]);
	}

	void plan_device_vms()
	{
		if (o.isolate == Isolation::PerDevice) {
			for (size_t i = 0; i < o.devices.size(); i++) {
				auto vm = std::make_unique<DeviceVm>();
				vm->number = i;
				vm->name = "device VM " + std::to_string(i) + " (" + device_kind_name(o.devices[i].kind) + ")";
				vm->devices.push_back(&o.devices[i]);
				vms.push_back(std::move(vm));
			}
			return;
		}
		auto vm = std::make_unique<DeviceVm>();
		vm->name = "device VM";
		for (const auto &d : o.devices)
			vm->devices.push_back(&d);
		vms.push_back(std::move(vm));
	}

	bool create_channel(DeviceVm &vm)
	{
		struct vsst_rpc_fds fds{-1, -1, -1};
		struct vsst_rpc_params params{};
		params.spin_us = static_cast<uint32_t>(o.rpc_spin_us);
		char err[256] = "";
		int r = vsst_rpc_create(&params, &fds, err, sizeof err);
		if (r < 0) {
			fail(kExitDied, vm.name + ": creating the RPC channel failed: " + err);
			return false;
		}
		vm.region.reset(fds.region);
		vm.to_device.reset(fds.to_device);
		vm.to_proxy.reset(fds.to_proxy);
		return true;
	}

	struct vsst_ram_layout ram_layout() const
	{
		struct vsst_ram_layout l{};
		for (const auto &r : ram.layout()) {
			auto &out = l.region[l.count++];
			out.gpa = r.gpa;
			out.size = r.size;
			out.fd_offset = r.fd_offset;
			out.fd = ram.fd();
		}
		return l;
	}

	bool send_setup(DeviceVm &vm)
	{
		struct vsst_rpc_fds fds{vm.region.get(), vm.to_device.get(), vm.to_proxy.get()};
		struct vsst_ram_layout layout = ram_layout();
		int r = vsst_setup_send(vm.setup.get(), &fds, &layout);
		if (r < 0) {
			fail(kExitDied, vm.name + ": sending the channel and guest RAM failed: " + strerror(-r));
			return false;
		}
		return true;
	}

	bool spawn_device_vm(DeviceVm &vm)
	{
		int sp[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
			fail(kExitDied, std::string("socketpair: ") + strerror(errno));
			return false;
		}
		vm.setup.reset(sp[0]);
		UniqueFd child_end(sp[1]);
		int ap[2];
		if (pipe2(ap, O_CLOEXEC) < 0) {
			fail(kExitDied, std::string("pipe: ") + strerror(errno));
			return false;
		}
		vm.alive_rd.reset(ap[0]);
		UniqueFd alive_wr(ap[1]);
		DeviceVmPlan plan;
		plan.devices = vm.devices;
		plan.setup_fd = child_end.get();
		if (!open_blk_images(vm.devices, vm.blk_files, plan.blk_fds))
			return false;
		if (!o.trace.empty() && !open_trace(vm, plan))
			return false;
		Argv argv = device_vm_argv(o, plan, ram.size());
		spdlog::info("{}: {}", vm.name, shell_quote(argv.args));
		UniqueFd err_wr = make_output_pipe(vm.name, false, &vm.err);
		if (!err_wr)
			return false;
		SpawnSpec spec;
		spec.name = vm.name;
		spec.argv = argv.args;
		spec.inherit_fds = argv.inherit;
		spec.inherit_fds.push_back(alive_wr.get());
		spec.stdout_fd = err_wr.get();
		spec.stderr_fd = err_wr.get();
		spec.run_as = device_user;
		std::string error;
		if (!vm.proc.spawn(spec, error)) {
			fail(kExitDied, vm.name + ": " + error);
			return false;
		}
		spdlog::info("{}: started, pid {}{}", vm.name, vm.proc.pid(),
			     device_user ? " as " + device_user->name : "");
		return send_setup(vm);
	}

	// --trace: the launcher creates the file (the device VM may run as nobody in a
	// sandbox) and passes it with the device template as descriptors.
	bool open_trace(DeviceVm &vm, DeviceVmPlan &plan)
	{
		vm.trace_path = trace_path(o.trace, vm.number, vms.size());
		vm.trace_file.reset(open(vm.trace_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
		if (!vm.trace_file) {
			fail(kExitUsage, "--trace " + vm.trace_path + ": " + strerror(errno));
			return false;
		}
		for (int fd : plan.blk_fds) {
			vm.trace_images.emplace_back(fcntl(fd, F_DUPFD_CLOEXEC, 3));
			if (!vm.trace_images.back()) {
				fail(kExitDied, std::string("--trace: dup: ") + strerror(errno));
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
			fail(kExitDied, std::string("--trace: writing the device template: ") + strerror(errno));
			return false;
		}
		plan.trace_fd = vm.trace_file.get();
		plan.trace_args_fd = vm.trace_args.get();
		spdlog::info("{}: recording the RPC trace into {}", vm.name, vm.trace_path);
		return true;
	}

	void report_traces()
	{
		for (auto &vm : vms) {
			struct stat st;
			if (!vm->trace_path.empty() && stat(vm->trace_path.c_str(), &st) == 0)
				spdlog::info("{}: trace {} ({} bytes)", vm->name, vm->trace_path, st.st_size);
		}
	}

	// --attach PATH: a device VM started by hand with -accel rpc,control=PATH connects
	// here; the socket exists only until it has.
	bool attach_device_vm(DeviceVm &vm)
	{
		UniqueFd ls(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
		struct sockaddr_un addr{};
		addr.sun_family = AF_UNIX;
		if (o.attach.size() >= sizeof addr.sun_path) {
			fail(kExitUsage, "--attach: socket path too long");
			return false;
		}
		memcpy(addr.sun_path, o.attach.c_str(), o.attach.size());
		if (!ls || bind(ls.get(), reinterpret_cast<sockaddr *>(&addr), sizeof addr) < 0 ||
		    listen(ls.get(), 1) < 0) {
			fail(kExitDied, "--attach " + o.attach + ": " + strerror(errno));
			return false;
		}
		if (device_user)
			chmod(o.attach.c_str(), 0666); // the device VM may run unprivileged
		spdlog::info("{}: waiting up to {} s for a device VM started with -accel rpc,control={}",
			     vm.name, o.start_timeout_s, o.attach);
		pollfd p{ls.get(), POLLIN, 0};
		int r = 0;
		auto deadline = Clock::now() + std::chrono::seconds(o.start_timeout_s);
		while (r == 0 && Clock::now() < deadline) {
			r = poll(&p, 1, 100);
			if (drain_signals()) {
				unlink(o.attach.c_str());
				fail(kExitInterrupted, "interrupted while waiting for the device VM");
				return false;
			}
		}
		UniqueFd conn(r > 0 ? accept4(ls.get(), nullptr, nullptr, SOCK_CLOEXEC) : -1);
		unlink(o.attach.c_str());
		if (!conn) {
			fail(kExitDied, "no device VM connected to " + o.attach + " within " +
						std::to_string(o.start_timeout_s) + " s");
			return false;
		}
		int fl = fcntl(conn.get(), F_GETFL);
		fcntl(conn.get(), F_SETFL, fl & ~O_NONBLOCK);
		vm.setup = std::move(conn);
		spdlog::info("{}: connected through {}", vm.name, o.attach);
		return send_setup(vm);
	}

	std::string died_reason(DeviceVm &vm)
	{
		pump_all();
		std::string why = vm.name + " (pid " + std::to_string(vm.proc.pid()) + ") " +
				  vm.proc.exit_info()->describe();
		if (vm.err && !vm.err->tail.empty())
			why += ": " + join_tail(vm.err->tail, 3);
		return why;
	}

	// HELLO, then REGISTER_PCI_DEV..., until START_VM; bounded; watches the child.
	bool handshake(DeviceVm &vm)
	{
		struct vsst_rpc_fds fds{vm.region.get(), vm.to_device.get(), vm.to_proxy.get()};
		char err[256] = "";
		RpcEndpoint ep;
		ep.ch = vsst_rpc_attach(&fds, VSST_RPC_ROLE_PROXY, err, sizeof err);
		if (!ep.ch) {
			fail(kExitDied, vm.name + ": attaching to the channel failed: " + err);
			return false;
		}
		struct vsst_rpcmsg hello{vsst_rpc_mr0(VSST_RPC_OP_HELLO, 0, 0, 0, 0, 0), VSST_RPC_PROTOCOL_VERSION, 0, 0};
		if (int r = vsst_rpc_proxy_send(ep.ch, &hello, 1000); r < 0) {
			fail(kExitDied, vm.name + ": sending HELLO failed: " + strerror(-r));
			return false;
		}
		auto deadline = Clock::now() + std::chrono::seconds(o.start_timeout_s);
		for (;;) {
			pump_all();
			if (vm.proc.pid() > 0 && vm.proc.poll_exit()) {
				fail(kExitDied, died_reason(vm) + " before START_VM");
				return false;
			}
			if (Clock::now() >= deadline) {
				std::string why = vm.name + " sent no START_VM within " + std::to_string(o.start_timeout_s) +
						  " s (" + std::to_string(vm.registered.size()) + " device(s) registered)";
				if (vm.err && !vm.err->tail.empty())
					why += ": " + join_tail(vm.err->tail, 3);
				fail(kExitDied, why);
				return false;
			}
			struct vsst_rpcmsg ev{};
			int r = vsst_rpc_proxy_wait_event(ep.ch, &ev, 100);
			if (r == -ETIMEDOUT || r == 0)
				continue;
			if (r < 0) {
				fail(kExitDied, vm.name + ": channel failed during the handshake: " +
							(r == -EPIPE ? vsst_rpc_poison_reason(ep.ch) : strerror(-r)));
				return false;
			}
			unsigned op = vsst_rpc_mr0_op(ev.mr0);
			switch (op) {
			case VSST_RPC_OP_HELLO:
				if (ev.mr1 != VSST_RPC_PROTOCOL_VERSION) {
					fail(kExitDied, vm.name + " speaks RPC protocol " + std::to_string(ev.mr1) +
								", this launcher " +
								std::to_string(VSST_RPC_PROTOCOL_VERSION));
					return false;
				}
				spdlog::debug("{}: HELLO, features 0x{:x}", vm.name, ev.mr2);
				break;
			case VSST_RPC_OP_REGISTER_PCI_DEV: {
				if (ev.mr1 >= VSST_RPC_AS_PCI_LIMIT) {
					fail(kExitDied, vm.name + " registered an impossible device index " +
								std::to_string(ev.mr1));
					return false;
				}
				unsigned index = static_cast<unsigned>(ev.mr1);
				for (const auto &r2 : vm.registered)
					if (r2.index == index) {
						fail(kExitDied, vm.name + " registered device index " +
									std::to_string(index) + " twice");
						return false;
					}
				vm.registered.push_back({index, static_cast<uint32_t>(ev.mr2), static_cast<uint32_t>(ev.mr3)});
				spdlog::info("{}: device {} registered: {:04x}:{:04x} class {:06x}", vm.name, index,
					     (ev.mr2 >> 16) & 0xffff, ev.mr2 & 0xffff, ev.mr3 & 0xffffff);
				break;
			}
			case VSST_RPC_OP_START_VM:
				if (vm.registered.size() < vm.devices.size()) {
					fail(kExitDied, vm.name + " is ready with " + std::to_string(vm.registered.size()) +
								" device(s), " + std::to_string(vm.devices.size()) +
								" were asked for");
					return false;
				}
				spdlog::info("{}: START_VM, {} device(s)", vm.name, vm.registered.size());
				return true;
			case VSST_RPC_OP_STOP:
				fail(kExitDied, vm.name + " sent STOP (reason " + std::to_string(ev.mr1) +
							") during the handshake");
				return false;
			default:
				spdlog::warn("{}: ignoring op {} during the handshake", vm.name, op);
				break;
			}
		}
	}

	bool start_device_vms()
	{
		std::string error;
		ram = GuestRam::create(o.memory_bytes, error);
		if (ram.fd() < 0) {
			fail(kExitDied, "guest RAM: " + error);
			return false;
		}
		plan_device_vms();
		for (auto &vm : vms) {
			if (!create_channel(*vm))
				return false;
			if (!(o.attach.empty() ? spawn_device_vm(*vm) : attach_device_vm(*vm)))
				return false;
		}
		// Handshakes after all spawns: the device VMs start up in parallel.
		for (auto &vm : vms)
			if (!handshake(*vm))
				return false;
		return true;
	}

	bool start_guest()
	{
		Argv argv;
		if (o.monolithic) {
			std::vector<const DeviceSpec *> all;
			std::vector<int> fds;
			for (const auto &d : o.devices)
				all.push_back(&d);
			if (!open_blk_images(all, guest_blk_files, fds))
				return false;
			argv = monolithic_argv(o, use_kvm, fds);
		} else {
			std::vector<GuestChannel> channels;
			for (auto &vm : vms) {
				GuestChannel c;
				c.region = vm->region.get();
				c.to_device = vm->to_device.get();
				c.to_proxy = vm->to_proxy.get();
				c.peer_fd = vm->alive_rd.get(); // -1 when attached: no liveness pipe
				for (const auto &r : vm->registered)
					c.indices.push_back(r.index);
				channels.push_back(c);
			}
			argv = guest_vm_argv(o, use_kvm, ram, channels);
		}
		spdlog::info("guest VM: {}", shell_quote(argv.args));
		if (o.dry_run)
			return true;
		UniqueFd con_wr = make_output_pipe("guest console", true, nullptr);
		UniqueFd err_wr = make_output_pipe("guest VM", false, &guest_err);
		if (!con_wr || !err_wr)
			return false;
		SpawnSpec spec;
		spec.name = "guest VM";
		spec.argv = argv.args;
		spec.inherit_fds = argv.inherit;
		spec.stdout_fd = con_wr.get();
		spec.stderr_fd = err_wr.get();
		std::string error;
		if (!guest.spawn(spec, error)) {
			fail(kExitDied, error);
			return false;
		}
		spdlog::info("guest VM: started, pid {}", guest.pid());
		return true;
	}

	// ---- supervision ----

	int drain_signals()
	{
		int last = 0;
		struct signalfd_siginfo si;
		while (read(sigfd.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si))
			if (si.ssi_signo != SIGCHLD)
				last = static_cast<int>(si.ssi_signo);
		return last;
	}

	void supervise()
	{
		auto start = Clock::now();
		std::optional<Clock::time_point> stop_guest_at;
		bool guest_stop_sent = false;
		for (;;) {
			std::vector<pollfd> pfds;
			pfds.push_back({sigfd.get(), POLLIN, 0});
			for (auto &s : streams)
				if (s->fd)
					pfds.push_back({s->fd.get(), POLLIN, 0});
			poll(pfds.data(), pfds.size(), 100);
			pump_all();
			if (int sig = drain_signals()) {
				fail(kExitInterrupted, std::string("interrupted by ") + sigabbrev_np(sig));
				spdlog::warn("{}: stopping", reason);
				return;
			}
			if (guest.poll_exit()) {
				const ExitInfo &e = *guest.exit_info();
				if (!e.exited)
					fail(kExitDied, "guest VM (pid " + std::to_string(guest.pid()) + ") " + e.describe());
				else if (e.status != 0 && !guest_stop_sent && !guest_booted) {
					pump_all();
					std::string why = "guest VM " + e.describe() + " before the guest booted";
					if (guest_err && !guest_err->tail.empty())
						why += ": " + join_tail(guest_err->tail, 3);
					fail(kExitDied, why);
				} else if (e.status != 0 && !guest_stop_sent)
					fail(kExitWorkloadFail, "guest VM " + e.describe() +
									(results.summary() ? "" : " (guest panic?)"));
				return;
			}
			for (auto &vm : vms) {
				if (vm->proc.pid() > 0 && !vm->expected_exit && vm->proc.poll_exit()) {
					// A device VM ends cleanly (status 0) on the guest QEMU's STOP,
					// which comes just before the guest QEMU itself exits: wait for
					// that a moment before calling it a death.
					const ExitInfo &e = *vm->proc.exit_info();
					if (e.exited && e.status == 0) {
						if (!vm->clean_exit_seen) {
							vm->clean_exit_seen = Clock::now();
							continue;
						}
						if (Clock::now() - *vm->clean_exit_seen < std::chrono::seconds(1))
							continue;
					}
					vm->expected_exit = true; // reported once
					fail(kExitDied, died_reason(*vm));
					spdlog::error("{}; the guest sees its devices fail; stopping the guest in {} s",
						      reason, o.grace_s);
					if (!stop_guest_at)
						stop_guest_at = Clock::now() + std::chrono::seconds(o.grace_s);
				}
			}
			// /init announced power-off but the guest does not go: with a dead
			// device, Linux's virtio reset at shutdown waits forever for an
			// all-ones status to read 0. The verdict is known; stop the guest.
			if (poweroff_at && !stop_guest_at &&
			    Clock::now() - *poweroff_at >= std::chrono::seconds(kPoweroffAfterSummaryS)) {
				stopped_after_summary = true;
				spdlog::warn("the guest announced power-off {} s ago but is still running; stopping it",
					     kPoweroffAfterSummaryS);
				stop_guest_at = Clock::now();
			}
			if (o.timeout_s > 0 && Clock::now() - start >= std::chrono::seconds(o.timeout_s)) {
				fail(kExitTimeout, "timeout: the guest ran for more than " + std::to_string(o.timeout_s) + " s");
				spdlog::error("{}; stopping", reason);
				return;
			}
			if (stop_guest_at && Clock::now() >= *stop_guest_at && !guest_stop_sent) {
				guest_stop_sent = true;
				guest.signal(SIGTERM);
				stop_guest_at = Clock::now() + std::chrono::seconds(3);
			} else if (stop_guest_at && guest_stop_sent && Clock::now() >= *stop_guest_at) {
				guest.signal(SIGKILL);
			}
		}
	}

	void teardown()
	{
		// The guest first (it is the device VMs' client), then the device VMs.
		if (guest.running())
			guest.stop(3000);
		// A guest QEMU that exits sends STOP: give the device VMs a moment (2 s) to end cleanly.
		auto settle = Clock::now() + std::chrono::milliseconds(guest.pid() > 0 ? 2000 : 0);
		for (bool any = true; any && Clock::now() < settle;) {
			any = false;
			for (auto &vm : vms)
				any |= vm->proc.pid() > 0 && !vm->proc.poll_exit();
			if (any)
				std::this_thread::sleep_for(std::chrono::milliseconds(10));
		}
		for (auto &vm : vms) {
			if (vm->proc.exit_info() && !vm->expected_exit)
				spdlog::info("{}: {}", vm->name, vm->proc.exit_info()->describe());
			vm->expected_exit = true;
			if (vm->proc.running()) {
				vm->expected_exit = true;
				vm->proc.stop(2000);
			}
		}
		// Whatever the children wrote last (pipes are at EOF once all writers are gone).
		auto until = Clock::now() + std::chrono::milliseconds(500);
		for (;;) {
			bool open = false;
			for (auto &s : streams)
				if (s->fd && pump(*s))
					open = true;
			if (!open || Clock::now() >= until)
				break;
			std::this_thread::sleep_for(std::chrono::milliseconds(10));
		}
		streams.clear();
		report_traces();
	}

	int finish()
	{
		if (reason.empty()) {
			if (o.dry_run) {
				status = kExitPass;
				reason = "dry run";
			} else {
				status = results.passed() ? kExitPass : kExitWorkloadFail;
				reason = (stopped_after_summary ? "guest stopped: no power-off within " +
									std::to_string(kPoweroffAfterSummaryS) +
									" s of announcing it; "
								: std::string("guest powered off; ")) +
					 results.describe();
			}
		} else if (results.summary()) {
			reason += " (" + results.describe() + ")";
		}
		if (!channel_dead.empty() && (status == kExitPass || status == kExitWorkloadFail)) {
			reason = "the guest side declared a device VM channel dead (" + channel_dead + "); " + reason;
			status = kExitDied;
		}
		if (status == kExitPass)
			spdlog::info("{}; exit {}", reason, status);
		else
			spdlog::error("{}; exit {}", reason, status);
		return status;
	}

	// The command lines with placeholder descriptors (a real run passes its own numbers).
	void print_dry_run()
	{
		plan_device_vms();
		std::vector<GuestChannel> channels;
		int next_fd = 10;
		for (auto &vm : vms) {
			DeviceVmPlan plan;
			plan.devices = vm->devices;
			plan.setup_fd = next_fd++;
			for (const auto *d : vm->devices)
				if (d->kind == DeviceKind::Blk)
					plan.blk_fds.push_back(next_fd++);
			if (!o.trace.empty()) {
				for (size_t i = 0; i < plan.blk_fds.size(); i++)
					plan.trace_image_fds.push_back(next_fd++);
				plan.trace_fd = next_fd++;
				plan.trace_args_fd = next_fd++;
				spdlog::info("{}: trace {}, template: {}", vm->name,
					     trace_path(o.trace, vm->number, vms.size()), trace_template(plan));
			}
			spdlog::info("{}: {}", vm->name, shell_quote(device_vm_argv(o, plan, o.memory_bytes).args));
			GuestChannel c{next_fd, next_fd + 1, next_fd + 2, plan.setup_fd, {}};
			next_fd += 3;
			for (unsigned i = 0; i < vm->devices.size(); i++)
				c.indices.push_back(i);
			channels.push_back(c);
		}
		std::string error;
		ram = GuestRam::create(o.memory_bytes, error);
		spdlog::info("guest VM: {}", shell_quote(guest_vm_argv(o, use_kvm, ram, channels).args));
	}

	int run()
	{
		if (!setup_signals()) {
			fail(kExitDied, "cannot set up signal handling");
			return finish();
		}
		if (check_inputs() && decide_engine()) {
			bool ok = true;
			if (o.dry_run && !o.monolithic)
				print_dry_run();
			else if (!o.monolithic)
				ok = start_device_vms();
			if (ok && !o.dry_run && start_guest())
				supervise();
			else if (ok && o.dry_run && o.monolithic)
				start_guest();
		}
		teardown();
		sigprocmask(SIG_SETMASK, &old_mask, nullptr);
		return finish();
	}
};

Launcher::Launcher(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Launcher::~Launcher() = default;
int Launcher::run() { return impl_->run(); }

} // namespace vsst
