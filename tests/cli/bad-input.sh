#!/bin/bash
# Bad input gets one clear message and exit status 1, never a signal, a hang
# or a core dump. Runs on any host (no guest boots: every case fails while
# the VM is being assembled).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh

avp=${AVP:-build/avp}
kernel=${KERNEL:-build/guest/vmlinuz}
work=$(mktemp -d /tmp/avp-bad.XXXXXX)
trap 'rm -rf "$work"' EXIT

head -c 1048576 /dev/urandom >"$work/random.bin"
mkdir "$work/dir"
: >"$work/empty.img"
truncate -s 1M "$work/disk.img"
if [ -f "$kernel" ]; then
	head -c 70000 "$kernel" >"$work/truncated-bzimage"
	# An initrd larger than the whole of a 32 MiB guest.
	truncate -s 40M "$work/huge-initrd"
else
	skip "no $kernel (run scripts/mkguest): truncated-bzImage and memory cases use it"
fi

# Synthetic bzImages (no guest build needed): a valid 64-bit boot header
# whose fields claim what the case needs. mkbz OUT FILE_SIZE SYSSIZE_BYTES
# [RELOCATABLE PREF_ADDRESS INIT_SIZE]; the file is sparse past the header.
mkbz() { python3 tests/lib/mkbz.py "$@"; }
mkbz "$work/bz-oversized" $((1024 + (64 << 20))) $((64 << 20))
mkbz "$work/bz-short" 70000 $((64 << 20))
mkbz "$work/bz-huge-init" $((1024 + 65536)) 65536 1 0x1000000 0xffffffff
mkbz "$work/bz-pref-wrap" $((1024 + 65536)) 65536 0 0xfffffffffffff000 0x300000
mkbz "$work/bz-ok" $((1024 + 65536)) 65536
mkdir -m 0755 "$work/pub"
cp "$work/bz-ok" "$work/pub/kernel"
truncate -s 1M "$work/pub/disk.img"
chmod 000 "$work/pub/kernel" "$work/pub/disk.img"

# expect_error NAME REGEX ARGS...: status 1 and a message matching REGEX.
# With the array `pre` set, avp runs under that command (e.g. setpriv).
pre=()
expect_error() {
	local name=$1 regex=$2
	shift 2
	local out rc
	out=$(timeout -k 2 20 "${pre[@]}" "$avp" "$@" </dev/null 2>&1 >/dev/null)
	rc=$?
	if [ $rc -eq 1 ] && grep -qiE -- "$regex" <<<"$out"; then
		ok "$name: exit 1, says: $(head -n 1 <<<"$out")"
	else
		notok "$name: exit $rc (want 1), said: '$(head -n 3 <<<"$out" | tr '\n' ' ')' (want /$regex/)"
	fi
}

k=(run --serial none)
expect_error "missing kernel file" "kernel.*no such file" "${k[@]}" --kernel "$work/nope"
expect_error "kernel is random bytes" "not a bzImage|not a Linux" "${k[@]}" --kernel "$work/random.bin"
expect_error "kernel is a directory" "kernel.*(directory|not a regular file)" "${k[@]}" --kernel "$work/dir"
# The other architecture's kernel (issue 14): an arm64 Image header.
python3 -c 'import struct,sys; h=bytearray(4096); struct.pack_into("<QQQ",h,8,0,1<<20,2); struct.pack_into("<I",h,0x38,0x644d5241); sys.stdout.buffer.write(h)' >"$work/arm64-Image"
expect_error "kernel is an arm64 Image" "is an arm64 Image, not an x86 kernel" "${k[@]}" --kernel "$work/arm64-Image"
expect_error "--dump-dtb on x86" "x86 guest gets ACPI tables, not a device tree" "${k[@]}" --kernel "$work/bz-ok" --dump-dtb "$work/out.dtb"
expect_error "kernel is empty" "kernel.*(empty|truncated|not a bzImage)" "${k[@]}" --kernel "$work/empty.img"
if [ -f "$kernel" ]; then
	expect_error "truncated bzImage" "truncated" "${k[@]}" --kernel "$work/truncated-bzimage"
	expect_error "memory too small for kernel + initrd" "memory|does not fit|too small" \
		"${k[@]}" --kernel "$kernel" --initrd "$work/huge-initrd" --memory 32
	expect_error "missing initrd" "initrd.*no such file" "${k[@]}" --kernel "$kernel" --initrd "$work/nope"
	expect_error "missing disk file" "disk.*no such file" "${k[@]}" --kernel "$kernel" --disk "$work/nope.img"
	expect_error "directory as disk" "disk.*directory" "${k[@]}" --kernel "$kernel" --disk "$work/dir"
	expect_error "empty disk" "disk.*empty" "${k[@]}" --kernel "$kernel" --disk "$work/empty.img"
	expect_error "tap name too long" "tap.*(long|name)" "${k[@]}" --kernel "$kernel" \
		--net tap=this-name-is-far-too-long-for-linux
