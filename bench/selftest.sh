#!/bin/bash
# scripts/bench's host-side parts against inputs whose answers are known:
# the report (medians, ratio, the JSON's exact shape, a missing figure
# failing the run) and the smaps breakdown (guest RAM left out, thread
# stacks and arenas told apart), and that build/avp is the static-pie
# build docs/footprint.md measures. No guest, no KVM.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source tests/lib/check.sh
t=$(mktemp -d /tmp/avp-bench-selftest.XXXXXX)
trap 'rm -rf "$t"' EXIT

names=$(python3 -c 'import sys; sys.path.insert(0, "bench"); import report; print(" ".join(report.FIGURES))')
for n in $names; do
	for r in 1 2 3; do
		echo "avp $r $n $((r * 10))"
		echo "qemu $r $n $((r * 20))"
	done
done >"$t/raw.txt"
printf 'blk_read_4k 1000\n' >"$t/dp.txt"
python3 bench/report.py --json "$t/f.json" --table "$t/t.md" --date D --commit C --command 'scripts/bench X' \
	--datapath "$t/dp.txt" --skipped 'pci:why not' mmio="$t/raw.txt" >"$t/out" 2>&1
check_eq "$?" 0 "report: every figure present -> exit 0"
python3 - "$t/f.json" >"$t/json.check" 2>&1 <<'PY'
import json, sys
figs = json.load(open(sys.argv[1]))
assert isinstance(figs, list) and figs
for f in figs:
    assert set(f) == {"name", "unit", "higher_is_better", "avp", "qemu", "ratio"}, f
boot = next(f for f in figs if f["name"] == "mmio/boot_ms")
assert boot["avp"] == 20 and boot["qemu"] == 40 and boot["ratio"] == 0.5, boot
assert boot["higher_is_better"] is False
dp = next(f for f in figs if f["name"] == "datapath/blk_read_4k")
assert dp["avp"] == 1000 and dp["qemu"] is None and dp["ratio"] is None, dp
print("json ok")
PY
check_grep "$t/json.check" '^json ok$' "report: JSON has exactly the six keys, medians and ratio avp/QEMU, null without a peer"
check_grep "$t/t.md" '^D, commit C, `scripts/bench X`' "report: the table says date, commit and command"
check_grep "$t/t.md" '\| 20.0 \(10.0-30.0\) \| 40.0 \(20.0-60.0\) \| 0.50 \|' "report: the table shows median and spread"
check_grep "$t/t.md" '^pci: skipped, why not' "report: a skipped transport is said with its reason"

grep -v ' vsock_rr ' "$t/raw.txt" | grep -v '^qemu 1 net_tcp_rr' | grep -v '^qemu 2 net_tcp_rr' | grep -v '^qemu 3 net_tcp_rr' >"$t/raw2.txt"
python3 bench/report.py --json "$t/f2.json" --table "$t/t2.md" --date D --commit C --command X \
	mmio="$t/raw2.txt" >"$t/out2" 2>&1
check_eq "$?" 1 "report: a figure missing -> exit 1"
check_grep "$t/out2" 'avp mmio/vsock_rr.*qemu mmio/net_tcp_rr|qemu mmio/net_tcp_rr.*avp mmio/vsock_rr' "report: the missing figures are named"

# The verdict: overlapping ranges, better (with and without the 1.2x
# goal, for a lower-is-better and a higher-is-better figure), worse, and
# no verdict from fewer than 3 rounds.
check_grep "$t/t.md" 'iperf3 guest to host \(mmio\) .*\| 0.50 \| within the spread \|$' "report verdict: overlapping ranges"
{
	for r in 1 2 3; do
		echo "avp $r boot_ms $((10 + r))"; echo "qemu $r boot_ms $((20 + r))"
		echo "avp $r blk_randread_4k_qd32 $((100 + r))"; echo "qemu $r blk_randread_4k_qd32 $((90 + r))"
		echo "avp $r net_tcp_g2h $((10 + r))"; echo "qemu $r net_tcp_g2h $((20 + r))"
	done
	echo "avp 1 net_tcp_rr 5"; echo "qemu 1 net_tcp_rr 50"
} >"$t/raw4.txt"
python3 bench/report.py --json "$t/f4.json" --table "$t/t4.md" --date D --commit C --command X \
	mmio="$t/raw4.txt" >/dev/null 2>&1
