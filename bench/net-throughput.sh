#!/bin/bash
# Network throughput benchmark: avp and QEMU (microvm, userspace
# virtio-net, no vhost) run the same reference guest, which moves MIB MiB
# over TCP to the host and MIB MiB back (tests/guest/net-offload.sh and
# net_bulk.c: link-local IPv6 on a tap, every byte checked, offloads as
# each VMM negotiates them). The two VMMs alternate, N runs each, in the
# same run. Prints per-run and median MiB/s each way and the ratio
# avp/QEMU. Absolute numbers inside the nested test host are meaningless
# for real hardware; only the ratio between the two VMMs means something.
#   scripts/testhost --smp 2 --memory 3072 bench/net-throughput.sh [RUNS [MIB]]
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:-3}
mib=${2:-32}
source bench/lib.sh
source tests/lib/netbulk.sh
bench_setup net-throughput
tap=avpbn0
trap 'ip link del "$tap" 2>/dev/null; rm -rf "$work"' EXIT
nb_build "$work" || { echo "net-throughput: cannot build net_bulk" >&2; exit 1; }
nb_tap "$tap" || { echo "net-throughput: cannot create tap $tap" >&2; exit 1; }
cmdline="console=ttyS0 panic=-1 quiet avp.test=net-offload avp.mib=$mib"
mac=52:54:00:12:34:59

# run_one NAME COMMAND...: prints "g2h_mibs h2g_mibs" (-1 -1 when the
# transfer failed; the guest's and the host's output are then shown).
run_one() {
	local name=$1 line
	shift
	nb_serve "$tap" "$work/$name.host.log"
	# (a guest that died in boot never reached the server: it waits on)
	bench_boot "$name" "$work/$name.log" timeout -k 5 600 "$@"
	kill "$nb_pid" 2>/dev/null
	wait "$nb_pid" 2>/dev/null
	# Kept for a failed run's post-mortem (the scratch directory goes).
	mkdir -p build/testhost/out
	tr -d '\r' <"$work/$name.log" >"build/testhost/out/net-throughput-$name.log"
	line=$(grep -a '^NET_BULK ' "$work/$name.log" | tr -d '\r' | tail -n 1)
	if [ -z "$line" ] || grep -aq '^net-offload: not ok' "$work/$name.log"; then
		grep -a 'net-offload\|net_bulk' "$work/$name.log" | tail -n 15 | sed "s/^/net-throughput: $name: /" >&2
		sed "s/^/net-throughput: $name host: /" "$work/$name.host.log" >&2
		[ -n "$line" ] || { echo "-1 -1"; return; }
	fi
	awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	       g = v["g2h_ms"] > 0 ? v["mib"] * 1000 / v["g2h_ms"] : -1
	       h = v["h2g_ms"] > 0 ? v["mib"] * 1000 / v["h2g_ms"] : -1
	       printf "%.1f %.1f %s %s\n", g, h, v["tx_avg"], v["rx_avg"] }' <<<"$line"
}

avp_cmd=(build/avp run --kernel "$kernel" --initrd "$initrd" --cmdline "$cmdline" --memory 256
	--net "tap=$tap,mac=$mac")
qemu_microvm 256 "$cmdline"
qemu_cmd=("${qemu_base[@]}"
	-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" -device "virtio-net-device,netdev=n0,mac=$mac")

declare -a ag ah qg qh
printf '%-6s %-5s %14s %14s %16s\n' vmm run guest-\>host host-\>guest avg_frame_out/in
for i in $(seq 1 "$runs"); do
	read -r g h fo fin < <(run_one avp "${avp_cmd[@]}")
	ag+=("$g"); ah+=("$h")
	printf '%-6s %-5s %14s %14s %16s\n' avp "$i" "$g" "$h" "$fo/$fin"
	read -r g h fo fin < <(run_one qemu "${qemu_cmd[@]}")
	qg+=("$g"); qh+=("$h")
	printf '%-6s %-5s %14s %14s %16s\n' qemu "$i" "$g" "$h" "$fo/$fin"
done
# Medians of the runs that worked (-1: a failed run, shown above).
ok_median() { printf '%s\n' "$@" | grep -v '^-1$' | median; }
mag=$(ok_median "${ag[@]}"); mah=$(ok_median "${ah[@]}")
mqg=$(ok_median "${qg[@]}"); mqh=$(ok_median "${qh[@]}")
echo
printf 'median MiB/s  avp: guest->host %s, host->guest %s | qemu microvm: guest->host %s, host->guest %s\n' \
	"$mag" "$mah" "$mqg" "$mqh"
awk -v ag="$mag" -v ah="$mah" -v qg="$mqg" -v qh="$mqh" 'BEGIN {
	if (ag > 0 && qg > 0) printf "ratio avp/qemu guest->host: %.2f\n", ag / qg
	if (ah > 0 && qh > 0) printf "ratio avp/qemu host->guest: %.2f\n", ah / qh }'
bench_retries
