#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fault injection end to end, on the split (vmm-proxy + device VM + guest VM
# + sst-sim). One case per call; ctest names them e2e.fault_<case>.
#   guest_hostile             hostile user space on /dev/sst0, then sst-test in the same boot
#   sim_kill                  sst-sim killed under checked load, restarted: NO_DEVICE, recovery
#   sim_slow                  paced (slow) sst-sim: all OK with a long timeout; TIMEOUTs with a
#                             short one, answered once each; the device works afterwards
#   sim_malformed             a hostile simulator sends nine kinds of malformed frames
#   channel_garbage           hostile device VM: garbage on the events ring
#   channel_bad_index         hostile device VM: impossible completions producer index
#   channel_bogus_completion  hostile device VM: completion for a slot never used
#   channel_stall             hostile device VM: stops mid-message and goes silent
#   channel_flood             hostile device VM: floods events the guest side must reject
# Exit 0 pass, 1 fail, 77 skip (missing prerequisite; a failure under
# VSST_REQUIRE_ALL=1). Every wait is bounded; everything started is stopped
# by pid (split-lib.sh's cleanup) and checked not to be running afterwards.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SPLIT_NAME="faults ${1:-}"
# shellcheck source=../../vmm-proxy/split-lib.sh
source "$HERE/../../vmm-proxy/split-lib.sh"

CASE=${1:-}
[ -n "$CASE" ] || { echo "usage: faults.sh <case>" >&2; exit 2; }
split_find_pieces split
FAULT_DEVICE=$BIN/vsst-fault-device
FAULT_SIM=$BIN/vsst-fault-sim
if [ ! -x "$FAULT_DEVICE" ] || [ ! -x "$FAULT_SIM" ]; then
	split_need "no vsst-fault-device/vsst-fault-sim in $BIN (build tests/faults)"
fi
listing=$(gzip -dc "$IMAGES/initramfs.cpio.gz" | cpio -t --quiet 2>/dev/null)
grep -q 'usr/bin/sst-fault$' <<<"$listing" || split_need "$IMAGES/initramfs.cpio.gz has no sst-fault (run ./vsst images)"
split_workdir
CON=$WORK/console.log
LOG=$WORK/vmm-proxy.log

