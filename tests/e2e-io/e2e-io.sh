#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Bulk I/O devices through the split (vmm-proxy/README.md "Networks and consoles"):
#   lan        two split guests (two vmm-proxy runs) on one virtual LAN: ping, then 16 MiB
#              over TCP each way, sha256 matched on both ends; the virtio-net lives in the
#              sandboxed device VM, which gets the LAN as a descriptor and no host NIC
#   console    virtio-console: 1 MiB of patterned data host->guest and guest->host through
#              /dev/hvc0 and the launcher's socket, checksummed on both ends
#   blk_write  a writable virtio-blk image: 16 MiB the guest writes (O_DIRECT) are in the
#              host's image after the run, sha256 matched
#   run_net    ./vsst run's front end with --net and --control: two runs on one LAN, 1 MiB
#              across, eth0's address and MAC as asked, /dev/hvc0 present
# usage: e2e-io.sh <case>; ctest names them e2e.io_<case>. Exit 0 pass, 1 fail, 77 skip.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SPLIT_NAME="e2e-io ${1:-}"
# shellcheck source=../../vmm-proxy/split-lib.sh
source "$HERE/../../vmm-proxy/split-lib.sh"

CASE=${1:-}
[ -n "$CASE" ] || { echo "usage: e2e-io.sh <case>" >&2; exit 2; }
split_find_pieces split
listing=$(gzip -dc "$IMAGES/initramfs.cpio.gz" | cpio -t --quiet 2>/dev/null)
for f in virtio_net.ko virtio_console.ko usr/bin/vsst-io; do
	grep -q "$f\$" <<<"$listing" || split_need "$IMAGES/initramfs.cpio.gz has no $f (run ./vsst images)"
done
split_workdir

# show <name>: a run's vmm-proxy log and console end.
show() { split_show "$WORK/$1.log" "$WORK/$1.console" "$1"; }

