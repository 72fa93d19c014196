#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# run-main.sh - the main job (called by `./vsst run` once everything is built):
# sst-sim, then vmm-proxy with the bundled guest image; the device VM serves a
# virtio-sst, a virtio-rng and a virtio-blk; the guest runs sst-test and
# sst-bench on /dev/sst0, reads /dev/hwrng and checks a file on the disk.
# Prints a summary and exits 0 when every guest test passed.
# usage: run-main.sh [--isolate per-device] [--accel tcg|kvm|auto] [--restart N]
#                    [--console FILE] [--timeout S] [-- more vmm-proxy args]
# Environment: VSST_QEMU, VSST_IMAGES, VSST_BIN (exported by ./vsst),
#   VSST_RUN_BENCH_D1 / VSST_RUN_BENCH_D32 (sst-bench arguments).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SPLIT_NAME="vsst run"
# shellcheck source=split-lib.sh
source "$HERE/split-lib.sh"

EXTRA=() CONSOLE_COPY="" TIMEOUT=900 RESUME=""
while [ $# -gt 0 ]; do
	case "$1" in
	--isolate | --accel) EXTRA+=("$1" "$2"); shift ;;
	--restart) EXTRA+=("$1" "$2"); [ "$2" != 0 ] && RESUME="--resume-window 60"; shift ;;
	--console) CONSOLE_COPY=$2; shift ;;
	--timeout) TIMEOUT=$2; shift ;;
	--) shift; EXTRA+=("$@"); break ;;
	-h | --help) sed -n '3,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "run-main: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done

# Missing pieces are an error here, not a skip: this is the main job.
export VSST_REQUIRE_ALL=1
split_find_pieces split
split_workdir
CON=$WORK/console.log
LOG=$WORK/vmm-proxy.log
D1=${VSST_RUN_BENCH_D1:---type noop --depth 1 --count 2000}
D32=${VSST_RUN_BENCH_D32:---type noop --depth 32 --count 20000}

split_progress "starting sst-sim"
# --restart: a new device VM finds its device memory in the simulator.
VSST_SIM_ARGS="${VSST_SIM_ARGS:-} $RESUME" split_start_sim 0

split_progress "booting: vmm-proxy starts the device VM (virtio-sst, virtio-rng, virtio-blk) and the guest VM"
split_vmm_proxy "$CON" "$LOG" --timeout "$TIMEOUT" \
	--device "virtio-sst,sim=$WORK/sim0.sock" --device virtio-rng \
	--device "virtio-blk,file=$IMAGES/disk.img,readonly=on" \
	--append "vsst.run=sst-test,sst-bench.d1,sst-bench.d32,rng,blk" \
	--append "vsst.args.sst-bench.d1=\"$D1\" vsst.args.sst-bench.d32=\"$D32\"" \
	"${EXTRA[@]}"
# Progress from the console while it runs.
stage=boot
while kill -0 "$VMM_PID" 2>/dev/null; do
	case $stage in
	boot) split_wait_console "$CON" 'VSST-BOOT init' 1 &&
		{ split_progress "guest is up: running sst-test"; stage=test; } ;;
	test) split_wait_console "$CON" 'VSST-RUN begin sst-bench' 1 &&
		{ split_progress "running sst-bench (depth 1, then 32)"; stage=bench; } ;;
	bench) split_wait_console "$CON" 'VSST-RESULT rng ' 1 &&
		{ split_progress "virtio-rng and virtio-blk"; stage=devs; } ;;
	*) sleep 0.5 ;;
	esac
done
split_wait_vmm 60
[ -n "$CONSOLE_COPY" ] && cp "$CON" "$CONSOLE_COPY"
leftover=ok
split_leftovers || leftover=bad

# ---- summary
split_summary "$CON"
echo
echo "vsst run: results (guest VM -> rpc-proxy-pci -> device VM -> sst-sim)"
tr -d '\r' <"$CON" | grep -ao 'VSST-RESULT .*' | grep -v '^VSST-RESULT summary' |
	awk '{ d = ""; for (i = 4; i <= NF; i++) d = d " " $i;
	       printf "  %-28s %-5s%s\n", $2, $3, substr(d, 1, 90) }'
for inst in sst-bench.d1 sst-bench.d32; do
	line=$(split_bench_line "$CON" $inst)
	[ -n "$line" ] || continue
	printf '  %-28s p50 %s us, p99 %s us, %s requests/s (depth %s, %s requests, errors %s)\n' \
		"$inst" "$(split_field "$line" p50_us)" "$(split_field "$line" p99_us)" \
		"$(split_field "$line" rps)" "$(split_field "$line" depth)" "$(split_field "$line" n)" \
		"$(split_field "$line" errors)"
done
restarts=$(grep -ao 'device VM restarts: .*' "$LOG" | tail -n 1)
[ -z "$restarts" ] || echo "  $restarts"
reason=$(grep -a 'exit [0-9]*$' "$LOG" | tail -n 1 | sed 's/^vmm-proxy \[.\] //')
echo "  vmm-proxy: ${reason:-no final line (exit $VMM_RC)}"
if [ "$VMM_RC" = 0 ] && [ "${SUM_FAIL:-x}" = 0 ] && [ $leftover = ok ]; then
	echo "vsst run: PASSED (pass=$SUM_PASS fail=0 skip=${SUM_SKIP:-0})"
	exit 0
fi
echo "---- vmm-proxy log (last 30 lines)"
tail -n 30 "$LOG"
echo "vsst run: FAILED (vmm-proxy exit $VMM_RC, guest pass=${SUM_PASS:-?} fail=${SUM_FAIL:-?}, leftovers: $leftover)"
exit 1
