// SPDX-License-Identifier: Apache-2.0
#include "vsst/sim/socket_place.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace vsst::sim {

std::string default_socket_dir()
{
	const char *xdg = std::getenv("XDG_RUNTIME_DIR");
	if (xdg && xdg[0] == '/')
		return std::string(xdg) + "/vsst";
	return "/tmp/vsst-" + std::to_string(::geteuid());
}

bool ensure_private_dir(const std::string &dir, std::string &err, std::string_view way_out)
{
	const std::string hint = "; remove or fix it, or " + std::string(way_out);
	if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
		err = "cannot create the socket directory " + dir + ": " + std::strerror(errno) + " (" +
		      std::string(way_out) + ")";
		return false;
	}
	// lstat, not stat: a symlink planted at the name is refused, never followed.
	struct stat st {};
	if (::lstat(dir.c_str(), &st) != 0) {
		err = "cannot inspect the socket directory " + dir + ": " + std::strerror(errno);
		return false;
	}
	if (!S_ISDIR(st.st_mode)) {
		err = "socket directory " + dir + " is not a directory (a symlink or file)" + hint;
		return false;
	}
	if (st.st_uid != ::geteuid()) {
		err = "socket directory " + dir + " is owned by uid " + std::to_string(st.st_uid) +
		      ", not by us (uid " + std::to_string(::geteuid()) + ")" + hint;
		return false;
	}
	if ((st.st_mode & 077) != 0) {
		char mode[8];
		std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
		err = "socket directory " + dir + " has mode " + mode +
		      "; it must give group and others no access (chmod 700)" + hint;
		return false;
	}
	return true;
}

bool SocketFile::open(const std::string &path, int backlog, std::string &err, bool *replaced_stale)
{
	close();
	if (replaced_stale)
		*replaced_stale = false;
	sockaddr_un addr{};
	if (path.empty() || path.size() >= sizeof addr.sun_path) {
		err = "socket path empty or longer than " + std::to_string(sizeof addr.sun_path - 1);
		return false;
	}
	addr.sun_family = AF_UNIX;
	std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);

	struct stat st {};
	if (::lstat(path.c_str(), &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			err = path + " exists and is not a socket; not touching it";
			return false;
		}
		UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
		if (!probe) {
			err = std::string("socket: ") + std::strerror(errno);
			return false;
		}
		if (::connect(probe.get(), reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0) {
			err = "a live server is already listening on " + path;
			return false;
		}
		// Only "nobody accepts" makes it stale; anything else (EACCES, EAGAIN:
		// a full backlog of a live server) is not ours to remove.
		if (errno != ECONNREFUSED) {
			err = "cannot tell whether " + path + " is in use: " + std::strerror(errno);
			return false;
		}
		::unlink(path.c_str());
		if (replaced_stale)
			*replaced_stale = true;
	}
	UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	if (!fd) {
		err = std::string("socket: ") + std::strerror(errno);
		return false;
	}
	if (::bind(fd.get(), reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
		err = "bind " + path + ": " + std::strerror(errno);
		return false;
	}
	fd_ = std::move(fd);
	path_ = path;
	bound_ = true;
	if (::lstat(path.c_str(), &st) == 0) {
		dev_ = st.st_dev;
		ino_ = st.st_ino;
	}
	if (::listen(fd_.get(), backlog) != 0) {
		err = std::string("listen: ") + std::strerror(errno);
		close();
		return false;
	}
	return true;
}

bool SocketFile::still_ours() const
{
	struct stat st {};
	return bound_ && ::lstat(path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == dev_ &&
	       st.st_ino == ino_;
}

void SocketFile::close()
{
	if (still_ours())
		::unlink(path_.c_str());
	bound_ = false;
	fd_.reset();
}

PeerPolicy PeerPolicy::own_uid_and_root()
{
	PeerPolicy p;
	p.uids.push_back(::geteuid());
	if (::geteuid() != 0)
		p.uids.push_back(0);
	return p;
}

std::optional<PeerPolicy> PeerPolicy::parse(std::string_view text, std::string &err)
{
	if (text.empty())
		return own_uid_and_root();
	if (text == "any") {
		PeerPolicy p;
		p.any = true;
		return p;
	}
	PeerPolicy p;
	for (;;) {
		const size_t comma = text.find(',');
		const std::string_view item = text.substr(0, comma);
		auto number = [](std::string_view s, uint32_t &v) {
			const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
			return !s.empty() && ec == std::errc() && end == s.data() + s.size();
		};
		const size_t dash = item.find('-', 1);
		uint32_t first = 0, last = 0;
		const bool ok = dash == std::string_view::npos
					? number(item, first)
					: number(item.substr(0, dash), first) &&
						  number(item.substr(dash + 1), last) && first <= last;
		if (!ok) {
			err = "peer uids: '" + std::string(item) +
			      "' is not a uid or a FIRST-LAST range (want \"any\" or uids separated by commas)";
			return std::nullopt;
		}
		if (dash == std::string_view::npos)
			p.uids.push_back(first);
		else
			p.ranges.emplace_back(first, last);
		if (comma == std::string_view::npos)
			break;
		text.remove_prefix(comma + 1);
	}
	return p;
}

bool PeerPolicy::allows(uint32_t uid) const
{
	if (any)
		return true;
	for (uint32_t u : uids) {
		if (u == uid)
			return true;
	}
	for (const auto &[first, last] : ranges) {
		if (uid >= first && uid <= last)
			return true;
	}
	return false;
}

std::string PeerPolicy::describe() const
{
	if (any)
		return "any uid";
	std::string s = "uid";
	for (size_t i = 0; i < uids.size(); ++i)
		s += (i ? "," : " ") + std::to_string(uids[i]);
	for (size_t i = 0; i < ranges.size(); ++i)
		s += (i || !uids.empty() ? "," : " ") + std::to_string(ranges[i].first) + "-" +
		     std::to_string(ranges[i].second);
	return s;
}

UniqueFd accept_admitted(int listen_fd, const PeerPolicy &policy, std::vector<std::string> &refused)
{
	for (;;) {
		UniqueFd fd(::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
		if (!fd) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return fd;
		}
		if (policy.any)
			return fd;
		const auto cred = peer_credentials(fd.get());
		if (cred && policy.allows(cred->uid))
			return fd;
		refused.push_back(cred ? "uid " + std::to_string(cred->uid) + " pid " +
						  std::to_string(cred->pid)
				       : std::string("unknown peer (SO_PEERCRED failed)"));
	}
}

} // namespace vsst::sim
