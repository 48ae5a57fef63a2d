#!/bin/bash
# Inside the arm64 test host (scripts/testhost --arch arm64): avp's arm64
# platform with a real guest (issue 14). build/arm64/avp (make ARCH=arm64)
# boots the arm64 reference guest (scripts/mkguest --arch arm64) with two
# vCPUs, a virtio-mmio disk and rng, to its init line and device summary,
# and the guest powers off through PSCI (status 0); a guest reboot ends
# avp with 3; the control socket's shutdown presses the PL061 power button
# and gpio-keys' KEY_POWER powers the guest off; --dump-dtb writes a
# device tree; each virtio device interrupts through an irqfd (-vv); bad input (an x86 bzImage, too little memory) gives one line
# and status 1. In a test host without a GICv3 (scripts/testhost
# --gic-version 2) the one check is avp's refusal, one line and status 1.
# Prints ok/not ok lines and, for issue 14's comparison with QEMU's virt
# (tests/testhost/arm64-virt.sh measures the same for QEMU):
#   arm64-avp: time - launch to guest init S s, to power-off S s; avp RSS at init N KiB, N KiB outside guest RAM
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh
source tests/lib/arm64.sh

arm64_setup
check_eq "$([[ -c /dev/kvm ]] && echo yes)" yes "/dev/kvm exists"
intc=$(cat /proc/device-tree/intc@*/compatible 2>/dev/null | tr '\0' ' ')
echo "$CHECK_PREFIX: info - test host interrupt controller: $intc"

