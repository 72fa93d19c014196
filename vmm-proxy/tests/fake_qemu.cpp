// SPDX-License-Identifier: Apache-2.0
// fake-qemu: stands in for both QEMU roles so the launcher's setup, handshake and
// supervision can be tested without QEMU or a guest image.
//
// Device role (argv has "rpc-backend"): receives the channel and guest RAM over
// "-accel rpc,setup-fd=N", for each "-fsdev local,path=P" (a --share) opens P as QEMU's
// 9p backend would and creates fake-9p/<n>.txt in it (a directory, a file: what a guest
// writes; unless readonly=on), answers HELLO, registers one device per -device, sends
// START_VM, then serves MMIO: config reads of device i return 0x1234'1af4 + i, global
// reads return guest RAM (through its own mapping of the shared memfd).
// Guest role: attaches to each "-device rpc-channel", reads every proxied device's
// vendor/device id, checks that guest RAM is shared, prints VSST-RESULT lines.
// Behaviour switches, comma-separated in env FAKE_QEMU:
//   dev-exit-early dev-no-start dev-die-after-ms=N
//   guest-fail guest-hang guest-crash guest-wait-peer
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "vsst/rpc.h"

namespace {

std::string flags()
{
	const char *f = std::getenv("FAKE_QEMU");
	return f ? std::string(",") + f + "," : ",";
}
bool flag(const char *name)
{
	return flags().find(std::string(",") + name + ",") != std::string::npos;
}
long flag_value(const char *name)
{
	std::string f = flags(), key = std::string(",") + name + "=";
	auto p = f.find(key);
	return p == std::string::npos ? -1 : std::strtol(f.c_str() + p + key.size(), nullptr, 10);
}

// Value of key=... inside a QEMU option string ("a,key=v,b").
std::string opt(const std::string &s, const std::string &key)
{
	std::string k = key + "=";
	size_t p = 0;
	while ((p = s.find(k, p)) != std::string::npos) {
		if (p == 0 || s[p - 1] == ',') {
			size_t e = s.find(',', p);
			return s.substr(p + k.size(),
					e == std::string::npos ? std::string::npos : e - p - k.size());
		}
		p++;
	}
	return "";
}

int device_role(const std::vector<std::string> &args)
{
	if (flag("dev-exit-early")) {
		std::fprintf(stderr, "fake device VM: exiting early on purpose\n");
		return 5;
	}
	int setup_fd = -1, ndev = 0;
	std::string control;
	int nshare = 0;
	for (size_t i = 0; i + 1 < args.size(); i++) {
		if (args[i] == "-fsdev") {
			// Like 9p-local's init: open the root, then everything relative to it.
			const std::string path = opt(args[i + 1], "path");
			const int root = open(path.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC);
			if (root < 0) {
				std::fprintf(stderr, "fake device VM: -fsdev %s: %s\n", path.c_str(),
					     strerror(errno));
				return 8;
			}
			if (opt(args[i + 1], "readonly") != "on") {
				const std::string name = "fake-9p/" + std::to_string(nshare) + ".txt";
				int f = -1;
				if (mkdirat(root, "fake-9p", 0755) < 0 && errno != EEXIST)
					f = -1;
				else
					f = openat(root, name.c_str(),
						   O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
				if (f < 0) {
					std::fprintf(stderr, "fake device VM: creating %s in the share: %s\n",
						     name.c_str(), strerror(errno));
					return 8;
				}
				close(f);
			}
			close(root);
			nshare++;
		}
		if (args[i] == "-accel" && !opt(args[i + 1], "setup-fd").empty())
			setup_fd = std::atoi(opt(args[i + 1], "setup-fd").c_str());
		if (args[i] == "-accel")
			control = opt(args[i + 1], "control");
		if (args[i] == "-device")
			ndev++;
	}
	if (!control.empty()) { // started by hand: connect to the launcher, retrying
		sockaddr_un a{};
		a.sun_family = AF_UNIX;
		std::snprintf(a.sun_path, sizeof a.sun_path, "%s", control.c_str());
		for (int tries = 0; tries < 250 && setup_fd < 0; tries++) {
			int s = socket(AF_UNIX, SOCK_STREAM, 0);
			if (connect(s, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0)
				setup_fd = s;
			else {
				close(s);
				usleep(20000);
			}
		}
	}
	struct vsst_rpc_fds fds;
	struct vsst_ram_layout ram {};
	char err[256] = "";
	if (vsst_setup_recv(setup_fd, &fds, &ram, 5000, err, sizeof err) < 0) {
		std::fprintf(stderr, "fake device VM: setup: %s\n", err);
		return 6;
	}
	uint8_t *ram_map = nullptr;
	size_t ram_size = 0;
	if (ram.count > 0) {
		ram_size = ram.region[0].size;
		void *p = mmap(nullptr, ram_size, PROT_READ, MAP_SHARED, ram.region[0].fd, 0);
		if (p != MAP_FAILED)
			ram_map = static_cast<uint8_t *>(p);
	}
	vsst_rpc *ch = vsst_rpc_attach(&fds, VSST_RPC_ROLE_DEVICE, err, sizeof err);
	if (!ch) {
		std::fprintf(stderr, "fake device VM: attach: %s\n", err);
		return 7;
	}
	struct Closer {
		vsst_rpc *ch;
		~Closer() { vsst_rpc_close(ch); }
	} closer{ch};
	std::fprintf(stderr, "fake device VM: %d device(s), uid %d\n", ndev, static_cast<int>(getuid()));
	struct vsst_rpcmsg req;
	if (vsst_rpc_dev_wait_request(ch, &req, 5000) != 1 || vsst_rpc_mr0_op(req.mr0) != VSST_RPC_OP_HELLO) {
		std::fprintf(stderr, "fake device VM: no HELLO\n");
		return 8;
	}
	auto event = [&](unsigned op, uint64_t a, uint64_t b, uint64_t c) {
		struct vsst_rpcmsg ev {
			vsst_rpc_mr0(op, 0, 0, 0, 0, 0), a, b, c
		};
		vsst_rpc_dev_send_event(ch, &ev, 1000);
	};
	event(VSST_RPC_OP_HELLO, VSST_RPC_PROTOCOL_VERSION, 0, 0);
	for (int i = 0; i < ndev; i++)
		event(VSST_RPC_OP_REGISTER_PCI_DEV, static_cast<uint64_t>(i), (0x1af4u << 16) | (0x1000u + i),
		      0xff0000);
	if (flag("dev-no-start")) {
		pause();
		return 0;
	}
	event(VSST_RPC_OP_START_VM, 0, 0, 0);
	long die_after = flag_value("dev-die-after-ms");
	auto t0 = std::chrono::steady_clock::now();
	for (;;) {
		if (die_after >= 0 &&
		    std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(die_after))
			raise(SIGKILL);
		int r = vsst_rpc_dev_wait_request(ch, &req, 50);
		if (r == -ETIMEDOUT)
			continue;
		if (r < 0)
			return 0; // poisoned: the guest side is gone
		if (vsst_rpc_mr0_op(req.mr0) == VSST_RPC_OP_STOP)
			return 0; // the guest side is done
		if (vsst_rpc_mr0_op(req.mr0) != VSST_RPC_OP_MMIO || vsst_rpc_mr0_posted(req.mr0))
			continue;
		unsigned as = vsst_rpc_mr0_as(req.mr0);
		uint64_t data = 0;
		if (as < VSST_RPC_AS_PCI_LIMIT && req.mr1 == 0)
			data = 0x12341af4u + as;
		else if (as == VSST_RPC_AS_GLOBAL && ram_map && req.mr1 + 8 <= ram_size)
			std::memcpy(&data, ram_map + req.mr1, 8);
		vsst_rpc_dev_complete(ch, &req, data, 1000);
	}
}

int guest_role(const std::vector<std::string> &args)
{
	struct Chan {
		std::string id;
		vsst_rpc *ch;
		int peer;
	};
	std::vector<Chan> chans;
	uint8_t *ram = nullptr;
	unsigned pass = 0, fail = 0;
	auto result = [&](const std::string &name, bool ok, const std::string &detail) {
		std::printf("VSST-RESULT %s %s %s\n", name.c_str(), ok ? "PASS" : "FAIL", detail.c_str());
		(ok ? pass : fail)++;
	};
	if (flag("guest-bad-option")) {
		std::fprintf(stderr, "fake-qemu: -device rpc-proxy-pci: something is wrong\n");
		return 1;
	}
	std::printf("fake guest booting\nVSST-BOOT init uptime=0.1\n");
	result("boot", true, "");
	std::fprintf(stderr, "fake guest VM: uid %d\n", static_cast<int>(getuid()));
	// QEMU reads -kernel and -initrd by path (as whatever user it runs as).
	for (size_t i = 0; i + 1 < args.size(); i++)
		if (args[i] == "-kernel" || args[i] == "-initrd") {
			const int f = open(args[i + 1].c_str(), O_RDONLY | O_CLOEXEC);
			result("read" + args[i], f >= 0, args[i + 1]);
			if (f >= 0)
				close(f);
		}
	for (size_t i = 0; i + 1 < args.size(); i++) {
		const std::string &v = args[i + 1];
		if (args[i] == "-object" && v.rfind("memory-backend-file", 0) == 0) {
			std::string path = opt(v, "mem-path");
			int fd = open(path.c_str(), O_RDWR);
			void *p = fd >= 0 ? mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
					  : MAP_FAILED;
			if (p != MAP_FAILED)
				ram = static_cast<uint8_t *>(p);
		}
		if (args[i] == "-device" && v.rfind("rpc-channel", 0) == 0) {
			std::string f = opt(v, "fds");
			struct vsst_rpc_fds fds {};
			if (std::sscanf(f.c_str(), "%d:%d:%d", &fds.region, &fds.to_device, &fds.to_proxy) !=
			    3)
				return 9;
			char err[256] = "";
			vsst_rpc *ch = vsst_rpc_attach(&fds, VSST_RPC_ROLE_PROXY, err, sizeof err);
			std::string peer = opt(v, "peer-fd");
			chans.push_back({opt(v, "id"), ch, peer.empty() ? -1 : std::atoi(peer.c_str())});
			result("attach." + opt(v, "id"), ch != nullptr, err);
		}
	}
	for (size_t i = 0; i + 1 < args.size(); i++) {
		const std::string &v = args[i + 1];
		if (args[i] != "-device" || v.rfind("rpc-proxy-pci", 0) != 0)
			continue;
		std::string chan = opt(v, "chan");
		unsigned index = static_cast<unsigned>(std::atoi(opt(v, "index").c_str()));
		for (auto &c : chans) {
			if (c.id != chan || !c.ch)
				continue;
			uint64_t data = 0;
			int r = vsst_rpc_proxy_mmio(c.ch, index, 0, 4, VSST_RPC_DIR_READ, &data, 2000);
			char detail[64];
			std::snprintf(detail, sizeof detail, "id=0x%llx rc=%d",
				      static_cast<unsigned long long>(data), r);
			result("config." + chan + "." + std::to_string(index),
			       r == 0 && data == 0x12341af4u + index, detail);
		}
	}
	if (ram && !chans.empty() && chans[0].ch) {
		const uint64_t magic = 0x5653'5354'5241'4d21ull;
		std::memcpy(ram + 0x2000, &magic, 8);
		uint64_t data = 0;
		int r = vsst_rpc_proxy_mmio(chans[0].ch, VSST_RPC_AS_GLOBAL, 0x2000, 8, VSST_RPC_DIR_READ,
					    &data, 2000);
		result("ram.shared", r == 0 && data == magic, "");
	}
	std::fflush(stdout);
	if (flag("guest-crash"))
		std::abort(); // SIGABRT: sanitizers leave it alone, unlike SIGSEGV
	if (flag("guest-fail"))
		result("forced", false, "reason=FAKE_QEMU");
	if (flag("guest-hang")) {
		std::fflush(stdout);
		for (;;)
			pause();
	}
	if (flag("guest-wait-peer") && !chans.empty() && chans[0].peer >= 0) {
		// Waits until the device VM is gone, then sees what a guest access gives.
		pollfd p{chans[0].peer, POLLIN, 0};
		poll(&p, 1, 20000);
		uint64_t data = 0;
		int r = vsst_rpc_proxy_mmio(chans[0].ch, 0, 0, 4, VSST_RPC_DIR_READ, &data, 500);
		char detail[64];
		std::snprintf(detail, sizeof detail, "rc=%d", r);
		result("after-device-death", false, detail);
		std::fflush(stdout);
		for (;;)
			pause(); // like a guest stuck on a dead device: the launcher must stop it
	}
	std::printf("VSST-RESULT summary pass=%u fail=%u skip=0\n", pass, fail);
	std::printf("VSST-BOOT poweroff uptime=1\n");
	for (auto &c : chans) {
		// Like rpc-channel's exit notifier: the device VM may stop now.
		struct vsst_rpcmsg stop {
			vsst_rpc_mr0(VSST_RPC_OP_STOP, 0, 0, 0, 0, 0), 0, 0, 0
		};
		if (c.ch)
			vsst_rpc_proxy_send(c.ch, &stop, 100);
		vsst_rpc_close(c.ch);
	}
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	std::vector<std::string> args(argv + 1, argv + argc);
	for (const auto &a : args)
		if (a == "rpc-backend")
			return device_role(args);
	return guest_role(args);
}
