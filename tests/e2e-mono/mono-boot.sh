#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Boots the vsst guest image in the project's QEMU with TCG, virtio-sst-pci
# inside the same QEMU (the monolithic baseline) and one sst-sim per device,
# then checks the guest's VSST-RESULT lines. Every wait is bounded and every
# process it starts is stopped on exit. See tests/e2e-mono/README.md.
set -uo pipefail

usage() {
	cat <<USAGE
usage: mono-boot.sh [options]
  --run LIST          workloads for the guest (vsst.run=LIST), e.g. sst-test,rng
  --sst N             number of virtio-sst-pci devices, each with its own sst-sim (default 0)
  --rng               add a virtio-rng-pci device
  --blk               add a virtio-blk-pci device with the image's disk.img (read-only)
  --append STR        more kernel parameters (e.g. 'vsst.args.sst-bench="--depth 32"')
  --expect NAME       a VSST-RESULT line NAME must say PASS (repeatable)
  --expect-line RE    some console line must match the extended regex RE (repeatable)
  --min-pass N        the guest summary must count at least N passes (default 1)
  --timeout S         bound for the whole guest run in seconds (default 300)
  --memory MB         guest memory (default 512)
  --console FILE      keep a copy of the serial console in FILE
  --quiet             do not print the console at the end when the run passes
Environment: VSST_QEMU, VSST_IMAGES, VSST_BIN (sst-sim), VSST_REQUIRE_ALL=1
  (missing prerequisites fail instead of skipping), VSST_SIM_ARGS (extra sst-sim
  arguments), VSST_E2E_KEEP=1 (keep the work directory).
Exit: 0 pass, 1 fail, 77 skipped (missing prerequisite).
USAGE
}

RUN_LIST="" NSST=0 RNG=0 BLK=0 APPEND="" MIN_PASS=1 TIMEOUT=300 MEMORY=512
CONSOLE_COPY="" QUIET=0 EXPECT=() EXPECT_LINES=()
while [ $# -gt 0 ]; do
	case "$1" in
	--run) RUN_LIST=$2; shift ;;
	--sst) NSST=$2; shift ;;
	--rng) RNG=1 ;;
	--blk) BLK=1 ;;
	--append) APPEND="$APPEND $2"; shift ;;
	--expect) EXPECT+=("$2"); shift ;;
	--expect-line) EXPECT_LINES+=("$2"); shift ;;
	--min-pass) MIN_PASS=$2; shift ;;
	--timeout) TIMEOUT=$2; shift ;;
	--memory) MEMORY=$2; shift ;;
	--console) CONSOLE_COPY=$2; shift ;;
	--quiet) QUIET=1 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "mono-boot: unknown argument $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
for n in "$NSST" "$MIN_PASS" "$TIMEOUT" "$MEMORY"; do
	case "$n" in '' | *[!0-9]*) echo "mono-boot: '$n' is not a number" >&2; exit 2 ;; esac
done

say() { printf 'mono-boot: %s\n' "$*"; }
fail() { say "FAIL: $*"; exit 1; }
# A missing prerequisite skips the test, unless the full test run asks for all.
need() {
	if [ "${VSST_REQUIRE_ALL:-0}" = 1 ]; then
		say "FAIL: missing prerequisite (VSST_REQUIRE_ALL=1): $*"
		exit 1
	fi
	printf '\n*** SKIP: %s ***\n\n' "$*"
	exit 77
}

# ./vsst exports VSST_*; ctest adds VSST_DEFAULT_* from the CMake configuration.
QEMU=${VSST_QEMU:-${VSST_DEFAULT_QEMU:-}}
IMAGES=${VSST_IMAGES:-${VSST_DEFAULT_IMAGES:-${VSST_CACHE:-$HOME/.cache/vsst}/images}}
BIN=${VSST_BIN:-${VSST_DEFAULT_BIN:-}}
SIM=${BIN:+$BIN/sst-sim}

{ [ -n "$QEMU" ] && [ -x "$QEMU" ]; } || need "no QEMU at VSST_QEMU='$QEMU' (run ./vsst qemu)"
for f in vmlinuz initramfs.cpio.gz disk.img kernel-version; do
	[ -s "$IMAGES/$f" ] || need "no $IMAGES/$f (run ./vsst images)"
