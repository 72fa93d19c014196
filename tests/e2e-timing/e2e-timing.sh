#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# e2e.timing_<case>: synchronized virtual time (`./vsst run --timing sync`, README
# "Synchronized time") with the whole split: guest VM under -icount, device VM, sst-sim.
#   fidelity     the guest's clock_gettime sees COMPUTE = N/f + a constant overhead, N over
#                three orders of magnitude (slope within 1 %); free mode's noise reported
#   determinism  sst-bench depth 1 and 16 and a two-device run, twice: identical latencies,
#                result lines and simulator statistics
#   no_hold      the same with answers not held for their simulated time (test switch):
#                the runs must differ, i.e. the determinism check can fail
#   isolate      two devices, one device VM each (--isolate per-device), twice: identical
#   contention   16 equal COMPUTEs in flight on 4 compute units: 4 waves in guest time
#   trace        a synchronized run recorded with --trace (depth 1 and 16) replays to a full
#                match twice, TIME answers and REQUEST_AT stamps compared; replayed with
#                answers not held (test switch) it must diverge
# Figures go to stdout (and to $VSST_TIMING_FIGURES when set, one JSON object per case).
# usage: e2e-timing.sh <case>
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
RUN=$ROOT/vmm-proxy/run.sh
SPLIT_NAME="e2e.timing_${1:-?}"
# shellcheck source=../../vmm-proxy/split-lib.sh
source "$ROOT/vmm-proxy/split-lib.sh"
split_find_pieces split
export VSST_QEMU=$QEMU VSST_IMAGES=$IMAGES VSST_BIN=$BIN
split_workdir
T=$WORK
mkdir -p "$T/tmp"
export TMPDIR=$T/tmp

fail() { split_say "FAIL: $*"; exit 1; }

# run_guest <name> <run.sh options...> -- <guest command...>: stdout in $T/<name>.out
run_guest() {
	local name=$1
	shift
	timeout -k 5 900 "$RUN" --quiet "$@" >"$T/$name.out" 2>"$T/$name.err"
	local rc=$?
	if [ $rc != 0 ]; then
		tail -n 20 "$T/$name.out" "$T/$name.err"
		grep -q 'unrecognized option\|invalid option' "$T/$name.out" &&
			fail "the image's sst-bench has no --latencies: rebuild the images (./vsst images)"
		fail "$name: vsst run exited $rc"
	fi
}

# The model's price of a COMPUTE of U units: sst-sim's defaults (fixed latency model,
# 100 cycles per unit, 1 GHz) unless overridden here.
CYCLES_PER_UNIT=100
CLOCK_HZ=1000000000

case "${1:-}" in
fidelity)
	# 3 us .. 3 ms of model time. Shorter ones complete before the program sleeps in
	# read() and so take a shorter path; the guest's own periodic work (its timer
	# interrupts) delays some completions of the longer ones, the same in every run: the
	# fit uses each size's fastest request, the least disturbed path.
	UNITS="30 300 3000 30000"
	bench='for u in '"$UNITS"'; do echo "UNITS $u"; sst-bench -t compute -u $u -n 8 -w 2 -L || exit 1; done'
	run_guest sync --timing sync -- sh -c "$bench"
	run_guest free -- sh -c "$bench"
	python3 - "$T/sync.out" "$T/free.out" "$CYCLES_PER_UNIT" "$CLOCK_HZ" "${VSST_TIMING_FIGURES:-}" <<'EOF' || fail "fidelity"
import json, statistics, sys
sync_path, free_path, cpu, hz, figures = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]

def parse(path):
    out, units = {}, None
    for line in open(path):
        f = line.split()
        if f[:1] == ["UNITS"]:
            units = int(f[1])
            out[units] = []
        elif f[:1] == ["VSST-LAT"]:
            out[units].append(int(f[3].split("=")[1]))
    return out

def fit(points):  # least squares y = a*x + b
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    a = sum((x - mx) * (y - my) for x, y in points) / sxx
    return a, my - a * mx

ok = True
res = {}
for mode, path in (("sync", sync_path), ("free", free_path)):
    lat = parse(path)
    pts, rows = [], []
    for u, xs in sorted(lat.items()):
        model_ns = u * cpu * 1e9 / hz
        med = statistics.median(xs)
        pts.append((model_ns, min(xs) if mode == "sync" else med))
        rows.append({"units": u, "model_ns": model_ns, "median_ns": med, "min_ns": min(xs),
                     "max_ns": max(xs), "spread_ns": max(xs) - min(xs)})
    slope, overhead = fit(pts)
    res[mode] = {"slope": slope, "overhead_ns": overhead, "points": rows}
    print(f"{mode}: slope {slope:.6f}, overhead {overhead:.0f} ns")
    for r in rows:
        print(f"  {r['units']:>6} units = {r['model_ns']:>9.0f} ns model: median {r['median_ns']:>9.0f} ns, "
              f"min {r['min_ns']}, max {r['max_ns']} (spread {r['spread_ns']} ns), "
              f"minus model {r['median_ns'] - r['model_ns']:.0f} ns")
