#!/bin/sh
# Guest side of scripts/bench (avp.test=bench), busybox sh. Added to the
# reference initramfs as a second cpio archive by bench/suite.sh, with the
# ext4 modules and a static benchnet. The root disk bench/mkroot.sh built
# (Debian's fio and iperf3) is whichever disk mounts as ext4; the other is
# the raw disk under test. Prints one "BENCH NAME VALUE" line per figure;
# the host peer is fe80::1 on the tap (iperf3 -s, benchnet serve) and
# CID 2 (benchnet serve). avp.bench=quick: tiny sizes. avp.bench=stress
# (scripts/bootloop --io): only the random-I/O jobs, avp.bench.secs each
# (default 30), and no network: the load under which a 2-vCPU guest died
# after its init (issue 12). avp.bench.only=net: the network jobs only
# (QEMU with vhost-net, for information). Each job is announced with a
# "bench: job NAME" line, so the host can profile it on its own
# (scripts/bench --profile).
arg() { for w in $(cat /proc/cmdline); do case "$w" in "$1="*) echo "${w#*=}";; esac; done; }
mode=$(arg avp.bench)
only=$(arg avp.bench.only)
if [ "$mode" = quick ]; then secs=2 size=16M rr=200 vmib=16
elif [ "$mode" = stress ]; then secs=$(arg avp.bench.secs) size=192M; secs=${secs:-30}
else secs=8 size=192M rr=2000 vmib=128; fi

while read -r m; do
    [ -n "$m" ] && insmod "/lib/modules/bench/$m.ko" 2>/dev/null
done </lib/modules/bench/load-order
mkdir -p /mnt
root= data=
for d in /dev/vd?; do
    if [ -z "$root" ] && mount -t ext4 -o ro "$d" /mnt 2>/dev/null; then root=$d; else data=$d; fi
done
[ -n "$root" ] && [ -n "$data" ] || { echo "bench: no root disk ($root) or data disk ($data)"; exit 1; }
for m in dev proc sys; do mount -o bind "/$m" "/mnt/$m"; done
mount -t tmpfs tmpfs /mnt/tmp
in_root() { chroot /mnt "$@"; }

# fio, terse format v3: field 7/8 read KiB/s and IOPS, 48/49 write's.
fio_run() { # NAME FIELD SCALE FIO-ARGS...
    name=$1 field=$2 scale=$3
    shift 3
    echo "bench: job $name"
    v=$(in_root fio --minimal --name="$name" --filename="$data" --size="$size" --runtime="$secs" \
        --time_based --direct=1 "$@" 2>/tmp/fio.err | awk -F';' -v f="$field" -v s="$scale" '{ printf "%.1f", $f / s }')
    [ -n "$v" ] && echo "BENCH $name $v" || { echo "bench: fio $name failed"; cat /tmp/fio.err; }
}
if [ "$only" = net ]; then :
elif [ "$mode" != stress ]; then
    fio_run blk_seq_write_1m 48 1024 --rw=write --bs=1M --ioengine=libaio --iodepth=4
    fio_run blk_seq_read_1m 7 1024 --rw=read --bs=1M --ioengine=libaio --iodepth=4
fi
if [ "$only" != net ]; then
    fio_run blk_randread_4k_qd32 8 1 --rw=randread --bs=4k --ioengine=libaio --iodepth=32
    fio_run blk_randwrite_4k_fsync 49 1 --rw=randwrite --bs=4k --ioengine=psync --fsync=1
fi
if [ "$mode" = stress ]; then echo "bench: done"; exit 0; fi

echo 0 >/proc/sys/net/ipv6/conf/eth0/accept_dad
ip link set eth0 up
ip -6 addr add fe80::2/64 dev eth0
i=0
while [ "$(cat /sys/class/net/eth0/carrier 2>/dev/null)" != 1 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
# iperf3's receiver line, in Mbit/s (-f m); -R: the host sends.
iperf() { # NAME ARGS...
    name=$1
    shift
    echo "bench: job $name"
    v=
    for try in 1 2 3; do
        v=$(in_root iperf3 -c fe80::1%eth0 -t "$secs" -f m "$@" 2>&1 | tee /tmp/iperf.log |
            awk '/receiver$/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") print $(i - 1) }')
        [ -n "$v" ] && break
        sleep 1
    done
    [ -n "$v" ] && echo "BENCH $name $v" || { echo "bench: iperf3 $name failed"; tail -n 5 /tmp/iperf.log; }
}
iperf net_tcp_g2h
iperf net_tcp_h2g -R
echo "bench: job net_tcp_rr"
v=$(benchnet rr tcp fe80::1%eth0 5202 "$rr") && echo "BENCH net_tcp_rr ${v#rr_us=}" || echo "bench: tcp rr failed"

if [ "$only" = net ]; then echo "bench: done"; exit 0; fi
echo "bench: job vsock_stream_g2h"
v=$(benchnet bulk vsock 2 5203 "$vmib") && echo "BENCH vsock_stream_g2h ${v#mibs=}" || echo "bench: vsock bulk failed"
echo "bench: job vsock_stream_h2g"
v=$(benchnet pull vsock 2 5203 "$vmib") && echo "BENCH vsock_stream_h2g ${v#mibs=}" || echo "bench: vsock pull failed"
echo "bench: job vsock_rr"
v=$(benchnet rr vsock 2 5203 "$rr") && echo "BENCH vsock_rr ${v#rr_us=}" || echo "bench: vsock rr failed"
echo "bench: done"
