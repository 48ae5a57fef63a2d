#!/bin/bash
# Guest-to-guest vsock routed by avp (AVP-VSOCK-2), run by the runtime:
#   scripts/testhost --smp 2 --memory 3072 --timeout 1800 tests/realguest/vsock-link.sh
# A system of three VMs (128 MiB each, own --root via AVP_RUNTIME_ROOT):
# a (CID 3) and b (CID 4) are linked by the system file, c (CID 5) is not.
#   - `avp system up` gives a and b a route to each other and c none
#     (state config.vsock_peers, --vsock-peer on the VMM's command line);
#   - a opens 2 streams to b and b one to a, 1 MiB echoed on each and
#     checked byte for byte; each side sees the other's real CID;
#   - a's connect to c, and c's to a and b, are refused at once although
#     every guest listens on the port; avp says why in the VM's log;
#   - b's avp refuses a host client that claims c's CID ("CONNECT 6000
#     FROM 5": c is not linked to b);
#   - a system file that links an unknown VM is refused before anything
#     starts.
# Guest side: tests/guest/vsock-link.sh, tests/guest/vsock_echo.c. Logs in
# build/testhost/out/vsock-link/.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh
source tests/lib/realguest.sh

repo=$PWD
rg_setup --absolute --fresh vsock-link
if ! rg_avp_has_option --vsock-peer; then
	notok "$avp has no --vsock-peer option"; finish; exit 1
fi

work=$(mktemp -d /tmp/avp-vlink.XXXXXX)
export AVP_RUNTIME_ROOT=$work/root
sys=$work/system.json

keep_logs() {
	for vm in a b c; do
		[ -f "$AVP_RUNTIME_ROOT/$vm/console.log" ] && tr -d '\r' <"$AVP_RUNTIME_ROOT/$vm/console.log" >"$out/$vm.log"
		[ -f "$work/$vm/hvc0.log" ] && tr -d '\r' <"$work/$vm/hvc0.log" >"$out/$vm.hvc0.log"
	done
}
cleanup() {
	[ -n "${claim_pid:-}" ] && kill "$claim_pid" 2>/dev/null
	keep_logs
	"$avp" system down "$sys" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT


# bundle NAME CID
bundle() {
	mkdir -p "$work/$1"
	cat >"$work/$1/config.json" <<JSON
{
  "kernel": "$kernel",
  "initrd": "$initrd",
  "cmdline": "console=ttyS0 panic=-1 quiet avp.test=vsock-link avp.role=$1",
  "cpus": { "count": 1 },
  "memory": { "mib": 128 },
  "devices": [
    { "type": "vsock", "cid": $2, "socket": "v.sock" },
    { "type": "console", "backend": "file:hvc0.log" }
  ],
  "restart": { "policy": "never" },
  "shutdown_timeout_s": 2
}
JSON
}
bundle a 3
bundle b 4
bundle c 5

# A link to a VM that is not in the system: refused, nothing started.
cat >"$work/bad.json" <<'JSON'
{ "vms": [ { "id": "a", "bundle": "a" }, { "id": "b", "bundle": "b" } ],
  "links": [ { "vsock": ["a", "x"] } ] }
JSON
msg=$("$avp" system up "$work/bad.json" 2>&1)
check_eq "$?" 1 "a system file linking an unknown VM is refused"
case "$msg" in *'links[0].vsock[1]: no VM "x" in vms'*) ok "it names the JSON path: $msg" ;; *) notok "message: '$msg'" ;; esac
[ -d "$AVP_RUNTIME_ROOT/a" ] && notok "VM a was created anyway" || ok "nothing was created"

cat >"$sys" <<'JSON'
{
  "$comment": "a and b may reach each other by vsock; c may reach nobody",
  "vms": [
    { "id": "a", "bundle": "a" },
    { "id": "b", "bundle": "b" },
    { "id": "c", "bundle": "c" }
  ],
  "links": [ { "vsock": ["a", "b"] } ]
}
JSON

