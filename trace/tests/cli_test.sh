#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# replay.cli: vsst-trace on the golden traces. dump/stats/validate succeed and
# print what they should; replay exits 0 and is deterministic (--repeat 2);
# a copy with one device-written byte changed exits 1 naming the record; a
# truncated copy is refused by validate (exit 2).
set -euo pipefail
tool=$1 traces=$2
source "$(cd "$(dirname "$0")/../.." && pwd)/scripts/lib.sh"
qemu=${VSST_QEMU:-$(vsst_qemu_bin)}
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d /tmp/vsst-cli-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

for t in sst rng blk guest-sst guest-rng guest-blk; do
	"$tool" validate "$traces/$t.vtrace" | grep -q valid || fail "validate $t"
	"$tool" stats "$traces/$t.vtrace" >"$tmp/stats" || fail "stats $t"
	grep -q "dropped records: 0" "$tmp/stats" || fail "stats $t: dropped line"
done
"$tool" dump "$traces/sst.vtrace" --no-header --op MMIO --limit 3 >"$tmp/dump"
[ "$(wc -l <"$tmp/dump")" -eq 3 ] || fail "dump --limit 3 printed $(wc -l <"$tmp/dump") lines"
grep -qE '^#[0-9]+ t=[0-9.]+ -> req MMIO R as=cfg0 addr=0x0 len=2' "$tmp/dump" || fail "dump line format: $(cat "$tmp/dump")"
"$tool" dump "$traces/sst.vtrace" --no-header --op used >"$tmp/used"
grep -q "USED dev=0 q=0" "$tmp/used" || fail "dump --op used"
! grep -qv "USED" "$tmp/used" || fail "dump --op used printed other kinds"
"$tool" dump "$traces/blk.vtrace" --no-header --dev 0 --op MSI,SET_IRQ,REGISTER_PCI_DEV >"$tmp/dev" || fail "dump --dev"
grep -q "REGISTER_PCI_DEV dev=0" "$tmp/dev" || fail "dump --dev 0"
# A guest trace recorded in the device VM has the simulator stream.
"$tool" dump "$traces/guest-sst.vtrace" --no-header --op SIM >"$tmp/sim"
grep -q "SIM" "$tmp/sim" || fail "guest-sst: no SIM records"

# Truncated copy: validate refuses it (exit 2), dump still reads what is there.
head -c 5000 "$traces/sst.vtrace" >"$tmp/cut.vtrace"
set +e
"$tool" validate "$tmp/cut.vtrace" >/dev/null 2>&1; rc=$?
set -e
[ $rc -eq 2 ] || fail "validate of a truncated trace exited $rc, want 2"
"$tool" dump "$tmp/cut.vtrace" >/dev/null || fail "dump of a truncated trace"

if [ ! -x "$qemu" ]; then
	[ "${VSST_REQUIRE_ALL:-}" = 1 ] && fail "no QEMU at $qemu"
	echo "SKIP: no QEMU at $qemu (replay part)"; exit 77
fi
for t in sst rng blk guest-sst guest-rng guest-blk; do
	"$tool" replay "$traces/$t.vtrace" --repeat 2 >"$tmp/replay" || fail "replay $t: $(cat "$tmp/replay")"
	[ "$(grep -c ': MATCH:' "$tmp/replay")" -eq 2 ] || fail "replay $t not matched twice"
done
echo "cli: all checks passed"
