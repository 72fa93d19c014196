// SPDX-License-Identifier: Apache-2.0
// rpc-proxy-pci and rpc-channel inside the real QEMU, driven through qtest (no guest
// code runs): this process plays the device VM with a small fake PCI function, and
// checks config forwarding, BAR sizing and mapping, memory and I/O forwarding, posted
// doorbells, INTx, validation of bad events (rejected, reported once, QEMU alive),
// all-ones after the channel dies or stops answering, and the restart hand-over
// (restart-fd: down, a new channel, the guest's set-up replayed into it, give-up).
// Needs VSST_QEMU with rpc-proxy-pci; exits 77 (skip) without it, fails under
// VSST_REQUIRE_ALL=1.
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "vsst/posix/child_process.h"
#include "vsst/posix/temp_dir.h"
#include "vsst/posix/unique_fd.h"
#include "vsst/posix/unix_socket.h"
#include "vsst/rpc.h"
#include "vsst/rpc/layout.hpp"
#include "vsst/rpc/raw_region.hpp"
#include "vsst/rpc_restart.h"

#include "hostile_messages.h"

namespace {

using namespace std::chrono_literals;

std::string qemu_path()
{
	for (const char *v : {"VSST_QEMU", "VSST_DEFAULT_QEMU"})
		if (const char *p = getenv(v); p && *p && access(p, X_OK) == 0)
			return p;
	return "";
}

bool qemu_has_proxy(const std::string &qemu)
{
	std::string cmd = "timeout 30 '" + qemu + "' -device help 2>/dev/null | grep -q '\"rpc-proxy-pci\"'";
	return !qemu.empty() && system(cmd.c_str()) == 0;
}

// A PCI function in config space: BAR0 4 KiB memory, BAR1 256 bytes I/O, BAR2/3 a 16 KiB
// 64-bit memory BAR, a ROM (the proxy must hide it), INTx pin A, multi-function bit set
// (the proxy must mask it).
struct FakeFunction {
	uint8_t cfg[256] = {};
	uint8_t wmask[256] = {};

	FakeFunction()
	{
		auto put32 = [&](unsigned off, uint32_t v) { std::memcpy(cfg + off, &v, 4); };
		auto mask32 = [&](unsigned off, uint32_t v) { std::memcpy(wmask + off, &v, 4); };
		put32(0x00, 0x10ff1af4);
		put32(0x08, 0xff000001); // class ff0000, revision 1
		cfg[0x0e] = 0x80;
		put32(0x10, 0x0);
		mask32(0x10, 0xfffff000);
		put32(0x14, 0x1);
		mask32(0x14, 0xffffff00);
		put32(0x18, 0x4);
		mask32(0x18, 0xffffc000);
		mask32(0x1c, 0xffffffff);
		put32(0x2c, 0x00011af4);
		mask32(0x30, 0xfffff801);
		cfg[0x3d] = 1;
		wmask[0x3c] = 0xff;
		wmask[0x04] = 0x07; // IO, MEM, MASTER
		wmask[0x05] = 0x04; // INTx disable
	}
	uint64_t read(unsigned off, unsigned len) const
	{
		uint64_t v = 0;
		std::memcpy(&v, cfg + off, len);
		return v;
	}
	void write(unsigned off, unsigned len, uint64_t v)
	{
		for (unsigned i = 0; i < len; i++) {
			uint8_t b = static_cast<uint8_t>(v >> (8 * i));
			cfg[off + i] =
				static_cast<uint8_t>((cfg[off + i] & ~wmask[off + i]) | (b & wmask[off + i]));
		}
	}
	uint32_t bar(unsigned n) const { return static_cast<uint32_t>(read(0x10 + 4 * n, 4)); }
};

struct Seen {
	unsigned as;
	uint64_t addr;
	unsigned len;
	bool write, posted;
	uint64_t data;
};

// The device VM side, served from a thread.
class FakeBackend {
public:
	explicit FakeBackend(vsst_rpc *ch) : ch_(ch) {}
	~FakeBackend() { stop(); }

