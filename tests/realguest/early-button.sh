#!/bin/bash
# The power button pressed while the guest kernel is still booting must be
# harmless: lost, or a clean power-off, never a crash. Before avp masked
# the 8259s, the button's interrupt reached the guest in early boot as
# vector 5 ("Oops: bounds" in start_kernel), the kernel panicked and with
# panic=-1 rebooted (avp exit 3): `avp kill ID TERM` right after
# `avp start` recorded 'reboot'.
# Needs a real /dev/kvm:  scripts/testhost tests/realguest/early-button.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh
source tests/lib/realguest.sh

rg_setup
work=$(mktemp -d /tmp/avp-earlybtn.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

sock=$work/api.sock
log=$out/early-button.log
# Press from the moment the socket exists until the guest's init runs
# (its first console line from user space) or avp ends.
presses=0
press() {
	if [ -S "$sock" ] && "$avp" api --api-sock "$sock" shutdown >/dev/null 2>&1; then
		presses=$((presses + 1))
	fi
}
# The presses start while rg_start_bg waits for the init line. A guest
# that died in kernel boot under them is booted again only when it died as
# the nested test host's early death does (docs/triple-fault.md): a triple
# fault (avp exit 2) with no oops or panic on the console. Not a reboot (3:
# what the presses once caused, after "Oops: bounds"), nor a power-off
# before init (0): those are this test's own failures.
silent_crash() { [ "$2" = 2 ] && ! grep -aqE 'Oops|Kernel panic|BUG:' "$1"; }
rg_start_bg --poll press --only-if silent_crash early-button pid "$log" \
	timeout -k 5 240 "$avp" run --kernel "$kernel" --initrd "$initrd" \
	--cmdline "console=ttyS0 earlyprintk=serial,ttyS0,115200 panic=-1 avp.test=idle" --memory 128 \
	--api-sock "$sock"
for ((i = 0; i < 600; i++)); do
	kill -0 "$pid" 2>/dev/null || break
	grep -aq 'idle-test: up' "$log" 2>/dev/null && break
	press
	sleep 0.1
done
[ "$presses" -gt 0 ] && ok "pressed the power button $presses times during boot" ||
	notok "could not press the power button during boot"
# The guest got through its boot; once its handler (powerbtn) runs, a
# press powers it off.
for ((i = 0; i < 30; i++)); do
	kill -0 "$pid" 2>/dev/null || break
	"$avp" api --api-sock "$sock" shutdown >/dev/null 2>&1
	sleep 1
done
wait "$pid"
rc=$?
pid=
tr -d '\r' <"$log" >"$log.txt"
check_eq "$rc" 0 "avp ended with status 0 (guest powered off, no reboot or crash)"
if grep -aqE 'Oops|Kernel panic|BUG:' "$log.txt"; then
	notok "guest kernel oopsed or panicked: $(grep -aE 'Oops|Kernel panic|BUG:' "$log.txt" | head -2 | tr '\n' ' ')"
else
	ok "no oops or panic in the guest's console"
fi
check_grep "$log.txt" '^idle-test: up' "guest reached its init despite the presses"
finish
