#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# replay.record: record -> replay end to end. Fresh recordings of the three
# scenarios through the real device VM replay to a full match.
set -euo pipefail
rec=$1 tool=$2
source "$(cd "$(dirname "$0")/../.." && pwd)/scripts/lib.sh"
qemu=${VSST_QEMU:-$(vsst_qemu_bin)}
bin=${VSST_BIN:-$(dirname "$rec")}
if [ ! -x "$qemu" ] || [ ! -x "$bin/sst-sim" ]; then
	[ "${VSST_REQUIRE_ALL:-}" = 1 ] && { echo "FAIL: need $qemu and $bin/sst-sim" >&2; exit 1; }
	echo "SKIP: need $qemu and $bin/sst-sim"; exit 77
fi
tmp=$(mktemp -d /tmp/vsst-rec-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
"$rec" --make-image "$tmp/blk-disk.img"
for s in sst rng blk; do
	VSST_BIN=$bin "$rec" --scenario "$s" --out "$tmp/$s.vtrace" --image "$tmp/blk-disk.img" --log-dir "$tmp"
	"$tool" replay "$tmp/$s.vtrace" --image-dir "$tmp" | tee "$tmp/out"
	grep -q ': MATCH:' "$tmp/out" || { echo "FAIL: $s did not replay" >&2; exit 1; }
done
# The device VM records too (-accel rpc,trace=...). virtio-sst reports each
# used element as it writes it and its simulator stream through the device
# core's observer, so its device-side trace replays exactly. QEMU's own
# virtio-rng/-blk are captured at their interrupt, which this host-side
# driver can outrun (it polls with interrupts suppressed and zeroes a buffer
# before reusing it; trace/TRACE.md): their device-side traces are checked
# for validity here, and replayed as the Linux guest recordings
# trace/tests/golden/guest-{rng,blk}.vtrace (replay.golden).
for s in sst rng blk; do
	VSST_BIN=$bin "$rec" --scenario "$s" --out "$tmp/p-$s.vtrace" --device-trace "$tmp/d-$s.vtrace" \
		--image "$tmp/blk-disk.img" --log-dir "$tmp"
	"$tool" stats "$tmp/d-$s.vtrace" | grep -q "recorded at the device side" || { echo "FAIL: $s: not a device-side trace" >&2; exit 1; }
	"$tool" validate "$tmp/d-$s.vtrace" | grep -q valid || { echo "FAIL: device-side $s is not valid" >&2; exit 1; }
	[ "$s" = sst ] || continue
	"$tool" replay "$tmp/d-$s.vtrace" --image-dir "$tmp" | tee "$tmp/out"
	grep -q ': MATCH:' "$tmp/out" || { echo "FAIL: device-side $s did not replay" >&2; exit 1; }
done
