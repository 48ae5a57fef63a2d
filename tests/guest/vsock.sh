#!/bin/sh
# Guest side of tests/realguest/vsock.sh (avp.test=vsock), busybox sh.
# Streams in both directions at once, each echoing 1 MiB:
#  - host to guest: vsock_echo listens on port 1234 and serves the
#    host's HOST_STREAMS connections (host: CONNECT 1234 on the
#    device's Unix socket);
#  - guest to host: GUEST_STREAMS connections to CID 2 port 5000,
#    which the host serves on the Unix socket PATH_5000.
fail=0
ok()    { echo "vsock-guest: ok - $*"; }
notok() { echo "vsock-guest: not ok - $*"; fail=1; }
HOST_STREAMS=3
GUEST_STREAMS=2
BYTES=1048576

drv=
for v in /sys/bus/virtio/devices/*; do
    [ "$(cat "$v/device" 2>/dev/null)" = 0x0013 ] || continue
    [ -e "$v/driver" ] && drv=$(basename "$(readlink "$v/driver")")
done
[ "$drv" = vmw_vsock_virtio_transport ] && ok "virtio device 19 is bound to $drv" \
    || notok "virtio-vsock not bound (driver '$drv')"

cid=$(vsock_echo cid 2>&1)
echo "vsock-guest: cid=$cid"

timeout 150 vsock_echo listen 1234 $HOST_STREAMS >/tmp/listen.log 2>&1 &
lpid=$!
sleep 0.2

pids=
for i in $(seq 1 $GUEST_STREAMS); do
    timeout 120 vsock_echo connect 2 5000 $BYTES >/tmp/conn$i.log 2>&1 &
    pids="$pids $!"
done
i=0
for p in $pids; do
    i=$((i + 1))
    if wait "$p"; then
        ok "guest-to-host stream $i: $(tail -n 1 /tmp/conn$i.log)"
    else
        notok "guest-to-host stream $i failed: $(tail -n 3 /tmp/conn$i.log | tr '\n' ' ')"
    fi
done

if wait "$lpid"; then
    ok "served $HOST_STREAMS host-to-guest streams: $(grep -c 'echoed 1048576 bytes' /tmp/listen.log) echoed 1 MiB"
else
    notok "host-to-guest streams failed: $(tail -n 5 /tmp/listen.log | tr '\n' ' ')"
fi
grep 'echoed' /tmp/listen.log | sed 's/^/vsock-guest: /'

# A port nobody listens on, host side: refused at once, not hung.
if timeout 20 vsock_echo connect 2 5999 16 >/tmp/refused.log 2>&1; then
    notok "a connection to host port 5999 (no listener) succeeded"
else
    grep -q 'Connection reset\|refused' /tmp/refused.log \
        && ok "a connection to host port 5999 (no listener) is refused: $(cat /tmp/refused.log)" \
        || notok "port 5999: $(cat /tmp/refused.log)"
fi
exit $fail
