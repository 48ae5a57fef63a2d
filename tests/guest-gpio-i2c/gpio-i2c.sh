#!/bin/sh
# Guest side of tests/realguest/gpio-i2c.sh (avp.test=gpio-i2c), in the
# initrd scripts/mkguest-gpio-i2c builds: loads the upstream gpio-virtio and
# i2c-virtio drivers, then uses the virtio gpiochip and I2C adapter. The
# host drives line 3 high before we look, watches line 1 (our output), and
# raises line 2 once we say "edge-ready"; on I2C it allows 0x50 (an i2c-stub
# chip, register 0x20 preset to 0x5c) but not 0x51 (another stub chip).
B=/tests/bin/gpio_i2c
say() { echo "gpio-i2c: $*"; }
check() { # check DESCRIPTION COMMAND...: one ok/not ok line, output shown
	d=$1; shift
	if out=$("$@" 2>&1); then say "ok - $d"; else say "not ok - $d"; fi
	echo "$out" | sed 's/^/gpio-i2c-out: /'
}
for m in gpio-virtio i2c-virtio i2c-dev; do
	check "insmod $m" insmod /lib/modules/extra/$m.ko
done

$B chip | sed 's/^/gpio-i2c-out: /'
chip=$($B chip | sed -n 's/^virtio-chip \([^ ]*\) .*/\1/p')
if [ -n "$chip" ]; then say "ok - a virtio gpiochip: $chip"; else say "not ok - no virtio gpiochip"; fi
names=$($B chip | sed -n 's/^line \([0-9]*\) name=\(.*\)/\1=\2/p' | tr '\n' ' ')
case "$names" in
"0=reset 1=led 2=button 3=door "*) say "ok - line names from the device: $names" ;;
*) say "not ok - line names: $names" ;;
esac

# The host raises line 3 as soon as its control socket answers: wait for it.
i=0
while v=$($B get "$chip" 3) && [ "$v" != "value 3 1" ] && [ $i -lt 300 ]; do
	sleep 0.2; i=$((i + 1))
done
[ "$v" = "value 3 1" ] && say "ok - line 3 reads the host's high level" || say "not ok - line 3: $v"
v=$($B get "$chip" 4)
[ "$v" = "value 4 0" ] && say "ok - line 4 reads low" || say "not ok - line 4: $v"

check "drive line 1 through 1, 0, 1" $B set "$chip" 1 1 0 1
say "outputs-done"

# The host raises line 2 when it sees edge-ready (printed by the tool).
if $B edge "$chip" 2 60; then say "ok - the host's rising edge on line 2 reached us"; else say "not ok - no rising edge on line 2"; fi

dev=$($B i2c-find)
if [ -n "$dev" ]; then say "ok - a virtio I2C adapter: $dev"; else say "not ok - no virtio I2C adapter"; fi
check "i2c write 0x50 reg 0x10 = 0xa5" $B i2c-write "$dev" 0x50 0x10 0xa5
v=$($B i2c-read "$dev" 0x50 0x10)
[ "$v" = "i2c-read 0x50 0x10 = 0xa5" ] && say "ok - i2c read back 0xa5" || say "not ok - i2c read back: $v"
v=$($B i2c-read "$dev" 0x50 0x20)
[ "$v" = "i2c-read 0x50 0x20 = 0x5c" ] && say "ok - i2c reads the host's preset 0x5c" || say "not ok - i2c preset: $v"
v=$($B i2c-write "$dev" 0x51 0x10 0x77)
case "$v" in *failed*) say "ok - i2c write to 0x51 (not allowed) refused: $v" ;; *) say "not ok - i2c write to 0x51: $v" ;; esac
v=$($B i2c-read "$dev" 0x51 0x10)
case "$v" in *failed*) say "ok - i2c read from 0x51 (not allowed) refused" ;; *) say "not ok - i2c read from 0x51: $v" ;; esac
say "done"
