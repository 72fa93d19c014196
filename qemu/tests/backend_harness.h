// SPDX-License-Identifier: Apache-2.0
// Test harness for the device-VM QEMU (qemu/overlay): starts the real
// qemu-system-x86_64 with -machine rpc-backend -accel rpc and plays the
// proxy side of the RPC channel through the rpc C API.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "vsst/posix/unique_fd.h"
#include "vsst/rpc.h"

namespace vsst::backend_test {

// Guest RAM: one memfd, mapped here so tests can place data in it.
class GuestRam {
public:
	explicit GuestRam(uint64_t bytes);
	~GuestRam();
	GuestRam(const GuestRam &) = delete;
	GuestRam &operator=(const GuestRam &) = delete;
	int fd() const { return fd_.get(); }
	uint64_t size() const { return size_; }
	uint8_t *at(uint64_t offset) const { return base_ + offset; }

private:
	UniqueFd fd_;
	uint64_t size_;
	uint8_t *base_ = nullptr;
};

// The proxy end of a fresh channel. Owns the creator's fds and the endpoint.
class ProxyChannel {
public:
	ProxyChannel();
	~ProxyChannel();
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
	vsst_rpc_fds fds_{-1, -1, -1};
	vsst_rpc *rpc_ = nullptr;
	std::vector<vsst_rpcmsg> skipped_;
};

// How the backend receives its channel.
enum class SetupMode { InheritFds, ControlSocket, SetupFd };

struct RamRegion {
	uint64_t gpa, size, fd_offset;
};

// A running backend QEMU (killed on destruction if still alive).
class BackendProcess {
public:
	// QEMU binary from $VSST_QEMU; empty when not available.
	static std::string qemu_path();

	BackendProcess(SetupMode mode, ProxyChannel &ch, const GuestRam &ram,
		       std::vector<RamRegion> layout, std::vector<std::string> extra_args);
	~BackendProcess();
	BackendProcess(const BackendProcess &) = delete;
	BackendProcess &operator=(const BackendProcess &) = delete;

	// Exit status, or nullopt if still running after timeout (then it is killed).
	std::optional<int> wait_exit(int timeout_ms);
	bool running();
	void signal(int sig);
	std::string log() const; // stderr + stdout of QEMU so far
	pid_t pid() const { return pid_; }

private:
	void send_setup(int sock, const ProxyChannel &ch, const GuestRam &ram,
			const std::vector<RamRegion> &layout);

	pid_t pid_ = -1;
	std::optional<int> status_;
	std::string log_path_;
	std::string sock_path_;
};

// The standard device set: index 0 virtio-sst-pci, index 1 virtio-rng-pci.
std::vector<std::string> standard_devices();

// Sends HELLO, then expects HELLO, REGISTER_PCI_DEV x n, START_VM from the
// backend. Returns the REGISTER_PCI_DEV events in order.
std::vector<vsst_rpcmsg> handshake(ProxyChannel &ch, unsigned expected_devices);

} // namespace vsst::backend_test