done
if [ "$NSST" -gt 0 ]; then
	{ [ -n "$SIM" ] && [ -x "$SIM" ]; } || need "no sst-sim in VSST_BIN='$BIN'"
	devices=$(timeout 30 "$QEMU" -device help 2>/dev/null)
	grep -q '"virtio-sst-pci"' <<<"$devices" || need "$QEMU has no virtio-sst-pci device"
	# An image built before the driver existed cannot pass; say so clearly.
	# (listed in full first: grep -q would end the pipe early under pipefail)
	listing=$(gzip -dc "$IMAGES/initramfs.cpio.gz" | cpio -t --quiet 2>/dev/null)
	if ! grep -q '/virtio_sst\.ko$' <<<"$listing"; then
		need "$IMAGES/initramfs.cpio.gz has no virtio_sst.ko (see ./vsst images output)"
	fi
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/vsst-mono.XXXXXX") || fail "mktemp"
CONSOLE=$WORK/console.log
PIDS=()

# Stops everything this script started: TERM, a bounded wait, then KILL.
cleanup() {
	local pid i
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for i in $(seq 50); do
		local alive=0
		for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
	if [ "${VSST_E2E_KEEP:-0}" = 1 ]; then say "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'say "interrupted"; exit 1' INT TERM HUP

# Children run under timeout(1) so they die by themselves even if this script
# is killed without a chance to clean up (e.g. by ctest's own timeout).
CHILD_BOUND=$((TIMEOUT + 60))

start_sim() {
	local i=$1
	local sock=$WORK/sim$i.sock
	# shellcheck disable=SC2086 # VSST_SIM_ARGS is a list of words
	timeout -k 5 "$CHILD_BOUND" "$SIM" --socket "$sock" ${VSST_SIM_ARGS:-} \
		>"$WORK/sim$i.log" 2>&1 &
	PIDS+=($!)
	local pid=$! n=100
	while [ ! -S "$sock" ]; do
		kill -0 "$pid" 2>/dev/null || { cat "$WORK/sim$i.log"; fail "sst-sim $i exited at start"; }
		[ $n -le 0 ] && { cat "$WORK/sim$i.log"; fail "sst-sim $i did not create $sock in 10 s"; }
		n=$((n - 1)); sleep 0.1
	done
}

QEMU_ARGS=(-accel tcg -machine pc -m "$MEMORY" -nodefaults -no-user-config
	-display none -no-reboot -serial "file:$CONSOLE"
	-kernel "$IMAGES/vmlinuz" -initrd "$IMAGES/initramfs.cpio.gz")
for ((i = 0; i < NSST; i++)); do
	start_sim "$i"
	QEMU_ARGS+=(-device "virtio-sst-pci,socket=$WORK/sim$i.sock")
done
[ $RNG = 1 ] && QEMU_ARGS+=(-device virtio-rng-pci)
if [ $BLK = 1 ]; then
	# shellcheck disable=SC2054 # the commas are QEMU's option syntax
	QEMU_ARGS+=(-drive "file=$IMAGES/disk.img,format=raw,if=none,id=vsstdisk,readonly=on"
		-device virtio-blk-pci,drive=vsstdisk)
fi
CMDLINE="console=ttyS0 quiet panic=-1 vsst.ndev=$NSST${RUN_LIST:+ vsst.run=$RUN_LIST}$APPEND"
QEMU_ARGS+=(-append "$CMDLINE")

say "kernel $(cat "$IMAGES/kernel-version"), QEMU $QEMU, $NSST virtio-sst device(s)"
say "cmdline: $CMDLINE"
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }
: >"$CONSOLE"
T0=$(date +%s.%N)
timeout -k 5 "$CHILD_BOUND" "$QEMU" "${QEMU_ARGS[@]}" >"$WORK/qemu.log" 2>&1 &
QPID=$!
PIDS+=("$QPID")

