#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# run.sh - `./vsst run`, the front end (called once everything is built):
#   ./vsst run                          the demo (run-main.sh: sst-test, sst-bench, rng, blk)
#   ./vsst run [options] -- CMD [ARG]...  run CMD in the guest of the split; exit with its status
#   ./vsst run [options] --shell        an interactive guest shell (Ctrl-] quits)
# It starts the simulators (--sim), vmm-proxy (guest VM + device VM with the devices),
# streams the command's output, tears everything down, and can write a report.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SPLIT_NAME="vsst run"
# shellcheck source=split-lib.sh
source "$HERE/split-lib.sh"

usage() {
	cat <<'EOF'
usage: ./vsst run                                the demo (unchanged)
       ./vsst run [options] -- CMD [ARG]...      run CMD in the guest, exit with its status
       ./vsst run [options] --shell              interactive guest shell; Ctrl-] quits

The guest is Linux in a QEMU VM whose devices live in a separate, sandboxed device VM
(virtio-sst /dev/sstN backed by a simulator, virtio-rng, and the --share folder).

Options:
  --share DIR[:ro]      host folder DIR at /mnt/host in the guest (virtio-9p served by the
                        device VM); rw by default; CMD runs there and PATH includes it
  --sim SPEC            the simulator behind each virtio-sst device (default sst-sim):
                          sst-sim[:OPT,OPT...]  the project's sst-sim, one per device, OPTs
                                                passed through (e.g. sst-sim:--compute-units=8)
                          sst:CONFIG.py[,ranks=N]  SST-core's `sst` with the vsst element on
                                                CONFIG.py (under mpirun -np N with ranks=N);
                                                device i connects to $VSST_SOCKET_DIR/sst<i>.sock
                          socket:PATH[,protocol=acalsim]
                                                a simulator you started; every device
                                                connects to PATH (framed protocol, or
                                                acalsim: raw SSTRequest/SSTResponse)
  --net LAN[,addr=A.B.C.D/N][,mac=MAC]
                        a virtio-net (eth0, served by the device VM) on the virtual LAN
                        whose Unix socket is LAN: the first run listens there, a second
                        run with the same LAN joins it (two guests, point to point; no
                        host network). addr=: eth0's IPv4 address (use 192.0.2.0/24);
                        IPv6 link-local always. E.g. two terminals:
                          ./vsst run --net /tmp/lan,addr=192.0.2.1/24 --shell
                          ./vsst run --net /tmp/lan,addr=192.0.2.2/24 -- ping -c 3 192.0.2.1
  --control PATH        a virtio-console: the guest's /dev/hvc0 is the Unix socket PATH
                        on the host (created by the launcher; connect to it once it exists)
  --devices N           virtio-sst devices (0..8, default 1)
  --memory SIZE         guest RAM (default 512M)
  --smp N               guest vCPUs (default 1)
  --isolate per-device  one device VM per device
  --accel tcg|kvm|auto  guest engine (default tcg)
  --timing free|sync    free (default): the guest runs on the host's clock; sync: the
                        guest's clock counts its instructions and each virtio-sst answer
                        arrives at its simulated time, the same in every run (README
                        "Synchronized time"; sst-sim, TCG)
  --arch ARCH           guest architecture: x86_64 (default), riscv64 or aarch64 (TCG;
                        their QEMU target and image are built on first use)
  --trace FILE          record the device VM's RPC trace (trace/TRACE.md)
  --timeout S           stop everything after S seconds (default: no bound)
  --restart N           a device VM that dies is replaced (up to N times a minute); the
                        guest keeps running (virtio-sst, -blk, -rng; vmm-proxy/README.md "Restart")
  --console FILE        keep the whole guest console in FILE
  --report FILE.json    machine-readable record of the run (report/SCHEMA.md)
  --report-html FILE    the same as one self-contained HTML page with plots
  --quiet               no progress lines (errors and the command's output only)
  -h, --help            this text

Exit status with -- CMD: CMD's own status (126/127: not executable / not found in the
guest); 125 vsst itself failed (bad option, a process died, timeout; one line says why);
130 interrupted. Without CMD: 0 passed, 1 failed, 2 usage, 3 a process died,
4 timeout, 130 interrupted.
EOF
}

