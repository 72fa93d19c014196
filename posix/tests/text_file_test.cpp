// SPDX-License-Identifier: Apache-2.0
// The JSON string quoting every JSON writer uses, and atomic file replacement.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "vsst/posix/atomic_file.h"
#include "vsst/posix/json_string.h"
#include "vsst/posix/temp_dir.h"

namespace vsst {
namespace {

std::string slurp(const std::string &path)
{
	std::ifstream f(path);
	return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

TEST(JsonString, EscapesKeepsUtf8AndReplacesTheRest)
{
	EXPECT_EQ(json_quote("plain"), "\"plain\"");
	EXPECT_EQ(json_quote("a\"b\\c\nd\te"), "\"a\\\"b\\\\c\\nd\\te\"");
	EXPECT_EQ(json_quote(std::string("\x01\x1f\x7f", 3)), "\"\\u0001\\u001f\\u007f\"");
	EXPECT_EQ(json_quote("é €"), "\"é €\"");
	// Not UTF-8: a lone continuation byte, a truncated sequence, an overlong form, a surrogate.
	EXPECT_EQ(json_quote("\x80"), "\"\\ufffd\"");
	EXPECT_EQ(json_quote("\xc3"), "\"\\ufffd\"");
	EXPECT_EQ(json_quote("\xc0\xaf"), "\"\\ufffd\\ufffd\"");
	EXPECT_EQ(json_quote("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");
	EXPECT_EQ(json_quote(std::string("\0", 1)), "\"\\u0000\"");
}

TEST(AtomicFile, ReplacesWholeAndNeverFollowsALink)
{
	TempDir dir("vsst-atomic-test");
	const std::string path = dir.file("out.json"), victim = dir.file("victim");
	std::string err;
	ASSERT_TRUE(write_file_atomically(path, "first", err)) << err;
	ASSERT_TRUE(write_file_atomically(path, "second", err)) << err;
	EXPECT_EQ(slurp(path), "second");
	{
		std::ofstream(victim) << "keep";
	}
	ASSERT_EQ(unlink(path.c_str()), 0);
	ASSERT_EQ(symlink(victim.c_str(), path.c_str()), 0);
	ASSERT_TRUE(write_file_atomically(path, "third", err)) << err;
	EXPECT_EQ(slurp(victim), "keep") << "the link was followed";
	struct stat st;
	ASSERT_EQ(lstat(path.c_str(), &st), 0);
	EXPECT_TRUE(S_ISREG(st.st_mode)) << "the link was not replaced";
	EXPECT_EQ(slurp(path), "third");
	EXPECT_FALSE(write_file_atomically(dir.file("no/such/dir/x"), "x", err));
	EXPECT_NE(err.find("no/such/dir"), std::string::npos) << err;
}

} // namespace
} // namespace vsst
