#!/bin/bash
# AVP-WDT-1 with a real guest: Linux's wdat_wdt drives avp's watchdog
# through the WDAT (guest side: tests/guest/watchdog.sh). Needs a real
# /dev/kvm: scripts/testhost tests/realguest/watchdog.sh
# Boots:
#  (a) feed:   busybox watchdog keeps it alive for 15 s, magic close, the
#              guest powers off -> avp exit 0, no expiry reported
#  (b) starve: armed with 3 s, fed once -> avp ends with status 6 about 3 s
#              later and says "watchdog" on stderr
#  (c) reset:  as (b) with --watchdog action=reset -> avp boots the VM
#              again, the new boot sees WDIOF_CARDRESET, powers off -> 0
# Console logs (with host timestamps) go to build/testhost/out/.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh
source tests/lib/realguest.sh

rg_setup
if ! rg_guest_has tests/watchdog.sh; then
	notok "the guest image has no tests/watchdog.sh (run scripts/mkguest)"
	finish
	exit 1
fi

# run_avp NAME TIMEOUT AVP-ARGS...: runs avp, every output line prefixed with
# the host's time of arrival, into $out/watchdog-NAME.log; sets rc.
# A guest that dies in kernel boot is booted again (rg_boot).
stamped_avp() { # TIMEOUT AVP-ARGS...: avp's output, each line time-stamped
	local limit=$1
	shift
	timeout -k 5 "$limit" "$avp" run --kernel "$kernel" --initrd "$initrd" --memory 192 "$@" 2>&1 |
		while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "${line//$'\r'/}"; done
	return "${PIPESTATUS[0]}"
}
run_avp() {
	local name=$1 limit=$2
	shift 2
	log="$out/watchdog-$name.log"
	rg_boot "boot '$name'" "$log" stamped_avp "$limit" "$@"
	echo "watchdog: boot '$name': avp exit $rc"
	sed 's/^[0-9.]* /  | /' "$log" | grep -vE '^  \| *$' | tail -n 25
}

# Lines the guest reported, turned into our own ok/not ok lines.
guest_checks() {
	local log=$1 n=0
	while IFS= read -r line; do
		n=$((n + 1))
		case "$line" in
		*"watchdog: ok - "*) ok "guest: ${line#*watchdog: ok - }" ;;
		*"watchdog: not ok - "*) notok "guest: ${line#*watchdog: not ok - }" ;;
		esac
	done < <(grep -E 'watchdog: (ok|not ok) - ' "$log")
	[ "$n" -gt 0 ] || notok "the guest-side checks did not run"
}

# time of the first line matching REGEX in LOG
stamp() { grep -m1 -E -- "$2" "$1" | cut -d' ' -f1; }

cmd="console=ttyS0 panic=-1 quiet avp.test=watchdog"

# --- (a) fed: the VM lives, then powers off normally --------------------
run_avp feed 240 --watchdog --cmdline "$cmd avp.wdt=feed"
check_eq "$rc" 0 "(a) a fed watchdog lets the guest power off: avp exit 0"
guest_checks "$log"
check_grep "$log" "$GUEST_PASSED" "(a) every guest-side check passed"
if grep -qi 'watchdog expired' "$log"; then notok "(a) avp reported an expiry"; else ok "(a) no expiry reported"; fi

# --- (b) starved: avp ends with status 6 ---------------------------------
run_avp starve 240 --watchdog --cmdline "$cmd avp.wdt=starve"
check_eq "$rc" 6 "(b) a starved watchdog ends avp with status 6"
guest_checks "$log"
check_grep "$log" 'avp: warning: watchdog expired: the guest did not refresh it for 3\.0 s; ending the VM' \
	"(b) stderr reports the expiry and the 3 s countdown"
check_grep "$log" 'avp: watchdog expired$' "(b) avp's final line names the watchdog"
t0=$(stamp "$log" 'watchdog: starving')
t1=$(stamp "$log" 'watchdog expired')
if [ -n "$t0" ] && [ -n "$t1" ]; then
	d=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
	# The last ping came just before "starving" (one `sleep 1` and two
	# sysfs reads earlier), so expiry is due about 2 s after it.
	if awk -v d="$d" 'BEGIN { exit !(d >= 0.5 && d <= 6.0) }'; then
		ok "(b) expired $d s after the guest stopped feeding (timeout 3 s)"
	else
		notok "(b) expired $d s after the guest stopped feeding (expected 0.5-6 s)"
	fi
else
	notok "(b) no 'starving' or expiry line to time"
fi
if grep -q 'still running 60 s' "$log"; then notok "(b) the guest outlived its watchdog"; fi

# --- (c) action=reset: the VM boots again and knows why ------------------
run_avp reset 300 --watchdog action=reset --cmdline "$cmd avp.wdt=reset"
check_eq "$rc" 0 "(c) reset action: the second boot powers off, avp exit 0"
guest_checks "$log"
check_grep "$log" 'watchdog expired: .*; resetting the VM' "(c) stderr reports the expiry and the reset"
check_eq "$(grep -c 'avp-guest: running /tests/watchdog.sh' "$log")" 2 "(c) the guest booted twice"
check_grep "$log" 'second boot: boot status WDIOF_CARDRESET' "(c) the second boot sees the watchdog reset"
check_grep "$log" "$GUEST_PASSED" "(c) the second boot's checks passed"

finish
