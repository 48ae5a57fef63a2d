#!/bin/sh
# Guest side of tests/realguest/input.sh (avp.test=input), busybox sh.
# Prints the events the host injects into avp's virtio-input keyboard and
# touch screen (input_events), and powers off when the host presses the
# ACPI power button (powerbtn), which is how this test ends.
fail=0
ok()    { echo "input-guest: ok - $*"; }
notok() { echo "input-guest: not ok - $*"; fail=1; }

n=0
for v in /sys/bus/virtio/devices/*; do
    [ "$(cat "$v/device" 2>/dev/null)" = 0x0012 ] || continue
    [ "$(basename "$(readlink "$v/driver" 2>/dev/null)")" = virtio_input ] && n=$((n + 1))
done
[ "$n" = 2 ] && ok "2 virtio-input devices bound to virtio_input" || notok "$n virtio-input devices bound"
for e in /sys/class/input/event*; do
    echo "input-guest: $(basename "$e"): $(cat "$e/device/name" 2>/dev/null) props=$(cat "$e/device/properties" 2>/dev/null)"
done

powerbtn &
input_events 100 &
ipid=$!
# The host presses the power button once it has seen the events; powerbtn
# then powers the guest off. Reaching the end of the wait is the failure.
wait "$ipid"
notok "no power button press within 100 s"
exit 1
