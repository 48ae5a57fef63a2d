# Shared by the shell tests: one "ok - ..." / "not ok - ..." line per check,
# which scripts/test counts. Source it, call ok/notok/check_grep, end with
# `finish`, which exits non-zero when any check failed.
# shellcheck shell=bash
CHECK_PREFIX=${CHECK_PREFIX:-$(basename "$0" .sh)}
check_failed=0
check_passed=0
ok() { echo "$CHECK_PREFIX: ok - $*"; check_passed=$((check_passed + 1)); }
notok() { echo "$CHECK_PREFIX: not ok - $*"; check_failed=$((check_failed + 1)); }
skip() { echo "$CHECK_PREFIX: skip - $*"; }
# A guest booted again because it died before its init ran (never after a
# check): counted apart, neither passed nor failed (tests/lib/realguest.sh).
retry() { echo "$CHECK_PREFIX: retry - $*"; }
# check_grep FILE REGEX DESCRIPTION
check_grep() {
	if grep -qE -- "$2" "$1"; then ok "$3"; else notok "$3 (no line matching /$2/ in $1)"; fi
}
# The reference guest's line for "every guest-side check passed"
# (tests/guest/init), as an extended regex. Its newline can be lost: at
# power-off the kernel prints "reboot: Power down" straight to the console
# while the tty still holds the end of the line, so the line may go on
# with the kernel's timestamp (the arm64 jail test, 2026-12-07 rehearsal).
GUEST_PASSED='AVP-GUEST-EXIT=0($|\[ *[0-9]+\.[0-9]+\] )'
# check_eq ACTUAL EXPECTED DESCRIPTION
check_eq() {
	if [ "$1" = "$2" ]; then ok "$3"; else notok "$3 (got '$1', expected '$2')"; fi
}
finish() {
	echo "$CHECK_PREFIX: $check_passed passed, $check_failed failed"
	[ "$check_failed" -eq 0 ]
}
