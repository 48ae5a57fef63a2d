#!/bin/sh
# Guest side of tests/realguest/net-offload.sh and bench/net-throughput.sh
# (avp.test=net-offload), busybox sh: which offloads the virtio-net driver
# negotiated, then a bulk TCP transfer both ways with the host's net_bulk
# server at fe80::1 (link-local only), every byte checked, and whether the
# frames crossing eth0 were larger than Ethernet allows (GSO at work).
# avp.mib=N sets the size each way (default 32). avp.netq=N (from
# tests/realguest/net-mq.sh): CTRL_VQ and MQ negotiated too, and eth0 uses
# N queue pairs (the driver enables one per vCPU itself).
arg() { for w in $(cat /proc/cmdline); do case "$w" in "$1="*) echo "${w#*=}";; esac; done; }
fail=0
ok()    { echo "net-offload: ok - $*"; }
notok() { echo "net-offload: not ok - $*"; fail=1; }
mib=$(arg avp.mib)
mib=${mib:-32}
netq=$(arg avp.netq)

feat=
for v in /sys/bus/virtio/devices/*; do
    [ "$(cat "$v/device" 2>/dev/null)" = 0x0001 ] && feat=$(cat "$v/features")
done
[ -n "$feat" ] || { notok "no virtio-net device"; exit 1; }
echo "net-offload: virtio-net features $feat"
# The features file has one character per bit, bit 0 first.
for f in CSUM:0 GUEST_CSUM:1 GUEST_TSO4:7 GUEST_TSO6:8 HOST_TSO4:11 HOST_TSO6:12 \
    ${netq:+CTRL_VQ:17 MQ:22}; do
    name=${f%:*} bit=${f#*:}
    if [ "$(echo "$feat" | cut -c$((bit + 1)))" = 1 ]; then
        ok "VIRTIO_NET_F_$name negotiated"
    else
        notok "VIRTIO_NET_F_$name not negotiated"
    fi
done

if [ -n "$netq" ]; then
    rx=$(ls -d /sys/class/net/eth0/queues/rx-* | wc -l)
    tx=$(ls -d /sys/class/net/eth0/queues/tx-* | wc -l)
    if [ "$rx" = "$netq" ] && [ "$tx" = "$netq" ]; then ok "eth0 uses $netq queue pairs (rx-*, tx-*)"
    else notok "eth0 has $rx receive and $tx transmit queues, not $netq each"; fi
    # The driver counts its queues before asking; a refused VQ_PAIRS_SET
    # shows only in its warning.
    if dmesg | grep -q 'Fail to set num of queue pairs'; then
        notok "the device refused VQ_PAIRS_SET: $(dmesg | grep -m1 'Fail to set num of queue pairs')"
    else ok "the device accepted VQ_PAIRS_SET (no driver warning)"; fi
fi

echo 0 > /proc/sys/net/ipv6/conf/eth0/accept_dad
ip link set eth0 up
ip -6 addr add fe80::2/64 dev eth0
i=0
while [ "$(cat /sys/class/net/eth0/carrier 2>/dev/null)" != 1 ] && [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
done

if net_bulk connect fe80::1%eth0 5201 "$mib" 60 >/tmp/bulk.log 2>&1; then
    ok "$(grep '^net_bulk: ok' /tmp/bulk.log | sed 's/^net_bulk: ok - //')"
else
    notok "bulk transfer: $(tail -n 3 /tmp/bulk.log | tr '\n' ' ')"
fi
line=$(grep '^NET_BULK ' /tmp/bulk.log)
echo "$line"
tx=$(echo "$line" | sed -n 's/.* tx_avg=\([0-9]*\).*/\1/p')
rx=$(echo "$line" | sed -n 's/.* rx_avg=\([0-9]*\).*/\1/p')
# One GSO frame counts as one packet: an average above 1514 bytes (the
# largest plain Ethernet frame) means the driver handed the device TSO
# frames, and the device handed the driver GSO frames.
if [ "${tx:-0}" -gt 1514 ]; then ok "guest sent GSO frames: eth0 averaged $tx bytes/frame out"
else notok "no GSO frames sent: eth0 averaged ${tx:-?} bytes/frame out"; fi
if [ "${rx:-0}" -gt 1514 ]; then ok "guest received GSO frames: eth0 averaged $rx bytes/frame in"
else notok "no GSO frames received: eth0 averaged ${rx:-?} bytes/frame in"; fi
exit $fail
