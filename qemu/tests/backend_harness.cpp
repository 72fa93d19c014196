// SPDX-License-Identifier: Apache-2.0
#include "backend_harness.h"

#include <cstdio>
#include <stdexcept>

#include <gtest/gtest.h>

#include "vsst/devvm/binaries.h"
#include "vsst/devvm/handshake.h"

namespace vsst::backend_test {

namespace {

constexpr int kSetupTimeoutMs = 10000;

int64_t now_ms()
{
	using namespace std::chrono;
	return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

} // namespace

GuestRam mapped_ram(uint64_t bytes)
{
	std::string err;
	GuestRam ram = GuestRam::create(bytes, err);
	if (!ram.valid() || !ram.map(err))
		throw std::runtime_error("guest RAM: " + err);
	return ram;
}

ProxyChannel::ProxyChannel()
{
	std::string err;
	channel_ = devvm::Channel::create(err, 256);
	if (!channel_.valid())
		throw std::runtime_error(err);
	fds_ = channel_.fds();
	ep_ = devvm::ProxyEndpoint::attach(fds_, err);
	if (!ep_)
		throw std::runtime_error(err);
	rpc_ = ep_.get();
}

int ProxyChannel::send(unsigned op, uint64_t mr1, uint64_t mr2, uint64_t mr3)
{
	vsst_rpcmsg m{vsst_rpc_mr0(op, 0, 0, 0, 0, 0), mr1, mr2, mr3};
	return vsst_rpc_proxy_send(rpc_, &m, 2000);
}

std::optional<vsst_rpcmsg> ProxyChannel::next_event(int timeout_ms)
{
	vsst_rpcmsg ev{};
	if (vsst_rpc_proxy_wait_event(rpc_, &ev, timeout_ms) == 1)
		return ev;
	return std::nullopt;
}

std::optional<vsst_rpcmsg> ProxyChannel::wait_for(const std::function<bool(const vsst_rpcmsg &)> &pred,
						  int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return std::nullopt;
		auto ev = next_event(static_cast<int>(left));
		if (!ev)
			return std::nullopt;
		if (pred(*ev))
			return ev;
		skipped_.push_back(*ev);
	}
}

std::optional<vsst_rpcmsg> ProxyChannel::wait_op(unsigned op, int timeout_ms)
{
	return wait_for([op](const vsst_rpcmsg &m) { return vsst_rpc_mr0_op(m.mr0) == op; }, timeout_ms);
}

int ProxyChannel::read(unsigned as, uint64_t addr, unsigned len, uint64_t *data)
{
	*data = 0;
	return vsst_rpc_proxy_mmio(rpc_, as, addr, len, VSST_RPC_DIR_READ, data, 5000);
}

int ProxyChannel::write(unsigned as, uint64_t addr, unsigned len, uint64_t data)
{
	return vsst_rpc_proxy_mmio(rpc_, as, addr, len, VSST_RPC_DIR_WRITE, &data, 5000);
}

int ProxyChannel::post(unsigned as, uint64_t addr, unsigned len, uint64_t data)
{
	return vsst_rpc_proxy_post(rpc_, as, addr, len, data, 5000);
}

uint32_t ProxyChannel::cfg_read(unsigned dev, unsigned off, unsigned len)
{
	uint64_t v = 0;
	int r = read(dev, off, len, &v);
	EXPECT_EQ(r, 0) << "config read dev " << dev << " off 0x" << std::hex << off;
	return static_cast<uint32_t>(v);
}

void ProxyChannel::cfg_write(unsigned dev, unsigned off, unsigned len, uint32_t v)
{
	EXPECT_EQ(write(dev, off, len, v), 0) << "config write dev " << dev << " off 0x" << std::hex << off;
}

uint64_t ProxyChannel::mem_read(uint64_t gpa, unsigned len)
{
	uint64_t v = 0;
	EXPECT_EQ(read(VSST_RPC_AS_GLOBAL, gpa, len, &v), 0) << "read gpa 0x" << std::hex << gpa;
	return v;
}

void ProxyChannel::mem_write(uint64_t gpa, unsigned len, uint64_t v)
{
	EXPECT_EQ(write(VSST_RPC_AS_GLOBAL, gpa, len, v), 0) << "write gpa 0x" << std::hex << gpa;
}

std::string BackendProcess::qemu_path()
{
	const std::string q = devvm::default_qemu();
	return devvm::executable(q) ? q : std::string();
}

BackendProcess::BackendProcess(SetupMode mode, ProxyChannel &ch, const GuestRam &ram,
			       std::vector<RamRegion> layout, std::vector<std::string> extra)
{
	devvm::DeviceVmSpec spec;
	spec.name = "backend QEMU";
	spec.command.qemu = qemu_path();
	if (spec.command.qemu.empty())
		throw std::runtime_error(
			"no QEMU: VSST_QEMU is not set and this checkout's build is missing");
	spec.command.handoff = mode;
	spec.command.control_path = dir_.file("ctl.sock");
	spec.command.args = std::move(extra);
	spec.log_path = dir_.file("qemu.log");
	spec.connect_timeout = std::chrono::milliseconds(kSetupTimeoutMs);
	std::string err;
	if (!vm_.start(spec, ch.fds(), ram.fd(), layout, err))
		throw std::runtime_error(err);
}

BackendProcess::~BackendProcess()
{
	if (::testing::Test::HasFailure())
		std::fprintf(stderr, "---- backend QEMU output ----\n%s\n----\n", log().c_str());
	vm_.process().terminate(std::chrono::milliseconds(0));
}

std::optional<int> BackendProcess::wait_exit(int timeout_ms)
{
	if (auto e = vm_.process().wait(std::chrono::milliseconds(timeout_ms)))
		return e->code();
	vm_.process().terminate(std::chrono::milliseconds(0));
	return std::nullopt;
}

std::vector<std::string> standard_devices()
{
	return {"-device", "virtio-sst-pci,id=sst0", "-device", "virtio-rng-pci,id=rng0"};
}

std::vector<vsst_rpcmsg> handshake(ProxyChannel &ch, unsigned expected_devices)
{
	std::vector<vsst_rpcmsg> regs;
	std::vector<unsigned> ops;
	devvm::HandshakeOptions o;
	o.name = "backend";
	o.timeout = std::chrono::milliseconds(kSetupTimeoutMs);
	o.on_event = [&](const vsst_rpcmsg &m) {
		ops.push_back(vsst_rpc_mr0_op(m.mr0));
		if (ops.back() == VSST_RPC_OP_REGISTER_PCI_DEV)
			regs.push_back(m);
	};
	devvm::HandshakeResult r = devvm::handshake(ch.rpc(), o);
	if (!r) {
		ADD_FAILURE() << r.error;
		return regs;
	}
	// Strictly HELLO, the registrations, START_VM.
	if (ops.size() < 2) {
		ADD_FAILURE() << "no HELLO before START_VM";
		return regs;
	}
	EXPECT_EQ(ops.front(), VSST_RPC_OP_HELLO);
	EXPECT_EQ(ops.back(), VSST_RPC_OP_START_VM);
	for (size_t i = 1; i + 1 < ops.size(); i++)
		EXPECT_EQ(ops[i], VSST_RPC_OP_REGISTER_PCI_DEV);
	EXPECT_EQ(regs.size(), expected_devices);
	return regs;
}

} // namespace vsst::backend_test
