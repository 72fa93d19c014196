// SPDX-License-Identifier: Apache-2.0
// qemu_cmdline.h - the command lines of the two QEMU roles as vmm-proxy's options shape
// them: the device VM's through the device-VM library, the guest VM's (and the
// monolithic baseline's) here.
#pragma once

#include <string>
#include <vector>

#include "options.h"
#include "vsst/devvm/command_line.h"
#include "vsst/devvm/guest_ram.h"

namespace vsst {

using devvm::Argv;
using devvm::GuestRam;
using devvm::shell_quote;

// What the device VM needs: the setup socket (channel + guest RAM arrive over it, see
// vsst_setup_send) and, for virtio-blk, the opened image files.
struct DeviceVmPlan {
	std::vector<const DeviceSpec *> devices;
	int setup_fd = -1;
	std::vector<int> blk_fds;    // one per virtio-blk in devices, in order
	std::vector<int> blk_ro_fds; // their read-only companions (-1: read-only image)
	// One open directory per virtio-9p in devices, in order (the device VM reaches the
	// share through it: fsdev path=/proc/self/fd/N).
	std::vector<int> share_fds;
	// One socket per virtio-net / virtio-console in devices, in order (host_sockets.h).
	std::vector<devvm::SocketFd> socket_fds;
	int inflight_fd = -1;   // --restart: virtqueue records kept across device VMs
	int trace_fd = -1;      // --trace: the open trace file (trace/TRACE.md)
	int trace_args_fd = -1; // its device template (trace_template), a memfd
	// Duplicates of blk_fds the recorder fingerprints the images through
	// (QEMU's -add-fd does not keep the original numbers open).
	std::vector<int> trace_image_fds;
};

// One channel as the guest VM sees it.
struct GuestChannel {
	int region = -1, to_device = -1, to_proxy = -1;
	int peer_fd = -1;              // EOF when the device VM is gone
	std::vector<unsigned> indices; // backend device indices registered on it
	int restart_fd = -1;           // --restart: new channels arrive here (rpc_restart.h)
};

std::string kernel_cmdline(const Options &o);

// Device VM: what the device-VM library needs for its command line (-machine
// rpc-backend -accel rpc,setup-fd=N[,trace...], the devices, isolation), and the fds
// its options name besides the setup socket.
struct DeviceVmCommand {
	devvm::DeviceVmArgs args;
	std::vector<int> inherit;
};
DeviceVmCommand device_vm_command(const Options &o, const DeviceVmPlan &plan, uint64_t ram_bytes);
// The same as one command line (the setup socket at plan.setup_fd).
Argv device_vm_argv(const Options &o, const DeviceVmPlan &plan, uint64_t ram_bytes);

// --trace: the trace-args text for a device VM (qemu/README.md): the
// device arguments as a replay passes them ({sim}, {image:NAME}), one per
// line, "image=NAME=PATH" for each disk image (PATH as the device VM can
// open it: /proc/self/fd/N of trace_image_fds) and "sim-protocol=".
std::string trace_template(const DeviceVmPlan &plan);

// --trace FILE: where device VM `vm` of `count` records. One device VM:
// FILE itself; several (--isolate per-device): FILE's stem + ".<vm>" + its
// extension, e.g. run.vtrace -> run.0.vtrace, run.1.vtrace (vm = the
// --device's position).
std::string trace_path(const std::string &trace, size_t vm, size_t count);

// Guest VM on the shared RAM, one rpc-channel (a bus-less -device) per device VM, one
// rpc-proxy-pci per device.
// The guest QEMU run unprivileged: QEMU's seccomp sandbox (as the device VM's), and
// the firmware directories by absolute path (a QEMU run from its build tree looks for
// them through its own folder, which the unprivileged user may not search).
void add_guest_sandbox(Argv &a);

Argv guest_vm_argv(const Options &o, bool use_kvm, const GuestRam &ram,
		   const std::vector<GuestChannel> &channels);

// Baseline: the devices live inside the guest QEMU (no device VM, no channel).
Argv monolithic_argv(const Options &o, bool use_kvm, const std::vector<int> &blk_fds,
		     const std::vector<devvm::SocketFd> &socket_fds = {},
		     const std::vector<int> &blk_ro_fds = {});

} // namespace vsst
