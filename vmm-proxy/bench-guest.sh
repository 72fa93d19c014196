#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench-guest.sh - `./vsst bench guest`: the same guest sst-bench on the
# monolithic baseline (virtio-sst-pci inside the guest QEMU) and on the split
# (rpc-proxy-pci -> device VM), in one run: p50 latency at depth 1, requests/s
# at depth 32, and split/monolithic ratios (targets: latency <= 1.3x,
# throughput >= 0.8x). Both runs use vmm-proxy, the same image, TCG, one sst-sim.
# usage: bench-guest.sh [--type T] [--count-d1 N] [--count-d32 N] [--keep DIR]
#                       [--split-arg ARG]...   (extra vmm-proxy argument, split run only)
#                       [--arch x86_64|riscv64|aarch64]  (guest architecture, VSST_ARCH)
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SPLIT_NAME="bench guest"
# shellcheck source=split-lib.sh
source "$HERE/split-lib.sh"

TYPE=noop N1=2000 N32=20000 KEEP="" SPLIT_ARGS=()
while [ $# -gt 0 ]; do
	case "$1" in
	--type) TYPE=$2; shift ;;
	--count-d1) N1=$2; shift ;;
	--count-d32) N32=$2; shift ;;
	--keep) KEEP=$2; shift ;;
	--split-arg) SPLIT_ARGS+=("$2"); shift ;;
	--arch) export VSST_ARCH=$2; shift ;;
	-h | --help) sed -n '3,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench-guest: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

export VSST_REQUIRE_ALL=1
split_find_pieces split
split_workdir
split_start_sim 0

APPEND1="vsst.run=sst-bench.d1,sst-bench.d32"
APPEND2="vsst.args.sst-bench.d1=\"--type $TYPE --depth 1 --count $N1\" vsst.args.sst-bench.d32=\"--type $TYPE --depth 32 --count $N32\""

# bench_one <mode>: sets P50_<mode> and RPS_<mode>.
bench_one() {
	local mode=$1 con=$WORK/console-$1.log log=$WORK/vmm-proxy-$1.log flag=()
	[ "$mode" = mono ] && flag=(--monolithic)
	[ "$mode" = split ] && flag=("${SPLIT_ARGS[@]}")
	split_progress "benchmark: $mode ($TYPE, depth 1 x $N1, depth 32 x $N32)"
	split_vmm_proxy "$con" "$log" --timeout 900 "${flag[@]}" \
		--device "virtio-sst,sim=$WORK/sim0.sock" --append "$APPEND1" --append "$APPEND2"
	split_wait_vmm 960
	split_leftovers || split_fail "$mode: processes left running"
	local d1 d32
	d1=$(split_bench_line "$con" sst-bench.d1)
	d32=$(split_bench_line "$con" sst-bench.d32)
	if [ "$VMM_RC" != 0 ] || [ -z "$d1" ] || [ -z "$d32" ]; then
		tail -n 20 "$log"
		tr -d '\r' <"$con" | tail -n 30
		split_fail "$mode run failed (vmm-proxy exit $VMM_RC)"
	fi
	echo "  $mode depth 1:  $d1"
	echo "  $mode depth 32: $d32"
	printf -v "P50_$mode" '%s' "$(split_field "$d1" p50_us)"
	printf -v "RPS_$mode" '%s' "$(split_field "$d32" rps)"
	[ -n "$KEEP" ] && mkdir -p "$KEEP" && cp "$con" "$log" "$KEEP/"
}

bench_one mono
bench_one split

# shellcheck disable=SC2154 # set by bench_one through printf -v
awk -v arch="$ARCH" -v pm="$P50_mono" -v ps="$P50_split" -v rm="$RPS_mono" -v rs="$RPS_split" 'BEGIN {
	lr = pm > 0 ? ps / pm : 0; tr = rm > 0 ? rs / rm : 0
	printf "\nguest sst-bench, TCG, %s guest, monolithic vs split\n", arch
	printf "  %-30s %12s %12s %8s  %s\n", "", "monolithic", "split", "ratio", "target"
	lmet = (lr <= 1.3) ? "met" : "NOT met"; tmet = (tr >= 0.8) ? "met" : "NOT met"
	printf "  %-30s %12.1f %12.1f %8.2f  <= 1.30 %s\n", "p50 latency, depth 1 (us)", pm, ps, lr, lmet
	printf "  %-30s %12.0f %12.0f %8.2f  >= 0.80 %s\n", "requests/s, depth 32", rm, rs, tr, tmet
}'