	void start()
	{
		thread_ = std::thread([this] { serve(); });
	}
	void stop()
	{
		quit_ = true;
		if (thread_.joinable())
			thread_.join();
	}
	void event(unsigned op, uint64_t a, uint64_t b, uint64_t c) { ASSERT_EQ(try_event(op, a, b, c), 0); }
	int try_event(unsigned op, uint64_t a, uint64_t b, uint64_t c)
	{
		struct vsst_rpcmsg ev {
			vsst_rpc_mr0(op, 0, 0, 0, 0, 0), a, b, c
		};
		return vsst_rpc_dev_send_event(ch_, &ev, 1000);
	}
	std::vector<Seen> seen()
	{
		std::lock_guard lk(mtx_);
		return seen_;
	}
	uint32_t bar(unsigned n)
	{
		std::lock_guard lk(mtx_);
		return fn_.bar(n);
	}
	uint16_t command()
	{
		std::lock_guard lk(mtx_);
		return static_cast<uint16_t>(fn_.read(4, 2));
	}
	std::atomic<bool> silent{false};   // stop completing reads (a stuck device VM)
	std::atomic<int> read_delay_ms{0}; // a slow device VM

private:
	void serve()
	{
		while (!quit_) {
			struct vsst_rpcmsg req;
			int r = vsst_rpc_dev_wait_request(ch_, &req, 50);
			if (r == -ETIMEDOUT)
				continue;
			if (r < 0)
				return;
			unsigned op = vsst_rpc_mr0_op(req.mr0);
			if (op == VSST_RPC_OP_HELLO) {
				event(VSST_RPC_OP_HELLO, VSST_RPC_PROTOCOL_VERSION, 0, 0);
				event(VSST_RPC_OP_REGISTER_PCI_DEV, 0, 0x1af410ff, 0xff0000);
				event(VSST_RPC_OP_START_VM, 0, 0, 0);
				continue;
			}
			if (op != VSST_RPC_OP_MMIO)
				continue;
			Seen s{vsst_rpc_mr0_as(req.mr0),
			       req.mr1,
			       vsst_rpc_mr0_len(req.mr0),
			       vsst_rpc_mr0_dir(req.mr0) == VSST_RPC_DIR_WRITE,
			       vsst_rpc_mr0_posted(req.mr0) != 0,
			       req.mr2};
			uint64_t data = 0;
			{
				std::lock_guard lk(mtx_);
				seen_.push_back(s);
				if (s.as == 0 && s.addr + s.len <= 256) {
					if (s.write)
						fn_.write(static_cast<unsigned>(s.addr), s.len, s.data);
					else
						data = fn_.read(static_cast<unsigned>(s.addr), s.len);
				} else if (!s.write) {
					data = 0xabc00000u | (s.addr & 0xfffff); // a recognisable pattern
				}
			}
			if (s.posted || (silent && !s.write))
				continue;
			if (!s.write && read_delay_ms > 0)
				std::this_thread::sleep_for(std::chrono::milliseconds(read_delay_ms.load()));
			vsst_rpc_dev_complete(ch_, &req, data, 1000);
		}
	}

