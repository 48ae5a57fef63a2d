#!/bin/bash
# avp boots the reference guest (Debian's kernel, busybox initramfs) and the
# guest checks its devices. Needs a real /dev/kvm: run it through
#   scripts/testhost tests/realguest/avp-boot.sh
# Boots: (1) the main platform (2 vCPUs, rw + ro disks, tap network, rng,
# virtio-console) ending in poweroff -> exit 0; (2) a guest that reboots ->
# exit 3; (3) the same with acpi=off (the MP table) -> 2 CPUs, exit 3. Console logs go to build/testhost/out/.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh
source tests/lib/realguest.sh

rg_setup

work=$(mktemp -d /tmp/avp-boot.XXXXXX)
tap=avpt0
cleanup() { ip link del "$tap" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# --- boot 1: the main platform -------------------------------------------
truncate -s 16M "$work/rw.img"
printf 'AVP-DISK-SIGNATURE' | dd of="$work/rw.img" conv=notrunc status=none
truncate -s 4M "$work/ro.img"
printf 'AVP-RO-SIGNATURE..' | dd of="$work/ro.img" conv=notrunc status=none
ro_sum_before=$(md5sum <"$work/ro.img")

modprobe tun 2>/dev/null
ip tuntap add "$tap" mode tap || notok "cannot create tap $tap"
# The host end answers the guest's ping at fe80::1 (link-local only: tests
# never use routable addresses).
sysctl -qw "net.ipv6.conf.$tap.accept_dad=0" 2>/dev/null
ip link set "$tap" up
ip -6 addr add fe80::1/64 dev "$tap"

log="$out/avp-main.log"
start=$(date +%s.%N)
rg_boot "main boot" "$log" timeout -k 5 240 "$avp" run --kernel "$kernel" --initrd "$initrd" \
	--cmdline "console=ttyS0 panic=-1 quiet avp.test=avp-main" \
	--cpus 2 --memory 256 --disk "$work/rw.img" --disk "$work/ro.img,ro" \
	--net "tap=$tap,mac=52:54:00:12:34:56" --rng --console "file:$work/hvc0.log" \
	--timing
end=$(date +%s.%N)
tr -d '\r' <"$log" >"$log.txt"
echo "avp-boot: main boot took $(awk "BEGIN{printf \"%.1f\", $end - $start}") s, avp exit $rc"
sed 's/^/  | /' "$log.txt" | tail -n 60

check_eq "$rc" 0 "guest poweroff ends avp with status 0"
check_grep "$log.txt" '^===== end of devices =====$' "guest reached its init and listed its devices"
check_grep "$log.txt" '^cpus: 2 ' "guest sees 2 CPUs"
check_grep "$log.txt" '^block: vda size=16384 KiB ro=0$' "guest sees the 16 MiB rw disk as vda"
check_grep "$log.txt" '^block: vdb size=4096 KiB ro=1$' "guest sees the 4 MiB ro disk as vdb, read-only"
check_grep "$log.txt" '^virtio: .* device=0x0001 .*driver=virtio_net$' "virtio-net bound"
check_grep "$log.txt" '^virtio: .* device=0x0003 .*driver=virtio_console$' "virtio-console bound"
check_grep "$log.txt" '^virtio: .* device=0x0004 .*driver=virtio_rng$' "virtio-rng bound"
check_grep "$log.txt" 'timing: first vCPU entry at' "--timing reports the first vCPU entry"
check_grep "$log.txt" 'timing: first guest console output at' "--timing reports the first console output"
rg_guest_checks "$log.txt" avp-main
check_grep "$log.txt" '^AVP-GUEST-EXIT=0$' "every guest-side check passed"
check_eq "$(dd if="$work/rw.img" bs=1 skip=512 count=16 status=none)" GUEST-WROTE-THIS \
	"the guest's write to vda is in the host image after poweroff"
check_eq "$(md5sum <"$work/ro.img")" "$ro_sum_before" "the read-only image is unchanged"
check_grep "$work/hvc0.log" 'HVC0-HELLO-FROM-GUEST' "hvc0 output reaches the host file"
rx=$(cat "/sys/class/net/$tap/statistics/rx_packets" 2>/dev/null || echo 0)
if [ "$rx" -gt 0 ]; then ok "host side of the tap received $rx packets from the guest"; else notok "no packets from the guest on $tap"; fi

# --- boot 2: reboot ------------------------------------------------------
log="$out/avp-reboot.log"
rg_boot "reboot boot" "$log" timeout -k 5 180 "$avp" run --kernel "$kernel" --initrd "$initrd" \
	--cmdline "console=ttyS0 panic=-1 quiet avp.test=reboot" --memory 192
tr -d '\r' <"$log" >"$log.txt"
check_grep "$log.txt" '^reboot-test: rebooting' "reboot guest ran its test"
check_eq "$rc" 3 "guest reboot ends avp with status 3"

# --- boot 3: no ACPI -----------------------------------------------------
# With acpi=off Linux learns the CPUs, the I/O APIC and the ISA interrupts
# from the MP table alone (without one it boots a single CPU); it reboots
# through the keyboard controller's reset line.
log="$out/avp-mptable.log"
rg_boot "acpi=off boot" "$log" timeout -k 5 180 "$avp" run --kernel "$kernel" --initrd "$initrd" \
	--cmdline "console=ttyS0 panic=-1 quiet acpi=off reboot=k avp.test=reboot" --cpus 2 --memory 192
tr -d '\r' <"$log" >"$log.txt"
check_grep "$log.txt" '^cpus: 2 ' "acpi=off: the guest brings up both CPUs from the MP table"
check_grep "$log.txt" '^reboot-test: rebooting' "acpi=off: the guest reached its init and ran its test"
check_eq "$rc" 3 "acpi=off: the keyboard controller's reset ends avp with status 3"

finish