# ---------------------------------------------------------------- options
NET="" CONTROL="" SHARE="" SIMSPEC="sst-sim" NDEV=1 MEMORY="" SMP="" ISOLATE="" ACCEL="" TRACE="" TIMEOUT="" RESTART=""
TIMING=""
CONSOLE_COPY="" REPORT="" REPORT_HTML="" QUIET=0 SHELL_MODE=0 CMD=() DEMO_ARGS=()
[ $# -eq 0 ] && exec "$HERE/run-main.sh"
FAIL_STATUS=2 # usage errors: 2, or 125 once we know a CMD follows
for a in "$@"; do [ "$a" = -- ] && FAIL_STATUS=125; done
die() {
	echo "vsst run: $*" >&2
	exit "$FAIL_STATUS"
}
need_value() { [ $# -ge 2 ] || die "$1 needs a value (see --help)"; }
while [ $# -gt 0 ]; do
	case "$1" in
	-h | --help) usage; exit 0 ;;
	--share) need_value "$@"; SHARE=$2; shift ;;
	--net) need_value "$@"; NET=$2; shift ;;
	--control) need_value "$@"; CONTROL=$2; shift ;;
	--sim) need_value "$@"; SIMSPEC=$2; shift ;;
	--devices) need_value "$@"; NDEV=$2; shift ;;
	--memory) need_value "$@"; MEMORY=$2; shift ;;
	--smp) need_value "$@"; SMP=$2; shift ;;
	--isolate) need_value "$@"; ISOLATE=$2; shift ;;
	--accel) need_value "$@"; ACCEL=$2; shift ;;
	--timing) need_value "$@"; TIMING=$2; shift ;;
	--arch) need_value "$@"; export VSST_ARCH=$2; shift ;;
	--trace) need_value "$@"; TRACE=$2; shift ;;
	--timeout) need_value "$@"; TIMEOUT=$2; shift ;;
	--restart) need_value "$@"; RESTART=$2; shift ;;
	--console) need_value "$@"; CONSOLE_COPY=$2; shift ;;
	--report) need_value "$@"; REPORT=$2; shift ;;
	--report-html) need_value "$@"; REPORT_HTML=$2; shift ;;
	--quiet) QUIET=1 ;;
	--shell) SHELL_MODE=1 ;;
	--) shift; CMD=("$@"); break ;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
	shift
done
[ $SHELL_MODE = 1 ] && [ ${#CMD[@]} -gt 0 ] && die "--shell and -- CMD exclude each other"
case "${VSST_ARCH:-x86_64}" in x86_64 | riscv64 | aarch64) ;; *) die "--arch: want x86_64, riscv64 or aarch64" ;; esac
if [ $SHELL_MODE = 0 ] && [ ${#CMD[@]} -eq 0 ]; then
	# Options without a command: the demo with those of its options that apply.
	[ -n "$SHARE$REPORT$REPORT_HTML$NET$CONTROL" ] || [ "$SIMSPEC" != sst-sim ] || [ "$NDEV" != 1 ] &&
		die "--share, --net, --control, --sim, --devices and --report need -- CMD or --shell"
	[ -n "$TIMING" ] && die "--timing needs -- CMD or --shell"
	[ -n "$ISOLATE" ] && DEMO_ARGS+=(--isolate "$ISOLATE")
	[ -n "$ACCEL" ] && DEMO_ARGS+=(--accel "$ACCEL")
	[ -n "$RESTART" ] && DEMO_ARGS+=(--restart "$RESTART")
	[ -n "$TIMEOUT" ] && DEMO_ARGS+=(--timeout "$TIMEOUT")
	[ -n "$CONSOLE_COPY" ] && DEMO_ARGS+=(--console "$CONSOLE_COPY")
	exec "$HERE/run-main.sh" "${DEMO_ARGS[@]}"
fi
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
case "$TIMING" in
'' | free | sync) ;;
*) die "--timing: want free or sync, not '$TIMING'" ;;
esac
is_uint "$NDEV" && [ "$NDEV" -le 8 ] || die "--devices: want 0..8, not '$NDEV'"
[ -z "$TIMEOUT" ] || is_uint "$TIMEOUT" || die "--timeout: want seconds, not '$TIMEOUT'"
[ -z "$RESTART" ] || is_uint "$RESTART" || die "--restart: want a count, not '$RESTART'"
if [ -n "$SHARE" ]; then
	share_dir=${SHARE%:ro}
	[ -e "$share_dir" ] || die "--share $share_dir: no such folder"
	[ -d "$share_dir" ] || die "--share $share_dir: not a folder"
