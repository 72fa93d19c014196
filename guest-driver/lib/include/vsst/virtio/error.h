// SPDX-License-Identifier: Apache-2.0
// Errors of the host-side virtio driver framework.
//
// Setup and transport failures (a register access that cannot complete, a
// device that refuses the handshake) throw vsst::virtio::Error: the caller
// cannot continue with that device anyway. The data path (add/get buffers)
// reports with return values, and a device that breaks the ring protocol
// marks its queue broken instead of throwing from deep inside a poll loop.
#pragma once

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace vsst::virtio {

class Error : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

// A bounded wait expired (the device or the channel did not answer in time).
class TimeoutError : public Error {
public:
	using Error::Error;
};

inline std::string hex(uint64_t v)
{
	char buf[24];
	std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
	return buf;
}

} // namespace vsst::virtio
