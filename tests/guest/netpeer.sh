#!/bin/sh
# avp.test=netpeer (tests/realguest/runtime.sh, examples/cockpit): two VMs
# on one avp system network. avp.ip=N gives this guest fe80::N on eth0;
# avp.peer=M is the other VM, pinged until it answers (it may boot later).
# Stays up a while after its own success so the peer can ping it too.
# With avp.vsockpeer=CID (examples/cockpit, whose system file links the two
# VMs for vsock, AVP-VSOCK-2) it also listens on vsock port 5000 and
# echoes 64 KiB with the peer's listener there.
arg() { for w in $(cat /proc/cmdline); do case "$w" in "$1="*) echo "${w#*=}";; esac; done; }
me=$(arg avp.ip)
peer=$(arg avp.peer)
fail=0
[ -n "$me" ] && [ -n "$peer" ] || { echo "netpeer: not ok - avp.ip/avp.peer missing"; exit 1; }
[ -d /sys/class/net/eth0 ] || { echo "netpeer: not ok - no eth0"; exit 1; }
echo 0 > /proc/sys/net/ipv6/conf/eth0/accept_dad 2>/dev/null
vpeer=$(arg avp.vsockpeer)
if [ -n "$vpeer" ]; then
    timeout 90 vsock_echo listen 5000 1 >/tmp/vlisten.log 2>&1 &
    vlpid=$!
fi
ip link set eth0 up
ip -6 addr add "fe80::$me/64" dev eth0
echo "netpeer: eth0 $(cat /sys/class/net/eth0/address) is fe80::$me, peer fe80::$peer"
i=0
while [ $i -lt 60 ]; do
    if ping -6 -c 1 -W 1 "fe80::$peer%eth0" >/tmp/ping.log 2>&1; then
        echo "netpeer: ok - fe80::$me reached fe80::$peer after $i tries"
        break
    fi
    i=$((i + 1))
done
if [ $i -ge 60 ]; then
    echo "netpeer: not ok - no answer from fe80::$peer: $(tail -n 2 /tmp/ping.log | tr '\n' ' ')"
    fail=1
fi
if [ -n "$vpeer" ]; then
    # the peer may still be booting: refused connects are retried for 60 s
    if timeout 80 vsock_echo connect "$vpeer" 5000 65536 60 >/tmp/vconn.log 2>&1; then
        echo "netpeer: ok - vsock to CID $vpeer: $(tail -n 1 /tmp/vconn.log)"
    else
        echo "netpeer: not ok - vsock to CID $vpeer: $(tail -n 2 /tmp/vconn.log | tr '\n' ' ')"
        fail=1
    fi
    if wait "$vlpid"; then
        echo "netpeer: ok - vsock from CID $vpeer: $(grep -E 'accepted|echoed' /tmp/vlisten.log | tr '\n' ' ')"
    else
        echo "netpeer: not ok - vsock listener: $(tail -n 2 /tmp/vlisten.log | tr '\n' ' ')"
        fail=1
    fi
fi
# The peer may still be pinging us.
linger=$(arg avp.linger)
sleep "${linger:-15}"
exit $fail
