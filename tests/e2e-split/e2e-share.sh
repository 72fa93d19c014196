#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The --share folder through the split: a virtio-9p device in the device VM serves a
# host directory that the guest mounts at /mnt/host (vsst.share=rw|ro).
# usage: e2e-share.sh <case>   (rw, ro; ctest: e2e.share_<case>)
#   rw  a dynamically linked C program (plain gcc), a C++ one (plain g++) and a shell
#       script placed in a fresh 0700 share run in the guest (found by PATH), write files
#       and a directory that are on the host afterwards, owned by the invoking user
#       (SUDO_UID when given; as root the test sets a made-up one to see the hand-over),
#       a host file the guest removes and creates again included;
#       the share's own mode and ACLs are as before; while the guest runs, the 9p device
#       is on the device VM's command line (never the guest VM's), the device VM runs as
#       its own uid (as root) under -sandbox on and the launcher's confinement, and reaches
#       the folder only as a descriptor.
#   ro  DIR:ro: writing, creating, removing and chmod in the guest all fail, reading
#       works, and the host folder is byte for byte and mode for mode unchanged.
# Exit 0 pass, 1 fail, 77 skip (missing prerequisite; a failure under VSST_REQUIRE_ALL=1).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034 # read by split-lib.sh
SPLIT_NAME="e2e-share ${1:-}"
# shellcheck source=../../vmm-proxy/split-lib.sh
source "$HERE/../../vmm-proxy/split-lib.sh"

CASE=${1:-}
case "$CASE" in rw | ro) ;; *) echo "usage: e2e-share.sh rw|ro" >&2; exit 2 ;; esac
split_find_pieces split
devices=$(timeout 30 "$QEMU" -device help 2>/dev/null)
grep -q '"virtio-9p-pci"' <<<"$devices" || split_need "$QEMU has no virtio-9p-pci (build it with virtfs: ./vsst qemu)"
listing=$(gzip -dc "$IMAGES/initramfs.cpio.gz" | cpio -t --quiet 2>/dev/null)
grep -q '/9pnet_virtio\.ko$' <<<"$listing" || split_need "$IMAGES/initramfs.cpio.gz has no 9pnet_virtio.ko (./vsst images)"
grep -q 'lib64/ld-linux-x86-64\.so\.2$' <<<"$listing" || split_need "$IMAGES/initramfs.cpio.gz has no dynamic loader (./vsst images)"
command -v gcc >/dev/null && command -v g++ >/dev/null || split_need "no gcc/g++ on the host"
split_workdir
CON=$WORK/console.log
LOG=$WORK/vmm-proxy.log
SHARE=$WORK/share
mkdir -m 0700 "$SHARE"

show() { split_show "$LOG" "$CON"; }
fail() { show; split_fail "$*"; }

# Everything about the folder that must survive a run: names, types, modes, owners,
# sizes, mtimes, contents, extended attributes (ACLs). Not ctimes: granting and
# restoring an ACL touches them.
snapshot() {
	python3 - "$1" <<'PY'
import hashlib, os, sys
root = sys.argv[1]
for dirpath, dirs, files in os.walk(root):
    dirs.sort()
    for name in [""] + sorted(dirs + files):
        p = os.path.join(dirpath, name) if name else dirpath
        st = os.lstat(p)
        xattrs = sorted((a, os.getxattr(p, a, follow_symlinks=False).hex())
                        for a in os.listxattr(p, follow_symlinks=False))
        digest = ""
        if os.path.isfile(p) and not os.path.islink(p):
            digest = hashlib.sha256(open(p, "rb").read()).hexdigest()
        print(os.path.relpath(p, root), oct(st.st_mode), st.st_uid, st.st_gid, st.st_size,
              st.st_mtime_ns, digest, xattrs)
PY
}