# The device VM of the run with token $1: checks that it serves <device> ($2), has no NIC
# but the one on an inherited socket ($3: the host path that must not appear), is
# sandboxed and does not run as root.
check_device_vm() {
	local token=$1 dev=$2 path=$3 p cmd dcmd="" dpid="" gcmd="" duid want bad=0
	for p in /proc/[0-9]*; do
		cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
		[[ $cmd == *qemu* ]] || continue
		if [[ $cmd == *"device,process=$token"* ]]; then dcmd=$cmd; dpid=${p#/proc/}; fi
		[[ $cmd == *"guest,process=$token"* ]] && gcmd=$cmd
	done
	[ -n "$dcmd" ] && [ -n "$gcmd" ] || { split_say "device VM or guest VM of $token not found"; return 1; }
	[[ $dcmd == *"-device $dev"* ]] || { split_say "no $dev on the device VM's command line"; bad=1; }
	[[ $dcmd == *"$path"* ]] && { split_say "the device VM's command line names $path"; bad=1; }
	[[ $dcmd == *"-nic none"* ]] || { split_say "the device VM lacks -nic none"; bad=1; }
	[[ $dcmd == *"-netdev "*"tap"* || $dcmd == *"-netdev user"* ]] && { split_say "the device VM has a host NIC"; bad=1; }
	[[ $dcmd == *"-sandbox on,"*"spawn=deny"* ]] || { split_say "the device VM is not sandboxed"; bad=1; }
	[[ $gcmd == *"$dev"* || $gcmd == *"-netdev"* || $gcmd == *"-chardev socket"* ]] &&
		{ split_say "the guest VM's QEMU has a $dev of its own"; bad=1; }
	# As root the launcher drops the device VM to an unprivileged identity (nobody, or an
	# id of its own with --run-as auto); otherwise it runs as the launcher's user.
	duid=$(awk '/^Uid:/ { print $2 }' "/proc/$dpid/status")
	if [ "$(id -u)" = 0 ]; then
		[ -n "$duid" ] && [ "$duid" != 0 ] || { split_say "device VM runs as uid ${duid:-?} (root)"; bad=1; }
	else
		[ "$duid" = "$(id -u)" ] || { split_say "device VM runs as uid $duid, want $(id -u)"; bad=1; }
	fi
	split_say "device VM pid $dpid (uid $duid): $dev on a descriptor, sandboxed, no host NIC"
	return $bad
}

# The framed output of -- CMD (stdout of vmm-proxy) has "KEY value" lines.
field() { tr -d '\r' <"$1" | awk -v k="$2" '$1 == k { print $2; exit }'; }

case "$CASE" in
lan)
	LAN=$WORK/lan.sock
	# Each guest makes 16 MiB of random data, pings the other (which may still be booting:
	# bounded retry), sends its data to the other's port and receives the other's.
	# A receives first, B sends first: neither waits on the other forever (vsst-io send
	# retries its connection for 60 s).
	guest_script() {
		local peer=$1 first=$2
		cat <<EOF
set -e
head -c 16777216 /dev/urandom >/tmp/mine
echo "SENT \$(sha256sum </tmp/mine | cut -d' ' -f1)"
n=0
until ping -c 1 -W 1 $peer >/dev/null 2>&1; do
	n=\$((n + 1)); [ \$n -lt 120 ] || { echo "PING fail"; exit 1; }
done
ping -c 3 -W 5 $peer >/tmp/ping.out && echo "PING ok" || { cat /tmp/ping.out; echo "PING fail"; exit 1; }
if [ $first = recv ]; then
	echo "GOT \$(vsst-io recv 5001 | sha256sum | cut -d' ' -f1)"
	vsst-io send $peer 5002 </tmp/mine
else
	vsst-io send $peer 5001 </tmp/mine
	echo "GOT \$(vsst-io recv 5002 | sha256sum | cut -d' ' -f1)"
fi
EOF
	}
	: >"$WORK/a.console"
	: >"$WORK/b.console"
	split_vmm_proxy "$WORK/a.console" "$WORK/a.log" --timeout 500 \
		--device "virtio-net,lan=$LAN" --append vsst.net.addr=192.0.2.1/24 \
		-- sh -c "$(guest_script 192.0.2.2 recv)"
	PID_A=$VMM_PID TOKEN_A=$SPLIT_TOKEN
	n=100
	until [ -S "$LAN" ] || [ $n -le 0 ]; do n=$((n - 1)); sleep 0.1; done
	[ -S "$LAN" ] || { show a; split_fail "the first run did not open the LAN at $LAN"; }
	split_vmm_proxy "$WORK/b.console" "$WORK/b.log" --timeout 500 \
		--device "virtio-net,lan=$LAN" --append vsst.net.addr=192.0.2.2/24 \
		-- sh -c "$(guest_script 192.0.2.1 send)"
	PID_B=$VMM_PID TOKEN_B=$SPLIT_TOKEN
	bad=0
	VMM_PID=$PID_B
	if split_wait_console "$WORK/b.console" 'init.net PASS' 300; then
		check_device_vm "$TOKEN_A" virtio-net-pci "$LAN" || bad=1
		check_device_vm "$TOKEN_B" virtio-net-pci "$LAN" || bad=1
	else
		split_say "guest B never configured its network"
		bad=1
	fi
	split_wait_vmm 560
	RC_B=$VMM_RC
	VMM_PID=$PID_A
	split_wait_vmm 120
	RC_A=$VMM_RC
	grep -q 'listening for the peer on' "$WORK/a.log" || { split_say "run A did not open the LAN"; bad=1; }
	grep -q 'joined the LAN' "$WORK/b.log" || { split_say "run B did not join the LAN"; bad=1; }
	for r in a b; do
		for k in SENT GOT PING; do
			eval "${k}_$r=\$(field \"\$WORK/$r.log.out\" $k)"
		done
	done
	# shellcheck disable=SC2154 # set by the eval above
	split_say "A: exit $RC_A ping=${PING_a:-} sent=${SENT_a:-} got=${GOT_a:-}"
	# shellcheck disable=SC2154
	split_say "B: exit $RC_B ping=${PING_b:-} sent=${SENT_b:-} got=${GOT_b:-}"
	[ "$RC_A" = 0 ] && [ "$RC_B" = 0 ] || { split_say "want both runs to exit 0"; bad=1; }
	[ "${PING_a:-}" = ok ] && [ "${PING_b:-}" = ok ] || { split_say "ping failed"; bad=1; }
	[ -n "${SENT_a:-}" ] && [ "${SENT_a:-}" = "${GOT_b:-}" ] || { split_say "A->B checksum mismatch"; bad=1; }
	[ -n "${SENT_b:-}" ] && [ "${SENT_b:-}" = "${GOT_a:-}" ] || { split_say "B->A checksum mismatch"; bad=1; }
	[ "${SENT_a:-x}" != "${SENT_b:-x}" ] || { split_say "both guests sent the same data"; bad=1; }
	[ -e "$LAN" ] && { split_say "$LAN left behind"; bad=1; }
	split_leftovers || bad=1
	SPLIT_TOKEN=$TOKEN_A
	split_leftovers || bad=1
	if [ $bad != 0 ]; then
		show a
		show b
		split_fail "lan"
	fi
	split_say PASS
	;;