	vsst_rpc *ch_;
	std::thread thread_;
	std::atomic<bool> quit_{false};
	std::mutex mtx_;
	FakeFunction fn_;
	std::vector<Seen> seen_;
};

// QEMU under qtest, commands on stdin, answers on stdout, stderr to a file.
class Qtest {
public:
	bool start(const std::string &qemu, const vsst_rpc_fds &fds, const std::string &err_file,
		   std::string &error, int restart_fd = -1)
	{
		int in[2], out[2];
		if (pipe2(in, O_CLOEXEC) < 0) {
			error = std::string("pipe: ") + strerror(errno);
			return false;
		}
		vsst::UniqueFd child_in(in[0]);
		to_.reset(in[1]);
		if (pipe2(out, O_CLOEXEC) < 0) {
			error = std::string("pipe: ") + strerror(errno);
			return false;
		}
		vsst::UniqueFd child_out(out[1]);
		from_.reset(out[0]);
		vsst::UniqueFd err(open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
		if (!err) {
			error = err_file + ": " + strerror(errno);
			return false;
		}
		std::string chan =
			"rpc-channel,id=ch0,handshake=on,timeout=400,fds=" + std::to_string(fds.region) +
			":" + std::to_string(fds.to_device) + ":" + std::to_string(fds.to_proxy);
		if (restart_fd >= 0)
			chan += ",restart-fd=" + std::to_string(restart_fd) + ",restart-wait=2000";
		vsst::SpawnSpec spec;
		spec.name = "qtest QEMU";
		spec.argv = {
			qemu,       "-machine", "pc",      "-accel",
			"qtest",    "-qtest",   "stdio",   "-nodefaults",
			"-display", "none",     "-m",      "128M",
			"-device",  chan,       "-device", "rpc-proxy-pci,id=p0,chan=ch0,index=0,addr=5"};
		spec.inherit_fds = {fds.region, fds.to_device, fds.to_proxy};
		if (restart_fd >= 0)
			spec.inherit_fds.push_back(restart_fd);
		spec.stdin_fd = child_in.get();
		spec.stdout_fd = child_out.get();
		spec.stderr_fd = err.get();
		return proc_.spawn(spec, error);
	}
	~Qtest()
	{
		// Our ends first (QEMU sees EOF), then the old SIGKILL without a grace period.
		to_.reset();
		from_.reset();
		proc_.terminate(0ms);
	}
	// Sends a command, returns the OK/FAIL line ("" on timeout or EOF).
	std::string cmd(const std::string &c, int timeout_ms = 10000)
	{
		std::string line = c + "\n";
		if (write(to_.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()))
			return "";
		auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
		for (;;) {
			std::string l = next_line(end);
			if (l.empty() || l.rfind("OK", 0) == 0 || l.rfind("FAIL", 0) == 0)
				return l;
			if (l.rfind("IRQ", 0) == 0)
				irqs.push_back(l);
		}
	}
	uint64_t value(const std::string &c)
	{
		std::string r = cmd(c);
		EXPECT_EQ(r.rfind("OK ", 0), 0u) << c << " -> '" << r << "'";
		return r.size() > 3 ? std::strtoull(r.c_str() + 3, nullptr, 16) : ~0ull;
	}
	bool alive() { return proc_.running(); }
	// CPU time (user + system) QEMU has used so far.
	std::chrono::milliseconds cpu_time() const
	{
		std::ifstream f("/proc/" + std::to_string(proc_.pid()) + "/stat");
		std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
		std::istringstream rest(stat.substr(stat.rfind(')') + 2));
		std::string field;
		unsigned long long utime = 0, stime = 0;
		for (int i = 3; i <= 15 && rest >> field; i++) {
			if (i == 14)
				utime = std::stoull(field);
			if (i == 15)
				stime = std::stoull(field);
		}
		return std::chrono::milliseconds((utime + stime) * 1000 / sysconf(_SC_CLK_TCK));
	}
	std::vector<std::string> irqs;

private:
	std::string next_line(std::chrono::steady_clock::time_point end)
	{
		for (;;) {
			auto nl = buf_.find('\n');
			if (nl != std::string::npos) {
				std::string l = buf_.substr(0, nl);
				buf_.erase(0, nl + 1);
				return l;
			}
			int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
							  end - std::chrono::steady_clock::now())
							  .count());
			if (ms <= 0)
				return "";
			pollfd p{from_.get(), POLLIN, 0};
			if (poll(&p, 1, ms) <= 0)
				return "";
			char b[512];
			ssize_t n = read(from_.get(), b, sizeof b);
			if (n <= 0)
				return "";
			buf_.append(b, static_cast<size_t>(n));
		}
	}
	vsst::ChildProcess proc_;
	vsst::UniqueFd to_, from_;
	std::string buf_;
};

std::string slurp(const std::string &path)
{
	std::ifstream in(path);
	std::stringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

size_t count(const std::string &hay, const std::string &needle)
{
	size_t n = 0;
	for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1))
		n++;
	return n;
}

constexpr unsigned kDev = 5;
std::string cfg_addr(unsigned reg)
{
	char b[32];
	snprintf(b, sizeof b, "0x%x", 0x80000000u | (kDev << 11) | (reg & 0xfc));
	return b;
}

class ProxyQemu : public ::testing::Test {
protected:
	void SetUp() override
	{
		qemu_ = qemu_path();
		char err[256] = "";
		ASSERT_EQ(vsst_rpc_create(nullptr, &fds_, err, sizeof err), 0) << err;
		if (header_spin_us_)
			poke_header_spin(header_spin_us_);
		dev_ = vsst_rpc_attach(&fds_, VSST_RPC_ROLE_DEVICE, err, sizeof err);
		ASSERT_NE(dev_, nullptr) << err;
		backend_ = std::make_unique<FakeBackend>(dev_);
		backend_->start();
		err_file_ = dir_.file("qemu.err");
		std::string error;
		if (with_restart_) {
			int sv[2];
			ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
			restart_.reset(sv[0]);
			restart_guest_.reset(sv[1]);
		}
		ASSERT_TRUE(q_.start(qemu_, fds_, err_file_, error, restart_guest_.get())) << error;
		// The first command is answered once the handshake and realize are done.
		ASSERT_EQ(q_.cmd("clock_step 0", 30000).rfind("OK", 0), 0u) << slurp(err_file_);
	}
	void TearDown() override
	{
		if (backend_)
			backend_->stop();
		vsst_rpc_close(dev_);
		for (int fd : {fds_.region, fds_.to_device, fds_.to_proxy})
			if (fd > 0)
				close(fd);
	}
	// What a hostile device VM can do before the guest VM attaches.
	void poke_header_spin(uint32_t us)
	{
		void *m = mmap(nullptr, sizeof(vsst::rpc::layout::Header), PROT_READ | PROT_WRITE, MAP_SHARED,
			       fds_.region, 0);
		ASSERT_NE(m, MAP_FAILED);
		static_cast<vsst::rpc::layout::Header *>(m)->spin_us = us;
		munmap(m, sizeof(vsst::rpc::layout::Header));
	}
	uint32_t header_spin_us_ = 0;
	bool with_restart_ = false;
	vsst::UniqueFd restart_, restart_guest_; // the launcher's end, QEMU's end

