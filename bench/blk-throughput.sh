#!/bin/bash
# Block throughput benchmark: avp and QEMU (microvm) run the same reference
# guest, which writes 64 MiB to its virtio-blk disk (dd, ending in fsync),
# drops its page cache and reads them back (tests/guest/blkbench.sh). The
# two VMMs alternate, N runs each, in the same run; the disk image is on
# the test host's tmpfs, so the figures measure the VMM's I/O path, not a
# disk. Prints per-run and median MiB/s and the ratio avp/QEMU.
# Absolute numbers inside the nested test host are meaningless for real
# hardware; only the ratio between the two VMMs means something.
#   scripts/testhost bench/blk-throughput.sh [RUNS]
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:-3}
source bench/lib.sh
bench_setup blk-throughput
cmdline="console=ttyS0 panic=-1 quiet avp.test=blkbench"

# run_one NAME COMMAND...: prints "write_mibs read_mibs" (-1 when the guest
# printed no result; its console is then shown).
run_one() {
	local name=$1 line
	shift
	rm -f "$work/disk.img"
	truncate -s 128M "$work/disk.img"
	bench_boot "$name" "$work/$name.log" timeout -k 5 600 "$@"
	line=$(grep -a '^BLKBENCH ' "$work/$name.log" | tr -d '\r' | tail -n 1)
	if [ -z "$line" ]; then
		tail -n 15 "$work/$name.log" | sed "s/^/blk-throughput: $name: /" >&2
		echo "-1 -1"
		return
	fi
	awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	       w = v["write_cs"] > 0 ? v["mib"] * 100 / v["write_cs"] : -1
	       r = v["read_cs"] > 0 ? v["mib"] * 100 / v["read_cs"] : -1
	       printf "%.1f %.1f\n", w, r }' <<<"$line"
}

avp_cmd=(build/avp run --kernel "$kernel" --initrd "$initrd" --cmdline "$cmdline" --memory 256
	--disk "$work/disk.img")
qemu_microvm 256 "$cmdline"
qemu_cmd=("${qemu_base[@]}"
	-drive "file=$work/disk.img,if=none,id=d0,format=raw" -device virtio-blk-device,drive=d0)

declare -a aw ar qw qr
printf '%-6s %-5s %12s %12s\n' vmm run write_MiB/s read_MiB/s
for i in $(seq 1 "$runs"); do
	read -r w r < <(run_one avp "${avp_cmd[@]}")
	aw+=("$w"); ar+=("$r")
	printf '%-6s %-5s %12s %12s\n' avp "$i" "$w" "$r"
	read -r w r < <(run_one qemu "${qemu_cmd[@]}")
	qw+=("$w"); qr+=("$r")
	printf '%-6s %-5s %12s %12s\n' qemu "$i" "$w" "$r"
done
maw=$(printf '%s\n' "${aw[@]}" | median); mar=$(printf '%s\n' "${ar[@]}" | median)
mqw=$(printf '%s\n' "${qw[@]}" | median); mqr=$(printf '%s\n' "${qr[@]}" | median)
echo
printf 'median  avp: write %s MiB/s, read %s MiB/s | qemu microvm: write %s MiB/s, read %s MiB/s\n' \
	"$maw" "$mar" "$mqw" "$mqr"
awk -v aw="$maw" -v ar="$mar" -v qw="$mqw" -v qr="$mqr" 'BEGIN {
	if (aw > 0 && qw > 0) printf "ratio avp/qemu write: %.2f\n", aw / qw
	if (ar > 0 && qr > 0) printf "ratio avp/qemu read:  %.2f\n", ar / qr }'
bench_retries
