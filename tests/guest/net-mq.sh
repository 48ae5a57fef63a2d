#!/bin/sh
# Guest side of tests/realguest/net-mq.sh (avp.test=net-mq), busybox sh:
# the virtio-net driver negotiated the control queue and multiqueue, eth0
# has avp.netq=N (default 2) queue pairs in use (the driver enables one
# per vCPU itself; ethtool, where the image has it, asks for N too), and
# TCP moves both ways with the host's net_bulk at fe80::1 (link-local
# only), every byte checked.
arg() { for w in $(cat /proc/cmdline); do case "$w" in "$1="*) echo "${w#*=}";; esac; done; }
fail=0
ok()    { echo "net-mq: ok - $*"; }
notok() { echo "net-mq: not ok - $*"; fail=1; }
want=$(arg avp.netq)
want=${want:-2}

feat=
for v in /sys/bus/virtio/devices/*; do
    [ "$(cat "$v/device" 2>/dev/null)" = 0x0001 ] && feat=$(cat "$v/features")
done
[ -n "$feat" ] || { notok "no virtio-net device"; exit 1; }
# One character per feature bit, bit 0 first.
for f in CTRL_VQ:17 MQ:22; do
    name=${f%:*} bit=${f#*:}
    if [ "$(echo "$feat" | cut -c$((bit + 1)))" = 1 ]; then ok "VIRTIO_NET_F_$name negotiated"
    else notok "VIRTIO_NET_F_$name not negotiated"; fi
done

if command -v ethtool >/dev/null; then
    ethtool -L eth0 combined "$want" && ok "ethtool -L eth0 combined $want"
    ethtool -l eth0 | sed 's/^/net-mq: /'
fi
rx=$(ls -d /sys/class/net/eth0/queues/rx-* | wc -l)
tx=$(ls -d /sys/class/net/eth0/queues/tx-* | wc -l)
if [ "$rx" = "$want" ] && [ "$tx" = "$want" ]; then ok "eth0 uses $want queue pairs (rx-*, tx-*)"
else notok "eth0 has $rx receive and $tx transmit queues, not $want each"; fi

echo 0 > /proc/sys/net/ipv6/conf/eth0/accept_dad
ip link set eth0 up
ip -6 addr add fe80::2/64 dev eth0
i=0
while [ "$(cat /sys/class/net/eth0/carrier 2>/dev/null)" != 1 ] && [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
done
if net_bulk connect fe80::1%eth0 5201 4 60 >/tmp/bulk.log 2>&1; then
    ok "$(grep '^net_bulk: ok' /tmp/bulk.log | sed 's/^net_bulk: ok - //')"
else
    notok "bulk transfer: $(tail -n 3 /tmp/bulk.log | tr '\n' ' ')"
fi
exit $fail
