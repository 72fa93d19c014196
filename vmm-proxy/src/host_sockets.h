// SPDX-License-Identifier: Apache-2.0
// host_sockets.h - the Unix sockets a virtio-net (its virtual LAN) and a virtio-console
// (its host end) use. The launcher opens them and the QEMU that serves the device - the
// sandboxed, unprivileged device VM, or the guest QEMU with --monolithic - inherits the
// descriptors: it never names, creates or connects a socket by path, and it has no host
// network interface. vmm-proxy/README.md ("Networks and consoles") has the rules.
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

#include "options.h"
#include "outcome.h"
#include "vsst/posix/unique_fd.h"

namespace vsst {

// The sockets of one QEMU's devices, and the socket files this run created (removed when
// it ends, if they are still the ones it bound).
class HostSockets {
public:
	HostSockets() = default;
	HostSockets(const HostSockets &) = delete;
	HostSockets &operator=(const HostSockets &) = delete;
	HostSockets(HostSockets &&) = default;
	HostSockets &operator=(HostSockets &&) = default;
	~HostSockets();

	// One socket per virtio-net or virtio-console among devices, in order (fds gets
	// the descriptors as add_devices wants them). False after outcome.fail().
	//  virtio-net,lan=PATH: a point-to-point virtual LAN. If a run already listens at
	//    PATH, this one connects (the device VM gets the connection: -netdev stream,
	//    server=off); else it binds PATH (a stale socket file nobody listens at is
	//    replaced) and the device VM accepts the peer on it (server=on).
	//  virtio-console,socket=PATH: a listening socket at PATH (0600, handed to owner_uid
	//    when root, so the invoking user's programs may connect); PATH must not exist
	//    unless it is a stale socket.
	bool open(const std::vector<const DeviceSpec *> &devices, std::vector<devvm::SocketFd> &fds,
		  Outcome &outcome);

private:
	struct Created {
		std::string path;
		dev_t dev = 0;
		ino_t ino = 0;
	};
	bool listen_at(const std::string &path, UniqueFd &out, std::string &error);

	std::vector<UniqueFd> fds_;
	std::vector<Created> created_;
};

} // namespace vsst