fi
# One problem, one message: the sound input is not a WAV file.
out=$(timeout -k 2 20 "$avp" run --serial none --kernel "$work/bz-ok" --sound in=/etc/passwd \
	</dev/null 2>&1 >/dev/null)
rc=$?
if [ $rc -eq 1 ] && [ "$(grep -c . <<<"$out")" = 1 ] && grep -qi "sound input.*RIFF" <<<"$out"; then
	ok "sound input not a WAV: exit 1, one line: $out"
else
	notok "sound input not a WAV: exit $rc, want 1 and one line naming the input, said: '$out'"
fi
# 17 VIRTIO devices: the cap is named, before any file is opened (the
# disks do not even exist).
many=()
for i in 1 2 3 4 5 6 7 8; do many+=(--disk "$work/none$i.img"); done
expect_error "17 VIRTIO devices" "at most 16 VIRTIO devices" "${k[@]}" --kernel "$work/bz-ok" "${many[@]}" \
	--rng --console stdio --gpu on --sound out=/dev/null --vsock "cid=3,socket=$work/v.sock" \
	--input keyboard --input touch --net tap=avpmany0 --net tap=avpmany1
# Outputs: never through a link, never onto something that is not a file,
# FIFO or character device; checked before anything is opened.
printf 'precious\n' >"$work/precious"
ln -s "$work/precious" "$work/link.log"
expect_error "serial file through a link" "serial .*symbolic link" "${k[@]}" --kernel "$work/bz-ok" \
	--console none --serial "file:$work/link.log"
expect_error "console file through a link" "console .*symbolic link" "${k[@]}" --kernel "$work/bz-ok" \
	--console "file:$work/link.log"
expect_error "sound output through a link" "sound output .*symbolic link" "${k[@]}" --kernel "$work/bz-ok" \
	--sound "out=$work/link.log"
check_eq "$(cat "$work/precious")" precious "the link's target is untouched"
# virtio-gpio and virtio-i2c: their keys, and the I2C adapter checked
# before KVM is opened.
bz=(--kernel "$work/bz-ok")
expect_error "gpio without lines" "gpio.*lines=N" "${k[@]}" "${bz[@]}" --gpio names=a
expect_error "gpio with 0 lines" "gpio.*lines=N" "${k[@]}" "${bz[@]}" --gpio lines=0
expect_error "gpio with 257 lines" "gpio.*lines=N" "${k[@]}" "${bz[@]}" --gpio lines=257
expect_error "gpio names twice" "gpio.*name is given twice" "${k[@]}" "${bz[@]}" --gpio lines=2,names=a:a
expect_error "gpio more names than lines" "gpio.*more names than lines" "${k[@]}" "${bz[@]}" \
	--gpio lines=1,names=a:b
expect_error "two gpio devices" "gpio.*only one" "${k[@]}" "${bz[@]}" --gpio lines=1 --gpio lines=2
expect_error "i2c without allow" "i2c.*allow=" "${k[@]}" "${bz[@]}" --i2c dev=/dev/null
expect_error "i2c reserved address allowed" "i2c.*0x08-0x77" "${k[@]}" "${bz[@]}" \
	--i2c dev=/dev/null,allow=0x05
expect_error "i2c range upside down" "i2c.*above its last" "${k[@]}" "${bz[@]}" \
	--i2c dev=/dev/null,allow=0x57-0x50
expect_error "i2c adapter missing" "i2c.*no such file" "${k[@]}" "${bz[@]}" \
	--i2c "dev=$work/nope,allow=0x50"
expect_error "i2c adapter not an adapter" "i2c.*not an I2C adapter" "${k[@]}" "${bz[@]}" \
	--i2c dev=/dev/null,allow=0x50
expect_error "console file is a directory" "console .*directory" "${k[@]}" --kernel "$work/bz-ok" \
	--console "file:$work/dir"
expect_error "serial socket on a regular file" "serial .*not a socket" "${k[@]}" --kernel "$work/bz-ok" \
	--serial "socket=$work/precious"
check_eq "$(cat "$work/precious")" precious "the file given as a socket path is untouched"
expect_error "vsock socket on a regular file" "vsock socket .*not a socket" "${k[@]}" --kernel "$work/bz-ok" \
	--vsock "cid=3,socket=$work/precious"
