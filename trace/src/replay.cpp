// SPDX-License-Identifier: Apache-2.0
#include "vsst/trace/replay.hpp"

#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <tuple>

#include "vsst/devvm/channel.h"
#include "vsst/devvm/device_vm.h"
#include "vsst/devvm/guest_ram.h"
#include "vsst/posix/child_process.h"
#include "vsst/posix/temp_dir.h"
#include "vsst/posix/unix_socket.h"
#include "vsst/rpc.h"

namespace vsst::trace {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string hex(uint64_t v)
{
	char b[24];
	std::snprintf(b, sizeof b, "0x%" PRIx64, v);
	return b;
}

// Thrown inside the replayer only; turned into a ReplayResult.
struct Stop {
	ReplayStatus status;
	std::string what;
};

[[noreturn]] void diverge(std::string what)
{
	throw Stop{ReplayStatus::Diverged, std::move(what)};
}
[[noreturn]] void error(std::string what)
{
	throw Stop{ReplayStatus::Error, std::move(what)};
}

bool is_irq(const vsst_rpcmsg &m)
{
	const unsigned op = vsst_rpc_mr0_op(m.mr0);
	return op == VSST_RPC_OP_MSI || op == VSST_RPC_OP_SET_IRQ;
}

std::tuple<uint64_t, uint64_t, uint64_t, uint64_t> key(const vsst_rpcmsg &m)
{
	return {m.mr0, m.mr1, m.mr2, m.mr3};
}

class Replayer {
public:
	Replayer(const Trace &t, const ReplayOptions &o) : t_(t), o_(o) {}
	~Replayer();
	ReplayResult run();

private:
	void log(const std::string &s)
	{
		if (o_.log)
			o_.log(o_.log_opaque, s);
	}
	void setup();
	void start_sim();
	std::string substitute(const std::string &arg);
	void step(const Record &r);
	void request(const Record &r, const vsst_rpcmsg &m);
	void completion(const vsst_rpcmsg &m);
	void settle_pending();
	struct Pending;
	struct MmioResult;
	MmioResult await(Pending &p);
	static void observe(void *opaque, int dir, int ring, const vsst_rpcmsg *m);
	void event(const vsst_rpcmsg &m);
	void take_event(const vsst_rpcmsg &ev);
	void drain_events();
	void used(const Record &r);
	void sim_conn(const Record &r);
	void sim_data(const Record &r);
	void check_alive();
	std::chrono::milliseconds timeout() const { return std::chrono::milliseconds(o_.timeout_ms); }