	uint32_t cfg_read(unsigned reg, unsigned len)
	{
		q_.cmd("outl 0xcf8 " + cfg_addr(reg));
		std::string port = std::to_string(0xcfc + (reg & 3));
		const char *op = len == 1 ? "inb " : len == 2 ? "inw " : "inl ";
		return static_cast<uint32_t>(q_.value(op + port));
	}
	void cfg_write(unsigned reg, unsigned len, uint32_t v)
	{
		q_.cmd("outl 0xcf8 " + cfg_addr(reg));
		std::string port = std::to_string(0xcfc + (reg & 3));
		const char *op = len == 1 ? "outb " : len == 2 ? "outw " : "outl ";
		q_.cmd(op + port + " " + std::to_string(v));
	}
	// Places the BARs and turns decoding on, like firmware does.
	void program_bars()
	{
		cfg_write(0x10, 4, 0xe0000000);
		cfg_write(0x14, 4, 0xc000);
		cfg_write(0x18, 4, 0xe0010000);
		cfg_write(0x1c, 4, 0);
		cfg_write(0x04, 2, 0x7);
	}

	vsst::TempDir dir_{"vsst-proxy-qemu"}; // QEMU's stderr
	std::string qemu_, err_file_;
	vsst_rpc_fds fds_{-1, -1, -1};
	vsst_rpc *dev_ = nullptr;
	std::unique_ptr<FakeBackend> backend_;
	Qtest q_;
};

TEST_F(ProxyQemu, ConfigSpaceIsTheBackendsWithRomHiddenAndSingleFunction)
{
	EXPECT_EQ(cfg_read(0x00, 4), 0x10ff1af4u);
	EXPECT_EQ(cfg_read(0x08, 4), 0xff000001u);
	EXPECT_EQ(cfg_read(0x0e, 1), 0u) << "multi-function bit must be masked";
	EXPECT_EQ(cfg_read(0x3d, 1), 1u);
	cfg_write(0x30, 4, 0xffffffff);
	EXPECT_EQ(cfg_read(0x30, 4), 0u) << "ROM must read as absent";
	bool rom_forwarded = false;
	for (const auto &s : backend_->seen())
		rom_forwarded |= s.as == 0 && s.addr == 0x30;
	EXPECT_FALSE(rom_forwarded);
}

TEST_F(ProxyQemu, BarSizingAndPlacementFollowTheGuest)
{
	cfg_write(0x10, 4, 0xffffffff);
	EXPECT_EQ(cfg_read(0x10, 4), 0xfffff000u) << "BAR0 sizing comes from the backend";
	program_bars();
	EXPECT_EQ(backend_->bar(0), 0xe0000000u);
	EXPECT_EQ(backend_->bar(1), 0xc001u);
	EXPECT_EQ(backend_->bar(2), 0xe0010004u);
	EXPECT_EQ(backend_->command(), 0x7);
}

TEST_F(ProxyQemu, BarAccessesAreForwardedAtGuestAddresses)
{
	program_bars();
	EXPECT_EQ(q_.value("readl 0xe0000010"), 0xabc00010u);
	EXPECT_EQ(q_.value("inb 0xc004") & 0xff, 0x04u);
	EXPECT_EQ(q_.value("readq 0xe0012000"), 0xabc12000u) << "64-bit BAR";
	q_.cmd("writel 0xe0000008 0x1234");
	bool mem = false, io = false, wr = false;
	for (const auto &s : backend_->seen()) {
		mem |= s.as == VSST_RPC_AS_GLOBAL && s.addr == 0xe0000010 && s.len == 4 && !s.write;
		io |= s.as == VSST_RPC_AS_IOPORT && s.addr == 0xc004 && s.len == 1;
		wr |= s.as == VSST_RPC_AS_GLOBAL && s.addr == 0xe0000008 && s.write && !s.posted &&
		      s.data == 0x1234;
	}
	EXPECT_TRUE(mem);
	EXPECT_TRUE(io);
	EXPECT_TRUE(wr) << "writes outside announced regions are synchronous";
	// Moved BAR: the new address is forwarded, the old one no longer decodes here.
	cfg_write(0x04, 2, 0);
	cfg_write(0x10, 4, 0xe0100000);
	cfg_write(0x04, 2, 0x7);
	EXPECT_EQ(q_.value("readl 0xe0100020"), 0xabc00020u);
	bool moved = false;
	for (const auto &s : backend_->seen())
		moved |= s.as == VSST_RPC_AS_GLOBAL && s.addr == 0xe0100020 && !s.write;
	EXPECT_TRUE(moved);
}

