#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Soak run of the split (vmm-proxy + one device VM with several virtio-sst
# devices + guest VM + one sst-sim per device): several guest processes keep
# checked load on every device for N minutes (sst-fault load: every request
# answered exactly once, READ data verified, only OK allowed). Every
# --interval seconds it records the guest's request counters and the RSS of
# each process (vmm-proxy, guest VM, device VM, each sst-sim) into a CSV.
# Passes when the load passes (zero lost, duplicated, unknown or failed
# requests) and no process's memory grows without bound: the slope of its
# private RSS (RssAnon) over the second half of the run stays below
# --max-slope kB/min. With --faults, every --fault-every seconds one sst-sim
# in turn is either killed and restarted or stalled (SIGSTOP for --stall
# seconds, then SIGCONT); the load then also accepts NO_DEVICE, TIMEOUT and
# ERROR answers, but still no request may be lost, duplicated or unanswered.
# With --kill-every S, a guest process with requests in flight is SIGKILLed
# every S seconds beside the load (sst-fault load -k): nobody else may notice,
# and at the end the driver must have every request back exactly once.
# See tests/soak/README.md.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SPLIT_NAME=soak
# shellcheck source=../../vmm-proxy/split-lib.sh
source "$HERE/../../vmm-proxy/split-lib.sh"

usage() {
	cat <<USAGE
usage: run-soak.sh [--minutes N] [--devices D] [--procs P] [--depth Q] [--interval S]
                   [--csv FILE] [--max-slope KB_PER_MIN] [--min-growth KB]
  --minutes N      load duration in minutes (default 10; fractions allowed)
  --seconds S      load duration in seconds instead
  --devices D      virtio-sst devices, one sst-sim each (default 2)
  --procs P        guest processes, spread over the devices (default 4)
  --depth Q        requests in flight per process (default 8)
  --interval S     sampling period in seconds (default 10)
  --csv FILE       where the samples go (default \$VSST_BUILD_ROOT/soak/soak-<date>.csv,
                   or ./soak-<date>.csv without VSST_BUILD_ROOT)
  --max-slope K    RssAnon growth allowed over the second half, kB/min (default 1024)
  --min-growth K   ...unless that half grew by at most K kB in all (default 0): one
                   allocator step (2048 kB) in a short run is not a leak
  --faults         inject a simulator fault every --fault-every seconds, alternating:
                   an sst-sim killed (SIGKILL) and restarted 3 s later; an sst-sim
                   stalled (SIGSTOP) for --stall seconds, then resumed (SIGCONT)
  --fault-every S  seconds between faults (default 60)
  --stall S        how long a stalled sst-sim stays stopped (default 15: longer than
                   the device's 10 s request timeout)
  --kill-every S   every S seconds, a guest process with requests in flight is killed
                   (SIGKILL) beside the load (default: 20 with --faults, else never)
Environment: VSST_QEMU, VSST_IMAGES, VSST_BIN (as exported by ./vsst),
  VSST_E2E_KEEP=1 keeps the work directory, VSST_REQUIRE_ALL=1.
Exit: 0 pass, 1 fail, 77 skipped (missing prerequisite).
USAGE
}

SECONDS_RUN=600 NDEV=2 PROCS=4 DEPTH=8 INTERVAL=10 CSV="" MAX_SLOPE=1024 MIN_GROWTH=0
FAULTS=0 FAULT_EVERY=60 STALL=15 KILL_EVERY=""
while [ $# -gt 0 ]; do
	case "$1" in
	--minutes) SECONDS_RUN=$(awk -v m="${2:-x}" 'BEGIN { if (m + 0 > 0) printf "%d", m * 60; else print "x" }'); shift ;;
	--seconds) SECONDS_RUN=$2; shift ;;
	--devices) NDEV=$2; shift ;;
	--procs) PROCS=$2; shift ;;
	--depth) DEPTH=$2; shift ;;
	--interval) INTERVAL=$2; shift ;;
	--csv) CSV=$2; shift ;;
	--max-slope) MAX_SLOPE=$2; shift ;;
	--min-growth) MIN_GROWTH=$2; shift ;;
	--faults) FAULTS=1 ;;
	--fault-every) FAULT_EVERY=$2; shift ;;
	--stall) STALL=$2; shift ;;
	--kill-every) KILL_EVERY=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "run-soak: unknown argument $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
