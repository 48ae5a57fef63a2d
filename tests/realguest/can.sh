#!/bin/bash
# virtio-can end to end with avp's guest driver (issue 15, AVP-CAN-1): a
# vcan0 in the test host behind `avp run --can if=vcan0`, the reference
# guest with guest/drivers/virtio_can loaded (build/guest/initrd-can.img,
# scripts/mkguest-can). Checks, every byte of every frame:
#   host -> guest and guest -> host: classic 8-byte, FD 64-byte, extended
#   (classic and FD) and RTR frames (cantest on both sides);
#   round trips through a host echo; START/STOP (ip link down/up);
#   BUSOFF when the host's vcan0 goes down, and the restart once it is back;
#   rmmod/insmod of the driver with traffic running both ways.
# Guest side: tests/guest/can.sh. Needs a real /dev/kvm:
#   scripts/testhost tests/realguest/can.sh
# In the arm64 test host (issue 14) the same checks with build/arm64/avp
# and the arm64 guest (scripts/mkguest-can --arch arm64):
#   scripts/testhost --arch arm64 --smp 2 --memory 2048 --timeout 1500 tests/realguest/can.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh
source tests/lib/realguest.sh
source tests/lib/arm64.sh

rg_arch_setup
initrd=$guest/initrd-can.img
cantest=$guest/cantest
for f in "$initrd" "$cantest"; do
	[ -e "$f" ] || { notok "$f missing (run scripts/mkguest-can$([[ $guest = build/guest ]] || echo " --arch arm64"))"; finish; exit 1; }
done
if ! rg_avp_has_option --can; then
	notok "$avp has no --can option"; finish; exit 1
fi
N=20 PING=500
KINDS="classic:0x123 fd:0x1a4 ext:0x1abcde5 fdext:0x0bcdef6 rtr:0x327"

if ! modprobe vcan 2>/dev/null || ! modprobe can-raw 2>/dev/null; then
	notok "cannot load vcan/can-raw in the test host"; finish; exit 1
fi
work=$(mktemp -d /tmp/avp-can.XXXXXX)
ifname=avpcan$$
ifname=${ifname:0:15}
pids=()
avp_pid=
cleanup() {
	[ -n "$avp_pid" ] && kill "$avp_pid" 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	ip link del "$ifname" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
ip link add dev "$ifname" type vcan && ip link set "$ifname" mtu 72 && ip link set "$ifname" up ||
	{ notok "cannot create $ifname (vcan, mtu 72)"; finish; exit 1; }
ok "host: $ifname is a vcan with CAN FD (mtu 72)"

# Receivers for the guest's frames and the echo, before the guest boots.
for k in $KINDS; do
	"$cantest" rx "$ifname" "$k" "$N" 900000 >"$work/rx.${k%%:*}" 2>&1 &
	pids+=($!)
done
rx_pids=("${pids[@]}")
"$cantest" echo "$ifname" 0x200 $((PING + 60)) 900000 >"$work/echo" 2>&1 &
echo_pid=$!
pids+=("$echo_pid")

log=$out/can.log
# arm64: the console on the test host's own disk (every PL011 byte is a
# write; one per byte to the 9p share is slow), copied to $out at the end
[[ $guest = build/guest ]] || log=$work/can.log
rg_start_bg can avp_pid "$log" timeout -k 5 900 "$avp" run --kernel "$kernel" --initrd "$initrd" \
	--cmdline "console=$console panic=-1 quiet avp.test=can" --memory 256 --can "if=$ifname"

# wait_for REGEX SECONDS: until the console log has a matching line.
wait_for() { rg_log_wait "$log" "$1" "$2" "$avp_pid"; }

if wait_for '^can-guest: sync - rx-ready' 300; then
	for k in $KINDS; do
		"$cantest" tx "$ifname" "$k" "$N" 1000 >"$work/tx" 2>&1 ||
			notok "host: sending $k: $(cat "$work/tx")"
	done
	ok "host -> guest: $N frames of each kind sent on $ifname"
else
	notok "the guest's receivers never got ready"
fi

if wait_for '^can-guest: sync - tx-done' 300; then
	for i in "${!rx_pids[@]}"; do
		wait "${rx_pids[$i]}"
		rc=$?
		k=$(sed -n "$((i + 1))p" <<<"${KINDS// /$'\n'}")
		check_eq "$rc" 0 "guest -> host: $N ${k%%:*} frames arrived on $ifname, every byte as sent ($(grep -v ready "$work/rx.${k%%:*}" | tail -n1 | sed 's/^cantest: //'))"
	done
else
	notok "the guest never finished sending"
fi

if wait_for '^can-guest: sync - busoff-ready' 300; then
	ip link set "$ifname" down
	if wait_for '^can-guest: sync - busoff-seen' 60; then
		ok "host: $ifname taken down, the guest saw it"
	else
		notok "the guest did not get through its bus-off checks"
	fi
	ip link set "$ifname" up
else
	notok "the guest never reached the bus-off step"
fi

if wait_for '^can-guest: sync - rmmod-phase' 300; then
	# background traffic host -> guest while the guest unloads its driver
	# (the arm64 test host's root has no can-utils: cantest sends alike)
	if command -v cangen >/dev/null; then
		cangen "$ifname" -I 400 -L 8 -D i -g 2 >/dev/null 2>&1 &
	else
		"$cantest" tx "$ifname" classic:0x400 10000000 2000 >/dev/null 2>&1 &
	fi
	gen_pid=$!
	pids+=("$gen_pid")
	# Bounded by the VM's own limit (timeout 900 above), not a guess at
	# the rounds' speed: the wait ends as soon as avp does. How long the
	# rounds took is said, for a slow CI machine's log.
	t_rmmod=$SECONDS
	if wait_for '^can-guest: sync - rmmod-done' 900; then
		echo "can: time - the rmmod/insmod rounds took $((SECONDS - t_rmmod)) s"
	else
		notok "the guest never finished its rmmod/insmod rounds (waited $((SECONDS - t_rmmod)) s; avp $(kill -0 "$avp_pid" 2>/dev/null && echo still runs || echo had ended))"
	fi
	kill "$gen_pid" 2>/dev/null
fi

wait "$avp_pid"
rc=$?
avp_pid=
# The echo ends by itself after the last round trip; still there, it
# would wait for frames that will not come.
sleep 1
kill "$echo_pid" 2>/dev/null
wait "$echo_pid"
check_eq "$?" 0 "host: the echo answered every round trip ($(tail -n1 "$work/echo" | sed 's/^cantest: //'))"
tr -d '\r' <"$log" >"$log.txt"
[[ $log = "$out"/* ]] || cp "$log.txt" "$out/can.log.txt"
check_eq "$rc" 0 "avp exited 0"
check_grep "$log.txt" '^AVP-GUEST-EXIT=0' "the guest-side script passed"
rg_guest_checks "$log.txt" can-guest
# (reworded: an "ok - " line here would be counted twice by scripts/test)
grep -E '^can-guest: (ok - [0-9]+ round trips|dmesg)' "$log.txt" |
	sed 's/^can-guest: ok - /  | guest: /; s/^can-guest: dmesg: /  | guest dmesg: /'
finish
