// SPDX-License-Identifier: Apache-2.0
// A scratch directory (sockets, logs) removed with everything in it on destruction,
// unless kept (keep(), or VSST_KEEP_TEST_DIRS=1 for a failed test's leftovers).
#pragma once

#include <filesystem>
#include <string>

namespace vsst {

class TempDir {
public:
	// Creates $TMPDIR/<prefix>-XXXXXX; throws std::system_error when it cannot.
	explicit TempDir(const std::string &prefix = "vsst");
	~TempDir();
	TempDir(TempDir &&o) noexcept;
	TempDir &operator=(TempDir &&o) noexcept;
	TempDir(const TempDir &) = delete;
	TempDir &operator=(const TempDir &) = delete;

	const std::filesystem::path &path() const { return path_; }
	std::string file(const std::string &name) const { return (path_ / name).string(); }
	void keep() { keep_ = true; }

private:
	void remove();

	std::filesystem::path path_;
	bool keep_ = false;
};

} // namespace vsst
