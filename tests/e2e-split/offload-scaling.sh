#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# offload-scaling.sh [MAX_DEVICES] [-- SST-OFFLOAD ARGS...]: the same sst-offload job
# through the split with 1..MAX_DEVICES virtio-sst devices (default 4), each with its own
# sst-sim; prints a markdown table of simulated and wall time per device count.
# A measurement, not a test (not in ctest); same environment as e2e-split.sh, plus
# OFFLOAD_VMM_ARGS: more vmm-proxy arguments (e.g. "--isolate per-device --smp 2").
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SPLIT_NAME="offload-scaling"
# shellcheck source=../../vmm-proxy/split-lib.sh
source "$HERE/../../vmm-proxy/split-lib.sh"

MAX=4
[ $# -gt 0 ] && [ "$1" != -- ] && { MAX=$1; shift; }
[ "${1:-}" = -- ] && shift
ARGS=${*:---blocks 8 --size 32 --depth 32 --seed 7}
split_find_pieces split
split_workdir
rows=()
for n in $(seq 1 "$MAX"); do
	devs=()
	SIM_PIDS=()
	for i in $(seq 0 $((n - 1))); do
		split_start_sim "$i"
		devs+=(--device "virtio-sst,sim=$WORK/sim$i.sock")
	done
	con=$WORK/console-$n.log
	t0=$(date +%s.%N)
	# shellcheck disable=SC2086 # OFFLOAD_VMM_ARGS is a list of words
	split_vmm_proxy "$con" "$WORK/vmm-$n.log" --timeout 900 ${OFFLOAD_VMM_ARGS:-} "${devs[@]}" \
		--append "vsst.run=sst-offload vsst.args.sst-offload=\"$ARGS\""
	split_wait_vmm 960
	t1=$(date +%s.%N)
	for i in $(seq 0 $((n - 1))); do split_kill_sim "$i"; done
	line=$(tr -d '\r' <"$con" | grep -ao 'VSST-RESULT offload .*' | tail -n 1)
	tot=$(tr -d '\r' <"$con" | grep -ao 'VSST-OFFLOAD total .*' | tail -n 1)
	split_say "$n device(s): ${line:-no result line} (vmm-proxy exit $VMM_RC)"
	st=$(awk '{print $3}' <<<"$line")
	rows+=("| $n | ${st:-none} | $(split_field "$tot" sim_us) | $(awk -v p="$(split_field "$line" sim_sum_ps)" 'BEGIN{printf "%.3f", p/1e6}') | $(split_field "$line" wall_ms) | $(split_field "$tot" product_ms) | $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') |")
done
echo
echo "sst-offload $ARGS${OFFLOAD_VMM_ARGS:+ (vmm-proxy $OFFLOAD_VMM_ARGS)}"
echo
echo "| devices | result | simulated time of the job (µs, slowest device) | device time summed (µs) | guest wall (ms) | C products on the guest CPU, summed over the device threads (ms) | vmm-proxy run, boot to exit (s) |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
printf '%s\n' "${rows[@]}"