[ -z "$KILL_EVERY" ] && [ $FAULTS = 1 ] && KILL_EVERY=20
for n in "$SECONDS_RUN" "$NDEV" "$PROCS" "$DEPTH" "$INTERVAL" "$MAX_SLOPE" "$FAULT_EVERY" "$STALL" ${KILL_EVERY:+"$KILL_EVERY"}; do
	case "$n" in '' | *[!0-9]* | 0) echo "run-soak: '$n' is not a positive number" >&2; exit 2 ;; esac
done
case "$MIN_GROWTH" in '' | *[!0-9]*) echo "run-soak: --min-growth '$MIN_GROWTH' is not a number" >&2; exit 2 ;; esac
[ "$NDEV" -le 8 ] || { echo "run-soak: at most 8 devices" >&2; exit 2; }
# Default: under the build root when run by ./vsst (keeps the source tree clean).
if [ -z "$CSV" ]; then
	dir=${VSST_BUILD_ROOT:+$VSST_BUILD_ROOT/soak}
	mkdir -p "${dir:=$PWD}" || exit 1
	CSV=$dir/soak-$(date +%Y%m%d-%H%M%S).csv
fi

split_find_pieces split
listing=$(gzip -dc "$IMAGES/initramfs.cpio.gz" | cpio -t --quiet 2>/dev/null)
grep -q 'usr/bin/sst-fault$' <<<"$listing" || split_need "$IMAGES/initramfs.cpio.gz has no sst-fault (run ./vsst images)"
# Every child runs under timeout(1) with this bound (split-lib.sh).
export SPLIT_CHILD_BOUND=$((SECONDS_RUN + 900))
split_workdir
CON=$WORK/console.log
LOG=$WORK/vmm-proxy.log

devs=() dargs=()
for ((i = 0; i < NDEV; i++)); do
	split_start_sim "$i"
	devs+=(--device "virtio-sst,sim=$WORK/sim$i.sock")
	dargs+=("-d /dev/sst$i")
done
load="load ${dargs[*]} -p $PROCS -q $DEPTH -t $SECONDS_RUN -r $INTERVAL"
[ -n "$KILL_EVERY" ] && load+=" -k $KILL_EVERY"
# Under faults a request may fail, but only with a status: lost, duplicated,
# unknown and unanswered requests still fail the run (and READs are still
# compared with the last WRITE that was answered OK).
[ $FAULTS = 1 ] && load+=" -a no_device,timeout,error"
split_say "split: 1 device VM with $NDEV virtio-sst device(s), $NDEV sst-sim, guest load: $load"
: >"$CON"
split_vmm_proxy "$CON" "$LOG" --timeout $((SECONDS_RUN + 600)) "${devs[@]}" \
	--append "vsst.run=sst-fault.soak vsst.args.sst-fault.soak=\"$load\" vsst.timeout=$((SECONDS_RUN + 400))"

# pid of the process a timeout(1) wrapper runs.
child_of() { pgrep -P "$1" 2>/dev/null | head -n 1; }
# status_kb <pid> <field>: a VmRSS/RssAnon value from /proc, empty if gone.
status_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null; }
log_pid() { sed -n "s/.*$1: started, pid \([0-9]*\).*/\1/p" "$LOG" | head -n 1; }

names=(vmm_proxy guest_vm device_vm)
for ((i = 0; i < NDEV; i++)); do names+=("sst_sim$i"); done
{
	printf 'elapsed_s,guest_t,submitted,answered,ok,errors,lost,duplicate'
	for n in "${names[@]}"; do printf ',rss_kb_%s,anon_kb_%s' "$n" "$n"; done
	printf '\n'
} >"$CSV"

