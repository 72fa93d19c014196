// SPDX-License-Identifier: Apache-2.0
// kvm_probe.h - is KVM fast here? Runs a tiny real-mode loop in a throw-away KVM VM and
// compares it with the same loop on the host, bounded in time.
#pragma once

#include <string>

namespace vsst {

struct KvmProbeResult {
	bool usable = false;  // KVM ran the loop at near-native speed
	double guest_ms = 0;  // time of the loop inside KVM (or the bound, if cut short)
	double native_ms = 0; // time of the same loop on the host
	std::string detail;   // one line for the log
};

// budget_ms bounds the guest run; the VM is abandoned (vCPU kicked out) when it expires.
KvmProbeResult probe_kvm(int budget_ms = 500, const char *dev = "/dev/kvm");

} // namespace vsst