expect_error "api socket in a missing directory" "api-sock .*directory .* does not exist" "${k[@]}" \
	--kernel "$work/bz-ok" --api-sock "$work/nodir/api.sock"
# The jail's path is an input too: a configuration error, before KVM.
expect_error "jail path is a file" "jail must be a directory" "${k[@]}" --kernel "$work/bz-ok" \
	--jail "$work/precious" --uid 65534 --gid 65534
# --describe checks its inputs exactly as run does (and boots nothing).
expect_error "describe: kernel is not a bzImage" "not a bzImage|not a Linux" \
	run --kernel /etc/passwd --describe
expect_error "describe: missing disk" "disk.*no such file" \
	run --kernel "$work/bz-ok" --disk "$work/nope.img" --describe
# One image under two names is still one image.
expect_error "same disk under two names" "twice" "${k[@]}" --kernel "$work/bz-ok" \
	--disk "$work/disk.img" --disk "$work/../${work##*/}/disk.img"
expect_error "tap name too long (synthetic kernel)" "tap.*(long|name)" "${k[@]}" --kernel "$work/bz-ok" \
	--net tap=this-name-is-far-too-long-for-linux
expect_error "unknown option" "unknown option" run --kernel x --frobnicate
expect_error "unknown command" "unknown command" frobnicate
# -v is one of avp's own options (avp --help): it may precede the command.
expect_error "avp -v run checks its inputs" "kernel.*no such file" -v run --serial none --kernel "$work/nope"
expect_error "avp -v -v frobnicate" "unknown command 'frobnicate'" -v -v frobnicate
expect_error "no kernel option" "--kernel is required" run
expect_error "absurd CPU count" "--cpus" run --kernel x --cpus 100000
expect_error "absurd memory size" "--memory" run --kernel x --memory 99999999999
expect_error "bad MAC" "--net" run --kernel x --net tap=a,mac=52:54:00:zz:00:01
# Linux caps one argv string at 128 KiB, so 100 KB is the longest a shell can pass.
expect_error "100 KB command line" "too long" run --kernel x --cmdline "$(head -c 100000 /dev/zero | tr "\\0" a)"
# A bundle can carry what argv cannot: a 1 MiB command line (the file is
# then over the 1 MiB config cap) and one just under that.
mkdir -p "$work/big1m" "$work/big900k" "$work/badjson"
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
for name, n in (("big1m", 1 << 20), ("big900k", 900000)):
    json.dump({"kernel": "vmlinuz", "cmdline": "a" * n}, open(f"{w}/{name}/config.json", "w"))
open(f"{w}/badjson/config.json", "w").write('{"kernel": "vmlinuz", ')
PY
expect_error "1 MiB command line in a bundle" "at most 1 MiB" create big --bundle "$work/big1m" --root "$work/rt"
expect_error "900 KB command line in a bundle" "cmdline.*too long" create big --bundle "$work/big900k" --root "$work/rt"
expect_error "truncated JSON in a bundle" "config.json:1:[0-9]+: JSON syntax error" create bad --bundle "$work/badjson" --root "$work/rt"
expect_error "same disk twice" "twice" run --kernel x --disk a.img --disk a.img
expect_error "same tap twice" "twice" run --kernel x --net tap=avpdup0 --net tap=avpdup0,mac=52:54:00:00:00:02
expect_error "MAC with a missing octet" "--net" run --kernel x --net tap=a,mac=52:54:00:00:01
expect_error "multicast MAC" "--net" run --kernel x --net tap=a,mac=01:00:5e:00:00:01
expect_error "net queues=0" "--net" run --kernel x --net tap=a,queues=0
expect_error "net queues past 8" "--net" run --kernel x --net tap=a,queues=9
# --can: the interface name and the acceptance rules (docs/can.md).
expect_error "can: no interface" "--can.*\"if\"" run --kernel x --can fd=on
expect_error "can: interface name too long" "--can.*interface name" run --kernel x --can if=this-name-is-far-too-long
expect_error "can: interface without if=" "--can" run --kernel x --can vcan0
expect_error "can: bad fd word" "--can" run --kernel x --can if=vcan0,fd=maybe
expect_error "can: std ID beyond 11 bits" "--can.*11-bit" run --kernel x --can if=vcan0,tx=std:0x800
expect_error "can: ext ID beyond 29 bits" "--can.*29-bit" run --kernel x --can if=vcan0,rx=ext:0x20000000
expect_error "can: reversed range" "--can.*ends before" run --kernel x --can if=vcan0,tx=0x3ff-0x300
expect_error "can: overlapping ranges" "--can.*overlaps" run --kernel x --can if=vcan0,rx=0x100-0x1ff+std:0x150
expect_error "can: malformed range" "--can.*not a range" run --kernel x --can if=vcan0,tx=0x1g0
expect_error "can: empty range" "--can.*empty range" run --kernel x --can if=vcan0,tx=0x100+
expect_error "can: same interface twice" "twice" run --kernel x --can if=vcan0 --can if=vcan0
expect_error "can: five devices" "at most 4 CAN" run --kernel x --can if=a --can if=b --can if=c --can if=d --can if=e
# A missing host interface (or a host without CAN): named, before the guest.
expect_error "can: missing host interface" "can avpnocan0" "${k[@]}" --kernel "$work/bz-ok" --can if=avpnocan0
# A bundle's device on a system file's bus, started without the system.
mkdir "$work/canbus"
printf '{"kernel": "%s", "devices": [{"type": "can", "bus": "body"}]}\n' "$work/bz-ok" >"$work/canbus/config.json"
expect_error "can: bus device outside a system" "bus \"body\".*avp system up" run --bundle "$work/canbus"
expect_error "can: --can-bus without if=" "--can-bus" run --kernel x --can-bus bus=body
expect_error "unknown serial backend" "--serial: expected stdio, file:PATH, pty, socket=PATH or none" \
	run --kernel x --serial sock
