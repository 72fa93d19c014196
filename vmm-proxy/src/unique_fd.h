// SPDX-License-Identifier: Apache-2.0
// The launcher uses the rpc library's owning fd (one implementation).
#pragma once

#include "vsst/rpc/unique_fd.hpp"

namespace vsst {
using rpc::UniqueFd;
} // namespace vsst
