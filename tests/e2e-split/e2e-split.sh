#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end runs of the split: vmm-proxy starts the device VM (QEMU -accel rpc
# with the devices) and the guest VM (QEMU TCG with rpc-proxy-pci); the guest
# image's /init runs the workloads and prints VSST-RESULT lines.
# usage: e2e-split.sh <case>   (cases: see the case statement; ctest names
# them e2e.split_<case>). Exit 0 pass, 1 fail, 77 skip (missing prerequisite;
# a failure under VSST_REQUIRE_ALL=1).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SPLIT_NAME="e2e-split ${1:-}"
# shellcheck source=../../vmm-proxy/split-lib.sh
source "$HERE/../../vmm-proxy/split-lib.sh"

CASE=${1:-}
[ -n "$CASE" ] || { echo "usage: e2e-split.sh <case>" >&2; exit 2; }
split_find_pieces split
split_workdir
CON=$WORK/console.log
LOG=$WORK/vmm-proxy.log

# Prints what helps when a case fails: vmm-proxy's log and the console's end.
show() { split_show "$LOG" "$CON"; }

# run_split <timeout> <vmm-proxy args...>: one bounded run, then the checks
# every case shares: nothing left running.
run_split() {
	local bound=$1
	shift
	: >"$CON"
	split_vmm_proxy "$CON" "$LOG" --timeout "$bound" "$@"
	split_wait_vmm $((bound + 60))
	if ! split_leftovers; then
		show
		split_fail "processes left running after vmm-proxy exited"
	fi
	split_summary "$CON"
	split_say "vmm-proxy exit $VMM_RC; guest summary pass=${SUM_PASS:-?} fail=${SUM_FAIL:-?}"
}

expect_clean_pass() {
	local bad=0
	[ "$VMM_RC" = 0 ] || { split_say "vmm-proxy exited $VMM_RC, want 0"; bad=1; }
	[ "${SUM_FAIL:-x}" = 0 ] || { split_say "guest summary: fail=${SUM_FAIL:-none}"; bad=1; }
	split_expect "$CON" "$@" || bad=1
	if [ $bad != 0 ]; then
		show
		split_fail "$CASE"
	fi
	split_say "PASS"
}

# offload_check <console> <devices>: sst-offload's result says PASS on that
# many devices with every byte verified, and each device did its share.
offload_check() {
	local con=$1 want=$2 line bad=0 n=0 dline
	line=$(tr -d '\r' <"$con" | grep -ao 'VSST-RESULT offload .*' | tail -n 1)
	split_say "${line:-no VSST-RESULT offload line}"
	[ "$(split_field "$line" devices)" = "$want" ] || { split_say "want devices=$want"; bad=1; }
	[ -n "$(split_field "$line" bytes_expected)" ] &&
		[ "$(split_field "$line" bytes_verified)" = "$(split_field "$line" bytes_expected)" ] ||
		{ split_say "not every byte verified"; bad=1; }
	[ "$(split_field "$line" mismatches)" = 0 ] || { split_say "mismatches"; bad=1; }
	while read -r dline; do
		[ -n "$dline" ] || continue
		split_say "$dline"
		if [ "$(split_field "$dline" bytes_verified)" -gt 0 ] 2>/dev/null &&
			[ "$(split_field "$dline" sim_ps)" -gt 0 ] 2>/dev/null; then
			n=$((n + 1))
		fi
	done < <(tr -d '\r' <"$con" | grep -ao 'VSST-OFFLOAD device=.*')
	[ "$n" = "$want" ] || { split_say "want $want devices with verified bytes and simulated time, saw $n"; bad=1; }
	return $bad
}

case "$CASE" in
boot)
	# Split boot: sst-test through rpc-proxy-pci -> device VM -> sst-sim.
	split_start_sim 0
	run_split 500 --device "virtio-sst,sim=$WORK/sim0.sock" --append "vsst.run=sst-test"
	expect_clean_pass init.modules init.sst-devices sst-test.exit noop echo compute
	;;
two_devices)
	split_start_sim 0
	split_start_sim 1
	run_split 600 --device "virtio-sst,sim=$WORK/sim0.sock" --device "virtio-sst,sim=$WORK/sim1.sock" \
		--append 'vsst.run=sst-test,sst-test.1 vsst.args.sst-test.1="--device /dev/sst1"'
	expect_clean_pass init.sst-devices sst-test.exit sst-test.1.exit
	;;
rng_blk)
	# virtio-rng and virtio-blk served by the device VM, next to a virtio-sst.
	split_start_sim 0
	run_split 400 --device "virtio-sst,sim=$WORK/sim0.sock" --device virtio-rng \
		--device "virtio-blk,file=$IMAGES/disk.img,readonly=on" --append "vsst.run=rng,blk"
	expect_clean_pass init.modules rng blk
	;;
load)
	# 4 guest processes x 10,000 requests; sst-bench checks that every response
	# matches its request (user_data), none lost or duplicated (errors=0, n=40000).
	split_start_sim 0
	run_split 900 --device "virtio-sst,sim=$WORK/sim0.sock" --append \
		'vsst.run=sst-bench vsst.args.sst-bench="--type echo --procs 4 --count 10000 --depth 8"'
	line=$(split_bench_line "$CON" sst-bench)
	split_say "${line:-no VSST-BENCH line}"
	if [ "$(split_field "$line" n)" != 40000 ] || [ "$(split_field "$line" errors)" != 0 ]; then
		show
		split_fail "load: want n=40000 errors=0"
	fi
	expect_clean_pass sst-bench.exit
	;;
