// SPDX-License-Identifier: Apache-2.0
// Reads the model parameter table (model_params.h) from SST Params, with the
// same names and limits as sst-sim's config file.
#pragma once

#include <sst_config.h>

#include <sst/core/output.h>
#include <sst/core/params.h>

#include <stdexcept>
#include <string>

#include "vsst/sim/model_params.h"

namespace vsst::sstcore {

// Unknown values are fatal: a mistyped configuration must not run silently.
inline sim::ModelParams read_model_params(SST::Params& params, SST::Output& out) {
  sim::ModelParams p;
  for (const sim::ParamInfo& info : sim::param_table()) {
    const std::string name(info.name);
    if (!params.contains(name)) continue;
    const std::string text = params.find<std::string>(name, "");
    uint64_t value = 0;
    if (info.id == SST_CFG_LATENCY_MODEL) {
      auto m = sim::latency_model_by_name(text);
      if (!m) out.fatal(CALL_INFO, -1, "vsst: %s must be fixed, pipelined or bandwidth, not '%s'\n",
                        name.c_str(), text.c_str());
      value = *m;
    } else {
      try {
        size_t used = 0;
        value = std::stoull(text, &used, 0);
        if (used != text.size()) throw std::invalid_argument(text);
      } catch (const std::exception&) {
        out.fatal(CALL_INFO, -1, "vsst: %s must be a number, not '%s'\n", name.c_str(),
                  text.c_str());
      }
    }
    std::string why;
    if (!sim::set_param(p, info.id, value, &why)) {
      out.fatal(CALL_INFO, -1, "vsst: %s\n", why.c_str());
    }
  }
  return p;
}

}  // namespace vsst::sstcore
