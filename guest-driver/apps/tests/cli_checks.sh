# SPDX-License-Identifier: Apache-2.0
# cli_checks.sh - the check helpers of the apps' command-line tests (sourced by
# cli_test.sh and offload_cli_test.sh): each check prints ok/FAIL and counts failures.
fails=0
check() { # check <what> <command...>: the command must succeed
	local what=$1; shift
	if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}
status_is() { # status_is <want> <command...>
	local want=$1; shift
	"$@" >/dev/null 2>&1
	[ $? -eq "$want" ]
}
check_static() { # check_static <binary>: no program interpreter, i.e. statically linked
	check "$(basename "$1") is static" bash -c "! readelf -l '$1' | grep -q INTERP"
}
# checks_done <name>: the verdict line; the status of the whole test.
checks_done() {
	[ $fails -eq 0 ] && echo "$1: all passed" || echo "$1: $fails failed"
	[ $fails -eq 0 ]
}
