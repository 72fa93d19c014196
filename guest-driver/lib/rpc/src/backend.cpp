// SPDX-License-Identifier: Apache-2.0
#include "vsst/virtio/backend.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>

#include "vsst/virtio/error.h"

#ifndef VSST_DEFAULT_BIN_DIR
#define VSST_DEFAULT_BIN_DIR ""
#endif

namespace vsst::virtio {

namespace fs = std::filesystem;

static std::string env_or(const char *name, const std::string &fallback) {
	const char *v = std::getenv(name);
	return v && *v ? std::string(v) : fallback;
}

std::string default_qemu_path() {
	const char *q = std::getenv("VSST_QEMU");
	if (q && *q)
		return q;
	return VSST_DEFAULT_QEMU; // this checkout's build (CMake's VSST_DEFAULT_QEMU)
}

std::string default_sim_path() {
	return env_or("VSST_BIN", VSST_DEFAULT_BIN_DIR) + "/sst-sim";
}

bool executable(const std::string &path) { return !path.empty() && ::access(path.c_str(), X_OK) == 0; }

TempDir::TempDir(const std::string &prefix) {
	std::string tmpl = (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
	if (!::mkdtemp(tmpl.data()))
		throw Error("mkdtemp " + tmpl + ": " + std::strerror(errno));
	path_ = tmpl;
}

TempDir::~TempDir() {
	const char *keep = std::getenv("VSST_KEEP_TEST_DIRS");
	if (keep_ || (keep && *keep == '1')) {
		std::fprintf(stderr, "kept %s\n", path_.c_str());
		return;
	}
	std::error_code ec;
	fs::remove_all(path_, ec);
}

// ---- simulator ----

static bool socket_accepts(const std::string &path) {
	const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	sockaddr_un sa{};
	sa.sun_family = AF_UNIX;
	std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
	const bool ok = ::connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) == 0;
	::close(fd);
	return ok;
}

SimServer::SimServer(std::string binary, std::string socket, std::string log, std::vector<std::string> extra)
	: binary_(std::move(binary)), socket_(std::move(socket)), log_(std::move(log)), extra_(std::move(extra)) {
	launch();
}

void SimServer::launch() {
	std::vector<std::string> argv = {binary_, "--socket", socket_, "--status-interval", "0"};
	argv.insert(argv.end(), extra_.begin(), extra_.end());
	proc_ = ChildProcess(argv, {}, log_);
	// Probing connects and closes at once; the server treats that as a
	// short-lived client.
	const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
	while (!socket_accepts(socket_)) {
		if (!proc_.running())
			throw Error("sst-sim exited during start-up: " + proc_.log_tail());
		if (std::chrono::steady_clock::now() > deadline)
			throw TimeoutError("sst-sim did not listen on " + socket_ + " within 10 s");
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
}

void SimServer::restart() {
	proc_.kill_now();
	launch();
}

// ---- backend QEMU ----

static std::string ram_arg(const vsst_ram_layout &l) {
	std::string s;
	for (uint32_t i = 0; i < l.count; i++) {
		const vsst_ram_region &r = l.region[i];
		if (i)
			s += ':';
		s += std::to_string(r.fd) + "@" + hex(r.gpa) + "+" + std::to_string(r.size);
		if (r.fd_offset)
			s += "+" + hex(r.fd_offset);
	}
	return s;
}

Backend::Backend(RpcGuest &guest, BackendOptions opt) : guest_(guest) {
	const vsst_rpc_fds &f = guest.channel_fds();
	const vsst_ram_layout &l = guest.ram_layout();
	argv_ = {opt.qemu, "-machine", "rpc-backend", "-accel",
		 "rpc,fds=" + std::to_string(f.region) + ":" + std::to_string(f.to_device) + ":" +
			 std::to_string(f.to_proxy) + ",ram=" + ram_arg(l),
		 "-nodefaults", "-display", "none"};
	if (opt.with_sst) {
		argv_.push_back("-device");
		argv_.push_back(opt.sim_socket.empty() ? "virtio-sst-pci" : "virtio-sst-pci,socket=" + opt.sim_socket);
	}
	if (opt.with_rng) {
		argv_.push_back("-device");
		argv_.push_back("virtio-rng-pci");
	}
	for (auto &d : opt.extra_device_args) {
		argv_.push_back("-device");
		argv_.push_back(d);
	}
	argv_.insert(argv_.end(), opt.extra_args.begin(), opt.extra_args.end());
	std::vector<int> inherit = {f.region, f.to_device, f.to_proxy};
	for (uint32_t i = 0; i < l.count; i++)
		inherit.push_back(l.region[i].fd);
	proc_ = ChildProcess(argv_, inherit, opt.log);
}

Backend::~Backend() { shutdown(std::chrono::milliseconds(3000)); }

std::optional<int> Backend::shutdown(std::chrono::milliseconds timeout) {
	if (!proc_.running())
		return proc_.exit_status();
	guest_.stop();
	if (auto st = proc_.wait(timeout))
		return st;
	return proc_.terminate(std::chrono::milliseconds(2000));
}

// ---- device bring-up ----

RpcVirtioPci::RpcVirtioPci(RpcGuest &guest, unsigned index, VirtioPciTransport::Options opt) {
	config = guest.config(index);
	function = std::make_unique<PciFunction>(*config);
	function->assign_bars(guest.pci_window());
	// The backend announces posted doorbell regions once the BARs decode.
	guest.pump(std::chrono::milliseconds(0));
	transport = std::make_unique<VirtioPciTransport>(*function, guest.mmio(), guest.interrupts(index), opt);
}

} // namespace vsst::virtio
