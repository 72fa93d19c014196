// SPDX-License-Identifier: Apache-2.0
// Starting the pieces a host-side test needs around an RpcGuest: the
// simulator (sst-sim) and the backend QEMU (-machine rpc-backend -accel rpc)
// with the guest's channel and RAM inherited as file descriptors, plus the
// device bring-up (BARs in the PCI hole, virtio-pci transport) per device.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vsst/virtio/pci.h"
#include "vsst/virtio/pci_transport.h"
#include "vsst/virtio/process.h"
#include "vsst/virtio/rpc_platform.h"

namespace vsst::virtio {

// Where the binaries are: $VSST_QEMU (else $VSST_CACHE/qemu/build/...,
// VSST_CACHE defaulting to ~/.cache/vsst) and $VSST_BIN/sst-sim (else the
// build tree's bin/ given at compile time).
std::string default_qemu_path();
std::string default_sim_path();
bool executable(const std::string &path);

// A scratch directory removed on destruction (sockets, logs).
class TempDir {
public:
	explicit TempDir(const std::string &prefix = "vsst-test");
	~TempDir();
	TempDir(const TempDir &) = delete;
	TempDir &operator=(const TempDir &) = delete;
	const std::filesystem::path &path() const { return path_; }
	std::string file(const std::string &name) const { return (path_ / name).string(); }
	void keep() { keep_ = true; }

private:
	std::filesystem::path path_;
	bool keep_ = false;
};

class SimServer {
public:
	// Starts sst-sim on socket and waits (bounded) until it accepts.
	SimServer(std::string binary, std::string socket, std::string log,
		  std::vector<std::string> extra_args = {});
	void kill_now() { proc_.kill_now(); }
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
	std::string qemu;           // binary
	std::string sim_socket;     // virtio-sst-pci socket=; empty: no sst device
	bool with_sst = true;
	bool with_rng = true;
	std::vector<std::string> extra_device_args; // more "-device" values
	std::vector<std::string> extra_args;
	std::string log;
};

// The backend QEMU, started with the RpcGuest's channel and RAM.
class Backend {
public:
	Backend(RpcGuest &guest, BackendOptions opt);
	~Backend();
	ChildProcess &process() { return proc_; }
	const std::vector<std::string> &command_line() const { return argv_; }
	// STOP, then wait for a clean exit (bounded); returns the exit status.
	std::optional<int> shutdown(std::chrono::milliseconds timeout);

private:
	RpcGuest &guest_;
	std::vector<std::string> argv_;
	ChildProcess proc_;
};

// One backend PCI device brought up as a virtio-pci transport.
struct RpcVirtioPci {
	RpcVirtioPci(RpcGuest &guest, unsigned index, VirtioPciTransport::Options opt = {});
	std::unique_ptr<ConfigAccessor> config;
	std::unique_ptr<PciFunction> function;
	std::unique_ptr<VirtioPciTransport> transport;
};

} // namespace vsst::virtio
