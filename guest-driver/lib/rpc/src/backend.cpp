// SPDX-License-Identifier: Apache-2.0
#include "vsst/virtio/backend.h"

#include <chrono>
#include <utility>

#include "vsst/devvm/command_line.h"
#include "vsst/posix/unix_socket.h"
#include "vsst/virtio/error.h"

namespace vsst::virtio {

// ---- simulator ----

SimServer::SimServer(std::string binary, std::string socket, std::string log, std::vector<std::string> extra)
	: binary_(std::move(binary)), socket_(std::move(socket)), log_(std::move(log)),
	  extra_(std::move(extra))
{
	launch();
}

void SimServer::launch()
{
	SpawnSpec s;
	s.name = "sst-sim";
	s.argv = {binary_, "--socket", socket_, "--status-interval", "0"};
	s.argv.insert(s.argv.end(), extra_.begin(), extra_.end());
	s.log_path = log_;
	// A test that dies leaves the simulator time to remove its socket.
	s.death_signal = SIGTERM;
	std::string err;
	if (!proc_.spawn(s, err))
		throw Error("spawn: " + err);
	// Probing connects and closes at once; the server treats that as a
	// short-lived client.
	if (!wait_for_socket(socket_, std::chrono::seconds(10), &proc_)) {
		if (!proc_.running())
			throw Error("sst-sim exited during start-up: " + proc_.log_tail());
		throw TimeoutError("sst-sim did not listen on " + socket_ + " within 10 s");
	}
}

void SimServer::restart()
{
	proc_.terminate(std::chrono::milliseconds(0));
	launch();
}

// ---- backend QEMU ----

Backend::Backend(RpcGuest &guest, BackendOptions opt) : guest_(guest)
{
	devvm::DeviceVmSpec spec;
	spec.name = "backend QEMU";
	spec.command.qemu = opt.qemu;
	spec.command.handoff = devvm::Handoff::InheritFds;
	std::vector<devvm::DeviceSpec> devices;
	if (opt.with_sst && !opt.sim_socket.empty())
		devices.push_back({devvm::DeviceKind::Sst, opt.sim_socket, "", false, {}, ""});
	if (opt.with_rng)
		devices.push_back({devvm::DeviceKind::Rng, "", "", false, {}, ""});
	std::vector<const devvm::DeviceSpec *> ptrs;
	for (const auto &d : devices)
		ptrs.push_back(&d);
	devvm::Argv dev;
	if (opt.with_sst && opt.sim_socket.empty())
		dev.add({"-device", "virtio-sst-pci"});
	devvm::add_devices(dev, ptrs, {});
	for (auto &d : opt.extra_device_args)
		dev.add({"-device", d});
	dev.args.insert(dev.args.end(), opt.extra_args.begin(), opt.extra_args.end());
	spec.command.args = std::move(dev.args);
	spec.log_path = opt.log;
	spec.death_signal = SIGTERM;
	std::vector<devvm::RamRegion> layout;
	const vsst_ram_layout &l = guest.ram_layout();
	for (uint32_t i = 0; i < l.count; i++)
		layout.push_back({l.region[i].gpa, l.region[i].size, l.region[i].fd_offset});
	std::string err;
	if (!vm_.start(spec, guest.channel_fds(), guest.ram_fd(), layout, err))
		throw Error("spawn: " + err);
}

Backend::~Backend()
{
	shutdown(std::chrono::milliseconds(3000));
}

std::optional<int> Backend::shutdown(std::chrono::milliseconds timeout)
{
	const auto e = vm_.shutdown(guest_.channel(), timeout);
	if (!e)
		return std::nullopt;
	return e->code();
}

// ---- device bring-up ----

RpcVirtioPci::RpcVirtioPci(RpcGuest &guest, unsigned index, VirtioPciTransport::Options opt)
{
	config = guest.config(index);
	function = std::make_unique<PciFunction>(*config);
	function->assign_bars(guest.pci_window());
	// The backend announces posted doorbell regions once the BARs decode.
	guest.pump(std::chrono::milliseconds(0));
	transport =
		std::make_unique<VirtioPciTransport>(*function, guest.mmio(), guest.interrupts(index), opt);
}

} // namespace vsst::virtio
