#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# e2e.run_<case>: `./vsst run` as a user drives it (vmm-proxy/run.sh with the pieces
# ./vsst or CTest point at): the user's command and its exit status, bad input, Ctrl-C,
# the interactive shell through a pseudo-terminal, an external simulator socket, and
# SST-core configurations. Each case asserts that nothing is left running.
# usage: e2e-run.sh <case>
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
RUN=$ROOT/vmm-proxy/run.sh
SPLIT_NAME="e2e.run_${1:-?}"
# shellcheck source=../../vmm-proxy/split-lib.sh
source "$ROOT/vmm-proxy/split-lib.sh"
split_find_pieces split
export VSST_QEMU=$QEMU VSST_IMAGES=$IMAGES VSST_BIN=$BIN
split_workdir
T=$WORK
# vsst run's own work directories go here, so that the leftover check sees only ours.
mkdir -p "$T/tmp"
export TMPDIR=$T/tmp

fail() { split_say "FAIL: $*"; exit 1; }
# No QEMU, simulator or vsst work directory of this test may outlive a case.
no_leftovers() {
	local p cmd
	sleep 0.5
	for p in $(pgrep -f "qemu-system|sst-sim|vmm-proxy"); do
		cmd=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || continue
		[[ $cmd == *"$T"* || $cmd == *"vsst-run-"* ]] && fail "left running: $p $cmd"
	done
	local stale
	stale=$(find "$T/tmp" -mindepth 1 -maxdepth 1 2>/dev/null)
	[ -z "$stale" ] || fail "left behind in the run's temporary directory: $stale"
}

# run_cli <expected status> <stdout file> <stderr file> -- run.sh args
run_cli() {
	local want=$1 out=$2 err=$3
	shift 4
	timeout -k 5 600 "$RUN" "$@" >"$out" 2>"$err"
	local rc=$?
	if [ "$rc" != "$want" ]; then
		echo "---- stdout"; cat "$out"; echo "---- stderr"; tail -n 30 "$err"
		fail "vsst run $* exited $rc, expected $want"
	fi
}

case "${1:-}" in
command)
	# Output streams unchanged (stdout only, no boot noise); the status comes back.
	run_cli 0 "$T/out0" "$T/err0" -- --devices 0 -- sh -c 'echo "line one"; printf "no newline"'
	printf 'line one\nno newline' | cmp - "$T/out0" || { od -c "$T/out0" | head; fail "command output differs"; }
	run_cli 3 "$T/out3" "$T/err3" -- --devices 0 --quiet -- sh -c 'echo failing; exit 3'
	[ "$(cat "$T/out3")" = failing ] || fail "exit-3 output: $(cat "$T/out3")"
	[ ! -s "$T/err3" ] || fail "--quiet still printed: $(cat "$T/err3")"
	# Arguments keep spaces, quotes, commas and empty words.
	run_cli 0 "$T/outa" "$T/erra" -- --devices 0 -- sh -c 'for a; do echo "[$a]"; done' x 'a b' '"q",' '' 'é'
	printf '[a b]\n["q",]\n[]\n[é]\n' | cmp - "$T/outa" || { cat "$T/outa"; fail "arguments were altered"; }
	split_say "PASS: output, exit statuses 0 and 3, arguments intact"
	;;
not_found)
	run_cli 127 "$T/out" "$T/err" -- --devices 0 -- no-such-program --flag
	grep -q 'no-such-program: not found' "$T/out" || fail "no 'not found' line: $(cat "$T/out")"
	run_cli 126 "$T/out2" "$T/err2" -- --devices 0 -- /etc/vsst/modules.order
	split_say "PASS: missing command 127, not executable 126"
	;;
bad_input)
	# Each: a one-line reason, status 125 (with -- CMD) or 2, before anything starts.
	check_bad() {
		local want=$1 pattern=$2
		shift 2
		run_cli "$want" "$T/o" "$T/e" -- "$@"
		[ "$(wc -l <"$T/e")" = 1 ] || { cat "$T/e"; fail "$*: not one line of error"; }
		grep -q -- "$pattern" "$T/e" || fail "$*: '$(cat "$T/e")' does not say '$pattern'"
	}
	check_bad 125 "no such folder" --share "$T/missing" -- true
	check_bad 125 "not a folder" --share /etc/hostname -- true
	check_bad 125 "want sst-sim" --sim bogus -- true
	check_bad 125 "not a Unix socket" --sim "socket:$T/none.sock" -- true
	check_bad 125 "want free or sync" --timing later -- true
	check_bad 125 "no such file" --timing sync --sim "sst:$T/none.py" -- true
	check_bad 125 "no such file" --sim "sst:$T/none.py" -- true
	check_bad 125 "want 0..8" --devices 99 -- true
	check_bad 125 "exclude each other" --shell -- true
	check_bad 2 "unknown option" --frobnicate
	check_bad 2 "need -- CMD or --shell" --devices 2
	split_say "PASS: bad input refused with one line each"
	;;
