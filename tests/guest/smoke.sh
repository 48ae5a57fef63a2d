#!/bin/sh
# Guest-side smoke test (runs inside the reference guest as /tests/smoke.sh
# when the kernel command line has avp.test=smoke).  busybox sh.
#
# Data path both ways: the host put "AVP-DISK-SIGNATURE" at byte 0 of the
# first disk; we check it and write "GUEST-WROTE-THIS" at byte 512 for the
# host to check after power-off.  Also reads from /dev/hwrng.
fail=0
ok()    { echo "smoke: ok - $*"; }
notok() { echo "smoke: not ok - $*"; fail=1; }

if [ -b /dev/vda ]; then
    sig=$(dd if=/dev/vda bs=18 count=1 2>/dev/null)
    [ "$sig" = "AVP-DISK-SIGNATURE" ] && ok "read host signature from vda" \
        || notok "vda starts with '$sig', expected AVP-DISK-SIGNATURE"
    if printf 'GUEST-WROTE-THIS' | dd of=/dev/vda bs=512 seek=1 conv=notrunc,fsync 2>/dev/null; then
        ok "wrote sector 1 of vda"
    else
        notok "write to vda failed"
    fi
else
    notok "no /dev/vda"
fi

if [ -c /dev/hwrng ]; then
    n=$(dd if=/dev/hwrng bs=16 count=1 2>/dev/null | wc -c)
    [ "$n" -eq 16 ] && ok "read 16 bytes from /dev/hwrng" || notok "hwrng gave $n bytes"
fi

exit $fail
