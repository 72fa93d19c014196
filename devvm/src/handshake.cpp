// SPDX-License-Identifier: Apache-2.0
#include "vsst/devvm/handshake.h"

#include <cerrno>
#include <cstring>

namespace vsst::devvm {

namespace {

std::string duration_text(std::chrono::milliseconds t)
{
	if (t.count() % 1000 == 0)
		return std::to_string(t.count() / 1000) + " s";
	return std::to_string(t.count()) + " ms";
}

} // namespace

HandshakeResult handshake(vsst_rpc *proxy, const HandshakeOptions &o)
{
	using Clock = std::chrono::steady_clock;
	HandshakeResult res;
	auto fail = [&res](HandshakeFailure f, std::string why) {
		res.failure = f;
		res.error = std::move(why);
		return res;
	};
	const int send_ms = static_cast<int>(std::min<long long>(o.timeout.count(), 1000));
	vsst_rpcmsg hello{vsst_rpc_mr0(VSST_RPC_OP_HELLO, 0, 0, 0, 0, 0), VSST_RPC_PROTOCOL_VERSION, 0, 0};
	if (int r = vsst_rpc_proxy_send(proxy, &hello, send_ms); r < 0)
		return fail(HandshakeFailure::Channel, o.name + ": sending HELLO failed: " + strerror(-r));
	const auto deadline = Clock::now() + o.timeout;
	for (;;) {
		if (o.check)
			if (auto why = o.check())
				return fail(HandshakeFailure::Aborted, *why);
		if (Clock::now() >= deadline)
			return fail(HandshakeFailure::Timeout,
				    o.name + " sent no START_VM within " + duration_text(o.timeout) + " (" +
					    std::to_string(res.devices.size()) + " device(s) registered)");
		vsst_rpcmsg ev{};
		const int r = vsst_rpc_proxy_wait_event(proxy, &ev, 100);
		if (r == -ETIMEDOUT || r == 0)
			continue;
		if (r < 0)
			return fail(HandshakeFailure::Channel,
				    o.name + ": channel failed during the handshake: " +
					    (r == -EPIPE ? vsst_rpc_poison_reason(proxy) : strerror(-r)));
		const unsigned op = vsst_rpc_mr0_op(ev.mr0);
		switch (op) {
		case VSST_RPC_OP_HELLO:
			if (ev.mr1 != VSST_RPC_PROTOCOL_VERSION)
				return fail(HandshakeFailure::Protocol,
					    o.name + " speaks RPC protocol " + std::to_string(ev.mr1) +
						    ", we speak " +
						    std::to_string(VSST_RPC_PROTOCOL_VERSION));
			res.peer_features = ev.mr2;
			break;
		case VSST_RPC_OP_REGISTER_PCI_DEV: {
			if (ev.mr1 >= VSST_RPC_AS_PCI_LIMIT)
				return fail(HandshakeFailure::Protocol,
					    o.name + " registered an impossible device index " +
						    std::to_string(ev.mr1));
			const unsigned index = static_cast<unsigned>(ev.mr1);
			for (const auto &d : res.devices)
				if (d.index == index)
					return fail(HandshakeFailure::Protocol,
						    o.name + " registered device index " +
							    std::to_string(index) + " twice");
			res.devices.push_back({index, static_cast<uint16_t>(ev.mr2 >> 16),
					       static_cast<uint16_t>(ev.mr2),
					       static_cast<uint32_t>(ev.mr3 & 0xffffff)});
			break;
		}
		case VSST_RPC_OP_START_VM:
			if (res.devices.size() < o.min_devices)
				return fail(HandshakeFailure::Protocol,
					    o.name + " is ready with " + std::to_string(res.devices.size()) +
						    " device(s), " + std::to_string(o.min_devices) +
						    " were asked for");
			if (o.on_event)
				o.on_event(ev);
			return res;
		case VSST_RPC_OP_STOP:
			return fail(HandshakeFailure::Stopped, o.name + " sent STOP (reason " +
								       std::to_string(ev.mr1) +
								       ") during the handshake");
		default:
			break;
		}
		if (o.on_event)
			o.on_event(ev);
	}
}

} // namespace vsst::devvm
