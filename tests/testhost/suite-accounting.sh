#!/bin/bash
# Accounting of scripts/testhost-suite with a fake scripts/testhost
# (AVP_TESTHOST_CMD): which deaths it reruns, with which --from, and how it
# counts. No test host needed (scripts/test runs it with the test library).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh

work=$(mktemp -d /tmp/avp-suite-acct.XXXXXX)
trap 'rm -rf "$work"' EXIT
# The fake plays $work/runN.out (N = 1, 2, ...) as the test host's output
# and exits with the status on its last line ("exit N"), logging its args.
cat >"$work/fake-testhost" <<'FAKE'
#!/bin/bash
dir=$(dirname "$0")
n=$(( $(cat "$dir/calls" 2>/dev/null || echo 0) + 1 ))
echo "$n" >"$dir/calls"
echo "$*" >>"$dir/args"
sed '$d' "$dir/run$n.out"
exit "$(tail -n 1 "$dir/run$n.out" | sed 's/^exit //')"
FAKE
chmod +x "$work/fake-testhost"

# scenario NAME: run the suite on the staged outputs; sets OUT, RC, CALLS, ARGS.
scenario() {
	rm -f "$work/calls" "$work/args"
	OUT=$(AVP_TESTHOST_CMD="$work/fake-testhost" AVP_TESTHOST_DEATHS=${DEATHS:-3} scripts/testhost-suite --smp 2 tests/realguest/all.sh --except jail.sh 2>&1)
	RC=$?
	CALLS=$(cat "$work/calls" 2>/dev/null || echo 0)
	ARGS=$(tail -n 1 "$work/args" 2>/dev/null)
}
summary() { grep '^summary: ' <<<"$OUT"; }

# 1. Death in b after a passed: b and the rest run again; b's first,
#    interrupted lines are not counted.
printf '%s\n' '=== tests/realguest/a.sh' 'a: ok - one' '=== tests/realguest/b.sh' 'b: ok - partial' \
	'testhost: FAILED: the test host kernel panicked' '  | b: ok - partial' 'exit 125' >"$work/run1.out"
printf '%s\n' '=== tests/realguest/b.sh' 'b: ok - partial' 'b: ok - rest' '=== tests/realguest/c.sh' 'c: ok - one' 'exit 0' >"$work/run2.out"
scenario
check_eq "$RC:$CALLS" "0:2" "a death mid-test is run again once, and the rerun's status is final"
check_eq "$ARGS" "--smp 2 tests/realguest/all.sh --except jail.sh --from b.sh" "the rerun starts at the interrupted test, options kept"
check_eq "$(summary)" "summary: 4 passed, 0 failed, 0 skipped" "each check is counted once (a 1, b 2, c 1)"

# 2. Deaths are survived AVP_TESTHOST_DEATHS times in all: a second one
#    (in c, after b passed in the rerun) is run again from c; one more is
#    final.
printf '%s\n' '=== tests/realguest/b.sh' 'b: ok - partial' 'b: ok - rest' '=== tests/realguest/c.sh' 'c: ok - partial' 'exit 125' >"$work/run2.out"
printf '%s\n' '=== tests/realguest/c.sh' 'c: ok - partial' 'c: ok - rest' 'exit 0' >"$work/run3.out"
scenario
check_eq "$RC:$CALLS" "0:3" "a second death is run again too (default: 3 deaths survived)"
check_eq "$ARGS" "--smp 2 tests/realguest/all.sh --except jail.sh --from c.sh" "... from the test it interrupted"
check_eq "$(summary)" "summary: 5 passed, 0 failed, 0 skipped" "... each check counted once (a 1, b 2, c 2)"
grep -q 'died 2 time(s)' <<<"$OUT" && ok "the deaths are counted in the output" || notok "no death count in: $(tail -n 3 <<<"$OUT")"
DEATHS=1 scenario
check_eq "$RC:$CALLS" "125:2" "one death more than AVP_TESTHOST_DEATHS is final (status 125, no further run)"
printf '%s\n' '=== tests/realguest/c.sh' 'c: ok - partial' 'exit 125' >"$work/run3.out"
printf '%s\n' '=== tests/realguest/c.sh' 'c: ok - partial' 'exit 125' >"$work/run4.out"
printf '%s\n' '=== tests/realguest/c.sh' 'c: ok - partial' 'exit 0' >"$work/run5.out"
scenario
check_eq "$RC:$CALLS" "125:4" "a fourth death is final with the default (3 survived, no fifth run)"

# 3. A death after a failed check is not rerun: a rerun must never turn
#    a failure into a pass.
printf '%s\n' '=== tests/realguest/a.sh' 'a: not ok - broken' '=== tests/realguest/a.sh FAILED' \
	'=== tests/realguest/b.sh' 'b: ok - partial' 'exit 125' >"$work/run1.out"
scenario
check_eq "$RC:$CALLS" "125:1" "a death after a failed check is not rerun"
check_eq "$(summary)" "summary: 1 passed, 1 failed, 0 skipped" "... and its checks are counted as they are"

# 4. A death before any test started (none to resume from) and an
#    ordinary failure are final too.
printf '%s\n' 'testhost: FAILED: QEMU exited (status 0) without the exit marker' 'exit 125' >"$work/run1.out"
scenario
check_eq "$RC:$CALLS" "125:1" "a death before any test started is final here (scripts/testhost retries setup deaths)"
printf '%s\n' '=== tests/realguest/a.sh' 'a: not ok - broken' 'exit 1' >"$work/run1.out"
scenario
check_eq "$RC:$CALLS" "1:1" "a failing run is not rerun"
# testhost_surviving (scripts/lib/testhost-deaths.sh), the benchmarks' way
# through a test-host death: the whole run again, counted, bounded.
source scripts/lib/testhost-deaths.sh
# fake_run: plays the statuses in $work/statuses, one per call
fake_run() {
	local n
	n=$(($(cat "$work/calls" 2>/dev/null || echo 0) + 1))
	echo "$n" >"$work/calls"
	return "$(sed -n "${n}p" "$work/statuses")"
}
surviving() { rm -f "$work/calls"; printf '%s\n' "$@" >"$work/statuses"; OUT=$(AVP_TESTHOST_DEATHS=${DEATHS:-3} testhost_surviving "bench mmio" fake_run 2>&1); RC=$?; CALLS=$(cat "$work/calls" 2>/dev/null); }
surviving 125 125 0
check_eq "$RC:$CALLS:$(grep -c '^testhost-suite: the test host died during bench mmio ' <<<"$OUT")" "0:3:2" "testhost_surviving: two deaths, two death lines, the third run's status"
surviving 125 125 125 125 125
check_eq "$RC:$CALLS" "125:4" "testhost_surviving: the fourth death (AVP_TESTHOST_DEATHS=3) is final"
surviving 1 0
check_eq "$RC:$CALLS:$OUT" "1:1:" "testhost_surviving: any other failure is final, nothing said"
DEATHS=0 surviving 125 0
check_eq "$RC:$CALLS" "125:1" "testhost_surviving: AVP_TESTHOST_DEATHS=0 survives nothing"
DEATHS=x surviving 0
check_eq "$RC:$CALLS" "2:" "testhost_surviving: a non-number AVP_TESTHOST_DEATHS is refused before any run"

finish
