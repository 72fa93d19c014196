// SPDX-License-Identifier: Apache-2.0
// The share's host side: ACL grants for the device VM's identity and their undoing,
// ownership of what the guest created. Walks never follow symlinks (openat with
// O_NOFOLLOW from the parent's descriptor, fchownat with AT_SYMLINK_NOFOLLOW): the tree
// was writable by the guest, and vmm-proxy walks it as root.
#include "share_access.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "vsst/posix/unique_fd.h"

namespace vsst {

namespace {

constexpr const char *kAclXattr = "system.posix_acl_access";
constexpr uint32_t kAclVersion = 2;
constexpr uint32_t kUndefinedId = 0xffffffffu;
// Deeper trees are not walked further (a bound on the recursion, not a policy).
constexpr int kMaxDepth = 128;

const char *default_env(const char *name)
{
	return getenv(name);
}

bool parse_id(const char *text, uint32_t &out)
{
	if (!text || !*text)
		return false;
	const char *end = text + strlen(text);
	auto [p, ec] = std::from_chars(text, end, out);
	return ec == std::errc() && p == end;
}

std::string join(const std::string &rel, const char *name)
{
	return rel.empty() ? std::string(name) : rel + "/" + name;
}

// Does user `who` (primary group only: nobody has no other) have `need` by the mode bits?
bool mode_allows(const struct stat &st, const Credentials &who, unsigned need)
{
	unsigned bits;
	if (st.st_uid == who.uid)
		bits = (st.st_mode >> 6) & 7;
	else if (st.st_gid == who.gid)
		bits = (st.st_mode >> 3) & 7;
	else
		bits = st.st_mode & 7;
	return (bits & need) == need;
}

// The inode's identity (dev, ino, birth time) for an open descriptor.
// Opens the entry lstat'ed as st (no symlink followed, no atime touched); invalid if
// it is gone or was replaced since, so nothing is changed on an inode not walked.
UniqueFd open_entry(int dirfd, const char *name, const struct stat &st, struct stat &now)
{
	UniqueFd fd(openat(dirfd, name,
			   O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOATIME | O_CLOEXEC |
				   (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0)));
	if (!fd || fstat(fd.get(), &now) < 0 || now.st_ino != st.st_ino || now.st_dev != st.st_dev)
		return UniqueFd();
	return fd;
}

ShareAccess::Key key_of(int fd, const struct stat &st)
{
	struct statx sx;
	int64_t born = 0;
	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_BTIME, &sx) == 0 &&
	    (sx.stx_mask & STATX_BTIME))
		born = static_cast<int64_t>(sx.stx_btime.tv_sec) * 1000000000 + sx.stx_btime.tv_nsec;
	return {st.st_dev, st.st_ino, born};
}

// The same for a directory entry (a symlink itself, not its target).
ShareAccess::Key key_at(int dirfd, const char *name, const struct stat &st)
{
	struct statx sx;
	int64_t born = 0;
	if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW, STATX_BTIME, &sx) == 0 && (sx.stx_mask & STATX_BTIME))
		born = static_cast<int64_t>(sx.stx_btime.tv_sec) * 1000000000 + sx.stx_btime.tv_nsec;
	return {st.st_dev, st.st_ino, born};
}

// Reads the access ACL; false with errno on failure (ENODATA: none).
bool read_acl(int fd, std::vector<char> &out)
{
	for (int tries = 0; tries < 4; tries++) {
		ssize_t n = fgetxattr(fd, kAclXattr, nullptr, 0);
		if (n < 0)
			return false;
		out.resize(static_cast<size_t>(n));
		n = fgetxattr(fd, kAclXattr, out.data(), out.size());
		if (n >= 0) {
			out.resize(static_cast<size_t>(n));
			return true;
		}
		if (errno != ERANGE)
			return false;
	}
	return false;
}

} // namespace

