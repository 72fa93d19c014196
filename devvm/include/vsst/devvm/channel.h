// SPDX-License-Identifier: Apache-2.0
// The creator's side of an RPC channel (region + two eventfds, rpc/), and an owned
// proxy endpoint on it. Whoever hosts a device VM creates the channel, hands the fds
// to it (device_vm.h) and plays, or passes on, the proxy role.
#pragma once

#include <string>

#include "vsst/posix/unique_fd.h"
#include "vsst/rpc.h"

namespace vsst::devvm {

class Channel {
public:
	Channel() = default;
	// A fresh channel; invalid with error set on failure. ring_capacity 0 and spin_us 0
	// take the rpc library's defaults.
	static Channel create(std::string &error, uint32_t ring_capacity = 0, uint32_t spin_us = 0);

	bool valid() const { return region_.valid(); }
	vsst_rpc_fds fds() const { return {region_.get(), to_device_.get(), to_proxy_.get()}; }

private:
	UniqueFd region_, to_device_, to_proxy_;
};

// An attached proxy endpoint, closed on destruction (closing neither poisons nor
// stops the channel: another process may attach after us).
class ProxyEndpoint {
public:
	ProxyEndpoint() = default;
	~ProxyEndpoint() { vsst_rpc_close(ep_); }
	ProxyEndpoint(ProxyEndpoint &&o) noexcept : ep_(o.ep_) { o.ep_ = nullptr; }
	ProxyEndpoint &operator=(ProxyEndpoint &&o) noexcept;
	ProxyEndpoint(const ProxyEndpoint &) = delete;
	ProxyEndpoint &operator=(const ProxyEndpoint &) = delete;

	static ProxyEndpoint attach(const vsst_rpc_fds &fds, std::string &error);
	vsst_rpc *get() const { return ep_; }
	explicit operator bool() const { return ep_ != nullptr; }
	// Sends STOP (best effort, bounded).
	void stop(uint64_t reason = 0, int timeout_ms = 100);

private:
	vsst_rpc *ep_ = nullptr;
};

} // namespace vsst::devvm
