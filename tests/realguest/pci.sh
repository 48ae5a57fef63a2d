#!/bin/bash
# virtio-pci (AVP-TRANS-3): avp run --transport pci with blk, net, rng and
# vsock. The guest (tests/guest/pci.sh) finds them as PCI functions in
# sysfs, bound by virtio-pci, uses each, and sees MSI-X vectors in
# /proc/interrupts. Needs a real /dev/kvm:
#   scripts/testhost tests/realguest/pci.sh
# Also checks --describe's BDFs and vectors, and a second boot with
# pci=nomsi, where the devices fall back to INTx (tests/guest/pci-intx.sh). Logs go to build/testhost/out/.
# In the arm64 test host (issue 16) the same checks with build/arm64/avp and
# the arm64 guest: the generic ECAM host bridge of the device tree, MSI-X
# through the GIC's ITS (which /proc/interrupts must name), INTx through
# the tree's interrupt-map; logs in build/testhost/out/arm64-pci/:
#   scripts/testhost --arch arm64 --smp 2 --memory 2048 --timeout 1200 tests/realguest/pci.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh
source tests/lib/realguest.sh
source tests/lib/arm64.sh

rg_arch_setup pci
if ! rg_avp_has_option --transport; then
	notok "$avp has no --transport option"; finish; exit 1
fi
if ! rg_guest_has tests/pci.sh; then
	notok "the guest image has no tests/pci.sh (run scripts/mkguest)"; finish; exit 1
fi

work=$(mktemp -d /tmp/avp-pci.XXXXXX)
tap=avpp0
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	ip link del "$tap" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

truncate -s 16M "$work/rw.img"
printf 'AVP-DISK-SIGNATURE' | dd of="$work/rw.img" conv=notrunc status=none
modprobe tun 2>/dev/null
ip tuntap add "$tap" mode tap || notok "cannot create tap $tap"
sysctl -qw "net.ipv6.conf.$tap.accept_dad=0" 2>/dev/null
ip link set "$tap" up
ip -6 addr add fe80::1/64 dev "$tap"
sock=$work/v.sock
python3 tests/realguest/vsock_host.py serve "${sock}_5000" 1 >"$work/serve.log" 2>&1 &
pids+=("$!")

devs=(--disk "$work/rw.img" --net "tap=$tap,mac=52:54:00:12:34:57" --rng
	--vsock "cid=42,socket=$sock")

# --describe: one function per device from 00:01.0, queues + 1 vectors.
"$avp" run --kernel "$kernel" --transport pci "${devs[@]}" --describe >"$work/describe.json" 2>&1
check_eq "$?" 0 "avp --describe --transport pci"
desc=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join("%s@%s/%d" % (v["type"], v.get("pci_bdf"), v.get("msix_vectors", 0))
               for v in d["virtio_devices"]))' "$work/describe.json" 2>&1)
check_eq "$desc" "virtio-blk@0000:00:01.0/2 virtio-net@0000:00:02.0/3 virtio-rng@0000:00:03.0/2 virtio-vsock@0000:00:04.0/4" \
	"--describe shows each device's BDF and MSI-X vectors"

log=$out/pci.log
start=$(date +%s.%N)
rg_boot "pci boot" "$log" timeout -k 5 400 "$avp" run --kernel "$kernel" --initrd "$initrd" \
	--cmdline "console=$console panic=-1 quiet avp.test=pci" --cpus 2 --memory 256 \
	--transport pci "${devs[@]}"
end=$(date +%s.%N)
tr -d '\r' <"$log" >"$log.txt"
echo "pci: boot took $(awk "BEGIN{printf \"%.1f\", $end - $start}") s, avp exit $rc"
sed 's/^/  | /' "$log.txt" | tail -n 70
sed 's/^/  host serve: /' "$work/serve.log"

check_eq "$rc" 0 "guest poweroff ends avp with status 0"
rg_guest_checks "$log.txt" pci
check_grep "$log.txt" '^AVP-GUEST-EXIT=0$' "every guest-side check passed"
if [[ $console = ttyAMA0 ]]; then
	check_grep "$log.txt" '^pci: interrupts: .*ITS.*virtio' "arm64: the virtio vectors are the ITS's"
	if grep -q 'gives no GICv3 ITS' "$log.txt"; then
		notok "arm64: avp found no ITS on this host: $(grep -m1 'no GICv3 ITS' "$log.txt")"
	fi
fi
check_eq "$(dd if="$work/rw.img" bs=1 skip=512 count=16 status=none)" GUEST-WROTE-THIS \
	"the guest's write to vda is in the host image after poweroff"
rx=$(cat "/sys/class/net/$tap/statistics/rx_packets" 2>/dev/null || echo 0)
if [ "$rx" -gt 0 ]; then ok "host side of the tap received $rx packets from the guest"; else notok "no packets from the guest on $tap"; fi

# --- boot 2: INTx --------------------------------------------------------
# pci=nomsi: the driver gets no MSI-X, so virtio-pci takes its INTx line
# (the _PRT's GSI, level-triggered, or arm64's interrupt-map SPI; the ISR
# read lowers it).
log=$out/pci-intx.log
rg_boot "pci INTx boot" "$log" timeout -k 5 300 "$avp" run --kernel "$kernel" --initrd "$initrd" \
	--cmdline "console=$console panic=-1 quiet pci=nomsi avp.test=pci-intx" --memory 256 \
	--transport pci --disk "$work/rw.img" --rng
tr -d '\r' <"$log" >"$log.txt"
sed 's/^/  | /' "$log.txt" | tail -n 25
check_eq "$rc" 0 "INTx guest poweroff ends avp with status 0"
rg_guest_checks "$log.txt" pci-intx
check_grep "$log.txt" '^AVP-GUEST-EXIT=0$' "every INTx guest-side check passed"

finish
