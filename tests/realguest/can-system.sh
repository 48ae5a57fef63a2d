#!/bin/bash
# A filtered CAN bus between VMs, declared in a system file (issue 15):
#   scripts/testhost --smp 2 --memory 3072 --timeout 1500 tests/realguest/can-system.sh
# `avp system up` starts a (the cluster, no rules) and b (infotainment:
# tx 0x300-0x3ff, rx 0x100-0x1ff) on the bus "body", whose vcan
# (avpcan-body) it makes itself; each bundle names only the bus. The
# guests run tests/guest/can-bus.sh (the same as tests/realguest/can-bus.sh,
# which sets the rules on the command line instead): allowed frames arrive
# in the other VM and on the host byte for byte, forbidden ones nowhere,
# and the refusals show in `avp state b`. A system file with an unknown
# member is refused before anything starts; `system down` removes the vcan.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh
source tests/lib/realguest.sh

repo=$PWD
rg_setup --absolute --fresh can-system
initrd=$repo/build/guest/initrd-can.img
ct=$repo/build/guest/cantest
for f in "$initrd" "$ct"; do
	[ -e "$f" ] || { notok "$f missing (run scripts/mkguest-can)"; finish; exit 1; }
done
if ! modprobe vcan 2>/dev/null || ! modprobe can-raw 2>/dev/null; then
	notok "cannot load vcan/can-raw in the test host"; finish; exit 1
fi
N=10
bus=avpcan-body
work=$(mktemp -d /tmp/avp-cansys.XXXXXX)
export AVP_RUNTIME_ROOT=$work/root
sys=$work/system.json
pids=()

keep_logs() {
	for vm in a b; do
		[ -f "$AVP_RUNTIME_ROOT/$vm/console.log" ] && tr -d '\r' <"$AVP_RUNTIME_ROOT/$vm/console.log" >"$out/$vm.log"
	done
}
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	keep_logs
	"$avp" system down "$sys" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

# bundle NAME: a member of the bus "body"; the system file gives the rules.
bundle() {
	mkdir -p "$work/$1"
	cat >"$work/$1/config.json" <<JSON
{
  "kernel": "$kernel",
  "initrd": "$initrd",
  "cmdline": "console=ttyS0 panic=-1 quiet avp.test=can-bus avp.canbus=$1",
  "cpus": { "count": 1 },
  "memory": { "mib": 256 },
  "devices": [ { "type": "can", "bus": "body" } ],
  "restart": { "policy": "never" },
  "shutdown_timeout_s": 2
}
JSON
}
bundle a
bundle b

cat >"$work/bad.json" <<'JSON'
{ "vms": [ { "id": "a", "bundle": "a" }, { "id": "b", "bundle": "b" } ],
  "can": [ { "name": "body", "members": ["a", "x"] } ] }
JSON
msg=$("$avp" system up "$work/bad.json" 2>&1)
check_eq "$?" 1 "a CAN bus with an unknown member is refused"
echo "  | $msg"
[ -d "$AVP_RUNTIME_ROOT/a" ] && notok "VM a was created anyway" || ok "nothing was created"
ip link show "$bus" >/dev/null 2>&1 && notok "the bus's vcan was made anyway" || ok "no vcan was made"

cat >"$sys" <<'JSON'
{
  "vms": [ { "id": "a", "bundle": "a" }, { "id": "b", "bundle": "b" } ],
  "can": [ { "name": "body", "members": ["a", "b"],
             "rules": { "b": { "tx": ["0x300-0x3ff"], "rx": ["0x100-0x1ff"] } } } ]
}
JSON
can_up() { "$avp" system up "$sys" --timeout 120; }
can_down() { "$avp" system down "$sys"; }
rg_rt_boot can-system can_up can_down a b
check_eq "$rg_up_rc" 0 "system up (a and b on the bus body, b with rules)"
ip -details link show "$bus" 2>/dev/null | grep -q vcan && ok "system up made the bus's vcan $bus" ||
	notok "no vcan $bus after system up"

loga=$AVP_RUNTIME_ROOT/a/console.log logb=$AVP_RUNTIME_ROOT/b/console.log
# The host is on the bus too: b's allowed 0x310 arrive, none of its 0x120.
"$ct" rx "$bus" classic:0x310 $N 600000 >"$work/h310" 2>&1 &
h310=$!
pids+=("$h310")
h120=
if rg_log_wait "$loga" '^can-bus-a: sync - ready' 300 && rg_log_wait "$logb" '^can-bus-b: sync - ready' 300; then
	# frames b may not receive, from the host: refused and counted
	"$ct" tx "$bus" classic:0x250 $N 1000 >/dev/null 2>&1
	"$ct" count "$bus" 0x120 1 20000 >"$work/h120" 2>&1 &
	h120=$!
	pids+=("$h120")
	"$ct" tx "$bus" classic:0x1ff 1 >/dev/null 2>&1
	ok "host: both VMs ready, go frame sent"
else
	notok "the VMs never both got ready"
fi
rg_log_wait "$loga" '^can-bus-a: sync - done' 200 || notok "VM a did not finish"
rg_log_wait "$logb" '^can-bus-b: sync - done' 200 || notok "VM b did not finish"

# The refusals as avp state shows them (the VM's "can" counters).
tr=$(rg_field b 'd["can"][0]["tx_refused"]') rr=$(rg_field b 'd["can"][0]["rx_refused"]')
"$avp" state b 2>&1 | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin).get("can")))' | sed 's/^/  | /'
[ -n "$tr" ] && [ "$tr" -ge $N ] && ok "avp state b: tx refusals counted ($tr >= $N)" ||
	notok "avp state b: tx_refused is '$tr', want >= $N"
# rx: a's 0x250 and the host's 0x250 (a's 0x150 is b's to receive)
[ -n "$rr" ] && [ "$rr" -ge $((2 * N)) ] && ok "avp state b: rx refusals counted ($rr >= $((2 * N)))" ||
	notok "avp state b: rx_refused is '$rr', want >= $((2 * N))"
check_eq "$(rg_field a 'd["can"][0]["tx_refused"]')/$(rg_field a 'd["can"][0]["rx_refused"]')" 0/0 \
	"avp state a: a (no rules) refused nothing either way"

"$ct" tx "$bus" classic:0x1fe 1 >/dev/null 2>&1
for vm in a b; do
	rg_wait_for "$vm" stopped 120 || notok "$vm did not stop within 120 s (status $(rg_field "$vm" 'd["status"]'))"
	check_eq "$(rg_field "$vm" 'd["last_exit_reason"]')" poweroff "$vm powered off"
done
sleep 1
kill "$h310" 2>/dev/null
wait "$h310"
check_eq "$?" 0 "host: b's $N allowed 0x310 frames on the bus ($(tail -n1 "$work/h310" | sed 's/^cantest: //'))"
if [ -n "$h120" ]; then
	wait "$h120"
	check_grep "$work/h120" 'count: 0 of 1' "host: none of b's forbidden 0x120 frames on the bus"
fi
keep_logs
for vm in a b; do
	check_grep "$out/$vm.log" '^AVP-GUEST-EXIT=0' "VM $vm: the guest-side script passed"
	rg_guest_checks "$out/$vm.log" "can-bus-$vm"
done

"$avp" system down "$sys"
check_eq "$?" 0 "system down"
ip link show "$bus" >/dev/null 2>&1 && notok "system down left the vcan $bus" || ok "system down removed the vcan $bus"
finish
