#!/bin/bash
# A hostile guest cannot flood avp's log (issue 13 item 19): the guest
# (tests/guest/ringbreak.sh, ringbreak.c) takes each of seven virtio-mmio
# devices from Linux and breaks its rings in a loop for RB_SECONDS
# (default 25, or --seconds N): garbage rings, rings out of RAM or misaligned, bad feature
# sets, DRIVER_OK without FEATURES_OK, kicks on queues that do not exist.
# The host checks that avp keeps running and answers `status` with
# guest_warnings counted (total, not_shown), that its standard error holds
# at most 5 warnings per device (plus the once-a-minute count lines) and
# exactly those status says were shown, that its RSS stays flat, and that
# the guest still powers off cleanly (ACPI power button, avp exit 0).
# An attack longer than a minute also shows each device's count line
# ("and N more from this device not shown"), once a minute. Needs a real
# /dev/kvm:
#   scripts/testhost tests/realguest/ringbreak.sh [--seconds 75]
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh
source tests/lib/realguest.sh

rg_setup
if ! rg_guest_has tests/bin/ringbreak; then
	notok "$initrd has no tests/bin/ringbreak (run scripts/mkguest)"; finish; exit 1
fi

secs=${RB_SECONDS:-25}
if [ "${1:-}" = --seconds ] && [ -n "${2:-}" ]; then secs=$2; fi
ndev=7
work=$(mktemp -d /tmp/avp-ringbreak.XXXXXX)
api=$work/api.sock
tpid=
cleanup() {
	[ -n "$tpid" ] && kill "$tpid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
truncate -s 16M "$work/scratch.img"

log=$out/ringbreak.log
err=$out/ringbreak.err
start=$(date +%s)
rg_start_bg --stderr "$err" ringbreak tpid "$log" timeout -k 5 600 "$avp" run --kernel "$kernel" --initrd "$initrd" \
	--cmdline "console=ttyS0 panic=-1 quiet avp.test=ringbreak avp.ringbreak=$secs" --memory 256 \
	--rng --disk "$work/scratch.img" --console "file:$work/hvc0.log" \
	--vsock "cid=42,socket=$work/vsock.sock" --input keyboard --sound out=/dev/null \
	--gpu on --api-sock "$api"

# wait_for REGEX SECONDS: until the console log has a matching line.
wait_for() { rg_log_wait "$log" "$1" "$2" "$tpid"; }
# avp itself is timeout's child.
avp_pid() { awk '{print $1}' "/proc/$tpid/task/$tpid/children" 2>/dev/null; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
# status_field EXPR: EXPR on the status reply d ("" when there is none)
status_field() {
	python3 -c '
import json, sys
try:
    d = json.loads(open(sys.argv[1]).read())
    print(eval(sys.argv[2]))
except Exception:
    print("")' "$work/status" "$1"
}
api() { "$avp" api --api-sock "$api" "$@" >"$work/reply" 2>&1; }

if wait_for '^ringbreak: start' 400; then
	ok "the guest's ringbreak started"
else
	notok "the guest's ringbreak never started"
	tr -d '\r' <"$log" | sed 's/^/  | /' | tail -n 40
	finish; exit 1
fi
pid=$(avp_pid)
rss0=$(rss_kib "$pid")
sleep 10
api status
check_eq "$?" 0 "status answers while the guest breaks its rings"
cp "$work/reply" "$work/status"
check_eq "$(status_field 'd["state"]')" running "status says running mid-attack"
mid_total=$(status_field 'd["guest_warnings"]["total"]')
rss_mid=$(rss_kib "$pid")

if wait_for '^ringbreak-guest: finished' $((secs + 120)); then
	ok "the guest's ringbreak finished"
else
	notok "the guest's ringbreak never finished"
fi
if kill -0 "$pid" 2>/dev/null; then ok "avp still runs after the attack"; else notok "avp died during the attack"; fi
rss1=$(rss_kib "$pid")
api status
check_eq "$?" 0 "status answers after the attack"
cp "$work/reply" "$work/status"
check_eq "$(status_field 'd["state"]')" running "status says running after the attack"
total=$(status_field 'd["guest_warnings"]["total"]')
not_shown=$(status_field 'd["guest_warnings"]["not_shown"]')
echo "ringbreak: guest_warnings: mid-attack total=$mid_total; after: total=$total not_shown=$not_shown"
if [ -n "$total" ] && [ "$total" -gt 0 ]; then ok "guest_warnings.total is $total"; else notok "guest_warnings.total is '$total', expected > 0"; fi
if [ -n "$not_shown" ] && [ "$not_shown" -gt 0 ]; then ok "guest_warnings.not_shown is $not_shown"; else notok "guest_warnings.not_shown is '$not_shown', expected > 0"; fi

api shutdown '{"timeout":60}'
check_eq "$?" 0 "shutdown: the power button was pressed"
wait "$tpid"
rc=$?
tpid=
end=$(date +%s)
tr -d '\r' <"$log" >"$log.txt"
tr -d '\r' <"$err" >"$err.txt"
grep -E '^ringbreak' "$log.txt" | grep -v 'iomem:' | sed 's/^/  | /'
echo "ringbreak: avp stderr ($(wc -l <"$err.txt") lines):"
sed 's/^/  ! /' "$err.txt" | head -n 60
check_eq "$rc" 0 "the guest powered off on the power button (avp exit 0)"
check_grep "$log.txt" '^powerbtn: power button pressed' "the guest's handler saw the power button"
rg_guest_checks "$log.txt" ringbreak-guest

# --- what the guest did ---------------------------------------------------
check_eq "$(grep -c '^ringbreak: .* base=0x[0-9a-f]* device-id=' "$log.txt")" "$ndev" "the guest mapped all $ndev device windows"
if grep -q '^ringbreak: no access' "$log.txt"; then
	notok "/dev/mem refused: $(grep '^ringbreak: no access' "$log.txt" | head -n 3)"
fi
rounds=0 resets=0 attacked=0
while read -r r k; do
	rounds=$((rounds + r)); resets=$((resets + k))
	[ "$r" -gt 0 ] && attacked=$((attacked + 1))
done < <(sed -n 's/^ringbreak: [^ ]* \([0-9]*\) rounds, needs_reset seen \([0-9]*\).*/\1 \2/p' "$log.txt")
echo "ringbreak: $attacked devices attacked, $rounds rounds, the guest saw DEVICE_NEEDS_RESET $resets times"
check_eq "$attacked" "$ndev" "every device went through rounds of the attack"
if [ "$resets" -gt $((6 * ndev)) ]; then ok "the devices flagged DEVICE_NEEDS_RESET $resets times"; else notok "the devices flagged DEVICE_NEEDS_RESET only $resets times: the attack did not bite"; fi
if [ -n "$total" ] && [ "$total" -ge "$resets" ]; then
	ok "status counted every NEEDS_RESET the guest saw ($total >= $resets)"
else
	notok "status counted $total guest warnings, the guest saw $resets NEEDS_RESET"
fi
if grep -qE 'Oops|BUG:|Kernel panic|general protection' "$log.txt"; then
	notok "the guest's kernel complained: $(grep -E 'Oops|BUG:|Kernel panic|general protection' "$log.txt" | head -n 2)"
else
	ok "the guest's kernel survived its own attack"
fi

# --- what reached avp's log ----------------------------------------------
gw_re='driver error, device needs reset|overran its credit'
shown=$(grep -cE "$gw_re" "$err.txt")
echo "ringbreak: stderr: $shown guest warning lines; per device:"
grep -E "$gw_re" "$err.txt" | sed -n 's/^avp: [a-z]*: \(virtio-[a-z]*\): .*/\1/p' | sort | uniq -c | sed 's/^/  | /'
if [ "$shown" -le $((6 * ndev)) ]; then
	ok "avp printed $shown guest warning lines for $total warnings (at most 5 per device + count lines)"
else
	notok "avp printed $shown guest warning lines, more than 6 per device"
fi
worst=$(grep -E "$gw_re" "$err.txt" | sed -n 's/^avp: [a-z]*: \(virtio-[a-z]*\): .*/\1/p' | sort | uniq -c | sort -rn | awk 'NR==1 {print $1+0}')
if [ "${worst:-0}" -le 6 ]; then ok "no device has more than 6 lines (most: ${worst:-0})"; else notok "a device printed $worst lines"; fi
if [ -n "$total" ] && [ -n "$not_shown" ]; then
	check_eq "$shown" "$((total - not_shown))" "stderr holds exactly the warnings status says were shown"
fi
# The once-a-minute count line: the burst ends within the attack's first
# seconds, so an attack of 65 s or more gives each device one.
counted=$(grep -cE "($gw_re).*more from this device not shown" "$err.txt")
echo "ringbreak: $counted count lines: $(grep -E "($gw_re).*more from this device not shown" "$err.txt" | sed -n 's/^avp: [a-z]*: \(virtio-[a-z]*\): .*(and \([0-9]*\) more.*/\1=\2/p' | tr '\n' ' ')"
if [ "$secs" -ge 65 ]; then
	check_eq "$counted" "$ndev" "one count line per device after a minute of attack"
fi
other=$(grep -cvE "$gw_re" "$err.txt")
if [ "$other" -le 10 ]; then ok "$other other stderr lines"; else notok "$other other stderr lines: $(grep -vE "$gw_re" "$err.txt" | head -n 3)"; fi

# --- memory ----------------------------------------------------------------
echo "ringbreak: avp VmRSS at the start ${rss0} KiB, 10 s in ${rss_mid} KiB, at the end ${rss1} KiB (whole run $((end - start)) s)"
if [ -n "$rss0" ] && [ -n "$rss1" ] && [ "$rss1" -le $((rss0 + 32768)) ]; then
	ok "avp's RSS grew by $(((rss1 - rss0) / 1024)) MiB over the attack (at most 32 MiB)"
else
	notok "avp's RSS went from '${rss0}' to '${rss1}' KiB over the attack"
fi
finish
