// SPDX-License-Identifier: Apache-2.0
// The C interface (rpc.h) over the C++ endpoints. No exception leaves here.
#include <cerrno>
#include <cstdio>
#include <memory>
#include <new>
#include <string>

#include "vsst/rpc.h"
#include "vsst/rpc/channel.hpp"

using namespace vsst::rpc;

struct vsst_rpc {
	vsst_rpc_role role;
	std::unique_ptr<ProxyEndpoint> proxy;
	std::unique_ptr<DeviceEndpoint> device;
	Endpoint *ep() const
	{
		return proxy ? static_cast<Endpoint *>(proxy.get()) : static_cast<Endpoint *>(device.get());
	}
};

static_assert(vsst::rpc::kDefaultSpinUs == VSST_RPC_DEFAULT_SPIN_US);

namespace {

void put_err(char *err, size_t errlen, const char *msg)
{
	if (err && errlen)
		std::snprintf(err, errlen, "%s", msg);
}

// Runs fn, mapping any exception (allocation failure) to -ENOMEM.
template <class Fn> int guarded(Fn &&fn) noexcept
{
	try {
		return fn();
	} catch (...) {
		return -ENOMEM;
	}
}

ProxyEndpoint *proxy_of(vsst_rpc *ch)
{
	return ch && ch->role == VSST_RPC_ROLE_PROXY ? ch->proxy.get() : nullptr;
}
DeviceEndpoint *device_of(vsst_rpc *ch)
{
	return ch && ch->role == VSST_RPC_ROLE_DEVICE ? ch->device.get() : nullptr;
}

} // namespace

