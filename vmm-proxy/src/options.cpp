// SPDX-License-Identifier: Apache-2.0
#include "options.h"

#include <sys/random.h>

#include <unistd.h>

#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <functional>

namespace vsst {

namespace {

std::vector<std::string> split(const std::string &text, char sep)
{
	std::vector<std::string> parts;
	size_t start = 0;
	for (;;) {
		size_t pos = text.find(sep, start);
		parts.push_back(text.substr(start, pos - start));
		if (pos == std::string::npos)
			return parts;
		start = pos + 1;
	}
}

std::optional<int> parse_int(const std::string &text, int min, int max)
{
	int value = 0;
	auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
	if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max)
		return std::nullopt;
	return value;
}

bool parse_bool(const std::string &text, bool &out)
{
	if (text == "on" || text == "true" || text == "1" || text == "yes") {
		out = true;
		return true;
	}
	if (text == "off" || text == "false" || text == "0" || text == "no") {
		out = false;
		return true;
	}
	return false;
}

// aa:bb:cc:dd:ee:ff, hex digits; a unicast address (the first octet's low bit clear).
bool valid_mac(const std::string &mac)
{
	if (mac.size() != 17)
		return false;
	for (size_t i = 0; i < mac.size(); i++) {
		const bool colon = i % 3 == 2;
		if (colon != (mac[i] == ':') || (!colon && !isxdigit(static_cast<unsigned char>(mac[i]))))
			return false;
	}
	return (std::stoi(mac.substr(0, 2), nullptr, 16) & 1) == 0;
}

} // namespace

std::string random_mac()
{
	// QEMU's own default (52:54:00:12:34:56) is the same in every guest: two guests on one
	// LAN would share it. QEMU's OUI, the rest random.
	unsigned char r[3] = {0x12, 0x34, 0x56};
	if (getrandom(r, sizeof r, 0) != static_cast<ssize_t>(sizeof r))
		r[2] ^= static_cast<unsigned char>(getpid());
	char buf[18];
	snprintf(buf, sizeof buf, "52:54:00:%02x:%02x:%02x", r[0], r[1], r[2]);
	return buf;
}

std::optional<uint64_t> parse_size(const std::string &text)
{
	if (text.empty())
		return std::nullopt;
	uint64_t value = 0;
	auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
	if (ec != std::errc() || end == text.data())
		return std::nullopt;
	std::string suffix(end, text.data() + text.size());
	uint64_t mult;
	if (suffix.empty() || suffix == "M" || suffix == "m" || suffix == "MiB")
		mult = 1ull << 20;
	else if (suffix == "G" || suffix == "g" || suffix == "GiB")
		mult = 1ull << 30;
	else if (suffix == "K" || suffix == "k" || suffix == "KiB")
		mult = 1ull << 10;
	else
		return std::nullopt;
	if (value == 0 || value > (UINT64_MAX / mult))
		return std::nullopt;
	return value * mult;
}

