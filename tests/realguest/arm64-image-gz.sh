#!/bin/bash
# Inside the arm64 test host (scripts/testhost --arch arm64): avp boots an
# Image.gz (issue 14: `make Image.gz`, Debian's arm64 vmlinuz before 6.x),
# which its loader inflates with zlib, as it boots the plain Image: the
# arm64 reference guest to its init, which reboots (avp.test=reboot: PSCI
# SYSTEM_RESET, status 3). Both are timed, launch to exit, to show what
# inflating costs. build/guest-arm64/Image.gz is made from the Image here
# when missing or older (gzip under TCG is slow: make it on the host first
# with `gzip -6 -k build/guest-arm64/Image` to save the wait).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh

if [[ "$(uname -m)" != aarch64 ]]; then
	notok "this runs in the arm64 test host (scripts/testhost --arch arm64), not on $(uname -m)"
	finish
	exit
fi
avp=build/arm64/avp
image=build/guest-arm64/Image initrd=build/guest-arm64/initrd.img gz=build/guest-arm64/Image.gz
for f in "$avp" "$image" "$initrd"; do
	[[ -f "$f" ]] || { notok "$f missing (make ARCH=arm64; scripts/mkguest --arch arm64)"; finish; exit; }
done
[[ "$gz" -nt "$image" ]] || gzip -6 -c "$image" >"$gz"
check_eq "$(od -An -tx1 -N2 "$gz" | tr -d ' ')" 1f8b "$gz is a gzip stream"
out=build/testhost/out/arm64-image-gz
mkdir -p "$out"
tmp=$(mktemp -d /tmp/arm64-image-gz.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

for k in "$image" "$gz"; do
	name=${k##*/}
	t0=$(date +%s.%N)
	# The console to the test host's own disk (a 9p write per byte is slow).
	timeout -k 5 300 "$avp" run --kernel "$k" --initrd "$initrd" --memory 256 \
		--cmdline "console=ttyAMA0 panic=-1 quiet avp.test=reboot" </dev/null >"$tmp/$name.log" 2>&1
	rc=$?
	t1=$(date +%s.%N)
	cp "$tmp/$name.log" "$out/$name.log"
	check_eq "$rc" 3 "$name: the guest booted and rebooted, avp status 3 (log: $out/$name.log)"
	check_grep "$out/$name.log" 'avp-guest: init started' "$name: the guest's init ran"
	check_grep "$out/$name.log" 'reboot-test: rebooting' "$name: ... and asked for the reboot"
	echo "$CHECK_PREFIX: time - $name ($(stat -c %s "$k") bytes): launch to exit $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s"
done
finish
