#!/bin/sh
# Guest side of tests/realguest/ringbreak.sh (avp.test=ringbreak), busybox
# sh: ringbreak takes every virtio-mmio device from Linux and breaks its
# rings in a loop (avp.ringbreak=SECONDS, default 25); the host then reads
# avp's status and presses the power button, which powerbtn answers by
# powering off: how this test ends. One "ok"/"not ok" line per check.
ok()    { echo "ringbreak-guest: ok - $*"; }
notok() { echo "ringbreak-guest: not ok - $*"; }

secs=25
for w in $(cat /proc/cmdline); do
    case "$w" in avp.ringbreak=*) secs=${w#*=} ;; esac
done

n=$(ls -d /sys/bus/platform/drivers/virtio-mmio/*:* 2>/dev/null | wc -l)
echo "ringbreak-guest: $n virtio-mmio devices bound before the attack"
grep -i 'LNRO0005\|virtio' /proc/iomem | sed 's/^/ringbreak-guest: iomem: /'

powerbtn &
ringbreak "$secs"
rc=$?
case $rc in
0) ok "ringbreak ran against every device it could map" ;;
2) notok "/dev/mem refused every device window (see the 'no access' lines)" ;;
*) notok "ringbreak failed (exit $rc)" ;;
esac
grep -q 'LNRO0005' /proc/iomem && ok "the windows are still listed in /proc/iomem"
echo "ringbreak-guest: finished, waiting for the power button"
# The host reads status, then presses the button; powerbtn powers off.
# Reaching the end of the wait is the failure.
sleep 200
notok "no power button press within 200 s"
exit 1