TEST_F(ProxyQemu, AnnouncedDoorbellRegionIsPosted)
{
	program_bars();
	backend_->event(VSST_RPC_OP_MMIO_REGION_CONFIG, 0xe0000100, 0x100, VSST_RPC_REGION_POSTED);
	q_.cmd("clock_step 0"); // lets the main loop take the event
	std::this_thread::sleep_for(100ms);
	q_.cmd("writel 0xe0000104 0x55");
	q_.cmd("writel 0xe0000204 0x66");
	q_.value("readl 0xe0000000"); // ordered after the writes
	bool posted = false, sync = false;
	for (const auto &s : backend_->seen()) {
		posted |= s.addr == 0xe0000104 && s.write && s.posted && s.data == 0x55;
		sync |= s.addr == 0xe0000204 && s.write && !s.posted && s.data == 0x66;
	}
	EXPECT_TRUE(posted) << "doorbell write inside the announced region must be posted";
	EXPECT_TRUE(sync);
}

TEST_F(ProxyQemu, SetIrqDrivesIntx)
{
	program_bars();
	// PCI INTx reaches the interrupt controller only through PIIX3's PIRQ routing,
	// which firmware sets up: route PIRQA..D to IRQ 10, 11, 10, 11.
	q_.cmd("outl 0xcf8 0x80000860");
	q_.cmd("outl 0xcfc " + std::to_string(0x0b0a0b0a));
	ASSERT_EQ(q_.cmd("irq_intercept_in ioapic").rfind("OK", 0), 0u);
	backend_->event(VSST_RPC_OP_SET_IRQ, 0, VSST_RPC_IRQ_SET, 0);
	for (int i = 0; i < 50 && q_.irqs.empty(); i++) {
		q_.cmd("clock_step 0");
		std::this_thread::sleep_for(20ms);
	}
	ASSERT_FALSE(q_.irqs.empty());
	EXPECT_EQ(q_.irqs[0].rfind("IRQ raise", 0), 0u) << q_.irqs[0];
	backend_->event(VSST_RPC_OP_SET_IRQ, 0, VSST_RPC_IRQ_CLEAR, 0);
	for (int i = 0; i < 50 && q_.irqs.size() < 2; i++) {
		q_.cmd("clock_step 0");
		std::this_thread::sleep_for(20ms);
	}
	ASSERT_GE(q_.irqs.size(), 2u);
	EXPECT_EQ(q_.irqs[1].rfind("IRQ lower", 0), 0u) << q_.irqs[1];
}

TEST_F(ProxyQemu, BadEventsAreRejectedOncePerKindAndQemuLives)
{
	program_bars();
	// What the rpc library can judge alone it refuses to send at all.
	EXPECT_EQ(backend_->try_event(VSST_RPC_OP_SET_IRQ, 0, 9, 0), -EINVAL) << "bad level";
	EXPECT_EQ(backend_->try_event(VSST_RPC_OP_MMIO, 0, 0, 0), -EINVAL) << "MMIO on the events ring";
	// The rest only the proxy can judge: twice each, reported once.
	for (int rep = 0; rep < 2; rep++) {
		backend_->event(VSST_RPC_OP_SET_IRQ, 7, 1, 0);                     // not ours
		backend_->event(VSST_RPC_OP_MSI, 0x12345678, 1, 0);                // outside APIC window
		backend_->event(VSST_RPC_OP_MSI, 0xfee000b0, 0x41, 0);             // the APIC's EOI register
		backend_->event(VSST_RPC_OP_MSI, 0xfee00000, 0x400, 0);            // NMI delivery mode
		backend_->event(VSST_RPC_OP_MSI, 0xfee00000, 0x500, 0);            // INIT delivery mode
		backend_->event(VSST_RPC_OP_MSI, 0xfee00000, 1, 3);                // unknown device
		backend_->event(VSST_RPC_OP_MMIO_REGION_CONFIG, 0x1000, 0x100, 1); // outside every BAR
		backend_->event(VSST_RPC_OP_MMIO_REGION_CONFIG, 0xe0000f00, 0x200, 1); // runs past BAR0
	}
	for (int i = 0; i < 10; i++) {
		q_.cmd("clock_step 0");
		std::this_thread::sleep_for(20ms);
	}
	EXPECT_EQ(q_.value("readl 0xe0000010"), 0xabc00010u) << "still serving";
	ASSERT_TRUE(q_.alive());
	std::string err = slurp(err_file_);
	EXPECT_EQ(count(err, "SET_IRQ for a device not on this channel"), 1u) << err;
	EXPECT_EQ(count(err, "MSI outside the interrupt window"), 1u) << err;
	EXPECT_EQ(count(err, "MSI address with reserved bits 11:4 set"), 1u) << err;
	EXPECT_EQ(count(err, "MSI delivery mode other than fixed or lowest priority"), 1u) << err;
	EXPECT_EQ(count(err, "event for a device index nobody proxies"), 1u) << err;
	EXPECT_EQ(count(err, "region announcement outside every proxied BAR"), 1u) << err;
	EXPECT_EQ(err.find("dead"), std::string::npos) << "bad events must not kill the channel";
}