s = res["sync"]
# Guest time is the instruction count (-icount shift=0: 1 ns per instruction).
print(f"sync overhead: {s['overhead_ns']:.0f} ns = {s['overhead_ns']:.0f} guest instructions")
if abs(s["slope"] - 1.0) > 0.01:
    print(f"slope {s['slope']:.6f} is not within 1 % of 1"); ok = False
extra = [r["min_ns"] - r["model_ns"] for r in s["points"]]
print(f"sync overhead per size (fastest request minus model, ns): {extra}")
# Constant within 2 %: a request of milliseconds also carries the guest's own timer
# interrupts (about 130 ns each), identical in every run.
if max(extra) - min(extra) > 0.02 * s["overhead_ns"]:
    print("the overhead depends on N"); ok = False
f = res["free"]
noise = max(r["spread_ns"] for r in f["points"])
print(f"free (not asserted): slope {f['slope']:.4f}, overhead {f['overhead_ns']:.0f} ns, "
      f"largest spread within one size {noise} ns")
if figures:
    with open(figures, "a") as out:
        out.write(json.dumps({"case": "fidelity", **res}) + "\n")
sys.exit(0 if ok else 1)
EOF
	split_say "PASS: COMPUTE latency = N/f + constant overhead in guest time"
	;;
determinism | no_hold)
	# Depth 1 and 16 on one device, then two devices at once.
	bench='sst-bench -t compute -u 100 -n 40 -w 4 -L && sst-bench -t compute -u 100 -q 16 -n 64 -w 16 -L &&
		{ sst-bench -d /dev/sst0 -t compute -u 300 -q 4 -n 32 -w 4 -L >/tmp/a & sst-bench -d /dev/sst1 -t compute -u 70 -q 8 -n 32 -w 8 -L >/tmp/b; wait $! ; wait; cat /tmp/a /tmp/b; }'
	[ "$1" = no_hold ] && export VSST_TIMING_NO_HOLD=1
	for i in 1 2; do
		run_guest "run$i" --timing sync --devices 2 --report "$T/run$i.json" -- sh -c "$bench"
	done
	python3 - "$T" "$1" <<'EOF'
import json, sys
t, case = sys.argv[1], sys.argv[2]
def sim_stats(path):
    # What the simulators computed, without wall-clock fields and run-private paths.
    devs = json.load(open(path))["devices"]
    out = []
    for d in devs:
        s = dict(d["stats"])
        for k in list(s):
            if k.startswith("wall_") or k in ("close_reason",):
                del s[k]
        cols = s["samples"]["columns"]
        keep = [i for i, c in enumerate(cols) if not c.startswith("wall_")]
        s["samples"] = [[r[i] for i in keep] for r in s["samples"]["rows"]]
        out.append(s)
    return out
a = open(f"{t}/run1.out").read().splitlines()
b = open(f"{t}/run2.out").read().splitlines()
lat = lambda xs: [l for l in xs if l.startswith("VSST-LAT")]
res = lambda xs: [l for l in xs if l.startswith("VSST-BENCH")]
same_lat, same_res = lat(a) == lat(b), res(a) == res(b)
same_sim = sim_stats(f"{t}/run1.json") == sim_stats(f"{t}/run2.json")
print(f"{len(lat(a))} latencies identical: {same_lat}; {len(res(a))} result lines identical: {same_res}; "
      f"simulator statistics identical: {same_sim}")
for l in res(a):
    print("  " + l)
if not (same_lat and same_res):
    diff = [(x, y) for x, y in zip(lat(a), lat(b)) if x != y]
    print(f"  {len(diff)} latencies differ, e.g. {diff[:3]}")
identical = same_lat and same_res and same_sim
if case == "determinism":
    sys.exit(0 if identical else 1)
# no_hold: the check must see the difference.
sys.exit(1 if identical else 0)
EOF
	rc=$?
	if [ "$1" = determinism ]; then
		[ $rc = 0 ] || fail "two synchronized runs differ"
		split_say "PASS: two synchronized runs are identical"
	else
		[ $rc = 0 ] || fail "without the deliver-at hold the runs were still identical: the determinism check cannot fail"
		split_say "PASS: without the hold the runs differ, and the check says so"
	fi
	;;
