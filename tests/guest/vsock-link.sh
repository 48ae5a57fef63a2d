#!/bin/sh
# avp.test=vsock-link (tests/realguest/vsock-link.sh), busybox sh:
# guest-to-guest vsock (AVP-VSOCK-2) in a system of three VMs, where a
# (CID 3) and b (CID 4) are linked and c (CID 5) is linked to nobody.
# avp.role=a|b|c says which one this guest is. Every guest listens on port
# 6000, so a refusal below is the link policy, not a missing listener:
#   a: 2 streams to b:6000 at once, 1 MiB each echoed and checked; then
#      c:6000, which must be refused at once
#   b: serves a's 2 streams (and sees them come from CID 3); 1 MiB to
#      a:6000 (the link works both ways); then c:6000, refused
#   c: a:6000 and b:6000, both refused at once; its own listener must see
#      nobody
# Results go to the serial console and to hvc0 (a file on the host, which
# never drops characters).
arg() { for w in $(cat /proc/cmdline); do case "$w" in "$1="*) echo "${w#*=}";; esac; done; }
say() {
    echo "$*"
    [ -c /dev/hvc0 ] && echo "$*" >/dev/hvc0
}
fail=0
ok()    { say "vsock-link: ok - $*"; }
notok() { say "vsock-link: not ok - $*"; fail=1; }
BYTES=1048576
PORT=6000

role=$(arg avp.role)
cid=$(vsock_echo cid 2>&1)
say "vsock-link: role $role, cid $cid"
case "$role" in
a) peer=4; serve=1; streams=2; other=5 ;;
b) peer=3; serve=2; streams=1; other=5 ;;
c) peer=; serve=1; streams=0; other= ;;
*) notok "avp.role must be a, b or c (got '$role')"; exit 1 ;;
esac

# c's listener expects nobody: it only stays up while the others try.
ltime=150
[ "$role" = c ] && ltime=30
timeout "$ltime" vsock_echo listen $PORT $serve >/tmp/listen.log 2>&1 &
lpid=$!
sleep 0.2

# refused CID: the connect must fail with a reset, and at once.
refused() {
    if timeout 20 vsock_echo connect "$1" $PORT 16 >/tmp/refused.log 2>&1; then
        notok "a connection to CID $1 (not linked) succeeded"
        return
    fi
    r=$(tail -n 1 /tmp/refused.log)
    ms=$(echo "$r" | sed -n 's/.*(after \([0-9]*\) ms).*/\1/p')
    case "$r" in
    *"Connection reset"*|*"refused"*)
        if [ -n "$ms" ] && [ "$ms" -lt 2000 ]; then
            ok "CID $1 (not linked) is refused at once: $r"
        else
            notok "CID $1 refused, but not at once: $r"
        fi ;;
    *) notok "CID $1: $r" ;;
    esac
}

if [ "$role" = c ]; then
    refused 3
    refused 4
else
    pids=
    for i in $(seq 1 $streams); do
        # the peer may still be booting: retry refused connects for 120 s
        timeout 170 vsock_echo connect $peer $PORT $BYTES 120 >/tmp/conn$i.log 2>&1 &
        pids="$pids $!"
    done
    i=0
    for p in $pids; do
        i=$((i + 1))
        if wait "$p"; then
            ok "stream $i to CID $peer: $(tail -n 1 /tmp/conn$i.log)"
        else
            notok "stream $i to CID $peer failed: $(tail -n 3 /tmp/conn$i.log | tr '\n' ' ')"
        fi
    done
    refused $other
fi

wait "$lpid"
lrc=$?
while read -r line; do say "vsock-link: $line"; done </tmp/listen.log
if [ "$role" = c ]; then
    if grep -q accepted /tmp/listen.log; then
        notok "c's listener accepted a connection: $(grep accepted /tmp/listen.log | tr '\n' ' ')"
    else
        ok "c's listener saw nobody"
    fi
else
    n=$(grep -c "accepted from $peer:" /tmp/listen.log)
    e=$(grep -c "echoed $BYTES bytes" /tmp/listen.log)
    if [ "$lrc" = 0 ] && [ "$n" = "$serve" ] && [ "$e" = "$serve" ]; then
        ok "served $serve stream(s) from CID $peer, 1 MiB echoed on each"
    else
        notok "listener: exit $lrc, $n accepted from CID $peer, $e echoed (wanted $serve)"
    fi
fi
say "vsock-link: done role=$role rc=$fail"
exit $fail
