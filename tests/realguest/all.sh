#!/bin/bash
# Every real-guest test that is ready, one after another, inside one
# test-host boot:
#   scripts/testhost --smp 2 --memory 3072 tests/realguest/all.sh [--only|--except NAME...]
# A test still being brought up is listed in PENDING with the reason, and
# reported as skipped (not silently dropped). Exits non-zero when any ran
# test failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

READY=(avp-boot.sh pci.sh net-offload.sh net-mq.sh qemu-peer.sh durability.sh sound.sh vsock.sh input.sh watchdog.sh gpu.sh early-button.sh runtime.sh jail.sh vsock-link.sh vsock-suite.sh conform.sh ringbreak.sh gpio-i2c.sh can.sh can-bus.sh can-system.sh oci.sh oci-podman.sh oci-ctr.sh)
declare -A PENDING=(
	[arm64-avp.sh]="arm64 only: runs in the arm64 test host (scripts/testhost --arch arm64 --smp 2 --memory 2048 --timeout 1200 tests/realguest/arm64-avp.sh), not in this x86 one; scripts/test runs it there as its own step (docs/arm64.md)"
	[arm64-devices.sh]="arm64 only: runs in the arm64 test host (scripts/testhost --arch arm64 --smp 2 --memory 2048 --timeout 1500 tests/realguest/arm64-devices.sh), not in this x86 one nor in CI (several minutes; docs/arm64.md)"
	[arm64-image-gz.sh]="arm64 only: runs in the arm64 test host (scripts/testhost --arch arm64 --timeout 900 tests/realguest/arm64-image-gz.sh), not in this x86 one (docs/arm64.md)"
)

# --only NAME... runs just those; --except NAME... all others; --from NAME
# starts at NAME (scripts/testhost-suite, after a test host died). scripts/test
# runs jail.sh apart, in a single-CPU test host: twice the test host's own
# kernel (not the guest's) died of "Oops: int3" while jail.sh ran on two
# CPUs, a kernel text patch seen half-done by the other vCPU of the
# multi-threaded TCG that emulates the test host.
only=() except=() mode='' from=''
for a in "$@"; do
	case "$a" in
	--only) mode=only ;;
	--except) mode=except ;;
	--from) mode=from ;;
	*) case $mode in
	   only) only+=("$a") ;;
	   from) from=$a; mode=from-done ;;
	   *) except+=("$a") ;;
	   esac ;;
	esac
done

rc=0
for t in tests/realguest/*.sh; do
	name=${t##*/}
	[ "$name" = all.sh ] && continue
	[ ${#only[@]} -gt 0 ] && [[ ! " ${only[*]} " == *" $name "* ]] && continue
	[[ " ${except[*]} " == *" $name "* ]] && continue
	# --from NAME (scripts/testhost-suite, after the test host died in NAME)
	if [ -n "$from" ]; then
		[ "$name" = "$from" ] || continue
		from=
	fi
	if [ -n "${PENDING[$name]:-}" ]; then
		echo "all: skip - $name: ${PENDING[$name]}"
		continue
	fi
	if [[ ! " ${READY[*]} " == *" $name "* ]]; then
		echo "all: not ok - $name is neither READY nor PENDING in tests/realguest/all.sh"
		rc=1
		continue
	fi
	echo "=== $t"
	t0=$SECONDS
	bash "$t" || { echo "=== $t FAILED"; rc=1; }
	# per test, so a slow CI machine's log says where its time went
	echo "=== $t: $((SECONDS - t0)) s"
done
if [ -n "$from" ]; then
	echo "all: not ok - --from $from: no such test among those selected"
	rc=1
fi
exit $rc
