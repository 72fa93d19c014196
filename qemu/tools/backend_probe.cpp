// SPDX-License-Identifier: Apache-2.0
// vsst-backend-probe: start a device-VM QEMU by hand and look at it.
//
//   vsst-backend-probe [--qemu PATH] [--ram SIZE_MIB] [--timeout MS] [--keep]
//                      [-- <extra QEMU arguments, e.g. -device virtio-sst-pci,...>]
//
// Creates an RPC channel and a guest RAM memfd, starts
//   QEMU -nodefaults -display none -machine rpc-backend -accel rpc,setup-fd=N <extra>
// sends the set-up over the inherited socket, does the HELLO handshake, lists
// every registered PCI device (REGISTER_PCI_DEV and its config space), then
// sends STOP (or, with --keep, waits until QEMU exits) and reports the exit
// status. QEMU defaults to $VSST_QEMU.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "vsst/rpc.h"

namespace {

struct Options {
	std::string qemu;
	uint64_t ram_mib = 256;
	int timeout_ms = 10000;
	bool keep = false;
	std::vector<std::string> extra;
};

int usage()
{
	std::fprintf(stderr, "usage: vsst-backend-probe [--qemu PATH] [--ram MIB] [--timeout MS] "
			     "[--keep] [-- QEMU-ARGS...]\n");
	return 2;
}

bool parse(int argc, char **argv, Options &o)
{
	const char *env = std::getenv("VSST_QEMU");
	o.qemu = env ? env : "";
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
	case VSST_RPC_OP_HELLO: return "HELLO";
	case VSST_RPC_OP_REGISTER_PCI_DEV: return "REGISTER_PCI_DEV";
	case VSST_RPC_OP_START_VM: return "START_VM";
	case VSST_RPC_OP_STOP: return "STOP";
	case VSST_RPC_OP_MSI: return "MSI";
	case VSST_RPC_OP_SET_IRQ: return "SET_IRQ";
	case VSST_RPC_OP_MMIO_REGION_CONFIG: return "MMIO_REGION_CONFIG";
	default: return "?";
	}
}

// Owns the channel fds, the proxy endpoint, the RAM memfd and the child.
class Probe {
public:
	~Probe()
	{
		vsst_rpc_close(rpc_);
		for (int fd : {fds_.region, fds_.to_device, fds_.to_proxy, ram_fd_, sock_})
			if (fd >= 0)
				close(fd);
		if (pid_ > 0 && !reaped_) {
			kill(pid_, SIGKILL);
			waitpid(pid_, nullptr, 0);
		}
	}

