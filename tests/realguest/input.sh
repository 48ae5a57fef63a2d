#!/bin/bash
# virtio-input and the control socket end to end (AVP-INPUT-1, AVP-PM-1):
# a guest with an avp keyboard and an 800x480 touch screen prints the
# events it receives; the host injects a key press, a touch and raw
# events with `avp api ... input`, checks the guest saw exactly those
# codes and coordinates, then asks for a graceful shutdown ("shutdown":
# the ACPI power button through a Generic Event Device), which the guest
# answers by powering off. Needs a real /dev/kvm:
#   scripts/testhost tests/realguest/input.sh
# Guest side: tests/guest/input.sh, input_events.c, powerbtn.c.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh
source tests/lib/realguest.sh

rg_setup
if ! rg_avp_has_option --input; then
	notok "$avp has no --input option"; finish; exit 1
fi

work=$(mktemp -d /tmp/avp-input.XXXXXX)
api=$work/api.sock
avp_pid=
cleanup() {
	[ -n "$avp_pid" ] && kill "$avp_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

log=$out/input.log
start=$(date +%s.%N)
rg_start_bg input avp_pid "$log" timeout -k 5 300 "$avp" run --kernel "$kernel" --initrd "$initrd" \
	--cmdline "console=ttyS0 panic=-1 quiet avp.test=input" --memory 256 \
	--input keyboard --input touch,width=800,height=480 --api-sock "$api"

# wait_for REGEX SECONDS: until the console log has a matching line.
wait_for() { rg_log_wait "$log" "$1" "$2" "$avp_pid"; }
# api CMD [ARGS]: one request; the reply goes to $work/reply.
api() { "$avp" api --api-sock "$api" "$@" >"$work/reply" 2>&1; }

if wait_for '^input_events: ready: .*avp keyboard.*avp touchscreen|^input_events: ready: .*avp touchscreen.*avp keyboard' 200; then
	ok "the guest's reader found both input devices"
else
	notok "the guest's input reader never got ready"
fi

api status
check_eq "$?" 0 "status over the control socket"
check_grep "$work/reply" '"state":"running"' "status says running"
check_eq "$(grep -o '"type":"virtio-input"' "$work/reply" | wc -l)" 2 "status lists two virtio-input devices"
check_grep "$work/reply" '"input"' "status lists the input command"

api input '{"key":"KEY_A"}'
check_eq "$?" 0 "input: click KEY_A on the keyboard"
api input '{"device":"touch","touch":{"x":123,"y":456}}'
check_eq "$?" 0 "input: tap the touch screen at (123,456)"
api input '{"device":"keyboard","events":[{"type":1,"code":48,"value":1},{"type":0,"code":0,"value":0},{"type":1,"code":48,"value":0}]}'
check_eq "$?" 0 "input: raw KEY_B press and release events"
api input '{"key":"KEY_NOT_A_KEY"}'
check_eq "$?" 2 "input: an unknown key is refused (exit 2)"
check_grep "$work/reply" '"ok":false' "the refusal is an error reply"
api input '{"device":"touch","touch":{"x":800,"y":0}}'
check_eq "$?" 2 "input: a touch outside the 800x480 screen is refused"
# a raw client sending garbage gets an error line, and the VM runs on
python3 - "$api" >"$work/raw" 2>&1 <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(b'this is not json\n{"cmd":"status"}\n')
f = s.makefile()
print(f.readline().strip())
print(f.readline().strip())
PY
check_grep "$work/raw" '^\{"ok":false,"error":"malformed JSON' "garbage on the socket gets an error reply"
check_grep "$work/raw" '"state":"running"' "and the same connection still answers"

for want in \
	'avp keyboard type=1 code=30 value=1' 'avp keyboard type=1 code=30 value=0' \
	'avp touchscreen type=3 code=57 value=0' 'avp touchscreen type=3 code=53 value=123' \
	'avp touchscreen type=3 code=54 value=456' 'avp touchscreen type=1 code=330 value=1' \
	'avp touchscreen type=3 code=0 value=123' 'avp touchscreen type=3 code=1 value=456' \
	'avp touchscreen type=3 code=57 value=-1' 'avp touchscreen type=1 code=330 value=0' \
	'avp keyboard type=1 code=48 value=1' 'avp keyboard type=1 code=48 value=0'; do
	if wait_for "^input-event: $want\$" 30; then ok "guest saw: $want"; else notok "guest never saw: $want"; fi
done
# nothing the host did not send
extra=$(tr -d '\r' <"$log" | grep '^input-event: ' | grep -cvE 'code=(30|48|57|53|54|330|0|1|47) ')
check_eq "$extra" 0 "no unexpected events reached the guest"

api shutdown '{"timeout":60}'
check_eq "$?" 0 "shutdown: the power button was pressed"
check_grep "$work/reply" '"method":"acpi-power-button"' "shutdown says how it asked"
t0=$(date +%s.%N)
wait "$avp_pid"
rc=$?
avp_pid=
t1=$(date +%s.%N)
end=$t1
tr -d '\r' <"$log" >"$log.txt"
echo "input: the guest was off $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s after the button; whole run $(awk "BEGIN{printf \"%.1f\", $end - $start}") s"
sed 's/^/  | /' "$log.txt" | tail -n 40
check_eq "$rc" 0 "the guest powered off on the power button (avp exit 0)"
check_grep "$log.txt" '^powerbtn: power button pressed' "the guest's handler saw KEY_POWER from the ACPI button"
check_grep "$log.txt" '^input-guest: ok - 2 virtio-input devices bound' "both devices bound to virtio_input"
if grep -q '^input-guest: not ok' "$log.txt"; then notok "guest-side failures: $(grep '^input-guest: not ok' "$log.txt" | head -3)"; fi
if [ -e "$api" ]; then notok "$api is left behind after avp exited"; else ok "avp removed its control socket"; fi
finish