isolate)
	# --isolate per-device: one device VM per device, all three kinds.
	split_start_sim 0
	run_split 500 --isolate per-device --device "virtio-sst,sim=$WORK/sim0.sock" --device virtio-rng \
		--device "virtio-blk,file=$IMAGES/disk.img,readonly=on" --append "vsst.run=sst-test,rng,blk"
	n=$(grep -c 'START_VM, 1 device(s)' "$LOG")
	[ "$n" = 3 ] || { show; split_fail "want 3 device VMs with one device each, saw $n"; }
	expect_clean_pass sst-test.exit rng blk
	;;
sim_restart)
	# sst-sim killed mid-run: requests that need the simulator answer NO_DEVICE;
	# after a restart the device reconnects and the same requests pass again.
	split_start_sim 0
	: >"$CON"
	split_vmm_proxy "$CON" "$LOG" --timeout 600 --device "virtio-sst,sim=$WORK/sim0.sock" \
		--append 'vsst.run=sst-test.before,sleep.down,sst-test.down,sleep.up,sst-test.after' \
		--append 'vsst.args.sst-test.before="--case compute" vsst.args.sleep.down=3' \
		--append 'vsst.args.sst-test.down="--case compute" vsst.args.sleep.up=8' \
		--append 'vsst.args.sst-test.after="--case compute"'
	split_wait_console "$CON" 'VSST-RUN begin sleep.down' 400 || { show; split_fail "guest never reached sleep.down"; }
	split_say "guest paused: killing sst-sim"
	split_kill_sim 0
	split_wait_console "$CON" 'VSST-RUN begin sleep.up' 200 || { show; split_fail "guest never reached sleep.up"; }
	split_say "restarting sst-sim"
	split_start_sim 0
	split_wait_vmm 700
	split_leftovers || { show; split_fail "processes left running"; }
	bad=0
	[ "$(split_result "$CON" sst-test.before.exit)" = PASS ] || { split_say "before: not PASS"; bad=1; }
	tr -d '\r' <"$CON" | awk '/VSST-RUN begin sst-test.down /{on=1} /VSST-RUN end sst-test.down /{on=0} on' |
		grep -q 'status=NO_DEVICE' || { split_say "no NO_DEVICE while sst-sim was down"; bad=1; }
	[ "$(split_result "$CON" sst-test.after.exit)" = PASS ] || { split_say "after restart: not PASS"; bad=1; }
	[ $bad = 0 ] || { show; split_fail "$CASE"; }
	split_say "PASS (NO_DEVICE while down, recovered after restart; vmm-proxy exit $VMM_RC)"
	;;
device_vm_killed)
	# The device VM dies under load: the guest's requests fail (the proxy reads
	# all-ones, the driver times out), vmm-proxy exits non-zero with the reason,
	# and nothing is left running.
	split_start_sim 0
	: >"$CON"
	split_vmm_proxy "$CON" "$LOG" --timeout 600 --grace 40 --device "virtio-sst,sim=$WORK/sim0.sock" \
		--append 'vsst.run=sst-bench virtio_sst.timeout_ms=3000' \
		--append 'vsst.args.sst-bench="--type compute --count 1000000 --depth 4 --timeout-s 15"'
	split_wait_console "$CON" 'VSST-RUN begin sst-bench' 400 || { show; split_fail "guest never started sst-bench"; }
	sleep 2
	dpid=$(sed -n 's/.*device VM: started, pid \([0-9]*\).*/\1/p' "$LOG" | head -n 1)
	[ -n "$dpid" ] || { show; split_fail "no device VM pid in the log"; }
	split_say "killing the device VM (pid $dpid)"
	kill -KILL "$dpid"
	split_wait_vmm 120
	split_leftovers || { show; split_fail "processes left running"; }
	bad=0
	[ "$VMM_RC" = 3 ] || { split_say "vmm-proxy exited $VMM_RC, want 3"; bad=1; }
	grep -q "device VM (pid $dpid) killed by signal 9" "$LOG" || { split_say "no reason line"; bad=1; }
	grep -a 'rpc-channel.*dead' "$LOG" | head -n 1
	if ! tr -d '\r' <"$CON" | grep -Eq 'VSST-RESULT sst-bench.exit FAIL|errors=[1-9]'; then
		split_say "the guest saw no error"
		bad=1
	fi
	grep -a 'exit 3' "$LOG" | tail -n 1
	[ $bad = 0 ] || { show; split_fail "$CASE"; }
	split_say "PASS"
	;;
offload)
	# sst-offload on 4 virtio-sst devices, each with its own sst-sim: the job
	# is split over all four, every byte read back is verified.
	devs=()
	for i in 0 1 2 3; do
		split_start_sim $i
		devs+=(--device "virtio-sst,sim=$WORK/sim$i.sock")
	done
	run_split 600 "${devs[@]}" --append \
		'vsst.run=sst-offload vsst.args.sst-offload="--blocks 8 --size 16 --depth 32 --seed 7"'
	offload_check "$CON" 4 || { show; split_fail "$CASE"; }
	expect_clean_pass sst-offload.exit offload
	;;
*)
	echo "e2e-split: unknown case '$CASE'" >&2
	exit 2
	;;
esac
