#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# replay.guest_record: vmm-proxy --trace end to end. A real Linux guest with
# virtio-sst, virtio-rng and virtio-blk, one device VM each, each recording
# its trace; each trace then replays to a full match twice
# (trace/tests/golden/record.sh guest, written to a scratch folder).
set -euo pipefail
root=$1 bin=$2
cache=${VSST_CACHE:-$HOME/.cache/vsst}
source "$(cd "$(dirname "$0")/../.." && pwd)/scripts/lib.sh"
qemu=${VSST_QEMU:-$(vsst_qemu_bin)}
images=${VSST_IMAGES:-$cache/images}
for f in "$qemu" "$images/vmlinuz" "$images/initramfs.cpio.gz" "$bin/vmm-proxy"; do
	if [ ! -e "$f" ]; then
		[ "${VSST_REQUIRE_ALL:-}" = 1 ] && { echo "FAIL: missing $f" >&2; exit 1; }
		echo "SKIP: missing $f (./vsst build, ./vsst images)"; exit 77
	fi
done
out=$(mktemp -d /tmp/vsst-guest-rec-XXXXXX)
trap 'rm -rf "$out"' EXIT
VSST_TRACES_OUT=$out VSST_BIN=$bin VSST_QEMU=$qemu VSST_IMAGES=$images "$root/trace/tests/golden/record.sh" guest | tee "$out/log"
for t in sst rng blk; do
	[ -s "$out/guest-$t.vtrace" ] || { echo "FAIL: no guest-$t.vtrace" >&2; exit 1; }
done
[ "$(grep -c ': MATCH:' "$out/log")" -eq 6 ] || { echo "FAIL: not every trace replayed twice" >&2; exit 1; }
grep -q 'SIM' <("$bin/vsst-trace" dump "$out/guest-sst.vtrace" --no-header --op SIM --limit 1) ||
	{ echo "FAIL: guest-sst has no simulator stream" >&2; exit 1; }
echo "guest_record: passed"