std::optional<DeviceSpec> parse_device(const std::string &text, std::string &error)
{
	DeviceSpec spec;
	spec.text = text;
	auto parts = split(text, ',');
	const std::string &type = parts[0];
	if (type == "virtio-sst")
		spec.kind = DeviceKind::Sst;
	else if (type == "virtio-rng")
		spec.kind = DeviceKind::Rng;
	else if (type == "virtio-blk")
		spec.kind = DeviceKind::Blk;
	else if (type == "virtio-9p")
		spec.kind = DeviceKind::NineP;
	else if (type == "virtio-net")
		spec.kind = DeviceKind::Net;
	else if (type == "virtio-console")
		spec.kind = DeviceKind::Console;
	else {
		error = "unknown device type '" + type +
			"' (virtio-sst, virtio-rng, virtio-blk, virtio-9p, virtio-net, virtio-console)";
		return std::nullopt;
	}
	for (size_t i = 1; i < parts.size(); i++) {
		auto eq = parts[i].find('=');
		if (eq == std::string::npos || eq == 0) {
			error = "device option '" + parts[i] + "' is not key=value";
			return std::nullopt;
		}
		std::string key = parts[i].substr(0, eq), value = parts[i].substr(eq + 1);
		if (key == "sim" && spec.kind == DeviceKind::Sst)
			spec.sim = value;
		else if (key == "file" && spec.kind == DeviceKind::Blk)
			spec.file = value;
		else if (key == "path" && spec.kind == DeviceKind::NineP)
			spec.file = value;
		else if (key == "lan" && spec.kind == DeviceKind::Net)
			spec.file = value;
		else if (key == "socket" && spec.kind == DeviceKind::Console)
			spec.file = value;
		else if (key == "mac" && spec.kind == DeviceKind::Net && !valid_mac(value)) {
			error = "mac= wants a unicast address aa:bb:cc:dd:ee:ff";
			return std::nullopt;
		} else if ((key == "netdev" && spec.kind == DeviceKind::Net) ||
			   (key == "chardev" && spec.kind == DeviceKind::Console)) {
			error = key + "= is the launcher's (it passes the socket as a descriptor)";
			return std::nullopt;
		} else if (key == "mount_tag" && spec.kind == DeviceKind::NineP &&
			   (value.empty() || value.size() > 31 ||
			    value.find_first_of(" \t\"=") != std::string::npos)) {
			// QEMU takes longer tags than the guest's mount(2) wants to see.
			error = "mount_tag= wants 1..31 characters, no space, quote or '='";
			return std::nullopt;
		} else if (key == "readonly" &&
			   (spec.kind == DeviceKind::Blk || spec.kind == DeviceKind::NineP)) {
			if (!parse_bool(value, spec.readonly)) {
				error = "readonly= wants on/off";
				return std::nullopt;
			}
		} else if (key.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_.") !=
			   std::string::npos) {
			error = "bad device option name '" + key + "'";
			return std::nullopt;
		} else
			spec.extra.emplace_back(key, value);
	}
	if (spec.kind == DeviceKind::Sst && spec.sim.empty()) {
		error = "virtio-sst needs sim=PATH (the simulator's Unix socket)";
		return std::nullopt;
	}
	if (spec.kind == DeviceKind::Blk && spec.file.empty()) {
		error = "virtio-blk needs file=IMAGE";
		return std::nullopt;
	}
	if (spec.kind == DeviceKind::NineP && spec.file.empty()) {
		error = "virtio-9p needs path=DIR (the host directory to share)";
		return std::nullopt;
	}
	if (spec.kind == DeviceKind::Net && spec.file.empty()) {
		error = "virtio-net needs lan=SOCKET (the virtual LAN's Unix socket)";
		return std::nullopt;
	}
	if (spec.kind == DeviceKind::Console && spec.file.empty()) {
		error = "virtio-console needs socket=PATH (the host end's Unix socket)";
		return std::nullopt;
	}
	if (spec.kind == DeviceKind::Net) {
		bool has_mac = false;
		for (const auto &kv : spec.extra)
			has_mac = has_mac || kv.first == "mac";
		if (!has_mac)
			spec.extra.emplace_back("mac", random_mac());
	}
	return spec;
}

std::optional<DeviceSpec> parse_share(const std::string &text, std::string &error)
{
	DeviceSpec spec;
	spec.kind = DeviceKind::NineP;
	spec.text = text;
	spec.file = text;
	// DIR:ro / DIR:rw; any other colon belongs to the path.
	auto ends_with = [&](const char *suffix) {
		const std::string s(suffix);
		return text.size() >= s.size() && text.compare(text.size() - s.size(), s.size(), s) == 0;
	};
	if (ends_with(":ro") || ends_with(":rw")) {
		spec.readonly = ends_with(":ro");
		spec.file = text.substr(0, text.size() - 3);
	}
	if (spec.file.empty()) {
		error = "wants a directory: --share DIR[:ro]";
		return std::nullopt;
	}
	return spec;
}

