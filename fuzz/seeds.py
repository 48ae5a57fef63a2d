#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/seed-*.

Each seed is a small, well-formed input in the target's grammar (see the
comment at the top of each fuzz/fuzz_*.c and fuzz/support/fuzz_guest.h), so
the fuzzer starts from requests the device actually serves instead of
having to discover magic numbers and layouts. Crash reproducers live next
to them as regress-* files and are never rewritten here.

    python3 fuzz/seeds.py      # rewrites every seed-* file
"""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def u8(v):
    return struct.pack("<B", v & 0xFF)


def u16(v):
    return struct.pack("<H", v & 0xFFFF)


def u32(v):
    return struct.pack("<I", v & 0xFFFFFFFF)


def u64(v):
    return struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# ---- the common device grammar (fuzz/support/fuzz_guest.h) ----
OP_RAM, OP_DESC, OP_DESC_AT, OP_PUBLISH, OP_AVAIL_IDX, OP_SUPPRESS, OP_KICK, \
    OP_POLL, OP_CHAIN, OP_RESET, OP_DEVICE = range(11)
DATA = 0x4000  # first byte after the two queues' ring slots


def chain(q, segs, nread, indirect=False, table_off=0x8000):
    """segs: [(ram offset, len)]; the first nread are device-readable."""
    b = (len(segs) - 1) | (nread << 3) | (0x80 if indirect else 0)
    out = u8(OP_CHAIN) + u8(q) + u8(b)
    for off, ln in segs:
        out += u16(off) + u16(ln)
    if indirect:
        out += u16(table_off)
    return out


def kick(q):
    return u8(OP_KICK) + u8(q)


def ram(off, data):
    return u8(OP_RAM) + u16(off) + u8(len(data)) + data


POLL = u8(OP_POLL)
RESET = u8(OP_RESET)
QSIZE16 = 4  # 1 << 4


def virtqueue():
    # size 16, EVENT_IDX | INDIRECT; rings at RAM offsets 0, 0x1000, 0x2000
    # (RAM is gpa 0x1000..0x5000); buffers from offset 0x3000 (gpa 0x4000).
    hdr = u8(4) + u8(3) + u16(0) + u16(0x1000) + u16(0x2000)

    def desc(addr, ln, flags, nxt):
        return u64(addr) + u32(ln) + u16(flags) + u16(nxt)

    def ramw(off, data):
        return u8(0) + u16(off) + u8(len(data)) + data

    def avail(idx, heads):
        return ramw(0x1000, u16(0) + u16(idx) + b"".join(u16(h) for h in heads))

    pop, push0 = u8(1), u8(2) + u8(0) + u32(4)
    copy = u8(7) + u16(0) + u16(64)
    direct = ramw(0, desc(0x4000, 16, 1, 1) + desc(0x4100, 64, 2, 0))
    write("virtqueue", "direct", hdr + direct + avail(1, [0]) + pop + copy + push0 +
          u8(4) + u8(5))
    table = desc(0x4000, 16, 1, 1) + desc(0x4100, 32, 3, 2) + desc(0x4200, 32, 2, 0)
    ind = ramw(0x3400, table) + ramw(0, desc(0x4400, 48, 4, 0))
    write("virtqueue", "indirect", hdr + ind + avail(1, [0]) + pop + copy + push0)
    two = direct + ramw(32, desc(0x4300, 8, 2, 0))
    write("virtqueue", "two-chains", hdr + two + avail(2, [0, 2]) + pop + pop +
          u8(3) + u8(2) + u16(1) + u16(2) + u8(4) + u8(5) + u8(8) + pop)


def blk():
    # disk shape 0x7e: rw, 64 sectors; all features; 16-entry queue
    pre = u8(0x7E) + u8(0xFF) + u8(QSIZE16)

    def req(sel, shape, sector, extra=b""):
        return u8(OP_DEVICE) + u8(sel) + u8(shape) + u16(sector) + extra

    wr = req(1, 0x21, 2, u16(0))            # OUT, 1 x 512 bytes, kick
    rd = req(0, 0x21, 2, u16(1))            # IN, 1 x 1024 bytes
    fl = req(2, 0x20, 0)                    # FLUSH
    gid = req(3, 0x21, 0, u16(0x8000 | 20))  # GET_ID into 20 bytes
    dsc = req(4, 0x20, 0, u8(2) + u16(8) + u16(8) + u8(0) + u16(24) + u16(8) + u8(0))
    wz = req(5, 0x20, 0, u8(1) + u16(32) + u16(16) + u8(1))
    write("virtio_blk", "rw", pre + wr + rd + fl + gid)
    write("virtio_blk", "discard-wz", pre + wr + dsc + wz + rd)
    write("virtio_blk", "indirect", pre + req(1, 0xA2, 4, u16(1) + u16(0)) +
          req(0, 0xA2, 4, u16(0) + u16(0)))
    write("virtio_blk", "ro", u8(0x11) + u8(0x03) + u8(3) + wr + rd + req(4, 0x20, 0, u8(1) +
          u16(0) + u16(1) + u8(0)))
    # A raw chain: header written by hand, then kicked.
    hdr = u32(0) + u32(0) + u64(1)
    write("virtio_blk", "raw", pre + ram(DATA, hdr) +
          chain(0, [(DATA, 16), (DATA + 0x200, 512), (DATA + 0x400, 1)], 1) + kick(0))


def net():
    # EVENT_IDX, INDIRECT, MRG_RXBUF, MAC, STATUS; 16-entry queues
    pre = u8(0x1F) + u8(QSIZE16)
    rx = chain(0, [(DATA, 2048)], 0)
    frame = u8(OP_DEVICE) + u8(0x80) + u32(12 + 60) + u16(20) + bytes(12) + b"\xff" * 6 + \
        b"\x52\x54\x00\x00\x00\x01"
    tx = ram(DATA + 0x1000, bytes(12) + b"\xff" * 6 + b"\x52\x54\x00\x12\x34\x56" +
             b"\x08\x00") + chain(1, [(DATA + 0x1000, 12 + 60)], 1) + kick(1)
    drain = u8(OP_DEVICE) + u8(1)
    write("virtio_net", "rx-tx", pre + rx + kick(0) + frame + POLL + tx + drain)
    # Mergeable buffers: four small chains take one 3000-byte frame.
    small = b"".join(chain(0, [(DATA + i * 0x400, 1000)], 0) for i in range(4))
    big = u8(OP_DEVICE) + u8(0x80) + u32(12 + 3000) + u16(0)
    write("virtio_net", "mergeable", pre + small + kick(0) + big + POLL)
    write("virtio_net", "no-mrg", u8(0x03) + u8(QSIZE16) + small + kick(0) + big + POLL +
          rx + kick(0) + frame + POLL)
    write("virtio_net", "tx-split", pre + ram(DATA, bytes(12)) +
          chain(1, [(DATA, 6), (DATA + 6, 6), (DATA + 0x100, 60)], 3) + kick(1) + drain +
          u8(OP_DEVICE) + u8(2) + POLL)


def console():
    pre = u8(0x03) + u8(QSIZE16)
    out = ram(DATA, b"hello from the guest\n") + chain(1, [(DATA, 21)], 1) + kick(1)
    inp = chain(0, [(DATA + 0x1000, 64)], 0) + kick(0) + u8(OP_DEVICE) + u8(0) + u8(5) + \
        b"hello" + POLL
    write("virtio_console", "out-in", pre + out + inp)
    write("virtio_console", "eof", pre + inp + u8(OP_DEVICE) + u8(1) + POLL + RESET + out)


def rng():
    pre = u8(0x03) + u8(QSIZE16)
    req = u8(OP_DEVICE) + u8(0) + u16(64)
    write("virtio_rng", "one", pre + req + req)
    write("virtio_rng", "split-indirect", pre + u8(OP_DEVICE) + u8(0x0B) + u16(16) + u16(16) +
          u16(16) + u16(16))
    write("virtio_rng", "chain-poll", pre + chain(0, [(DATA, 32), (DATA + 64, 32)], 0) + kick(0)
          + POLL)


def mmio():
    init = u8(4) + u8(3) + u8(4)                 # EVENT_IDX | INDIRECT, 16 entries
    echo = u8(5) + u16(0x10) + u8(12)
    reads = b"".join(u8(1) + u8(r // 4) for r in (0x000, 0x004, 0x008, 0x010, 0x034, 0x044,
                                                  0x060, 0x070, 0x0fc))
    cfg = u8(2) + u16(0x100) + u8(0) + u8(0) + u64(0) + u8(2) + u16(0x108) + u8(3) + u8(0) + \
        u64(0)
    reset = u8(0) + u8(0x070 // 4) + u32(0)
    write("mmio", "init-echo", init + echo + echo + reads + cfg)
    write("mmio", "reset-reinit", init + echo + reset + reads + init + echo)
    ack = u8(0) + u8(0x064 // 4) + u32(3)
    badq = u8(0) + u8(0x030 // 4) + u32(1) + u8(0) + u8(0x038 // 4) + u32(16) + \
        u8(0) + u8(0x080 // 4) + u32(0x1000) + u8(0) + u8(0x044 // 4) + u32(1)
    write("mmio", "bad-queue", init + echo + ack + badq + reads + init + echo)


def bzimage():
    def header(version=0x020F, setup_sects=1, syssize=0x1000, relocatable=1,
               xloadflags=3, loadflags=1, pref=0x1000000, init_size=0x300000,
               jump=0x6A, kinfo=0x100):
        img = bytearray(1024)
        img[0x1F1] = setup_sects
        img[0x1F4:0x1F8] = u32(syssize)
        img[0x1FE:0x200] = u16(0xAA55)
        img[0x200] = 0xEB
        img[0x201] = jump
        img[0x202:0x206] = b"HdrS"
        img[0x206:0x208] = u16(version)
        img[0x211] = loadflags
        img[0x22C:0x230] = u32(0x7FFFFFFF)
        img[0x230:0x234] = u32(0x200000)
        img[0x234] = relocatable
        img[0x236:0x238] = u16(xloadflags)
        img[0x238:0x23C] = u32(2047)
        img[0x258:0x260] = u64(pref)
        img[0x260:0x264] = u32(init_size)
        img[0x268:0x26C] = u32(kinfo)
        return bytes(img)

    # mode 1: the file is `extra` bytes longer than the 1 KiB head given
    whole = 0x1000 * 16
    write("bzimage", "valid-2.15", u8(1) + u32(whole) + header())
    write("bzimage", "valid-2.12", u8(1) + u32(whole) + header(version=0x020C, jump=0x3A))
    write("bzimage", "fixed-address", u8(1) + u32(whole) + header(relocatable=0))
    write("bzimage", "truncated", u8(1) + u32(whole // 2) + header())
    write("bzimage", "shorter-than-read", u8(2) + u32(600) + header())


def cli():
    def argv(*args):
        return b"\0".join(a.encode() for a in args)

    write("cli", "full-run", argv("run", "--kernel", "k", "--initrd", "i", "--cmdline",
                                  "console=ttyS0 quiet", "--cpus", "2", "--memory", "256",
                                  "--disk", "a.img", "--disk", "b.img,ro", "--net",
                                  "tap=t0,mac=52:54:00:12:34:56", "--rng", "--serial",
                                  "none", "--console", "file:hvc0.log", "--describe",
                                  "--timing", "-v"))
    write("cli", "help", argv("run", "--help"))
    write("cli", "version", argv("--version"))
    write("cli", "errors", argv("run", "--kernel", "k", "--cpus", "0", "--memory", "1x",
                                "--net", "tap=a,mac=01:00:00:00:00:00", "--disk", ","))
    write("cli", "short-cluster", argv("run", "-vv", "--kernel=k", "--on-reboot", "restart"))


if __name__ == "__main__":
    for gen in (virtqueue, blk, net, console, rng, mmio, bzimage, cli):
        gen()