	int run(const Options &o)
	{
		char err[256] = "";
		if (vsst_rpc_create(nullptr, &fds_, err, sizeof(err)) < 0) {
			spdlog::error("creating the channel: {}", err);
			return 1;
		}
		rpc_ = vsst_rpc_attach(&fds_, VSST_RPC_ROLE_PROXY, err, sizeof(err));
		if (!rpc_) {
			spdlog::error("attaching as proxy: {}", err);
			return 1;
		}
		ram_fd_ = memfd_create("vsst-probe-ram", MFD_CLOEXEC);
		if (ram_fd_ < 0 || ftruncate(ram_fd_, static_cast<off_t>(o.ram_mib << 20)) < 0) {
			spdlog::error("guest RAM memfd: {}", std::strerror(errno));
			return 1;
		}
		if (!spawn(o))
			return 1;
		vsst_ram_layout layout{};
		layout.count = 1;
		layout.region[0] = {0, o.ram_mib << 20, 0, ram_fd_};
		if (int r = vsst_setup_send(sock_, &fds_, &layout); r < 0) {
			spdlog::error("sending the set-up: {}", std::strerror(-r));
			return 1;
		}
		vsst_rpcmsg hello{vsst_rpc_mr0(VSST_RPC_OP_HELLO, 0, 0, 0, 0, 0),
				  VSST_RPC_PROTOCOL_VERSION, 0, 0};
		if (int r = vsst_rpc_proxy_send(rpc_, &hello, o.timeout_ms); r < 0) {
			spdlog::error("sending HELLO: {}", std::strerror(-r));
			return 1;
		}
		if (!handshake(o))
			return finish(o, 1);
		return finish(o, 0);
	}

private:
	bool spawn(const Options &o)
	{
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
			spdlog::error("socketpair: {}", std::strerror(errno));
			return false;
		}
		std::vector<std::string> args = {o.qemu, "-nodefaults", "-display", "none",
						  "-machine", "rpc-backend", "-accel",
						  "rpc,setup-fd=" + std::to_string(sv[1])};
		args.insert(args.end(), o.extra.begin(), o.extra.end());
		std::string line;
		for (auto &a : args)
			line += a + " ";
		spdlog::info("starting: {}", line);
		std::vector<char *> argv;
		for (auto &a : args)
			argv.push_back(a.data());
		argv.push_back(nullptr);
		pid_ = fork();
		if (pid_ < 0) {
			spdlog::error("fork: {}", std::strerror(errno));
			return false;
		}
		if (pid_ == 0) {
			fcntl(sv[1], F_SETFD, 0);
			execv(argv[0], argv.data());
			_exit(127);
		}
		close(sv[1]);
		sock_ = sv[0];
		return true;
	}

	bool handshake(const Options &o)
	{
		for (;;) {
			vsst_rpcmsg ev{};
			int r = vsst_rpc_proxy_wait_event(rpc_, &ev, o.timeout_ms);
			if (r != 1) {
				spdlog::error("waiting for the backend: {}", std::strerror(-r));
				return false;
			}
			unsigned op = vsst_rpc_mr0_op(ev.mr0);
			spdlog::info("event {} mr1={:#x} mr2={:#x} mr3={:#x}", op_name(op), ev.mr1,
				     ev.mr2, ev.mr3);
			if (op == VSST_RPC_OP_REGISTER_PCI_DEV)
				show_device(static_cast<unsigned>(ev.mr1));
			if (op == VSST_RPC_OP_START_VM)
				return true;
		}
	}

	void show_device(unsigned index)
	{
		uint64_t id = 0, cls = 0;
		int r1 = vsst_rpc_proxy_mmio(rpc_, index, 0, 4, VSST_RPC_DIR_READ, &id, 2000);
		int r2 = vsst_rpc_proxy_mmio(rpc_, index, 8, 4, VSST_RPC_DIR_READ, &cls, 2000);
		if (r1 < 0 || r2 < 0) {
			spdlog::error("device {}: config read failed: {}", index,
				      std::strerror(-(r1 < 0 ? r1 : r2)));
			return;
		}
		spdlog::info("device {}: config space {:04x}:{:04x} class {:06x}", index,
			     id & 0xffff, (id >> 16) & 0xffff, cls >> 8);
	}

	int finish(const Options &o, int rc)
	{
		if (!o.keep || rc != 0) {
			vsst_rpcmsg stop{vsst_rpc_mr0(VSST_RPC_OP_STOP, 0, 0, 0, 0, 0), 0, 0, 0};
			vsst_rpc_proxy_send(rpc_, &stop, 1000);
		} else {
			spdlog::info("backend running (pid {}); waiting for it to exit", pid_);
		}
		auto deadline = std::chrono::steady_clock::now() +
				std::chrono::milliseconds(o.keep ? 24 * 3600 * 1000 : o.timeout_ms);
		int st = 0;
		while (waitpid(pid_, &st, WNOHANG) == 0) {
			if (std::chrono::steady_clock::now() > deadline) {
				spdlog::error("backend did not exit; killing it");
				return 1;
			}
			std::this_thread::sleep_for(std::chrono::milliseconds(20));
		}
		reaped_ = true;
		int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		spdlog::info("backend exited with status {}", code);
		return rc ? rc : code;
	}

	vsst_rpc_fds fds_{-1, -1, -1};
	vsst_rpc *rpc_ = nullptr;
	int ram_fd_ = -1;
	int sock_ = -1;
	pid_t pid_ = -1;
	bool reaped_ = false;
};

} // namespace

int main(int argc, char **argv)
{
	Options o;
	if (!parse(argc, argv, o))
		return usage();
	Probe probe;
	return probe.run(o);
}