// The device VM writes a 100 ms spin budget into the shared header before the guest VM
// attaches: the guest side must keep its own (20 us) and sleep while a slow read is out.
class ProxyQemuHostileHeader : public ProxyQemu {
protected:
	ProxyQemuHostileHeader() { header_spin_us_ = 100000; }
};

TEST_F(ProxyQemuHostileHeader, GuestSideIgnoresTheHeadersSpinBudget)
{
	program_bars();
	backend_->read_delay_ms = 40;
	const auto cpu0 = q_.cpu_time();
	const auto t0 = std::chrono::steady_clock::now();
	for (int i = 0; i < 10; i++)
		EXPECT_EQ(q_.value("readl 0xe0000010"), 0xabc00010u);
	const auto wall = std::chrono::steady_clock::now() - t0;
	const auto cpu = q_.cpu_time() - cpu0;
	EXPECT_GE(wall, 400ms);
	// Spinning the header's budget would burn ~400 ms (the whole wait) here.
	EXPECT_LT(cpu, 150ms) << "QEMU spun while reads were out";
}

// The hostile-peer matrix, guest side (hw/vsst-proxy rpc-channel.c): a completion or an
// event no rpc library would send, written straight into its ring (every opcode, every
// bad field: hostile_messages.h), poisons the channel with its reason; QEMU reports it,
// lives, and the proxied device reads all-ones at once.
class HostileMessage : public ProxyQemu, public ::testing::WithParamInterface<vsst::hostile::Case> {
protected:
	void expect_poisoned_and_alive(const vsst::hostile::Case &c)
	{
		EXPECT_TRUE(vsst_rpc_poisoned(dev_));
		EXPECT_NE(std::string(vsst_rpc_poison_reason(dev_)).find(c.reason), std::string::npos)
			<< vsst_rpc_poison_reason(dev_);
		const auto t0 = std::chrono::steady_clock::now();
		EXPECT_EQ(q_.value("readl 0xe0000010"), 0xffffffffu);
		EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s) << "a dead channel must not wait";
		EXPECT_TRUE(q_.alive());
		EXPECT_NE(slurp(err_file_).find(c.reason), std::string::npos) << slurp(err_file_);
	}
	vsst::rpc::testkit::RawRegion raw_;
};

class HostileEvent : public HostileMessage {};
class HostileCompletion : public HostileMessage {};

TEST_P(HostileEvent, PoisonsTheChannelWithItsReasonAndQemuLives)
{
	const auto &c = GetParam();
	program_bars();
	ASSERT_TRUE(raw_.map(fds_.region, fds_.to_proxy));
	raw_.push(vsst::rpc::Ring::Events, vsst::rpc::Message{c.msg.mr0, c.msg.mr1, c.msg.mr2, c.msg.mr3},
		  true);
	// The main loop takes events: step it until the guest side has judged.
	for (int i = 0; i < 250 && !vsst_rpc_poisoned(dev_); i++) {
		q_.cmd("clock_step 0");
		std::this_thread::sleep_for(20ms);
	}
	expect_poisoned_and_alive(c);
}

TEST_P(HostileCompletion, PoisonsTheChannelWithItsReasonAndQemuLives)
{
	const auto &c = GetParam();
	program_bars();
	// Nobody answers from here on but the forged completion, which the guest side
	// reads while it waits for its next read.
	backend_->stop();
	ASSERT_TRUE(raw_.map(fds_.region, fds_.to_proxy));
	raw_.push(vsst::rpc::Ring::Completions,
		  vsst::rpc::Message{c.msg.mr0, c.msg.mr1, c.msg.mr2, c.msg.mr3}, true);
	EXPECT_EQ(q_.value("readl 0xe0000010"), 0xffffffffu);
	expect_poisoned_and_alive(c);
}