# The live processes of this run: sets DEV_PID and GUEST_PID from the token.
find_vm_pids() {
	local p cmd
	DEV_PID="" GUEST_PID=""
	for p in /proc/[0-9]*; do
		cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
		[[ $cmd == *qemu* ]] || continue
		[[ $cmd == *"device,process=$SPLIT_TOKEN"* ]] && DEV_PID=${p#/proc/}
		[[ $cmd == *"guest,process=$SPLIT_TOKEN"* ]] && GUEST_PID=${p#/proc/}
	done
}

# (c) while the guest runs: where the 9p device lives and who runs it.
check_processes() {
	local dcmd gcmd duid want_uid bad=0
	find_vm_pids
	[ -n "$DEV_PID" ] && [ -n "$GUEST_PID" ] || { split_say "device VM or guest VM not found (token $SPLIT_TOKEN)"; return 1; }
	dcmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$DEV_PID/cmdline")
	gcmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$GUEST_PID/cmdline")
	[ -n "$dcmd" ] && [ -n "$gcmd" ] || { split_say "device VM or guest VM exited before the check"; return 1; }
	[[ $dcmd == *"-device virtio-9p-pci,"*"mount_tag=vsst-host"* ]] || { split_say "no virtio-9p-pci on the device VM's command line"; bad=1; }
	[[ $dcmd == *"-fsdev local,"*"path=/proc/self/fd/"* ]] || { split_say "the device VM's fsdev is not a descriptor"; bad=1; }
	[[ $dcmd == *"$SHARE"* ]] && { split_say "the device VM's command line names the share's path"; bad=1; }
	[[ $dcmd == *"-machine rpc-backend"* ]] || { split_say "pid $DEV_PID is not a device VM"; bad=1; }
	[[ $dcmd == *"-sandbox on,"*"spawn=deny"* ]] || { split_say "the device VM is not sandboxed"; bad=1; }
	[[ $gcmd == *9p* || $gcmd == *fsdev* ]] && { split_say "the guest VM's QEMU has a 9p device of its own"; bad=1; }
	[[ $gcmd == *"rpc-proxy-pci"* ]] || { split_say "the guest VM has no rpc-proxy-pci"; bad=1; }
	duid=$(awk '/^Uid:/ { print $2 }' "/proc/$DEV_PID/status")
	guid=$(awk '/^Uid:/ { print $2 }' "/proc/$GUEST_PID/status")
	if [ "$(id -u)" = 0 ]; then
		# --run-as auto: an id of its own for each QEMU, no account's, not shared.
		[ "$duid" != 0 ] && [ "$duid" != "$(id -u nobody)" ] && ! getent passwd "$duid" >/dev/null ||
			{ split_say "device VM runs as uid $duid, want an id of its own"; bad=1; }
		[ "$guid" != "$duid" ] && [ "$guid" != 0 ] ||
			{ split_say "guest VM runs as uid $guid (device VM $duid): want distinct ids"; bad=1; }
	else
		[ "$duid" = "$(id -u)" ] || { split_say "device VM runs as uid $duid, want $(id -u)"; bad=1; }
	fi
	# QEMU's -sandbox filter and the launcher's confinement (process_confinement.h).
	for who in "device VM:$DEV_PID" "guest VM:$GUEST_PID"; do
		nf=$(awk '/^Seccomp_filters:/ { print $2 }' "/proc/${who##*:}/status")
		[ "${nf:-0}" -ge 2 ] || { split_say "${who%%:*} has ${nf:-0} seccomp filter(s), want 2 (sandbox + confinement)"; bad=1; }
	done
	split_say "device VM pid $DEV_PID uid $duid, guest VM uid $guid, both confined: virtio-9p-pci + fsdev path=/proc/self/fd/N, sandboxed; guest VM pid $GUEST_PID: rpc-proxy-pci only"
	return $bad
}

case "$CASE" in
rw)
	cat >"$WORK/hello.c" <<'C'
#include <gnu/libc-version.h>
#include <stdio.h>
int main(void)
{
	FILE *f = fopen("/mnt/host/from-c.txt", "w");
	if (!f || fprintf(f, "written by a gcc-built program in the guest\n") < 0 || fclose(f) != 0) {
		printf("VSST-RESULT share.c FAIL reason=write\n");
		return 1;
	}
	printf("VSST-RESULT share.c PASS glibc=%s\n", gnu_get_libc_version());
	return 0;
}
C
	cat >"$WORK/hello.cpp" <<'CXX'
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
int main()
{
	std::string how;
	try {
		throw std::runtime_error("unwound"); // libgcc_s's unwinder, libstdc++'s runtime
	} catch (const std::exception &e) {
		how = e.what();
	}
	std::ofstream("/mnt/host/from-cxx.txt") << "written by a g++-built program (" << how << ")\n";
	std::cout << "VSST-RESULT share.cxx " << (how == "unwound" ? "PASS" : "FAIL") << " how=" << how << std::endl;
	return 0;
}
CXX
	cat >"$SHARE/vsst-hello-sh" <<'SH'
#!/bin/sh
mkdir -p /mnt/host/made-in-guest && echo nested >/mnt/host/made-in-guest/nested.txt &&
	echo "written by a script in the guest" >/mnt/host/from-sh.txt &&
	rm /mnt/host/replace-me.txt && echo "created again" >/mnt/host/replace-me.txt &&
	echo "VSST-RESULT share.script PASS" || echo "VSST-RESULT share.script FAIL"
SH
	chmod 0755 "$SHARE/vsst-hello-sh"
	# Removed and created again by the guest: a new file (its inode number may be reused).
	echo "from the host" >"$SHARE/replace-me.txt"
	gcc -O2 -o "$SHARE/vsst-hello" "$WORK/hello.c" || split_fail "gcc failed"
	g++ -O2 -o "$SHARE/vsst-hello-cxx" "$WORK/hello.cpp" || split_fail "g++ failed"
	readelf -l "$SHARE/vsst-hello" | grep -q 'Requesting program interpreter: /lib64/ld-linux-x86-64.so.2' ||
		split_fail "vsst-hello is not dynamically linked"
	readelf -d "$SHARE/vsst-hello-cxx" | grep -q 'libstdc++' || split_fail "vsst-hello-cxx does not use libstdc++.so"
	before_mode=$(stat -c '%a %u %g' "$SHARE")
	before_xattrs=$(python3 -c 'import os,sys; print(sorted(os.listxattr(sys.argv[1])))' "$SHARE")
	# The owner: as root a made-up SUDO_UID/SUDO_GID (the user who "ran sudo"), so that a
	# file left to nobody or root shows; unprivileged, the launcher's own uid.
	if [ "$(id -u)" = 0 ]; then
		export SUDO_UID=4321 SUDO_GID=4322
	fi
	want_owner="$(id -u):$(id -g)"
	[ "$(id -u)" = 0 ] && want_owner=4321:4322

	split_start_sim 0
	: >"$CON"
	split_vmm_proxy "$CON" "$LOG" --timeout 400 --device "virtio-sst,sim=$WORK/sim0.sock" \
		--share "$SHARE" --append 'vsst.run=sleep.hold,vsst-hello,vsst-hello-cxx,vsst-hello-sh' \
		--append 'vsst.args.sleep.hold=5'
	# The guest holds still for 5 s so that the processes are looked at while they run.
	split_wait_console "$CON" 'VSST-RUN begin sleep.hold' 300 || fail "the guest never started"
	check_processes || fail "process checks"
	split_wait_vmm 460
	split_leftovers || fail "processes left running"
	split_summary "$CON"
	split_say "vmm-proxy exit $VMM_RC; guest summary pass=${SUM_PASS:-?} fail=${SUM_FAIL:-?}"
	bad=0
	[ "$VMM_RC" = 0 ] || { split_say "vmm-proxy exited $VMM_RC, want 0"; bad=1; }
	split_expect "$CON" init.share sleep.hold.exit share.c share.cxx share.script vsst-hello.exit vsst-hello-cxx.exit \
		vsst-hello-sh.exit || bad=1
	for f in from-c.txt from-cxx.txt from-sh.txt made-in-guest made-in-guest/nested.txt replace-me.txt; do
		if [ ! -e "$SHARE/$f" ]; then
			split_say "$f is not on the host"; bad=1; continue
		fi
		owner=$(stat -c '%u:%g' "$SHARE/$f")
		[ "$owner" = "$want_owner" ] || { split_say "$f is owned by $owner, want $want_owner"; bad=1; }
	done
	grep -q 'gcc-built program' "$SHARE/from-c.txt" 2>/dev/null || { split_say "from-c.txt: wrong content"; bad=1; }
	grep -q '(unwound)' "$SHARE/from-cxx.txt" 2>/dev/null || { split_say "from-cxx.txt: wrong content"; bad=1; }
	after_mode=$(stat -c '%a %u %g' "$SHARE")
	after_xattrs=$(python3 -c 'import os,sys; print(sorted(os.listxattr(sys.argv[1])))' "$SHARE")
	[ "$after_mode $after_xattrs" = "$before_mode $before_xattrs" ] ||
		{ split_say "share mode/ACL changed: '$before_mode $before_xattrs' -> '$after_mode $after_xattrs'"; bad=1; }
	# The programs the host put there keep their owner.
	[ "$(stat -c %u "$SHARE/vsst-hello")" = "$(id -u)" ] || { split_say "vsst-hello changed owner"; bad=1; }
	[ $bad = 0 ] || fail "$CASE"
	split_say "$(tr -d '\r' <"$CON" | grep -ao 'VSST-RESULT share.c .*' | tail -n 1)"
	split_say "PASS (files owned by $want_owner, share restored to $after_mode)"
	;;
ro)
	cat >"$SHARE/vsst-ro-probe" <<'SH'
