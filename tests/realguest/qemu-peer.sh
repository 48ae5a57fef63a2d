#!/bin/bash
# Boot the reference guest (build/guest, from scripts/mkguest) with QEMU/KVM
# on microvm and check that the guest's device summary shows the virtio disk.
#
# Run it where /dev/kvm is real:   scripts/testhost tests/realguest/qemu-peer.sh
# It is the proof that the test host works (KVM + QEMU from the host root),
# and the QEMU reference that avp's own real-guest tests compare against.
#
# The console log is kept in build/testhost/out/qemu-peer.log.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
kernel=build/guest/vmlinuz
initrd=build/guest/initrd.img
for f in "$kernel" "$initrd"; do
    [[ -f "$f" ]] || { echo "qemu-peer: $f missing; run scripts/mkguest on the host first" >&2; exit 1; }
done
[[ -c /dev/kvm ]] || { echo "qemu-peer: no /dev/kvm; run me via scripts/testhost" >&2; exit 1; }

out=build/testhost/out
mkdir -p "$out"
log="$out/qemu-peer.log"
# The disk lives on tmpfs inside the test host: faster than the 9p repo share.
disk="$(mktemp /tmp/qemu-peer-disk.XXXXXX)"
trap 'rm -f "$disk"' EXIT
truncate -s 8M "$disk"
# Signature for the guest's smoke test (tests/guest/smoke.sh) to read.
printf 'AVP-DISK-SIGNATURE' | dd of="$disk" conv=notrunc status=none

# Debian's kernel finds virtio-mmio devices only through ACPI, which microvm
# provides (acpi=on is its default).  -nodefaults drops the default NIC etc.
t0=$(date +%s.%N)
set +e
CHECK_PREFIX=qemu-peer
source tests/lib/check.sh
source tests/lib/realguest.sh
rg_boot "QEMU boot" "$log.raw" timeout -k 5 300 qemu-system-x86_64 -enable-kvm -M microvm,acpi=on -cpu host -m 256 -smp 1 \
    -nodefaults -no-user-config -nographic -serial stdio -no-reboot \
    -kernel "$kernel" -initrd "$initrd" \
    -append "console=ttyS0 panic=-1 quiet avp.test=smoke" \
    -drive "file=$disk,if=none,id=d0,format=raw" -device virtio-blk-device,drive=d0 \
    -device virtio-rng-device \
    -netdev user,id=n0 -device virtio-net-device,netdev=n0,mac=52:54:00:12:34:56 \
    -chardev null,id=con0 -device virtio-serial-device -device virtconsole,chardev=con0
tr -d '\r' <"$log.raw" | tee "$log"
set -e
t1=$(date +%s.%N)
echo "qemu-peer: QEMU exited $rc after $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s"

fail=0
check() {
    if grep -qE "$1" "$log"; then echo "qemu-peer: ok - $2"; else echo "qemu-peer: not ok - $2"; fail=1; fi
}
check '^===== end of devices =====$' "guest printed its device summary"
check '^block: vda size=8192 KiB ro=0$' "guest sees the 8 MiB virtio-blk disk as vda"
check '^virtio: virtio[0-9]+ device=0x0002 .*driver=virtio_blk$' "virtio-blk bound to virtio_blk"
check '^hwrng: present' "virtio-rng gives /dev/hwrng"
check '^hvc0: present$' "virtio-console gives /dev/hvc0"
check '^net: eth0 mac=52:54:00:12:34:56$' "virtio-net gives eth0 with the given MAC"
check "^$GUEST_PASSED" "guest smoke test (avp.test=smoke) passed"
if [[ "$(dd if="$disk" bs=1 skip=512 count=16 status=none)" = GUEST-WROTE-THIS ]]; then
    echo "qemu-peer: ok - guest's write to vda reached the disk image"
else
    echo "qemu-peer: not ok - guest's write to vda is not in the disk image"; fail=1
fi
((rc == 0)) || { echo "qemu-peer: QEMU exit status $rc (124 = timed out)"; fail=1; }
exit $fail
