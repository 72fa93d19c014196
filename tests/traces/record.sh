#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Re-records the golden traces in this folder from real device-VM runs:
#   tests/traces/record.sh [sst|rng|blk]...     (default: all three)
# The guest is played by the host-side virtio driver (guest-driver/lib) through
# the real backend QEMU (-machine rpc-backend -accel rpc) over the RPC channel;
# sst additionally runs the real sst-sim behind the recorder's socket relay.
# Needs: $VSST_BIN/vsst-record-driver and sst-sim (default build/default/bin),
# $VSST_QEMU (default ~/.cache/vsst/qemu/build/qemu-system-x86_64).
# Each recording is replayed once before it replaces the old golden trace.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${VSST_BIN:-$root/build/default/bin}
rec=$bin/vsst-record-driver
tool=$bin/vsst-trace
for b in "$rec" "$tool" "$bin/sst-sim"; do
	[ -x "$b" ] || { echo "record.sh: $b missing (build the project first)" >&2; exit 1; }
done
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(sst rng blk)
tmp=$(mktemp -d /tmp/vsst-record-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
for s in "${scenarios[@]}"; do
	extra=()
	if [ "$s" = blk ]; then
		# The disk image is generated (deterministic) and kept next to the trace.
		[ -f "$here/blk-disk.img" ] || "$rec" --make-image "$here/blk-disk.img"
		extra=(--image "$here/blk-disk.img")
	fi
	VSST_BIN=$bin "$rec" --scenario "$s" --out "$tmp/$s.vtrace" --log-dir "$tmp" "${extra[@]}"
	"$tool" replay "$tmp/$s.vtrace" --image-dir "$here"
	mv "$tmp/$s.vtrace" "$here/$s.vtrace"
	echo "record.sh: $here/$s.vtrace ($(stat -c %s "$here/$s.vtrace") bytes)"
done
