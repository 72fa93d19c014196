// SPDX-License-Identifier: Apache-2.0
// Starting the pieces a host-side test needs around an RpcGuest: the
// simulator (sst-sim, a posix/ ChildProcess) and the backend QEMU (a device VM
// through devvm/) with the guest's channel and RAM inherited as file
// descriptors, plus the device bring-up (BARs in the PCI hole, virtio-pci
// transport) per device. Where the binaries are: vsst/devvm/binaries.h.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vsst/devvm/device_vm.h"
#include "vsst/posix/child_process.h"
#include "vsst/posix/temp_dir.h"
#include "vsst/virtio/pci.h"
#include "vsst/virtio/pci_transport.h"
#include "vsst/virtio/rpc_platform.h"

namespace vsst::virtio {

// A scratch directory (posix/).
using vsst::TempDir;

class SimServer {
public:
	// Starts sst-sim on socket and waits (bounded) until it accepts.
	SimServer(std::string binary, std::string socket, std::string log,
		  std::vector<std::string> extra_args = {});
	void kill_now() { proc_.terminate(std::chrono::milliseconds(0)); }
	void restart(); // kill if running, start again on the same socket
	bool running() { return proc_.running(); }
	const std::string &socket() const { return socket_; }
	ChildProcess &process() { return proc_; }

private:
	void launch();
	std::string binary_, socket_, log_;
	std::vector<std::string> extra_;
	ChildProcess proc_;
};

struct BackendOptions {
	std::string qemu;       // binary
	std::string sim_socket; // virtio-sst-pci socket=; empty: no sst device
	bool with_sst = true;
	bool with_rng = true;
	std::vector<std::string> extra_device_args; // more "-device" values
	std::vector<std::string> extra_args;
	std::string log;
};

// The backend QEMU (a device VM, devvm/), started with the RpcGuest's channel and
// RAM inherited as descriptors.
class Backend {
public:
	Backend(RpcGuest &guest, BackendOptions opt);
	~Backend();
	ChildProcess &process() { return vm_.process(); }
	const std::vector<std::string> &command_line() const { return vm_.command_line(); }
	// STOP, then wait for a clean exit (bounded), then SIGTERM/SIGKILL; returns the
	// exit status (128 + signal when killed).
	std::optional<int> shutdown(std::chrono::milliseconds timeout);

private:
	RpcGuest &guest_;
	devvm::DeviceVm vm_;
};

// One backend PCI device brought up as a virtio-pci transport.
struct RpcVirtioPci {
	RpcVirtioPci(RpcGuest &guest, unsigned index, VirtioPciTransport::Options opt = {});
	std::unique_ptr<ConfigAccessor> config;
	std::unique_ptr<PciFunction> function;
	std::unique_ptr<VirtioPciTransport> transport;
};

} // namespace vsst::virtio
