#!/bin/bash
# A managed VM whose host is not ready yet (issue 13, item 12), with
# /dev/kvm hidden in a private mount namespace (scripts/without-kvm; needs
# root) and made to appear a second later. No guest boots: a synthetic
# bzImage passes avp's input checks, and vCPU 0 says it runs before the
# guest's first instruction, which is all `avp start` waits for.
#   1. avp run with good inputs and no /dev/kvm: exit 4 (host error), not 1
#   2. avp start, policy never: exits 1 at once, naming /dev/kvm; the state
#      says host-error with the VMM's message
#   3. avp start, policy on-failure: /dev/kvm appears 1 s later, a restart
#      comes up and start returns 0
#   4. avp start --timeout 1 while /dev/kvm stays away: exits 1 saying the
#      restart policy tries again
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh

avp=$PWD/${AVP:-build/avp}
if [ -z "${AVP_IN_NO_KVM:-}" ]; then
	if [ "$(id -u)" != 0 ] || [ ! -e /dev/kvm ]; then
		skip "needs root and a /dev/kvm to hide and bring back (mount namespace)"
		finish
		exit 0
	fi
	AVP_IN_NO_KVM=1 exec scripts/without-kvm "$0" "$@"
fi

work=$(mktemp -d /tmp/avp-nokvm.XXXXXX)
export AVP_RUNTIME_ROOT=$work/root
cleanup() {
	for d in "$AVP_RUNTIME_ROOT"/*/; do
		[ -d "$d" ] && "$avp" delete --force "$(basename "$d")" >/dev/null 2>&1
	done
	rm -f /dev/kvm
	rm -rf "$work"
}
trap cleanup EXIT

# A synthetic 64-bit bzImage (as tests/cli/bad-input.sh makes them): a
# valid boot header, zeros after it.
python3 - "$work/bz" <<'PY'
import struct, sys
h = bytearray(1024)
h[0x1f1] = 1
h[0x1f4:0x1f8] = struct.pack("<I", 65536 // 16)
h[0x1fe:0x200] = b"\x55\xaa"
h[0x200:0x202] = b"\xeb\x6a"
h[0x202:0x208] = b"HdrS" + struct.pack("<H", 0x020f)
h[0x211] = 1
h[0x22c:0x238] = struct.pack("<IIBBH", 0x7fffffff, 0x200000, 1, 21, 3)
h[0x238:0x23c] = struct.pack("<I", 2047)
h[0x258:0x264] = struct.pack("<QI", 0x1000000, 0x300000)
with open(sys.argv[1], "wb") as f:
    f.write(h)
    f.truncate(1024 + 65536)
PY

# bundle NAME RESTART-JSON
bundle() {
	mkdir -p "$work/$1"
	cat >"$work/$1/config.json" <<JSON
{ "kernel": "$work/bz", "memory": { "mib": 64 }, "restart": $2 }
JSON
}
field() { "$avp" state "$1" | python3 -c "import json,sys; d=json.load(sys.stdin); print($2)"; }

# --- 1 ---
[ -e /dev/kvm ] && { notok "/dev/kvm is visible in the namespace"; finish; exit 1; }
out=$("$avp" run --kernel "$work/bz" --memory 64 2>&1)
check_eq "$?" 4 "avp run, good inputs, no /dev/kvm: exit 4 (host error)"
case "$out" in *"/dev/kvm"*) ok "it names /dev/kvm" ;; *) notok "message: '$out'" ;; esac

# --- 2 ---
bundle never '{ "policy": "never" }'
"$avp" create never --bundle "$work/never"
t0=$(date +%s)
msg=$("$avp" start never 2>&1)
check_eq "$?" 1 "start without KVM, policy never: exit 1"
[ $(($(date +%s) - t0)) -lt 8 ] && ok "at once, not at the deadline" || notok "start took $(($(date +%s) - t0)) s"
case "$msg" in *host-error*"/dev/kvm"*) ok "start says why: $msg" ;; *) notok "start's message: '$msg'" ;; esac
check_eq "$(field never 'd["last_exit_reason"]')" host-error "state: host-error, not config-error"
case "$(field never 'd["last_exit_detail"]')" in *"/dev/kvm"*) ok "last_exit_detail names /dev/kvm" ;; *) notok "detail: $(field never 'd["last_exit_detail"]')" ;; esac

# --- 3 ---
bundle later '{ "policy": "on-failure", "backoff_ms": 200 }'
"$avp" create later --bundle "$work/later"
(sleep 1; mknod -m 600 /dev/kvm c 10 232) &
msg=$("$avp" start later --timeout 20 2>&1)
check_eq "$?" 0 "start under on-failure returns 0 once KVM appeared (${msg:-no message})"
wait
restarts=$(field later 'd["restarts"]')
[ "${restarts:-0}" -ge 1 ] && ok "it came up after $restarts restart(s)" || notok "restarts: '$restarts'"
"$avp" kill later KILL --wait >/dev/null 2>&1

# --- 4 ---
rm -f /dev/kvm
bundle flaky '{ "policy": "on-failure", "backoff_ms": 100, "max_restarts": 0 }'
"$avp" create flaky --bundle "$work/flaky"
msg=$("$avp" start flaky --timeout 1 2>&1)
check_eq "$?" 1 "start --timeout 1 without KVM: exit 1"
case "$msg" in *"did not run within 1 s"*"restart policy tries again"*) ok "it says the policy retries: $msg" ;; *) notok "message: '$msg'" ;; esac
finish