#!/bin/sh
# Every write must fail on a read-only share; reading must work. Twice: on the
# guest's ro mount, then remounted rw, where only the device (readonly=on) refuses.
bad=""
try_writes() {
	echo x >/mnt/host/new.txt 2>/dev/null && bad="$bad,create$1"
	echo x >>/mnt/host/keep.txt 2>/dev/null && bad="$bad,append$1"
	mkdir /mnt/host/newdir 2>/dev/null && bad="$bad,mkdir$1"
	rm -f /mnt/host/keep.txt 2>/dev/null; [ -e /mnt/host/keep.txt ] || bad="$bad,remove$1"
	chmod 0777 /mnt/host/keep.txt 2>/dev/null && bad="$bad,chmod$1"
	touch /mnt/host/keep.txt 2>/dev/null && bad="$bad,touch$1"
	mv /mnt/host/sub /mnt/host/moved 2>/dev/null && bad="$bad,rename$1"
	[ "$(cat /mnt/host/keep.txt 2>/dev/null)" = "keep me" ] || bad="$bad,read$1"
}
try_writes ""
if mount -o remount,rw /mnt/host 2>/dev/null; then
	echo "vsst-ro-probe: remounted rw in the guest; the device must still refuse"
	try_writes "-remounted"
	mount -o remount,ro /mnt/host