console)
	SOCK=$WORK/console.sock
	PATTERN='vsst-console-pattern 0123456789abcdefghijklmnopqrstuvwxyz'
	# The guest holds /dev/hvc0 open in raw mode (no echo, no newline translation),
	# says READY, reads 1 MiB from the host, then writes 1 MiB of the pattern.
	script="set -e
exec 3<>/dev/hvc0
stty raw -echo <&3
printf 'READY\n' >&3
echo \"GOT \$(head -c 1048576 <&3 | sha256sum | cut -d' ' -f1)\"
yes '$PATTERN' | head -c 1048576 >&3
echo WROTE"
	want=$(yes "$PATTERN" | head -c 1048576 | sha256sum | cut -d' ' -f1)
	: >"$WORK/c.console"
	split_vmm_proxy "$WORK/c.console" "$WORK/c.log" --timeout 400 \
		--device "virtio-console,socket=$SOCK" -- sh -c "$script"
	# The host end: connects as soon as the launcher has created the socket, waits for
	# READY, sends 1 MiB of a different pattern, reads the guest's 1 MiB.
	python3 - "$SOCK" "$PATTERN" >"$WORK/host.out" 2>&1 <<'PY' &
import hashlib, socket, sys, time
path, pattern = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
deadline = time.time() + 60
while True:
    try:
        s.connect(path)
        break
    except OSError:
        if time.time() > deadline:
            raise
        time.sleep(0.05)
s.settimeout(300)
buf = b""
while b"READY\n" not in buf:
    chunk = s.recv(65536)
    if not chunk:
        sys.exit("EOF before READY")
    buf += chunk
rest = buf.split(b"READY\n", 1)[1]
out = bytes((i * 7 + 3) & 0xff for i in range(256)) * 4096
print("HOSTSENT", hashlib.sha256(out).hexdigest(), flush=True)
s.sendall(out)
got = rest
while len(got) < 1048576:
    chunk = s.recv(1048576 - len(got))
    if not chunk:
        break
    got += chunk
print("HOSTGOT", hashlib.sha256(got[:1048576]).hexdigest(), len(got), flush=True)
PY
	HOST_PID=$!
	SPLIT_PIDS+=("$HOST_PID")
	bad=0
	if split_wait_console "$WORK/c.console" 'init.modules' 300; then
		check_device_vm "$SPLIT_TOKEN" virtconsole "$SOCK" || bad=1
	fi
	split_wait_vmm 460
	wait "$HOST_PID"
	HOST_RC=$?
	cat "$WORK/host.out"
	hostsent=$(field "$WORK/host.out" HOSTSENT)
	hostgot=$(field "$WORK/host.out" HOSTGOT)
	got=$(field "$WORK/c.log.out" GOT)
	split_say "vmm-proxy exit $VMM_RC, host end exit $HOST_RC"
	split_say "host->guest: sent $hostsent, guest got $got"
	split_say "guest->host: want $want, host got $hostgot"
	[ "$VMM_RC" = 0 ] && [ "$HOST_RC" = 0 ] || bad=1
	[ -n "$hostsent" ] && [ "$hostsent" = "$got" ] || { split_say "host->guest mismatch"; bad=1; }
	[ "$hostgot" = "$want" ] || { split_say "guest->host mismatch"; bad=1; }
	grep -q '^WROTE' <(tr -d '\r' <"$WORK/c.log.out") || { split_say "the guest did not finish writing"; bad=1; }
	[ -e "$SOCK" ] && { split_say "$SOCK left behind"; bad=1; }
	split_leftovers || bad=1
	[ $bad = 0 ] || { show c; split_fail console; }
	split_say PASS
	;;
blk_write)
	IMG=$WORK/scratch.img
	truncate -s 32M "$IMG"
	before=$(sha256sum <"$IMG" | cut -d' ' -f1)
	# 16 MiB of random data at offset 1 MiB, O_DIRECT, then flushed; the guest prints
	# the checksum of what it wrote.
	script="set -e
