// SPDX-License-Identifier: Apache-2.0
// What a confined process may do to itself and to another process (the pid in
// argv[1]): one line per attempt, "<call> ok" or "<call> <errno name>". Run by
// posix.confinement with and without SpawnSpec::confine.
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

void report(const char *what, long r)
{
	std::printf("%s %s\n", what, r < 0 ? strerrorname_np(errno) : "ok");
}

} // namespace

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	const pid_t other = static_cast<pid_t>(std::atoi(argv[1]));
	const pid_t self = getpid();
	const long tid = syscall(SYS_gettid);
	std::signal(SIGUSR1, SIG_IGN);
	report("kill-self", kill(self, SIGUSR1));
	report("kill-group", kill(0, SIGUSR1));
	report("raise", raise(SIGUSR1));
	report("tgkill-self", syscall(SYS_tgkill, self, tid, SIGUSR1));
	report("kill-other", kill(other, 0));
	report("kill-all", kill(-1, 0));
	report("tgkill-other", syscall(SYS_tgkill, other, other, 0));
	report("tkill", syscall(SYS_tkill, tid, 0));
	report("sigqueue-other", syscall(SYS_rt_sigqueueinfo, other, 0, nullptr));
	char buf[8], there[8] = {};
	iovec local{buf, sizeof buf}, remote{there, sizeof there};
	report("process_vm_readv", syscall(SYS_process_vm_readv, other, &local, 1, &remote, 1, 0));
	report("process_vm_writev", syscall(SYS_process_vm_writev, other, &local, 1, &remote, 1, 0));
	report("ptrace-seize", ptrace(PTRACE_SEIZE, other, nullptr, nullptr));
	report("pidfd_open", syscall(SYS_pidfd_open, other, 0));
	report("getpid", getpid());
	return 0;
}
