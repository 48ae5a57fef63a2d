#!/bin/bash
# testhost self-test: check the environment scripts/testhost promises
# (see scripts/testhost --help).  Prints "inside: ok/not ok - ..." lines and
# exits non-zero if any check fails.  Works in direct mode too.
# usage: inside.sh [TOKEN]   (TOKEN is written to build/testhost/out/inside.txt)
set -uo pipefail
fail=0
check() { # check DESCRIPTION COMMAND...
    local d="$1"; shift
    if "$@" >/dev/null 2>&1; then echo "inside: ok - $d"; else echo "inside: not ok - $d"; fail=1; fi
}
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
check "AVP_TESTHOST is set ($AVP_TESTHOST)" test -n "${AVP_TESTHOST:-}"
check "cwd is the repo ($PWD)" test "$PWD" = "$repo"
check "/dev/kvm is a character device" test -c /dev/kvm
check "/proc/cpuinfo shows vmx or svm" grep -qwE 'vmx|svm' /proc/cpuinfo
check "qemu-system-x86_64 runs" qemu-system-x86_64 --version
check "HOME=$HOME is writable" touch "$HOME/.avp-probe"
# The caller may pass a token; we write it where the host can check it.
out="build/testhost/out/inside.txt"
mkdir -p build/testhost/out
check "repo is writable ($out)" sh -c "echo '${1:-written-inside}' >'$out'"
if [[ "${AVP_TESTHOST:-}" = nested ]]; then
    check "modprobe tun works" modprobe tun
    check "/dev/net/tun exists" test -c /dev/net/tun
    check "/ is writable (tmpfs overlay)" touch /etc/.avp-probe
fi
exit $fail
