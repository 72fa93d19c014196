// SPDX-License-Identifier: Apache-2.0
// run_identities.h - whom each process of a run runs as when vmm-proxy starts as
// root. By default (--run-as auto) every QEMU of the run (the guest VM and each
// device VM) gets a uid and gid of its own that no account, no other process
// and no other run uses, taken from a range (--id-range): the kernel then keeps a
// compromised QEMU from signalling, tracing or reading any other run's QEMU (or
// its own run's others). --run-as USER keeps one named user for all; '' keeps
// root. An id is held with a lock file (/run/vsst/ids/<uid>.lock, flock) for the
// whole run, so concurrent runs never share one.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "vsst/posix/child_process.h"
#include "vsst/posix/unique_fd.h"

namespace vsst {

struct IdRange {
	uid_t first = 2100000000, last = 2100065535;
};
// "FIRST-LAST" (decimal, first <= last, below 2^31 - 1); false when malformed.
bool parse_id_range(const std::string &text, IdRange &out);

class RunIdentities {
public:
	// --run-as USER: everyone runs as that user. False (why set) if there is none.
	bool use_named(const std::string &user, std::string &why);
	// --run-as auto: count distinct ids from range, free on this host (no account,
	// no group, no process, no other run's lock). False (why set) when the range
	// has too few.
	bool take_distinct(size_t count, const IdRange &range, const std::string &lock_dir, std::string &why);

	// Whom process n runs as (n: 0 the guest VM, 1 + k device VM k); nullopt: as
	// the launcher.
	std::optional<Credentials> of(size_t n) const;
	std::optional<Credentials> guest_vm() const { return of(0); }
	std::optional<Credentials> device_vm(size_t k) const { return of(1 + k); }
	// The named user (--run-as USER), if that is the mode.
	const std::optional<Credentials> &named() const { return named_; }
	bool distinct() const { return !ids_.empty(); }

private:
	std::optional<Credentials> named_;
	std::vector<Credentials> ids_;
	std::vector<UniqueFd> locks_;
};

// Whether any process on the host runs with uid as its real, effective or saved uid
// (/proc/<pid>/status: /proc/<pid> itself is root's for a non-dumpable process).
bool uid_in_use(uid_t uid);

} // namespace vsst
