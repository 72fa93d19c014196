#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# sim.sst_element: runs the SST-core element library under `sst` with each
# python config that fits one process, drives it with sim_smoke, and checks
# that the bridge ends the run when its client disconnects and that the
# statistics went through SST's statistics output.
# usage: sst_element_test.sh <sim_smoke> <libvsst dir or "none"> <configs dir>
set -euo pipefail
smoke=$1 libdir=$2 configs=$3
if ! command -v sst-config >/dev/null 2>&1 || ! command -v sst >/dev/null 2>&1; then
	echo "SKIP: SST-core not found (no sst-config/sst in PATH): libvsst.so is not built and the element cannot run"
	exit 77
fi
if [ "$libdir" = none ] || [ ! -f "$libdir/libvsst.so" ]; then
	echo "FAIL: sst-config is present but libvsst.so was not built (reconfigure the build)"
	exit 1
fi
echo "SST-core: $(sst --version 2>&1 | head -1)"
work=$(mktemp -d /tmp/vsst-sst-element-XXXXXX)
trap 'rm -rf "$work"' EXIT
rc=0

# The element must register: sst-info lists the three components.
if ! sst-info --add-lib-path="$libdir" vsst >"$work/info.log" 2>&1 ||
	[ "$(grep -cE '^ +Component [0-9]+: (Bridge|Compute|Memory)$' "$work/info.log")" -ne 3 ]; then
	echo "FAIL: sst-info does not list vsst.Bridge, vsst.Compute and vsst.Memory"; cat "$work/info.log"; rc=1
else
	echo "ok: sst-info lists vsst.Bridge, vsst.Compute, vsst.Memory"
fi

