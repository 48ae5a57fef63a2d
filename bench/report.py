#!/usr/bin/env python3
"""Figures of one scripts/bench run: raw per-round values in, the JSON and
the README table out.

  report.py --json OUT.json --table OUT.md --date D --commit C --command CMD
            [--skipped TRANSPORT:REASON ...] [--datapath FILE] TRANSPORT=RAW.txt ...

RAW.txt has "VMM ROUND NAME VALUE" lines (bench/suite.sh); FILE has
bench/datapath.sh's "NAME INSTRUCTIONS_PER_REQUEST" (avp only). Each figure is
the median over the rounds; the table also shows the spread (lowest and
highest round). The JSON is a list with one object per figure, exactly
{"name", "unit", "higher_is_better", "avp", "qemu", "ratio"}; ratio is
avp / QEMU (null where QEMU has no value), so above 1 is better for
avp where higher is better, below 1 where lower is.

The table's last column judges each figure with a peer, over at least 3
rounds each: "within the spread" when the two VMMs' ranges (lowest to
highest round) overlap; otherwise "better" or "worse" for avp, and
"better, GOAL" when the ratio also reaches the issue's 1.2x (block and
network; applied to every figure alike).
"""
import argparse
import json
import statistics
import sys

# Figures a run may leave out: AVP_BENCH_STATIC=1 only.
OPTIONAL = {'memory_rss_outside_ram_dynamic'}
PEERLESS = {'memory_rss_outside_ram_dynamic'}
# name: (unit, higher_is_better, description)
FIGURES = {
    'boot_ms': ('ms', False, 'boot: launch to the guest\'s init'),
    'boot_exits': ('exits', False, 'boot: KVM exits until the guest\'s init'),
    'memory_rss_outside_ram': ('KiB', False, 'memory: VMM RSS outside guest RAM, idle, 1 vCPU, 256 MiB'),
    'memory_rss_outside_ram_dynamic': ('KiB', False, 'memory: the same, dynamically linked avp (make STATIC=0; no QEMU peer)'),
    'blk_randread_4k_qd32': ('IOPS', True, 'block: fio 4k random read, iodepth 32'),
    'blk_randwrite_4k_fsync': ('IOPS', True, 'block: fio 4k random write + fsync'),
    'blk_seq_read_1m': ('MiB/s', True, 'block: fio 1 MiB sequential read'),
    'blk_seq_write_1m': ('MiB/s', True, 'block: fio 1 MiB sequential write'),
    'net_tcp_g2h': ('Mbit/s', True, 'network: iperf3 guest to host'),
    'net_tcp_h2g': ('Mbit/s', True, 'network: iperf3 host to guest'),
    'net_tcp_rr': ('us', False, 'network: TCP request/response round trip (median)'),
    'vsock_stream_g2h': ('MiB/s', True, 'vsock: stream guest to host'),
    'vsock_stream_h2g': ('MiB/s', True, 'vsock: stream host to guest'),
    'vsock_rr': ('us', False, 'vsock: round trip (median)'),
}
# Figures QEMU also gives with vhost-net (bench/suite.sh's "qemu-vhost"):
# the kernel's data path, reported beside the user-space peer for
# information; optional (a host without /dev/vhost-net has none).
VHOST = ('net_tcp_g2h', 'net_tcp_h2g', 'net_tcp_rr')


GOAL = 1.2


def verdict(avp, qemu, hib):
    if not avp or not qemu or min(len(avp), len(qemu)) < 3:
        return '-'
    if min(avp) <= max(qemu) and min(qemu) <= max(avp):
        return 'within the spread'
    better = min(avp) > max(qemu) if hib else max(avp) < min(qemu)
    if not better:
        return 'worse'
    ratio = statistics.median(avp) / statistics.median(qemu)
    return f'better, {GOAL}x' if (ratio >= GOAL if hib else ratio <= 1 / GOAL) else 'better'


def load(path):
    vals = {}
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) == 4:
                vals.setdefault((p[2], p[0]), []).append(float(p[3]))
    return vals


