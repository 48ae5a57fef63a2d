#!/bin/bash
# Boot-time benchmark: avp and QEMU (microvm) boot the same reference guest
# with the same devices, alternately, N times each, in the same run. Prints
# per-run and median figures:
#   exit_ms    wall time from starting the VMM to its exit after the guest's
#              poweroff (the guest runs its init, prints its device list and
#              powers off);
#   devices_ms wall time until the guest's "end of devices" line arrives on
#              the host (the guest reached user space and probed devices).
# Absolute numbers inside the nested test host are meaningless for real
# hardware; only the ratio between the two VMMs means something.
#   scripts/testhost bench/boot-time.sh [RUNS]
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:-3}
source bench/lib.sh
bench_setup boot-time
truncate -s 64M "$work/disk.img"
cmdline="console=ttyS0 panic=-1 quiet"

# run_one NAME COMMAND...: prints "exit_ms devices_ms"; the console goes
# to $work/NAME.log, shown when the guest did not get to its device list.
# A guest that died before its init ran is booted again (the boot-retry
# policy, bench/lib.sh): its times are not counted, the retry is said on
# standard error.
run_one() {
	local name=$1 t0 line devices_ms now try st
	shift
	for ((try = 1; ; try++)); do
		: >"$work/$name.log"
		devices_ms=-1 st=
		t0=$(date +%s%N)
		while IFS= read -r line; do
			# the VMM's status, as the last line (not part of the console)
			[[ $line == "AVP-BENCH-STATUS "* ]] && { st=${line#AVP-BENCH-STATUS }; continue; }
			printf '%s\n' "$line" >>"$work/$name.log"
			if [[ $line == *"===== end of devices ====="* ]] && [ "$devices_ms" = -1 ]; then
				now=$(date +%s%N)
				devices_ms=$(((now - t0) / 1000000))
			fi
		done < <(timeout -k 5 300 "$@" </dev/null 2>&1; s=$?; printf '\nAVP-BENCH-STATUS %s\n' "$s")
		now=$(date +%s%N)
		rg_retry_boot "$name" "$work/$name.log" "${st:-0}" "$try" >&2 || break
	done
	[ "$devices_ms" = -1 ] && tail -n 15 "$work/$name.log" | sed "s/^/boot-time: $name: /" >&2
	echo "$(((now - t0) / 1000000)) $devices_ms"
}

avp_cmd=(build/avp run --kernel "$kernel" --initrd "$initrd" --cmdline "$cmdline" --memory 256
	--disk "$work/disk.img" --rng)
qemu_microvm 256 "$cmdline"
qemu_cmd=("${qemu_base[@]}"
	-drive "file=$work/disk.img,if=none,id=d0,format=raw" -device virtio-blk-device,drive=d0
	-device virtio-rng-device)

declare -a avp_exit avp_dev qemu_exit qemu_dev
printf '%-6s %-5s %10s %12s\n' vmm run exit_ms devices_ms
for i in $(seq 1 "$runs"); do
	read -r e d < <(run_one avp "${avp_cmd[@]}")
	avp_exit+=("$e"); avp_dev+=("$d")
	printf '%-6s %-5s %10s %12s\n' avp "$i" "$e" "$d"
	read -r e d < <(run_one qemu "${qemu_cmd[@]}")
	qemu_exit+=("$e"); qemu_dev+=("$d")
	printf '%-6s %-5s %10s %12s\n' qemu "$i" "$e" "$d"
done
ae=$(printf '%s\n' "${avp_exit[@]}" | median); ad=$(printf '%s\n' "${avp_dev[@]}" | median)
qe=$(printf '%s\n' "${qemu_exit[@]}" | median); qd=$(printf '%s\n' "${qemu_dev[@]}" | median)
echo
printf 'median  avp: exit %s ms, devices %s ms | qemu microvm: exit %s ms, devices %s ms\n' "$ae" "$ad" "$qe" "$qd"
awk -v a="$ad" -v q="$qd" 'BEGIN { if (a > 0 && q > 0) printf "ratio avp/qemu (devices_ms): %.2f\n", a / q }'
bench_retries