INSTANTIATE_TEST_SUITE_P(Matrix, HostileEvent, ::testing::ValuesIn(vsst::hostile::event_cases()),
			 vsst::hostile::CaseName());
INSTANTIATE_TEST_SUITE_P(Matrix, HostileCompletion, ::testing::ValuesIn(vsst::hostile::completion_cases()),
			 vsst::hostile::CaseName());

TEST_F(ProxyQemu, PoisonedChannelReadsAllOnesWithoutAborting)
{
	program_bars();
	vsst_rpc_poison(dev_, "test poisons the channel");
	auto t0 = std::chrono::steady_clock::now();
	EXPECT_EQ(q_.value("readl 0xe0000010"), 0xffffffffu);
	EXPECT_EQ(cfg_read(0x00, 4), 0xffffffffu);
	EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s) << "a dead channel must not wait";
	q_.cmd("writel 0xe0000008 1"); // dropped, no hang
	for (int i = 0; i < 10; i++) {
		q_.cmd("clock_step 0");
		std::this_thread::sleep_for(20ms);
	}
	EXPECT_TRUE(q_.alive());
	EXPECT_NE(slurp(err_file_).find("test poisons the channel"), std::string::npos) << slurp(err_file_);
}

TEST_F(ProxyQemu, UnansweredReadsTimeOutThenTheChannelIsDead)
{
	program_bars();
	backend_->silent = true;
	auto t0 = std::chrono::steady_clock::now();
	for (int i = 0; i < 3; i++)
		EXPECT_EQ(q_.value("readl 0xe0000010"), 0xffffffffu);
	auto took = std::chrono::steady_clock::now() - t0;
	EXPECT_GE(took, 1000ms) << "three 400 ms timeouts";
	EXPECT_LT(took, 5s);
	t0 = std::chrono::steady_clock::now();
	EXPECT_EQ(q_.value("readl 0xe0000010"), 0xffffffffu);
	// Bound by what a dead channel must not do: wait out one more 400 ms timeout.
	EXPECT_LT(std::chrono::steady_clock::now() - t0, 400ms)
		<< "dead after three timeouts: no more waiting";
	EXPECT_TRUE(q_.alive());
	EXPECT_NE(slurp(err_file_).find("stopped answering"), std::string::npos) << slurp(err_file_);
}

// The guest side of a device-VM restart: this process plays the launcher on the restart
// socket and both device VMs.
class ProxyQemuRestart : public ProxyQemu {
protected:
	ProxyQemuRestart() { with_restart_ = true; }
	// The next message from QEMU on the restart socket (type 0 after 10 s).
	vsst_restart_msg next_message()
	{
		vsst_restart_msg m{};
		pollfd p{restart_.get(), POLLIN, 0};
		if (poll(&p, 1, 10000) == 1 && recv(restart_.get(), &m, sizeof m, 0) != sizeof m)
			m.type = 0;
		return m;
	}
	// A second device VM on a channel of its own; returns its fds for the hand-over.
	vsst_rpc_fds second_device_vm()
	{
		char err[256] = "";
		vsst_rpc_fds f{-1, -1, -1};
		EXPECT_EQ(vsst_rpc_create(nullptr, &f, err, sizeof err), 0) << err;
		dev2_ = vsst_rpc_attach(&f, VSST_RPC_ROLE_DEVICE, err, sizeof err);
		EXPECT_NE(dev2_, nullptr) << err;
		backend2_ = std::make_unique<FakeBackend>(dev2_);
		backend2_->start();
		return f;
	}
	int hand_over(const vsst_rpc_fds &f, size_t nfds = VSST_RESTART_CHANNEL_FDS)
	{
		int alive[2];
		EXPECT_EQ(pipe2(alive, O_CLOEXEC), 0);
		alive_wr_.reset(alive[1]);
		const int fds[] = {f.region, f.to_device, f.to_proxy, alive[0]};
		vsst_restart_msg m{};
		m.type = VSST_RESTART_CHANNEL;
		int e = vsst::send_with_fds(restart_.get(), &m, sizeof m, fds, nfds);
		close(alive[0]);
		return e;
	}
	void TearDown() override
	{
		if (backend2_)
			backend2_->stop();
		vsst_rpc_close(dev2_);
		ProxyQemu::TearDown();
	}
	vsst_rpc *dev2_ = nullptr;
	std::unique_ptr<FakeBackend> backend2_;
	vsst::UniqueFd alive_wr_;
};

