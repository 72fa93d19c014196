// SPDX-License-Identifier: Apache-2.0
// share_access.h - the host side of a virtio-9p share (--share DIR[:ro]): who owns what
// the guest writes, and what the device VM's identity may touch for the run.
//
// The device VM runs as nobody (vmm-proxy started as root) inside QEMU's seccomp sandbox
// and reaches the share only through a descriptor vmm-proxy opened (fsdev
// path=/proc/self/fd/N). Its 9p server acts with nobody's rights, so for the run nobody
// gets an ACL entry on the share's existing directories and files (r-x / r for :ro, rwx /
// rw for rw) where the mode bits do not already allow it; nothing outside DIR is touched.
// In rw mode the existing files and directories are also lent to nobody (chown) for the
// run: the guest truncates, touches and chmods files it did not create, and the kernel
// allows explicit timestamps and mode changes to the owner only.
// At teardown, after the device VM has exited, every changed inode gets its ACL and
// group mode bits back, and (rw) every entry the device VM created - owned by its uid and
// not in the share before the run - is handed to the invoking user (SUDO_UID/SUDO_GID,
// else the launcher's own uid). vmm-proxy/README.md ("Shared folders") has the rules.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "vsst/posix/child_process.h"

namespace vsst {

// The user files written through a share end up owned by.
struct ShareOwner {
	uid_t uid = 0;
	gid_t gid = 0;
	std::string source; // "SUDO_UID", "launcher" (for the log)
};

// SUDO_UID/SUDO_GID when vmm-proxy runs as root and they are set (numeric), else the
// launcher's real uid and gid. env: getenv, replaceable by tests.
ShareOwner share_owner(const char *(*env)(const char *) = nullptr);

// "" when path names an existing directory the launcher can open; else why not, one line
// ("... does not exist", "... is not a directory", ...).
std::string check_share_dir(const std::string &path);

class ShareAccess {
public:
	struct Report {
		size_t granted = 0;  // inodes that got an ACL entry
		size_t lent = 0;     // rw: inodes lent to the device VM's user for the run
		size_t restored = 0; // of those, put back
		size_t handed = 0;   // entries created by the device VM, chowned to the owner
		size_t failed = 0;
		std::string first_error;
	};

	ShareAccess() = default;
	ShareAccess(const ShareAccess &) = delete;
	ShareAccess &operator=(const ShareAccess &) = delete;
	~ShareAccess() { restore(); }

	// Prepares dir for a device VM running as `device`: grants it access (when it is not
	// root and not the owner of everything already) and, for rw, records what exists so
	// that restore() can tell what the device VM created. Only as root does anything
	// change; otherwise the device VM runs as the launcher's user and needs nothing.
	// False with error (one line) when the directory cannot be prepared, e.g. a file
	// system without POSIX ACLs; whatever was granted is then already undone.
	bool grant(const std::string &dir, bool readonly, const Credentials &device, const ShareOwner &owner,
		   std::string &error);

	// Puts back every changed ACL and mode and hands the device VM's new entries to the
	// owner. Call after the device VM has exited. Idempotent.
	Report restore();

	const Report &report() const { return report_; }
	const std::string &dir() const { return dir_; }

	// What one inode looked like before its grant.
	struct Saved {
		mode_t mode = 0;
		bool had_acl = false;
		// rw: the inode was lent to the device VM's user for the run (its owner is
		// given back at the end).
		bool lent = false;
		uid_t uid = 0;
		gid_t gid = 0;
		std::vector<char> acl; // system.posix_acl_access as it was
	};
	// An inode's identity: device, number and birth time (statx; 0 where the file
	// system has none), since a removed file's number is soon reused for a new one.
	using Key = std::tuple<dev_t, ino_t, int64_t>;

private:
	bool walk_grant(int dirfd, const std::string &rel, int depth, std::string &error);
	void walk_restore(int dirfd, const std::string &rel, int depth);
	bool grant_one(int fd, const struct stat &st, std::string &error);
	void restore_one(int fd, const struct stat &st, const Saved &saved, const std::string &rel);
	void note_failure(const std::string &what);

	std::string dir_;
	bool active_ = false;
	bool readonly_ = false;
	bool chown_new_ = false;
	Credentials device_{};
	ShareOwner owner_;
	dev_t root_dev_ = 0;
	std::map<Key, Saved> saved_;
	// Entries the device VM's user owned before the run (usually none): the only ones
	// of its entries that are not handed to the owner afterwards.
	std::set<Key> existing_;
	Report report_;
};

// The POSIX ACL xattr codec (kernel ABI, linux/posix_acl_xattr.h), exposed for tests.
namespace acl {
enum Tag : uint16_t { UserObj = 0x01, User = 0x02, GroupObj = 0x04, Group = 0x08, Mask = 0x10, Other = 0x20 };
struct Entry {
	uint16_t tag;
	uint16_t perm; // rwx = 4|2|1
	uint32_t id;   // uid/gid for User/Group, else 0xffffffff
};
// Entries from an xattr value; false if it is not a version-2 ACL.
bool decode(const std::vector<char> &value, std::vector<Entry> &out);
std::vector<char> encode(const std::vector<Entry> &entries);
// The three entries mode's permission bits stand for.
std::vector<Entry> from_mode(mode_t mode);
// entries plus `perm` for user `uid` (merged into an entry it has), with a mask that keeps
// everyone else's effective rights; sorted as the kernel wants.
std::vector<Entry> with_user(std::vector<Entry> entries, uint32_t uid, uint16_t perm);
} // namespace acl

} // namespace vsst
