// SPDX-License-Identifier: Apache-2.0
#include "run_identities.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace vsst {

bool parse_id_range(const std::string &text, IdRange &out)
{
	const auto dash = text.find('-');
	if (dash == std::string::npos)
		return false;
	auto number = [](const std::string &s, uint64_t &v) {
		const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
		return !s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size();
	};
	uint64_t a = 0, b = 0;
	if (!number(text.substr(0, dash), a) || !number(text.substr(dash + 1), b))
		return false;
	// Above 2^31 - 1 some tools read uids as signed; 0 is root.
	if (a == 0 || a > b || b >= 0x7fffffffu)
		return false;
	out.first = static_cast<uid_t>(a);
	out.last = static_cast<uid_t>(b);
	return true;
}

bool uid_in_use(uid_t uid)
{
	DIR *d = opendir("/proc");
	if (!d)
		return true; // cannot tell: do not take it
	bool used = false;
	while (const dirent *e = readdir(d)) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		std::ifstream st(std::string("/proc/") + e->d_name + "/status");
		std::string line;
		while (std::getline(st, line)) {
			if (line.compare(0, 4, "Uid:") != 0)
				continue;
			std::istringstream ids(line.substr(4));
			uid_t real = 0, eff = 0, saved = 0;
			if (ids >> real >> eff >> saved && (real == uid || eff == uid || saved == uid))
				used = true;
			break;
		}
		if (used)
			break;
	}
	closedir(d);
	return used;
}

bool RunIdentities::use_named(const std::string &user, std::string &why)
{
	named_ = lookup_user(user);
	if (!named_)
		why = "no user named '" + user + "'";
	return named_.has_value();
}

bool RunIdentities::take_distinct(size_t count, const IdRange &range, const std::string &lock_dir,
				  std::string &why)
{
	// The lock directory is root's alone: nobody else can create or hold a lock.
	std::string path;
	for (size_t at = 1; at <= lock_dir.size(); at++) {
		if (at != lock_dir.size() && lock_dir[at] != '/')
			continue;
		path = lock_dir.substr(0, at);
		if (mkdir(path.c_str(), 0700) < 0 && errno != EEXIST) {
			why = "cannot create " + path + ": " + strerror(errno);
			return false;
		}
	}
	struct stat st;
	if (lstat(lock_dir.c_str(), &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & 0022)) {
		why = lock_dir + " must be a directory of root's that no one else may write";
		return false;
	}
	for (uint64_t id = range.first; id <= range.last && ids_.size() < count; id++) {
		const auto uid = static_cast<uid_t>(id);
		if (getpwuid(uid) || getgrgid(static_cast<gid_t>(uid)))
			continue; // an account or group has it
		const std::string lock = lock_dir + "/" + std::to_string(id) + ".lock";
		UniqueFd fd(open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
		if (!fd || flock(fd.get(), LOCK_EX | LOCK_NB) < 0)
			continue; // another run holds it
		// A process may still run as it (one that outlived its run, or a stranger's).
		if (uid_in_use(uid))
			continue;
		ids_.push_back(Credentials{uid, static_cast<gid_t>(uid), "uid " + std::to_string(id)});
		locks_.push_back(std::move(fd));
	}
	if (ids_.size() < count) {
		why = "--id-range " + std::to_string(range.first) + "-" + std::to_string(range.last) +
		      " has " + std::to_string(ids_.size()) + " free id(s), the run needs " +
		      std::to_string(count);
		ids_.clear();
		locks_.clear();
		return false;
	}
	return true;
}

std::optional<Credentials> RunIdentities::of(size_t n) const
{
	if (named_)
		return named_;
	if (n < ids_.size())
		return ids_[n];
	return std::nullopt;
}

} // namespace vsst
