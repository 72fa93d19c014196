// SPDX-License-Identifier: Apache-2.0
// The device VM's command line: -machine rpc-backend -accel rpc,<how the channel and
// RAM arrive>, its devices, and the isolation around them (no defaults, no NIC, no
// monitor, QEMU's seccomp sandbox).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "vsst/devvm/guest_ram.h"
#include "vsst/rpc.h"

namespace vsst::devvm {

struct Argv {
	std::vector<std::string> args;
	std::vector<int> inherit; // fds the child must keep (same numbers)
	Argv &add(std::initializer_list<std::string> more)
	{
		args.insert(args.end(), more);
		return *this;
	}
};

enum class DeviceKind { Sst, Rng, Blk, NineP, Net, Console };

// The mount tag of a virtio-9p share unless its extra properties name a mount_tag; the guest's
// /init mounts it at /mnt/host when vsst.share=rw|ro is on the kernel command line.
inline constexpr const char *kDefaultShareTag = "vsst-host";

// A device served by a device VM (or, in the monolithic baseline, by the guest QEMU).
struct DeviceSpec {
	DeviceKind kind = DeviceKind::Sst;
	std::string sim; // virtio-sst: simulator socket path
	// virtio-blk: image file; virtio-9p: the shared directory; virtio-net: the LAN's Unix
	// socket; virtio-console: its Unix socket.
	std::string file;
	bool readonly = false; // virtio-blk, virtio-9p
	// Further key=value pairs, passed through to its -device.
	std::vector<std::pair<std::string, std::string>> extra;
	std::string text; // as the user wrote it, for messages
};

const char *device_kind_name(DeviceKind k);

// A host socket a virtio-net (its LAN) or virtio-console (its chardev) uses, opened by the
// launcher and inherited: the device VM, sandboxed and unprivileged, creates and names no
// socket itself. listening: QEMU accepts on it (server=on); else it is connected.
struct SocketFd {
	int fd = -1;
	bool listening = false;
};

// Appends the -device lines (and their -object / -add-fd / -drive) for devices.
// blk_fds: one open image per virtio-blk, in order; handed over as QEMU fd sets, so the
// device VM needs no access to the image's path. share_fds: one open directory per
// virtio-9p, in order; its fsdev's path is /proc/self/fd/N, so the device VM reaches the
// shared directory through that descriptor and never by a path from /. socket_fds: one per
// virtio-net or virtio-console, in order: a virtio-net's LAN becomes -netdev stream with
// addr.type=fd (QEMU's 4-byte length framing), a virtio-console's chardev a socket chardev
// on the fd (server=on,wait=off) feeding a virtconsole on its own virtio-serial-pci.
// blk_ro_fds: per virtio-blk, in order, a read-only descriptor of the same image or -1: a
// writable image's fd set needs one, since QEMU opens the image read-only first and reopens
// it read-write once the device claims write access, each time taking the set's descriptor
// of that access mode (an O_RDWR one alone fails with EACCES).
void add_devices(Argv &a, const std::vector<const DeviceSpec *> &devices, const std::vector<int> &blk_fds,
		 const std::vector<int> &share_fds = {}, const std::vector<SocketFd> &socket_fds = {},
		 const std::vector<int> &blk_ro_fds = {});

// ",k=v" for a device's extra properties.
std::string device_props(const DeviceSpec &d);

// Escapes a value for QEMU's key=value option syntax (a comma is written twice).
std::string qemu_escape(const std::string &v);

// How the device VM receives the channel and guest RAM (-accel rpc,...).
enum class Handoff {
	SetupSocket,   // setup-fd=N: an inherited socket; vsst_setup_send over it
	InheritFds,    // fds=R:D:P,ram=fd@gpa+size+off: everything inherited
	ControlSocket, // control=PATH: it connects to our listener; vsst_setup_send
};

struct DeviceVmArgs {
	std::string qemu;
	Handoff handoff = Handoff::SetupSocket;
	int setup_fd = -1;                      // SetupSocket
	vsst_rpc_fds channel{-1, -1, -1};       // InheritFds
	int ram_fd = -1;                        // InheritFds
	std::vector<RamRegion> ram_layout;      // InheritFds
	std::string control_path;               // ControlSocket
	std::vector<std::string> accel_options; // more "key=value" for -accel rpc
	// more "key=value" for -machine rpc-backend (msi-base=, msi-size=: the guest
	// platform's MSI doorbell region, qemu/README.md)
	std::vector<std::string> machine_options;
	uint64_t ram_bytes = 0;        // -m (0: not given)
	bool sandbox = true;           // QEMU's seccomp filter, strict
	std::vector<std::string> args; // devices and anything else, at the end
};

// The whole command line; inherit lists the handoff's fds (the caller adds those
// its accel_options and args name).
Argv device_vm_argv(const DeviceVmArgs &d);

// Quotes a command line for the log (copy-paste into a shell).
std::string shell_quote(const std::vector<std::string> &args);

} // namespace vsst::devvm
