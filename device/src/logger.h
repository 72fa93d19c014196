// SPDX-License-Identifier: Apache-2.0
// Log sink of the device core: formats a line and hands it to the optional
// callback from vsst_dev_config (QEMU maps it to its own facilities). The
// core must not depend on spdlog/fmt because it is linked into QEMU.
#pragma once

namespace vsst {

enum class LogLevel : int { error = 0, warn = 1, info = 2, debug = 3 };

class Logger {
public:
	using Sink = void (*)(void *opaque, int level, const char *msg);

	Logger() = default;
	Logger(Sink sink, void *opaque, const char *prefix) : sink_(sink), opaque_(opaque), prefix_(prefix) {}

	bool enabled() const { return sink_ != nullptr; }
	void log(LogLevel level, const char *fmt, ...) const __attribute__((format(printf, 3, 4)));

private:
	Sink sink_ = nullptr;
	void *opaque_ = nullptr;
	const char *prefix_ = "";
};

#define VSST_LOG(logger, lvl, ...)                                                                           \
	do {                                                                                                 \
		if ((logger).enabled())                                                                      \
			(logger).log(::vsst::LogLevel::lvl, __VA_ARGS__);                                    \
	} while (0)

} // namespace vsst