	const Trace &t_;
	ReplayOptions o_;
	std::string dir_;
	std::optional<TempDir> own_dir_;
	devvm::GuestRam ram_;
	devvm::Channel channel_;
	devvm::ProxyEndpoint ep_;
	vsst_rpc *ch_ = nullptr;
	devvm::DeviceVm qemu_; // the device VM under replay
	ChildProcess live_sim_;
	bool hermetic_ = true;
	std::string sim_socket_;
	int sim_listen_ = -1;
	std::map<unsigned, int> sim_fd_;
	std::map<unsigned, std::vector<uint8_t>> sim_rx_;
	std::map<unsigned, size_t> sim_used_;
	struct MmioResult {
		int rc;
		uint64_t data;
	};
	struct Pending {
		unsigned as, len, dir;
		uint64_t addr;
		std::future<MmioResult> result; // the access runs on its own thread
	};
	// Requests the replay has put on the ring (the observer counts them), so
	// that a synchronous access started on its own thread is known to be
	// sent before the next record's message: the ring keeps the order.
	std::mutex sent_mtx_;
	std::condition_variable sent_cv_;
	uint64_t requests_sent_ = 0;
	std::deque<Pending> pending_;
	std::deque<vsst_rpcmsg> events_;
	std::set<std::tuple<uint64_t, uint64_t, uint64_t, uint64_t>> irqs_; // every recorded interrupt
	bool stopped_ = false;
	ReplayResult res_;
};

Replayer::~Replayer()
{
	qemu_.process().terminate(std::chrono::milliseconds(2000));
	live_sim_.terminate(std::chrono::milliseconds(1000));
	for (auto &[c, fd] : sim_fd_)
		::close(fd);
	if (sim_listen_ >= 0)
		::close(sim_listen_);
}

std::string Replayer::substitute(const std::string &arg)
{
	std::string out;
	size_t i = 0;
	while (i < arg.size()) {
		const size_t open = arg.find('{', i);
		if (open == std::string::npos) {
			out += arg.substr(i);
			break;
		}
		const size_t close = arg.find('}', open);
		if (close == std::string::npos)
			error("unterminated {...} in device argument '" + arg + "'");
		out += arg.substr(i, open - i);
		const std::string key = arg.substr(open + 1, close - open - 1);
		if (key == "sim") {
			out += sim_socket_;
		} else if (key.rfind("image:", 0) == 0) {
			const std::string name = key.substr(6);
			const ImageInfo *im = nullptr;
			for (const ImageInfo &x : t_.header.images)
				if (x.name == name)
					im = &x;
			if (!im)
				error("device argument names image '" + name +
				      "' that the header does not list");
			const std::string path = (fs::path(o_.image_dir) / name).string();
			const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				error("image " + path + ": " + std::strerror(errno));
			uint64_t h = 0xcbf29ce484222325ull, size = 0;
			std::vector<uint8_t> buf(1 << 20);
			for (ssize_t n; (n = ::read(fd, buf.data(), buf.size())) > 0;) {
				h = fnv1a64(buf.data(), static_cast<size_t>(n), h);
				size += static_cast<uint64_t>(n);
			}
			::close(fd);
			if (size != im->size || h != im->hash)
				error("image " + path + " is not the recorded one (size " +
				      std::to_string(size) + " vs " + std::to_string(im->size) +
				      ", fnv1a64 " + hex(h) + " vs " + hex(im->hash) + ")");
			out += path;
		} else {
			error("unknown placeholder {" + key + "} in device argument '" + arg + "'");
		}
		i = close + 1;
	}
	// Device arguments must not reach outside what the replay controls.
	return out;
}

void Replayer::start_sim()
{
	sim_socket_ = dir_ + "/sim.sock";
	if (!hermetic_) {
		struct stat st {};
		if (::stat(o_.sim.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
			sim_socket_ = o_.sim;
			return;
		}
		SpawnSpec sim;
		sim.name = "sst-sim";
		sim.argv = {o_.sim, "--socket", sim_socket_, "--status-interval", "0"};
		sim.log_path = dir_ + "/sst-sim.log";
		std::string err;
		if (!live_sim_.spawn(sim, err))
			error("starting " + o_.sim + ": " + err);
		if (!wait_for_socket(sim_socket_, timeout(), &live_sim_))
			error("sst-sim did not listen on " + sim_socket_ + ": " + live_sim_.log_tail(500));
		return;
	}
	sockaddr_un sa{};
	if (sim_socket_.size() >= sizeof sa.sun_path)
		error("socket path too long: " + sim_socket_);
	sa.sun_family = AF_UNIX;
	std::memcpy(sa.sun_path, sim_socket_.data(), sim_socket_.size());
	sim_listen_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sim_listen_ < 0 || ::bind(sim_listen_, reinterpret_cast<sockaddr *>(&sa), sizeof sa) < 0 ||
	    ::listen(sim_listen_, 4) < 0)
		error("fake simulator socket: " + std::string(std::strerror(errno)));
}

// The device arguments come from an untrusted file: only -device/-drive/
// -global pairs, simulator sockets only as {sim} and files only as
// {image:NAME} (checked against the header's fingerprint).
void check_args(const std::vector<std::string> &args)
{
	if (args.size() % 2)
		error("device arguments must come in pairs (-device VALUE)");
	for (size_t i = 0; i < args.size(); i += 2) {
		const std::string &opt = args[i], &val = args[i + 1];
		if (opt != "-device" && opt != "-drive" && opt != "-global")
			error("device argument '" + opt +
			      "' is not allowed in a trace (only -device, -drive, -global)");
		for (const char *key : {"file=", "socket=", "path=", "chardev=", "netdev=", "fd=", "fds="}) {
			for (size_t at = val.find(key); at != std::string::npos; at = val.find(key, at + 1)) {
				if (at != 0 && val[at - 1] != ',')
					continue;
				const std::string rest = val.substr(at + std::strlen(key));
				const bool ok =
					(std::strcmp(key, "file=") == 0 && rest.rfind("{image:", 0) == 0) ||
					(std::strcmp(key, "socket=") == 0 && rest.rfind("{sim}", 0) == 0);
				if (!ok)
					error("device argument '" + val + "': " + key +
					      " must name {sim} or {image:NAME}");
			}
		}
	}
}

void Replayer::setup()
{
	for (const Record &r : t_.records)
		if (r.type == RecType::Msg && r.sub == 2 && is_irq(r.msg()))
			irqs_.insert(key(r.msg()));
	for (const Record &r : t_.records)
		if (r.type == RecType::Dropped)
			error("the trace lost " + std::to_string(r.dropped().records) + " records at #" +
			      std::to_string(r.index) + " (recording budget): it cannot be replayed exactly");
	if (o_.work_dir.empty()) {
		try {
			own_dir_.emplace("vsst-replay");
		} catch (const std::exception &e) {
			error(e.what());
		}
		dir_ = own_dir_->path().string();
	} else {
		dir_ = o_.work_dir;
	}
	hermetic_ = o_.sim.empty();
	bool uses_sim = false;
	for (const std::string &a : t_.header.qemu_args)
		uses_sim = uses_sim || a.find("{sim}") != std::string::npos;
	if (uses_sim)
		start_sim();
	// The recorded layout, its regions back to back in one memfd.
	if (t_.header.ram.empty())
		error("the trace has no guest RAM layout");
	std::vector<devvm::RamRegion> layout;
	uint64_t total = 0;
	for (const RamRegion &r : t_.header.ram) {
		layout.push_back({r.gpa, r.size, total});
		total += r.size;
	}
	std::string err;
	ram_ = devvm::GuestRam::create(total, layout, err);
	if (!ram_.valid() || !ram_.map(err))
		error("guest RAM: " + err);
	channel_ = devvm::Channel::create(err);
	if (channel_.valid())
		ep_ = devvm::ProxyEndpoint::attach(channel_.fds(), err);
	if (!ep_)
		error(err);
	ch_ = ep_.get();
	vsst_rpc_set_observer(ch_, &Replayer::observe, this);
	check_args(t_.header.qemu_args);
	devvm::DeviceVmSpec spec;
	spec.command.qemu = o_.qemu;
	spec.command.handoff = devvm::Handoff::InheritFds;
	// As recorded devices ran: the trace's arguments are checked (check_args), and a
	// recording's device VM may have run without QEMU's sandbox.
	spec.command.sandbox = false;
	for (const std::string &a : t_.header.qemu_args)
		spec.command.args.push_back(substitute(a));
	spec.command.args.insert(spec.command.args.end(), o_.extra_qemu_args.begin(),
				 o_.extra_qemu_args.end());
	spec.log_path = dir_ + "/device-vm.log";
	std::string why;
	const bool started = qemu_.start(spec, channel_.fds(), ram_.fd(), ram_.layout(), why);
	if (o_.verbose)
		log("device VM: " + devvm::shell_quote(qemu_.command_line()));
	if (!started)
		error("starting the device VM: " + why);
}

void Replayer::check_alive()
{
	if (!stopped_ && !qemu_.process().running())
		error("the device VM exited (status " + std::to_string(qemu_.process().exit_info()->code()) +
		      ")");
}

void Replayer::request(const Record &r, const vsst_rpcmsg &m)
{
	(void)r;
	const unsigned op = vsst_rpc_mr0_op(m.mr0);
	res_.requests++;
	if (op == VSST_RPC_OP_MMIO) {
		const unsigned as = vsst_rpc_mr0_as(m.mr0), len = vsst_rpc_mr0_len(m.mr0),
			       dir = vsst_rpc_mr0_dir(m.mr0);
		if (vsst_rpc_mr0_posted(m.mr0)) {
			const int rc = vsst_rpc_proxy_post(ch_, as, m.mr1, len, m.mr2, o_.timeout_ms);
			if (rc < 0)
				error("posting the write failed: " + std::string(std::strerror(-rc)));
			return;
		}
		// Not waited for here but at its completion record: what the
		// recording has in between may be what the device waits for
		// before it answers (a synchronized-time TIME request is answered
		// once the simulator has answered, and those SIM bytes come next).
		uint64_t sent;
		{
			std::lock_guard<std::mutex> lk(sent_mtx_);
			sent = requests_sent_;
		}
		vsst_rpc *ch = ch_;
		const uint64_t addr = m.mr1, data = m.mr2;
		const int timeout_ms = o_.timeout_ms;
		auto result = std::async(std::launch::async, [=] {
			uint64_t d = data;
			const int rc = vsst_rpc_proxy_mmio(ch, as, addr, len, dir, &d, timeout_ms);
			return MmioResult{rc, d};
		});
		std::unique_lock<std::mutex> lk(sent_mtx_);
		const bool on_ring = sent_cv_.wait_for(lk, timeout(), [&] { return requests_sent_ > sent; });
		lk.unlock();
		pending_.push_back({as, len, dir, addr, std::move(result)});
		if (!on_ring) {
			check_alive();
			diverge("the request could not be sent within " + std::to_string(o_.timeout_ms) +
				" ms");
		}
		return;
	}
	if (op == VSST_RPC_OP_STOP)
		stopped_ = true;
	const int rc = vsst_rpc_proxy_send(ch_, &m, o_.timeout_ms);
	if (rc < 0)
		error("sending " + op_name(op) + " failed: " + std::strerror(-rc));
}

void Replayer::completion(const vsst_rpcmsg &m)
{
	res_.completions++;
	const unsigned as = vsst_rpc_mr0_as(m.mr0), len = vsst_rpc_mr0_len(m.mr0),
		       dir = vsst_rpc_mr0_dir(m.mr0);
	for (auto it = pending_.begin(); it != pending_.end(); ++it) {
		if (it->as != as || it->addr != m.mr1 || it->len != len || it->dir != dir)
			continue;
		const MmioResult got = await(*it);
		pending_.erase(it);
		const bool err = got.rc == -EIO;
		const bool rec_err = (m.mr0 & VSST_RPC_MR0_ERROR) != 0;
		if (rec_err != err)
			diverge(std::string("completion status: recorded ") + (rec_err ? "error" : "ok") +
				", replayed " + (err ? "error" : "ok"));
		if (dir == VSST_RPC_DIR_READ && !rec_err && got.data != m.mr2)
			diverge("completion data (mr2): recorded " + hex(m.mr2) + ", replayed " +
				hex(got.data));
		return;
	}
	diverge("a completion was recorded for a request the replay did not make");
}

// Accesses whose completion the recording does not have (it ended first):
// the device must still have completed them.
void Replayer::settle_pending()
{
	while (!pending_.empty()) {
		await(pending_.front());
		pending_.pop_front();
	}
}

// The access's result; one the device never completed (-EIO is its own
// error answer) is a divergence. vsst_rpc_proxy_mmio is bounded by the
// replay's timeout, so this wait is too.
Replayer::MmioResult Replayer::await(Pending &p)
{
	const MmioResult got = p.result.get();
	if (got.rc < 0 && got.rc != -EIO) {
		check_alive();
		diverge("the device did not complete the request: " + std::string(std::strerror(-got.rc)));
	}
	return got;
}

void Replayer::observe(void *opaque, int dir, int ring, const vsst_rpcmsg *)
{
	if (dir != 0 || ring != 0)
		return;
	auto *self = static_cast<Replayer *>(opaque);
	{
		std::lock_guard<std::mutex> lk(self->sent_mtx_);
		self->requests_sent_++;
	}
	self->sent_cv_.notify_all();
}

// Interrupts the replay receives are checked against every interrupt the
// recording has (address, data, device); other events queue up in order.
void Replayer::take_event(const vsst_rpcmsg &ev)
{
	if (!is_irq(ev)) {
		events_.push_back(ev);
		return;
	}
	// Lowering an INTx line says nothing about the device's answers: QEMU
	// lowers it on config writes (MSI-X enable, command register) and ISR
	// reads whether or not it was up, and a proxy-side recording sees such
	// events only when its driver happens to drain them.
	const bool intx_clear =
		vsst_rpc_mr0_op(ev.mr0) == VSST_RPC_OP_SET_IRQ && ev.mr2 == VSST_RPC_IRQ_CLEAR;
	if (!intx_clear && !irqs_.count(key(ev))) {
		char b[200];
		std::snprintf(b, sizeof b,
			      "the device raised an interrupt the recording never has: %s mr1=0x%" PRIx64
			      " mr2=0x%" PRIx64 " mr3=0x%" PRIx64,
			      op_name(vsst_rpc_mr0_op(ev.mr0)).c_str(), ev.mr1, ev.mr2, ev.mr3);
		diverge(b);
	}
	res_.interrupts++;
}

void Replayer::drain_events()
{
	vsst_rpcmsg ev;
	for (;;) {
		const int rc = vsst_rpc_proxy_recv_event(ch_, &ev);
		if (rc == 1) {
			take_event(ev);
			continue;
		}
		if (rc < 0 && !stopped_)
			error("receiving events: " +
			      std::string(rc == -EPIPE ? vsst_rpc_poison_reason(ch_) : std::strerror(-rc)));
		return;
	}
}

void Replayer::event(const vsst_rpcmsg &want)
{
	drain_events();
	// Whether an interrupt is raised depends on suppression fields the
	// driver writes at any time (avail flags, used_event): not reproducible.
	// Recorded interrupts are therefore not waited for; what the device
	// produced is checked by the USED records, and every interrupt the
	// replay does get must be one the recording has.
	if (is_irq(want))
		return;
	const auto deadline = Clock::now() + timeout();
	while (events_.empty()) {
		vsst_rpcmsg ev;
		const int rc = vsst_rpc_proxy_wait_event(ch_, &ev, 100);
		if (rc == 1) {
			take_event(ev);
			continue;
		}
		if (rc != -ETIMEDOUT)
			error("waiting for an event: " +
			      std::string(rc == -EPIPE ? vsst_rpc_poison_reason(ch_) : std::strerror(-rc)));
		check_alive();
		if (Clock::now() >= deadline)
			diverge("the device sent no event within " + std::to_string(o_.timeout_ms) +
				" ms (expected " + op_name(vsst_rpc_mr0_op(want.mr0)) + ")");
	}
	res_.events++;
	const vsst_rpcmsg got = events_.front();
	events_.pop_front();
	const unsigned op = vsst_rpc_mr0_op(want.mr0);
	if (got.mr0 != want.mr0)
		diverge("event op/mr0: recorded " + op_name(op) + " (" + hex(want.mr0) + "), replayed " +
			op_name(vsst_rpc_mr0_op(got.mr0)) + " (" + hex(got.mr0) + ")");
	static const char *const reg[] = {"", "device", "vendor:device", "class"};
	static const char *const region[] = {"", "base", "size", "flags"};
	static const char *const gen[] = {"", "mr1", "mr2", "mr3"};
	const char *const *names = op == VSST_RPC_OP_REGISTER_PCI_DEV     ? reg
				   : op == VSST_RPC_OP_MMIO_REGION_CONFIG ? region
									  : gen;
	const uint64_t w[4] = {want.mr0, want.mr1, want.mr2, want.mr3},
		       g[4] = {got.mr0, got.mr1, got.mr2, got.mr3};
	for (int i = 1; i < 4; i++)
		if (w[i] != g[i])
			diverge(op_name(op) + " event field " + names[i] + " (mr" + std::to_string(i) +
				"): recorded " + hex(w[i]) + ", replayed " + hex(g[i]));
	if (op == VSST_RPC_OP_START_VM && !hermetic_ && !o_.sim.empty()) {
		// A live simulator: the devices connected to it while starting;
		// give their handshake (and virtio-sst's capacity probe, whose
		// answer GET_INFO carries) the moment a guest's boot gave it.
		std::this_thread::sleep_for(std::chrono::milliseconds(200));
	}
}

void Replayer::used(const Record &r)
{
	res_.used++;
	const UsedHdr h = r.used();
	uint8_t *idxp = ram_.at(h.used_gpa + 2, 2);
	uint8_t *elem = ram_.at(h.used_gpa + 4 + 8ull * (h.pos & (h.qsize - 1)), 8);
	if (!idxp || !elem)
		error("used ring outside guest RAM");
	const auto deadline = Clock::now() + timeout();
	for (;;) {
		const uint16_t idx = std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t *>(idxp))
					     .load(std::memory_order_acquire);
		const uint16_t ahead = static_cast<uint16_t>(idx - h.pos);
		if (ahead >= 1 && ahead <= 32768)
			break;
		drain_events();
		check_alive();
		if (Clock::now() >= deadline)
			diverge("device " + std::to_string(h.dev) + " queue " + std::to_string(h.queue) +
				": used element " + std::to_string(h.pos) +
				" never appeared (used.idx stays " + std::to_string(idx) + ")");
		std::this_thread::sleep_for(std::chrono::microseconds(50));
	}
	uint32_t id, len;
	std::memcpy(&id, elem, 4);
	std::memcpy(&len, elem + 4, 4);
	const std::string where = "device " + std::to_string(h.dev) + " queue " + std::to_string(h.queue) +
				  " used[" + std::to_string(h.pos) + "]";
	if (id != h.id)
		diverge(where + ".id: recorded " + std::to_string(h.id) + ", replayed " + std::to_string(id));
	if (len != h.len)
		diverge(where + ".len: recorded " + std::to_string(h.len) + ", replayed " +
			std::to_string(len));
	if (h.flags & kUsedNondet)
		return;
	const std::span<const uint8_t> want = r.used_data();
	size_t off = 0;
	for (const UsedSeg &s : r.used_segs()) {
		if (off >= want.size())
			break;
		const size_t n = std::min<size_t>(s.len, want.size() - off);
		const uint8_t *p = ram_.at(s.gpa, n);
		if (!p)
			error("in-buffer outside guest RAM");
		for (size_t i = 0; i < n; i++) {
			if (p[i] != want[off + i]) {
				char b[160];
				std::snprintf(b, sizeof b,
					      " device-written byte %zu (gpa 0x%" PRIx64
					      "): recorded 0x%02x, replayed 0x%02x",
					      off + i, s.gpa + i, want[off + i], p[i]);
				diverge(where + b);
			}
		}
		off += n;
	}
}

