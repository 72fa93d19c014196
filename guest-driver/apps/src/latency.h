// SPDX-License-Identifier: Apache-2.0
// Latency percentiles for sst-bench.
#pragma once

#include <cstdint>
#include <vector>

namespace vsst::guest {

// Nearest-rank percentile (p in [0, 100]) of samples; sorts them in place.
// 0 for an empty set.
uint64_t percentile(std::vector<uint64_t> &samples, double p);

} // namespace vsst::guest
