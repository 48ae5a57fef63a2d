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
if [[ "$(uname -m)" = aarch64 ]]; then
    # scripts/testhost --arch arm64: the kernel was entered at EL2 and its
    # KVM took it (VHE or nVHE), and the arm64 root has what tests need.
    check "AVP_TESTHOST_ARCH=arm64" test "${AVP_TESTHOST_ARCH:-}" = arm64
    check "KVM initialised at EL2 (dmesg)" sh -c "dmesg | grep -qE 'kvm \\[1\\]: .*VHE mode initialized'"
    check "qemu-system-aarch64 runs" qemu-system-aarch64 --version
    check "python3 with Pillow" python3 -c 'import PIL.Image'
    check "jq, strace, ip, awk, busybox run" sh -c 'jq --version && strace -V && ip -V && awk "BEGIN{}" && busybox true'
    check "gcc builds a program that runs" sh -c 'printf "int main(void){return 0;}\n" | gcc -O2 -x c -o /tmp/avp-cc-probe - && /tmp/avp-cc-probe'
else
    check "/proc/cpuinfo shows vmx or svm" grep -qwE 'vmx|svm' /proc/cpuinfo
    check "qemu-system-x86_64 runs" qemu-system-x86_64 --version
fi
check "HOME=$HOME is writable" touch "$HOME/.avp-probe"
# The caller may pass a token; we write it where the host can check it.
out="build/testhost/out/inside.txt"
mkdir -p build/testhost/out
check "repo is writable ($out)" sh -c "echo '${1:-written-inside}' >'$out'"
# A console log is written one byte per write(2) while a test greps it;
# the copy on the host must hold exactly those bytes (9p with cache=mmap
# once filled such logs with NULs).
log_bytes_intact() {
    local f=build/testhost/out/inside-bytes.log
    rm -f "$f"
    python3 - "$f" <<'PY' &
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
for i in range(1000):
    for b in f"line {i:05d} the quick brown fox jumps over the lazy dog\r\n".encode():
        os.write(fd, bytes([b]))
os.close(fd)
PY
    local writer=$!
    while kill -0 "$writer" 2>/dev/null; do grep -aq never-there "$f" 2>/dev/null; done
    wait "$writer" || return 1
    python3 - "$f" <<'PY'
import sys
want = b"".join(f"line {i:05d} the quick brown fox jumps over the lazy dog\r\n".encode() for i in range(1000))
got = open(sys.argv[1], "rb").read()
sys.exit(0 if got == want else 1)
PY
}
check "a file written byte by byte while being read arrives intact" log_bytes_intact
if [[ "${AVP_TESTHOST:-}" = nested ]]; then
    check "modprobe tun works" modprobe tun
    check "/dev/net/tun exists" test -c /dev/net/tun
    check "/ is writable (tmpfs overlay)" touch /etc/.avp-probe
    # scripts/lib/testhost-keeper.py: one process holds a KVM VM for the
    # test host's life, and no perf event (opening one patches the kernel).
    keeper_holds_vm_without_perf() {
        local pid fd vm=0 perf=0
        pid=$(pgrep -f 'scripts/lib/testhost-keeper.py' | head -n 1)
        [[ -n "$pid" ]] || return 1
        for fd in /proc/"$pid"/fd/*; do
            case "$(readlink "$fd")" in
                anon_inode:kvm-vm) vm=1 ;;
                *perf_event*) perf=1 ;;
            esac
        done
        ((vm == 1 && perf == 0))
    }
    [[ "$(uname -m)" = aarch64 ]] || check "the keeper holds a KVM VM and no perf event" keeper_holds_vm_without_perf
    # scripts/testhost's default npt=0 must reach kvm-amd (issue 12: QEMU's
    # emulation of nested paging kills nested guests now and then)
    npt_as_asked() {
        local want
        want=$(sed -n 's/.*avp\.kvm_amd=\([^ ]*\).*/\1/p' /proc/cmdline | tr ',' '\n' | sed -n 's/^npt=//p')
        case $want in 0) want=N ;; 1) want=Y ;; *) return 1 ;; esac
        [[ "$(cat /sys/module/kvm_amd/parameters/npt)" = "$want" ]]
    }
    [[ "$(uname -m)" = aarch64 ]] || check "kvm-amd's npt is what scripts/testhost asked ($(cat /sys/module/kvm_amd/parameters/npt 2>/dev/null))" npt_as_asked
fi
exit $fail
