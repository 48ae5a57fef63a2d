#!/bin/sh
# avp.test=blkbench: sequential throughput of the first virtio disk (vda),
# for bench/blk-throughput.sh. Writes 64 MiB (ending in an fsync, so the
# flush is part of the figure), drops the page cache, reads them back.
# Prints one "BLKBENCH mib=N write_cs=N read_cs=N" line (centiseconds from
# /proc/uptime; busybox date has no sub-second format).
dev=/dev/vda
mib=64
cs() { cut -d' ' -f1 /proc/uptime | tr -d .; }
[ -b "$dev" ] || { echo "blkbench: no $dev"; exit 1; }
t0=$(cs)
dd if=/dev/zero of="$dev" bs=1M count=$mib conv=fsync 2>/dev/null || { echo "blkbench: write failed"; exit 1; }
t1=$(cs)
sync
echo 3 >/proc/sys/vm/drop_caches
t2=$(cs)
dd if="$dev" of=/dev/null bs=1M count=$mib 2>/dev/null || { echo "blkbench: read failed"; exit 1; }
t3=$(cs)
echo "BLKBENCH mib=$mib write_cs=$((t1 - t0)) read_cs=$((t3 - t2))"