TEST_F(ProxyQemuRestart, TheGuestsSetUpIsReplayedIntoTheNewDeviceVm)
{
	program_bars();
	cfg_write(0x3c, 1, 0x0b); // interrupt line: a plain register the guest wrote
	vsst_rpc_poison(dev_, "test kills the device VM");
	vsst_restart_msg down = next_message();
	ASSERT_EQ(down.type, VSST_RESTART_DOWN) << slurp(err_file_);
	EXPECT_EQ(down.generation, 0u);
	EXPECT_NE(std::string(down.text).find("test kills the device VM"), std::string::npos) << down.text;
	// Down: not dead. A main-loop access does not wait, and gets all-ones.
	EXPECT_EQ(q_.value("readl 0xe0000010"), 0xffffffffu);

	const vsst_rpc_fds f = second_device_vm();
	ASSERT_EQ(hand_over(f), 0);
	vsst_restart_msg up = next_message();
	ASSERT_EQ(up.type, VSST_RESTART_UP) << slurp(err_file_);
	EXPECT_EQ(up.generation, 1u);
	for (int fd : {f.region, f.to_device, f.to_proxy})
		close(fd);

	// The new device VM got the BARs while decoding was off, then the command register.
	EXPECT_EQ(backend2_->bar(0), 0xe0000000u);
	EXPECT_EQ(backend2_->bar(1), 0xc001u);
	EXPECT_EQ(backend2_->bar(2), 0xe0010004u);
	EXPECT_EQ(backend2_->command(), 0x7u);
	auto seen = backend2_->seen();
	ASSERT_FALSE(seen.empty());
	const Seen &last = seen.back();
	EXPECT_TRUE(last.write && last.as == 0 && last.addr == 0x04) << "the command register comes last";
	bool line = false;
	for (const Seen &s : seen)
		line |= s.write && s.as == 0 && s.addr == 0x3c && (s.data & 0xff) == 0x0b;
	EXPECT_TRUE(line) << "the interrupt line the guest wrote is replayed";
	// Accesses reach the new device VM.
	EXPECT_EQ(q_.value("readl 0xe0000010"), 0xabc00010u);
	EXPECT_TRUE(q_.alive());
}

TEST_F(ProxyQemuRestart, AHandOverWithoutItsDescriptorsIsIgnoredAndGiveUpIsDeath)
{
	program_bars();
	vsst_rpc_poison(dev_, "test kills the device VM");
	ASSERT_EQ(next_message().type, VSST_RESTART_DOWN) << slurp(err_file_);
	const vsst_rpc_fds f = second_device_vm();
	ASSERT_EQ(hand_over(f, 2), 0); // two descriptors instead of four
	for (int fd : {f.region, f.to_device, f.to_proxy})
		close(fd);
	vsst_restart_msg g{};
	g.type = VSST_RESTART_GIVE_UP;
	snprintf(g.text, sizeof g.text, "test gives up");
	ASSERT_EQ(vsst::send_with_fds(restart_.get(), &g, sizeof g, nullptr, 0), 0);
	for (int i = 0; i < 10; i++) {
		q_.cmd("clock_step 0");
		std::this_thread::sleep_for(20ms);
	}
	EXPECT_EQ(q_.value("readl 0xe0000010"), 0xffffffffu);
	EXPECT_TRUE(backend2_->seen().empty()) << "nothing reached a device VM never handed over";
	const std::string err = slurp(err_file_);
	EXPECT_NE(err.find("ignoring restart message 1 with 2 descriptor(s)"), std::string::npos) << err;
	EXPECT_NE(err.find("test gives up"), std::string::npos) << err;
	EXPECT_TRUE(q_.alive());
}

} // namespace

// Skips (77) or fails before any test when the prerequisite is missing.
int main(int argc, char **argv)
{
	std::string qemu = qemu_path();
	if (!qemu_has_proxy(qemu)) {
		const char *req = getenv("VSST_REQUIRE_ALL");
		if (req && std::string(req) == "1") {
			fprintf(stderr,
				"FAIL: no QEMU with rpc-proxy-pci (VSST_QEMU='%s'), VSST_REQUIRE_ALL=1\n",
				qemu.c_str());
			return 1;
		}
		fprintf(stderr,
			"\n*** SKIP: no QEMU with rpc-proxy-pci (VSST_QEMU='%s'; run ./vsst qemu) ***\n\n",
			qemu.c_str());
		return 77;
	}
	::testing::InitGoogleTest(&argc, argv);
	return RUN_ALL_TESTS();
}
