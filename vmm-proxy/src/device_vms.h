// SPDX-License-Identifier: Apache-2.0
// device_vms.h - the device VM side of a run, on top of the device-VM library: guest
// RAM, per device VM a channel, the liveness pipe, opened disk images and trace files,
// the process (or a device VM started by hand, --attach) and the handshake; their
// deaths while the guest runs; their teardown.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "console.h"
#include "host_sockets.h"
#include "options.h"
#include "outcome.h"
#include "qemu_cmdline.h"
#include "vsst/devvm/channel.h"
#include "vsst/devvm/device_vm.h"
#include "vsst/devvm/guest_ram.h"
#include "vsst/devvm/handshake.h"
#include "vsst/posix/child_process.h"

namespace vsst {

struct HostedDeviceVm {
	std::string name;
	std::vector<const DeviceSpec *> devices;
	size_t number = 0; // position among the device VMs
	devvm::Channel channel;
	// Liveness pipe: only the device VM holds the write end, so the read end (given to
	// the guest QEMU as peer-fd) reaches EOF the moment the device VM is gone.
	UniqueFd alive_rd;
	std::vector<UniqueFd> blk_files;
	std::vector<UniqueFd> share_dirs;   // virtio-9p: the shared directories, opened here
	HostSockets sockets;                // virtio-net LANs, virtio-console host ends
	std::string trace_path;             // --trace: where this device VM records
	UniqueFd trace_file, trace_args;    // handed to the device VM
	std::vector<UniqueFd> trace_images; // image fds for the recorder's fingerprint
	devvm::DeviceVm vm;
	Stream *err = nullptr;
	std::vector<devvm::RegisteredDevice> registered;
	bool expected_exit = false;
	std::optional<std::chrono::steady_clock::time_point> clean_exit_seen;
	// --restart: the launcher's end of the guest QEMU's restart socket (rpc_restart.h) and
	// the guest's end (handed over at its start), the virtqueue records every incarnation
	// shares (-accel rpc,inflight-fd), restart times within the window, and since when
	// the guest waits for a new device VM (death -> the guest QEMU's UP).
	UniqueFd restart_sock, restart_guest_end, inflight;
	std::vector<std::chrono::steady_clock::time_point> restarts;
	std::optional<std::chrono::steady_clock::time_point> down_since;
	unsigned incarnation = 0; // device VMs started after the first
	unsigned handed = 0;      // channels handed to the guest QEMU (its generation)

	ChildProcess &proc() { return vm.process(); }
};

// Opens the virtio-blk images among devices (fds in order; ro_fds: a read-only companion
// of each writable image, -1 for a read-only one, see devvm::add_devices); false after
// o.fail().
bool open_blk_images(const std::vector<const DeviceSpec *> &devices, std::vector<UniqueFd> &out,
		     std::vector<int> &fds, std::vector<int> &ro_fds, Outcome &out_come);
// Opens the shared directories of the virtio-9p devices among devices (fds in order).
bool open_share_dirs(const std::vector<const DeviceSpec *> &devices, std::vector<UniqueFd> &out,
		     std::vector<int> &fds, Outcome &outcome);

class DeviceVms {
public:
	DeviceVms(const Options &o, const RunIdentities &ids, Console &console, Outcome &outcome)
		: o_(o), ids_(ids), console_(console), outcome_(outcome)
	{
	}

	// One device VM, or one per --device with --isolate per-device.
	void plan();
	// How many device VMs plan() makes, and which one serves o.devices[i].
	static size_t count(const Options &o);
	static size_t serving(const Options &o, size_t device);
	// Guest RAM, then per device VM a channel and the process (or --attach), then the
	// handshakes (after all spawns: the device VMs start up in parallel).
	// interrupted() says whether a signal asks to stop (--attach waits on it).
	bool start(const std::function<bool()> &interrupted);
	// The command lines with placeholder descriptors, and the guest channels they
	// would give (dry run).
	std::vector<GuestChannel> print_dry_run();

	const GuestRam &ram() const { return ram_; }
	std::vector<GuestChannel> guest_channels() const;
	std::vector<std::unique_ptr<HostedDeviceVm>> &all() { return vms_; }

	// "device VM (pid N) killed by signal 9 (Killed): <last stderr lines>"
	std::string died_reason(HostedDeviceVm &vm);
	// After the guest: a moment to end cleanly (its STOP), then SIGTERM/SIGKILL.
	void stop(bool guest_ran);

	// Restart (--restart N): replaces a dead device VM (why: its death) with a new one
	// on a fresh channel, the same devices, RAM and inflight records, and hands the
	// channel to the guest QEMU, which replays the guest's set-up into it. Attempts that
	// fail count too. False (and GIVE_UP to the guest QEMU, reason in gave_up_reason)
	// once N restarts within the window are used up.
	// interrupted() says whether a signal asks to stop (checked while a new one starts).
	bool restart(HostedDeviceVm &vm, const std::string &why, const std::function<bool()> &interrupted);
	// Messages from the guest QEMUs: DOWN (the channel failed: a device VM still running
	// is killed, and its death restarts it) and UP (recovery time recorded).
	void poll_restart_messages();
	std::string gave_up_reason;
	// Death -> UP, per restart (ms).
	std::vector<double> recovery_ms;
	void report_traces();

private:
	bool open_restart(HostedDeviceVm &vm);
	bool spawn(HostedDeviceVm &vm);
	bool attach(HostedDeviceVm &vm, const std::function<bool()> &interrupted);
	bool open_trace(HostedDeviceVm &vm, DeviceVmPlan &plan);
	bool handshake(HostedDeviceVm &vm);

	Outcome &out() { return *sink_; }

	const Options &o_;
	const RunIdentities &ids_;
	Console &console_;
	Outcome &outcome_;
	Outcome *sink_ = &outcome_;         // where start-up failures go (a restart's own, then)
	std::function<bool()> interrupted_; // during a restart's handshake
	GuestRam ram_;
	std::vector<std::unique_ptr<HostedDeviceVm>> vms_;
};

} // namespace vsst