show() {
	split_show "$LOG" "$CON"
	local f
	for f in "$WORK"/*.log; do
		case "$f" in "$CON" | "$LOG") continue ;; esac
		echo "---- $(basename "$f") (last 15 lines)"
		tail -n 15 "$f"
	done
}
bad=0
check() { # check <what> <command...>
	local what=$1
	shift
	if "$@"; then split_say "ok: $what"; else split_say "NOT OK: $what"; bad=1; fi
}
finish() {
	split_leftovers || { split_say "processes left running"; bad=1; }
	if [ $bad != 0 ]; then
		show
		split_fail "$CASE"
	fi
	split_say "PASS"
	exit 0
}
console() { tr -d '\r' <"$CON"; }
# The n-th (default first) "VSST-RESULT load" line, without the prefix the
# kernel may put before it.
load_line() { console | grep -ao 'VSST-RESULT load .*' | sed -n "${1:-1}p"; }
field() { split_field " $1" "$2"; }
# load_ok <result line>: the accounting invariants (every request answered exactly once).
accounted() {
	local l=$1
	[ -n "$l" ] && [ "$(field "$l" lost)" = 0 ] && [ "$(field "$l" duplicate)" = 0 ] &&
		[ "$(field "$l" unknown)" = 0 ] && [ "$(field "$l" submitted)" = "$(field "$l" answered)" ]
}
gt0() { [ "${1:-0}" -gt 0 ] 2>/dev/null; }
no_kernel_trouble() { ! console | grep -Eq 'WARNING: |BUG: |Oops|general protection|Call Trace:'; }
# wait_load <seconds-of-guest-load> <bound>: until the load has run that long.
wait_load() { split_wait_console "$CON" "VSST-LOAD t=$1 " "$2"; }

# VSST_FAULTS_MONOLITHIC=1 runs the guest and simulator cases with the devices
# inside the guest QEMU (vmm-proxy --monolithic), to tell a simulator or
# driver problem from a channel one. The channel cases always need the split.
MONO=()
if [ "${VSST_FAULTS_MONOLITHIC:-0}" = 1 ]; then
	case "$CASE" in channel_*) ;; *) MONO=(--monolithic); split_say "monolithic (no device VM)" ;; esac
fi
vmm() { split_vmm_proxy "$@" ${MONO[@]+"${MONO[@]}"}; }

# Guest load arguments shared by the cases (see sst-fault --help).
LOAD_FAULTY='load -t 40 -p 4 -q 8 -r 2 -a no_device --no-verify'
LOAD_AFTER='load -t 8 -p 2 -q 4 -r 2'

case "$CASE" in
guest_hostile)
	split_start_sim 0
	: >"$CON"
	vmm "$CON" "$LOG" --timeout 500 --device "virtio-sst,sim=$WORK/sim0.sock" \
		--append 'vsst.run=sst-fault,sst-test vsst.args.sst-fault=hostile vsst.dmesg=1'
	split_wait_vmm 560
	split_summary "$CON"
	check "vmm-proxy exit 0 (got $VMM_RC)" [ "$VMM_RC" = 0 ]
	check "guest summary fail=0 (got ${SUM_FAIL:-none})" [ "${SUM_FAIL:-x}" = 0 ]
	for c in $("$BIN/sst-fault" hostile --list | awk '{print $1}'); do
		check "hostile.$c PASS" split_expect "$CON" "hostile.$c"
	done
	check "sst-test passes in the same boot" split_expect "$CON" sst-fault.exit sst-test.exit noop compute write_read
	check "no kernel warning/oops" no_kernel_trouble
	finish
	;;
sim_kill)
	# sst-sim killed while 4 processes keep 32 requests in flight; restarted
	# 6 s later. Every request is answered exactly once (OK or NO_DEVICE),
	# and a strict load afterwards passes.
	split_start_sim 0
	: >"$CON"
	vmm "$CON" "$LOG" --timeout 600 --device "virtio-sst,sim=$WORK/sim0.sock" \
		--append "vsst.run=sst-fault.load,sst-fault.after vsst.args.sst-fault.load=\"$LOAD_FAULTY\"" \
		--append "vsst.args.sst-fault.after=\"$LOAD_AFTER\""
	wait_load 6 400 || { show; split_fail "the guest load never got going"; }
	split_say "killing sst-sim under load"
	split_kill_sim 0
	sleep 6
	split_say "restarting sst-sim"
	split_start_sim 0
	split_wait_vmm 600
	l=$(load_line)
	split_say "${l:-no load result}"
	check "load accounted: lost=0 duplicate=0 unknown=0 answered=submitted" accounted "$l"
	check "NO_DEVICE while sst-sim was down" gt0 "$(field "$l" no_device)"
	check "faulty load PASS (only OK/NO_DEVICE)" split_expect "$CON" sst-fault.load.exit
	check "strict load after the restart PASS" split_expect "$CON" sst-fault.after.exit
	check "vmm-proxy exit 0 (got $VMM_RC)" [ "$VMM_RC" = 0 ]
	finish
	;;
sim_slow)
	# Paced sst-sim: a COMPUTE of up to 64 units x 100 cycles is held back up
	# to 0.64 s of wall time, a 256-byte READ/WRITE about 12 ms.
	VSST_SIM_ARGS="--pace-scale 100000" split_start_sim 0
	: >"$CON"
	vmm "$CON" "$LOG" --timeout 600 --device "virtio-sst,sim=$WORK/sim0.sock" \
		--append 'vsst.run=sst-fault.slow,sst-fault.tight,sst-fault.after' \
		--append 'vsst.args.sst-fault.slow="load -t 20 -p 4 -q 8 -r 5 -T 60000"' \
		--append 'vsst.args.sst-fault.tight="load -t 15 -p 2 -q 8 -r 5 -T 250 -a timeout --no-verify"' \
		--append "vsst.args.sst-fault.after=\"$LOAD_AFTER -T 60000\""
	split_wait_vmm 600
	split_say "slow, long timeout: $(load_line 1)"
	check "slow simulator, 60 s timeout: all OK" split_expect "$CON" sst-fault.slow.exit
	tight=$(load_line 2)
	split_say "slow, 250 ms timeout: $tight"
	check "250 ms timeout: TIMEOUTs happen" gt0 "$(field "$tight" timeout)"
	check "250 ms timeout: accounted (late answers dropped, none twice)" accounted "$tight"
	check "250 ms timeout: PASS (only OK/TIMEOUT)" split_expect "$CON" sst-fault.tight.exit
	check "the device works after the late answers" split_expect "$CON" sst-fault.after.exit
	check "vmm-proxy exit 0 (got $VMM_RC)" [ "$VMM_RC" = 0 ]
	finish
	;;
sim_malformed)
	# vsst-fault-sim relays to the real sst-sim and replaces the 30th
	# response of each of its first nine connections by a malformed frame
	# (one kind per connection); the device drops each link, answers what
	# was in flight NO_DEVICE, reconnects; later connections are clean.
	split_start_sim 0
	(umask 000 && exec timeout -k 5 900 "$FAULT_SIM" --socket "$WORK/hostile.sock" \
		--upstream "$WORK/sim0.sock" --after 30) >>"$WORK/fault-sim.log" 2>&1 &
	SPLIT_PIDS+=($!)
	for _ in $(seq 100); do [ -S "$WORK/hostile.sock" ] && break; sleep 0.1; done
	[ -S "$WORK/hostile.sock" ] || { show; split_fail "vsst-fault-sim did not start"; }
	: >"$CON"
	vmm "$CON" "$LOG" --timeout 600 --device "virtio-sst,sim=$WORK/hostile.sock" \
		--append "vsst.run=sst-fault.load,sst-fault.after vsst.args.sst-fault.load=\"$LOAD_FAULTY\"" \
		--append "vsst.args.sst-fault.after=\"$LOAD_AFTER\""
	split_wait_vmm 600
	l=$(load_line)
	split_say "${l:-no load result}"
	n=$(grep -c 'fault-sim: injected' "$WORK/fault-sim.log")
	check "nine malformed frames injected (got $n)" [ "$n" = 9 ]
	check "load accounted: lost=0 duplicate=0 unknown=0 answered=submitted" accounted "$l"
	check "NO_DEVICE for what was in flight on the broken links" gt0 "$(field "$l" no_device)"
	check "faulty load PASS (only OK/NO_DEVICE)" split_expect "$CON" sst-fault.load.exit
	check "strict load on a clean link afterwards PASS" split_expect "$CON" sst-fault.after.exit
	check "vmm-proxy exit 0 (got $VMM_RC)" [ "$VMM_RC" = 0 ]
	finish
	;;
channel_*)
	MODE=${CASE#channel_}
	split_start_sim 0
	: >"$CON"
	# vmm-proxy runs vsst-fault-device as "QEMU": it executes the real QEMU
	# for the guest and interposes itself as the device VM (as root, so it
	# can run the real QEMU from the cache).
	export VSST_FAULT_QEMU=$QEMU VSST_FAULT_MODE=$MODE VSST_FAULT_TRIGGER=$WORK/trigger
	REAL_QEMU=$QEMU
	QEMU=$FAULT_DEVICE
	run=sst-fault.load
	args='load -t 20 -p 2 -q 4 -r 2 -T 3000 -a timeout,no_device --no-verify'
	if [ "$MODE" = flood ]; then
		args='load -t 20 -p 2 -q 4 -r 2 -T 10000'
	elif [ "$MODE" = stall ]; then
		# Config space reads are synchronous: they meet the stalled channel.
		run=sst-fault.load,hexdump.cfg
		extra='vsst.args.hexdump.cfg="-C /sys/class/misc/sst0/device/../config"'
	fi
	# A stalled device VM stays alive: only --timeout ends a guest that cannot power off.
	bound=500
	[ "$MODE" = stall ] && bound=240
	split_vmm_proxy "$CON" "$LOG" --timeout $bound --grace 45 --run-as '' \
		--device "virtio-sst,sim=$WORK/sim0.sock" \
		--append "vsst.run=$run vsst.args.sst-fault.load=\"$args\" ${extra:-} ${VSST_FAULTS_APPEND:-}"
	QEMU=$REAL_QEMU
	wait_load 4 400 || { show; split_fail "the guest load never got going"; }
	split_say "triggering the fault ($MODE)"
	touch "$WORK/trigger"
	split_wait_vmm $((bound + 60))
	l=$(load_line)
	split_say "${l:-no load result}"
	split_say "$(grep -a 'exit [0-9]*$' "$LOG" | tail -n 1)"
	grep -a 'rpc-channel' "$LOG" | head -n 5 | while read -r line; do split_say "log: ${line:0:200}"; done
	check "the guest load finished and is accounted (lost=0 duplicate=0 unknown=0)" accounted "$l"
	check "no kernel warning/oops" no_kernel_trouble
	check "the guest finished its workload and reached power-off" grep -aq 'VSST-BOOT poweroff' "$CON"
	case "$MODE" in
	flood)
		check "the guest side rejected the bogus events" grep -aq 'rejected a' "$LOG"
		check "three kinds rejected, each reported once" [ "$(grep -ac 'rejected a' "$LOG")" -ge 3 ]
		check "guest unaffected: strict load PASS" split_expect "$CON" sst-fault.load.exit
		check "vmm-proxy exit 0 (got $VMM_RC)" [ "$VMM_RC" = 0 ]
		;;
	stall)
		# The stall meets the first synchronous access: the config-space dump
		# after the load. The guest must see all-ones there, not stale data.
		check "the guest saw the device fail (config reads all-ones)" \
			grep -aq '^00000000  ff ff ff ff ff ff ff ff  ff ff ff ff ff ff ff ff' "$CON"
		check "the guest side declared the channel dead" grep -aq 'channel to the device VM is dead' "$LOG"
		# Linux 6.1 cannot power off with a dead virtio-pci device (its reset
		# waits for status 0): vmm-proxy stops the guest after its summary and
		# reports the dead channel.
		check "vmm-proxy stopped the guest after its summary" grep -aq 'no power-off within' "$LOG"
		check "vmm-proxy exit 3 naming the dead channel (got $VMM_RC)" [ "$VMM_RC" = 3 ]
		check "vmm-proxy reason names the channel" grep -aq 'declared a device VM channel dead' "$LOG"
		;;
	*)
		check "the guest saw device errors (TIMEOUT)" gt0 "$(field "$l" timeout)"
		check "the guest side declared the channel dead" grep -aq 'channel to the device VM is dead' "$LOG"
		check "the hostile device saw the poison" grep -aq 'channel poisoned by the guest side' "$LOG"
		check "vmm-proxy names the device VM's exit" grep -aq 'device VM (pid [0-9]*) exited with status 3' "$LOG"
		check "vmm-proxy exit 3 (got $VMM_RC)" [ "$VMM_RC" = 3 ]
		;;
	esac
	finish
	;;
*)
	echo "faults: unknown case '$CASE'" >&2
	exit 2
	;;
esac
