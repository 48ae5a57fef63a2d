# Sourced by the arm64 real-guest tests (tests/realguest/arm64-*.sh) after
# tests/lib/check.sh, in the repository root.
#   arm64_setup   sets avp, kernel and initrd (build/arm64/avp, the arm64
#                 reference guest); ends the test with one failed check when
#                 it does not run in the arm64 test host or one is missing.
#   rg_arch_setup for a test that runs in either test host (after
#                 tests/lib/realguest.sh): arm64_setup and out
#                 (build/testhost/out) in the arm64 one, rg_setup in the
#                 x86 one; sets guest (the guest's build directory, where
#                 its extra images are) and console (its serial console).
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

rg_arch_setup() {
	if [[ "$(uname -m)" = aarch64 ]]; then
		arm64_setup
		out=build/testhost/out
		mkdir -p "$out"
		guest=build/guest-arm64 console=ttyAMA0
	else
		rg_setup
		guest=build/guest console=ttyS0
	fi
}
