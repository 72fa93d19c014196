// SPDX-License-Identifier: Apache-2.0
#include "vsst/devvm/binaries.h"

#include <unistd.h>

#include <cstdlib>

#ifndef VSST_DEFAULT_QEMU
#define VSST_DEFAULT_QEMU ""
#endif
#ifndef VSST_DEFAULT_BIN_DIR
#define VSST_DEFAULT_BIN_DIR ""
#endif

namespace vsst::devvm {

namespace {

std::string env_or(const char *name, const std::string &fallback)
{
	const char *v = std::getenv(name);
	return v && *v ? std::string(v) : fallback;
}

} // namespace

std::string default_qemu()
{
	return env_or("VSST_QEMU", VSST_DEFAULT_QEMU);
}

std::string default_sim()
{
	return env_or("VSST_BIN", VSST_DEFAULT_BIN_DIR) + "/sst-sim";
}

bool executable(const std::string &path)
{
	return !path.empty() && access(path.c_str(), X_OK) == 0;
}

} // namespace vsst::devvm
