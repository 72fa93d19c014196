// SPDX-License-Identifier: Apache-2.0
#include "vsst/posix/temp_dir.h"

#include <stdlib.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <system_error>
#include <utility>

namespace vsst {

namespace fs = std::filesystem;

TempDir::TempDir(const std::string &prefix)
{
	std::error_code ec;
	fs::path base = fs::temp_directory_path(ec);
	if (ec)
		base = "/tmp";
	std::string tmpl = (base / (prefix + "-XXXXXX")).string();
	if (!mkdtemp(tmpl.data()))
		throw std::system_error(errno, std::generic_category(), "mkdtemp " + tmpl);
	path_ = tmpl;
}

TempDir::TempDir(TempDir &&o) noexcept : path_(std::exchange(o.path_, {})), keep_(o.keep_)
{
}

TempDir &TempDir::operator=(TempDir &&o) noexcept
{
	if (this != &o) {
		remove();
		path_ = std::exchange(o.path_, {});
		keep_ = o.keep_;
	}
	return *this;
}

TempDir::~TempDir()
{
	remove();
}

void TempDir::remove()
{
	if (path_.empty())
		return;
	const char *keep = std::getenv("VSST_KEEP_TEST_DIRS");
	if (keep_ || (keep && *keep == '1')) {
		std::fprintf(stderr, "kept %s\n", path_.c_str());
		return;
	}
	std::error_code ec;
	fs::remove_all(path_, ec);
	path_.clear();
}

} // namespace vsst