interrupt)
	# Ctrl-C (SIGINT to the foreground process group) in the middle of a command.
	setsid "$RUN" --devices 1 -- sh -c 'echo started; sleep 300' >"$T/out" 2>"$T/err" &
	pid=$!
	n=0
	until grep -q started "$T/out" 2>/dev/null; do
		kill -0 $pid 2>/dev/null || { cat "$T/err"; fail "vsst run ended before the command started"; }
		[ $n -ge 1200 ] && fail "the command did not start in 120 s"
		n=$((n + 1))
		sleep 0.1
	done
	kill -INT -- -$pid
	n=0
	while kill -0 $pid 2>/dev/null; do
		[ $n -ge 300 ] && fail "vsst run did not stop within 30 s of Ctrl-C"
		n=$((n + 1))
		sleep 0.1
	done
	wait $pid
	rc=$?
	[ $rc = 130 ] || { tail "$T/err"; fail "exit $rc after Ctrl-C, expected 130"; }
	split_say "PASS: Ctrl-C stops the run with 130"
	;;
shell)
	cat >"$T/steps" <<'EOF'
expect vsst#
send echo $((6*7))
expect 42
send sleep 300
expect sleep 300
pause 2
key ctrl-c
expect vsst#
send uname -m
expect x86_64
key escape
expect TERMINAL=
exit 0
EOF
	timeout -k 5 400 python3 "$HERE/pty_session.py" --timeout 300 "$T/steps" -- bash -c \
		'"$@"; rc=$?; echo "TERMINAL=$(stty -a | grep -o -- "-\?icanon" | head -n 1)"; exit $rc' \
		_ "$RUN" --devices 1 --shell >"$T/transcript" 2>&1 ||
		{ tail -n 40 "$T/transcript"; fail "the shell session did not go as a person expects"; }
	grep -q 'TERMINAL=icanon' "$T/transcript" || fail "the terminal was left in raw mode"
	split_say "PASS: prompt, command output, Ctrl-C to the guest, Ctrl-] quits, terminal restored"
	;;
sim_socket)
	# A simulator the user started (the acalsim raw protocol) behind --sim socket:PATH.
	mkdir -m 755 "$T/sim" && sock=$T/sim/user.sock
	(umask 000 && exec "$SIM" --socket "$sock" --protocol acalsim --status-interval 0) >"$T/usersim.log" 2>&1 &
	SPLIT_PIDS+=($!)
	n=0
	while [ ! -S "$sock" ]; do
		[ $n -ge 100 ] && fail "the user's sst-sim did not start"
		n=$((n + 1))
		sleep 0.1
	done
	run_cli 0 "$T/out" "$T/err" -- --sim "socket:$sock,protocol=acalsim" -- \
		sst-bench --type compute --depth 1 --count 200 --warmup 10
	grep -q 'VSST-BENCH type=compute .* n=200 .* errors=0$' "$T/out" || { cat "$T/out"; fail "sst-bench reported errors"; }
	grep -q 'acalsim' "$T/usersim.log" || { cat "$T/usersim.log"; fail "the user's simulator served nothing"; }
	# The user's simulator is the user's to stop; vsst run must not have.
	kill -0 "${SPLIT_PIDS[-1]}" || fail "vsst run stopped the user's simulator"
	kill "${SPLIT_PIDS[-1]}"
	wait "${SPLIT_PIDS[-1]}" 2>/dev/null
	split_say "PASS: sst-bench through a user-started acalsim simulator"
	;;
offload)
	# The multi-device workload through the front end: 4 simulators, 4 devices.
	run_cli 0 "$T/out" "$T/err" -- --devices 4 --quiet -- sst-offload --blocks 8 --size 16 --depth 32
	grep -q '^VSST-RESULT offload PASS .*devices=4' "$T/out" || { cat "$T/out"; fail "sst-offload did not pass on 4 devices"; }
	[ "$(grep -c '^VSST-OFFLOAD device=' "$T/out")" = 4 ] || { cat "$T/out"; fail "not 4 device lines"; }
	split_say "PASS: sst-offload verified every byte on 4 devices"
	;;
share)
	# The "done when" of the issue: a hello world built by plain gcc runs from --share;
	# a program's file lands on the host, owned by the invoking user; status 3 comes back.
	mkdir -m 0700 "$T/share"
	printf '#include <stdio.h>\nint main(int c, char **v) { FILE *f = fopen("out.txt", "w");\n'\