out=build/testhost/out/arm64-avp
mkdir -p "$out"
tmp=$(mktemp -d /tmp/arm64-avp.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mem=256

# run_avp NAME TIMEOUT ARGS...: avp with its console in $out/NAME.log; sets
# rc, and t_init/rss/rss_out when the guest's init line appeared.
run_avp() {
	local name=$1 limit=$2 log
	shift 2
	# The console goes to the test host's own disk, not the 9p share: a
	# write per byte there made the first boot take minutes. Copied after.
	log=$tmp/$name.log
	t0=$(date +%s.%N) t_init='' rss='' rss_out=''
	"$avp" run "$@" </dev/null >"$log" 2>&1 &
	local pid=$! deadline=$((SECONDS + limit))
	while kill -0 "$pid" 2>/dev/null; do
		if ((SECONDS >= deadline)); then
			kill -KILL "$pid" 2>/dev/null
			echo "$CHECK_PREFIX: $name: avp still running after $limit s; killed"
			break
		fi
		if [[ -z "$t_init" ]] && grep -aq 'avp-guest: init started' "$log"; then
			t_init=$(date +%s.%N)
			rss=$(awk '/^VmRSS/ {print $2}' /proc/$pid/status 2>/dev/null)
			# Guest RAM is the one anonymous mapping of exactly --memory.
			rss_out=$(awk -v ram=$((mem * 1024)) '
				/^Size:/ { size = $2 } /^Rss:/ { total += $2; if (size == ram) guest += $2 }
				END { print total - guest }' /proc/$pid/smaps 2>/dev/null)
		fi
		[[ -n "${on_up:-}" ]] && grep -aq "$on_up_after" "$log" && { "$on_up"; on_up=''; }
		sleep 0.1
	done
	wait "$pid"
	rc=$?
	t1=$(date +%s.%N)
	cp "$log" "$out/$name.log"
}

if [[ "$intc" != *gic-v3* ]]; then
	# A GICv2 host: avp's arm64 platform needs a GICv3 and says so.
	"$avp" run --kernel "$kernel" --initrd "$initrd" --memory $mem >"$tmp/out" 2>"$tmp/err"
	check_eq "$?" 1 "no GICv3 on this host: avp ends with status 1"
	check_eq "$(wc -l <"$tmp/err")" 1 "... with one line: $(cat "$tmp/err")"
	check_grep "$tmp/err" 'no GICv3' "... saying the host has no GICv3"
	check_grep "$tmp/err" 'run avp on a host with a GICv3.*gic-version=3' "... and the fix"
	finish
	exit
fi

# Bad input: one line, status 1, before anything runs.
{ head -c 514 /dev/zero; printf HdrS; head -c 2048 /dev/zero; } >"$tmp/bzImage"
"$avp" run --kernel "$tmp/bzImage" --memory $mem >"$tmp/out" 2>"$tmp/err"
check_eq "$?" 1 "an x86 bzImage: status 1"
check_eq "$(wc -l <"$tmp/err")" 1 "... one line: $(cat "$tmp/err")"
check_grep "$tmp/err" 'x86 bzImage, not an arm64 kernel' "... naming the format"
"$avp" run --kernel "$kernel" --initrd "$initrd" --memory 32 >"$tmp/out" 2>"$tmp/err"
check_eq "$?" 1 "--memory 32 (the least avp takes) for Debian's kernel and the initrd: status 1"
check_eq "$(wc -l <"$tmp/err")" 1 "... one line: $(cat "$tmp/err")"
check_grep "$tmp/err" 'give the VM more memory' "... saying what to do"

truncate -s 16M "$tmp/disk.img"
"$avp" run --kernel "$kernel" --initrd "$initrd" --memory $mem --disk "$tmp/disk.img" \
	--rng --dump-dtb "$tmp/avp.dtb" 2>"$tmp/err"
check_eq "$?" 0 "--dump-dtb: status 0 $(cat "$tmp/err")"
check_eq "$(od -An -tx1 -N4 "$tmp/avp.dtb" 2>/dev/null | tr -d ' ')" d00dfeed \
	"--dump-dtb: the file is a flattened device tree (magic d00dfeed)"

# The boot: init line, devices found, PSCI SYSTEM_OFF -> 0.
run_avp boot 600 --kernel "$kernel" --initrd "$initrd" --cpus 2 --memory $mem \
	--cmdline "console=ttyAMA0 panic=-1" --disk "$tmp/disk.img" --rng --timing -vv
log=$out/boot.log
check_eq "$rc" 0 "the guest booted and powered off: avp status 0 (log: $log)"
check_grep "$log" 'avp-guest: init started' "the guest's init ran"
check_grep "$log" '^cpus: 2' "the guest runs on 2 vCPUs (the second started with PSCI CPU_ON)"
check_grep "$log" '^memory: 1[5-9][0-9] MiB|^memory: 2[0-5][0-9] MiB' "the guest has its RAM (the device tree's memory node)"
check_grep "$log" '^block: vda size=16384 KiB' "the guest found the virtio-mmio disk"
check_grep "$log" 'device=0x0002 .*driver=virtio_blk' "virtio_blk bound to it"
check_grep "$log" '^hwrng: present' "the guest found the virtio-mmio rng"
check_grep "$log" 'ttyAMA0 at MMIO 0x9000000' "the PL011 is the console (amba-pl011)"
check_grep "$log" 'rtc-pl031 9010000.rtc: registered as rtc0' "the PL031 RTC is registered"
check_grep "$log" 'GICv3: [0-9]+ SPIs implemented' "the guest drives the GICv3"
check_grep "$log" '===== end of devices =====' "the device summary ended"
check_grep "$log" 'timing: first guest console output' "--timing saw the first console output"
# KVM takes an irqfd only once the vGIC is initialised (after the last
# vCPU): avp assigns the devices' irqfds then, and -vv says how each
# device interrupts.
check_grep "$log" 'virtio-blk: interrupts on gsi [0-9]+ through an irqfd' "the disk interrupts through an irqfd"
check_grep "$log" 'virtio-rng: interrupts on gsi [0-9]+ through an irqfd' "the rng interrupts through an irqfd"
check_eq "$(grep -c 'no irqfd' "$log")" 0 "KVM refused no irqfd $(grep -m1 'no irqfd' "$log")"
if [[ -n "$t_init" ]]; then
	echo "$CHECK_PREFIX: time - launch to guest init $(awk "BEGIN{printf \"%.1f\", $t_init - $t0}") s, to power-off $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s; avp RSS at init ${rss:-?} KiB, ${rss_out:-?} KiB outside guest RAM"
else
	tail -n 30 "$log" | sed 's/^/#   /'
fi

# A guest reboot ends avp with 3 (PSCI SYSTEM_RESET).
# quiet from here: each console byte is a trap to avp in an emulated host.
run_avp reboot 300 --kernel "$kernel" --initrd "$initrd" --memory $mem \
	--cmdline "console=ttyAMA0 panic=-1 quiet avp.test=reboot"
check_eq "$rc" 3 "a guest reboot ends avp with status 3 (log: $out/reboot.log)"
check_grep "$out/reboot.log" 'reboot-test: rebooting' "... after the guest asked for it"

# The control socket's shutdown: the PL061 line under gpio-keys, KEY_POWER.
sock=$tmp/api.sock
press() { "$avp" api --api-sock "$sock" shutdown >"$tmp/api.out" 2>&1; }
on_up=press on_up_after='idle-test: up'
run_avp button 300 --kernel "$kernel" --initrd "$initrd" --memory $mem --api-sock "$sock" \
	--cmdline "console=ttyAMA0 panic=-1 quiet avp.test=idle"
on_up=''
check_eq "$rc" 0 "shutdown through the control socket: the guest powered off, status 0 (log: $out/button.log; api: $(cat "$tmp/api.out" 2>/dev/null))"
check_grep "$out/button.log" 'powerbtn: power button pressed' "the guest saw KEY_POWER from gpio-keys on the PL061"
finish