std::string usage_text()
{
	return R"(usage: vmm-proxy --kernel K --initrd I [options] --device SPEC [--device SPEC]...
Launches a guest VM whose devices live in a separate device VM (QEMU -accel rpc),
connected by a shared-memory RPC channel; supervises both and tears everything down.

  --kernel FILE            guest kernel (bzImage)
  --initrd FILE            guest initramfs
  --append TEXT            extra kernel command line (console=ttyS0, or ttyAMA0 on aarch64,
                           is always added)
  --memory SIZE            guest RAM, e.g. 512M, 2G (default 512M)
  --smp N                  guest vCPUs (default 1)
  --device SPEC            a device served by the device VM:
                             virtio-sst,sim=SOCKET[,key=value...]
                             virtio-rng
                             virtio-blk,file=IMAGE[,readonly=on]
                             virtio-9p,path=DIR[,readonly=on][,mount_tag=TAG]
                             virtio-net,lan=SOCKET[,mac=MAC]  (the first run on a LAN
                               listens at SOCKET, the second joins it)
                             virtio-console,socket=PATH  (the launcher listens at PATH;
                               the guest's /dev/hvc0)
                           (extra key=value pairs go to the backend's -device)
  --share DIR[:ro]         the host directory DIR in the guest at /mnt/host (a virtio-9p
                           in the device VM, tag vsst-host, + vsst.share=rw|ro); files the
                           guest creates end up owned by the invoking user (SUDO_UID)
  --isolate per-device     one device VM per device (default: one for all)
  --accel tcg|kvm|auto     guest engine (default tcg; auto = KVM only if a short probe
                           shows near-native speed)
  --qemu PATH              QEMU binary of the device VM, and of the guest VM for x86_64
                           (default $VSST_QEMU)
  --arch ARCH              guest architecture: x86_64 (default; machine pc), riscv64
                           (virt with PLIC, OpenSBI) or aarch64 (virt, GICv3+ITS);
                           riscv64/aarch64 run under TCG with qemu-system-ARCH
  --guest-qemu PATH        the guest VM's QEMU for --arch (default: qemu-system-ARCH in
                           --qemu's directory)
  --console FILE           guest serial console to FILE (default stdout)
  --quiet-console          do not echo the console (it is still parsed)
  --trace FILE             record the device VM's RPC trace into FILE (trace/TRACE.md); with
                           --isolate per-device one per device VM: FILE.<n>.<ext>
  --attach SOCKET          use a device VM already running, reached at its control socket
  --run-as auto|USER       whom the QEMUs run as when started as root: auto (default) =
                           a uid/gid of its own per QEMU, free on this host; USER = that
                           user for all; "" = root
  --id-range FIRST-LAST    uids (= gids) --run-as auto takes from (default
                           2100000000-2100065535)
  --no-sandbox             do not pass -sandbox on to the device VM
  --monolithic             baseline: devices inside the guest QEMU, no device VM
  --timeout SEC            stop everything after SEC seconds (default: none)
  --start-timeout SEC      bound for the device VM to send START_VM (default 30)
  --grace SEC              after a child died, time left to the others (default 5)
  --restart N              a device VM that dies (crash, kill, poisoned channel) is
                           replaced, at most N times within --restart-window; the guest
                           keeps running (default 0: a death ends the run)
  --restart-window SEC     the window N restarts are counted in (default 60)
  --restart-wait MS        how long guest accesses wait for the new device VM
                           (default 30000)
  --mmio-timeout MS        bound for one forwarded read (default 2000)
  --doorbell-poll-us N     after a doorbell, the vCPU waits up to N us for the device VM's
                           interrupt (0..1000, default 100; 0: the main loop delivers it)
  --rpc-spin-us N          how long both ends of a channel spin before sleeping
                           (0..1000, default 0: the rpc library's default)
  --timing free|sync       free (default): the guest runs on the host's clock; sync: the
                           guest's clock is its instruction count (-icount shift=0,sleep=off)
                           and each virtio-sst answer reaches it at its simulated time
                           (deterministic; framed simulator protocol, TCG, split only)
  --guest-arg ARG          extra raw argument for the guest QEMU (repeatable)
  --device-arg ARG         extra raw argument for the device VM QEMU (repeatable)
  --log-level LEVEL        trace, debug, info, warn, error (default info)
  --interactive            the terminal's keys go to the guest console (raw mode);
                           Ctrl-] ends the session
  --report FILE            write the launch record (JSON: processes, stages, results,
                           exit) to FILE
  --dry-run                print the command lines and exit
  -h, --help               this text
  -- CMD [ARG]...          run CMD in the guest instead of the image's workloads; stdout
                           shows only its output
Exit status: 0 guest workload passed; 1 workload failed or reported no result;
  2 usage; 3 a process died or setup failed; 4 timeout; 130 interrupted.
  With -- CMD: CMD's own exit status, or 125 when the stack failed before CMD
  finished (the last log line says why).
)";
}

namespace {

// --timing sync: what it needs of the other options, and the property each virtio-sst
// gets (timing=sync; x-timing-no-hold=on stays the user's, for tests). "" when fine.
std::string apply_sync_timing(Options &o)
{
	if (o.monolithic)
		return "needs the split (the time travels over the RPC channel); drop --monolithic";
	if (o.accel != Accel::Tcg)
		return "needs --accel tcg (the guest's clock is TCG's instruction count)";
	if (o.arch != Arch::X86_64)
		return "works with the x86_64 guest only for now (its TSC and RTC are pinned to "
		       "the virtual clock; the virt machines' timers are not yet)";
	for (DeviceSpec &d : o.devices) {
		if (d.kind != DeviceKind::Sst)
			continue;
		for (const auto &[k, val] : d.extra) {
			if (k == "protocol" && val == "acalsim")
				return "device '" + d.text +
				       "' uses protocol=acalsim, which carries no submit or completion "
				       "times; use the framed protocol";
			if (k == "timing")
				return "device '" + d.text + "': timing is set by --timing";
		}
		d.extra.emplace_back("timing", "sync");
	}
	return {};
}

} // namespace

ParseResult parse_options(const std::vector<std::string> &args)
{
	ParseResult result;
	Options o;
	if (const char *q = getenv("VSST_QEMU"))
		o.qemu = q;
	auto fail = [&](std::string msg) {
		result.error = std::move(msg);
		return result;
	};
	o.argv = args;
	for (size_t i = 0; i < args.size(); i++) {
		std::string arg = args[i];
		if (arg == "--") {
			o.guest_command.assign(args.begin() + static_cast<long>(i) + 1, args.end());
			if (o.guest_command.empty())
				return fail("-- must be followed by the command to run in the guest");
			break;
		}
		std::string value;
		bool has_inline = false;
		if (arg.rfind("--", 0) == 0) {
			auto eq = arg.find('=');
			if (eq != std::string::npos) {
				value = arg.substr(eq + 1);
				arg = arg.substr(0, eq);
				has_inline = true;
			}
		}
		auto need = [&](std::string &out) -> bool {
			if (has_inline) {
				out = value;
				return true;
			}
			if (i + 1 >= args.size())
				return false;
			out = args[++i];
			return true;
		};
		auto flag = [&]() { return !has_inline; };
		std::string v;
		if (arg == "-h" || arg == "--help") {
			result.help = true;
			return result;
		} else if (arg == "--no-sandbox" && flag()) {
			o.sandbox = false;
		} else if (arg == "--timing") {
			if (!need(v))
				return fail("--timing needs a value");
			if (v == "free")
				o.timing = Timing::Free;
			else if (v == "sync")
				o.timing = Timing::Sync;
			else
				return fail("--timing: want free or sync");
		} else if (arg == "--monolithic" && flag()) {
			o.monolithic = true;
		} else if (arg == "--dry-run" && flag()) {
			o.dry_run = true;
		} else if (arg == "--quiet-console" && flag()) {
			o.quiet_console = true;
		} else if (arg == "--interactive" && flag()) {
			o.interactive = true;
		} else if (arg == "--kernel" || arg == "--initrd" || arg == "--append" || arg == "--memory" ||
			   arg == "--smp" || arg == "--device" || arg == "--isolate" || arg == "--accel" ||
			   arg == "--qemu" || arg == "--console" || arg == "--trace" || arg == "--attach" ||
			   arg == "--run-as" || arg == "--timeout" || arg == "--start-timeout" ||
			   arg == "--grace" || arg == "--mmio-timeout" || arg == "--guest-arg" ||
			   arg == "--doorbell-poll-us" || arg == "--rpc-spin-us" || arg == "--device-arg" ||
			   arg == "--log-level" || arg == "--report" || arg == "--share" ||
			   arg == "--id-range" || arg == "--restart" || arg == "--restart-window" ||
			   arg == "--restart-wait" || arg == "--arch" || arg == "--guest-qemu") {
			if (!need(v))
				return fail(arg + " needs a value");
			if (arg == "--kernel")
				o.kernel = v;
			else if (arg == "--initrd")
				o.initrd = v;
			else if (arg == "--append")
				o.append = o.append.empty() ? v : o.append + " " + v;
			else if (arg == "--memory") {
				auto size = parse_size(v);
				if (!size || *size < (64ull << 20) || *size > (64ull << 30))
					return fail("--memory: '" + v + "' is not a size in 64M..64G");
				o.memory_bytes = *size;
			} else if (arg == "--smp") {
				auto n = parse_int(v, 1, 64);
				if (!n)
					return fail("--smp: want 1..64");
				o.smp = *n;
			} else if (arg == "--device") {
				std::string err;
				auto dev = parse_device(v, err);
				if (!dev)
					return fail("--device " + v + ": " + err);
				o.devices.push_back(*dev);
			} else if (arg == "--share") {
				if (!o.share_mode.empty())
					return fail(
						"--share given twice (one share per run; more with --device "
						"virtio-9p,path=DIR,mount_tag=TAG)");
				std::string err;
				auto dev = parse_share(v, err);
				if (!dev)
					return fail("--share " + v + ": " + err);
				o.share_mode = dev->readonly ? "ro" : "rw";
				o.devices.push_back(*dev);
			} else if (arg == "--isolate") {
				if (v == "per-device")
					o.isolate = Isolation::PerDevice;
				else if (v == "none" || v == "shared")
					o.isolate = Isolation::Shared;
				else
					return fail("--isolate: want per-device (or none)");
			} else if (arg == "--accel") {
				if (v == "tcg")
					o.accel = Accel::Tcg;
				else if (v == "kvm")
					o.accel = Accel::Kvm;
				else if (v == "auto")
					o.accel = Accel::Auto;
				else
					return fail("--accel: want tcg, kvm or auto");
			} else if (arg == "--qemu")
				o.qemu = v;
			else if (arg == "--arch") {
				auto a = parse_arch(v);
				if (!a)
					return fail("--arch: want x86_64, riscv64 or aarch64");
				o.arch = *a;
			} else if (arg == "--guest-qemu")
				o.guest_qemu = v;
			else if (arg == "--console")
				o.console = v;
			else if (arg == "--trace")
				o.trace = v;
			else if (arg == "--attach")
				o.attach = v;
			else if (arg == "--run-as")
				o.run_as = v;
			else if (arg == "--id-range") {
				if (!parse_id_range(v, o.id_range))
					return fail(
						"--id-range: want FIRST-LAST, 0 < FIRST <= LAST < 2147483647");
			} else if (arg == "--guest-arg")
				o.guest_args.push_back(v);
			else if (arg == "--device-arg")
				o.device_args.push_back(v);
			else if (arg == "--report")
				o.report = v;
			else if (arg == "--log-level") {
				static const char *levels[] = {"trace", "debug", "info", "warn", "error"};
				bool ok = false;
				for (const char *l : levels)
					ok = ok || v == l;
				if (!ok)
					return fail("--log-level: want trace, debug, info, warn or error");
				o.log_level = v;
			} else {
				std::optional<int> n;
				if (arg == "--timeout")
					n = parse_int(v, 0, 86400);
				else if (arg == "--start-timeout")
					n = parse_int(v, 1, 3600);
				else if (arg == "--grace")
					n = parse_int(v, 0, 600);
				else if (arg == "--doorbell-poll-us" || arg == "--rpc-spin-us")
					n = parse_int(v, 0, 1000);
				else if (arg == "--restart")
					n = parse_int(v, 0, 1000);
				else if (arg == "--restart-window")
					n = parse_int(v, 1, 86400);
				else if (arg == "--restart-wait")
					n = parse_int(v, 100, 600000);
				else
					n = parse_int(v, 10, 600000);
				if (!n)
					return fail(arg + ": '" + v + "' is out of range");
				if (arg == "--timeout")
					o.timeout_s = *n;
				else if (arg == "--start-timeout")
					o.start_timeout_s = *n;
				else if (arg == "--grace")
					o.grace_s = *n;
				else if (arg == "--doorbell-poll-us")
					o.doorbell_poll_us = *n;
				else if (arg == "--rpc-spin-us")
					o.rpc_spin_us = *n;
				else if (arg == "--restart")
					o.restart = *n;
				else if (arg == "--restart-window")
					o.restart_window_s = *n;
				else if (arg == "--restart-wait")
					o.restart_wait_ms = *n;
				else
					o.mmio_timeout_ms = *n;
			}
		} else {
			return fail("unknown argument '" + args[i] + "'");
		}
	}
	if (o.kernel.empty())
		return fail("--kernel is required");
	if (o.initrd.empty())
		return fail("--initrd is required");
	if (o.devices.empty())
		return fail("at least one --device is required");
	if (!o.share_mode.empty()) {
		// The guest's /init mounts the vsst-host tag when it sees this.
		if (o.append.find("vsst.share=") == std::string::npos)
			o.append += (o.append.empty() ? "" : " ") + std::string("vsst.share=") + o.share_mode;
	}
	if (o.qemu.empty())
		o.qemu = "qemu-system-x86_64";
	if (o.guest_qemu.empty())
		o.guest_qemu = guest_qemu_for(o.arch, o.qemu);
	if (o.arch != Arch::X86_64) {
		// A foreign guest runs under TCG on this host, whatever the probe would say.
		if (o.accel == Accel::Kvm)
			return fail(std::string("--accel kvm: an ") + arch_info(o.arch).name +
				    " guest runs under TCG only");
		o.accel = Accel::Tcg;
	}
	if (o.monolithic && !o.attach.empty())
		return fail("--monolithic and --attach exclude each other");
	if (o.monolithic && o.isolate == Isolation::PerDevice)
		return fail("--monolithic and --isolate per-device exclude each other");
	if (!o.attach.empty() && o.isolate == Isolation::PerDevice)
		return fail("--attach serves one device VM; --isolate per-device starts its own");
	if (o.restart > 0) {
		if (o.monolithic || !o.attach.empty())
			return fail("--restart replaces device VMs it starts itself (not with --monolithic "
				    "or --attach)");
		if (!o.trace.empty())
			return fail("--restart and --trace exclude each other (a trace covers one device "
				    "VM's life)");
		if (o.timing == Timing::Sync)
			return fail("--restart and --timing sync exclude each other (requests taken "
				    "again after a restart would change the simulated times)");
		for (const auto &d : o.devices)
			if (d.kind == DeviceKind::Net || d.kind == DeviceKind::Console ||
			    d.kind == DeviceKind::NineP)
				return fail("--restart: virtio-net, virtio-console and virtio-9p (--share) "
					    "cannot be restarted (their host end or file-system session "
					    "lives in the old device VM)");
	}
	if (o.timing == Timing::Sync) {
		std::string why = apply_sync_timing(o);
		if (!why.empty())
			return fail("--timing sync: " + why);
	}
	result.options = std::move(o);
	return result;
}

} // namespace vsst
