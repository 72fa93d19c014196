// SPDX-License-Identifier: Apache-2.0
// vsst-fault-device: a hostile device VM for the channel fault tests.
//
// vmm-proxy runs it in place of QEMU (--qemu). Started in the guest role
// (no "-accel rpc,..."), it executes the real QEMU ($VSST_FAULT_QEMU) with
// the same arguments. Started in the device-VM role it sits between
// vmm-proxy's channel (A, where it plays the device) and a real device VM
// it starts itself on a channel of its own (B, where it plays the proxy),
// relays every request, completion and event faithfully, and, once
// triggered, misbehaves on channel A in one way:
//
//   garbage           a message with an unknown op and reserved bits on the events ring
//   bad_index         an impossible producer index on the completions ring
//   bogus_completion  a well-formed completion for a slot the proxy never used
//   stall             the next completion is written but never published, then silence
//                     ("stops mid-message"; the process stays alive)
//   flood             VSST_FAULT_COUNT (default 20000) events the guest side must reject
//                     (IRQ/MSI for devices it does not own, MSI outside the window,
//                     regions outside every BAR), then relays on as if nothing happened
//
// Trigger: the file $VSST_FAULT_TRIGGER exists, or $VSST_FAULT_AFTER requests
// were relayed. After garbage/bad_index/bogus_completion it waits (bounded)
// until the guest side has poisoned the channel, logs the reason, stops the
// real device VM and exits 3, like a real backend whose channel was poisoned.
#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "vsst/posix/child_process.h"
#include "vsst/rpc.h"
#include "vsst/rpc/channel.hpp"
#include "vsst/rpc/layout.hpp"
#include "vsst/rpc/raw_region.hpp"

namespace {

using namespace vsst::rpc;
using vsst::ChildProcess;
using vsst::ExitInfo;
using vsst::SpawnSpec;
using vsst::UniqueFd;
using vsst::rpc::testkit::RawRegion;
using Clock = std::chrono::steady_clock;

std::atomic<bool> g_term{false};
void on_term(int)
{
	g_term = true;
}

enum class Mode { none, garbage, bad_index, bogus_completion, stall, flood };

Mode parse_mode(const std::string &s, bool &ok)
{
	ok = true;
	if (s.empty() || s == "none")
		return Mode::none;
	if (s == "garbage")
		return Mode::garbage;
	if (s == "bad_index")
		return Mode::bad_index;
	if (s == "bogus_completion")
		return Mode::bogus_completion;
	if (s == "stall")
		return Mode::stall;
	if (s == "flood")
		return Mode::flood;
	ok = false;
	return Mode::none;
}

std::string env(const char *name, const char *def = "")
{
	const char *v = getenv(name);
	return v ? v : def;
}

class Interposer {
public:
	int run(const std::vector<std::string> &args, size_t accel_index, int setup_fd);

private:
	bool triggered();
	void relay_events();
	int inject(const Message *req);
	int wait_poisoned_and_exit();
	void stop_backend();
	int flood();
	void stop_event_relay();

	Mode mode_ = Mode::none;
	std::string trigger_file_;
	uint64_t trigger_after_ = 0, relayed_ = 0;
	unsigned flood_count_ = 20000;
	Clock::time_point next_check_{};
	bool fired_ = false, armed_ = false;

