#!/bin/bash
# virtio-gpio and virtio-i2c end to end with the upstream Linux drivers
# (AVP-GPIO-1, AVP-I2C-1): the guest boots build/guest/initrd-gpio-i2c.img
# (scripts/mkguest-gpio-i2c: the reference initrd plus gpio-virtio and
# i2c-virtio built out of tree from Debian's linux-source-6.12), avp has
# --gpio with 8 named lines and --i2c on the kernel's i2c-stub with chips
# at 0x50 and 0x51, only 0x50 allowed. Checked:
#   host -> guest  line 3 set high through the control socket, the guest
#                  reads 1 (and 0 on line 4); line 2 raised while the guest
#                  waits for an edge, the guest's interrupt fires (eventq);
#   guest -> host  the guest drives line 1 through 1, 0, 1; the host's
#                  "gpio" events say exactly that;
#   I2C            the guest writes and reads back a register of the 0x50
#                  stub, reads one the host preset, and the host sees the
#                  guest's write on its own adapter; 0x51 is refused in the
#                  guest and its register never changes on the host.
# Needs a real /dev/kvm and root (modprobe i2c-stub):
#   scripts/testhost tests/realguest/gpio-i2c.sh
# In the arm64 test host (issue 14): build/arm64/avp, the arm64 guest
# (scripts/mkguest-gpio-i2c --arch arm64) and its i2c-stub.ko (Debian's
# arm64 kernel has none):
#   scripts/testhost --arch arm64 --smp 2 --memory 2048 --timeout 1500 tests/realguest/gpio-i2c.sh
# Guest side: tests/guest-gpio-i2c/.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh
source tests/lib/realguest.sh
source tests/lib/arm64.sh

rg_arch_setup
stub=(modprobe i2c-stub)
[[ $guest = build/guest ]] || stub=(insmod "$guest/i2c-stub.ko")
initrd=$guest/initrd-gpio-i2c.img
if [ ! -f "$initrd" ]; then
	notok "$initrd missing (run scripts/mkguest-gpio-i2c$([[ $guest = build/guest ]] || echo " --arch arm64"))"; finish; exit 1
fi
if ! rg_avp_has_option --gpio || ! rg_avp_has_option --i2c; then
	notok "$avp has no --gpio/--i2c option"; finish; exit 1
fi

# The host's I2C bus: i2c-stub with two chips, and i2c-dev for /dev/i2c-N.
# (A stub loaded before with other chips would not be ours: reload it.)
rmmod i2c_stub 2>/dev/null
if ! "${stub[@]}" chip_addr=0x50,0x51 || ! modprobe i2c-dev; then
	notok "cannot load i2c-stub and i2c-dev on this host (the test host has them)"
	finish; exit 1
