// SPDX-License-Identifier: Apache-2.0
// Reads the model parameter table (model_params.h) from SST Params, with the
// same names and limits as sst-sim's config file.
#pragma once

#include <sst/core/sst_config.h>

#include <sst/core/output.h>
#include <sst/core/params.h>
#include <sst/core/unitAlgebra.h>

#include <stdexcept>
#include <string>

#include "vsst/sim/model_params.h"

namespace vsst::sstcore {

// Unknown values are fatal: a mistyped configuration must not run silently.
inline sim::ModelParams read_model_params(SST::Params &params, SST::Output &out)
{
	sim::ModelParams p;
	for (const sim::ParamInfo &info : sim::param_table()) {
		const std::string name(info.name);
		if (!params.contains(name))
			continue;
		const std::string text = params.find<std::string>(name, "");
		uint64_t value = 0;
		if (info.id == SST_CFG_LATENCY_MODEL) {
			auto m = sim::latency_model_by_name(text);
			if (!m)
				out.fatal(CALL_INFO, -1,
					  "vsst: %s must be fixed, pipelined or bandwidth, not '%s'\n",
					  name.c_str(), text.c_str());
			value = *m;
		} else {
			try {
				size_t used = 0;
				value = std::stoull(text, &used, 0);
				if (used != text.size())
					throw std::invalid_argument(text);
			} catch (const std::exception &) {
				out.fatal(CALL_INFO, -1, "vsst: %s must be a number, not '%s'\n",
					  name.c_str(), text.c_str());
			}
		}
		std::string why;
		if (!sim::set_param(p, info.id, value, &why)) {
			out.fatal(CALL_INFO, -1, "vsst: %s\n", why.c_str());
		}
	}
	return p;
}

// The model parameters plus the component's "clock" param (default 1GHz).
inline sim::ModelParams read_model_params_with_clock(SST::Params &params, SST::Output &out,
						     const char *component)
{
	sim::ModelParams p = read_model_params(params, out);
	const std::string clock = params.find<std::string>("clock", "1GHz");
	const int64_t hz = SST::UnitAlgebra(clock).getRoundedValue();
	std::string why;
	if (hz <= 0 || !sim::set_param(p, SST_CFG_CLOCK_HZ, static_cast<uint64_t>(hz), &why)) {
		out.fatal(CALL_INFO, -1, "%s: bad clock '%s' %s\n", component, clock.c_str(), why.c_str());
	}
	return p;
}

} // namespace vsst::sstcore