fi
if [ -z "$bad" ]; then echo "VSST-RESULT share.ro PASS"; else echo "VSST-RESULT share.ro FAIL wrote=${bad#,}"; fi
SH
	chmod 0755 "$SHARE/vsst-ro-probe"
	echo "keep me" >"$SHARE/keep.txt"
	chmod 0600 "$SHARE/keep.txt"
	mkdir -m 0700 "$SHARE/sub" && echo deep >"$SHARE/sub/deep.txt"
	before=$(snapshot "$SHARE")
	split_start_sim 0
	: >"$CON"
	split_vmm_proxy "$CON" "$LOG" --timeout 400 --device "virtio-sst,sim=$WORK/sim0.sock" \
		--share "$SHARE:ro" --append 'vsst.run=vsst-ro-probe'
	split_wait_vmm 460
	split_leftovers || fail "processes left running"
	split_summary "$CON"
	split_say "vmm-proxy exit $VMM_RC; guest summary pass=${SUM_PASS:-?} fail=${SUM_FAIL:-?}"
	bad=0
	[ "$VMM_RC" = 0 ] || { split_say "vmm-proxy exited $VMM_RC, want 0"; bad=1; }
	split_expect "$CON" init.share share.ro vsst-ro-probe.exit || bad=1
	tr -d '\r' <"$CON" | grep -aq 'VSST-RESULT init.share PASS mode=ro' || { split_say "not mounted read-only"; bad=1; }
	grep -q 'security_model=none,readonly=on' "$LOG" || { split_say "the fsdev is not readonly=on"; bad=1; }
	after=$(snapshot "$SHARE")
	if [ "$before" != "$after" ]; then
		split_say "the host folder changed:"
		diff <(echo "$before") <(echo "$after") | head -n 20
		bad=1
	fi
	[ $bad = 0 ] || fail "$CASE"
	split_say "PASS (every write refused, host folder unchanged: $(echo "$after" | wc -l) entries)"
	;;
esac