t0=$SECONDS
split_wait_console "$CON" 'VSST-LOAD start' 600 || { tail -n 30 "$LOG"; split_fail "the guest load never started"; }
split_say "load started after $((SECONDS - t0)) s; sampling every $INTERVAL s into $CSV"
t_load=$SECONDS
next=$SECONDS
# Faults: one every FAULT_EVERY s, starting one period into the load;
# alternately a kill (and restart 3 s later) and a stall, on each sst-sim in turn.
next_fault=$((SECONDS + FAULT_EVERY)) nfault=0 kills=0 stalls=0
stalled=-1 stall_end=0 restart_sim=-1 restart_at=0
# pid of sst-sim <i> itself (SIM_PIDS holds its timeout(1) wrapper).
sim_pid() { pgrep -P "${SIM_PIDS[$1]}" 2>/dev/null | head -n 1; }
inject_faults() {
	if [ "$stalled" -ge 0 ] && [ $SECONDS -ge $stall_end ]; then
		split_say "fault: resuming sst-sim $stalled (SIGCONT)"
		kill -CONT "$(sim_pid "$stalled")" 2>/dev/null
		stalled=-1
	fi
	if [ "$restart_sim" -ge 0 ] && [ $SECONDS -ge $restart_at ]; then
		split_say "fault: restarting sst-sim $restart_sim"
		split_start_sim "$restart_sim"
		restart_sim=-1
	fi
	[ $FAULTS = 1 ] && [ $SECONDS -ge $next_fault ] && [ "$stalled" -lt 0 ] && [ "$restart_sim" -lt 0 ] || return 0
	next_fault=$((SECONDS + FAULT_EVERY))
	local i=$((nfault / 2 % NDEV))
	if [ $((nfault % 2)) = 0 ]; then
		split_say "fault $((nfault + 1)): killing sst-sim $i (SIGKILL), restart in 3 s"
		split_kill_sim "$i"
		restart_sim=$i restart_at=$((SECONDS + 3))
		kills=$((kills + 1))
	else
		split_say "fault $((nfault + 1)): stalling sst-sim $i (SIGSTOP) for $STALL s"
		kill -STOP "$(sim_pid "$i")" 2>/dev/null
		stalled=$i stall_end=$((SECONDS + STALL))
		stalls=$((stalls + 1))
	fi
	nfault=$((nfault + 1))
}
# Samples while the guest load runs (afterwards the processes wind down).
while kill -0 "$VMM_PID" 2>/dev/null && ! grep -aq 'VSST-RESULT load ' "$CON"; do
	inject_faults
	if [ $SECONDS -ge $next ]; then
		next=$((next + INTERVAL))
		vmm=$(child_of "$VMM_PID")
		pids=("$vmm" "$(log_pid 'guest VM')" "$(log_pid 'device VM')")
		for ((i = 0; i < NDEV; i++)); do pids+=("$(child_of "${SIM_PIDS[$i]}")"); done
		line=$(tr -d '\r' <"$CON" | grep -ao 'VSST-LOAD t=.*' | tail -n 1)
		f() { split_field " $line" "$1"; }
		# errors: answers other than OK, plus failed calls and wrong data
		errs=$(awk -v a="$(f answered)" -v o="$(f ok)" -v i="$(f io_errors)" -v m="$(f mismatch)" \
			'BEGIN { if (a != "") print a - o + i + m }')
		{
			printf '%s,%s,%s,%s,%s,%s,%s,%s' $((SECONDS - t_load)) "$(f t)" "$(f submitted)" \
				"$(f answered)" "$(f ok)" "$errs" "$(f lost)" "$(f duplicate)"
			for p in "${pids[@]}"; do
				printf ',%s,%s' "$( [ -n "$p" ] && status_kb "$p" VmRSS)" "$( [ -n "$p" ] && status_kb "$p" RssAnon)"
			done
			printf '\n'
		} >>"$CSV"
	fi
	sleep 1
done
# A stalled simulator is resumed, a killed one back, before the end.
[ "$stalled" -ge 0 ] && kill -CONT "$(sim_pid "$stalled")" 2>/dev/null
[ "$restart_sim" -ge 0 ] && split_start_sim "$restart_sim"
split_wait_vmm 60
split_leftovers || split_fail "processes left running after vmm-proxy exited"

# ---------------------------------------------------------------- verdict
result=$(tr -d '\r' <"$CON" | grep -ao 'VSST-RESULT load .*' | tail -n 1)
split_say "guest: ${result:-no load result}"
bad=0
[ "$VMM_RC" = 0 ] || { split_say "vmm-proxy exited $VMM_RC: $(tail -n 1 "$LOG")"; bad=1; }
case "$result" in "VSST-RESULT load PASS "*) ;; *) bad=1 ;; esac
for k in lost duplicate unknown mismatch; do
	v=$(split_field " $result" "$k")
	[ "$v" = 0 ] || { split_say "$k=${v:-?}, want 0"; bad=1; }
