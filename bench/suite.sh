#!/bin/bash
# The measuring half of scripts/bench, run where /dev/kvm is (the test
# host): avp and QEMU alternate, round after round, on the same guest.
# Each round and VMM boots two VMs:
#   io:     2 vCPUs, 512 MiB, the bench root disk (ro), a raw data disk on
#           tmpfs, a NIC on a tap, vsock, rng; launch -> the guest's init
#           line (boot_ms) and KVM's exit count for the VM at that moment
#           (debugfs; all its counters in OUT/VMM-io-R.kvmstat), then the
#           guest's fio, iperf3, benchnet figures (bench/guest/bench.sh);
#           QEMU's network figures also with
#           vhost-net ("qemu-vhost": the kernel's data path, for
#           information beside the user-space peer; network jobs only);
#   memory: 1 vCPU, 256 MiB, a disk, a NIC, rng, idle after boot: the
#           VMM's RSS outside the guest RAM mapping (bench/smaps.py), its
#           smaps kept for docs/footprint.md; also for build/dynamic/avp
#           when it exists (AVP_BENCH_DYNAMIC=1 scripts/bench).
# Writes OUT/raw.txt, one "VMM ROUND NAME VALUE" line per figure.
# AVP_BENCH_PROFILE=1 (scripts/bench --profile): after the rounds, one more
# io run per VMM, its figures not recorded, sampled job by job with
# perf (OUT/perf-VMM.data, OUT/jobs-VMM.txt; profile_io below).
#   bench/suite.sh OUT ROUNDS quick|full TRANSPORT ROOT_IMG INITRD
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=$1 rounds=$2 mode=$3 transport=$4 rootimg=$5
source bench/lib.sh
bench_setup bench
# the reference initramfs with the bench archive after it
initrd=$6
source tests/lib/netbulk.sh
tap=avpbench0
mac=52:54:00:12:34:5b
trap 'kill $(jobs -p) 2>/dev/null; [ -f "$work/iperf.pid" ] && kill "$(cat "$work/iperf.pid")"; ip link del "$tap" 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$out"
: >"$out/raw.txt"
record() { echo "$1 $2 $3 $4" >>"$out/raw.txt"; echo "bench: $1 round $2: $3 = $4"; }

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
modprobe vhost_vsock 2>/dev/null
modprobe vhost_net 2>/dev/null
[ -c /dev/vhost-net ] || echo "bench: no /dev/vhost-net: QEMU's vhost-net figures will be missing" >&2
nb_tap "$tap" || { echo "bench: cannot create tap $tap" >&2; exit 1; }
gcc -O2 -Wall -o "$work/benchnet" bench/benchnet.c || exit 1
iperf3 -s -D -p 5201 --pidfile "$work/iperf.pid" || { echo "bench: iperf3 -s failed" >&2; exit 1; }
"$work/benchnet" serve tcp 5202 &
"$work/benchnet" serve unix "$work/vsock.sock_5203" &
if [ -c /dev/vhost-vsock ]; then
	"$work/benchnet" serve vsock 5203 &
else
	echo "bench: no /dev/vhost-vsock: QEMU's vsock figures will be missing" >&2
fi

if [ "$mode" = quick ]; then datasize=48M; else datasize=256M; fi
cmdline="console=ttyS0 panic=-1 quiet avp.test=bench avp.bench=$mode"
idle_cmdline="console=ttyS0 panic=-1 quiet avp.test=idle"
qemu_machine=(-M microvm,acpi=on) dsuf=device
if [ "$transport" = pci ]; then
	qemu_machine=(-M q35) dsuf=pci
fi
avp_transport=()
[ "$transport" = pci ] && avp_transport=(--transport pci)

