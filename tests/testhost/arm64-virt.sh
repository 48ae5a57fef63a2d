#!/bin/bash
# Inside the arm64 test host (scripts/testhost --arch arm64): QEMU's virt
# machine, with KVM, boots the arm64 reference guest (scripts/mkguest --arch
# arm64) to its device summary and powers off. This is the peer the arm64
# conformance run compares avp with, so it must work before anything else.
# Prints ok/not ok lines, and the timings:
#   arm64-virt: time - test host up after S s (its kernel's uptime when this script started)
#   arm64-virt: time - launch to guest init S s, to power-off S s; QEMU RSS at init N KiB
# usage: tests/testhost/arm64-virt.sh [ROUNDS]   (default 1)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh

rounds=${1:-1}
echo "$CHECK_PREFIX: time - test host up after $(cut -d' ' -f1 /proc/uptime) s (its kernel's uptime when this script started)"
if [[ "$(uname -m)" != aarch64 ]]; then
	notok "this runs in the arm64 test host (scripts/testhost --arch arm64), not on $(uname -m)"
	finish
	exit
fi
kernel=build/guest-arm64/Image initrd=build/guest-arm64/initrd.img
for f in "$kernel" "$initrd"; do
	[[ -f "$f" ]] || { notok "$f missing (run scripts/mkguest --arch arm64 first)"; finish; exit; }
done
check_eq "$([[ -c /dev/kvm ]] && echo yes)" yes "/dev/kvm exists"
echo "$CHECK_PREFIX: info - test host interrupt controller: $(cat /proc/device-tree/intc@*/compatible 2>/dev/null | tr '\0' ' ')"

out=build/testhost/out/arm64-virt
mkdir -p "$out"
disk=$(mktemp /tmp/arm64-virt-disk.XXXXXX)
trap 'rm -f "$disk"' EXIT
truncate -s 16M "$disk"

for ((r = 1; r <= rounds; r++)); do
	log=$out/console-$r.log
	# gic-version=host: whatever the test host's KVM offers (3, or 2 in a
	# test host started with --gic-version 2). virtio-*-device: virtio-mmio,
	# found through the device tree, as avp's devices are. quiet: every
	# console byte is a trapped PL011 write emulated by TCG twice over; the
	# boot log alone costs half a minute.
	t0=$(date +%s.%N)
	qemu-system-aarch64 -M virt,gic-version=host -accel kvm -cpu host -smp 1 -m 256 \
		-nodefaults -no-user-config -nographic -serial stdio -no-reboot \
		-kernel "$kernel" -initrd "$initrd" -append "console=ttyAMA0 panic=-1 quiet" \
		-drive "if=none,id=d0,file=$disk,format=raw" -device virtio-blk-device,drive=d0 \
		-device virtio-rng-device </dev/null >"$log" 2>&1 &
	qpid=$!
	t_init='' rss='' deadline=$((SECONDS + 300))
	while kill -0 "$qpid" 2>/dev/null; do
		if ((SECONDS >= deadline)); then
			kill -KILL "$qpid" 2>/dev/null
			echo "$CHECK_PREFIX: round $r: QEMU still running after 300 s; killed"
			break
		fi
		if [[ -z "$t_init" ]] && grep -aq 'avp-guest: init started' "$log"; then
			t_init=$(date +%s.%N)
			rss=$(awk '/^VmRSS/ {print $2}' /proc/$qpid/status 2>/dev/null)
		fi
		sleep 0.1
	done
	wait "$qpid"
	rc=$?
	t1=$(date +%s.%N)
	[[ -n "$t_init" ]] || ! grep -aq 'avp-guest: init started' "$log" || t_init=$t1
	check_eq "$rc" 0 "round $r: QEMU virt with KVM ran the guest to power-off (status 0; log: $log)"
	check_grep "$log" 'avp-guest: init started' "round $r: the guest's init ran"
	check_grep "$log" '^block: vda size=16384 KiB' "round $r: the guest found the virtio-mmio disk"
	check_grep "$log" 'driver=virtio_blk' "round $r: virtio_blk bound to it"
	check_grep "$log" '^hwrng: present' "round $r: the guest found the virtio-mmio rng"
	check_grep "$log" '===== end of devices =====' "round $r: the device summary ended"
	if [[ -n "$t_init" ]]; then
		echo "$CHECK_PREFIX: time - round $r: launch to guest init $(awk "BEGIN{printf \"%.1f\", $t_init - $t0}") s, to power-off $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s; QEMU RSS at init ${rss:-?} KiB"
	else
		tail -n 20 "$log" | sed 's/^/#   /'
	fi
done
finish
