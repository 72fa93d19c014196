#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# replay.record: record -> replay end to end. Fresh recordings of the three
# scenarios through the real device VM replay to a full match.
set -euo pipefail
rec=$1 tool=$2
qemu=${VSST_QEMU:-${VSST_CACHE:-$HOME/.cache/vsst}/qemu/build/qemu-system-x86_64}
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
# The device VM records too (-accel rpc,trace=...): traces recorded in the
# device VM replay as well; for sst that needs the simulator stream from the
# device core's observer and the used elements virtio-sst reports itself.
for s in sst rng blk; do
	VSST_BIN=$bin "$rec" --scenario "$s" --out "$tmp/p-$s.vtrace" --device-trace "$tmp/d-$s.vtrace" \
		--image "$tmp/blk-disk.img" --log-dir "$tmp"
	"$tool" stats "$tmp/d-$s.vtrace" | grep -q "recorded at the device side" || { echo "FAIL: $s: not a device-side trace" >&2; exit 1; }
	"$tool" replay "$tmp/d-$s.vtrace" --image-dir "$tmp" | tee "$tmp/out"
	grep -q ': MATCH:' "$tmp/out" || { echo "FAIL: device-side $s did not replay" >&2; exit 1; }
done
