#!/usr/bin/env python3
"""Where a VMM's resident memory outside guest RAM goes, from
/proc/PID/smaps (scripts/bench, docs/footprint.md).

  smaps.py --rss-outside MIB SMAPS   prints the KiB resident outside the
                                     guest RAM mapping(s)
  smaps.py --breakdown MIB SMAPS     a Markdown table by kind of mapping

Guest RAM is every mapping at least MIB MiB large (the guest's memory is
one such mapping in avp and in QEMU). The kinds: the binary itself,
shared libraries, the main thread's stack, thread stacks (an anonymous
read-write mapping right after a no-access guard page), glibc malloc
arenas (anonymous read-write mapping followed by the no-access rest of a
64 MiB arena reservation), the brk heap, KVM's per-vCPU run pages, and
other anonymous memory.
"""
import sys

ARENA = 64 << 20


def parse(path):
    maps = []
    cur = None
    with open(path) as f:
        for line in f:
            parts = line.split()
            if '-' in parts[0] and len(parts) >= 5 and not parts[0].endswith(':'):
                lo, hi = (int(x, 16) for x in parts[0].split('-'))
                cur = {'lo': lo, 'hi': hi, 'perm': parts[1],
                       'name': ' '.join(parts[5:]) if len(parts) > 5 else '', 'rss': 0}
                maps.append(cur)
            elif parts[0] == 'Rss:':
                cur['rss'] = int(parts[1])
    return maps


def classify(maps, ram_kib):
    exe = None
    for m in maps:
        if m['name'].startswith('/') and 'x' in m['perm'] and '.so' not in m['name']:
            exe = m['name']
            break
    for i, m in enumerate(maps):
        size = (m['hi'] - m['lo']) >> 10
        prev = maps[i - 1] if i else None
        nxt = maps[i + 1] if i + 1 < len(maps) else None
        name = m['name']
        if size >= ram_kib:
            kind = 'guest RAM (not counted)'
        elif name == exe:
            kind = 'the binary (' + name.rsplit('/', 1)[-1] + ')'
        elif '.so' in name:
            kind = 'shared libraries'
        elif name == '[stack]':
            kind = 'main thread stack'
        elif name == '[heap]':
            kind = 'brk heap (main arena)'
        elif 'kvm-vcpu' in name:
            kind = 'KVM vCPU run pages'
        elif name.startswith('['):
            kind = 'kernel-provided (' + name + ')'
        elif name:
            kind = 'other files'
        elif (m['perm'].startswith('rw') and prev and prev['perm'].startswith('---')
              and prev['hi'] == m['lo'] and prev['hi'] - prev['lo'] <= 65536):
            kind = 'thread stacks'
        elif (m['perm'].startswith('rw') and nxt and nxt['perm'].startswith('---')
              and nxt['lo'] == m['hi'] and nxt['hi'] % ARENA == 0 and m['lo'] % ARENA <= 8192):
            kind = 'glibc malloc arenas'
        else:
            kind = 'other anonymous'
        yield kind, m


def main(argv):
    if len(argv) != 4 or argv[1] not in ('--rss-outside', '--breakdown'):
        sys.stderr.write(__doc__)
        return 2
    ram_kib = int(argv[2]) << 10
    rows = {}
    for kind, m in classify(parse(argv[3]), ram_kib):
        n, kib = rows.get(kind, (0, 0))
        rows[kind] = (n + 1, kib + m['rss'])
    outside = sum(k for kind, (n, k) in rows.items() if not kind.startswith('guest RAM'))
    if argv[1] == '--rss-outside':
        print(outside)
        return 0
    print('| mappings | count | RSS KiB |')
    print('|---|---|---|')
    for kind, (n, kib) in sorted(rows.items(), key=lambda kv: -kv[1][1]):
        if not kind.startswith('guest RAM'):
            print(f'| {kind} | {n} | {kib} |')
    print(f'| **total outside guest RAM** | | **{outside}** |')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