fi
NET_DEVICE="" NET_ADDR=""
if [ -n "$NET" ]; then
	IFS=, read -r -a net_parts <<<"$NET"
	[ -n "${net_parts[0]:-}" ] || die "--net: want LAN[,addr=A.B.C.D/N][,mac=MAC]"
	NET_DEVICE="virtio-net,lan=${net_parts[0]}"
	for p in "${net_parts[@]:1}"; do
		case "$p" in
		addr=*)
			NET_ADDR=${p#addr=}
			[[ $NET_ADDR =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$ ]] ||
				die "--net: addr= wants A.B.C.D/N, not '$NET_ADDR'"
			;;
		mac=*) NET_DEVICE+=",$p" ;;
		*) die "--net: unknown option '$p' (addr=, mac=)" ;;
		esac
	done
fi
SIM_KIND=${SIMSPEC%%:*}
SIM_ARG=""
[ "$SIM_KIND" != "$SIMSPEC" ] && SIM_ARG=${SIMSPEC#*:}
case "$SIM_KIND" in
sst-sim) ;;
sst)
	[ -n "$SIM_ARG" ] || die "--sim sst:CONFIG.py needs the configuration file"
	SST_CONFIG=${SIM_ARG%%,*} SST_RANKS=1
	case "$SIM_ARG" in *,ranks=*) SST_RANKS=${SIM_ARG##*,ranks=} ;; *,*) die "--sim $SIMSPEC: the only option is ranks=N" ;; esac
	is_uint "$SST_RANKS" && [ "$SST_RANKS" -ge 1 ] || die "--sim $SIMSPEC: ranks wants a number >= 1"
	[ -f "$SST_CONFIG" ] || die "--sim $SIMSPEC: no such file $SST_CONFIG"
	command -v sst >/dev/null ||
		die "--sim sst:...: SST-core's 'sst' is not on PATH (build SST-core 16.0.0 with the vsst element, see sst-element/README.md)"
	if [ "$SST_RANKS" -gt 1 ]; then
		command -v mpirun >/dev/null || die "--sim ...,ranks=$SST_RANKS: no mpirun (apt-get install openmpi-bin)"
		sst --version 2>&1 | grep -qi 'mpi' || sst-config --MPI 2>/dev/null | grep -q . ||
			die "--sim ...,ranks=$SST_RANKS: this sst was built without MPI"
	fi
	;;
socket)
	SIM_PROTOCOL=""
	case "$SIM_ARG" in
	*,protocol=framed | *,protocol=acalsim) SIM_PROTOCOL=${SIM_ARG##*,protocol=}; SIM_ARG=${SIM_ARG%,protocol=*} ;;
	*,*) die "--sim $SIMSPEC: the only option is protocol=framed|acalsim" ;;
	esac
	[ -n "$SIM_ARG" ] || die "--sim socket:PATH needs the socket path"
	[ -S "$SIM_ARG" ] || die "--sim socket:$SIM_ARG: not a Unix socket (is the simulator running?)"
	;;
*) die "--sim '$SIMSPEC': want sst-sim[:OPTS], sst:CONFIG.py[,ranks=N] or socket:PATH" ;;
esac

# ./vsst checks the command line before it builds anything.
[ "${VSST_RUN_CHECK_ONLY:-0}" = 1 ] && exit 0

say() { [ $QUIET = 1 ] || split_progress "$*"; }

# ---------------------------------------------------------------- pieces
export VSST_REQUIRE_ALL=1
SPLIT_FAIL_STATUS=$FAIL_STATUS
split_find_pieces split
split_workdir
T0=$SECONDS