expect_error "console socket without a path" "--console" run --kernel x --console socket=

# Images whose header claims more than the file or the guest can hold.
expect_error "kernel header claims more than the file" "truncated" "${k[@]}" --kernel "$work/bz-short"
expect_error "kernel bigger than guest RAM" "memory" "${k[@]}" --kernel "$work/bz-oversized" --memory 32
expect_error "kernel init_size bigger than guest RAM" "memory" "${k[@]}" --kernel "$work/bz-huge-init" --memory 32
# A fixed-address kernel wanting to run near 2^64 (found by fuzz_bzimage).
expect_error "kernel pref_address wraps" "memory" "${k[@]}" --kernel "$work/bz-pref-wrap"

# Files avp may not read. Root reads anything, so as root run avp without
# the capabilities that bypass file permissions (it still opens /dev/kvm,
# which root owns); as anyone else the mode alone refuses.
if [ "$(id -u)" = 0 ]; then
	if setpriv --inh-caps=-dac_override,-dac_read_search \
		--bounding-set=-dac_override,-dac_read_search true 2>/dev/null; then
		pre=(setpriv --inh-caps=-dac_override,-dac_read_search
			--bounding-set=-dac_override,-dac_read_search)
	else
		skip "unreadable kernel/disk: setpriv cannot drop CAP_DAC_OVERRIDE here"
		pre=(skip)
	fi
fi
if [ "${pre[0]:-}" != skip ]; then
	expect_error "unreadable kernel" "kernel.*(permission denied|cannot open)" "${k[@]}" \
		--kernel "$work/pub/kernel"
	expect_error "unreadable disk" "disk.*permission denied" "${k[@]}" --kernel "$work/bz-ok" \
		--disk "$work/pub/disk.img"
fi
pre=()

# `avp system up` with networks needs CAP_NET_ADMIN: said first, before
# any bridge, tap or VM is made.
mkdir -p "$work/sys/vm1"
cp "$work/bz-ok" "$work/sys/vm1/bz"
printf '{"kernel": "bz", "devices": [{"type": "net", "network": "n1", "mac": "52:54:00:00:00:31"}]}\n' >"$work/sys/vm1/config.json"
printf '{"vms": [{"id": "vm1", "bundle": "vm1"}], "networks": [{"name": "n1", "members": ["vm1"]}]}\n' \
	>"$work/sys/system.json"
if setpriv --inh-caps=-net_admin --bounding-set=-net_admin true 2>/dev/null; then
	pre=(setpriv --inh-caps=-net_admin --bounding-set=-net_admin)
	[ "$(id -u)" = 0 ] || pre=()
	expect_error "system up without CAP_NET_ADMIN" "needs root or CAP_NET_ADMIN" \
		system up "$work/sys/system.json" --root "$work/sysroot"
	pre=()
	if ls "$work/sysroot" 2>/dev/null | grep -q .; then
		notok "system up without CAP_NET_ADMIN left state behind: $(ls "$work/sysroot")"
	else
		ok "system up without CAP_NET_ADMIN made nothing"
	fi
else
	skip "system up without CAP_NET_ADMIN: setpriv cannot drop it here"
fi

# The help and version texts exist and exit 0.
for args in "--help" "--version" "run --help"; do
	# shellcheck disable=SC2086
	if "$avp" $args >/dev/null 2>&1; then ok "avp $args exits 0"; else notok "avp $args failed"; fi
done
finish
