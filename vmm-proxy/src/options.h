// SPDX-License-Identifier: Apache-2.0
// options.h - command line of the vmm-proxy launcher.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "guest_arch.h"
#include "run_identities.h"

#include "vsst/devvm/command_line.h"

namespace vsst {

// A --device: a device that lives in the device VM and is proxied into the guest
// (the device-VM library's description, which writes its -device lines).
using devvm::DeviceKind;
using devvm::DeviceSpec;

enum class Accel { Tcg, Kvm, Auto };
enum class Isolation { Shared, PerDevice };
// --timing: free = the guest runs on the host's clock (default); sync = synchronized
// virtual time (README "Synchronized time"): the guest's clock is its instruction count
// (-icount) and virtio-sst answers reach it at their simulated completion time.
enum class Timing { Free, Sync };
// -icount shift in sync mode: one guest instruction = 2^shift ns (README explains the choice).
inline constexpr unsigned kSyncIcountShift = 0;

struct Options {
	std::string kernel;
	std::string initrd;
	std::string append;
	uint64_t memory_bytes = 512ull << 20;
	unsigned smp = 1;
	std::vector<DeviceSpec> devices;
	std::string share_mode; // --share: "rw" or "ro" (its device is in devices)
	Isolation isolate = Isolation::Shared;
	Accel accel = Accel::Tcg;
	Timing timing = Timing::Free;
	std::string qemu; // the device VM's binary (and the guest's for x86_64)
	// --arch: the guest's architecture; its QEMU is guest_qemu (default: beside qemu).
	Arch arch = Arch::X86_64;
	std::string guest_qemu;
	std::string console; // "" -> stdout
	std::string trace;   // --trace: RPC trace file (per device VM: trace_path())
	std::string attach;  // control socket of a device VM already running
	// Whom the QEMUs run as when started as root: "auto" (a distinct free uid/gid per
	// process, from id_range: run_identities.h), a user name, or "" (root).
	std::string run_as = "auto";
	IdRange id_range;
	bool sandbox = true;
	bool monolithic = false; // baseline: devices inside the guest QEMU, no device VM
	bool dry_run = false;    // print the command lines, start nothing
	bool quiet_console = false;
	int timeout_s = 0;        // whole run; 0 = unbounded
	int start_timeout_s = 30; // device VM -> START_VM
	int grace_s = 5;          // after a child died, before the rest is stopped
	// --restart N: a device VM that dies is replaced up to N times per restart_window_s
	// (the guest keeps running; device_vms.h "Restart"). 0 = a death ends the run.
	int restart = 0;
	int restart_window_s = 60;
	int restart_wait_ms = 30000; // guest accesses wait this long for the new device VM
	int mmio_timeout_ms = 2000;
	int doorbell_poll_us = 100; // rpc-channel doorbell-poll-us (0: off)
	int rpc_spin_us = 0;        // spin before blocking, stored in the channel (0: library default)
	std::string log_level = "info";
	std::vector<std::string> guest_args;  // extra raw QEMU args for the guest VM
	std::vector<std::string> device_args; // extra raw QEMU args for the device VM(s)
	// After "--": a command /init runs instead of the workloads; its output is the
	// launcher's stdout and its exit status the launcher's (guest_command.h).
	std::vector<std::string> guest_command;
	bool interactive = false;      // --interactive: the terminal types into the guest console
	std::string report;            // --report FILE: the launch record (JSON, README)
	std::vector<std::string> argv; // the launcher's own command line, for the record
};

struct ParseResult {
	std::optional<Options> options; // empty on error or --help
	std::string error;              // non-empty on error
	bool help = false;
};

ParseResult parse_options(const std::vector<std::string> &args);
std::string usage_text();

// "512M", "2G", "1048576K", "512" (MiB, as QEMU reads it)
std::optional<uint64_t> parse_size(const std::string &text);
std::optional<DeviceSpec> parse_device(const std::string &text, std::string &error);
// A locally administered-looking unicast MAC in QEMU's OUI, 52:54:00:xx:xx:xx, random.
std::string random_mac();
// --share DIR[:ro|:rw]: a virtio-9p device with the default tag.
std::optional<DeviceSpec> parse_share(const std::string &text, std::string &error);

} // namespace vsst
