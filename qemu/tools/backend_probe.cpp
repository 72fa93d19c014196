// SPDX-License-Identifier: Apache-2.0
// vsst-backend-probe: start a device-VM QEMU by hand and look at it.
//
//   vsst-backend-probe [--qemu PATH] [--ram SIZE_MIB] [--timeout MS] [--keep]
//                      [--no-sandbox] [-- <extra QEMU arguments, e.g. -device ...>]
//
// Creates an RPC channel and a guest RAM memfd, starts the device VM as vmm-proxy
// does (vsst_devvm: -machine rpc-backend -accel rpc,setup-fd=N, isolated, <extra>),
// sends the set-up over the inherited socket, does the HELLO handshake, lists
// every registered PCI device (REGISTER_PCI_DEV and its config space), then
// sends STOP (or, with --keep, waits until QEMU exits) and reports the exit
// status. QEMU defaults to $VSST_QEMU, else this checkout's build.
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "vsst/devvm/binaries.h"
#include "vsst/devvm/channel.h"
#include "vsst/devvm/device_vm.h"
#include "vsst/devvm/guest_ram.h"
#include "vsst/devvm/handshake.h"
#include "vsst/rpc.h"

namespace {

namespace devvm = vsst::devvm;

struct Options {
	std::string qemu;
	uint64_t ram_mib = 256;
	int timeout_ms = 10000;
	bool keep = false;
	bool sandbox = true;
	std::vector<std::string> extra;
};

int usage()
{
	std::fprintf(stderr, "usage: vsst-backend-probe [--qemu PATH] [--ram MIB] [--timeout MS] "
			     "[--keep] [--no-sandbox] [-- QEMU-ARGS...]\n");
	return 2;
}

bool parse(int argc, char **argv, Options &o)
{
	o.qemu = devvm::default_qemu();
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		auto value = [&](const char *name) -> const char * {
			if (i + 1 >= argc) {
				spdlog::error("{} needs a value", name);
				return nullptr;
			}
			return argv[++i];
		};
		if (a == "--") {
			o.extra.assign(argv + i + 1, argv + argc);
			break;
		} else if (a == "--qemu") {
			const char *v = value("--qemu");
			if (!v)
				return false;
			o.qemu = v;
		} else if (a == "--ram") {
			const char *v = value("--ram");
			if (!v)
				return false;
			o.ram_mib = std::strtoull(v, nullptr, 0);
		} else if (a == "--timeout") {
			const char *v = value("--timeout");
			if (!v)
				return false;
			o.timeout_ms = std::atoi(v);
		} else if (a == "--keep") {
			o.keep = true;
		} else if (a == "--no-sandbox") {
			o.sandbox = false;
		} else {
			spdlog::error("unknown argument {}", a);
			return false;
		}
	}
	if (o.qemu.empty()) {
		spdlog::error("no QEMU: pass --qemu or set VSST_QEMU");
		return false;
	}
	if (o.ram_mib == 0 || o.timeout_ms <= 0) {
		spdlog::error("--ram and --timeout must be positive");
		return false;
	}
	return true;
}

const char *op_name(unsigned op)
{
	switch (op) {
	case VSST_RPC_OP_HELLO:
		return "HELLO";
	case VSST_RPC_OP_REGISTER_PCI_DEV:
		return "REGISTER_PCI_DEV";
	case VSST_RPC_OP_START_VM:
		return "START_VM";
	case VSST_RPC_OP_STOP:
		return "STOP";
	case VSST_RPC_OP_MSI:
		return "MSI";
	case VSST_RPC_OP_SET_IRQ:
		return "SET_IRQ";
	case VSST_RPC_OP_MMIO_REGION_CONFIG:
		return "MMIO_REGION_CONFIG";
	default:
		return "?";
	}
}

int show_device(vsst_rpc *ep, unsigned index)
{
	uint64_t id = 0, cls = 0;
	int r1 = vsst_rpc_proxy_mmio(ep, index, 0, 4, VSST_RPC_DIR_READ, &id, 2000);
	int r2 = vsst_rpc_proxy_mmio(ep, index, 8, 4, VSST_RPC_DIR_READ, &cls, 2000);
	if (r1 < 0 || r2 < 0) {
		spdlog::error("device {}: config read failed: {}", index, std::strerror(-(r1 < 0 ? r1 : r2)));
		return 1;
	}
	spdlog::info("device {}: config space {:04x}:{:04x} class {:06x}", index, id & 0xffff,
		     (id >> 16) & 0xffff, cls >> 8);
	return 0;
}

int run(const Options &o)
{
	std::string err;
	devvm::Channel ch = devvm::Channel::create(err);
	devvm::ProxyEndpoint ep =
		ch.valid() ? devvm::ProxyEndpoint::attach(ch.fds(), err) : devvm::ProxyEndpoint();
	if (!ep) {
		spdlog::error("{}", err);
		return 1;
	}
	devvm::GuestRam ram = devvm::GuestRam::create(o.ram_mib << 20, {{0, o.ram_mib << 20, 0}}, err);
	if (!ram.valid()) {
		spdlog::error("guest RAM: {}", err);
		return 1;
	}
	devvm::DeviceVmSpec spec;
	spec.name = "backend";
	spec.command.qemu = o.qemu;
	spec.command.sandbox = o.sandbox;
	spec.command.args = o.extra;
	devvm::DeviceVm vm;
	const bool started = vm.start(spec, ch.fds(), ram.fd(), ram.layout(), err);
	spdlog::info("starting: {}", devvm::shell_quote(vm.command_line()));
	if (!started) {
		spdlog::error("{}", err);
		return 1;
	}
	devvm::HandshakeOptions h;
	h.name = "backend";
	h.timeout = std::chrono::milliseconds(o.timeout_ms);
	h.check = [&vm]() -> std::optional<std::string> {
		if (vm.process().running())
			return std::nullopt;
		return "backend " + vm.process().exit_info()->describe() + " before START_VM";
	};
	int rc = 0;
	h.on_event = [&](const vsst_rpcmsg &ev) {
		unsigned op = vsst_rpc_mr0_op(ev.mr0);
		spdlog::info("event {} mr1={:#x} mr2={:#x} mr3={:#x}", op_name(op), ev.mr1, ev.mr2, ev.mr3);
		if (op == VSST_RPC_OP_REGISTER_PCI_DEV)
			rc |= show_device(ep.get(), static_cast<unsigned>(ev.mr1));
	};
	devvm::HandshakeResult r = devvm::handshake(ep.get(), h);
	if (!r) {
		spdlog::error("{}", r.error);
		rc = 1;
	}
	if (!o.keep || !r) {
		ep.stop(0, 1000);
	} else {
		spdlog::info("backend running (pid {}); waiting for it to exit", vm.process().pid());
	}
	auto e = vm.process().wait(std::chrono::milliseconds(o.keep && r ? 24 * 3600 * 1000 : o.timeout_ms));
	if (!e) {
		spdlog::error("backend did not exit; killing it");
		vm.process().terminate(std::chrono::milliseconds(0));
		return 1;
	}
	spdlog::info("backend {}", e->describe());
	return rc ? rc : e->code();
}

} // namespace

int main(int argc, char **argv)
{
	Options o;
	if (!parse(argc, argv, o))
		return usage();
	return run(o);
}
