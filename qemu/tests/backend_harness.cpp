// SPDX-License-Identifier: Apache-2.0
#include "backend_harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

namespace vsst::backend_test {

namespace {

constexpr int kSetupTimeoutMs = 10000;

std::runtime_error sys_error(const std::string &what)
{
	return std::runtime_error(what + ": " + std::strerror(errno));
}

int64_t now_ms()
{
	using namespace std::chrono;
	return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

std::string temp_path(const std::string &stem)
{
	const char *dir = std::getenv("TMPDIR");
	std::string tmpl = std::string(dir && *dir ? dir : "/tmp") + "/" + stem + "-XXXXXX";
	std::vector<char> buf(tmpl.begin(), tmpl.end());
	buf.push_back('\0');
	int fd = mkstemp(buf.data());
	if (fd < 0)
		throw sys_error("mkstemp");
	close(fd);
	return std::string(buf.data());
}

std::string ram_option(const GuestRam &ram, const std::vector<RamRegion> &layout)
{
	std::ostringstream os;
	for (size_t i = 0; i < layout.size(); i++) {
		if (i)
			os << ':';
		os << ram.fd() << "@0x" << std::hex << layout[i].gpa << "+0x" << layout[i].size
		   << "+0x" << layout[i].fd_offset << std::dec;
	}
	return os.str();
}

} // namespace

GuestRam::GuestRam(uint64_t bytes) : size_(bytes)
{
	fd_.reset(memfd_create("vsst-test-guest-ram", MFD_CLOEXEC));
	if (!fd_)
		throw sys_error("memfd_create");
	if (ftruncate(fd_.get(), static_cast<off_t>(bytes)) < 0)
		throw sys_error("ftruncate");
	void *p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
	if (p == MAP_FAILED)
		throw sys_error("mmap guest RAM");
	base_ = static_cast<uint8_t *>(p);
}

GuestRam::~GuestRam()
{
	if (base_)
		munmap(base_, size_);
}

ProxyChannel::ProxyChannel()
{
	char err[256] = "";
	vsst_rpc_params params{};
	params.ring_capacity = 256;
	int r = vsst_rpc_create(&params, &fds_, err, sizeof(err));
	if (r < 0)
		throw std::runtime_error(std::string("vsst_rpc_create: ") + err);
	rpc_ = vsst_rpc_attach(&fds_, VSST_RPC_ROLE_PROXY, err, sizeof(err));
	if (!rpc_)
		throw std::runtime_error(std::string("vsst_rpc_attach(proxy): ") + err);
}

ProxyChannel::~ProxyChannel()
{
	vsst_rpc_close(rpc_);
	for (int fd : {fds_.region, fds_.to_device, fds_.to_proxy})
		if (fd >= 0)
			close(fd);
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

std::optional<vsst_rpcmsg>
ProxyChannel::wait_for(const std::function<bool(const vsst_rpcmsg &)> &pred, int timeout_ms)
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
	return wait_for([op](const vsst_rpcmsg &m) { return vsst_rpc_mr0_op(m.mr0) == op; },
			timeout_ms);
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
	EXPECT_EQ(write(dev, off, len, v), 0)
		<< "config write dev " << dev << " off 0x" << std::hex << off;
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
	const char *q = std::getenv("VSST_QEMU");
	if (!q || !*q || access(q, X_OK) != 0)
		return {};
	return q;
}

BackendProcess::BackendProcess(SetupMode mode, ProxyChannel &ch, const GuestRam &ram,
			       std::vector<RamRegion> layout, std::vector<std::string> extra)
{
	std::string qemu = qemu_path();
	if (qemu.empty())
		throw std::runtime_error("VSST_QEMU is not set or not executable");
	log_path_ = temp_path("vsst-backend-log");

	UniqueFd listener, pair_parent, pair_child;
	std::string accel = "rpc";
	std::vector<int> inherit;
	switch (mode) {
	case SetupMode::InheritFds: {
		const vsst_rpc_fds &f = ch.fds();
		accel += ",fds=" + std::to_string(f.region) + ":" + std::to_string(f.to_device) +
			 ":" + std::to_string(f.to_proxy) + ",ram=" + ram_option(ram, layout);
		inherit = {f.region, f.to_device, f.to_proxy, ram.fd()};
		break;
	}
	case SetupMode::ControlSocket: {
		sock_path_ = temp_path("vsst-backend-ctl");
		unlink(sock_path_.c_str());
		listener.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
		sockaddr_un sa{};
		sa.sun_family = AF_UNIX;
		std::snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path_.c_str());
		if (!listener || bind(listener.get(), reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) < 0 ||
		    listen(listener.get(), 1) < 0)
			throw sys_error("control socket " + sock_path_);
		accel += ",control=" + sock_path_;
		break;
	}
	case SetupMode::SetupFd: {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			throw sys_error("socketpair");
		pair_parent.reset(sv[0]);
		pair_child.reset(sv[1]);
		accel += ",setup-fd=" + std::to_string(sv[1]);
		inherit = {sv[1]};
		break;
	}
	}

