// SPDX-License-Identifier: Apache-2.0
// posix.confinement: a child spawned with SpawnSpec::confine may signal itself and
// its own group, and nothing else: signals, tracing and memory access aimed at
// another process (a sleep the test started) fail with EPERM. The same probe unconfined (root
// here, or the same user) succeeds at them, so each check can fail.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "vsst/posix/child_process.h"
#include "vsst/posix/process_confinement.h"
#include "vsst/posix/temp_dir.h"
#include "vsst/posix/unique_fd.h"

namespace {

// Runs the probe against another process of ours (a sleep); call -> result.
std::map<std::string, std::string> probe(bool confine)
{
	vsst::ChildProcess target;
	vsst::SpawnSpec t;
	t.name = "target";
	t.argv = {"sleep", "60"};
	std::string terr;
	EXPECT_TRUE(target.spawn(t, terr)) << terr;
	vsst::TempDir dir("vsst-confine");
	const std::string out = (dir.path() / "out").string();
	vsst::SpawnSpec s;
	s.name = "probe";
	s.argv = {VSST_CONFINEMENT_PROBE, std::to_string(target.pid())};
	s.log_path = out;
	s.confine = confine;
	vsst::ChildProcess p;
	std::string error;
	EXPECT_TRUE(p.spawn(s, error)) << error;
	auto st = p.wait(std::chrono::seconds(20));
	EXPECT_TRUE(st && st->exited && st->status == 0) << (st ? st->describe() : "still running");
	std::map<std::string, std::string> r;
	std::ifstream f(out);
	std::string call, result;
	while (f >> call >> result)
		r[call] = result;
	return r;
}

TEST(Confinement, OwnProcessOnly)
{
	auto r = probe(true);
	for (const char *ok : {"kill-self", "kill-group", "raise", "tgkill-self", "getpid"})
		EXPECT_EQ(r[ok], "ok") << ok;
	for (const char *refused : {"kill-other", "kill-all", "tgkill-other", "tkill", "sigqueue-other",
				    "process_vm_readv", "process_vm_writev", "pidfd_open"})
		EXPECT_EQ(r[refused], "EPERM") << refused;
	// Allowed only in an AddressSanitizer build (LeakSanitizer needs it).
	if (!vsst::kConfinementAllowsPtrace) {
		EXPECT_EQ(r["ptrace-seize"], "EPERM");
	}
}

// Unconfined, the same calls reach the other process (the same user), so
// the expectations above are the filter's doing.
TEST(Confinement, UnconfinedReachesOtherProcesses)
{
	auto r = probe(false);
	// process_vm_readv/writev get past the permission check and then fail on the
	// address (the probe names its own buffer): anything but EPERM.
	for (const char *through : {"kill-other", "tgkill-other", "tkill", "process_vm_readv",
				    "process_vm_writev", "ptrace-seize", "pidfd_open"}) {
		EXPECT_FALSE(r[through].empty()) << through;
		EXPECT_NE(r[through], "EPERM") << through;
	}
}

} // namespace
