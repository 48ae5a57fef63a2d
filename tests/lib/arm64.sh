# Sourced by the arm64 real-guest tests (tests/realguest/arm64-*.sh, and
# jail.sh, which runs on both architectures) after tests/lib/check.sh (and
# tests/lib/realguest.sh for rg_arch_setup), in the repository root.
#   arm64_setup   sets avp, kernel and initrd (build/arm64/avp, the arm64
#                 reference guest); ends the test with one failed check when
#                 it does not run in the arm64 test host or one is missing.
#   rg_arch_setup [NAME]  for a test that runs in either test host (below).
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

# rg_arch_setup [NAME]: the start of a real-guest test that runs in either
# test host (can.sh, gpio-i2c.sh, jail.sh). In the arm64 one arm64_setup
# and out=build/testhost/out (build/testhost/out/arm64-NAME with NAME),
# elsewhere rg_setup (tests/lib/realguest.sh). Also sets guest (the guest's
# build directory, where its extra images are), console and serial (its
# serial console: the PL011's ttyAMA0 or the 16550's ttyS0), guest_mem (the
# MiB the reference guest boots in: arm64's Image alone is 44 MB) and
# platform_threads (the timer threads every VM has: arm64's RTC and power
# button; x86 has none without --watchdog).
rg_arch_setup() {
	if [[ "$(uname -m)" == aarch64 ]]; then
		arm64_setup
		out=build/testhost/out${1:+/arm64-$1}
		mkdir -p "$out"
		guest=build/guest-arm64 console=ttyAMA0 guest_mem=256 platform_threads="avp-pl031 avp-pl061"
	else
		rg_setup
		guest=build/guest console=ttyS0 guest_mem=192 platform_threads=""
	fi
	serial=$console
}