# run_config CONFIG SOCKET:PROTOCOL...: one sst run, one sim_smoke session per
# device (each of them sends 5 requests), then sst must end on its own.
run_config() {
	local config=$1 log; shift
	log=$work/$(basename "$config").log
	rm -f "$work"/*.sock
	VSST_SOCKET_DIR=$work timeout 120 sst --add-lib-path "$libdir" "$config" >"$log" 2>&1 &
	local pid=$! ok=1 i=0
	for arg in "$@"; do
		if ! "$smoke" "${arg%:*}" "${arg##*:}" >"$work/smoke.log" 2>&1; then
			echo "FAIL: $config: smoke session on $arg"; cat "$work/smoke.log"; ok=0
		fi
	done
	if [ $ok = 0 ]; then
		kill "$pid" 2>/dev/null || true  # do not wait out the timeout
	fi
	if ! wait "$pid"; then
		echo "FAIL: $config: sst did not end cleanly after the clients left"; cat "$log"; rc=1; return
	fi
	for arg in "$@"; do
		if ! grep -q "^vsst.Bridge $i: 5 requests" "$log" ||
			! grep -q "bridge$i.requests : Accumulator : Sum.u64 = 5;" "$log"; then
			echo "FAIL: $config: device $i's summary or statistics missing"; cat "$log"; ok=0
		fi
		i=$((i + 1))
	done
	if [ $ok = 1 ]; then
		echo "ok: $config ($*)"
		grep -E "^vsst.Bridge|latency_cycles|Simulation is complete" "$log" || true
	else
		rc=1
	fi
}
run_config "$configs/single_device.py" "$work/sst0.sock:framed"
run_config "$configs/two_devices.py" "$work/sst0.sock:framed" "$work/sst1.sock:acalsim"
run_config "$configs/embedded_model.py" "$work/sst0.sock:framed"

# Synchronized time (HELLO feature TIMED): sim_smoke's timed session checks
# the completion times (exactly submit + model latency + the links' 2 ns,
# 4 waves for 16 on 4 units, a request sent 30 ms of wall time after another
# of the same submit time not late, a late one at SST's time); each config
# runs twice and the completion times must be identical. The bridge's own
# account must show exactly the one deliberately late request and no
# horizon passed unheld. sync_wait_us is raised to 100 ms so that the 30 ms
# gap is inside the hold.
run_timed() {
	local config=$1 link_ps=$2 run sig="" log
	for run in 1 2; do
		log=$work/timed-$(basename "$config")-$run.log
		rm -f "$work"/*.sock
		VSST_SYNC_WAIT_US=100000 VSST_SOCKET_DIR=$work timeout 120 \
			sst --add-lib-path "$libdir" "$config" >"$log" 2>&1 &
		local pid=$!
		if ! "$smoke" "$work/sst0.sock" timed "$link_ps" >"$work/timed-smoke.log" 2>&1; then
			echo "FAIL: $config: timed session (run $run)"; cat "$work/timed-smoke.log"
			kill "$pid" 2>/dev/null || true; wait "$pid" || true; cat "$log"; rc=1; return
		fi
		if ! wait "$pid"; then
			echo "FAIL: $config: timed run $run: sst did not end cleanly"; cat "$log"; rc=1; return
		fi
		if ! grep -qE '^vsst.Bridge 0: timed: [0-9]+ requests at their submit time, 1 late .*[1-9][0-9]* horizon holds .*, 0 horizon passes unheld$' "$log"; then
			echo "FAIL: $config: timed run $run: the bridge's account is not 1 late, 0 passes unheld"
			grep '^vsst.Bridge' "$log"; rc=1; return
		fi
		local this
		this=$(grep '^timed-signature:' "$work/timed-smoke.log")
		if [ "$run" = 1 ]; then
			sig=$this
		elif [ "$this" != "$sig" ]; then
			echo "FAIL: $config: two timed runs gave different completion times"
			printf '  run 1 %s\n  run 2 %s\n' "$sig" "$this"; rc=1; return
		fi
	done
	echo "ok: $config timed, twice, identical completion times"
	grep -E '^(ok|FAIL) ' "$work/timed-smoke.log" | sed 's/^/  /'
	grep -E '^vsst.Bridge 0: timed|hold_wall_us|late_requests' "$log" | sed 's/^/  /' || true
}
run_timed "$configs/embedded_model.py" 0
run_timed "$configs/single_device.py" 2000

# compute_on_rank1.py needs an MPI build of SST-core and mpirun; otherwise it
# must refuse to run on one rank instead of silently running everything there.
includedir=$(sst-config --includedir 2>/dev/null || true)
if command -v mpirun >/dev/null 2>&1 &&
	grep -q '^#define SST_CONFIG_HAVE_MPI 1' "$includedir/sst/core/sst_config.h" 2>/dev/null; then
	rm -f "$work"/*.sock
	VSST_SOCKET_DIR=$work timeout 120 mpirun --allow-run-as-root -np 2 sst --add-lib-path "$libdir" \
		"$configs/compute_on_rank1.py" >"$work/mpi.log" 2>&1 &
	pid=$!
	"$smoke" "$work/sst0.sock" framed || { echo "FAIL: multi-rank smoke"; rc=1; kill "$pid" 2>/dev/null || true; }
	if wait $pid; then echo "ok: compute_on_rank1.py on 2 ranks"; else
		echo "FAIL: multi-rank sst run"; cat "$work/mpi.log"; rc=1
	fi
	# The timed session across ranks: the 10 ns links each way add 20 ns.
	rm -f "$work"/*.sock
	VSST_SYNC_WAIT_US=100000 VSST_SOCKET_DIR=$work timeout 120 mpirun --allow-run-as-root -np 2 \
		sst --add-lib-path "$libdir" "$configs/compute_on_rank1.py" >"$work/mpi-timed.log" 2>&1 &
	pid=$!
	if ! "$smoke" "$work/sst0.sock" timed 20000 >"$work/timed-smoke.log" 2>&1; then
		echo "FAIL: multi-rank timed session"; cat "$work/timed-smoke.log"; rc=1
		kill "$pid" 2>/dev/null || true
	fi
	if wait $pid && grep -q ', 1 late .*, 0 horizon passes unheld$' "$work/mpi-timed.log"; then
		echo "ok: compute_on_rank1.py on 2 ranks, timed"
	else
		echo "FAIL: multi-rank timed sst run"; cat "$work/mpi-timed.log"; rc=1
	fi
else
	echo "note: no mpirun or SST-core built without MPI: compute_on_rank1.py not run on 2 ranks"
	if VSST_SOCKET_DIR=$work timeout 60 sst --add-lib-path "$libdir" "$configs/compute_on_rank1.py" \
		>"$work/mpi.log" 2>&1 || ! grep -q "needs 2 MPI ranks" "$work/mpi.log"; then
		echo "FAIL: compute_on_rank1.py on one rank did not refuse clearly"; cat "$work/mpi.log"; rc=1
	else
		echo "ok: compute_on_rank1.py refuses one rank: $(grep "needs 2 MPI ranks" "$work/mpi.log")"
	fi
fi
exit $rc