# Waits for QEMU to exit (the guest powers off), noting when /init started.
BOOT_WALL="" TIMED_OUT=0
deadline=$(($(date +%s) + TIMEOUT))
while kill -0 "$QPID" 2>/dev/null; do
	if [ -z "$BOOT_WALL" ] && grep -aq 'VSST-BOOT init' "$CONSOLE"; then
		BOOT_WALL=$(since "$T0")
	fi
	if [ "$(date +%s)" -ge "$deadline" ]; then TIMED_OUT=1; break; fi
	sleep 0.1
done
if [ $TIMED_OUT = 0 ]; then wait "$QPID"; QRC=$?; else QRC=timeout; fi
RUN_WALL=$(since "$T0")
[ -n "$CONSOLE_COPY" ] && cp "$CONSOLE" "$CONSOLE_COPY"

# Result lines start a line, or follow a kernel message printed on the same line.
RESULTS=$(tr -d '\r' <"$CONSOLE" | grep -aoE '(^|\] )VSST-RESULT .*' | sed 's/^\] //')
GUEST_UPTIME=$(grep -ao 'VSST-BOOT init uptime=[0-9.]*' "$CONSOLE" | head -n 1 | sed 's/.*uptime=//')

problems=()
[ $TIMED_OUT = 1 ] && problems+=("guest did not power off within ${TIMEOUT}s")
[ "$QRC" = 0 ] || [ "$QRC" = timeout ] || problems+=("QEMU exited with status $QRC")
[ -n "$GUEST_UPTIME" ] || problems+=("/init never started (no VSST-BOOT line)")
# /init's summary is the last one and comes after the last app finished; an
# app's own summary line (inside its VSST-RUN bracket) must not stand in for it.
summary=$(tr -d '\r' <"$CONSOLE" | awk '
	/VSST-RUN end / { s = "" }
	/(^|\] )VSST-RESULT summary / { s = $0; sub(/^.*VSST-RESULT/, "VSST-RESULT", s) }
	END { print s }')
if [ -z "$summary" ]; then
	problems+=("no VSST-RESULT summary line")
else
	npass=$(sed -n 's/.* pass=\([0-9]*\).*/\1/p' <<<"$summary")
	nfail=$(sed -n 's/.* fail=\([0-9]*\).*/\1/p' <<<"$summary")
	[ "${nfail:-x}" = 0 ] || problems+=("guest reports fail=${nfail:-?}")
	[ "${npass:-0}" -ge "$MIN_PASS" ] || problems+=("guest reports pass=${npass:-0} < $MIN_PASS")
fi
for name in "${EXPECT[@]}"; do
	line=$(awk -v n="$name" '$2 == n' <<<"$RESULTS" | tail -n 1)
	[ -n "$line" ] || { problems+=("no result for $name"); continue; }
	[ "$(awk '{ print toupper($3) }' <<<"$line")" = PASS ] || problems+=("${line#VSST-RESULT }")
done
for re in "${EXPECT_LINES[@]}"; do
	grep -aEq -- "$re" "$CONSOLE" || problems+=("no console line matches /$re/")
done
while read -r line; do
	[ -n "$line" ] && problems+=("${line#VSST-RESULT }")
done < <(awk -v seen=" ${EXPECT[*]} " 'toupper($3) != "PASS" && toupper($3) != "SKIP" &&
	$2 != "summary" && index(seen, " " $2 " ") == 0' <<<"$RESULTS")

if [ ${#problems[@]} -gt 0 ] || [ $QUIET = 0 ]; then
	echo "----- guest console -----"
	tr -d '\r' <"$CONSOLE"
	echo "----- end of console -----"
	if [ ${#problems[@]} -gt 0 ]; then
		[ -s "$WORK/qemu.log" ] && { echo "----- QEMU stderr -----"; cat "$WORK/qemu.log"; }
		for ((i = 0; i < NSST; i++)); do
			echo "----- sst-sim $i log (tail) -----"; tail -n 20 "$WORK/sim$i.log"
		done
	fi
fi
say "boot: /init after ${BOOT_WALL:-?} s wall (guest uptime ${GUEST_UPTIME:-?} s); whole run ${RUN_WALL} s"
say "results: $(grep -c . <<<"$RESULTS") lines, ${summary:-no summary}"
if [ ${#problems[@]} -gt 0 ]; then
	for p in "${problems[@]}"; do say "problem: $p"; done
	fail "${#problems[@]} problem(s)"
fi
say "PASS"