# vm_cmd VMM io|memory: sets cmd.
vm_cmd() {
	local vmm=$1 kind=$2 cpus=2 mem=512 cl=$cmdline vhost=
	[ "$kind" = memory ] && cpus=1 mem=256 cl=$idle_cmdline
	[ "$vmm" = qemu-vhost ] && cl+=" avp.bench.only=net" vhost=,vhost=on
	if [ "$vmm" = avp ] || [ "$vmm" = avp-dynamic ]; then
		cmd=("build/${vmm/avp-dynamic/dynamic/avp}" run "${avp_transport[@]}" --kernel "$kernel" --initrd "$initrd" --cmdline "$cl"
			--cpus "$cpus" --memory "$mem")
		[ "$kind" = io ] && cmd+=(--disk "$rootimg,ro")
		cmd+=(--disk "$work/data.img" --net "tap=$tap,mac=$mac")
		[ "$kind" = io ] && cmd+=(--vsock "cid=3,socket=$work/vsock.sock")
		cmd+=(--rng)
	else
		cmd=(qemu-system-x86_64 -enable-kvm "${qemu_machine[@]}" -cpu host -m "$mem" -smp "$cpus"
			-nodefaults -no-user-config -nographic -serial stdio -no-reboot
			-kernel "$kernel" -initrd "$initrd" -append "$cl")
		[ "$kind" = io ] && cmd+=(-drive "file=$rootimg,if=none,id=r,format=raw,readonly=on,file.locking=off"
			-device "virtio-blk-$dsuf,drive=r")
		cmd+=(-drive "file=$work/data.img,if=none,id=d,format=raw,aio=io_uring"
			-device "virtio-blk-$dsuf,drive=d"
			-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no$vhost" -device "virtio-net-$dsuf,netdev=n0,mac=$mac")
		[ "$kind" = io ] && [ -c /dev/vhost-vsock ] && cmd+=(-device "vhost-vsock-$dsuf,guest-cid=3")
		cmd+=(-device "virtio-rng-$dsuf")
	fi
}

# start_vm NAME LOG LIMIT_S: starts cmd in the background under the
# boot-retry policy and waits for the guest's init line. Sets pid, boot_ms
# and exits (KVM's exit count for the VM when the line came; -1 if
# debugfs has none). Returns 1 when no attempt got there.
start_vm() {
	local name=$1 log=$2 limit=$3 try t0 end d
	for ((try = 1; ; try++)); do
		: >"$log"
		t0=$(date +%s%N)
		"${cmd[@]}" </dev/null >"$log" 2>&1 &
		pid=$!
		end=$((SECONDS + limit))
		while ! grep -aqF "$RG_INIT_LINE" "$log"; do
			kill -0 "$pid" 2>/dev/null || break
			[ "$SECONDS" -lt "$end" ] || { kill -9 "$pid"; wait "$pid" 2>/dev/null; return 1; }
			sleep 0.02
		done
		if grep -aqF "$RG_INIT_LINE" "$log"; then
			boot_ms=$((($(date +%s%N) - t0) / 1000000))
			exits=-1
			for d in /sys/kernel/debug/kvm/"$pid"-*; do
				[ -r "$d/exits" ] || continue
				exits=$(cat "$d/exits")
				# Every counter of the VM (exits by kind, page faults,
				# emulated instructions...) beside it: what the exit
				# counts of avp and QEMU differ in (bench/kvmstat.py).
				for f in "$d"/*; do [ -f "$f" ] && echo "${f##*/} $(cat "$f" 2>/dev/null)"; done >"${log%.log}.kvmstat"
			done
			return 0
		fi
		wait "$pid"
		rg_retry_boot "$name" "$log" "$?" "$try" || return 1
	done
}

# wait_vm LIMIT_S: waits for pid to end, killing it after LIMIT_S.
wait_vm() {
	local end=$((SECONDS + $1))
	while kill -0 "$pid" 2>/dev/null; do
		[ "$SECONDS" -lt "$end" ] || { echo "bench: VM $pid still running after $1 s: killed" >&2; kill -9 "$pid"; break; }
		sleep 0.2
	done
	wait "$pid" 2>/dev/null
}

run_io() {
	local vmm=$1 r=$2 log=$out/$1-io-$2.log
	rm -f "$work/data.img"
	truncate -s "$datasize" "$work/data.img"
	vm_cmd "$vmm" io
	if ! start_vm "$vmm-io" "$log" 400; then
		echo "bench: $vmm round $r: the guest did not reach its init" >&2
		return
	fi
	record "$vmm" "$r" boot_ms "$boot_ms"
	[ "$exits" != -1 ] && record "$vmm" "$r" boot_exits "$exits"
	wait_vm 1200
	tr -d '\r' <"$log" | awk '$1 == "BENCH" { print $2, $3 }' | while read -r n v; do
		record "$vmm" "$r" "$n" "$v"
	done
	grep -a '^bench: ' "$log" | tr -d '\r' | sed "s/^/bench: $vmm round $r guest: /" >&2
}