	std::unique_ptr<DeviceEndpoint> a_; // towards vmm-proxy / the guest
	std::unique_ptr<ProxyEndpoint> b_;  // towards the real device VM
	RawRegion raw_;
	RawRegion raw_b_;      // channel B, read only: ring indices for the stats line
	ChildProcess backend_; // the real device VM, a child of ours
	std::mutex event_mu_;  // held while relaying one event on A
	std::atomic<bool> events_on_{true};
	std::atomic<bool> quit_{false};
	std::string b_died_;
	std::atomic<uint64_t> events_relayed_{0};
};

bool Interposer::triggered()
{
	if (fired_ || mode_ == Mode::none)
		return false;
	if (trigger_after_ && relayed_ >= trigger_after_)
		return true;
	if (!trigger_file_.empty() && Clock::now() >= next_check_) {
		next_check_ = Clock::now() + std::chrono::milliseconds(50);
		return access(trigger_file_.c_str(), F_OK) == 0;
	}
	return false;
}

void Interposer::relay_events()
{
	while (!quit_) {
		Message ev;
		const int r = b_->wait_event(ev, 100);
		if (r == -ETIMEDOUT || r == 0)
			continue;
		if (r < 0) {
			b_died_ = std::string("backend channel failed: ") + b_->poison_reason();
			quit_ = true;
			return;
		}
		std::lock_guard lk(event_mu_);
		if (!events_on_)
			continue; // the fault owns the events ring now
		if (int r = a_->send_event(ev, 2000); r < 0) {
			b_died_ = std::string("relaying an event to the guest side failed: ") + strerror(-r);
			quit_ = true;
			return;
		}
		events_relayed_++;
	}
}

void Interposer::stop_event_relay()
{
	std::lock_guard lk(event_mu_);
	events_on_ = false;
}

// vmm-proxy confines this process like the QEMU it stands in for: it may not signal
// the real device VM (its own process group). Poisoning channel B makes that one
// leave by itself (status 3); should it not, it dies with us (its death signal).
void Interposer::stop_backend()
{
	if (b_ && backend_.running())
		b_->poison("the fault device stops");
	if (!backend_.wait(std::chrono::milliseconds(3000)))
		backend_.terminate(std::chrono::milliseconds(0));
}

int Interposer::wait_poisoned_and_exit()
{
	const auto end = Clock::now() + std::chrono::seconds(30);
	while (!a_->poisoned() && Clock::now() < end && !g_term)
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
	if (a_->poisoned())
		spdlog::error("fault-device: channel poisoned by the guest side: {}", a_->poison_reason());
	else
		spdlog::error("fault-device: the guest side did NOT poison the channel within 30 s");
	quit_ = true;
	stop_backend();
	return 3;
}

int Interposer::flood()
{
	// Each kind is well-formed for the decoder but wrong for this channel,
	// so rpc-channel must reject (count, log once per kind) and carry on.
	const Message kinds[] = {
		set_irq(0x77, 1),              // IRQ for a device it does not own
		msi(0xfee00000, 0x4021, 0x55), // MSI for a device it does not own
		msi(0x1000, 0x21, 0),          // MSI outside the MSI window
		mmio_region_config(0x7f00000000ull, 4096, VSST_RPC_REGION_POSTED), // outside every BAR
	};
	// VSST_FAULT_KINDS: which of them, as a list of indices ("0,2"); default all.
	std::vector<Message> use;
	const std::string sel = env("VSST_FAULT_KINDS");
	for (size_t k = 0; k < std::size(kinds); k++)
		if (sel.empty() || sel.find(char('0' + k)) != std::string::npos)
			use.push_back(kinds[k]);
	unsigned sent = 0;
	const auto t0 = Clock::now();
	// One producer at a time on the events ring: the relay waits meanwhile.
	std::lock_guard lk(event_mu_);
	for (unsigned i = 0; i < flood_count_ && !g_term && !use.empty(); i++) {
		const int r = a_->send_event(use[i % use.size()], 5000);
		if (r < 0) {
			spdlog::error("fault-device: flood stopped after {} events: {}", sent, strerror(-r));
			break;
		}
		sent++;
	}
	spdlog::warn("fault-device: flooded {} bogus events in {} ms", sent,
		     std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
	return 0;
}

// Returns -1 to keep relaying, or an exit status.
int Interposer::inject(const Message *req)
{
	fired_ = true;
	spdlog::warn("fault-device: injecting fault '{}' after {} relayed requests", env("VSST_FAULT_MODE"),
		     relayed_);
	switch (mode_) {
	case Mode::garbage: {
		stop_event_relay();
		Message junk{0xdeadbeefdead003full, 0x0123456789abcdefull, ~0ull, 0x5a5a5a5a5a5a5a5aull};
		raw_.push(Ring::Events, junk, true);
		return wait_poisoned_and_exit();
	}
	case Mode::bad_index: {
		const uint32_t cons = raw_.cons(Ring::Completions);
		raw_.set_prod(Ring::Completions, cons + raw_.capacity() + 7);
		return wait_poisoned_and_exit();
	}
	case Mode::bogus_completion: {
		// Slot 63 with a made-up token: no vCPU of a small guest has 64
		// accesses in flight, so the proxy never sent it.
		const Message fake = mmio_completion(
			mmio_request(63, kAsGlobal, 0xfebf0000, 4, Dir::Read, 0, 0x5eed5eed), 0x12345678);
		raw_.push(Ring::Completions, fake, true);
		return wait_poisoned_and_exit();
	}
	case Mode::stall:
		stop_event_relay();
		if (req) {
			// Half a message: the completion is in its slot, the index never moves.
			const Message done = mmio_completion(*req, 0);
			raw_.push(Ring::Completions, done, false);
		}
		spdlog::warn("fault-device: stalled (alive, silent) until terminated");
		while (!g_term)
			std::this_thread::sleep_for(std::chrono::milliseconds(50));
		quit_ = true;
		stop_backend();
		return 0;
	case Mode::flood:
		flood();
		return -1;
	case Mode::none:
		break;
	}
	return -1;
}

int Interposer::run(const std::vector<std::string> &args, size_t accel_index, int setup_fd)
{
	bool ok = false;
	mode_ = parse_mode(env("VSST_FAULT_MODE"), ok);
	if (!ok) {
		spdlog::error("fault-device: unknown VSST_FAULT_MODE '{}'", env("VSST_FAULT_MODE"));
		return 1;
	}
	trigger_file_ = env("VSST_FAULT_TRIGGER");
	trigger_after_ = strtoull(env("VSST_FAULT_AFTER", "0").c_str(), nullptr, 0);
	flood_count_ = unsigned(strtoul(env("VSST_FAULT_COUNT", "20000").c_str(), nullptr, 0));

	// Channel A and guest RAM from vmm-proxy.
	vsst_rpc_fds afds{};
	vsst_ram_layout ram{};
	char err[256] = "";
	if (int r = vsst_setup_recv(setup_fd, &afds, &ram, 10000, err, sizeof err); r < 0) {
		spdlog::error("fault-device: set-up from vmm-proxy failed: {}", err);
		return 1;
	}
	close(setup_fd);
	std::string e;
	a_ = DeviceEndpoint::attach(afds, &e);
	if (!a_ || !raw_.map(afds.region, afds.to_proxy)) {
		spdlog::error("fault-device: attaching to channel A failed: {}", e);
		return 1;
	}

	// Channel B and the real device VM, with the same RAM.
	ChannelFds bfds;
	if (create_channel({}, bfds, &e) < 0) {
		spdlog::error("fault-device: creating channel B failed: {}", e);
		return 1;
	}
	b_ = ProxyEndpoint::attach(bfds.raw(), &e);
	if (b_ && !raw_b_.map(bfds.region.get(), -1)) {
		spdlog::error("fault-device: mapping channel B failed");
		return 1;
	}
	int sp[2];
	if (!b_ || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		spdlog::error("fault-device: channel B set-up failed: {}", e);
		return 1;
	}
	UniqueFd ours(sp[0]), theirs(sp[1]);
	std::vector<std::string> real = args;
	real[0] = env("VSST_FAULT_QEMU");
	real[accel_index] = "rpc,setup-fd=" + std::to_string(theirs.get());
	SpawnSpec spec;
	spec.name = "real device VM";
	spec.argv = real;
	spec.inherit_fds = {theirs.get()};
	std::string why;
	if (!backend_.spawn(spec, why)) {
		spdlog::error("fault-device: cannot start {}: {}", real[0], why);
		return 1;
	}
	theirs.reset();
	const vsst_rpc_fds braw = bfds.raw();
	if (vsst_setup_send(ours.get(), &braw, &ram) < 0) {
		spdlog::error("fault-device: sending set-up to the real device VM failed");
		return 1;
	}
	spdlog::info("fault-device: relaying; real device VM pid {}, fault '{}'", backend_.pid(),
		     env("VSST_FAULT_MODE", "none"));

	std::thread events([this] { relay_events(); });
	int status = 0;
	auto next_stats = Clock::now();
	for (;;) {
		if (Clock::now() >= next_stats) {
			// One line every 5 s: shows whether traffic still flows both ways.
			next_stats = Clock::now() + std::chrono::seconds(5);
			spdlog::debug("fault-device: relayed {} requests, {} events; ring prod/cons: "
				      "A req {}/{} cpl {}/{} evt {}/{}, B req {}/{} cpl {}/{} evt {}/{}",
				      relayed_, events_relayed_.load(), raw_.prod(Ring::Requests),
				      raw_.cons(Ring::Requests), raw_.prod(Ring::Completions),
				      raw_.cons(Ring::Completions), raw_.prod(Ring::Events),
				      raw_.cons(Ring::Events), raw_b_.prod(Ring::Requests),
				      raw_b_.cons(Ring::Requests), raw_b_.prod(Ring::Completions),
				      raw_b_.cons(Ring::Completions), raw_b_.prod(Ring::Events),
				      raw_b_.cons(Ring::Events));
		}
		if (g_term) {
			spdlog::info("fault-device: terminated");
			break;
		}
		if (backend_.poll_exit()) {
			const ExitInfo &e = *backend_.exit_info();
			spdlog::error("fault-device: the real device VM {}", e.describe());
			a_->poison("the real device VM behind fault-device exited");
			status = e.exited ? e.status : 3;
			break;
		}
		if (quit_) {
			spdlog::error("fault-device: {}", b_died_.empty() ? "relay failed" : b_died_);
			if (!b_died_.empty())
				a_->poison(b_died_);
			status = 3;
			break;
		}
		if (!armed_ && triggered()) {
			armed_ = true;
			spdlog::warn("fault-device: trigger seen");
		}
		if (armed_ && !fired_ && mode_ != Mode::stall) {
			if (int rc = inject(nullptr); rc >= 0) {
				status = rc;
				break;
			}
		}
		Message req;
		const int r = a_->wait_request(req, 50);
		if (r == -ETIMEDOUT || r == 0)
			continue;
		if (r < 0) {
			spdlog::error("fault-device: channel A: {}", a_->poison_reason());
			status = 3;
			break;
		}
		if (req.op() == Op::Mmio && !req.posted() && armed_ && mode_ == Mode::stall) {
			status = inject(&req);
			break;
		}
		relayed_++;
		switch (req.op()) {
		case Op::Hello:
		case Op::Stop:
			b_->send(req, 2000);
			if (req.op() == Op::Stop) {
				spdlog::info("fault-device: STOP from the guest side");
				quit_ = true;
				backend_.terminate(std::chrono::milliseconds(3000));
				events.join();
				return 0;
			}
			break;
		case Op::Mmio:
			if (req.posted()) {
				b_->post(req.as(), req.addr(), req.len(), req.data(), 2000);
			} else {
				uint64_t data = req.data();
				const int m =
					b_->mmio(req.as(), req.addr(), req.len(), req.dir(), &data, 1500);
				if (m == -EPIPE) {
					b_died_ =
						std::string("backend channel failed: ") + b_->poison_reason();
					quit_ = true;
					continue;
				}
				if (m == 0)
					a_->complete(req, data, 2000);
				else
					a_->complete_error(req, 2000);
			}
			break;
		default:
			break;
		}
	}
	quit_ = true;
	events.join();
	stop_backend();
	return status;
}

} // namespace

int main(int argc, char **argv)
{
	std::vector<std::string> args(argv, argv + argc);
	size_t accel = 0;
	int setup_fd = -1;
	for (size_t i = 1; i + 1 < args.size(); i++)
		if (args[i] == "-accel" && args[i + 1].rfind("rpc,", 0) == 0) {
			accel = i + 1;
			const auto pos = args[accel].find("setup-fd=");
			if (pos != std::string::npos)
				setup_fd = atoi(args[accel].c_str() + pos + 9);
		}
	const std::string qemu = env("VSST_FAULT_QEMU");
	if (qemu.empty()) {
		fprintf(stderr, "vsst-fault-device: set VSST_FAULT_QEMU to the real QEMU\n");
		return 1;
	}
	if (!accel) {
		// The guest role (or anything else): the real QEMU, unchanged.
		argv[0] = const_cast<char *>(qemu.c_str());
		execv(qemu.c_str(), argv);
		perror("vsst-fault-device: exec");
		return 127;
	}
	if (setup_fd < 0) {
		fprintf(stderr, "vsst-fault-device: only -accel rpc,setup-fd=N is supported\n");
		return 1;
	}
	spdlog::set_pattern("%H:%M:%S.%e %^%l%$ %v");
	if (env("VSST_FAULT_LOG") == "debug")
		spdlog::set_level(spdlog::level::debug);
	struct sigaction sa {};
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, nullptr);
	sigaction(SIGINT, &sa, nullptr);
	signal(SIGPIPE, SIG_IGN);
	Interposer ip;
	return ip.run(args, accel, setup_fd);
}