def fmt(v):
    if v is None:
        return '-'
    return f'{v:.0f}' if abs(v) >= 100 else f'{v:.1f}'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--json', required=True)
    ap.add_argument('--table', required=True)
    ap.add_argument('--date', required=True)
    ap.add_argument('--commit', required=True)
    ap.add_argument('--command', required=True)
    ap.add_argument('--skipped', action='append', default=[])
    ap.add_argument('--datapath', help='bench/datapath.sh output: NAME INSTRUCTIONS lines')
    ap.add_argument('raw', nargs='+')
    a = ap.parse_args()

    figures, rows, missing = [], [], []
    for spec in a.raw:
        transport, path = spec.split('=', 1)
        vals = load(path)
        rounds = max((len(v) for v in vals.values()), default=0)
        for name, (unit, hib, desc) in FIGURES.items():
            med, spread = {}, {}
            if name in OPTIONAL and (name, 'avp') not in vals:
                continue
            for vmm in ('avp', 'qemu'):
                v = vals.get((name, vmm))
                med[vmm] = statistics.median(v) if v else None
                spread[vmm] = f'{fmt(min(v))}-{fmt(max(v))}' if v else 'none'
                if v is None and not (vmm == 'qemu' and name in PEERLESS):
                    missing.append(f'{vmm} {transport}/{name}')
            ratio = (med['avp'] / med['qemu']) if med['avp'] is not None and med['qemu'] else None
            fig = {'name': f'{transport}/{name}', 'unit': unit, 'higher_is_better': hib,
                   'avp': med['avp'], 'qemu': med['qemu'],
                   'ratio': round(ratio, 3) if ratio is not None else None}
            figures.append(fig)
            rows.append(f"| {desc} ({transport}) | {unit} | {'higher' if hib else 'lower'} | "
                        f"{fmt(med['avp'])} ({spread['avp']}) | {fmt(med['qemu'])} ({spread['qemu']}) | "
                        f"{'-' if ratio is None else f'{ratio:.2f}'} | "
                        f"{verdict(vals.get((name, 'avp')), vals.get((name, 'qemu')), hib)} |")
        for name in VHOST:
            v, a_ = vals.get((name, 'qemu-vhost')), vals.get((name, 'avp'))
            if not v:
                continue
            unit, hib, desc = FIGURES[name]
            mq, ma = statistics.median(v), (statistics.median(a_) if a_ else None)
            ratio = ma / mq if ma is not None and mq else None
            figures.append({'name': f'{transport}/{name}_vs_vhost_net', 'unit': unit, 'higher_is_better': hib,
                            'avp': ma, 'qemu': mq, 'ratio': round(ratio, 3) if ratio is not None else None})
            rows.append(f"| {desc}, QEMU with vhost-net, for information ({transport}) | {unit} | "
                        f"{'higher' if hib else 'lower'} | {fmt(ma)} | {fmt(mq)} ({fmt(min(v))}-{fmt(max(v))}) | "
                        f"{'-' if ratio is None else f'{ratio:.2f}'} | "
                        f"{verdict(a_, v, hib)} |")
        rows.append(f'| ({transport}: {rounds} rounds) | | | | | | |')

    if a.datapath:
        with open(a.datapath) as f:
            dp = [line.split() for line in f if len(line.split()) == 2]
        if not dp:
            missing.append('datapath')
        for name, ir in dp:
            figures.append({'name': f'datapath/{name}', 'unit': 'instructions/request',
                            'higher_is_better': False, 'avp': float(ir), 'qemu': None, 'ratio': None})
            rows.append(f'| device data path, callgrind: {name} (host only) | instructions/request | lower | '
                        f'{ir} | - | - | - |')

    with open(a.json, 'w') as f:
        json.dump(figures, f, indent=1)
        f.write('\n')
    with open(a.table, 'w') as f:
        f.write(f'{a.date}, commit {a.commit}, `{a.command}`; medians over the rounds '
                '(lowest-highest round in brackets), ratio = avp / QEMU; verdict: the two ranges '
                f'apart or not, and whether avp is {GOAL}x better:\n\n')
        f.write('| figure | unit | better | avp | QEMU | ratio | verdict |\n|---|---|---|---|---|---|---|\n')
        f.write('\n'.join(rows) + '\n')
        for s in a.skipped:
            t, why = s.split(':', 1)
            f.write(f'\n{t}: skipped, {why}\n')
    if missing:
        print('bench: no value for: ' + ', '.join(missing), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