# ---------------------------------------------------------------- simulators
# The simulators admit only the device VMs: as root they run as ids of their own
# from this range (vmm-proxy --run-as auto, given the same --id-range below), and
# root; otherwise as us.
ID_RANGE=2100000000-2100065535
if [ "$(id -u)" = 0 ]; then PEER_UIDS="0,$ID_RANGE"; else PEER_UIDS=$(id -u); fi
SIM_SOCKS=()
start_sims() {
	local i
	case "$SIM_KIND" in
	sst-sim)
		local opts=()
		[ -n "$SIM_ARG" ] && IFS=, read -r -a opts <<<"$SIM_ARG"
		for ((i = 0; i < NDEV; i++)); do
			say "starting sst-sim for /dev/sst$i"
			# Statistics for the report: written by sst-sim when it stops.
			local stats=""
			[ -n "$REPORT$REPORT_HTML" ] && stats="--stats-out $WORK/sim$i.stats.json"
			# --restart: a new device VM finds its device memory in the simulator.
			[ -n "$RESTART" ] && [ "$RESTART" != 0 ] && stats+=" --resume-window 60"
			VSST_SIM_ARGS="--status-interval 0 --peer-uids $PEER_UIDS $stats ${opts[*]}" \
				SPLIT_CHILD_BOUND=${TIMEOUT:-2592000} split_start_sim "$i"
			SIM_SOCKS+=("$WORK/sim$i.sock")
		done
		;;
	sst)
		say "starting SST-core on $SST_CONFIG${SST_RANKS:+ ($SST_RANKS rank(s))}"
		local launcher=(sst)
		[ "$SST_RANKS" -gt 1 ] && launcher=(mpirun --allow-run-as-root -np "$SST_RANKS" sst)
		(umask 000 && VSST_SOCKET_DIR=$WORK VSST_PEER_UIDS=$PEER_UIDS exec "${launcher[@]}" "$SST_CONFIG") >"$WORK/sst.log" 2>&1 &
		SIM_PIDS[0]=$!
		SPLIT_PIDS+=($!)
		for ((i = 0; i < NDEV; i++)); do
			local n=300
			while [ ! -S "$WORK/sst$i.sock" ]; do
				kill -0 "${SIM_PIDS[0]}" 2>/dev/null || { tail -n 20 "$WORK/sst.log" >&2; die "sst exited at start"; }
				[ $n -le 0 ] && die "sst did not create $WORK/sst$i.sock in 30 s (does $SST_CONFIG serve $NDEV device(s)?)"
				n=$((n - 1))
				sleep 0.1
			done
			SIM_SOCKS+=("$WORK/sst$i.sock")
		done
		;;
	socket)
		for ((i = 0; i < NDEV; i++)); do SIM_SOCKS+=("$SIM_ARG"); done
		;;
	esac
}
start_sims

# ---------------------------------------------------------------- vmm-proxy
ARGS=(--qemu "$QEMU" --arch "$ARCH" --guest-qemu "$GUEST_QEMU"
	--kernel "$IMAGES/vmlinuz" --initrd "$IMAGES/initramfs.cpio.gz"
	--report "$WORK/launch.json" --id-range "$ID_RANGE")
# virtio-rng answers on the host's clock: left out when the guest's time is synchronized,
# so nothing but the program decides what the guest does when.
[ "$TIMING" = sync ] || ARGS+=(--device virtio-rng)
# VSST_TIMING_NO_HOLD=1 (tests only): synchronized time without holding answers for
# their simulated time, which the determinism test must catch.
SST_EXTRA=${SIM_PROTOCOL:+,protocol=$SIM_PROTOCOL}
[ "${VSST_TIMING_NO_HOLD:-0}" = 1 ] && SST_EXTRA+=,x-timing-no-hold=on
for s in "${SIM_SOCKS[@]}"; do ARGS+=(--device "virtio-sst,sim=$s$SST_EXTRA"); done
[ -n "$SHARE" ] && ARGS+=(--share "$SHARE")
[ -n "$NET_DEVICE" ] && ARGS+=(--device "$NET_DEVICE")
[ -n "$NET_ADDR" ] && ARGS+=(--append "vsst.net.addr=$NET_ADDR")
[ -n "$CONTROL" ] && ARGS+=(--device "virtio-console,socket=$CONTROL")
[ -n "$MEMORY" ] && ARGS+=(--memory "$MEMORY")
[ -n "$SMP" ] && ARGS+=(--smp "$SMP")
[ -n "$ISOLATE" ] && ARGS+=(--isolate "$ISOLATE")
[ -n "$ACCEL" ] && ARGS+=(--accel "$ACCEL")
[ -n "$TIMING" ] && ARGS+=(--timing "$TIMING")
[ -n "$TRACE" ] && ARGS+=(--trace "$TRACE")
[ -n "$TIMEOUT" ] && ARGS+=(--timeout "$TIMEOUT")
[ -n "$RESTART" ] && ARGS+=(--restart "$RESTART")
SPLIT_TOKEN=vsst-run-$$-$RANDOM
ARGS+=(--guest-arg -name --guest-arg "guest,process=$SPLIT_TOKEN"
	--device-arg -name --device-arg "device,process=$SPLIT_TOKEN")