'fprintf(f, "written by %%s\\n", v[0]); fclose(f); puts("hello from the guest"); return c > 1 ? 3 : 0; }\n' >"$T/hello.c"
	gcc -o "$T/share/hello" "$T/hello.c" || fail "gcc"
	# The point is the image's C runtime: the program must need the dynamic loader.
	readelf -l "$T/share/hello" | grep -q 'Requesting program interpreter' || fail "hello is not dynamically linked"
	run_cli 0 "$T/out" "$T/err" -- --share "$T/share" --quiet -- /mnt/host/hello
	[ "$(cat "$T/out")" = "hello from the guest" ] || fail "hello printed: $(cat "$T/out")"
	grep -q 'written by /mnt/host/hello' "$T/share/out.txt" || fail "out.txt not on the host"
	[ "$(stat -c %u "$T/share/out.txt")" = "${SUDO_UID:-$(id -u)}" ] ||
		fail "out.txt is owned by uid $(stat -c %u "$T/share/out.txt")"
	run_cli 3 "$T/out3" "$T/err3" -- --share "$T/share" --quiet -- hello again
	[ "$(cat "$T/out3")" = "hello from the guest" ] || fail "hello (via PATH) printed: $(cat "$T/out3")"
	# Read-only: the guest cannot write, the folder is unchanged.
	before=$(cd "$T/share" && ls -lA --time-style=+%s && sha256sum ./*)
	run_cli 1 "$T/outro" "$T/errro" -- --share "$T/share:ro" --quiet -- sh -c 'cat out.txt; echo x >new.txt'
	grep -q 'written by' "$T/outro" || fail "ro share not readable"
	after=$(cd "$T/share" && ls -lA --time-style=+%s && sha256sum ./*)
	[ "$before" = "$after" ] || fail "the read-only share changed"
	split_say "PASS: gcc-built hello from --share, its file on the host, statuses 0/3, :ro unchanged"
	;;
report)
	# --report / --report-html: valid against the schema, figures non-zero and the same
	# as what the guest did and what the text summary says.
	run_cli 0 "$T/out" "$T/err" -- --devices 2 --report "$T/r.json" --report-html "$T/r.html" -- \
		sh -c 'sst-bench --type compute --depth 8 --count 300 --warmup 0 && sst-bench -d /dev/sst1 --type read --count 100 --warmup 0'
	python3 "$ROOT/report/vsst-report" validate "$T/r.json" || fail "the report does not validate"
	python3 - "$T/r.json" "$T/err" <<'PY' || fail "the report's figures are wrong"
import json, sys
r = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
def check(cond, why):
    if not cond:
        sys.exit(f"report: {why}")
check(r["exit"]["status"] == 0, "exit status")
check(r["guest"]["command"]["exit"] == 0, "command exit")
check(len(r["devices"]) == 2, "two devices")
d0, d1 = (d["stats"] for d in r["devices"])
check(d0["requests"].get("COMPUTE") == 300, f"device 0 COMPUTE {d0['requests']}")
check(d1["requests"].get("READ") == 100, f"device 1 READ {d1['requests']}")
check(d0["sim_time_ps"] > 0 and d0["cycles"] > 0 and d0["busy_pct"] > 0, "device 0 simulated time")
check(all(r["stages"][k] > 0 for k in ("boot_s", "run_s")), f"stages {r['stages']}")
check(any("device VM" in p["role"] for p in r["processes"]), "no device VM process")
for i, d in enumerate((d0, d1)):
    line = f"device {i} (sst-sim): {d['requests_total']} requests"
    check(line in text, f"text summary lacks '{line}'")
PY
	grep -q '<svg' "$T/r.html" || fail "no plot in the HTML report"
	split_say "PASS: report valid, figures match the guest's work and the text summary"
	;;
sst_config)
	if ! command -v sst >/dev/null; then
		printf '\n*** SKIP: SST-core (sst) is not installed: --sim sst:CONFIG.py not tested ***\n\n'
		exit 77
	fi
	run_cli 0 "$T/out" "$T/err" -- --sim "sst:$ROOT/sst-element/configs/single_device.py" -- \
		sst-bench --type compute --depth 4 --count 200
	grep -q 'VSST-BENCH type=compute .* errors=0$' "$T/out" || { cat "$T/out"; fail "sst-bench reported errors"; }
	split_say "PASS: sst-bench against SST-core"
	;;
*)
	echo "usage: $0 command|not_found|bad_input|interrupt|shell|sim_socket|offload|share|report|sst_config" >&2
	exit 2
	;;
esac
no_leftovers
