#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ./vsst bench timing [--count N] [--units U]: what synchronized time costs. For each of
# free and sync and queue depths 1 and 32, one `vsst run` of sst-bench (COMPUTE of U
# units); the host timestamps the guest's lines around the benchmark as they arrive, so
# boot is not counted. Prints per mode and depth: the host's wall time of the
# benchmark, sst-bench's own elapsed time (the guest's clock: virtual in sync mode) and
# their ratio, then sync/free wall time per depth (target at depth 32: at most 1.5).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
COUNT=2000 UNITS=100
while [ $# -gt 0 ]; do
	case "$1" in
	--count) COUNT=$2; shift ;;
	--units) UNITS=$2; shift ;;
	-h | --help) sed -n '3,9p' "$0"; exit 0 ;;
	*) echo "bench timing: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
python3 - "$ROOT/vmm-proxy/run.sh" "$COUNT" "$UNITS" <<'EOF'
import re, subprocess, sys, time
run, count, units = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
results = {}
for depth in (1, 32):
    for mode in ("free", "sync"):
        cmd = (f"echo BENCH-BEGIN; sst-bench -t compute -u {units} -q {depth} -n {count} "
               f"-w {min(depth * 4, count)}; echo BENCH-END")
        p = subprocess.Popen([run, "--quiet", "--timing", mode, "--", "sh", "-c", cmd],
                             stdout=subprocess.PIPE, text=True)
        t0 = t1 = None
        line_out = ""
        for line in p.stdout:
            now = time.monotonic()
            if line.startswith("BENCH-BEGIN"):
                t0 = now
            elif line.startswith("BENCH-END"):
                t1 = now
            elif line.startswith("VSST-BENCH"):
                line_out = line.strip()
        if p.wait() != 0 or t0 is None or t1 is None or not line_out:
            sys.exit(f"bench timing: {mode} depth {depth} failed ({line_out or 'no result'})")
        n = int(re.search(r" n=(\d+)", line_out).group(1))
        rps = float(re.search(r" rps=([\d.]+)", line_out).group(1))
        guest_s = n / rps if rps else 0.0
        wall_s = t1 - t0
        results[(mode, depth)] = wall_s
        print(f"{mode:4} depth {depth:2}: wall {wall_s:7.3f} s, guest {guest_s:7.3f} s, "
              f"guest/wall {guest_s / wall_s:6.3f}   [{line_out}]", flush=True)
for depth in (1, 32):
    r = results[("sync", depth)] / results[("free", depth)]
    print(f"depth {depth:2}: sync/free wall time {r:.2f}" + ("  (target <= 1.5)" if depth == 32 else ""))
EOF