	std::vector<std::string> args = {qemu, "-nodefaults", "-display", "none", "-machine",
					  "rpc-backend", "-accel", accel, "-sandbox", "on"};
	args.insert(args.end(), extra.begin(), extra.end());
	std::vector<char *> argv;
	for (auto &a : args)
		argv.push_back(a.data());
	argv.push_back(nullptr);

	int logfd = open(log_path_.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (logfd < 0)
		throw sys_error("open " + log_path_);
	pid_ = fork();
	if (pid_ < 0)
		throw sys_error("fork");
	if (pid_ == 0) {
		// Child: only async-signal-safe calls until exec.
		for (int fd : inherit)
			fcntl(fd, F_SETFD, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		execv(argv[0], argv.data());
		_exit(127);
	}
	close(logfd);

	if (mode == SetupMode::ControlSocket) {
		pollfd p{listener.get(), POLLIN, 0};
		if (poll(&p, 1, kSetupTimeoutMs) != 1)
			throw std::runtime_error("backend did not connect to the control socket");
		UniqueFd conn(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
		if (!conn)
			throw sys_error("accept");
		send_setup(conn.get(), ch, ram, layout);
	} else if (mode == SetupMode::SetupFd) {
		pair_child.reset();
		send_setup(pair_parent.get(), ch, ram, layout);
	}
}

void BackendProcess::send_setup(int sock, const ProxyChannel &ch, const GuestRam &ram,
				const std::vector<RamRegion> &layout)
{
	vsst_ram_layout l{};
	l.count = static_cast<uint32_t>(layout.size());
	for (size_t i = 0; i < layout.size(); i++)
		l.region[i] = {layout[i].gpa, layout[i].size, layout[i].fd_offset, ram.fd()};
	int r = vsst_setup_send(sock, &ch.fds(), &l);
	if (r < 0)
		throw std::runtime_error(std::string("vsst_setup_send: ") + std::strerror(-r));
}

BackendProcess::~BackendProcess()
{
	if (pid_ > 0 && !status_) {
		kill(pid_, SIGKILL);
		int st;
		waitpid(pid_, &st, 0);
	}
	if (!log_path_.empty()) {
		if (::testing::Test::HasFailure())
			std::fprintf(stderr, "---- backend QEMU output ----\n%s\n----\n", log().c_str());
		unlink(log_path_.c_str());
	}
	if (!sock_path_.empty())
		unlink(sock_path_.c_str());
}

std::optional<int> BackendProcess::wait_exit(int timeout_ms)
{
	if (status_)
		return status_;
	int64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		int st;
		pid_t r = waitpid(pid_, &st, WNOHANG);
		if (r == pid_) {
			status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			return status_;
		}
		if (now_ms() >= deadline)
			break;
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
	kill(pid_, SIGKILL);
	int st;
	waitpid(pid_, &st, 0);
	status_ = -1;
	return std::nullopt;
}

bool BackendProcess::running()
{
	if (status_)
		return false;
	int st;
	pid_t r = waitpid(pid_, &st, WNOHANG);
	if (r == pid_) {
		status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		return false;
	}
	return true;
}

void BackendProcess::signal(int sig)
{
	if (!status_)
		kill(pid_, sig);
}

std::string BackendProcess::log() const
{
	std::ifstream in(log_path_);
	std::stringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

std::vector<std::string> standard_devices()
{
	return {"-device", "virtio-sst-pci,id=sst0", "-device", "virtio-rng-pci,id=rng0"};
}

std::vector<vsst_rpcmsg> handshake(ProxyChannel &ch, unsigned expected_devices)
{
	std::vector<vsst_rpcmsg> regs;
	EXPECT_EQ(ch.send(VSST_RPC_OP_HELLO, VSST_RPC_PROTOCOL_VERSION), 0);
	auto hello = ch.next_event(kSetupTimeoutMs);
	if (!hello) {
		ADD_FAILURE() << "no HELLO from the backend";
		return regs;
	}
	EXPECT_EQ(vsst_rpc_mr0_op(hello->mr0), VSST_RPC_OP_HELLO);
	EXPECT_EQ(hello->mr1, VSST_RPC_PROTOCOL_VERSION);
	for (;;) {
		auto ev = ch.next_event(kSetupTimeoutMs);
		if (!ev) {
			ADD_FAILURE() << "no START_VM from the backend";
			return regs;
		}
		unsigned op = vsst_rpc_mr0_op(ev->mr0);
		if (op == VSST_RPC_OP_START_VM)
			break;
		EXPECT_EQ(op, VSST_RPC_OP_REGISTER_PCI_DEV);
		regs.push_back(*ev);
	}
	EXPECT_EQ(regs.size(), expected_devices);
	return regs;
}

} // namespace vsst::backend_test
