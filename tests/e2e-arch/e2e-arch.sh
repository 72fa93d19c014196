#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The guest architectures end to end: the same cases as tests/e2e-split and
# tests/faults, with a riscv64 or aarch64 guest (VSST_ARCH; qemu-system-ARCH as
# the guest VM, qemu-system-x86_64 as the device VM), plus a depth-32 sst-bench
# and the monolithic baseline of that architecture.
# usage: e2e-arch.sh <arch>_<case>   e.g. aarch64_boot, riscv64_hostile_garbage
#   boot, two_devices, rng_blk      tests/e2e-split/e2e-split.sh <case>
#   bench32                         sst-bench --depth 32, every response matched
#   hostile_garbage, hostile_index  tests/faults/faults.sh channel_garbage / channel_bad_index
#   mono                            monolithic baseline: sst-test, rng, blk in the guest QEMU
# Exit 0 pass, 1 fail, 77 skip (missing prerequisite; a failure under VSST_REQUIRE_ALL=1).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ARG=${1:-}
export VSST_ARCH=${ARG%%_*}
CASE=${ARG#*_}
case "$VSST_ARCH" in
riscv64 | aarch64 | x86_64) ;;
*) echo "usage: e2e-arch.sh <riscv64|aarch64|x86_64>_<case>" >&2; exit 2 ;;
esac

case "$CASE" in
boot | two_devices | rng_blk) exec "$HERE/../e2e-split/e2e-split.sh" "$CASE" ;;
hostile_garbage) exec "$HERE/../faults/faults.sh" channel_garbage ;;
hostile_index) exec "$HERE/../faults/faults.sh" channel_bad_index ;;
bench32 | mono) ;;
*) echo "e2e-arch: unknown case '$CASE'" >&2; exit 2 ;;
esac

SPLIT_NAME="e2e-arch $ARG"
# shellcheck source=../../vmm-proxy/split-lib.sh
source "$HERE/../../vmm-proxy/split-lib.sh"
split_find_pieces split
split_workdir
CON=$WORK/console.log
LOG=$WORK/vmm-proxy.log
split_start_sim 0
case "$CASE" in
bench32)
	# Depth 32 through the split: sst-bench matches every response to its
	# request (user_data); none lost, duplicated or failed.
	split_vmm_proxy "$CON" "$LOG" --timeout 700 --device "virtio-sst,sim=$WORK/sim0.sock" \
		--append 'vsst.run=sst-bench vsst.args.sst-bench="--type echo --depth 32 --count 4000"'
	split_wait_vmm 760
	line=$(split_bench_line "$CON" sst-bench)
	split_say "${line:-no VSST-BENCH line}"
	if [ "$VMM_RC" != 0 ] || [ "$(split_field "$line" n)" != 4000 ] ||
		[ "$(split_field "$line" errors)" != 0 ] || [ "$(split_field "$line" depth)" != 32 ]; then
		split_show "$LOG" "$CON"
		split_fail "want vmm-proxy exit 0, depth=32 n=4000 errors=0"
	fi
	;;
mono)
	# The baseline: the same devices inside the guest QEMU of this architecture.
	split_vmm_proxy "$CON" "$LOG" --timeout 600 --monolithic \
		--device "virtio-sst,sim=$WORK/sim0.sock" --device virtio-rng \
		--device "virtio-blk,file=$IMAGES/disk.img,readonly=on" --append "vsst.run=sst-test,rng,blk"
	split_wait_vmm 660
	split_summary "$CON"
	if [ "$VMM_RC" != 0 ] || [ "${SUM_FAIL:-x}" != 0 ] ||
		! split_expect "$CON" init.modules init.sst-devices sst-test.exit rng blk; then
		split_show "$LOG" "$CON"
		split_fail "monolithic $VSST_ARCH: want every result PASS"
	fi
	;;
esac
split_leftovers || split_fail "processes left running after vmm-proxy exited"
split_say "PASS ($(grep -ao 'VSST-BOOT init[^ ]* .*' "$CON" | head -n 1 | tr -d '\r'))"