void Replayer::sim_conn(const Record &r)
{
	const unsigned c = r.aux;
	if (r.sub == 1) {
		auto it = sim_fd_.find(c);
		if (it != sim_fd_.end()) {
			::close(it->second);
			sim_fd_.erase(it);
		}
		return;
	}
	if (sim_listen_ < 0)
		error("the trace has a simulator connection but the device arguments have no {sim}");
	pollfd p{sim_listen_, POLLIN, 0};
	if (::poll(&p, 1, o_.timeout_ms) <= 0)
		diverge("the device did not connect to the simulator (connection " + std::to_string(c) + ")");
	const int fd = ::accept4(sim_listen_, nullptr, nullptr, SOCK_CLOEXEC);
	if (fd < 0)
		error("accept: " + std::string(std::strerror(errno)));
	sim_fd_[c] = fd;
	sim_rx_[c].clear();
	sim_used_[c] = 0;
}

void Replayer::sim_data(const Record &r)
{
	const unsigned c = r.aux;
	auto it = sim_fd_.find(c);
	if (it == sim_fd_.end())
		error("simulator data on connection " + std::to_string(c) + " that is not open");
	const int fd = it->second;
	res_.sim_bytes += r.payload.size();
	if (r.sub == 1) { // sim -> device: send it now
		size_t off = 0;
		while (off < r.payload.size()) {
			const ssize_t n =
				::send(fd, r.payload.data() + off, r.payload.size() - off, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				diverge("the device closed the simulator connection early");
			off += static_cast<size_t>(n);
		}
		// Let the device take the bytes in before the next record: in the
		// recording it had them long before, and an answer it gives by
		// itself may depend on them (GET_INFO carries the capacities the
		// simulator reported). A Unix socket's SIOCOUTQ counts what the
		// peer has not read yet.
		const auto until = Clock::now() + timeout();
		for (int queued = 1; Clock::now() < until;) {
			if (::ioctl(fd, SIOCOUTQ, &queued) < 0 || queued == 0)
				break;
			std::this_thread::sleep_for(std::chrono::microseconds(20));
		}
		return;
	}
	std::vector<uint8_t> &rx = sim_rx_[c];
	size_t &used = sim_used_[c];
	const auto deadline = Clock::now() + timeout();
	while (rx.size() - used < r.payload.size()) {
		const auto left =
			std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now())
				.count();
		pollfd p{fd, POLLIN, 0};
		if (left <= 0 || ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left, 1))) <= 0)
			diverge("the device sent " + std::to_string(rx.size() - used) + " of " +
				std::to_string(r.payload.size()) + " expected bytes to the simulator");
		uint8_t buf[65536];
		const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			diverge("the device closed the simulator connection");
		rx.insert(rx.end(), buf, buf + n);
	}
	for (size_t i = 0; i < r.payload.size(); i++)
		if (rx[used + i] != r.payload[i]) {
			char b[160];
			std::snprintf(
				b, sizeof b,
				"simulator stream (connection %u) byte %zu: recorded 0x%02x, replayed 0x%02x",
				c, used + i, r.payload[i], rx[used + i]);
			diverge(b);
		}
	used += r.payload.size();
	if (used > (1u << 20)) { // keep the buffer small
		rx.erase(rx.begin(), rx.begin() + static_cast<long>(used));
		used = 0;
	}
}

