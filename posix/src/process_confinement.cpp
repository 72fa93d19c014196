// SPDX-License-Identifier: Apache-2.0
#include "vsst/posix/process_confinement.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace vsst {

namespace {

#if defined(__x86_64__)
constexpr uint32_t kArch = AUDIT_ARCH_X86_64;
constexpr uint32_t kX32Bit = 0x40000000; // __X32_SYSCALL_BIT: x32 numbers on the x86-64 entry
#elif defined(__aarch64__)
constexpr uint32_t kArch = AUDIT_ARCH_AARCH64;
constexpr uint32_t kX32Bit = 0;
#elif defined(__riscv) && __riscv_xlen == 64
constexpr uint32_t kArch = AUDIT_ARCH_RISCV64;
constexpr uint32_t kX32Bit = 0;
#else
#error "process confinement: unknown architecture"
#endif

constexpr uint32_t kAllow = SECCOMP_RET_ALLOW;
constexpr uint32_t kRefuse = SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA);
constexpr uint32_t kNr = offsetof(seccomp_data, nr);
constexpr uint32_t kArchOff = offsetof(seccomp_data, arch);
// The low 32 bits of the first argument (pid_t is an int; little-endian).
constexpr uint32_t kArg0 = offsetof(seccomp_data, args);

constexpr sock_filter stmt(uint16_t code, uint32_t k)
{
	return {code, 0, 0, k};
}
constexpr sock_filter jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf)
{
	return {code, jt, jf, k};
}

} // namespace

int confine_process(pid_t self)
{
	const uint32_t me = static_cast<uint32_t>(self), minus_me = static_cast<uint32_t>(-self);
	// Fixed layout: the arch and ABI checks, one test per call, then three
	// blocks that check the first argument, then the two verdicts.
	constexpr uint8_t kKillLike = 22, kThreadLike = 26, kOwnPid = 28, kAllowAt = 31, kRefuseAt = 32;
	auto to = [](uint8_t target, uint8_t here) { return static_cast<uint8_t>(target - here - 1); };
	auto call_is = [&](uint32_t nr, uint8_t here, uint8_t target) {
		return jump(BPF_JMP | BPF_JEQ | BPF_K, nr, to(target, here), 0);
	};
	const sock_filter prog[] = {
		stmt(BPF_LD | BPF_W | BPF_ABS, kArchOff),        // 0
		jump(BPF_JMP | BPF_JEQ | BPF_K, kArch, 1, 0),    // 1
		stmt(BPF_RET | BPF_K, kRefuse),                  // 2: a foreign ABI (i386)
		stmt(BPF_LD | BPF_W | BPF_ABS, kNr),             // 3
		jump(BPF_JMP | BPF_JSET | BPF_K, kX32Bit, 0, 1), // 4
		stmt(BPF_RET | BPF_K, kRefuse),                  // 5: x32
		call_is(SYS_ptrace, 6, kConfinementAllowsPtrace ? kAllowAt : kRefuseAt), // 6
		call_is(SYS_process_vm_readv, 7, kRefuseAt),                             // 7
		call_is(SYS_process_vm_writev, 8, kRefuseAt),                            // 8
		call_is(SYS_tkill, 9, kRefuseAt),                                        // 9
		call_is(SYS_kcmp, 10, kRefuseAt),                                        // 10
		call_is(SYS_perf_event_open, 11, kRefuseAt),                             // 11
		call_is(SYS_pidfd_open, 12, kRefuseAt),                                  // 12
		call_is(SYS_pidfd_getfd, 13, kRefuseAt),                                 // 13
		call_is(SYS_pidfd_send_signal, 14, kRefuseAt),                           // 14
		call_is(SYS_kill, 15, kKillLike),                                        // 15
		call_is(SYS_rt_sigqueueinfo, 16, kKillLike),                             // 16
		call_is(SYS_tgkill, 17, kThreadLike),                                    // 17
		call_is(SYS_rt_tgsigqueueinfo, 18, kThreadLike),                         // 18
		call_is(SYS_migrate_pages, 19, kOwnPid),                                 // 19
		call_is(SYS_move_pages, 20, kOwnPid),                                    // 20
		stmt(BPF_RET | BPF_K, kAllow),                                           // 21
		stmt(BPF_LD | BPF_W | BPF_ABS, kArg0),                    // 22: pid self, 0, -self
		jump(BPF_JMP | BPF_JEQ | BPF_K, me, to(kAllowAt, 23), 0), // 23
		jump(BPF_JMP | BPF_JEQ | BPF_K, 0, to(kAllowAt, 24), 0),  // 24
		jump(BPF_JMP | BPF_JEQ | BPF_K, minus_me, to(kAllowAt, 25), to(kRefuseAt, 25)), // 25
		stmt(BPF_LD | BPF_W | BPF_ABS, kArg0),                                    // 26: tgid self
		jump(BPF_JMP | BPF_JEQ | BPF_K, me, to(kAllowAt, 27), to(kRefuseAt, 27)), // 27
		stmt(BPF_LD | BPF_W | BPF_ABS, kArg0),                                    // 28: pid 0 or self
		jump(BPF_JMP | BPF_JEQ | BPF_K, me, to(kAllowAt, 29), 0),                 // 29
		jump(BPF_JMP | BPF_JEQ | BPF_K, 0, to(kAllowAt, 30), to(kRefuseAt, 30)),  // 30
		stmt(BPF_RET | BPF_K, kAllow),                                            // 31
		stmt(BPF_RET | BPF_K, kRefuse),                                           // 32
	};
	static_assert(sizeof prog / sizeof prog[0] == kRefuseAt + 1u);
	sock_fprog fprog{static_cast<unsigned short>(sizeof prog / sizeof prog[0]),
			 const_cast<sock_filter *>(prog)};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) < 0)
		return -errno;
	return 0;
}

} // namespace vsst
