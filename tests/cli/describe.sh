#!/bin/bash
# avp run --describe has no side effects and lists every device the guest
# sees (issue 13 item 8): outputs named by the configuration keep their
# bytes, no socket, tap or lock is made, a disk the running VM holds can be
# described, the watchdog and the power button are in the list, and every
# offered feature bit has its specification name. No KVM needed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh

avp=${AVP:-build/avp}
work=$(mktemp -d /tmp/avp-describe.XXXXXX)
tap=avpdesc0
trap 'rm -rf "$work"; ip link del "$tap" 2>/dev/null' EXIT

python3 tests/lib/mkbz.py "$work/bz" $((1024 + 65536)) 65536
truncate -s 1M "$work/disk.img"
head -c 100000 /dev/urandom >"$work/keep.wav"
printf 'an earlier console log\n' >"$work/con.log"
wav_sum=$(md5sum <"$work/keep.wav")
con_sum=$(md5sum <"$work/con.log")

args=(run --kernel "$work/bz" --describe --disk "$work/disk.img" --rng --watchdog
	--console "file:$work/con.log" --sound "out=$work/keep.wav" --gpu on
	--vsock "cid=3,socket=$work/v.sock" --input keyboard --input touch,width=800,height=480)
# A tap only where this user could create one (otherwise the config is
# refused for another reason than the one under test).
if [ "$(id -u)" = 0 ] && [ -c /dev/net/tun ]; then
	args+=(--net "tap=$tap")
	with_net=1
else
	skip "no tap in the description: needs root and /dev/net/tun to show that none is created"
	with_net=0
fi

# The VM that runs holds its disk: a description must still work.
exec 9<>"$work/disk.img"
flock -x 9
"$avp" "${args[@]}" >"$work/describe.json" 2>"$work/describe.err"
rc=$?
flock -u 9
exec 9>&-
check_eq "$rc" 0 "describe exits 0 beside a VM that holds the disk ($(head -c 200 "$work/describe.err"))"

check_eq "$(md5sum <"$work/keep.wav")" "$wav_sum" "the sound output file keeps its bytes"
check_eq "$(md5sum <"$work/con.log")" "$con_sum" "the console log keeps its bytes"
if [ -e "$work/v.sock" ]; then notok "the vsock socket was created"; else ok "no vsock socket created"; fi
if [ $with_net = 1 ]; then
	if ip link show "$tap" >/dev/null 2>&1; then notok "tap $tap was created"; else ok "no tap created"; fi
fi

# A pty or a listening socket is a side effect too (issue 13 item 14).
"$avp" run --kernel "$work/bz" --describe --serial "socket=$work/serial.sock" --console pty \
	>"$work/describe2.json" 2>"$work/describe2.err"
check_eq "$?" 0 "describe with --serial socket= and --console pty exits 0 ($(head -c 200 "$work/describe2.err"))"
if [ -e "$work/serial.sock" ]; then notok "the serial socket was created"; else ok "no serial socket created"; fi
if grep -q 'on /dev/pts' "$work/describe2.err"; then notok "a pty was opened"; else ok "no pty opened"; fi
check_grep "$work/describe2.json" '"virtio-console"' "the pty console is in the description"

python3 - "$work/describe.json" "$with_net" >"$work/checks" 2>&1 <<'PY' 
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except ValueError as e:
    print(f"not ok - the description is no JSON ({e})")
    sys.exit(0)
def check(cond, what):
    print(("ok - " if cond else "not ok - ") + what)
legacy = {x["type"]: x for x in d["legacy_devices"]}
check("watchdog-wdat" in legacy and legacy["watchdog-wdat"]["io_port"] == "0x610",
      "the WDAT watchdog is listed with its I/O ports")
check("power-button" in legacy and legacy["power-button"]["acpi_hid"] == "PNP0C0C"
      and legacy.get("acpi-ged", {}).get("interrupt") == 13,
      "the power button and its GED (GSI 13) are listed")
check(all(x["acpi_hid"] != "" for x in d["legacy_devices"]), "absent values are null, not empty strings")
check(d.get("format") == 1, "the format version is 1")
types = [x["type"] for x in d["virtio_devices"]]
want = ["virtio-blk", "virtio-rng", "virtio-console", "virtio-sound", "virtio-gpu",
        "virtio-vsock", "virtio-input", "virtio-input"] + (["virtio-net"] if sys.argv[2] == "1" else [])
check(types == want, f"every VIRTIO device, in declaration order: {types}")
names = [f for x in d["virtio_devices"] for f in x["feature_names"]]
unnamed = [f for f in names if "UNNAMED" in f["name"]]
check(not unnamed, f"every offered feature bit has its specification name ({len(names)} bits)")
for x in d["virtio_devices"]:
    bits = [f["bit"] for f in x["feature_names"]]
    if bits != x["feature_bits"] or sum(1 << b for b in bits) != int(x["features"], 16):
        check(False, f"{x['type']}: feature_names, feature_bits and features agree")
        break
else:
    check(True, "feature_names, feature_bits and features agree for every device")
PY
while IFS= read -r line; do
	case "$line" in
	"ok - "*) ok "${line#ok - }" ;;
	"not ok - "*) notok "${line#not ok - }" ;;
	*) notok "the description could not be read: $line" ;;
	esac
done <"$work/checks"
finish
