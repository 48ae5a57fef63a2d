#!/bin/sh
# Guest side of tests/realguest/jail.sh (avp.test=jail): uses every device
# of the jailed VM once, so that each confined thread does real work:
# vda (read the host's signature, write one sector, flush), the hwrng, and
# the UART (this output). busybox sh.
fail=0
ok()    { echo "jail-guest: ok - $*"; }
notok() { echo "jail-guest: not ok - $*"; fail=1; }

sig=$(dd if=/dev/vda bs=18 count=1 2>/dev/null)
[ "$sig" = "AVP-DISK-SIGNATURE" ] && ok "vda reads the host's signature" || notok "vda starts with '$sig'"
if printf 'GUEST-WROTE-THIS' | dd of=/dev/vda bs=512 seek=1 conv=notrunc,fsync 2>/dev/null; then
    ok "wrote and flushed sector 1 of vda"
else
    notok "write to vda failed"
fi
n=$(dd if=/dev/hwrng bs=16 count=1 2>/dev/null | wc -c)
[ "$n" -eq 16 ] && ok "read 16 bytes from /dev/hwrng" || notok "hwrng gave $n bytes"
# Give the host side time to look at the running VM process.
sleep 3
exit $fail
