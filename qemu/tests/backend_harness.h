// SPDX-License-Identifier: Apache-2.0
// Test harness for the device-VM QEMU (qemu/overlay): starts the real
// qemu-system-x86_64 with -machine rpc-backend -accel rpc (through vsst_devvm)
// and plays the proxy side of the RPC channel through the rpc C API.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "vsst/devvm/channel.h"
#include "vsst/devvm/device_vm.h"
#include "vsst/devvm/guest_ram.h"
#include "vsst/posix/temp_dir.h"
#include "vsst/rpc.h"

namespace vsst::backend_test {

using devvm::GuestRam;
using devvm::RamRegion;
// How the backend receives its channel.
using SetupMode = devvm::Handoff;

// Guest RAM (one memfd, pc layout), mapped here so tests can place data in it.
GuestRam mapped_ram(uint64_t bytes);

// The proxy end of a fresh channel. Owns the creator's fds and the endpoint.
class ProxyChannel {
public:
	ProxyChannel();
	ProxyChannel(const ProxyChannel &) = delete;
	ProxyChannel &operator=(const ProxyChannel &) = delete;
	vsst_rpc *rpc() const { return rpc_; }
	const vsst_rpc_fds &fds() const { return fds_; }

	int send(unsigned op, uint64_t mr1 = 0, uint64_t mr2 = 0, uint64_t mr3 = 0);
	std::optional<vsst_rpcmsg> next_event(int timeout_ms);
	// Next event with this op; other events are kept in skipped().
	std::optional<vsst_rpcmsg> wait_op(unsigned op, int timeout_ms);
	std::optional<vsst_rpcmsg> wait_for(const std::function<bool(const vsst_rpcmsg &)> &pred,
					    int timeout_ms);
	const std::vector<vsst_rpcmsg> &skipped() const { return skipped_; }

	int read(unsigned as, uint64_t addr, unsigned len, uint64_t *data);
	int write(unsigned as, uint64_t addr, unsigned len, uint64_t data);
	int post(unsigned as, uint64_t addr, unsigned len, uint64_t data);
	// Config space helpers; they fail the test on a transport error.
	uint32_t cfg_read(unsigned dev, unsigned off, unsigned len);
	void cfg_write(unsigned dev, unsigned off, unsigned len, uint32_t v);
	uint64_t mem_read(uint64_t gpa, unsigned len);
	void mem_write(uint64_t gpa, unsigned len, uint64_t v);

private:
	devvm::Channel channel_;
	vsst_rpc_fds fds_{-1, -1, -1};
	devvm::ProxyEndpoint ep_;
	vsst_rpc *rpc_ = nullptr;
	std::vector<vsst_rpcmsg> skipped_;
};

// A running backend QEMU (killed on destruction if still alive).
class BackendProcess {
public:
	// The QEMU binary (devvm::default_qemu()); empty when not available.
	static std::string qemu_path();

	BackendProcess(SetupMode mode, ProxyChannel &ch, const GuestRam &ram, std::vector<RamRegion> layout,
		       std::vector<std::string> extra_args);
	~BackendProcess();
	BackendProcess(const BackendProcess &) = delete;
	BackendProcess &operator=(const BackendProcess &) = delete;

	// Exit status, or nullopt if still running after timeout (then it is killed).
	std::optional<int> wait_exit(int timeout_ms);
	bool running() { return vm_.process().running(); }
	void signal(int sig) { vm_.process().signal(sig); }
	std::string log() const { return vm_.process().log_tail(1 << 20); } // QEMU's output so far
	pid_t pid() { return vm_.process().pid(); }

private:
	TempDir dir_{"vsst-backend-test"};
	devvm::DeviceVm vm_;
};

// The standard device set: index 0 virtio-sst-pci, index 1 virtio-rng-pci.
std::vector<std::string> standard_devices();

// Sends HELLO, then expects HELLO, REGISTER_PCI_DEV x n, START_VM from the
// backend. Returns the REGISTER_PCI_DEV events in order.
std::vector<vsst_rpcmsg> handshake(ProxyChannel &ch, unsigned expected_devices);

} // namespace vsst::backend_test
