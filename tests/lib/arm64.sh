# Sourced by the arm64 real-guest tests (tests/realguest/arm64-*.sh) after
# tests/lib/check.sh, in the repository root.
#   arm64_setup   sets avp, kernel and initrd (build/arm64/avp, the arm64
#                 reference guest); ends the test with one failed check when
#                 it does not run in the arm64 test host or one is missing.
# shellcheck shell=bash
arm64_setup() {
	local f
	if [[ "$(uname -m)" != aarch64 ]]; then
		notok "this runs in the arm64 test host (scripts/testhost --arch arm64), not on $(uname -m)"
		finish
		exit
	fi
	avp=build/arm64/avp
	kernel=build/guest-arm64/Image initrd=build/guest-arm64/initrd.img
	for f in "$avp" "$kernel" "$initrd"; do
		[[ -f "$f" ]] || { notok "$f missing (make ARCH=arm64; scripts/mkguest --arch arm64)"; finish; exit; }
	done
}
