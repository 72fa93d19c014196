// SPDX-License-Identifier: Apache-2.0
// C++ API of the RPC channel: creating a channel, and the two endpoints.
//
//   ProxyEndpoint  (guest VM side) : synchronous MMIO by slot, posted writes,
//                                    control messages, receiving events.
//   DeviceEndpoint (device VM side): receiving requests, completing them,
//                                    emitting events.
//
// Errors are negative errno values (see rpc.h); nothing throws out of these
// calls and nothing aborts on peer input: a peer that breaks the protocol
// poisons the channel (both sides then get -EPIPE and can read the reason).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "vsst/posix/unique_fd.h"
#include "vsst/rpc.h"
#include "vsst/rpc/message.hpp"

namespace vsst::rpc {

inline constexpr uint32_t kDefaultSpinUs = 20;

struct ChannelParams {
	uint32_t ring_capacity = 256;      // power of two, 2..65536
	uint32_t spin_us = kDefaultSpinUs; // suggested spin budget stored in the header
};

// The channel's fds, owned.
struct ChannelFds {
	UniqueFd region, to_device, to_proxy;
	vsst_rpc_fds raw() const { return {region.get(), to_device.get(), to_proxy.get()}; }
};

// Creates a sealed memfd region (initialised header, empty rings) and two
// eventfds, all O_CLOEXEC. Returns 0 or -errno with a message in *err.
int create_channel(const ChannelParams &params, ChannelFds &out, std::string *err = nullptr);

struct Stats {
	uint64_t sent = 0, received = 0, kicks_sent = 0, kicks_suppressed = 0, sleeps = 0, timeouts = 0,
		 rejected = 0;
};

// dir: 0 sent, 1 received; ring: 0 requests, 1 completions, 2 events.
using Observer = vsst_rpc_observer;

namespace detail {
class ChannelState;
class ProxyState;
class DeviceState;
} // namespace detail

// Things both endpoints do.
class Endpoint {
public:
	virtual ~Endpoint();
	Endpoint(const Endpoint &) = delete;
	Endpoint &operator=(const Endpoint &) = delete;

	// Marks the channel poisoned for both sides and wakes every waiter.
	void poison(std::string_view reason);
	bool poisoned() const;
	// "" when healthy; once poisoned, stable for the endpoint's lifetime.
	const char *poison_reason() const;
	Stats stats() const;
	// Observer, called on the calling thread for each message sent/received.
	void set_observer(Observer fn, void *opaque);
	// Spin budget before blocking (0: block at once).
	void set_spin_us(uint32_t us);
	// The device side starts with the creator's suggestion from the header; the proxy
	// side with kDefaultSpinUs (a device VM may rewrite the header before it attaches).
	uint32_t spin_us() const;
	uint32_t ring_capacity() const;

protected:
	explicit Endpoint(std::unique_ptr<detail::ChannelState> st);
	std::unique_ptr<detail::ChannelState> st_;
};

class ProxyEndpoint final : public Endpoint {
public:
	// Attaches the proxy role; fds are dup()ed. nullptr with *err on failure.
	static std::unique_ptr<ProxyEndpoint> attach(const vsst_rpc_fds &fds, std::string *err = nullptr);
	~ProxyEndpoint() override;

	// All thread-safe. Synchronous access: 0, -EIO (device error; reads give
	// all-ones), -ETIMEDOUT, -EBUSY (64 in flight), -EPIPE, -EINVAL.
	int mmio(unsigned as, uint64_t addr, unsigned len, Dir dir, uint64_t *data, int timeout_ms);
	int read(unsigned as, uint64_t addr, unsigned len, uint64_t *data, int timeout_ms)
	{
		return mmio(as, addr, len, Dir::Read, data, timeout_ms);
	}
	int write(unsigned as, uint64_t addr, unsigned len, uint64_t data, int timeout_ms)
	{
		return mmio(as, addr, len, Dir::Write, &data, timeout_ms);
	}
	// Posted write: returns once queued (waits at most timeout_ms for space).
	int post(unsigned as, uint64_t addr, unsigned len, uint64_t data, int timeout_ms);
	// HELLO or STOP towards the device.
	int send(const Message &m, int timeout_ms);

	// Readable when events may be pending; then call recv_event until it returns 0.
	int event_fd() const;
	// 1: got one; 0: none pending; -EPIPE.
	int recv_event(Message &ev);
	// 1, -ETIMEDOUT or -EPIPE.
	int wait_event(Message &ev, int timeout_ms);

private:
	explicit ProxyEndpoint(std::unique_ptr<detail::ChannelState> st);
	std::unique_ptr<detail::ProxyState> px_;
};

class DeviceEndpoint final : public Endpoint {
public:
	static std::unique_ptr<DeviceEndpoint> attach(const vsst_rpc_fds &fds, std::string *err = nullptr);
	~DeviceEndpoint() override;

	// One consumer thread. 1: got one; 0: none (try_request only);
	// -ETIMEDOUT; -EPIPE.
	int try_request(Message &req);
	int wait_request(Message &req, int timeout_ms);
	// Calls fn(const Message&) for each pending request (at most max);
	// returns how many were handled or -EPIPE.
	template <class Fn> int drain(Fn &&fn, int max = 1 << 30)
	{
		int n = 0;
		Message m;
		while (n < max) {
			const int r = try_request(m);
			if (r < 0)
				return r;
			if (r == 0)
				break;
			fn(static_cast<const Message &>(m));
			++n;
		}
		return n;
	}

	// Complete a non-posted MMIO request (any thread). -EINVAL if `req` is
	// not an in-flight request of this channel.
	int complete(const Message &req, uint64_t read_data, int timeout_ms);
	int complete_error(const Message &req, int timeout_ms);
	// Emit an event (any thread).
	int send_event(const Message &ev, int timeout_ms);
	// The request doorbell, for a caller that wants to poll it itself.
	int request_fd() const;

private:
	explicit DeviceEndpoint(std::unique_ptr<detail::ChannelState> st);
	int finish(const Message &req, uint64_t data, bool error, int timeout_ms);
	std::unique_ptr<detail::DeviceState> dv_;
};

} // namespace vsst::rpc