check_grep "$t/t4.md" 'launch to the guest.s init \(mmio\) .*\| 0.55 \| better, 1.2x \|$' "report verdict: apart and 1.2x better (lower is better)"
check_grep "$t/t4.md" 'random read, iodepth 32 \(mmio\) .*\| 1.11 \| better \|$' "report verdict: apart, better but short of 1.2x"
check_grep "$t/t4.md" 'iperf3 guest to host \(mmio\) .*\| 0.55 \| worse \|$' "report verdict: apart and worse"
check_grep "$t/t4.md" 'round trip \(median\) \(mmio\) .*\| 0.10 \| - \|$' "report verdict: none from one round"

# QEMU with vhost-net: an extra row per network figure, for information,
# and optional (no /dev/vhost-net, no rows, no failure).
{ cat "$t/raw.txt"; for r in 1 2 3; do echo "qemu-vhost $r net_tcp_g2h $((r * 40))"; done; } >"$t/raw3.txt"
python3 bench/report.py --json "$t/f3.json" --table "$t/t3.md" --date D --commit C --command X \
	mmio="$t/raw3.txt" >"$t/out3" 2>&1
check_eq "$?" 0 "report: vhost-net figures for one network figure only -> still exit 0"
check_grep "$t/t3.md" 'iperf3 guest to host, QEMU with vhost-net, for information \(mmio\) \| Mbit/s \| higher \| 20.0 \| 80.0 \(40.0-120\) \| 0.25 \|' "report: the vhost-net row shows avp's median against vhost-net's"
python3 -c 'import json, sys; f = [x for x in json.load(open(sys.argv[1])) if x["name"] == "mmio/net_tcp_g2h_vs_vhost_net"]; assert len(f) == 1 and f[0]["qemu"] == 80 and f[0]["ratio"] == 0.25, f; print("vhost ok")' "$t/f3.json" >"$t/json3.check" 2>&1
check_grep "$t/json3.check" '^vhost ok$' "report: the JSON has the vhost-net figure with its ratio"
check_eq "$(grep -c 'vhost-net' "$t/t.md")" 0 "report: no vhost-net rows without vhost-net figures"

# A made-up VMM: its binary, libc, a 256 MiB guest RAM mapping, a thread
# stack after its guard page, a glibc arena (64 MiB aligned, the rest of
# the reservation no-access), the heap and the main stack.
map() { printf '%s %s 00000000 00:00 0 %s\nSize: 0 kB\nRss: %d kB\n' "$1" "$2" "${4:-}" "$3"; }
{
	map 555555554000-555555600000 r-xp 300 /usr/bin/avp
	map 555555600000-555555700000 rw-p 100 '[heap]'
	map 7f0000000000-7f0010000000 rw-p 262144
	map 7f0014000000-7f0014021000 rw-p 40
	map 7f0014021000-7f0018000000 ---p 0
	map 7f0020000000-7f0020001000 ---p 0
	map 7f0020001000-7f0020801000 rw-p 16
	map 7f0030000000-7f0030200000 r-xp 700 /usr/lib/x86_64-linux-gnu/libc.so.6
	map 7ffc00000000-7ffc00021000 rw-p 24 '[stack]'
} >"$t/smaps"
check_eq "$(python3 bench/smaps.py --rss-outside 256 "$t/smaps")" 1180 "smaps: RSS outside guest RAM leaves the 256 MiB mapping out"
python3 bench/smaps.py --breakdown 256 "$t/smaps" >"$t/bd"
check_grep "$t/bd" '^\| thread stacks \| 1 \| 16 \|$' "smaps: a thread stack is told by its guard page"
check_grep "$t/bd" '^\| glibc malloc arenas \| 1 \| 40 \|$' "smaps: a glibc arena is told by its 64 MiB reservation"
check_grep "$t/bd" '^\| shared libraries \| 1 \| 700 \|$' "smaps: shared libraries"
check_grep "$t/bd" '^\| the binary \(avp\) \| 1 \| 300 \|$' "smaps: the binary"
# The data-path program builds, every request completes, and callgrind
# gives a figure for each data path.
if make -j2 datapath >"$t/make.log" 2>&1; then
	ok "datapath: builds (make datapath)"
	check_eq "$(build/bench/datapath | grep -c '^DATAPATH ')" 5 "datapath: every workload's requests completed"
	if command -v valgrind >/dev/null; then
		bench/datapath.sh "$t/dp" >"$t/dp.txt" 2>&1
		check_eq "$(grep -cE '^[a-z0-9_]+ [1-9][0-9]*$' "$t/dp.txt")" 5 "datapath: instructions per request for each workload"
	else
		skip "datapath: no valgrind (scripts/setup installs it)"
	fi
