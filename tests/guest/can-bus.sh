#!/bin/sh
# Guest side of tests/realguest/can-bus.sh (avp.test=can-bus), busybox sh,
# in build/guest/initrd-can.img: two VMs on one host vcan, "a" (the
# cluster: no rules) and "b" (infotainment: avp's --can ...,tx=0x300-0x3ff,
# rx=0x100-0x1ff). avp.canbus=a|b on the command line. Each VM sends an
# allowed and a forbidden ID once the host's go frame (0x1ff) came, and
# checks it received exactly what the rules let through.
fail=0
ok()    { echo "can-bus-$role: ok - $*"; }
notok() { echo "can-bus-$role: not ok - $*"; fail=1; }
arg() {
    for w in $(cat /proc/cmdline); do
        case "$w" in "$1="*) echo "${w#*=}"; return 0 ;; esac
    done
    echo "$2"
}
role=$(arg avp.canbus a)
N=10
case $role in
a) allowed=classic:0x310 forbidden=0x120 send_ok=classic:0x150 send_no=classic:0x250 ;;
*) allowed=classic:0x150 forbidden=0x250 send_ok=classic:0x310 send_no=classic:0x120 ;;
esac

ip link set can0 up && ok "can0 up" || notok "ip link set can0 up"
cantest rx can0 "$allowed" $N 120000 >/tmp/allowed 2>&1 &
apid=$!
sleep 1
echo "can-bus-$role: sync - ready"
if cantest rx can0 classic:0x1ff 1 300000 >/tmp/go 2>&1; then ok "the host's go frame came"
else notok "no go frame from the host"; fi
# The other VM sends its forbidden frames right after its allowed ones,
# which it starts on the same go frame: 20 s of watching covers them.
cantest count can0 "$forbidden" 1 20000 >/tmp/forbidden 2>&1 &
fpid=$!
e0=$(cat /sys/class/net/can0/statistics/tx_errors)
cantest tx can0 "$send_ok" $N 2000 >/dev/null 2>&1 || notok "sending $send_ok"
cantest tx can0 "$send_no" $N 2000 >/dev/null 2>&1 || notok "sending $send_no"
sleep 1
e1=$(cat /sys/class/net/can0/statistics/tx_errors)
if [ "$role" = b ]; then
    [ $((e1 - e0)) -ge $N ] && ok "the $N frames the tx rules forbid were answered NOT_OK (tx_errors +$((e1 - e0)))" \
        || notok "tx_errors went up by $((e1 - e0)), want $N (the forbidden ${send_no#*:})"
else
    [ $((e1 - e0)) = 0 ] && ok "no Tx errors without rules" || notok "tx_errors +$((e1 - e0)) without rules"
fi
wait $apid && ok "received the $N allowed ${allowed#*:} frames, every byte as sent" \
    || notok "allowed ${allowed#*:}: $(tail -n1 /tmp/allowed)"
wait $fpid
grep -q 'count: 0 of 1' /tmp/forbidden && ok "none of the forbidden ${forbidden} frames arrived" \
    || notok "forbidden ${forbidden}: $(tail -n1 /tmp/forbidden)"
# The host reads avp's counters while this VM still runs: stay until its
# bye frame (0x1fe), a minute at most.
cantest rx can0 classic:0x1fe 1 60000 >/dev/null 2>&1 &
byepid=$!
sleep 0.5
echo "can-bus-$role: sync - done"
wait $byepid
exit $fail
