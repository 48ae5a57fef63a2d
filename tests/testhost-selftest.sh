#!/bin/bash
# Self-test of scripts/testhost.  Runs on the host (it starts test hosts
# itself), serially, so it takes a couple of minutes in nested mode.
#   bash tests/testhost-selftest.sh [--help]
# Extra testhost options (e.g. --nested, or --arch arm64 for the arm64 test
# host) can be given in TESTHOST_OPTS. TESTHOST_SELFTEST_DEATHS=0 leaves out
# the three test-host deaths, TESTHOST_SELFTEST_SHORT=1 the plain status-0
# run and the 60 s hang (CI's arm64 run: those code paths are the x86 ones).
set -euo pipefail

if [[ "${1:-}" = -h || "${1:-}" = --help ]]; then
    sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi
[[ -z "${AVP_TESTHOST:-}" ]] || { echo "testhost-selftest: run me on the host, not inside a test host" >&2; exit 2; }

cd "$(dirname "${BASH_SOURCE[0]}")/.."
th=scripts/testhost
read -r -a opts <<<"${TESTHOST_OPTS:-}"
pass=0 fail=0
result() { # result OK|FAIL description
    if [[ $1 = OK ]]; then echo "ok - $2"; pass=$((pass + 1)); else echo "not ok - $2"; fail=$((fail + 1)); fi
}
# Our QEMU instances carry '-name avp-testhost-L1' so we can find leftovers
# without touching anybody else's QEMU.
leftovers() { pgrep -f 'qemu-system.*avp-testhost-L1' || true; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if [[ -n "$(leftovers)" ]]; then
    echo "testhost-selftest: a test-host QEMU is already running (pid $(leftovers | tr '\n' ' ')); wait for it" >&2
    exit 2
fi

short=${TESTHOST_SELFTEST_SHORT:-0}
if [[ $short = 1 ]]; then
    echo "skip - status 0 and AVP_TESTHOST from ok.sh: TESTHOST_SELFTEST_SHORT=1 (inside.sh below checks both)"
else
    set +e; "$th" "${opts[@]}" tests/testhost/ok.sh >"$tmp/ok.log" 2>&1; rc=$?; set -e
    if [[ $rc = 0 ]] && grep -q '^ok.sh: AVP_TESTHOST=' "$tmp/ok.log"; then
        result OK "script exiting 0 gives status 0"
    else
        result FAIL "script exiting 0 gives status 0 (got $rc)"; tail -n 20 "$tmp/ok.log" | sed 's/^/#   /'
    fi
fi

set +e; "$th" "${opts[@]}" tests/testhost/fail3.sh >"$tmp/fail3.log" 2>&1; rc=$?; set -e
if [[ $rc = 3 ]]; then
    result OK "script exiting 3 gives status 3"
else
    result FAIL "script exiting 3 gives status 3 (got $rc)"; tail -n 20 "$tmp/fail3.log" | sed 's/^/#   /'
fi

if [[ $short = 1 ]]; then
    echo "skip - the --timeout path (a 60 s hang): TESTHOST_SELFTEST_SHORT=1; it is scripts/testhost's own code, the same for both architectures (the x86 run checks it)"
else
    t0=$SECONDS
    set +e; "$th" "${opts[@]}" --timeout 60 tests/testhost/hang.sh >"$tmp/hang.log" 2>&1; rc=$?; set -e
    secs=$((SECONDS - t0))
    if [[ $rc = 124 && $secs -le 80 ]] && grep -q 'TIMEOUT after 60 s' "$tmp/hang.log"; then
        result OK "hanging script with --timeout 60 gives 124 after ${secs}s"
    else
        result FAIL "hanging script with --timeout 60 gives 124 within 80s (got $rc after ${secs}s)"
        tail -n 20 "$tmp/hang.log" | sed 's/^/#   /'
    fi
fi

token="selftest-$$-$RANDOM"
rm -f build/testhost/out/inside.txt
set +e; "$th" "${opts[@]}" tests/testhost/inside.sh "$token" >"$tmp/inside.log" 2>&1; rc=$?; set -e
if [[ $rc = 0 && "$(cat build/testhost/out/inside.txt 2>/dev/null)" = "$token" ]]; then
    result OK "environment inside as documented; a file written inside reaches the host"
else
    result FAIL "environment inside as documented (status $rc)"
    grep -E 'not ok|testhost:' "$tmp/inside.log" | sed 's/^/#   /'
fi

# Test-host deaths: one during setup is retried (no test ran), one while
# the script runs is not. Both crash only the nested test host's kernel.
direct=0   # the mode scripts/testhost will pick (see its --help)
arm64=0
[[ " ${opts[*]} " = *" --arch arm64 "* || " ${opts[*]} " = *" --arch=arm64 "* || "${AVP_TESTHOST_ARCH:-}" = arm64 ]] && arm64=1
if [[ "${AVP_TESTHOST_MODE:-}" = direct || " ${opts[*]} " = *" --direct "* ]]; then
    direct=1
elif ((arm64)); then
    [[ -z "${AVP_TESTHOST_MODE:-}" && " ${opts[*]} " != *" --nested "* && "$(uname -m)" = aarch64 && -c /dev/kvm ]] && direct=1
elif [[ -z "${AVP_TESTHOST_MODE:-}" && " ${opts[*]} " != *" --nested "* ]] && grep -qwE 'vmx|svm' /proc/cpuinfo && [[ -c /dev/kvm ]]; then
    direct=1
fi
if ((direct)); then
    echo "ok - # SKIP kernel-panic handling: this machine runs tests directly (no nested test host to crash)"
elif [[ "${TESTHOST_SELFTEST_DEATHS:-1}" = 0 ]]; then
    echo "skip - test-host deaths (a crash during setup booted again, one mid-script gives 125, testhost-suite's rerun): TESTHOST_SELFTEST_DEATHS=0; scripts/testhost handles them the same way for both architectures"
else
    set +e; AVP_TESTHOST_SELFTEST=panic-in-setup-once "$th" "${opts[@]}" tests/testhost/ok.sh >"$tmp/setup-panic.log" 2>&1; rc=$?; set -e
    if [[ $rc = 0 ]] && grep -q 'panicked during setup, before the script started (boot 1 of 3' "$tmp/setup-panic.log" \
        && grep -q '^ok.sh: AVP_TESTHOST=' "$tmp/setup-panic.log"; then
        result OK "a test host that dies during setup is booted again and the script runs"
    else
        result FAIL "a test host that dies during setup is booted again and the script runs (got $rc)"
        tail -n 20 "$tmp/setup-panic.log" | sed 's/^/#   /'
    fi
    set +e; "$th" "${opts[@]}" tests/testhost/panic.sh >"$tmp/panic.log" 2>&1; rc=$?; set -e
    if [[ $rc = 125 ]] && grep -q 'FAILED: the test host kernel panicked' "$tmp/panic.log" \
        && ! grep -q 'booting it again' "$tmp/panic.log" && [[ $(grep -c '^panic.sh: crashing' "$tmp/panic.log") = 1 ]]; then
        result OK "a test host that dies while the script runs gives 125, not a second run"
    else
        result FAIL "a test host that dies while the script runs gives 125, not a second run (got $rc)"
        tail -n 20 "$tmp/panic.log" | sed 's/^/#   /'
    fi
    # scripts/testhost-suite: a test host dying in test b reruns b and c
    # once; a's check and b's first, interrupted attempt are counted once.
    token="suite-$$-$RANDOM"
    set +e; scripts/testhost-suite "${opts[@]}" tests/testhost/suite-runner.sh "$token" >"$tmp/suite.log" 2>&1; rc=$?; set -e
    rm -f "build/testhost/out/suite-crashed-$token"
    if [[ $rc = 0 ]] && grep -q '^testhost-suite: the test host died during b.sh' "$tmp/suite.log" \
        && [[ $(grep -c '^=== tests/testhost/' "$tmp/suite.log") = 4 ]] \
        && grep -q '^summary: 4 passed, 0 failed, 0 skipped$' "$tmp/suite.log"; then
        result OK "testhost-suite reruns the test the test host died in, and the rest, and counts each once"
    else
        result FAIL "testhost-suite reruns the test the test host died in, and the rest, and counts each once (got $rc)"
        grep -E '^(===|testhost|summary|[abc]: )' "$tmp/suite.log" | tail -n 20 | sed 's/^/#   /'
    fi
fi

sleep 1
left="$(leftovers)"
if [[ -z "$left" ]]; then
    result OK "no test-host QEMU left running"
else
    result FAIL "no test-host QEMU left running (found pid ${left//$'\n'/ })"
fi

echo "$pass passed, $fail failed"
((fail == 0))