done
if [ $FAULTS = 1 ]; then
	nd=$(split_field " $result" no_device) to=$(split_field " $result" timeout) er=$(split_field " $result" error)
	split_say "faults: $kills kills, $stalls stalls; failures reported with a status: no_device=${nd:-?} timeout=${to:-?} error=${er:-?}"
	[ $((kills + stalls)) -gt 0 ] || { split_say "no fault was injected (run longer than --fault-every)"; bad=1; }
	# A fault that the guest never noticed did not test anything.
	[ $((${nd:-0} + ${to:-0} + ${er:-0})) -gt 0 ] || { split_say "no request failed under faults"; bad=1; }
fi
if [ -n "$KILL_EVERY" ]; then
	# sst-fault load has checked that the driver got every request back once.
	split_say "killed guest processes: $(split_field " $result" killed) of $(split_field " $result" victims) (abandoned requests $(split_field " $result" abandoned)); driver: submitted $(split_field " $result" drv_submitted), completed $(split_field " $result" drv_completed)"
	[ "$(split_field " $result" killed)" -gt 0 ] 2>/dev/null || { split_say "no guest process was killed mid-request"; bad=1; }
fi
rows=$(($(wc -l <"$CSV") - 1))
[ "$rows" -ge 4 ] || { split_say "only $rows samples"; bad=1; }

# Per process: RSS at the first and last sample, and the least-squares slope
# of RssAnon (and VmRSS) over the second half of the samples, in kB/min. A process
# grows when that slope exceeds --max-slope and the half grew by more than
# --min-growth kB: a one-minute run sees a single 2 MB allocator step as a steep slope.
report=$(awk -F, -v max="$MAX_SLOPE" -v mingrow="$MIN_GROWTH" '
NR == 1 { for (i = 9; i <= NF; i += 2) { name[i] = substr($i, 8) } ncol = NF; next }
{ n++; t[n] = $1; for (i = 9; i <= ncol; i++) v[n, i] = $i }
function slope(col, from,   k, m, sx, sy, sxx, sxy, x, y, d) {
	m = 0; sx = sy = sxx = sxy = 0
	for (k = from; k <= n; k++) {
		if (v[k, col] == "") continue
		x = t[k] / 60; y = v[k, col]; m++
		sx += x; sy += y; sxx += x * x; sxy += x * y
	}
	d = m * sxx - sx * sx
	return (m < 3 || d == 0) ? "nan" : (m * sxy - sx * sy) / d
}
END {
	from = int(n / 2) + 1; fails = 0
	printf "%-10s %12s %12s %16s %16s\n", "process", "rss_first_kb", "rss_last_kb", "rss_slope_kb/min", "anon_slope_kb/min"
	for (i = 9; i <= ncol; i += 2) {
		sr = slope(i, from); sa = slope(i + 1, from)
		grew = v[n, i + 1] - v[from, i + 1]
		verdict = (sa == "nan") ? "no data" : (sa + 0 > max && grew > mingrow + 0 ? "GROWS" : "ok")
		if (verdict != "ok") fails++
		printf "%-10s %12s %12s %16s %16s  %s\n", name[i], v[1, i], v[n, i], \
			(sr == "nan" ? sr : sprintf("%.1f", sr)), (sa == "nan" ? sa : sprintf("%.1f", sa)), verdict
	}
	printf "FAILS %d\n", fails
}' "$CSV")
printf '%s\n' "$report" | grep -v '^FAILS'
[ "$(printf '%s\n' "$report" | awk '/^FAILS/ { print $2 }')" = 0 ] ||
	{ split_say "memory grows over the second half (limit $MAX_SLOPE kB/min of RssAnon)"; bad=1; }
sub=$(split_field " $result" submitted)
secs=$(split_field " $result" secs)
rate=$(awk -v a="${sub:-0}" -v b="${secs:-0}" 'BEGIN { if (b > 0) printf "%.0f", a / b; else print "?" }')
split_say "requests=${sub:-?} in ${secs:-?} s (${rate} req/s), errors=$(tail -n 1 "$CSV" | cut -d, -f6), samples=$rows, csv=$CSV"
if [ $bad != 0 ]; then
	echo "---- vmm-proxy log (last 30 lines)"
	tail -n 30 "$LOG"
	echo "---- guest console (last 30 lines)"
	tr -d '\r' <"$CON" | tail -n 30
	split_fail "soak"
fi
split_say "PASS"