void Replayer::step(const Record &r)
{
	switch (r.type) {
	case RecType::Msg: {
		const vsst_rpcmsg m = r.msg();
		if (r.sub == 0)
			request(r, m);
		else if (r.sub == 1)
			completion(m);
		else
			event(m);
		break;
	}
	case RecType::Mem: {
		const MemHdr h = r.mem();
		uint8_t *p = ram_.at(h.gpa, h.len);
		if (!p)
			error("MEM outside guest RAM");
		std::memcpy(p, r.mem_data().data(), h.len);
		res_.mem_bytes += h.len;
		break;
	}
	case RecType::Avail: {
		const AvailRec a = r.avail();
		if (a.late && a.notify_addr) {
			// The device took these without a doorbell of their own; a
			// spurious notification is harmless and makes it look again.
			const int rc = vsst_rpc_proxy_post(ch_, VSST_RPC_AS_GLOBAL, a.notify_addr,
							   a.notify_len, a.queue, o_.timeout_ms);
			if (rc < 0)
				error("posting a doorbell failed: " + std::string(std::strerror(-rc)));
		}
		break;
	}
	case RecType::Used:
		used(r);
		break;
	case RecType::SimConn:
		if (hermetic_)
			sim_conn(r);
		break;
	case RecType::Sim:
		if (hermetic_)
			sim_data(r);
		break;
	default:
		break;
	}
}

