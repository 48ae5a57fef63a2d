#!/bin/sh
# Guest side of bench/can-latency.sh (avp.test=can-bench), busybox sh, in
# build/guest/initrd-can.img. avp.canbench=ROLE on the command line:
#   host  (default) round trips through the host's echo (0x200), then a
#         flood to the host (0x300), then counts the host's flood (0x310)
#   echo  answers the other VM's round trips (0x200 -> 0x201)
#   ping  round trips through the other VM's echo
# avp.canbench.n=N round trips (default 10000), avp.canbench.f=F flood frames
# (default 20000). Result lines start with "can-bench: ".
arg() {
    for w in $(cat /proc/cmdline); do
        case "$w" in "$1="*) echo "${w#*=}"; return 0 ;; esac
    done
    echo "$2"
}
role=$(arg avp.canbench host)
n=$(arg avp.canbench.n 10000)
f=$(arg avp.canbench.f 20000)
ip link set can0 up || { echo "can-bench: error: ip link set can0 up failed"; exit 1; }
echo "can-bench: sync - up"
case $role in
host)
    cantest ping can0 0x200 "$n" 5000 | sed 's/^cantest: /can-bench: /'
    echo "can-bench: sync - ping-done"
    # the host's counter is ready once it printed its own line; give it 2 s
    sleep 2
    cantest flood can0 0x300 "$f" | sed 's/^cantest: /can-bench: /'
    echo "can-bench: sync - flood-done"
    cantest count can0 0x310 "$f" 10000 | sed 's/^cantest: /can-bench: host flood: /'
    ;;
echo)
    cantest echo can0 0x200 "$n" 120000 | sed 's/^cantest: /can-bench: /'
    ;;
ping)
    cantest ping can0 0x200 "$n" 5000 | sed 's/^cantest: /can-bench: /'
    ;;
esac
ip -s link show can0 | sed 's/^/can-bench: /'
