// SPDX-License-Identifier: Apache-2.0
// The start of every device VM's life on its channel, from the proxy side: send HELLO;
// expect HELLO (same protocol version), REGISTER_PCI_DEV per device, START_VM. Bounded;
// nothing the peer sends can make it abort or wait longer.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "vsst/rpc.h"

namespace vsst::devvm {

struct RegisteredDevice {
	unsigned index = 0;
	uint16_t vendor = 0, device = 0;
	uint32_t class_code = 0;
};

struct HandshakeOptions {
	std::string name = "device VM"; // starts every message
	std::chrono::milliseconds timeout{30000};
	size_t min_devices = 0; // START_VM with fewer registered is a failure
	// Called about every 100 ms: a reason to give up now (the child died, a signal).
	std::function<std::optional<std::string>()> check;
	// Every event accepted during the handshake, in order (HELLO, registrations,
	// MMIO_REGION_CONFIG, START_VM, ops the handshake does not know).
	std::function<void(const vsst_rpcmsg &)> on_event;
};

enum class HandshakeFailure { None, Timeout, Channel, Protocol, Stopped, Aborted };

struct HandshakeResult {
	HandshakeFailure failure = HandshakeFailure::None;
	std::string error; // one line, starting with the name (or check()'s reason)
	uint64_t peer_features = 0;
	std::vector<RegisteredDevice> devices; // in the order registered
	explicit operator bool() const { return failure == HandshakeFailure::None; }
};

HandshakeResult handshake(vsst_rpc *proxy, const HandshakeOptions &o);

} // namespace vsst::devvm
