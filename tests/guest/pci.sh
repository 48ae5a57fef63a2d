#!/bin/sh
# Guest side of tests/realguest/pci.sh (avp.test=pci), busybox sh: the
# devices avp gives with --transport pci are PCI functions (sysfs: lspci
# is not in the guest), bound by virtio-pci, working, and interrupting
# through MSI-X. Expected: vda (rw, signature at 0), eth0 on a tap whose
# host end is fe80::1, hwrng, vsock with a host echo server on port 5000.
fail=0
ok()    { echo "pci: ok - $*"; }
notok() { echo "pci: not ok - $*"; fail=1; }

# vendor 0x1af4, device 0x1040 + VIRTIO ID (VIRTIO 1.2, 4.1.2).
for want in 0x1041:net 0x1042:blk 0x1044:rng 0x1053:vsock; do
    id=${want%%:*}
    found=
    for d in /sys/bus/pci/devices/*; do
        [ "$(cat "$d/vendor" 2>/dev/null)" = 0x1af4 ] || continue
        [ "$(cat "$d/device" 2>/dev/null)" = "$id" ] || continue
        found=${d##*/}
        drv=$(basename "$(readlink "$d/driver" 2>/dev/null)" 2>/dev/null)
    done
    if [ -z "$found" ]; then
        notok "no PCI function $id (${want#*:}) in /sys/bus/pci/devices: $(ls /sys/bus/pci/devices | tr '\n' ' ')"
        continue
    fi
    [ "$drv" = virtio-pci ] && ok "${want#*:} is PCI function $found ($id), bound to virtio-pci" \
        || notok "${want#*:} at $found is bound to '$drv', not virtio-pci"
    # MSI-X in use (the kernel's own view of the function).
    n=$(ls "/sys/bus/pci/devices/$found/msi_irqs" 2>/dev/null | wc -l)
    [ "$n" -ge 2 ] && ok "${want#*:} has $n MSI-X vectors" || notok "${want#*:} has $n MSI vectors"
done

for v in /sys/bus/virtio/devices/*; do
    echo "pci: virtio ${v##*/} device=$(cat "$v/device") driver=$(basename "$(readlink "$v/driver" 2>/dev/null)" 2>/dev/null)"
done

sig=$(dd if=/dev/vda bs=18 count=1 2>/dev/null)
[ "$sig" = "AVP-DISK-SIGNATURE" ] && ok "vda reads the host's signature" || notok "vda starts with '$sig'"
if printf 'GUEST-WROTE-THIS' | dd of=/dev/vda bs=512 seek=1 conv=notrunc 2>/dev/null && sync; then
    ok "wrote sector 1 of vda and synced"
else
    notok "write to vda failed"
fi
# Enough I/O to go through many interrupts: 4 MiB read back from the disk.
n=$(dd if=/dev/vda bs=64k count=64 iflag=direct 2>/dev/null | wc -c)
[ "$n" -eq 4194304 ] && ok "read 4 MiB from vda with O_DIRECT" || notok "read $n bytes from vda"

if [ -c /dev/hwrng ]; then
    n=$(dd if=/dev/hwrng bs=32 count=4 2>/dev/null | wc -c)
    [ "$n" -eq 128 ] && ok "read 128 bytes from /dev/hwrng" || notok "hwrng gave $n bytes"
else
    notok "no /dev/hwrng"
fi

if [ -d /sys/class/net/eth0 ]; then
    echo 0 > /proc/sys/net/ipv6/conf/eth0/accept_dad 2>/dev/null
    ip link set eth0 up
    ip -6 addr add fe80::2/64 dev eth0
    if ping -6 -c 3 -W 5 fe80::1%eth0 >/tmp/ping.log 2>&1 || ping6 -c 3 -W 5 fe80::1%eth0 >/tmp/ping.log 2>&1; then
        ok "ping fe80::1 (the tap's host end) over eth0"
    else
        notok "no answer from fe80::1 over eth0: $(tail -n 2 /tmp/ping.log | tr '\n' ' ')"
    fi
else
    notok "no eth0"
fi

if timeout 60 vsock_echo connect 2 5000 262144 >/tmp/vsock.log 2>&1; then
    ok "vsock stream to the host: $(tail -n 1 /tmp/vsock.log)"
else
    notok "vsock stream to the host failed: $(tail -n 3 /tmp/vsock.log | tr '\n' ' ')"
fi

# /proc/interrupts: the virtio vectors are message-signalled ones (x86:
# PCI-MSI(X); arm64: the ITS's, ITS-MSI or ITS-PCI-MSIX) and the
# request/rx/tx queues' vectors have fired.
grep -E 'virtio' /proc/interrupts | sed 's/^/pci: interrupts: /'
msi=$(grep -E 'PCI-MSI|ITS-' /proc/interrupts | grep -c virtio)
[ "$msi" -ge 8 ] && ok "$msi virtio interrupts are MSI vectors" \
    || notok "$msi virtio lines are MSI (PCI-MSI, ITS) in /proc/interrupts"
busy=0
for name in req input output rx tx; do
    grep -E "(PCI-MSI|ITS-).*virtio[0-9]+-$name" /proc/interrupts | while read -r line; do
        set -- $line
        shift
        total=0
        while [ $# -gt 0 ]; do
            case $1 in *[!0-9]*) break ;; esac
            total=$((total + $1))
            shift
        done
        [ "$total" -gt 0 ] && echo fired
    done
done >/tmp/fired
busy=$(grep -c fired /tmp/fired)
[ "$busy" -ge 3 ] && ok "$busy queue vectors fired" || notok "only $busy queue vectors fired"

exit $fail