head -c 16777216 /dev/urandom >/tmp/data
echo \"WROTE \$(sha256sum </tmp/data | cut -d' ' -f1)\"
dd if=/tmp/data of=/dev/vda bs=1M seek=1 oflag=direct conv=fsync 2>/dev/null
echo \"READBACK \$(dd if=/dev/vda bs=1M skip=1 count=16 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)\""
	: >"$WORK/w.console"
	split_vmm_proxy "$WORK/w.console" "$WORK/w.log" --timeout 400 \
		--device "virtio-blk,file=$IMG" -- sh -c "$script"
	split_wait_vmm 460
	wrote=$(field "$WORK/w.log.out" WROTE)
	readback=$(field "$WORK/w.log.out" READBACK)
	host=$(dd if="$IMG" bs=1M skip=1 count=16 2>/dev/null | sha256sum | cut -d' ' -f1)
	head_ok=$(head -c 1048576 "$IMG" | tr -d '\0' | wc -c)
	split_say "vmm-proxy exit $VMM_RC; guest wrote $wrote, read back $readback; host image $host"
	bad=0
	[ "$VMM_RC" = 0 ] || bad=1
	[ -n "$wrote" ] && [ "$wrote" = "$host" ] && [ "$wrote" = "$readback" ] || { split_say "checksum mismatch"; bad=1; }
	[ "$head_ok" = 0 ] || { split_say "the first MiB (not written) changed"; bad=1; }
	[ "$(sha256sum <"$IMG" | cut -d' ' -f1)" != "$before" ] || { split_say "image unchanged"; bad=1; }
	split_leftovers || bad=1
	[ $bad = 0 ] || { show w; split_fail blk_write; }
	split_say PASS
	;;
run_net)
	# ./vsst run's front end (vmm-proxy/run.sh) with --net and --control: guest A receives
	# 1 MiB over the LAN and prints its checksum; guest B (also with a control console)
	# checks eth0's address and /dev/hvc0, then sends.
	LAN=$WORK/runlan.sock CTL=$WORK/ctl.sock
	RUN_SH=$SPLIT_ROOT/vmm-proxy/run.sh
	"$RUN_SH" --quiet --timeout 300 --net "$LAN,addr=192.0.2.1/24" \
		-- sh -c 'vsst-io recv 5000 | sha256sum' >"$WORK/ra.out" 2>"$WORK/ra.err" &
	PID_A=$!
	SPLIT_PIDS+=("$PID_A")
	n=300
	until [ -S "$LAN" ] || [ $n -le 0 ]; do n=$((n - 1)); sleep 0.1; done
	"$RUN_SH" --quiet --timeout 300 --net "$LAN,addr=192.0.2.2/24,mac=52:54:00:00:00:02" --control "$CTL" \
		-- sh -c 'test -c /dev/hvc0 && echo "HVC ok"
ip -4 addr show eth0 | grep -q "inet 192.0.2.2/24" && echo "ADDR ok"
grep -qx 52:54:00:00:00:02 /sys/class/net/eth0/address && echo "MAC ok"
head -c 1048576 /dev/zero | vsst-io send 192.0.2.1 5000' >"$WORK/rb.out" 2>"$WORK/rb.err"
	RC_B=$?
	wait "$PID_A"
	RC_A=$?
	want=$(head -c 1048576 /dev/zero | sha256sum | cut -d' ' -f1)
	# The console carries the command's stderr too (vsst-io's byte count).
	got=$(tr -d '\r' <"$WORK/ra.out" | grep -Eo '^[0-9a-f]{64}' | head -n 1)
	split_say "run A exit $RC_A, received $got; run B exit $RC_B: $(tr -d '\r' <"$WORK/rb.out" | tr '\n' ' ')"
	bad=0
	[ "$RC_A" = 0 ] && [ "$RC_B" = 0 ] || bad=1
	[ "$got" = "$want" ] || { split_say "checksum: want $want"; bad=1; }
	for w in HVC ADDR MAC; do
		grep -q "^$w ok" <(tr -d '\r' <"$WORK/rb.out") || { split_say "guest B: no '$w ok'"; bad=1; }
	done
	[ -e "$LAN" ] || [ -e "$CTL" ] && { split_say "socket files left behind"; bad=1; }
	if [ $bad != 0 ]; then
		tail -n 20 "$WORK/ra.err" "$WORK/rb.err"
		split_fail run_net
	fi
	split_say PASS
	;;
*)
	echo "e2e-io.sh: unknown case '$CASE'" >&2
	exit 2
	;;
esac
exit 0
