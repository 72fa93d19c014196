// SPDX-License-Identifier: Apache-2.0
// Unix stream sockets by path: listening, accepting within a bound, and waiting
// until a server (a simulator, a device VM's control socket) accepts.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "vsst/posix/unique_fd.h"

namespace vsst {

class ChildProcess;

// A listening socket at path (which must not exist: nothing is removed on the caller's
// behalf); invalid with error set ("PATH: reason") on failure. The caller removes the
// file when done.
UniqueFd listen_unix(const std::string &path, std::string &error);

// Accepts one connection within timeout; gives up early when stop() says so (checked
// every 100 ms). The connection is blocking and close-on-exec; invalid on timeout.
UniqueFd accept_within(int listener, std::chrono::milliseconds timeout,
		       const std::function<bool()> &stop = {});

// A blocking, close-on-exec connection to the Unix socket at path; invalid with err set
// to the errno (ENOENT: no such file, ECONNREFUSED: nobody listens) on failure.
UniqueFd connect_unix(const std::string &path, int &err);

// The peer credentials of a connected Unix socket (SO_PEERCRED); nullopt when the
// kernel gives none.
struct PeerCred {
	int64_t pid = -1;
	uint32_t uid = 0;
	uint32_t gid = 0;
};
std::optional<PeerCred> peer_credentials(int fd);

// Sends one message (a datagram on SOCK_SEQPACKET) with the descriptors fds attached
// (SCM_RIGHTS), without blocking; the errno on failure, 0 on success.
int send_with_fds(int sock, const void *data, size_t len, const int *fds, size_t nfds);

// True once the Unix socket at path accepts a connection (each probe connects and
// closes at once); false after timeout, or as soon as owner (if given) has exited.
bool wait_for_socket(const std::string &path, std::chrono::milliseconds timeout,
		     ChildProcess *owner = nullptr);

} // namespace vsst