ReplayResult Replayer::run()
{
	const auto t0 = Clock::now();
	try {
		setup();
		std::vector<bool> done(t_.records.size(), false);
		for (size_t i = 0; i < t_.records.size(); i++) {
			if (done[i])
				continue;
			const Record &r = t_.records[i];
			if (hermetic_ && r.type == RecType::Msg && r.sub == 0 &&
			    vsst_rpc_mr0_op(r.msg().mr0) == VSST_RPC_OP_STOP) {
				// What the device sent the simulator before STOP took
				// effect can be recorded after it (another thread):
				// finish the simulator exchange first.
				for (size_t j = i + 1; j < t_.records.size(); j++) {
					const Record &s = t_.records[j];
					if (s.type != RecType::Sim && s.type != RecType::SimConn)
						continue;
					res_.record = static_cast<int64_t>(s.index);
					step(s);
					res_.records++;
					done[j] = true;
				}
			}
			res_.record = static_cast<int64_t>(r.index);
			step(r);
			res_.records++;
		}
		res_.record = -1;
		settle_pending();
		drain_events();
		res_.status = ReplayStatus::Match;
		res_.record = -1;
	} catch (const Stop &s) {
		res_.status = s.status;
		res_.what = s.what;
		if (res_.record >= 0 && static_cast<size_t>(res_.record) < t_.records.size())
			res_.recorded = describe(t_, t_.records[static_cast<size_t>(res_.record)]);
	} catch (const std::exception &e) {
		res_.status = ReplayStatus::Error;
		res_.what = e.what();
	}
	res_.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
	if (res_.status != ReplayStatus::Match)
		res_.qemu_log_tail = qemu_.process().log_tail(2000);
	// A trace that ends with STOP lets the device VM exit by itself.
	if (stopped_)
		qemu_.process().wait(std::chrono::milliseconds(2000));
	return res_;
}

} // namespace

ReplayResult replay_trace(const Trace &t, const ReplayOptions &opt)
{
	Replayer r(t, opt);
	return r.run();
}

} // namespace vsst::trace
