#!/bin/sh
# Guest side of tests/realguest/can.sh (avp.test=can), busybox sh, in
# build/guest/initrd-can.img (the driver and cantest come with it). The
# host side has vcan0 behind avp's --can; the two halves keep in step by
# the lines this script prints ("can-guest: sync - NAME", which the host
# waits for) and by CAN frames (the guest waits for the host's).
#
# CAN_N frames of each kind each way (default 20), CAN_PING round trips.
fail=0
ok()    { echo "can-guest: ok - $*"; }
notok() { echo "can-guest: not ok - $*"; fail=1; }
sync_point() { echo "can-guest: sync - $1"; }
N=${CAN_N:-20}
PING=${CAN_PING:-500}
KINDS="classic:0x123 fd:0x1a4 ext:0x1abcde5 fdext:0x0bcdef6 rtr:0x327"

state() { cantest state can0 | sed -n 's/^cantest: state can0 //p'; }
# wait_state WANT SECONDS
wait_state() {
    i=0
    while [ "$i" -lt $(($2 * 10)) ]; do
        [ "$(state)" = "$1" ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
bound() {
    for v in /sys/bus/virtio/devices/*; do
        [ "$(cat "$v/device" 2>/dev/null)" = 0x0024 ] || continue
        basename "$(readlink "$v/driver" 2>/dev/null)"
    done
}

dmesg_start=$(dmesg | wc -l)
d=$(bound)
[ "$d" = virtio_can ] && ok "the virtio-can device (ID 36) is bound to virtio_can" \
    || notok "the virtio-can device is bound to '${d:-nothing}'"
if [ ! -e /sys/class/net/can0 ]; then
    notok "no can0"
    exit 1
fi
ok "can0 exists (mtu $(cat /sys/class/net/can0/mtu), type $(cat /sys/class/net/can0/type))"
[ "$(cat /sys/class/net/can0/type)" = 280 ] && ok "can0 is ARPHRD_CAN" || notok "can0 type is not 280"
[ "$(cat /sys/class/net/can0/mtu)" = 72 ] && ok "can0 carries CAN FD (mtu 72)" || notok "can0 mtu is not 72"
dmesg | grep 'virtio CAN:' | sed 's/^/can-guest: dmesg: /'
[ "$(state)" = STOPPED ] && ok "before ip link up the controller is STOPPED" \
    || notok "before ip link up the state is '$(state)'"

if ip link set can0 up; then ok "ip link set can0 up (START answered OK)"; else notok "ip link set can0 up failed"; fi
[ "$(state)" = ERROR-ACTIVE ] && ok "state ERROR-ACTIVE once up" || notok "state is '$(state)' once up"
ip-full -details link show can0 2>&1 | sed 's/^/can-guest: ip -details: /'

# ---- host -> guest: every kind, every byte
pids=""
for k in $KINDS; do
    cantest rx can0 "$k" "$N" 120000 >"/tmp/rx.${k%%:*}" 2>&1 &
    pids="$pids${pids:+ }$!"
done
sleep 1
sync_point rx-ready
# shellcheck disable=SC2086 # one pid per word, in the order of $KINDS
set -- $pids
for k in $KINDS; do
    wait "$1"
    rc=$?
    shift
    sed 's/^/can-guest: /' "/tmp/rx.${k%%:*}" | grep -v ready
    [ $rc = 0 ] && ok "host -> guest: $N ${k%%:*} frames, every byte as sent" \
        || notok "host -> guest: ${k%%:*} frames (rc $rc)"
done

# ---- guest -> host: the host's receivers were started before the boot
for k in $KINDS; do
    if cantest tx can0 "$k" "$N" 1000 >/tmp/tx 2>&1; then ok "guest -> host: $N ${k%%:*} frames sent"
    else notok "guest -> host: sending ${k%%:*}: $(cat /tmp/tx)"; fi
done
sync_point tx-done

# ---- a round trip through the host's echo (cantest echo vcan0 0x200)
if cantest ping can0 0x200 "$PING" 5000 >/tmp/ping 2>&1; then
    ok "$PING round trips through the host: $(sed 's/^cantest: //' /tmp/ping)"
else
    notok "round trips: $(cat /tmp/ping)"
fi
sync_point ping-done

# ---- STOP / START: ip link down and up, three times
for i in 1 2 3; do
    ip link set can0 down || notok "ip link set can0 down ($i)"
    [ "$(state)" = STOPPED ] || notok "state '$(state)' after down ($i)"
    cantest tx can0 classic:0x211 1 >/dev/null 2>&1 && notok "a frame was sent while can0 was down ($i)"
    ip link set can0 up || notok "ip link set can0 up ($i)"
    [ "$(state)" = ERROR-ACTIVE ] || notok "state '$(state)' after up ($i)"
done
cantest ping can0 0x200 20 5000 >/tmp/ping 2>&1 && ok "STOP/START three times, then 20 round trips work" \
    || notok "after STOP/START: $(cat /tmp/ping)"

# ---- bus-off: the host takes vcan0 down
cantest busoff can0 120000 >/tmp/busoff 2>&1 &
bpid=$!
sleep 0.5
sync_point busoff-ready
wait $bpid && ok "a bus-off error frame reached the socket: $(sed -n 's/^cantest: busoff: //p' /tmp/busoff)" \
    || notok "no bus-off error frame: $(tail -n1 /tmp/busoff)"
wait_state BUS-OFF 10 && ok "state BUS-OFF (IFLA_CAN_STATE)" || notok "state is '$(state)' after the host's interface went down"
# as users see it: iproute2's ip (busybox's has no CAN details)
ip-full -details link show can0 >/tmp/ipd 2>&1
sed 's/^/can-guest: ip -details: /' /tmp/ipd
grep -q 'can .*state BUS-OFF' /tmp/ipd && ok "ip -details link show can0 says state BUS-OFF" \
    || notok "ip -details link show can0 does not say BUS-OFF"
[ "$(cat /sys/class/net/can0/carrier 2>/dev/null)" = 0 ] && ok "carrier off in bus-off" || notok "carrier is not off in bus-off"
sync_point busoff-seen
# The host brings vcan0 back; a restart (down, up: START) then succeeds.
i=0 up=0
while [ $i -lt 120 ]; do
    ip link set can0 down 2>/dev/null
    if ip link set can0 up 2>/dev/null; then up=1; break; fi
    sleep 0.5
    i=$((i + 1))
done
[ $up = 1 ] && ok "restart after bus-off (down, up) once the host interface is back" \
    || notok "can0 did not come back up after bus-off"
[ "$(state)" = ERROR-ACTIVE ] && ok "state ERROR-ACTIVE after the restart" || notok "state '$(state)' after the restart"
cantest ping can0 0x200 20 5000 >/tmp/ping 2>&1 && ok "20 round trips after the restart" \
    || notok "after the restart: $(cat /tmp/ping)"

# ---- rmmod / insmod with traffic both ways (the host floods 0x400)
sync_point rmmod-phase
for i in 1 2 3; do
    cantest flood can0 0x401 1000000 >/dev/null 2>&1 &
    fpid=$!
    cantest count can0 0x400 1000000 3000 >/dev/null 2>&1 &
    cpid=$!
    sleep 1
    if rmmod virtio_can; then ok "rmmod virtio_can with traffic running ($i)"; else notok "rmmod virtio_can ($i)"; fi
    wait $fpid
    wait $cpid
    [ -e /sys/class/net/can0 ] && notok "can0 still there after rmmod ($i)"
    insmod /lib/modules/virtio_can.ko || notok "insmod virtio_can ($i)"
    j=0
    while [ ! -e /sys/class/net/can0 ] && [ $j -lt 50 ]; do sleep 0.1; j=$((j + 1)); done
    ip link set can0 up || notok "can0 up after insmod ($i)"
done
cantest ping can0 0x200 20 5000 >/tmp/ping 2>&1 && ok "rmmod/insmod three times under traffic, then 20 round trips work" \
    || notok "after rmmod/insmod: $(cat /tmp/ping)"
sync_point rmmod-done

# the kernel said nothing bad since this script started (the boot's own
# warnings, e.g. about the nested test host's CPU, are not ours)
if dmesg | tail -n +$((dmesg_start + 1)) | grep -E 'WARNING:|BUG:|Oops|refcount_t|use-after-free|list_(add|del) corruption|kfree_skb.*irq' >/tmp/bad; then
    notok "kernel complaints: $(head -n 3 /tmp/bad | tr '\n' ' ')"
else
    ok "no kernel warnings, BUGs or oopses in dmesg"
fi
ip -s link show can0 2>/dev/null | sed 's/^/can-guest: /'
exit $fail
