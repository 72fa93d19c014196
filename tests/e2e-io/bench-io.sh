#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench-io.sh - `./vsst bench io`: bulk I/O through the split against the monolithic
# baseline (the same QEMU devices inside the guest QEMU), one run, ratios printed.
#   virtio-blk: sequential write, then read, of SIZE (default 64M) with O_DIRECT at queue
#     depth 1 and 32, 4 KiB and 128 KiB blocks (vsst-io blk: Linux AIO), MB/s and IOPS,
#     on a writable scratch image; target split/mono >= 0.9 for MB/s
#   virtio-net: two guests on one virtual LAN (vmm-proxy --device virtio-net,lan=), TCP
#     stream throughput (vsst-io stream, BYTES default 64M) and request/response round trip
#     (vsst-io rr, 64-byte messages, TCP_NODELAY); targets split/mono >= 0.9 throughput,
#     <= 1.2 latency
# Every figure is measured by the guest's clock (TCG). Both modes use vmm-proxy, the same
# image and the same launcher options.
# usage: bench-io.sh [--only blk|net] [--size SIZE] [--stream-bytes BYTES] [--rr-count N]
#                    [--keep DIR] [--split-arg ARG]...  (extra vmm-proxy argument, split runs
#                    only; e.g. --split-arg --doorbell-poll-us=0)
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SPLIT_NAME="bench io"
# shellcheck source=../../vmm-proxy/split-lib.sh
source "$HERE/../../vmm-proxy/split-lib.sh"

ONLY="" SIZE=64M STREAM=64M RR=2000 KEEP="" SPLIT_ARGS=()
while [ $# -gt 0 ]; do
	case "$1" in
	--only) ONLY=$2; shift ;;
	--size) SIZE=$2; shift ;;
	--stream-bytes) STREAM=$2; shift ;;
	--rr-count) RR=$2; shift ;;
	--keep) KEEP=$2; shift ;;
	--split-arg) SPLIT_ARGS+=("$2"); shift ;;
	-h | --help) sed -n '3,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench-io: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
case "$ONLY" in '' | blk | net) ;; *) echo "bench-io: --only blk or net" >&2; exit 2 ;; esac

export VSST_REQUIRE_ALL=1
split_find_pieces split
gzip -dc "$IMAGES/initramfs.cpio.gz" | cpio -t --quiet 2>/dev/null | grep -q 'usr/bin/vsst-io$' ||
	split_fail "$IMAGES/initramfs.cpio.gz has no vsst-io (run ./vsst images)"
split_workdir

keep() { [ -z "$KEEP" ] || { mkdir -p "$KEEP" && cp "$@" "$KEEP/"; }; }

# The VSST-BENCH lines of a run's command output, one per configuration.
bench_lines() { tr -d '\r' <"$1" | grep -a '^VSST-BENCH '; }

BLK_CASES="write:4096:1 write:4096:32 write:131072:1 write:131072:32 read:4096:1 read:4096:32 read:131072:1 read:131072:32"

# blk_one <mode>: one guest, every configuration in a row on a fresh scratch image.
blk_one() {
	local mode=$1 flag=() script="set -e" c op bs qd img=$WORK/scratch-$1.img
	[ "$mode" = mono ] && flag=(--monolithic)
	[ "$mode" = split ] && flag=("${SPLIT_ARGS[@]}")
	rm -f "$img"
	truncate -s "$SIZE" "$img"
	truncate -s +8M "$img"
	for c in $BLK_CASES; do
		IFS=: read -r op bs qd <<<"$c"
		script+=$'\n'"vsst-io blk /dev/vda $op $bs $qd $SIZE"
	done
	split_progress "virtio-blk, $mode: 8 sequential runs of $SIZE, O_DIRECT"
	: >"$WORK/blk-$mode.console"
	split_vmm_proxy "$WORK/blk-$mode.console" "$WORK/blk-$mode.log" --timeout 1500 "${flag[@]}" \
		--device "virtio-blk,file=$img" -- sh -c "$script"
	split_wait_vmm 1560
	keep "$WORK/blk-$mode.console" "$WORK/blk-$mode.log" "$WORK/blk-$mode.log.out"
	if [ "$VMM_RC" != 0 ] || [ "$(bench_lines "$WORK/blk-$mode.log.out" | wc -l)" != 8 ]; then
		tail -n 20 "$WORK/blk-$mode.log"
		tail -n 20 "$WORK/blk-$mode.log.out"
		split_fail "virtio-blk $mode run failed (vmm-proxy exit $VMM_RC)"
	fi
	bench_lines "$WORK/blk-$mode.log.out" | sed "s/^/  $mode: /"
	rm -f "$img"
}

