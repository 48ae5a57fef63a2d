#!/bin/sh
# avp.test=vsock-suite (tests/realguest/vsock-suite.sh, issue 18), busybox sh:
# Linux's own AF_VSOCK test suite (vsock_test, from linux-source-6.12, built
# by scripts/lib/vsock-test.sh) guest to guest through avp's routing.
#   avp.role=server: this guest is fe80::1 (CID 3) and runs
#                    vsock_test --mode=server
#   avp.role=client: this guest is fe80::2 (CID 4) and runs
#                    vsock_test --mode=client
# The suite's TCP control channel runs over the system network between the
# two VMs (IPv6 link-local only). vsock_test stops at its first failure, so
# every test runs in a vsock_test of its own (the client skips all others;
# a side that says SKIP makes both skip): one failure costs only that test.
# Every line of the suite goes to hvc0 (a file on the host that never drops
# characters) as "vsock-suite: <line>"; the client ends with
# "vsock-suite: passed N of M".
#
# Every test runs once; a failure is a failure. The suite synchronises
# its two sides over its TCP control channel and assumes that channel is
# slower than vsock, as it is on one host (test 17, SHUT_RD: the server
# shuts its receive side, says so over TCP, and the client's send must
# then fail). Guest to guest both ways go through both VMMs, so the host
# side (tests/realguest/vsock-suite.sh) delays the control channel into
# the client's guest to keep that assumption true.
arg() { for w in $(cat /proc/cmdline); do case "$w" in "$1="*) echo "${w#*=}";; esac; done; }
say() {
    echo "$*"
    [ -c /dev/hvc0 ] && echo "$*" >/dev/hvc0
}
CPORT=5000
role=$(arg avp.role)
only=$(arg avp.only) # optional: comma-separated test IDs
case "$role" in
server) me=1; peer=2; peer_cid=4 ;;
client) me=2; peer=1; peer_cid=3 ;;
*) say "vsock-suite: not ok - avp.role must be server or client (got '$role')"; exit 1 ;;
esac
[ -d /sys/class/net/eth0 ] || { say "vsock-suite: not ok - no eth0"; exit 1; }
echo 0 > /proc/sys/net/ipv6/conf/eth0/accept_dad 2>/dev/null
ip link set eth0 up
ip -6 addr add "fe80::$me/64" dev eth0
i=0
while ! ping -6 -c 1 -W 1 "fe80::$peer%eth0" >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -lt 120 ] || { say "vsock-suite: not ok - fe80::$peer does not answer"; exit 1; }
done
say "vsock-suite: $role fe80::$me reached fe80::$peer after $i tries"

ids=$(vsock_test --list | sed -n 's/^\([0-9][0-9]*\)\t.*/\1/p')
[ -n "$only" ] && ids=$(echo "$only" | tr ',' ' ')
n=$(echo $ids | wc -w)

if [ "$role" = server ]; then
    # One server per test: the client decides which test runs (it skips
    # the others), and a failure ends both sides' runs.
    for id in $ids; do
        timeout 120 vsock_test --mode=server --control-host=:: --control-port=$CPORT \
            --peer-cid=$peer_cid >/tmp/server.log 2>&1
        rc=$?
        grep -v -e '\.\.\.skipped$' -e '^Control socket' /tmp/server.log |
            while IFS= read -r line; do say "vsock-suite: server: $line"; done
        say "vsock-suite: server run exit $rc"
    done
    say "vsock-suite: server done"
    exit 0
fi

pass=0 failed=
all=$(vsock_test --list | sed -n 's/^\([0-9][0-9]*\)\t.*/\1/p')
for id in $ids; do
    skip=
    for j in $all; do [ "$j" = "$id" ] || skip="$skip --skip=$j"; done
    # The server of this test may not listen yet: retry the control
    # connection (only that failure, nothing of the test ran) for 60 s.
    t=0
    while :; do
        timeout 120 vsock_test --mode=client --control-host="fe80::$peer%eth0" \
            --control-port=$CPORT --peer-cid=$peer_cid $skip >/tmp/client.log 2>&1
        rc=$?
        grep -q 'Control socket initialization failed' /tmp/client.log || break
        t=$((t + 1))
        [ $t -lt 120 ] || break
        sleep 0.5
    done
    grep -v -e '\.\.\.skipped$' -e '^Control socket' /tmp/client.log |
        while IFS= read -r line; do say "vsock-suite: $line"; done
    if [ $rc = 0 ] && grep -q "^$id - .*\.\.\.ok$" /tmp/client.log; then
        pass=$((pass + 1))
        say "vsock-suite: ok - test $id"
    else
        failed="$failed $id"
        say "vsock-suite: FAILED - test $id (exit $rc)"
    fi
done
say "vsock-suite: failed:${failed:- none}"
say "vsock-suite: passed $pass of $n"
[ $pass = "$n" ]