fi
# (/sys/class/i2c-adapter is a compatibility class Debian leaves out.)
bus=
for n in /sys/bus/i2c/devices/i2c-*; do
	[ "$(cat "$n/name" 2>/dev/null)" = "SMBus stub driver" ] && bus=/dev/${n##*/}
done
i=0
while [ -n "$bus" ] && [ ! -c "$bus" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if [ -z "$bus" ] || [ ! -c "$bus" ]; then
	notok "no /dev/i2c-N for the i2c-stub adapter"; finish; exit 1
fi
ok "host adapter: i2c-stub on $bus"

# smbus DEV ADDR REG [VAL]: reads (prints 0xVV) or writes one byte register.
smbus() {
	python3 - "$@" <<'PY'
import ctypes, fcntl, os, sys
I2C_SLAVE, I2C_SMBUS = 0x0703, 0x0720
class Args(ctypes.Structure):
    _fields_ = [("read_write", ctypes.c_uint8), ("command", ctypes.c_uint8),
                ("size", ctypes.c_uint32), ("data", ctypes.c_void_p)]
dev, addr, reg = sys.argv[1], int(sys.argv[2], 0), int(sys.argv[3], 0)
fd = os.open(dev, os.O_RDWR)
fcntl.ioctl(fd, I2C_SLAVE, addr)
data = (ctypes.c_uint8 * 34)()
write = len(sys.argv) > 4
if write:
    data[0] = int(sys.argv[4], 0)
a = Args(0 if write else 1, reg, 2, ctypes.cast(data, ctypes.c_void_p).value)  # BYTE_DATA
fcntl.ioctl(fd, I2C_SMBUS, a)
if not write:
    print("0x%02x" % data[0])
PY
}
smbus "$bus" 0x50 0x20 0x5c
check_eq "$(smbus "$bus" 0x50 0x20)" 0x5c "host presets 0x50 register 0x20 = 0x5c"
check_eq "$(smbus "$bus" 0x51 0x10)" 0x00 "0x51 register 0x10 starts at 0"

work=$(mktemp -d /tmp/avp-gpio-i2c.XXXXXX)
api=$work/api.sock
avp_pid=
cleanup() {
	[ -n "$avp_pid" ] && kill "$avp_pid" 2>/dev/null
	rm -rf "$work"
	rmmod i2c_stub 2>/dev/null
}
trap cleanup EXIT

log=$out/gpio-i2c.log
# arm64: the console on the test host's disk (a 9p write per PL011 byte is
# slow), copied to $out at the end
[[ $guest = build/guest ]] || log=$work/gpio-i2c.log
start=$(date +%s.%N)
# Line 3 goes high as soon as the control socket answers: the guest polls it.
raise_line3() {
	[ -S "$api" ] && "$avp" api --api-sock "$api" gpio '{"line":3,"value":1}' >/dev/null 2>&1
	return 0
}
rg_start_bg --poll raise_line3 gpio-i2c avp_pid "$log" timeout -k 5 400 "$avp" run \
	--kernel "$kernel" --initrd "$initrd" \
	--cmdline "console=$console panic=-1 quiet avp.test=gpio-i2c" --memory 256 \
	--gpio lines=8,names=reset:led:button:door \
	--i2c "dev=$bus,allow=0x50" --api-sock "$api"

wait_for() { rg_log_wait "$log" "$1" "$2" "$avp_pid"; }
api() { "$avp" api --api-sock "$api" "$@" >"$work/reply" 2>&1; }

api gpio '{"line":3,"value":1}'
check_eq "$?" 0 "gpio: the host sets line 3 high"
api gpio '{"line":8,"value":1}'
check_eq "$?" 2 "gpio: line 8 of 8 is refused"
api status
check_grep "$work/reply" '"virtio_id":41' "status lists the virtio-gpio device"
check_grep "$work/reply" '"virtio_id":34' "status lists the virtio-i2c device"

if wait_for '^gpio-i2c: outputs-done' 200; then
	api gpio '{"events":true}'
	check_eq "$?" 0 "gpio: the host fetches the guest's edges"
	edges=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join("%d=%d" % (e["line"], e["value"]) for e in d["events"]), "dropped=%d" % d["dropped"])' "$work/reply")
	check_eq "$edges" "1=1 1=0 1=1 dropped=0" "the guest drove line 1 through 1, 0, 1 and nothing else"
	check_grep "$work/reply" '"name":"led"' "events carry the line's name"
else
	notok "the guest never finished driving its output"
fi

if wait_for '^edge-ready 2' 120; then
	api gpio '{"name":"button","value":1}'
	check_eq "$?" 0 "gpio: the host raises line 2 (button)"
else
	notok "the guest never waited for an edge on line 2"
fi

wait_for '^gpio-i2c: done' 200 || notok "the guest script did not finish"
wait "$avp_pid"
rc=$?
avp_pid=
end=$(date +%s.%N)
tr -d '\r' <"$log" >"$log.txt"
[[ $log = "$out"/* ]] || cp "$log.txt" "$out/gpio-i2c.log.txt"
echo "gpio-i2c: whole run $(awk "BEGIN{printf \"%.1f\", $end - $start}") s"
sed 's/^/  | /' "$log.txt" | grep -v '^  | gpio-i2c: ok' | tail -n 40
check_eq "$rc" 0 "the guest powered off (avp exit 0)"
rg_guest_checks "$log.txt" gpio-i2c

check_eq "$(smbus "$bus" 0x50 0x10)" 0xa5 "the guest's write reached the host's 0x50 chip"
check_eq "$(smbus "$bus" 0x51 0x10)" 0x00 "nothing reached 0x51 (not allowed)"
finish
