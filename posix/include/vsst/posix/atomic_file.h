// SPDX-License-Identifier: Apache-2.0
// atomic_file.h - replacing a file's contents all at once: readers see the old file or
// the new one, never half of either, and a symlink planted at the path is replaced,
// not followed.
#pragma once

#include <string>

namespace vsst {

// Writes text to a fresh temporary file next to path (O_EXCL | O_NOFOLLOW), fsyncs it
// and renames it over path. False with err set (the temporary file removed).
bool write_file_atomically(const std::string &path, const std::string &text, std::string &err);

} // namespace vsst