# The system starts under the boot-retry policy (rg_rt_boot,
# tests/lib/realguest.sh): when a guest died in kernel boot, the whole
# system goes down and up again before any check. The guests act at once
# and end on their own, so what needs them alive is done in link_up, with
# the timing it always had, and checked once the three guests run:
#   - the VMMs' command lines, read right after system up;
#   - a host client claiming to be c cannot reach b's guest: b's avp closes
#     the connection without asking its guest. avp takes host clients only
#     once the guest's driver is up (they wait in the listen backlog until
#     then), so the answer comes when b has booted that far (in the
#     background, into $work/claim).
claim_pid=
link_up() {
	# start waits for each VM's vCPUs (default 10 s): the test host is slow.
	"$avp" system up "$sys" --timeout 120
	local st=$?
	apid=$(rg_field a 'd["pid"]')
	acmd=$(tr '\0' ' ' <"/proc/$apid/cmdline" 2>/dev/null)
	cpid=$(rg_field c 'd["pid"]')
	ccmd=$(tr '\0' ' ' <"/proc/$cpid/cmdline" 2>/dev/null)
	claim_b >"$work/claim" 2>&1 &
	claim_pid=$!
	return $st
}
link_down() {
	kill "$claim_pid" 2>/dev/null
	wait "$claim_pid" 2>/dev/null
	"$avp" system down "$sys"
}
claim_b() {
	python3 - "$work/b/v.sock" <<'PY'
import socket, sys, time
path = sys.argv[1]
for _ in range(100):
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        break
    except OSError:
        time.sleep(0.1)
else:
    print("no socket"); sys.exit()
s.settimeout(150)
s.sendall(b"CONNECT 6000 FROM 5\n")
try:
    data = s.recv(64)
    print("closed" if data == b"" else "answered " + data.decode(errors="replace").strip())
except socket.timeout:
    print("no answer in 150 s")
except ConnectionResetError:
    print("closed")
PY
}
t0=$(date +%s.%N)
rg_rt_boot vsock-link link_up link_down a b c
check_eq "$rg_up_rc" 0 "system up (a, b linked; c alone)"
check_eq "$(rg_field a '[(p["id"], p["cid"]) for p in d["config"]["vsock_peers"]]')" "[('b', 4)]" "a's routes: b (CID 4) only"
check_eq "$(rg_field b '[(p["id"], p["cid"]) for p in d["config"]["vsock_peers"]]')" "[('a', 3)]" "b's routes: a (CID 3) only"
check_eq "$(rg_field c 'd["config"]["vsock_peers"]')" "[]" "c has no routes"
case "$acmd" in *"--vsock-peer 4:$work/b/v.sock"*) ok "a's VMM runs with --vsock-peer 4:$work/b/v.sock" ;; *) notok "a's VMM command line: '$acmd'" ;; esac
case "$ccmd" in
*--vsock-peer*) notok "c's VMM has a --vsock-peer" ;;
*" run "*) ok "c's VMM has no --vsock-peer" ;;
*) notok "c's VMM command line was not readable: '$ccmd'" ;;
esac

wait "$claim_pid"
check_eq "$(cat "$work/claim")" closed "b's avp closes a host client claiming c's CID (not linked to b)"

ok_all=1
for vm in a b c; do
	rg_wait_for "$vm" stopped 240 || { notok "$vm did not stop within 240 s (status $(rg_field "$vm" 'd["status"]'))"; ok_all=0; }
done
t1=$(date +%s.%N)
echo "vsock-link: the three guests ran for $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s"
keep_logs
for vm in a b c; do
	echo "--- $vm (hvc0)"
	sed 's/^/  | /' "$out/$vm.hvc0.log" 2>/dev/null | grep -v '^  | $' | tail -n 20
	grep -E 'virtio-vsock|avp-monitor' "$out/$vm.log" | sed 's/^/  | /'
	check_eq "$(rg_field "$vm" 'd["last_exit_reason"]')" poweroff "$vm powered off"
	check_grep "$out/$vm.hvc0.log" "^vsock-link: done role=$vm rc=0$" "every check in $vm passed"
	while IFS= read -r line; do
		case "$line" in
		"vsock-link: ok - "*) ok "$vm: ${line#vsock-link: ok - }" ;;
		"vsock-link: not ok - "*) notok "$vm: ${line#vsock-link: not ok - }" ;;
		esac
	done < <(grep -E '^vsock-link: (ok|not ok) - ' "$out/$vm.hvc0.log" 2>/dev/null)
done
check_eq "$(grep -c 'vsock-link: ok - stream . to CID 4: .*1048576 bytes to 4:6000 and back intact' "$out/a.hvc0.log")" 2 "a: 2 streams to b, 1 MiB each way, intact"
check_eq "$(grep -c 'vsock-link: ok - stream 1 to CID 3: .*1048576 bytes to 3:6000 and back intact' "$out/b.hvc0.log")" 1 "b: 1 stream to a, 1 MiB each way, intact"
check_eq "$(grep -c 'vsock-link: vsock_echo: accepted from 3:' "$out/b.hvc0.log")" 2 "b's guest sees a's streams come from CID 3 (a's own CID, not the host's)"
check_eq "$(grep -c 'vsock-link: vsock_echo: accepted from 4:' "$out/a.hvc0.log")" 1 "a's guest sees b's stream come from CID 4"
check_grep "$out/a.log" "virtio-vsock: refused the guest's connection to CID 5: not linked" "a's avp says why a could not reach c"
check_grep "$out/c.log" "virtio-vsock: refused the guest's connection to CID 3: not linked" "c's avp says why c could not reach a"
check_grep "$out/b.log" "virtio-vsock: refused a stream from CID 5: not linked" "b's avp says why it closed the client claiming CID 5"

"$avp" system down "$sys"
check_eq "$?" 0 "system down"
for vm in a b c; do
	[ -e "$work/$vm/v.sock" ] && notok "$vm's vsock socket is left behind" || ok "$vm's vsock socket is gone"
done
finish
