// SPDX-License-Identifier: Apache-2.0
// Where the project's binaries are, in one place: QEMU (for both roles) is $VSST_QEMU,
// else this checkout's build (CMake's VSST_DEFAULT_QEMU); sst-sim is $VSST_BIN/sst-sim,
// else the build tree's bin/.
#pragma once

#include <string>

namespace vsst::devvm {

std::string default_qemu(); // "" when neither is known
std::string default_sim();
bool executable(const std::string &path);

} // namespace vsst::devvm