namespace acl {

bool decode(const std::vector<char> &value, std::vector<Entry> &out)
{
	out.clear();
	if (value.size() < 4 || (value.size() - 4) % 8 != 0)
		return false;
	auto le16 = [&](size_t at) {
		return static_cast<uint16_t>(static_cast<uint8_t>(value[at]) |
					     static_cast<uint8_t>(value[at + 1]) << 8);
	};
	auto le32 = [&](size_t at) {
		return static_cast<uint32_t>(le16(at)) | static_cast<uint32_t>(le16(at + 2)) << 16;
	};
	if (le32(0) != kAclVersion)
		return false;
	for (size_t at = 4; at < value.size(); at += 8)
		out.push_back({le16(at), le16(at + 2), le32(at + 4)});
	return true;
}

std::vector<char> encode(const std::vector<Entry> &entries)
{
	std::vector<char> v;
	auto put16 = [&](uint16_t x) {
		v.push_back(static_cast<char>(x & 0xff));
		v.push_back(static_cast<char>(x >> 8));
	};
	auto put32 = [&](uint32_t x) {
		put16(static_cast<uint16_t>(x & 0xffff));
		put16(static_cast<uint16_t>(x >> 16));
	};
	put32(kAclVersion);
	for (const Entry &e : entries) {
		put16(e.tag);
		put16(e.perm);
		put32(e.id);
	}
	return v;
}

std::vector<Entry> from_mode(mode_t mode)
{
	return {{UserObj, static_cast<uint16_t>((mode >> 6) & 7), kUndefinedId},
		{GroupObj, static_cast<uint16_t>((mode >> 3) & 7), kUndefinedId},
		{Other, static_cast<uint16_t>(mode & 7), kUndefinedId}};
}

std::vector<Entry> with_user(std::vector<Entry> entries, uint32_t uid, uint16_t perm)
{
	bool have_user = false, have_mask = false;
	for (Entry &e : entries) {
		if (e.tag == User && e.id == uid) {
			e.perm |= perm;
			have_user = true;
		}
	}
	if (!have_user)
		entries.push_back({User, perm, uid});
	for (Entry &e : entries) {
		if (e.tag == Mask) {
			e.perm |= perm;
			have_mask = true;
		}
	}
	// Without a mask, the group class was exactly the group entry: a mask of the group
	// entry plus the new perm changes nobody's effective rights but the new user's.
	if (!have_mask) {
		uint16_t group_obj = 0;
		for (const Entry &e : entries)
			if (e.tag == GroupObj)
				group_obj = e.perm;
		entries.push_back({Mask, static_cast<uint16_t>(group_obj | perm), kUndefinedId});
	}
	std::sort(entries.begin(), entries.end(), [](const Entry &a, const Entry &b) {
		return a.tag != b.tag ? a.tag < b.tag : a.id < b.id;
	});
	return entries;
}

} // namespace acl

ShareOwner share_owner(const char *(*env)(const char *))
{
	if (!env)
		env = default_env;
	ShareOwner o;
	o.uid = getuid();
	o.gid = getgid();
	o.source = "launcher";
	uint32_t uid = 0, gid = 0;
	if (geteuid() == 0 && parse_id(env("SUDO_UID"), uid)) {
		o.uid = uid;
		o.source = "SUDO_UID";
		// SUDO_GID goes with it; without one the user's own uid stands in as a group
		// (a private group on Debian), never root's.
		o.gid = parse_id(env("SUDO_GID"), gid) ? gid : uid;
	}
	return o;
}

std::string check_share_dir(const std::string &path)
{
	struct stat st;
	if (stat(path.c_str(), &st) < 0) {
		if (errno == ENOENT)
			return "shared directory " + path + " does not exist";
		return "shared directory " + path + ": " + strerror(errno);
	}
	if (!S_ISDIR(st.st_mode))
		return "shared directory " + path + " is not a directory";
	UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (!fd)
		return "shared directory " + path + ": " + strerror(errno);
	return "";
}

