#!/bin/bash
# --confine: a bundle one does not trust names only files inside itself
# (links followed), no host block device and no host tap (issue 13 item 6).
# Every case is checked with --describe (nothing boots, no KVM needed), and
# each refused bundle is accepted without --confine, so the refusal is the
# confinement's and not another check's.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh

avp=${AVP:-build/avp}
work=$(mktemp -d /tmp/avp-confine.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/outside" "$work/b"
python3 tests/lib/mkbz.py "$work/b/bz" $((1024 + 65536)) 65536
cp "$work/b/bz" "$work/outside/bz"
truncate -s 1M "$work/b/disk.img" "$work/outside/disk.img"

# bundle JSON: writes $work/b/config.json
bundle() { printf '%s\n' "$1" >"$work/b/config.json"; }
# case NAME WANT(ok|refused) REGEX: describe with --confine
confined() {
	local name=$1 want=$2 regex=$3 out rc
	out=$("$avp" run --bundle "$work/b" --confine --describe 2>&1 >/dev/null)
	rc=$?
	if [ "$want" = ok ]; then
		check_eq "$rc" 0 "$name: accepted under --confine ($out)"
	elif [ "$rc" = 1 ] && grep -qE -- "$regex" <<<"$out"; then
		ok "$name: refused under --confine: $out"
		out=$("$avp" run --bundle "$work/b" --describe 2>&1 >/dev/null)
		check_eq "$?" 0 "$name: accepted without --confine ($out)"
	else
		notok "$name: exit $rc, said '$out' (want 1 and /$regex/)"
	fi
}

bundle '{"kernel": "bz", "devices": [{"type": "disk", "path": "disk.img"}, {"type": "console", "backend": "file:con.log"}]}'
confined "files inside the bundle" ok ""
bundle '{"kernel": "../outside/bz"}'
confined "kernel outside (..)" refused "the kernel .* is outside the bundle"
bundle "{\"kernel\": \"$work/outside/bz\"}"
confined "kernel outside (absolute)" refused "the kernel .* is outside the bundle"
ln -s "$work/outside/disk.img" "$work/b/link.img"
bundle '{"kernel": "bz", "devices": [{"type": "disk", "path": "link.img"}]}'
confined "disk through a link to outside" refused "the disk .* is outside the bundle"
bundle '{"kernel": "bz", "devices": [{"type": "console", "backend": "file:../outside/con.log"}]}'
confined "console output outside" refused "the console .* is outside the bundle"
bundle '{"kernel": "bz", "devices": [{"type": "sound", "out": "../outside/o.wav"}]}'
confined "sound output outside" refused "the sound out .* is outside the bundle"
bundle '{"kernel": "bz", "devices": [{"type": "vsock", "cid": 3, "socket": "../outside/v.sock"}]}'
confined "vsock socket outside" refused "the vsock socket .* is outside the bundle"
# A host CAN interface ("lo" stands in: it exists, which --describe checks).
bundle '{"kernel": "bz", "devices": [{"type": "can", "if": "lo"}]}'
confined "a host CAN interface" refused "confined bundle reaches host CAN interfaces only"
bundle '{"kernel": "bz", "devices": [{"type": "net", "tap": "avpconf0"}]}'
if [ "$(id -u)" = 0 ]; then
	confined "a host tap" refused "confined bundle reaches host networks only"
	mknod "$work/b/blk" b 7 200 2>/dev/null
	if [ -b "$work/b/blk" ]; then
		bundle '{"kernel": "bz", "devices": [{"type": "disk", "path": "blk", "read_only": true}]}'
		out=$("$avp" run --bundle "$work/b" --confine --describe 2>&1 >/dev/null)
		if grep -q "is a host block device" <<<"$out"; then
			ok "a block device node inside the bundle: refused: $out"
		else
			notok "a block device node inside the bundle: said '$out'"
		fi
	else
		skip "block device case: mknod refused here"
	fi
else
	skip "tap and block device cases: need root"
fi
out=$("$avp" run --confine --kernel "$work/b/bz" --describe 2>&1 >/dev/null)
if grep -q -- "--confine goes with --bundle" <<<"$out"; then ok "--confine without --bundle: $out"; else notok "--confine without --bundle said '$out'"; fi

# avp create --confine: refused the same way, and recorded for every boot.
bundle '{"kernel": "../outside/bz"}'
out=$("$avp" create vc --bundle "$work/b" --confine --root "$work/root" 2>&1)
if grep -q "outside the bundle" <<<"$out"; then ok "avp create --confine refuses: $out"; else notok "avp create --confine said '$out'"; fi
bundle '{"kernel": "bz"}'
if "$avp" create vc --bundle "$work/b" --confine --root "$work/root" >/dev/null 2>&1 &&
	grep -q '"confine": *true' "$work/root/vc/state.json"; then
	ok "avp create --confine records it in state.json (the monitor passes it to every boot)"
else
	notok "avp create --confine: not recorded ($(cat "$work/root/vc/state.json" 2>/dev/null | head -c 300))"
fi
"$avp" delete vc --force --root "$work/root" >/dev/null 2>&1
finish