LOG=$WORK/vmm-proxy.log
if [ $SHELL_MODE = 1 ]; then
	say "booting the split; the guest shell follows (Ctrl-] quits)"
	"$VMM_PROXY" "${ARGS[@]}" --interactive ${CONSOLE_COPY:+--console "$CONSOLE_COPY"} 2>"$LOG"
	VMM_RC=$?
else
	say "booting the split (guest VM + device VM, ${NDEV} virtio-sst device(s)), then: ${CMD[*]}"
	"$VMM_PROXY" "${ARGS[@]}" --console "${CONSOLE_COPY:-$WORK/console.log}" -- "${CMD[@]}" 2>"$LOG"
	VMM_RC=$?
fi

# ---------------------------------------------------------------- report, verdict
stop_sims() {
	local pid
	for pid in "${SIM_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for pid in "${SIM_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
}
stop_sims
reason=$(grep -a 'exit [0-9]*$' "$LOG" | tail -n 1 | sed 's/^vmm-proxy \[.\] //; s/; exit [0-9]*$//')
if [ -n "$REPORT$REPORT_HTML" ]; then
	REPORTER=$SPLIT_ROOT/report/vsst-report
	json=${REPORT:-$WORK/report.json}
	sims=()
	for ((i = 0; i < NDEV; i++)); do
		stats=$WORK/sim$i.stats.json
		[ -f "$stats" ] || stats=- # SST-core or the user's simulator: no statistics file
		sims+=(--sim "$i=$stats,$SIMSPEC")
	done
	qemu_version=$("$QEMU" --version 2>/dev/null | head -n 1 | sed 's/^QEMU emulator version //')
	vsst_version=$(git -C "$SPLIT_ROOT" describe --always --dirty 2>/dev/null || echo unknown)
	if python3 "$REPORTER" assemble --launch "$WORK/launch.json" --devices "$NDEV" "${sims[@]}" \
		--version "qemu=$qemu_version" --version "vsst=$vsst_version" \
		--stage "build_s=${VSST_BUILD_S:-0}" -o "$json" >&2; then
		# The readable summary comes from the same data as the report.
		[ $QUIET = 1 ] || python3 "$REPORTER" text "$json" >&2
		[ -n "$REPORT" ] && say "report: $REPORT"
		if [ -n "$REPORT_HTML" ]; then
			python3 "$REPORTER" html "$json" -o "$REPORT_HTML" >&2 && say "report: $REPORT_HTML"
		fi
	else
		echo "vsst run: could not write the report" >&2
	fi
fi
if [ $SHELL_MODE = 0 ] && [ "$VMM_RC" = 125 ]; then
	echo "vsst run: ${reason:-vmm-proxy failed}" >&2
	tail -n 15 "$LOG" | sed 's/^/  /' >&2
elif [ "$VMM_RC" != 0 ] && [ $SHELL_MODE = 1 ]; then
	echo "vsst run: ${reason:-vmm-proxy exit $VMM_RC}" >&2
elif [ $QUIET = 0 ]; then
	# The guest's last line may lack its newline (a shell prompt).
	[ $SHELL_MODE = 1 ] && echo >&2
	say "${reason:-done} ($((SECONDS - T0)) s)"
fi
exit "$VMM_RC"