run_memory() {
	local vmm=$1 r=$2 log=$out/$1-memory-$2.log i kib
	rm -f "$work/data.img"
	truncate -s 64M "$work/data.img"
	vm_cmd "$vmm" memory
	if ! start_vm "$vmm-memory" "$log" 400; then
		echo "bench: $vmm round $r: the memory guest did not reach its init" >&2
		return
	fi
	for ((i = 0; i < 600; i++)); do
		grep -aq 'idle-test: up' "$log" && break
		sleep 0.1
	done
	# idle: let the boot's transient allocations settle
	sleep 3
	cp "/proc/$pid/smaps" "$out/smaps-$vmm-$r.txt"
	kill "$pid"
	wait_vm 20
	kib=$(python3 bench/smaps.py --rss-outside 256 "$out/smaps-$vmm-$r.txt") || return
	if [ "$vmm" = avp-dynamic ]; then
		record avp "$r" memory_rss_outside_ram_dynamic "$kib"
	else
		record "$vmm" "$r" memory_rss_outside_ram "$kib"
	fi
}

# profile_io VMM: one more io run, not counted, with the whole test host
# sampled all along (perf record -a -g, cpu-clock: TCG has no PMU; sample
# times on CLOCK_MONOTONIC), and the moment each "bench: job" line of the
# guest came noted in OUT/jobs-VMM.txt ("NAME START_S", then "done END_S"),
# so every job gets its own profile: which program, thread and function the
# test host's CPUs were in. Time in the guest shows as the vCPU threads in
# KVM's run loop. No build-ids (reading every binary over 9p takes
# minutes): bench/profile-report.sh reports outside, where the binaries
# are the same files, with this kernel's symbols from OUT/kallsyms.
profile_io() {
	local vmm=$1 log=$out/$1-profile.log jobs=$out/jobs-$1.txt ppid= line up
	# perf ends on SIGINT, writing its file, once its handler is in
	# place; until then (it starts slowly here) the signal is ignored, as
	# for any background job of a script: so ask again until it is gone.
	stop_perf() {
		local i=0
		[ -n "$ppid" ] || return 0
		while kill -0 "$ppid" 2>/dev/null && ((i++ < 120)); do
			kill -INT "$ppid" 2>/dev/null
			sleep 0.5
		done
		kill -9 "$ppid" 2>/dev/null
		wait "$ppid" 2>/dev/null
		ppid=
	}
	cat /proc/kallsyms >"$out/kallsyms"
	: >"$jobs"
	rm -f "$work/data.img"
	truncate -s "$datasize" "$work/data.img"
	vm_cmd "$vmm" io
	perf record -q -B -a -g -k monotonic -e cpu-clock -F 199 -o "$work/perf-$vmm.data" >/dev/null 2>&1 &
	ppid=$!
	if ! start_vm "$vmm-profile" "$log" 400; then
		echo "bench: $vmm profile: the guest did not reach its init" >&2
		stop_perf
		return
	fi
	# One tail follows the console until the VMM ends; bash's read and a
	# redirection from /proc/uptime add no process per line, so the
	# samples show the job rather than this loop. /proc/uptime is
	# CLOCK_BOOTTIME: CLOCK_MONOTONIC on a host that never sleeps.
	while IFS= read -r line; do
		line=${line%$'\r'}
		case $line in
		"bench: job "*) read -r up _ </proc/uptime; echo "${line#bench: job } $up" >>"$jobs" ;;
		"bench: done") read -r up _ </proc/uptime; echo "done $up" >>"$jobs" ;;
		esac
	done < <(timeout 1200 tail -n +1 -s 0.2 --pid="$pid" -f "$log")
	wait_vm 10
	stop_perf
	mv "$work/perf-$vmm.data" "$out/perf-$vmm.data"
	echo "bench: $vmm profile: $(grep -vc '^done' "$jobs") jobs sampled"
}

for r in $(seq 1 "$rounds"); do
	for vmm in avp qemu; do
		run_io "$vmm" "$r"
		run_memory "$vmm" "$r"
	done
	[ -c /dev/vhost-net ] && run_io qemu-vhost "$r"
	# The dynamic build too, where scripts/bench made one (docs/footprint.md)
	[ -x build/dynamic/avp ] && run_memory avp-dynamic "$r"
done
if [ "${AVP_BENCH_PROFILE:-0}" = 1 ]; then
	if command -v perf >/dev/null; then
		for vmm in avp qemu; do profile_io "$vmm"; done
	else
		echo "bench: no perf here: the profiles were skipped" >&2
	fi
fi
echo "bench: $(wc -l <"$out/raw.txt") figures in $out/raw.txt"
bench_retries