extern "C" {

int vsst_rpc_create(const struct vsst_rpc_params *params, struct vsst_rpc_fds *out, char *err, size_t errlen)
{
	if (!out)
		return -EINVAL;
	return guarded([&] {
		ChannelParams p;
		if (params) {
			if (params->ring_capacity)
				p.ring_capacity = params->ring_capacity;
			if (params->spin_us)
				p.spin_us = params->spin_us;
		}
		ChannelFds fds;
		std::string msg;
		const int r = create_channel(p, fds, &msg);
		if (r < 0) {
			put_err(err, errlen, msg.c_str());
			return r;
		}
		out->region = fds.region.release();
		out->to_device = fds.to_device.release();
		out->to_proxy = fds.to_proxy.release();
		return 0;
	});
}

vsst_rpc *vsst_rpc_attach(const struct vsst_rpc_fds *fds, enum vsst_rpc_role role, char *err, size_t errlen)
{
	if (!fds || (role != VSST_RPC_ROLE_PROXY && role != VSST_RPC_ROLE_DEVICE)) {
		put_err(err, errlen, "bad argument");
		return nullptr;
	}
	try {
		auto ch = std::make_unique<vsst_rpc>();
		ch->role = role;
		std::string msg;
		if (role == VSST_RPC_ROLE_PROXY)
			ch->proxy = ProxyEndpoint::attach(*fds, &msg);
		else
			ch->device = DeviceEndpoint::attach(*fds, &msg);
		if (!ch->ep()) {
			put_err(err, errlen, msg.c_str());
			return nullptr;
		}
		return ch.release(); // owned by the caller until vsst_rpc_close
	} catch (...) {
		put_err(err, errlen, "out of memory");
		return nullptr;
	}
}

void vsst_rpc_close(vsst_rpc *ch)
{
	std::unique_ptr<vsst_rpc> owned(ch);
}

void vsst_rpc_poison(vsst_rpc *ch, const char *reason)
{
	if (!ch)
		return;
	guarded([&] {
		ch->ep()->poison(reason && *reason ? reason : "poisoned by caller");
		return 0;
	});
}

int vsst_rpc_poisoned(const vsst_rpc *ch)
{
	return ch ? ch->ep()->poisoned() : 1;
}

const char *vsst_rpc_poison_reason(const vsst_rpc *ch)
{
	return ch ? ch->ep()->poison_reason() : "";
}

int vsst_rpc_proxy_mmio(vsst_rpc *ch, unsigned as, uint64_t addr, unsigned len, unsigned dir, uint64_t *data,
			int timeout_ms)
{
	ProxyEndpoint *p = proxy_of(ch);
	if (!p || dir > 1)
		return -EINVAL;
	return guarded([&] { return p->mmio(as, addr, len, static_cast<Dir>(dir), data, timeout_ms); });
}

int vsst_rpc_proxy_post(vsst_rpc *ch, unsigned as, uint64_t addr, unsigned len, uint64_t data, int timeout_ms)
{
	ProxyEndpoint *p = proxy_of(ch);
	if (!p)
		return -EINVAL;
	return guarded([&] { return p->post(as, addr, len, data, timeout_ms); });
}

int vsst_rpc_proxy_send(vsst_rpc *ch, const struct vsst_rpcmsg *msg, int timeout_ms)
{
	ProxyEndpoint *p = proxy_of(ch);
	if (!p || !msg)
		return -EINVAL;
	return guarded([&] { return p->send(Message::from_c(*msg), timeout_ms); });
}

int vsst_rpc_proxy_event_fd(vsst_rpc *ch)
{
	ProxyEndpoint *p = proxy_of(ch);
	return p ? p->event_fd() : -EINVAL;
}

int vsst_rpc_proxy_recv_event(vsst_rpc *ch, struct vsst_rpcmsg *ev)
{
	ProxyEndpoint *p = proxy_of(ch);
	if (!p || !ev)
		return -EINVAL;
	return guarded([&] {
		Message m;
		const int r = p->recv_event(m);
		if (r > 0)
			*ev = m.to_c();
		return r;
	});
}

int vsst_rpc_proxy_wait_event(vsst_rpc *ch, struct vsst_rpcmsg *ev, int timeout_ms)
{
	ProxyEndpoint *p = proxy_of(ch);
	if (!p || !ev)
		return -EINVAL;
	return guarded([&] {
		Message m;
		const int r = p->wait_event(m, timeout_ms);
		if (r > 0)
			*ev = m.to_c();
		return r;
	});
}

int vsst_rpc_dev_wait_request(vsst_rpc *ch, struct vsst_rpcmsg *req, int timeout_ms)
{
	DeviceEndpoint *d = device_of(ch);
	if (!d || !req)
		return -EINVAL;
	return guarded([&] {
		Message m;
		const int r = d->wait_request(m, timeout_ms);
		if (r > 0)
			*req = m.to_c();
		return r;
	});
}

int vsst_rpc_dev_complete(vsst_rpc *ch, const struct vsst_rpcmsg *req, uint64_t data, int timeout_ms)
{
	DeviceEndpoint *d = device_of(ch);
	if (!d || !req)
		return -EINVAL;
	return guarded([&] { return d->complete(Message::from_c(*req), data, timeout_ms); });
}

int vsst_rpc_dev_complete_error(vsst_rpc *ch, const struct vsst_rpcmsg *req, int timeout_ms)
{
	DeviceEndpoint *d = device_of(ch);
	if (!d || !req)
		return -EINVAL;
	return guarded([&] { return d->complete_error(Message::from_c(*req), timeout_ms); });
}

int vsst_rpc_dev_send_event(vsst_rpc *ch, const struct vsst_rpcmsg *ev, int timeout_ms)
{
	DeviceEndpoint *d = device_of(ch);
	if (!d || !ev)
		return -EINVAL;
	return guarded([&] { return d->send_event(Message::from_c(*ev), timeout_ms); });
}

void vsst_rpc_get_stats(const vsst_rpc *ch, struct vsst_rpc_stats *out)
{
	if (!out)
		return;
	*out = {};
	if (!ch)
		return;
	const Stats s = ch->ep()->stats();
	*out = {s.sent, s.received, s.kicks_sent, s.kicks_suppressed, s.sleeps, s.timeouts, s.rejected};
}

void vsst_rpc_set_observer(vsst_rpc *ch, vsst_rpc_observer fn, void *opaque)
{
	if (!ch)
		return;
	guarded([&] {
		ch->ep()->set_observer(fn, opaque);
		return 0;
	});
}

int vsst_rpc_set_spin_us(vsst_rpc *ch, uint32_t spin_us)
{
	if (!ch)
		return -EINVAL;
	ch->ep()->set_spin_us(spin_us);
	return 0;
}

int vsst_rpc_dev_request_fd(vsst_rpc *ch)
{
	DeviceEndpoint *d = device_of(ch);
	return d ? d->request_fd() : -EINVAL;
}

} // extern "C"
