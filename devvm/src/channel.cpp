// SPDX-License-Identifier: Apache-2.0
#include "vsst/devvm/channel.h"

namespace vsst::devvm {

Channel Channel::create(std::string &error, uint32_t ring_capacity, uint32_t spin_us)
{
	Channel ch;
	vsst_rpc_params params{};
	params.ring_capacity = ring_capacity;
	params.spin_us = spin_us;
	vsst_rpc_fds fds{-1, -1, -1};
	char err[256] = "";
	if (vsst_rpc_create(&params, &fds, err, sizeof err) < 0) {
		error = std::string("creating the RPC channel failed: ") + err;
		return ch;
	}
	ch.region_.reset(fds.region);
	ch.to_device_.reset(fds.to_device);
	ch.to_proxy_.reset(fds.to_proxy);
	return ch;
}

ProxyEndpoint &ProxyEndpoint::operator=(ProxyEndpoint &&o) noexcept
{
	if (this != &o) {
		vsst_rpc_close(ep_);
		ep_ = o.ep_;
		o.ep_ = nullptr;
	}
	return *this;
}

ProxyEndpoint ProxyEndpoint::attach(const vsst_rpc_fds &fds, std::string &error)
{
	ProxyEndpoint ep;
	char err[256] = "";
	ep.ep_ = vsst_rpc_attach(&fds, VSST_RPC_ROLE_PROXY, err, sizeof err);
	if (!ep.ep_)
		error = std::string("attaching to the channel failed: ") + err;
	return ep;
}

void ProxyEndpoint::stop(uint64_t reason, int timeout_ms)
{
	if (!ep_)
		return;
	vsst_rpcmsg m{vsst_rpc_mr0(VSST_RPC_OP_STOP, 0, 0, 0, 0, 0), reason, 0, 0};
	(void)vsst_rpc_proxy_send(ep_, &m, timeout_ms);
}

} // namespace vsst::devvm
