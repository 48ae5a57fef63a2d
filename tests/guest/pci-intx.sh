#!/bin/sh
# Guest side of tests/realguest/pci.sh's second boot (avp.test=pci-intx,
# with pci=nomsi): virtio-pci without MSI-X falls back to INTx, which the
# _PRT routes to an I/O APIC input (arm64: the device tree's interrupt-map
# to a GIC SPI); the devices must work on it. busybox sh.
fail=0
ok()    { echo "pci-intx: ok - $*"; }
notok() { echo "pci-intx: not ok - $*"; fail=1; }

n=0
for d in /sys/bus/pci/devices/*; do
    [ "$(cat "$d/vendor" 2>/dev/null)" = 0x1af4 ] || continue
    n=$((n + 1))
    [ -d "$d/msi_irqs" ] && notok "${d##*/} uses MSI despite pci=nomsi"
    echo "pci-intx: ${d##*/} device=$(cat "$d/device") irq=$(cat "$d/irq")"
done
[ "$n" -eq 2 ] && ok "2 virtio-pci functions" || notok "$n virtio-pci functions, expected 2"

sig=$(dd if=/dev/vda bs=18 count=1 2>/dev/null)
[ "$sig" = "AVP-DISK-SIGNATURE" ] && ok "vda reads the host's signature over INTx" || notok "vda starts with '$sig'"
n=$(dd if=/dev/vda bs=64k count=64 iflag=direct 2>/dev/null | wc -c)
[ "$n" -eq 4194304 ] && ok "read 4 MiB from vda with O_DIRECT" || notok "read $n bytes from vda"
n=$(dd if=/dev/hwrng bs=32 count=4 2>/dev/null | wc -c)
[ "$n" -eq 128 ] && ok "read 128 bytes from /dev/hwrng" || notok "hwrng gave $n bytes"

grep virtio /proc/interrupts | sed 's/^/pci-intx: interrupts: /'
# x86: the _PRT's I/O APIC input; arm64: the interrupt-map's GIC SPI.
if grep virtio /proc/interrupts | grep -qE 'IO-APIC.*fasteoi|GICv3.*Level'; then
    ok "the virtio interrupts are level-triggered I/O APIC or GIC lines (INTx)"
else
    notok "no level-triggered I/O APIC or GIC virtio interrupt in /proc/interrupts"
fi
exit $fail
