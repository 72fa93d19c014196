// SPDX-License-Identifier: Apache-2.0
#include "logger.h"

#include <cstdarg>
#include <cstdio>

namespace vsst {

void Logger::log(LogLevel level, const char *fmt, ...) const
{
	if (!sink_)
		return;
	char line[512];
	int n = std::snprintf(line, sizeof(line), "%s", prefix_);
	if (n < 0 || static_cast<size_t>(n) >= sizeof(line))
		n = 0;
	va_list ap;
	va_start(ap, fmt);
	std::vsnprintf(line + n, sizeof(line) - static_cast<size_t>(n), fmt, ap);
	va_end(ap);
	sink_(opaque_, static_cast<int>(level), line);
}

} // namespace vsst
