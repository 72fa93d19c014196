// SPDX-License-Identifier: Apache-2.0
// Where a simulator listens, and who may talk to it: the checks sst-sim and
// the SST-core bridge share (one home), so that neither serves a socket
// another user could squat, remove a file that is no longer its own, or hand
// a device to any process that connects first.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vsst/posix/unique_fd.h"
#include "vsst/posix/unix_socket.h"

namespace vsst::sim {

// $XDG_RUNTIME_DIR/vsst when XDG_RUNTIME_DIR names an absolute path (the
// per-user runtime directory), else /tmp/vsst-<euid>.
std::string default_socket_dir();

// Makes `dir` a private directory of ours: creates it (0700) when missing;
// refuses (false, `err` says why and, from `way_out`, what to do) a symlink,
// a non-directory, one owned by another user or one that grants group/other
// any access.
bool ensure_private_dir(const std::string &dir, std::string &err,
			std::string_view way_out = "pass --socket PATH");

// A listening Unix socket bound at a path. The file is removed when this is
// closed or destroyed, but only while it is still the one we bound (same
// st_dev/st_ino): a path someone replaced after us is left alone.
class SocketFile {
public:
	SocketFile() = default;
	~SocketFile() { close(); }
	SocketFile(const SocketFile &) = delete;
	SocketFile &operator=(const SocketFile &) = delete;

	// Binds and listens (non-blocking, close-on-exec). Refuses a path that is
	// not a socket and one a live server answers on; replaces a stale socket
	// (nobody accepting: ECONNREFUSED), setting *replaced_stale.
	bool open(const std::string &path, int backlog, std::string &err, bool *replaced_stale = nullptr);
	// Removes the file if it is still ours, and stops listening.
	void close();
	// The file at path() is still the socket we bound.
	bool still_ours() const;

	int fd() const { return fd_.get(); }
	explicit operator bool() const { return static_cast<bool>(fd_); }
	const std::string &path() const { return path_; }

private:
	UniqueFd fd_;
	std::string path_;
	dev_t dev_ = 0;
	ino_t ino_ = 0;
	bool bound_ = false;
};

// Which peers may connect, by SO_PEERCRED uid. The default admits our own
// effective uid and root.
struct PeerPolicy {
	bool any = false;           // no check (the socket's directory is the only gate)
	std::vector<uint32_t> uids; // admitted uids (when !any)
	std::vector<std::pair<uint32_t, uint32_t>> ranges; // admitted uid ranges, inclusive

	static PeerPolicy own_uid_and_root();
	// "any", or a comma-separated list of uids and FIRST-LAST ranges (vmm-proxy's
	// --id-range) ("" = own_uid_and_root()).
	static std::optional<PeerPolicy> parse(std::string_view text, std::string &err);
	bool allows(uint32_t uid) const;
	std::string describe() const;
};

// The peer credentials of a connected Unix socket: posix's (vsst/posix/unix_socket.h).
using vsst::peer_credentials;
using vsst::PeerCred;

// Accepts one pending connection (non-blocking, close-on-exec) whose peer the
// policy admits. Connections it refuses are closed at once and described in
// `refused` (one line each: "uid U pid P"); returns an invalid fd when no
// admitted connection is pending.
UniqueFd accept_admitted(int listen_fd, const PeerPolicy &policy, std::vector<std::string> &refused);

} // namespace vsst::sim
