#!/bin/sh
# Guest side of tests/realguest/durability.sh (avp.test=durability): one
# phase per boot, chosen by avp.dur=sync|torn on the kernel command line.
# The helper prints the marker the host waits for and never returns: the
# host SIGKILLs avp at the marker and checks the image.
phase=
for w in $(cat /proc/cmdline); do
    case "$w" in avp.dur=*) phase=${w#avp.dur=} ;; esac
done
case "$phase" in
sync|torn) ;;
*) echo "durability: not ok - no avp.dur=sync|torn on the command line"; exit 1 ;;
esac
[ -b /dev/vda ] || { echo "durability: not ok - no /dev/vda"; exit 1; }
echo "durability: phase $phase on /dev/vda"
# 4 MiB starting at 1 MiB; the host checks the rest of the disk is untouched.
exec fsync_marker "$phase" /dev/vda 1048576 4194304