isolate)
	# One device VM per device: each has its own channel, TIME and timer in the guest.
	bench='sst-bench -d /dev/sst0 -t compute -u 300 -q 4 -n 32 -w 4 -L >/tmp/a &
		sst-bench -d /dev/sst1 -t compute -u 70 -q 8 -n 32 -w 8 -L >/tmp/b; wait $!; wait; cat /tmp/a /tmp/b'
	for i in 1 2; do
		run_guest "iso$i" --timing sync --isolate per-device --devices 2 -- sh -c "$bench"
	done
	[ "$(grep -c '^VSST-LAT' "$T/iso1.out")" = 64 ] || fail "expected 64 latencies: $(cat "$T/iso1.out")"
	cmp -s "$T/iso1.out" "$T/iso2.out" || { diff "$T/iso1.out" "$T/iso2.out" | head; fail "two runs differ"; }
	grep '^VSST-BENCH' "$T/iso1.out"
	split_say "PASS: two synchronized runs with one device VM per device are identical"
	;;
trace)
	bench='sst-bench -t compute -u 100 -n 20 -w 2 -L && sst-bench -t compute -u 100 -q 16 -n 48 -w 16 -L'
	run_guest rec --timing sync --trace "$T/sync.vtrace" -- sh -c "$bench"
	[ "$(grep -c '^VSST-LAT' "$T/rec.out")" = 68 ] || fail "expected 68 latencies: $(cat "$T/rec.out")"
	"$BIN/vsst-trace" dump "$T/sync.vtrace" --no-header --op MMIO >"$T/mmio.txt" || fail "vsst-trace dump"
	times=$(grep -c 'req MMIO R as=time' "$T/mmio.txt")
	[ "$times" -gt 68 ] || fail "the trace has $times TIME requests, fewer than the requests it made"
	"$BIN/vsst-trace" replay "$T/sync.vtrace" --qemu "$QEMU" --repeat 2 >"$T/replay.out" 2>&1
	rc=$?
	cat "$T/replay.out"
	[ $rc = 0 ] && [ "$(grep -c ': MATCH:' "$T/replay.out")" = 2 ] || fail "the synchronized trace did not replay (exit $rc)"
	# The replay compares each TIME answer (the next virtual time the device needs) and
	# the simulator bytes (REQUEST_AT carries the submit time): a device VM that answers
	# without waiting for the guest's clock must be caught.
	"$BIN/vsst-trace" replay "$T/sync.vtrace" --qemu "$QEMU" \
		--qemu-arg -global --qemu-arg virtio-sst-pci.x-timing-no-hold=on >"$T/nohold.out" 2>&1
	rc=$?
	cat "$T/nohold.out"
	[ $rc = 1 ] && grep -q 'DIVERGED' "$T/nohold.out" ||
		fail "a device VM that does not hold answers replayed the trace (exit $rc): timestamps not checked"
	split_say "PASS: a synchronized trace ($times TIME requests) replays to a full match; without the hold it diverges"
	;;
contention)
	# sst-sim's default: 4 compute units. 16 equal COMPUTEs submitted at once.
	run_guest waves --timing sync -- sst-bench -t compute -u 1000 -q 16 -n 16 -w 0 -L
	python3 - "$T/waves.out" "$CYCLES_PER_UNIT" "$CLOCK_HZ" <<'EOF' || fail "no 4 waves"
import sys
cpu, hz = int(sys.argv[2]), int(sys.argv[3])
lat = [int(l.split()[3].split("=")[1]) for l in open(sys.argv[1]) if l.startswith("VSST-LAT")]
model = 1000 * cpu * 1e9 / hz
waves = sorted(set(lat))
print(f"{len(lat)} completions, distinct guest-observed latencies (ns): {waves}")
counts = [lat.count(w) for w in waves]
gaps = [b - a for a, b in zip(waves, waves[1:])]
print(f"per wave: {counts}; gaps between waves (ns): {gaps}; one COMPUTE: {model:.0f} ns")
ok = len(waves) == 4 and counts == [4, 4, 4, 4] and all(abs(g - model) <= 0.01 * model for g in gaps)
sys.exit(0 if ok else 1)
EOF
	split_say "PASS: 16 COMPUTEs on 4 units complete in 4 waves one COMPUTE apart"
	;;
*)
	echo "usage: $0 fidelity|determinism|no_hold|isolate|contention" >&2
	exit 2
	;;
esac