# net_one <mode>: guest A serves, guest B measures stream then rr against it.
net_one() {
	local mode=$1 flag=() lan=$WORK/lan-$1.sock pid_a tok_a rc_a
	[ "$mode" = mono ] && flag=(--monolithic)
	[ "$mode" = split ] && flag=("${SPLIT_ARGS[@]}")
	split_progress "virtio-net, $mode: two guests, TCP stream $STREAM, rr x $RR"
	: >"$WORK/net-$mode-a.console"
	: >"$WORK/net-$mode-b.console"
	split_vmm_proxy "$WORK/net-$mode-a.console" "$WORK/net-$mode-a.log" --timeout 900 "${flag[@]}" \
		--device "virtio-net,lan=$lan" --append vsst.net.addr=192.0.2.1/24 -- vsst-io serve 5000 2
	pid_a=$VMM_PID tok_a=$SPLIT_TOKEN
	local n=100
	until [ -S "$lan" ] || [ $n -le 0 ]; do n=$((n - 1)); sleep 0.1; done
	split_vmm_proxy "$WORK/net-$mode-b.console" "$WORK/net-$mode-b.log" --timeout 900 "${flag[@]}" \
		--device "virtio-net,lan=$lan" --append vsst.net.addr=192.0.2.2/24 \
		-- sh -c "set -e; vsst-io stream 192.0.2.1 5000 $STREAM; vsst-io rr 192.0.2.1 5000 $RR"
	split_wait_vmm 960
	local rc_b=$VMM_RC
	VMM_PID=$pid_a
	split_wait_vmm 120
	rc_a=$VMM_RC
	split_leftovers || split_fail "net $mode: processes left running"
	SPLIT_TOKEN=$tok_a
	split_leftovers || split_fail "net $mode: processes left running"
	keep "$WORK"/net-"$mode"-*
	if [ "$rc_a" != 0 ] || [ "$rc_b" != 0 ] || [ "$(bench_lines "$WORK/net-$mode-b.log.out" | wc -l)" != 2 ]; then
		tail -n 20 "$WORK/net-$mode-a.log" "$WORK/net-$mode-b.log"
		tail -n 20 "$WORK/net-$mode-b.log.out"
		split_fail "virtio-net $mode run failed (exits $rc_a, $rc_b)"
	fi
	bench_lines "$WORK/net-$mode-b.log.out" | sed "s/^/  $mode: /"
}

# blk_field <mode> <op> <bs> <qd> <key>
blk_field() {
	bench_lines "$WORK/blk-$1.log.out" | grep " op=$2 bs=$3 depth=$4 " | head -n 1 |
		sed -n "s/.* $5=\([^ ]*\).*/\1/p"
}
net_field() { bench_lines "$WORK/net-$1-b.log.out" | grep " io=$2 " | head -n 1 | sed -n "s/.* $3=\([^ ]*\).*/\1/p"; }

if [ "$ONLY" != net ]; then
	blk_one mono
	blk_one split
fi
if [ "$ONLY" != blk ]; then
	net_one mono
	net_one split
fi

echo
[ ${#SPLIT_ARGS[@]} -eq 0 ] || echo "split runs with: ${SPLIT_ARGS[*]}"
if [ "$ONLY" != net ]; then
	echo "virtio-blk, sequential $SIZE, O_DIRECT, Linux AIO (guest clock, TCG)"
	printf '  %-5s %6s %3s | %10s %10s %6s | %9s %9s %6s\n' op bs QD "mono MB/s" "split MB/s" ratio \
		"mono IOPS" "split IOPS" ratio
	for c in $BLK_CASES; do
		IFS=: read -r op bs qd <<<"$c"
		awk -v op="$op" -v bs="$bs" -v qd="$qd" \
			-v mm="$(blk_field mono "$op" "$bs" "$qd" mbps)" -v sm="$(blk_field split "$op" "$bs" "$qd" mbps)" \
			-v mi="$(blk_field mono "$op" "$bs" "$qd" iops)" -v si="$(blk_field split "$op" "$bs" "$qd" iops)" 'BEGIN {
			rm = (mm > 0) ? sm / mm : 0
			ri = (mi > 0) ? si / mi : 0
			note = (rm < 0.9) ? "  (< 0.9)" : ""
			printf "  %-5s %5dK %3d | %10.1f %10.1f %6.2f | %9.0f %9.0f %6.2f%s\n", op, bs / 1024, qd, mm, sm,
				rm, mi, si, ri, note
		}'
	done
fi
if [ "$ONLY" != blk ]; then
	echo "virtio-net, guest to guest over the virtual LAN, TCP (guest clock, TCG)"
	awk -v ms="$(net_field mono tcp_stream mbps)" -v ss="$(net_field split tcp_stream mbps)" \
		-v mp="$(net_field mono tcp_rr p50_us)" -v sp="$(net_field split tcp_rr p50_us)" \
		-v ma="$(net_field mono tcp_rr avg_us)" -v sa="$(net_field split tcp_rr avg_us)" 'BEGIN {
		printf "  %-28s %10s %10s %6s  %s\n", "", "mono", "split", "ratio", "target"
		r = (ms > 0) ? ss / ms : 0
		met = (r >= 0.9) ? "met" : "NOT met"
		printf "  %-28s %10.1f %10.1f %6.2f  >= 0.90 %s\n", "stream MB/s", ms, ss, r, met
		r = (mp > 0) ? sp / mp : 0
		met = (r <= 1.2) ? "met" : "NOT met"
		printf "  %-28s %10.1f %10.1f %6.2f  <= 1.20 %s\n", "rr round trip p50 (us)", mp, sp, r, met
		r = (ma > 0) ? sa / ma : 0
		printf "  %-28s %10.1f %10.1f %6.2f\n", "rr round trip mean (us)", ma, sa, r
	}'
fi
