// SPDX-License-Identifier: Apache-2.0
// Confinement of a child process against the other processes on the host: a
// seccomp filter, installed between fork and exec (SpawnSpec::confine), under
// which the process may signal only itself and its own process group and may
// not look into or control any other process:
//   - kill, rt_sigqueueinfo: only pid == self, 0 (own group) or -self;
//   - tgkill, rt_tgsigqueueinfo: only tgid == self (its own threads);
//   - tkill (a bare thread id cannot be checked), ptrace, process_vm_readv,
//     process_vm_writev, kcmp, perf_event_open, pidfd_open, pidfd_getfd,
//     pidfd_send_signal: refused;
//   - migrate_pages, move_pages: only pid 0 or self;
// each refusal returns EPERM; every other call is allowed. A call through a
// foreign ABI (i386 or x32 on x86-64) is refused as a whole, so the policy
// cannot be stepped around. QEMU's -sandbox on does not cover these (its
// deny list is about privileges, spawning and obsolete calls).
#pragma once

#include <sys/types.h>

namespace vsst {

// LeakSanitizer stops the world at exit with ptrace (a helper attaches to the
// process's own threads), so in an AddressSanitizer build of the project the
// filter lets ptrace through; everything else stays refused. Release builds
// refuse it.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kConfinementAllowsPtrace = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kConfinementAllowsPtrace = true;
#else
inline constexpr bool kConfinementAllowsPtrace = false;
#endif
#else
inline constexpr bool kConfinementAllowsPtrace = false;
#endif

// Installs the filter for the calling process (sets no_new_privs first, which
// an unprivileged process needs for seccomp). self: the caller's pid, which
// the filter embeds. Only async-signal-safe calls: usable after fork.
// Returns 0 or -errno.
int confine_process(pid_t self);

} // namespace vsst
