// SPDX-License-Identifier: Apache-2.0
#include "kvm_probe.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "vsst/posix/unique_fd.h"

namespace vsst {

namespace {

constexpr uint32_t kLoops = 20'000'000;
// Near-native: within this factor of the host loop (plus a fixed allowance for VM entry).
constexpr double kMaxSlowdown = 3.0;
constexpr double kAllowanceMs = 20.0;

// Real mode at 0x1000: mov ecx, kLoops; 1: dec ecx; jnz 1b; hlt
void write_guest_code(uint8_t *mem)
{
	const uint8_t code[] = {
		0x66,
		0xb9,
		static_cast<uint8_t>(kLoops),
		static_cast<uint8_t>(kLoops >> 8),
		static_cast<uint8_t>(kLoops >> 16),
		static_cast<uint8_t>(kLoops >> 24), // mov ecx, imm32
		0x66,
		0x49, // dec ecx
		0x75,
		0xfc, // jnz -4
		0xf4, // hlt
	};
	memcpy(mem + 0x1000, code, sizeof(code));
}

double native_loop_ms()
{
	auto t0 = std::chrono::steady_clock::now();
	uint32_t n = kLoops;
	asm volatile("1: dec %0\n\tjnz 1b" : "+r"(n));
	return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void on_kick(int)
{
}

class Mapping {
public:
	Mapping(void *p, size_t n) : p_(p), n_(n) {}
	~Mapping()
	{
		if (p_ != MAP_FAILED)
			munmap(p_, n_);
	}
	Mapping(const Mapping &) = delete;
	Mapping &operator=(const Mapping &) = delete;
	void *get() const { return p_; }
	bool ok() const { return p_ != MAP_FAILED; }

private:
	void *p_;
	size_t n_;
};

} // namespace

KvmProbeResult probe_kvm(int budget_ms, const char *dev)
{
	KvmProbeResult res;
	auto fail = [&](const std::string &why) {
		res.detail = why;
		return res;
	};
	UniqueFd kvm(open(dev, O_RDWR | O_CLOEXEC));
	if (!kvm)
		return fail(std::string("cannot open ") + dev + ": " + strerror(errno));
	if (ioctl(kvm.get(), KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return fail("unexpected KVM API version");
	UniqueFd vm(ioctl(kvm.get(), KVM_CREATE_VM, 0));
	if (!vm)
		return fail(std::string("KVM_CREATE_VM: ") + strerror(errno));
	const size_t mem_size = 0x10000;
	Mapping mem(mmap(nullptr, mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
		    mem_size);
	if (!mem.ok())
		return fail("mmap guest memory failed");
	write_guest_code(static_cast<uint8_t *>(mem.get()));
	kvm_userspace_memory_region region{};
	region.slot = 0;
	region.guest_phys_addr = 0;
	region.memory_size = mem_size;
	region.userspace_addr = reinterpret_cast<uint64_t>(mem.get());
	if (ioctl(vm.get(), KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return fail(std::string("KVM_SET_USER_MEMORY_REGION: ") + strerror(errno));
	UniqueFd vcpu(ioctl(vm.get(), KVM_CREATE_VCPU, 0));
	if (!vcpu)
		return fail(std::string("KVM_CREATE_VCPU: ") + strerror(errno));
	int run_size = ioctl(kvm.get(), KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0)
		return fail("KVM_GET_VCPU_MMAP_SIZE failed");
	Mapping run_map(mmap(nullptr, static_cast<size_t>(run_size), PROT_READ | PROT_WRITE, MAP_SHARED,
			     vcpu.get(), 0),
			static_cast<size_t>(run_size));
	if (!run_map.ok())
		return fail("mmap kvm_run failed");
	auto *run = static_cast<kvm_run *>(run_map.get());

	kvm_sregs sregs{};
	if (ioctl(vcpu.get(), KVM_GET_SREGS, &sregs) < 0)
		return fail("KVM_GET_SREGS failed");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu.get(), KVM_SET_SREGS, &sregs) < 0)
		return fail("KVM_SET_SREGS failed");
	kvm_regs regs{};
	regs.rip = 0x1000;
	regs.rflags = 0x2;
	if (ioctl(vcpu.get(), KVM_SET_REGS, &regs) < 0)
		return fail("KVM_SET_REGS failed");

	res.native_ms = native_loop_ms();

	// The vCPU runs on its own thread so that a slow VM can be cut off: a signal
	// makes KVM_RUN return with EINTR; immediate_exit covers a kick that lands
	// just before the ioctl.
	struct sigaction sa {
	}, old{};
	sa.sa_handler = on_kick;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, &old);
	std::atomic<bool> done{false};
	std::atomic<int> exit_reason{-1}, run_errno{0};
	auto t0 = std::chrono::steady_clock::now();
	std::thread runner([&] {
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
		for (;;) {
			int r = ioctl(vcpu.get(), KVM_RUN, 0);
			if (r < 0) {
				run_errno = errno;
				break;
			}
			if (run->exit_reason == KVM_EXIT_INTR && !done.load())
				continue;
			exit_reason = static_cast<int>(run->exit_reason);
			break;
		}
		done = true;
	});
	pthread_t tid = runner.native_handle();
	auto deadline = t0 + std::chrono::milliseconds(budget_ms);
	while (!done.load() && std::chrono::steady_clock::now() < deadline)
		std::this_thread::sleep_for(std::chrono::milliseconds(1));
	bool cut = !done.load();
	while (!done.load()) {
		run->immediate_exit = 1;
		done.store(true); // tell the runner that EINTR is the end
		pthread_kill(tid, SIGUSR1);
		std::this_thread::sleep_for(std::chrono::milliseconds(1));
	}
	runner.join();
	sigaction(SIGUSR1, &old, nullptr);
	res.guest_ms =
		std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

	char line[200];
	if (cut) {
		snprintf(line, sizeof line,
			 "KVM did not finish a %u-iteration loop in %d ms (native: %.1f ms)", kLoops,
			 budget_ms, res.native_ms);
		return fail(line);
	}
	if (exit_reason != KVM_EXIT_HLT) {
		snprintf(line, sizeof line, "KVM probe VM stopped unexpectedly (exit reason %d, errno %d)",
			 exit_reason.load(), run_errno.load());
		return fail(line);
	}
	res.usable = res.guest_ms <= res.native_ms * kMaxSlowdown + kAllowanceMs;
	snprintf(line, sizeof line, "KVM loop %.1f ms vs native %.1f ms: %s", res.guest_ms, res.native_ms,
		 res.usable ? "near-native" : "too slow");
	res.detail = line;
	return res;
}

} // namespace vsst