else
	notok "datapath: make datapath failed: $(tail -n 3 "$t/make.log")"
fi

# The footprint's main lever (docs/footprint.md): the default build/avp is
# static-pie, with no loader and no shared library to map. The RSS itself
# is not checked here: it depends on the file system's folio sizes and on
# fault-around, so a limit on it would not be deterministic.
if make -j2 all >"$t/make.log" 2>&1; then
	readelf -lW build/avp >"$t/phdr" 2>&1
	readelf -dW build/avp >"$t/dyn" 2>&1
	check_eq "$(grep -c 'INTERP' "$t/phdr")" 0 "footprint: build/avp has no program interpreter (statically linked)"
	check_eq "$(grep -c '(NEEDED)' "$t/dyn")" 0 "footprint: build/avp needs no shared library"
	check_grep "$t/phdr" '^Elf file type is DYN' "footprint: build/avp is position-independent (static-pie: ASLR kept)"
else
	notok "footprint: make failed: $(tail -n 3 "$t/make.log")"
fi
# scripts/bench --profile's summary (bench/profile-summary.py): a perf
# report whose shares are known, with a command name that has spaces.
cat >"$t/report.txt" <<'R'
# Samples: 3K of event 'cpu-clock'
# Overhead  Command          Shared Object
# ........  ...............  ....................
     4.00%  vcpu0            [kvm_amd]
    10.00%  vcpu1            [kvm]
     5.00%  avp-net          avp
     2.50%  avp-net          libc.so.6
    10.00%  avp-net          [kernel.kallsyms]
     2.50%  iou-wrk-123      [kernel.kallsyms]
    20.00%  swapper          [kernel.kallsyms]
     8.00%  iperf3           [kernel.kallsyms]
     4.00%  CPU 0/KVM        [kvm]
     8.00%  perf             perf
R
check_eq "$(python3 bench/profile-summary.py avp net_tcp_h2g <"$t/report.txt")" \
	"| net_tcp_h2g | avp | 3000 | 26 | 18 | 8 | 12 | 8 | 20 | 8 |" \
	"profile summary: each thread and object in its class, the guest the rest of 100 %"
printf '# nothing\n' | python3 bench/profile-summary.py avp x >/dev/null 2>&1
check_eq "$?" 1 "profile summary: a report without samples is an error"

# Boot counters side by side (bench/kvmstat.py): medians over the rounds,
# the largest difference first, gauges left out, QEMU with vhost-net not
# mixed in.
mkdir -p "$t/ks"
printf 'exits 100\nio_exits 10\npf_fixed 50\npages_4k 9999\n' >"$t/ks/avp-io-1.kvmstat"
printf 'exits 300\nio_exits 30\npf_fixed 70\npages_4k 9999\n' >"$t/ks/avp-io-2.kvmstat"
printf 'exits 140\nio_exits 20\npf_fixed 20\npages_4k 1\n' >"$t/ks/avp-io-3.kvmstat"
printf 'exits 100\nio_exits 40\npf_fixed 20\n' >"$t/ks/qemu-io-1.kvmstat"
printf 'exits 1\n' >"$t/ks/qemu-vhost-io-1.kvmstat"
check_eq "$(python3 bench/kvmstat.py "$t/ks" | grep -v '^| counter' | grep '^| [a-z]' | tr '\n' ' ')" \
	"| exits | 140 | 100 | +40 | 1.40 | | pf_fixed | 50 | 20 | +30 | 2.50 | | io_exits | 20 | 40 | -20 | 0.50 | " \
	"boot counters: medians side by side, largest difference first"
rm "$t"/ks/qemu-io-1.kvmstat
python3 bench/kvmstat.py "$t/ks" >/dev/null 2>&1
check_eq "$?" 1 "boot counters: no QEMU snapshot is an error"

finish
