#!/bin/bash
# Inside the arm64 test host: virtio-pci on arm64 (AVP-TRANS-3, issue 16).
# avp run --transport pci with blk, net, rng and vsock behind the generic
# ECAM host bridge of the device tree: the guest (x86's tests/guest/pci.sh)
# finds them as PCI functions in sysfs bound by virtio-pci, uses each, and
# sees MSI-X vectors of the ITS in /proc/interrupts. Then a second boot
# with pci=nomsi, where the devices fall back to INTx through the tree's
# interrupt-map (tests/guest/pci-intx.sh). Also --describe's BDFs and
# vectors. A few minutes under TCG, so not a CI step; the command:
#   scripts/testhost --arch arm64 --smp 2 --memory 2048 --timeout 1200 \
#     tests/realguest/arm64-pci.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh
source tests/lib/realguest.sh
source tests/lib/arm64.sh

arm64_setup
out=build/testhost/out/arm64-pci
mkdir -p "$out"
tmp=$(mktemp -d /tmp/arm64-pci.XXXXXX)
tap=avpp0
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	ip link del "$tap" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
cmd="console=ttyAMA0 panic=-1 quiet"

truncate -s 16M "$tmp/rw.img"
printf 'AVP-DISK-SIGNATURE' | dd of="$tmp/rw.img" conv=notrunc status=none
modprobe tun 2>/dev/null
ip tuntap add "$tap" mode tap || notok "cannot create tap $tap"
sysctl -qw "net.ipv6.conf.$tap.accept_dad=0" 2>/dev/null
ip link set "$tap" up
ip -6 addr add fe80::1/64 dev "$tap"
sock=$tmp/v.sock
python3 tests/realguest/vsock_host.py serve "${sock}_5000" 1 >"$tmp/serve.log" 2>&1 &
pids+=("$!")

devs=(--disk "$tmp/rw.img" --net "tap=$tap,mac=52:54:00:12:34:57" --rng
	--vsock "cid=42,socket=$sock")

# --describe: one function per device from 00:01.0, queues + 1 vectors,
# as on x86.
"$avp" run --kernel "$kernel" --transport pci "${devs[@]}" --describe >"$out/describe.json" 2>&1
check_eq "$?" 0 "avp --describe --transport pci"
desc=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join("%s@%s/%d" % (v["type"], v.get("pci_bdf"), v.get("msix_vectors", 0))
               for v in d["virtio_devices"]))' "$out/describe.json" 2>&1)
check_eq "$desc" "virtio-blk@0000:00:01.0/2 virtio-net@0000:00:02.0/3 virtio-rng@0000:00:03.0/2 virtio-vsock@0000:00:04.0/4" \
	"--describe shows each device's BDF and MSI-X vectors"

# boot NAME LIMIT AVP-ARGS...: its console in $tmp/NAME.log, then
# $out/NAME.log; sets rc and log.
boot() {
	local name=$1 limit=$2
	shift 2
	log=$tmp/$name.log
	rg_boot "$name" "$log" timeout -k 5 "$limit" "$avp" run --kernel "$kernel" \
		--initrd "$initrd" "$@"
	tr -d '\r' <"$log" >"$out/$name.log"
	log=$out/$name.log
	echo "$CHECK_PREFIX: $name: avp exit $rc"
}

start=$(date +%s.%N)
boot pci 400 --cmdline "$cmd avp.test=pci" --cpus 2 --memory 256 --transport pci "${devs[@]}"
end=$(date +%s.%N)
echo "$CHECK_PREFIX: pci: boot to poweroff $(awk "BEGIN{printf \"%.1f\", $end - $start}") s"
sed 's/^/  | /' "$log" | tail -n 60
sed 's/^/  host serve: /' "$tmp/serve.log"
check_eq "$rc" 0 "pci: guest poweroff ends avp with status 0 (log: $log)"
rg_guest_checks "$log" pci
check_grep "$log" '^AVP-GUEST-EXIT=0$' "pci: every guest-side check passed"
check_grep "$log" '^pci: interrupts: .*ITS.*virtio' "pci: the virtio vectors are the ITS's (/proc/interrupts)"
if grep -q 'gives no GICv3 ITS' "$log"; then
	notok "pci: avp found no ITS on this host: $(grep 'no GICv3 ITS' "$log")"
fi
check_eq "$(dd if="$tmp/rw.img" bs=1 skip=512 count=16 status=none)" GUEST-WROTE-THIS \
	"pci: the guest's write to vda is in the host image"
rx=$(cat "/sys/class/net/$tap/statistics/rx_packets" 2>/dev/null || echo 0)
check_eq "$((rx > 0))" 1 "pci: the tap's host end received $rx packets from the guest"

# pci=nomsi: no MSI-X, so virtio-pci takes its INTx line (the tree's
# interrupt-map: a level-triggered SPI; the ISR read lowers it).
boot pci-intx 300 --cmdline "$cmd pci=nomsi avp.test=pci-intx" --memory 256 --transport pci \
	--disk "$tmp/rw.img" --rng
sed 's/^/  | /' "$log" | tail -n 25
check_eq "$rc" 0 "pci-intx: guest poweroff ends avp with status 0 (log: $log)"
rg_guest_checks "$log" pci-intx
check_grep "$log" '^AVP-GUEST-EXIT=0$' "pci-intx: every guest-side check passed"
finish