bool ShareAccess::grant(const std::string &dir, bool readonly, const Credentials &device,
			const ShareOwner &owner, std::string &error)
{
	restore();
	report_ = {};
	saved_.clear();
	existing_.clear();
	dir_ = dir;
	readonly_ = readonly;
	device_ = device;
	owner_ = owner;
	// Only root can change another user's ACLs or chown; otherwise the device VM runs as
	// the launcher's own user, which the files already belong to.
	if (geteuid() != 0)
		return true;
	const bool need_grant = device.uid != 0 && device.uid != owner.uid;
	chown_new_ = !readonly && device.uid != owner.uid;
	if (!need_grant && !chown_new_)
		return true;
	UniqueFd root(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	struct stat st;
	if (!root || fstat(root.get(), &st) < 0) {
		error = "shared directory " + dir + ": " + strerror(errno);
		return false;
	}
	root_dev_ = st.st_dev;
	active_ = true;
	if (need_grant && !grant_one(root.get(), st, error)) {
		restore();
		return false;
	}
	if (!walk_grant(root.get(), "", 0, error)) {
		restore();
		return false;
	}
	return true;
}

// Adds the device user's ACL entry on one inode (if its mode bits do not already give
// what the share needs) after saving what was there.
bool ShareAccess::grant_one(int fd, const struct stat &st, std::string &error)
{
	if (device_.uid == 0 || device_.uid == owner_.uid)
		return true;
	const unsigned need = S_ISDIR(st.st_mode) ? (readonly_ ? 5 : 7) : (readonly_ ? 4 : 6);
	Saved saved;
	saved.mode = st.st_mode & 07777;
	saved.uid = st.st_uid;
	saved.gid = st.st_gid;
	saved.had_acl = read_acl(fd, saved.acl);
	if (!saved.had_acl && errno != ENODATA) {
		error = "cannot read the ACL of " + dir_ + ": " + strerror(errno) +
			(errno == EOPNOTSUPP
				 ? " (the file system has no POSIX ACLs; share a directory on one "
				   "that has, or pass --run-as '' to keep the device VM as root)"
				 : "");
		return false;
	}
	std::vector<acl::Entry> entries;
	if (saved.had_acl && !acl::decode(saved.acl, entries)) {
		error = "unexpected ACL format on an entry of " + dir_;
		return false;
	}
	const bool lend = !readonly_ && st.st_uid != device_.uid;
	const bool acl_needed = saved.had_acl || !mode_allows(st, device_, need);
	if (!lend && !acl_needed)
		return true; // the mode bits already let the device VM in
	// Saved first: a failed or interrupted change is still undone.
	saved.lent = lend;
	saved_[key_of(fd, st)] = saved;
	if (lend) {
		if (fchown(fd, device_.uid, static_cast<gid_t>(-1)) < 0) {
			saved_[key_of(fd, st)].lent = false;
			error = "cannot lend " + dir_ + " to " + device_.name + ": " + strerror(errno);
			return false;
		}
		report_.lent++;
	}
	if (!acl_needed)
		return true;
	if (!saved.had_acl)
		entries = acl::from_mode(st.st_mode);
	const std::vector<char> value = acl::encode(acl::with_user(entries, device_.uid, need));
	if (fsetxattr(fd, kAclXattr, value.data(), value.size(), 0) < 0) {
		error = "cannot grant " + device_.name + " access to " + dir_ + ": " + strerror(errno) +
			(errno == EOPNOTSUPP
				 ? " (the file system has no POSIX ACLs; share a directory on one "
				   "that has, or pass --run-as '' to keep the device VM as root)"
				 : "");
		return false;
	}
	report_.granted++;
	return true;
}

bool ShareAccess::walk_grant(int dirfd, const std::string &rel, int depth, std::string &error)
{
	if (depth >= kMaxDepth)
		return true;
	UniqueFd listing(openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	DIR *d = listing ? fdopendir(listing.get()) : nullptr;
	if (!d) {
		error = "cannot list " + dir_ + "/" + rel + ": " + strerror(errno);
		return false;
	}
	(void)listing.release(); // closedir owns it now
	bool ok = true;
	while (ok) {
		errno = 0;
		struct dirent *e = readdir(d);
		if (!e)
			break;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; // gone meanwhile
		if (st.st_uid == device_.uid)
			existing_.insert(key_at(dirfd, e->d_name, st));
		// Regular files and directories only: a symlink's own permissions mean nothing,
		// and sockets, FIFOs and device nodes are not opened. Other file systems mounted
		// inside the share keep their own rules.
		if ((!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) || st.st_dev != root_dev_)
			continue;
		struct stat now;
		UniqueFd fd = open_entry(dirfd, e->d_name, st, now);
		if (!fd)
			continue; // gone or replaced meanwhile
		const std::string path = join(rel, e->d_name);
		ok = grant_one(fd.get(), now, error);
		if (ok && S_ISDIR(now.st_mode))
			ok = walk_grant(fd.get(), path, depth + 1, error);
	}
	closedir(d);
	return ok;
}

void ShareAccess::note_failure(const std::string &what)
{
	report_.failed++;
	if (report_.first_error.empty())
		report_.first_error = what;
}

void ShareAccess::restore_one(int fd, const struct stat &st, const Saved &saved, const std::string &rel)
{
	const std::string name = dir_ + (rel.empty() ? "" : "/" + rel);
	if (saved.lent) {
		// Given back first: chown clears set-id bits, which the mode below restores.
		if (fchown(fd, saved.uid, saved.gid) < 0) {
			note_failure("giving " + name + " back to uid " + std::to_string(saved.uid) + ": " +
				     strerror(errno));
			return;
		}
	}
	int rc = saved.had_acl ? fsetxattr(fd, kAclXattr, saved.acl.data(), saved.acl.size(), 0)
			       : fremovexattr(fd, kAclXattr);
	if (rc < 0 && !(errno == ENODATA && !saved.had_acl)) {
		note_failure("restoring the ACL of " + name + ": " + strerror(errno));
		return;
	}
	// The grant moved the group bits (they show the ACL mask); whatever else the guest
	// changed with chmod (owner, other bits) stays; set-id bits as they were.
	const mode_t keep = static_cast<mode_t>(S_IRWXG) | (saved.lent ? static_cast<mode_t>(06000) : 0);
	const mode_t mode = (st.st_mode & 07777 & ~keep) | (saved.mode & keep);
	if (fchmod(fd, mode) < 0) {
		note_failure("restoring the mode of " + name + ": " + strerror(errno));
		return;
	}
	report_.restored++;
}

void ShareAccess::walk_restore(int dirfd, const std::string &rel, int depth)
{
	if (depth >= kMaxDepth)
		return;
	UniqueFd listing(openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	DIR *d = listing ? fdopendir(listing.get()) : nullptr;
	if (!d) {
		note_failure("cannot list " + dir_ + "/" + rel + ": " + strerror(errno));
		return;
	}
	(void)listing.release();
	for (;;) {
		struct dirent *e = readdir(d);
		if (!e)
			break;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		const std::string path = join(rel, e->d_name);
		const Key key = key_at(dirfd, e->d_name, st);
		auto lent = saved_.find(key);
		// What the device VM created: its uid, not its before the run, not lent to it.
		if (chown_new_ && st.st_uid == device_.uid && !existing_.count(key) &&
		    !(lent != saved_.end() && lent->second.lent)) {
			if (fchownat(dirfd, e->d_name, owner_.uid, owner_.gid, AT_SYMLINK_NOFOLLOW) == 0) {
				report_.handed++;
				st.st_uid = owner_.uid;
			} else {
				note_failure("handing " + dir_ + "/" + path + " to uid " +
					     std::to_string(owner_.uid) + ": " + strerror(errno));
			}
		}
		if ((!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) || st.st_dev != root_dev_)
			continue;
		auto saved = lent;
		if (saved == saved_.end() && !S_ISDIR(st.st_mode))
			continue;
		struct stat now;
		UniqueFd fd = open_entry(dirfd, e->d_name, st, now);
		if (!fd)
			continue; // gone or replaced meanwhile
		if (saved != saved_.end()) {
			restore_one(fd.get(), now, saved->second, path);
			saved_.erase(saved);
		}
		if (S_ISDIR(now.st_mode))
			walk_restore(fd.get(), path, depth + 1);
	}
	closedir(d);
}

ShareAccess::Report ShareAccess::restore()
{
	if (!active_)
		return report_;
	active_ = false;
	UniqueFd root(open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	struct stat st;
	if (!root || fstat(root.get(), &st) < 0) {
		note_failure("shared directory " + dir_ + ": " + strerror(errno));
		return report_;
	}
	auto saved = saved_.find(key_of(root.get(), st));
	if (saved != saved_.end()) {
		restore_one(root.get(), st, saved->second, "");
		saved_.erase(saved);
	}
	walk_restore(root.get(), "", 0);
	// Granted inodes the guest removed need nothing; ones moved out of reach cannot be
	// (the device VM only reaches the share).
	saved_.clear();
	existing_.clear();
	return report_;
}

} // namespace vsst
