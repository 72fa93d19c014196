// SPDX-License-Identifier: Apache-2.0
#include "latency.h"

#include <algorithm>
#include <cmath>

namespace vsst::guest {

uint64_t percentile(std::vector<uint64_t> &samples, double p)
{
	if (samples.empty())
		return 0;
	if (!std::is_sorted(samples.begin(), samples.end()))
		std::sort(samples.begin(), samples.end());
	p = std::clamp(p, 0.0, 100.0);
	// Nearest rank: the smallest value with at least p% of samples <= it.
	size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * double(samples.size())));
	rank = std::clamp<size_t>(rank, 1, samples.size());
	return samples[rank - 1];
}

} // namespace vsst::guest
