#!/bin/sh
# Guest side of tests/realguest/avp-boot.sh (avp.test=avp-main): checks every
# device the main boot gives the guest and prints one "ok"/"not ok" line
# each. busybox sh. Expected platform: 2 vCPUs, vda (rw, signature at 0),
# vdb (ro, signature at 0), eth0 on a tap whose host end is fe80::1, hwrng,
# hvc0.
fail=0
ok()    { echo "avp-main: ok - $*"; }
notok() { echo "avp-main: not ok - $*"; fail=1; }

n=$(grep -c '^processor' /proc/cpuinfo)
[ "$n" = 2 ] && ok "2 CPUs online" || notok "$n CPUs, expected 2"
# avp's MP table in the EBDA, where Linux's scan stops (src/arch/x86/mptable.c).
if [ "$(uname -m)" != x86_64 ]; then
    :
elif dmesg | grep -q 'found SMP MP-table at \[mem 0x0009fc00-0x0009fc0f\]'; then
    ok "the kernel found the MP table in the EBDA"
else
    notok "no MP table found at 0x9fc00: $(dmesg | grep -i 'MP-table' | head -n 1)"
fi

sig=$(dd if=/dev/vda bs=18 count=1 2>/dev/null)
[ "$sig" = "AVP-DISK-SIGNATURE" ] && ok "vda reads the host's signature" || notok "vda starts with '$sig'"
if printf 'GUEST-WROTE-THIS' | dd of=/dev/vda bs=512 seek=1 conv=notrunc 2>/dev/null && sync; then
    ok "wrote sector 1 of vda and synced"
else
    notok "write to vda failed"
fi

[ "$(cat /sys/block/vdb/ro 2>/dev/null)" = 1 ] && ok "vdb is read-only" || notok "vdb ro flag is '$(cat /sys/block/vdb/ro 2>/dev/null)'"
sig=$(dd if=/dev/vdb bs=18 count=1 2>/dev/null)
[ "$sig" = "AVP-RO-SIGNATURE.." ] && ok "vdb reads the host's signature" || notok "vdb starts with '$sig'"
if printf 'MUST-NOT-LAND' | dd of=/dev/vdb bs=512 seek=1 conv=notrunc,fsync 2>/dev/null; then
    notok "a write to read-only vdb succeeded"
else
    ok "a write to read-only vdb is refused"
fi

if [ -c /dev/hwrng ]; then
    n=$(dd if=/dev/hwrng bs=32 count=1 2>/dev/null | wc -c)
    [ "$n" -eq 32 ] && ok "read 32 bytes from /dev/hwrng" || notok "hwrng gave $n bytes"
else
    notok "no /dev/hwrng"
fi

if [ -c /dev/hvc0 ]; then
    echo "HVC0-HELLO-FROM-GUEST" > /dev/hvc0 && ok "wrote to hvc0" || notok "write to hvc0 failed"
else
    notok "no /dev/hvc0"
fi

if [ -d /sys/class/net/eth0 ]; then
    mac=$(cat /sys/class/net/eth0/address)
    [ "$mac" = 52:54:00:12:34:56 ] && ok "eth0 has the configured MAC" || notok "eth0 MAC is $mac"
    echo 0 > /proc/sys/net/ipv6/conf/eth0/accept_dad 2>/dev/null
    ip link set eth0 up
    ip -6 addr add fe80::2/64 dev eth0
    [ "$(cat /sys/class/net/eth0/carrier 2>/dev/null)" = 1 ] && ok "eth0 link is up" || notok "eth0 has no carrier"
    if ping -6 -c 3 -W 5 fe80::1%eth0 >/tmp/ping.log 2>&1 || ping6 -c 3 -W 5 fe80::1%eth0 >/tmp/ping.log 2>&1; then
        ok "ping fe80::1 (the tap's host end) over eth0"
    else
        notok "no answer from fe80::1 over eth0: $(tail -n 2 /tmp/ping.log | tr '\n' ' ')"
    fi
else
    notok "no eth0"
fi

exit $fail
