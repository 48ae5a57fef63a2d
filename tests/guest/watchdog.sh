#!/bin/sh
# Guest side of tests/realguest/watchdog.sh (avp.test=watchdog, AVP-WDT-1):
# the standard Linux driver (wdat_wdt, loaded by /init) drives avp's WDAT
# watchdog (arm64: sp805_wdt drives the SP805, tests/realguest/arm64-devices.sh);
# busybox's `watchdog` is the feeder. avp.wdt=MODE picks:
#   feed    feed it every 1 s with a 5 s timeout for 15 s, stop it with the
#           magic close, exit 0 (the guest then powers off: avp exit 0)
#   starve  arm it with a 3 s timeout, feed it once, then never again: avp
#           must end the VM (status 6) while this script sleeps
#   reset   first boot: as starve; avp (--watchdog action=reset) boots the
#           VM again, and the second boot must see boot status
#           WDIOF_CARDRESET and then power off (avp exit 0)
# busybox sh. One "watchdog: ok/not ok - ..." line per check.
fail=0
ok()    { echo "watchdog: ok - $*"; }
notok() { echo "watchdog: not ok - $*"; fail=1; }

mode=
for w in $(cat /proc/cmdline); do
    case "$w" in avp.wdt=*) mode=${w#avp.wdt=} ;; esac
done
wd=/sys/class/watchdog/watchdog0
rd() { cat "$wd/$1" 2>/dev/null; }

# x86: the ACPI WDAT watchdog; arm64: the SP805 in the device tree, which
# cannot tell a reset it caused (sp805_wdt sets no boot status).
drv=wdat_wdt id=wdat_wdt what="the ACPI WDAT watchdog"
[ "$(uname -m)" = aarch64 ] && drv=sp805_wdt id=sp805-wdt what="the SP805"
[ -d /sys/module/$drv ] && ok "$drv is loaded" || notok "$drv is not loaded"
if [ -c /dev/watchdog ] && [ "$(rd identity)" = $id ]; then
    ok "/dev/watchdog is $what (identity $id)"
else
    notok "/dev/watchdog: $(ls -l /dev/watchdog 2>&1); identity '$(rd identity)'"
    dmesg | grep -iE 'wdat|watchdog' | tail -n 5
    exit 1
fi
[ "$(rd state)" = inactive ] && ok "not running before anyone opens it" \
    || notok "state before open is '$(rd state)'"

# WDIOF_CARDRESET (0x20): the previous run ended because this watchdog fired.
bs=$(rd bootstatus)

starve() {
    watchdog -F -T 3 -t 600 /dev/watchdog &
    sleep 1
    [ "$(rd state)" = active ] && ok "armed: state active" || notok "state after arming is '$(rd state)'"
    [ "$(rd timeout)" = 3 ] && ok "timeout set to 3 s" || notok "timeout is '$(rd timeout)'"
    echo "watchdog: starving (fed once, timeout 3 s, timeleft $(rd timeleft) s)"
    sleep 60
    notok "still running 60 s after the watchdog was last fed"
    exit 1
}

case "$mode" in
feed)
    [ "$bs" = 0 ] && ok "boot status 0" || notok "boot status is '$bs'"
    watchdog -F -T 5 -t 1 /dev/watchdog &
    pid=$!
    sleep 1
    [ "$(rd state)" = active ] && ok "busybox watchdog armed it" || notok "state after arming is '$(rd state)'"
    [ "$(rd timeout)" = 5 ] && ok "timeout set to 5 s" || notok "timeout is '$(rd timeout)'"
    lo=99 hi=-1
    for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
        sleep 1
        t=$(rd timeleft)
        [ -n "$t" ] || t=-1
        [ "$t" -lt "$lo" ] && lo=$t
        [ "$t" -gt "$hi" ] && hi=$t
    done
    # get_timeleft runs QUERY_CURRENT_COUNTDOWN_PERIOD: with a ping each
    # second, a 5 s countdown never gets near 0.
    if [ "$lo" -ge 1 ] && [ "$hi" -le 5 ]; then
        ok "fed for 15 s (3 timeouts); timeleft stayed in $lo..$hi s"
    else
        notok "timeleft ranged $lo..$hi s while fed"
    fi
    kill -TERM "$pid"   # busybox writes the magic 'V' and closes
    wait "$pid" 2>/dev/null
    sleep 1
    [ "$(rd state)" = inactive ] && ok "magic close stopped it" || notok "state after magic close is '$(rd state)'"
    sleep 6             # longer than the timeout: it must stay quiet
    ok "no expiry 6 s after the magic close"
    ;;
starve)
    [ "$bs" = 0 ] && ok "boot status 0" || notok "boot status is '$bs'"
    starve
    ;;
reset)
    if [ "$bs" = 32 ]; then
        ok "second boot: boot status WDIOF_CARDRESET, the watchdog reset this VM"
        [ "$(rd state)" = inactive ] && ok "the new boot's watchdog is not running" \
            || notok "state after the reset is '$(rd state)'"
    elif [ "$bs" = 0 ]; then
        ok "first boot: boot status 0"
        starve
    else
        notok "boot status is '$bs'"
    fi
    ;;
*)
    notok "unknown avp.wdt mode '$mode' (feed, starve, reset)"
    ;;
esac
exit $fail
