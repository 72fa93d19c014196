// SPDX-License-Identifier: Apache-2.0
#include "host_sockets.h"

#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

#include "share_access.h"
#include "vsst/posix/unix_socket.h"

namespace vsst {

namespace {

// A socket file at path that nobody listens at: left behind by a run that was killed.
bool stale_socket(const std::string &path)
{
	struct stat st;
	if (lstat(path.c_str(), &st) < 0 || !S_ISSOCK(st.st_mode))
		return false;
	int err = 0;
	UniqueFd probe = connect_unix(path, err);
	return !probe && err == ECONNREFUSED;
}

} // namespace

HostSockets::~HostSockets()
{
	for (const Created &c : created_) {
		struct stat st;
		// Only the file this run bound: a later run may have replaced it.
		if (lstat(c.path.c_str(), &st) == 0 && st.st_dev == c.dev && st.st_ino == c.ino)
			unlink(c.path.c_str());
	}
}

bool HostSockets::listen_at(const std::string &path, UniqueFd &out, std::string &error)
{
	if (stale_socket(path)) {
		spdlog::info("{}: removing a stale socket nobody listens at", path);
		unlink(path.c_str());
	}
	// Born 0600: nobody else may connect before it is handed over.
	const mode_t old_mask = umask(0177);
	out = listen_unix(path, error);
	umask(old_mask);
	if (!out)
		return false;
	struct stat st;
	if (lstat(path.c_str(), &st) == 0)
		created_.push_back({path, st.st_dev, st.st_ino});
	// As root: the invoking user's programs talk to it (SUDO_UID, as for --share).
	const ShareOwner owner = share_owner();
	if (geteuid() == 0 && owner.uid != 0 && chown(path.c_str(), owner.uid, owner.gid) < 0) {
		error = path + ": chown: " + strerror(errno);
		return false;
	}
	return true;
}

bool HostSockets::open(const std::vector<const DeviceSpec *> &devices, std::vector<devvm::SocketFd> &fds,
		       Outcome &outcome)
{
	for (const DeviceSpec *d : devices) {
		if (d->kind != DeviceKind::Net && d->kind != DeviceKind::Console)
			continue;
		UniqueFd fd;
		bool listening = true;
		std::string error;
		if (d->kind == DeviceKind::Net) {
			// Join the LAN if a run listens there; else open it. Two runs that start
			// together race for the bind: the loser finds the winner listening.
			for (int attempt = 0; attempt < 3 && !fd; attempt++) {
				int err = 0;
				fd = connect_unix(d->file, err);
				if (fd) {
					listening = false;
					break;
				}
				if (err != ENOENT && err != ECONNREFUSED) {
					error = d->file + ": " + strerror(err);
					break;
				}
				if (err == ECONNREFUSED && !stale_socket(d->file)) {
					error = d->file + ": exists and is not a LAN socket";
					break;
				}
				if (listen_at(d->file, fd, error))
					break;
				fd.reset();
			}
			if (fd)
				spdlog::info("virtio-net: {} the LAN at {} ({})",
					     listening ? "listening for the peer on" : "joined", d->file,
					     d->text);
		} else {
			struct stat st;
			if (lstat(d->file.c_str(), &st) == 0 && !stale_socket(d->file))
				error = d->file + " exists (the console's socket is created by the launcher)";
			else if (listen_at(d->file, fd, error))
				spdlog::info("virtio-console: host end listening at {}", d->file);
		}
		if (!fd) {
			outcome.fail(kExitUsage, std::string(devvm::device_kind_name(d->kind)) + ": " +
							 (error.empty() ? d->file : error));
			return false;
		}
		fds.push_back({fd.get(), listening});
		fds_.push_back(std::move(fd));
	}
	return true;
}

} // namespace vsst
