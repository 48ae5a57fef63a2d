#!/bin/bash
# Two VMs on one filtered CAN bus (issue 15): a vcan in the test host, VM
# "a" (the cluster) on it without rules, VM "b" (infotainment) with avp's
# acceptance rules tx=0x300-0x3ff, rx=0x100-0x1ff, both with avp's guest
# driver (build/guest/initrd-can.img). Each sends an allowed and a
# forbidden ID: the allowed frames arrive in the other VM and on the host,
# every byte checked; the forbidden ones arrive nowhere, b's driver sees
# its forbidden sends answered NOT_OK, and b's control socket ("can")
# counts the refusals both ways. Guest side: tests/guest/can-bus.sh.
#   scripts/testhost tests/realguest/can-bus.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh
source tests/lib/realguest.sh

rg_setup
initrd=build/guest/initrd-can.img
ct=build/guest/cantest
for f in "$initrd" "$ct"; do
	[ -e "$f" ] || { notok "$f missing (run scripts/mkguest-can)"; finish; exit 1; }
done
if ! rg_avp_has_option --can; then
	notok "$avp has no --can option"; finish; exit 1
fi
N=10
if ! modprobe vcan 2>/dev/null || ! modprobe can-raw 2>/dev/null; then
	notok "cannot load vcan/can-raw in the test host"; finish; exit 1
fi
work=$(mktemp -d /tmp/avp-canbus.XXXXXX)
ifname=avpbus$$
ifname=${ifname:0:15}
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	ip link del "$ifname" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
ip link add dev "$ifname" type vcan && ip link set "$ifname" mtu 72 up ||
	{ notok "cannot create the vcan $ifname"; finish; exit 1; }

# The host sees the bus too: b's allowed 0x310, and none of b's 0x120.
"$ct" rx "$ifname" classic:0x310 $N 600000 >"$work/h310" 2>&1 &
h310=$!
pids+=("$h310")

loga=$out/can-bus-a.log logb=$out/can-bus-b.log
rg_start_bg can-bus-a apid "$loga" timeout -k 5 600 "$avp" run --kernel "$kernel" --initrd "$initrd" \
	--cmdline "console=ttyS0 panic=-1 quiet avp.test=can-bus avp.canbus=a" --memory 256 \
	--can "if=$ifname" --api-sock "$work/a.sock"
pids+=("$apid")
rg_start_bg can-bus-b bpid "$logb" timeout -k 5 600 "$avp" run --kernel "$kernel" --initrd "$initrd" \
	--cmdline "console=ttyS0 panic=-1 quiet avp.test=can-bus avp.canbus=b" --memory 256 \
	--can "if=$ifname,tx=0x300-0x3ff,rx=0x100-0x1ff" --api-sock "$work/b.sock"
pids+=("$bpid")

if rg_log_wait "$loga" '^can-bus-a: sync - ready' 300 && rg_log_wait "$logb" '^can-bus-b: sync - ready' 300; then
	# frames b is not allowed to receive, from the host: refused and counted
	"$ct" tx "$ifname" classic:0x250 $N 1000 >/dev/null 2>&1
	"$ct" count "$ifname" 0x120 1 20000 >"$work/h120" 2>&1 &
	h120=$!
	pids+=("$h120")
	"$ct" tx "$ifname" classic:0x1ff 1 >/dev/null 2>&1
	ok "host: both VMs ready, go frame sent"
else
	notok "the VMs never both got ready"
fi
rg_log_wait "$loga" '^can-bus-a: sync - done' 200 || notok "VM a did not finish"
rg_log_wait "$logb" '^can-bus-b: sync - done' 200 || notok "VM b did not finish"

"$avp" api --api-sock "$work/b.sock" can >"$work/b.json" 2>&1
check_eq "$?" 0 "the control socket's can command on b"
# field FILE KEY: the first CAN device's KEY in a "can" reply
field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["can"][0][sys.argv[2]])' "$1" "$2" 2>/dev/null; }
tr=$(field "$work/b.json" tx_refused) rr=$(field "$work/b.json" rx_refused)
sed 's/^/  | /' "$work/b.json"
[ -n "$tr" ] && [ "$tr" -ge $N ] && ok "b's tx refusals counted ($tr >= $N)" || notok "b's tx_refused is '$tr', want >= $N"
# rx: a's 0x250, the host's 0x250, and a's 0x150 which b may receive is not one
[ -n "$rr" ] && [ "$rr" -ge $((2 * N)) ] && ok "b's rx refusals counted ($rr >= $((2 * N)): a's and the host's 0x250)" ||
	notok "b's rx_refused is '$rr', want >= $((2 * N))"
"$avp" api --api-sock "$work/a.sock" can >"$work/a.json" 2>&1
check_eq "$(field "$work/a.json" tx_refused)/$(field "$work/a.json" rx_refused)" 0/0 "a (no rules) refused nothing either way"

"$ct" tx "$ifname" classic:0x1fe 1 >/dev/null 2>&1
wait "$apid"
check_eq "$?" 0 "VM a: avp exited 0"
wait "$bpid"
check_eq "$?" 0 "VM b: avp exited 0"
# the host's receivers: whatever they have got by now is all there is
sleep 1
kill "$h310" 2>/dev/null
wait "$h310"
check_eq "$?" 0 "host: b's $N allowed 0x310 frames on the bus ($(tail -n1 "$work/h310" | sed 's/^cantest: //'))"
if [ -n "${h120:-}" ]; then
	wait "$h120"
	check_grep "$work/h120" 'count: 0 of 1' "host: none of b's forbidden 0x120 frames on the bus"
fi
for r in a b; do
	log=$out/can-bus-$r.log
	tr -d '\r' <"$log" >"$log.txt"
	check_grep "$log.txt" '^AVP-GUEST-EXIT=0' "VM $r: the guest-side script passed"
	rg_guest_checks "$log.txt" "can-bus-$r"
done
finish
