#!/usr/bin/env python3
"""What avp's and QEMU's boots differ in, counter by counter.

bench/suite.sh snapshots every KVM counter of the benchmark VM (the test
host's debugfs, /sys/kernel/debug/kvm/PID-FD/) when the guest's init line
comes: OUT/VMM-io-R.kvmstat, one "NAME VALUE" line per counter. The
"boot exits" figure is one of them; this prints all of them as a Markdown
table, the median over the rounds per VMM, largest difference first, so
the exits that make the difference are named (halts, I/O, MMIO, page
faults under shadow paging, emulated instructions...).

    bench/kvmstat.py OUT            the table on standard output
Exit status 1 when OUT holds no snapshot of avp or of QEMU.
"""
import glob
import os
import re
import statistics
import sys

# Counters that are not event counts (sizes, gauges, flags): left out.
NOT_COUNTS = {"pages_4k", "pages_2m", "pages_1g", "nx_lpage_splits", "max_mmu_page_hash_collisions",
              "max_mmu_rmap_size", "mmu_unsync", "guest_mode", "blocking", "halt_poll_fail_ns",
              "halt_poll_success_ns", "halt_wait_ns", "mmu_cache_miss", "remote_tlb_flush_requests"}


def load(out):
    by_vmm = {}
    for path in sorted(glob.glob(os.path.join(out, "*-io-*.kvmstat"))):
        m = re.match(r"(.+)-io-(\d+)\.kvmstat$", os.path.basename(path))
        if not m or m.group(1) not in ("avp", "qemu"):
            continue
        counters = {}
        for line in open(path, encoding="utf-8", errors="replace"):
            parts = line.split()
            if len(parts) == 2 and re.fullmatch(r"-?\d+", parts[1]):
                counters[parts[0]] = int(parts[1])
        by_vmm.setdefault(m.group(1), []).append(counters)
    return by_vmm


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    by_vmm = load(sys.argv[1])
    if not by_vmm.get("avp") or not by_vmm.get("qemu"):
        print(f"kvmstat: {sys.argv[1]} has no boot snapshot of avp and of QEMU (*-io-R.kvmstat)", file=sys.stderr)
        return 1
    names = sorted({n for snaps in by_vmm.values() for s in snaps for n in s} - NOT_COUNTS)
    rows = []
    for n in names:
        med = {v: statistics.median(s.get(n, 0) for s in snaps) for v, snaps in by_vmm.items()}
        a, q = med["avp"], med["qemu"]
        if a or q:
            rows.append((abs(a - q), n, a, q))
    rows.sort(key=lambda r: (-r[0], r[1]))
    print(f"KVM's counters for the benchmark VM at the guest's init line, median of "
          f"{len(by_vmm['avp'])} avp and {len(by_vmm['qemu'])} QEMU boots, largest difference first:")
    print()
    print("| counter | avp | QEMU | avp - QEMU | ratio |")
    print("|---|---|---|---|---|")
    for _, n, a, q in rows:
        ratio = f"{a / q:.2f}" if q else "-"
        print(f"| {n} | {a:g} | {q:g} | {a - q:+g} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
