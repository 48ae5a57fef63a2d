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
    OP_POLL, OP_CHAIN, OP_RESET, OP_DEVICE, OP_CONFIG, OP_WAKE = range(13)
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
    # disk shape 0x7e: rw, 64 sectors; all features; 16-entry queue. The
    # last byte is the target's options: 0x00 one queue, synchronous;
    # 0x08 one queue, io_uring; 0x0B four queues (MQ), io_uring.
    pre = u8(0x7E) + u8(0xFF) + u8(QSIZE16)

    def req(sel, shape, sector, extra=b""):
        return u8(OP_DEVICE) + u8(sel) + u8(shape) + u16(sector) + extra

    def write_blk(name, data):
        write("virtio_blk", name, data + u8(0x00))
        write("virtio_blk", name + "-uring", data + POLL + u8(0x08))

    wr = req(1, 0x21, 2, u16(0))            # OUT, 1 x 512 bytes, kick
    rd = req(0, 0x21, 2, u16(1))            # IN, 1 x 1024 bytes
    fl = req(2, 0x20, 0)                    # FLUSH
    gid = req(3, 0x21, 0, u16(0x8000 | 20))  # GET_ID into 20 bytes
    dsc = req(4, 0x20, 0, u8(2) + u16(8) + u16(8) + u8(0) + u16(24) + u16(8) + u8(0))
    wz = req(5, 0x20, 0, u8(1) + u16(32) + u16(16) + u8(1))
    write_blk("rw", pre + wr + rd + fl + gid)
    write_blk("discard-wz", pre + wr + dsc + wz + rd)
    write_blk("indirect", pre + req(1, 0xA2, 4, u16(1) + u16(0)) +
              req(0, 0xA2, 4, u16(0) + u16(0)))
    write_blk("ro", u8(0x11) + u8(0x03) + u8(3) + wr + rd + req(4, 0x20, 0, u8(1) +
              u16(0) + u16(1) + u8(0)))
    # A raw chain: header written by hand, then kicked.
    hdr = u32(0) + u32(0) + u64(1)
    write_blk("raw", pre + ram(DATA, hdr) +
              chain(0, [(DATA, 16), (DATA + 0x200, 512), (DATA + 0x400, 1)], 1) + kick(0))

    # Four queues: a request on each (the queue byte follows sel and shape).
    def mq_req(sel, shape, q, sector, extra=b""):
        return u8(OP_DEVICE) + u8(sel) + u8(shape) + u8(q) + u16(sector) + extra

    write("virtio_blk", "mq", pre + mq_req(1, 0x21, 3, 2, u16(0)) + mq_req(0, 0x21, 1, 2, u16(1)) +
          mq_req(2, 0x20, 2, 0) + mq_req(0, 0x21, 0, 4, u16(0)) + POLL + POLL + u8(0x0B))


def net():
    # No offloads (the target's first byte); EVENT_IDX, INDIRECT, MRG_RXBUF,
    # MAC, STATUS; 16-entry queues
    pre = u8(0) + u8(0x1F) + u8(QSIZE16)
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
    write("virtio_net", "no-mrg", u8(0) + u8(0x03) + u8(QSIZE16) + small + kick(0) + big + POLL +
          rx + kick(0) + frame + POLL)
    write("virtio_net", "tx-split", pre + ram(DATA, bytes(12)) +
          chain(1, [(DATA, 6), (DATA + 6, 6), (DATA + 0x100, 60)], 3) + kick(1) + drain +
          u8(OP_DEVICE) + u8(2) + POLL)
    # Every offload: TSO headers both ways, good and bad. A header:
    # flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers.
    off = u8(0xFF) + u8(0x1F) + u8(QSIZE16)

    def vhdr(flags, gso, hdr_len, gso_size, cs, co):
        return u8(flags) + u8(gso) + u16(hdr_len) + u16(gso_size) + u16(cs) + u16(co) + u16(0)

    def tx_hdr(h, n=1000):
        return ram(DATA + 0x1000, h) + chain(1, [(DATA + 0x1000, 12), (DATA + 0x1100, n)], 2) + \
            kick(1)
    good = tx_hdr(vhdr(1, 4, 74, 1440, 54, 16)) + tx_hdr(vhdr(1, 0x81, 66, 1448, 34, 16)) + \
        tx_hdr(vhdr(1, 0, 0, 0, 34, 998 - 34))
    bad = tx_hdr(vhdr(1, 3, 74, 1440, 54, 16)) + tx_hdr(vhdr(1, 4, 74, 0, 54, 16)) + \
        tx_hdr(vhdr(1, 0, 0, 0, 34, 999 - 34)) + tx_hdr(vhdr(0, 1, 74, 1440, 0, 0)) + \
        tx_hdr(vhdr(1, 1, 1001, 1440, 54, 16)) + tx_hdr(vhdr(0xfe, 0, 9, 9, 9, 9))
    write("virtio_net", "offload-tx", off + good + bad + drain)
    gso = u8(OP_DEVICE) + u8(0) + u32(12 + 3000) + u16(12) + vhdr(1, 4, 74, 1440, 54, 16)
    write("virtio_net", "offload-rx", off + small + kick(0) + gso + POLL + RESET + small +
          kick(0) + gso + POLL)
    write("virtio_net", "offload-half", u8(0x11) + u8(0x1F) + u8(QSIZE16) + good + bad + drain +
          small + kick(0) + gso + POLL)
    # Two queue pairs (feature bits 5, 6: CTRL_VQ, MQ): VQ_PAIRS_SET 2 on
    # the control queue (4), then a frame each way on pair 1 (queues 2, 3;
    # the device op's bit 4 picks pair 1's tap queue). Five queues' ring
    # slots put the data at 0xA000.
    mq_data = 0xA000
    mq = u8(0) + u8(0x7F) + u8(QSIZE16)
    pairs_set = u8(OP_DEVICE) + u8(3) + u16(2)
    rx1 = chain(2, [(mq_data, 2048)], 0) + kick(2)
    frame1 = u8(OP_DEVICE) + u8(0x90) + u32(12 + 60) + u16(0)
    tx1 = ram(mq_data + 0x1000, bytes(12) + b"\xff" * 6 + b"\x52\x54\x00\x12\x34\x56" +
              b"\x08\x00") + chain(3, [(mq_data + 0x1000, 12 + 60)], 1) + kick(3)
    write("virtio_net", "mq", mq + pairs_set + rx1 + frame1 + POLL + tx1 + drain + RESET)


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


def can():
    # shape byte (bit 0: FD interface, bit 1: rules), then the common
    # grammar: features (EVENT_IDX, INDIRECT, CLASSIC, FD, RTR, LATE_TX_ACK
    # as bits 0-5), queue size 16.
    DEV = u8(OP_DEVICE)

    def pre(shape=0x01, feat=0x1F):
        return u8(shape) + u8(feat) + u8(QSIZE16)

    def tx(can_id, data=b"", flags=0, length=None, sub=0):
        length = len(data) if length is None else length
        return DEV + u8(sub) + u16(length) + u8(len(data)) + u8(0) + u8(0) + u16(0) + \
            u32(flags) + u32(can_id) + data

    START = DEV + u8(1)
    STOP = DEV + u8(0x41)
    RXBUF = DEV + u8(2)
    DRAIN = DEV + u8(4)

    def frame(can_id, data, fd=False):
        if fd:
            return DEV + u8(0x43) + u32(can_id) + u8(len(data)) + u8(0x04) + u16(0) + \
                data.ljust(64, b"\0")
        return DEV + u8(3) + u32(can_id) + u8(len(data)) + b"\0" * 3 + data.ljust(8, b"\0")

    def link(up):
        return DEV + u8(0x85 if up else 0x05)

    classic = tx(0x123, bytes(range(8)))
    write("virtio_can", "tx-rx", pre() + START + RXBUF + RXBUF + classic + DRAIN +
          frame(0x321, b"\x01\x02\x03") + POLL + STOP + classic)
    write("virtio_can", "fd", pre() + START + RXBUF + tx(0x1abcdef, bytes(64), 0xC000) + DRAIN +
          frame(0x80001234, bytes(range(48)), fd=True) + POLL + tx(0x10, b"", 0x2000, 4) + DRAIN)
    write("virtio_can", "busoff", pre() + START + link(False) + POLL + classic + START +
          link(True) + POLL + START + classic + DRAIN + u8(OP_CONFIG) + u16(0) + u8(2) + u64(0))
    write("virtio_can", "rules", pre(0x03) + START + RXBUF + tx(0x150, b"\x01") +
          tx(0x300, b"\x02") + tx(0x18000001, b"\x03", 0x8000) + DRAIN +
          frame(0x350, b"\x04") + frame(0x150, b"\x05") + POLL)
    write("virtio_can", "hostile", pre(0x00, 0x07) + START + tx(0x123, bytes(8), length=9) +
          tx(0x800, b"\x01") + tx(0x1, bytes(4), 0x4000) + tx(0x1, b"", 0x1000) +
          tx(0x1, bytes(2), sub=0x40) + tx(0x1, bytes(2), sub=0x20) + DEV + u8(0x81) + u16(0x0203) +
          frame(0x1, bytes(8), fd=True) + RXBUF + POLL + DEV + u8(0x83) + u8(40) + bytes(40) + POLL +
          DEV + u8(6) + POLL + DRAIN)
    burst = b"".join(tx(0x200 + i, bytes([i])) for i in range(12))
    wake_all = b"".join(u8(OP_WAKE) + u8(i) for i in range(5))  # the timer is one of them
    write("virtio_can", "backpressure", pre() + START + burst + DRAIN + wake_all + DRAIN +
          wake_all + STOP + burst[:40])
    write("virtio_can", "link-parse", pre() + DEV + u8(7) + u8(32) + u32(32) + u16(16) + u16(0) +
          u32(0) + u32(0) + u8(0) + u8(0) + u16(0) + u32(5) + u32(0x41) + u32(0))


def vsock():
    # EVENT_IDX, INDIRECT, STREAM; 64-entry queues
    pre = u8(0x07) + u8(6)
    DEV = u8(OP_DEVICE)
    BASE = 1 << 30
    REQUEST, RESPONSE, RST, SHUTDOWN, RW, CREDIT_UPDATE, CREDIT_REQUEST = range(1, 8)

    def gport(p):  # guest port 1000 + p (p < 8)
        return u8(p)

    def hport(p):  # host ports 0-4, or BASE + p with host=True
        return u8(p)

    def hinit(p):
        return u8(0x40 | p)

    def tx(op, g, h, data=b"", flags=0, kick=True, dst=None, typ=None):
        # shape 0: everything sane; the payload given in full. dst: 0 the
        # host, 1 the linked VM 4, 2 the linked VM 5 (down), 3 CID 9;
        # typ: the socket type (default a stream; 2 seqpacket)
        shape = (0x08 if dst is not None else 0) | (0x04 if typ is not None else 0)
        out = DEV + u8(0) + u8(shape) + u8(op) + g + h + u16(len(data)) + u8(flags) + \
            u8(0 if kick else 0x80) + (u8(dst) if dst is not None else b"") + \
            (u16(typ) if typ is not None else b"") + u8(len(data)) + data
        return out

    def rx(n=4, kick=True):
        return DEV + u8(1) + u8((n - 1) | (0 if kick else 0x80)) + u16(0) * n

    def connect(port, data=b""):
        return DEV + u8(2) + u8(4 if data else 0) + gport(port) + \
            ((u8(len(data)) + data) if data else b"")

    def hwrite(i, data):
        return DEV + u8(3) + u8(i) + u16(len(data)) + data

    hread = lambda i: DEV + u8(4) + u8(i)
    hclose = lambda i, how: DEV + u8(5) + u8(i) + u8(how)
    accept = DEV + u8(6)

    # Guest to host: REQUEST to port 1 (a listener), data, host answers,
    # credit, orderly shutdown, RST.
    write("virtio_vsock", "guest-connect",
          pre + rx(8) + tx(REQUEST, gport(1), hport(1)) + accept + POLL +
          tx(RW, gport(1), hport(1), b"hello host") + hread(0) + hwrite(0, b"hello guest") +
          POLL + rx(4) + tx(CREDIT_REQUEST, gport(1), hport(1)) +
          tx(CREDIT_UPDATE, gport(1), hport(1)) + tx(SHUTDOWN, gport(1), hport(1), flags=3) +
          POLL + rx(4) + hclose(0, 0) + POLL + tx(RST, gport(1), hport(1)))
    # Host to guest: CONNECT 1000 with data behind it, the guest answers,
    # data both ways, the host hangs up.
    write("virtio_vsock", "host-connect",
          pre + rx(8) + connect(0, b"early bytes") + POLL + POLL + rx(4) +
          tx(RESPONSE, gport(0), hinit(0)) + POLL + rx(4) +
          tx(RW, gport(0), hinit(0), b"from the guest") + hread(0) + hwrite(0, b"more") + POLL +
          rx(4) + hclose(0, 2) + POLL + rx(4) + tx(RST, gport(0), hinit(0)))
    # Nobody listening on port 4, a full backlog on port 3, unknown
    # streams, a bad CONNECT line, a guest that refuses.
    write("virtio_vsock", "refusals",
          pre + tx(REQUEST, gport(2), hport(4)) + tx(REQUEST, gport(3), hport(3)) +
          tx(REQUEST, gport(4), hport(3)) + tx(REQUEST, gport(5), hport(3)) + rx(8) +
          tx(RW, gport(6), hport(2), b"who?") + tx(RST, gport(7), hport(2)) +
          DEV + u8(2) + u8(2) + u8(10) + b"CONNECT x\n" + POLL + POLL +
          connect(3) + POLL + POLL + rx(4) + tx(RST, gport(3), hinit(1)) + rx(8) + POLL +
          RESET + rx(4) + tx(REQUEST, gport(1), hport(2)) + accept)
    # The guest writes more than the host reads (buffering, then credit
    # overrun) and the host writes more than the guest's credit.
    big = b"y" * 200
    write("virtio_vsock", "credit",
          pre + rx(8) + tx(REQUEST, gport(2), hport(2)) + accept + POLL +
          b"".join(tx(RW, gport(2), hport(2), big) for _ in range(6)) +
          DEV + u8(3) + u8(0) + u16(0x9fff) + POLL + rx(8) + POLL + rx(8) + hread(0) + POLL +
          tx(CREDIT_UPDATE, gport(2), hport(2)) + POLL + rx(8))

    def peer(how=0):
        return DEV + u8(7) + u8(how)

    # Guest to guest: a stream to VM 4 (its avp answers OK), data both
    # ways; VM 5 is down, CID 9 is not linked; VM 4 calls the guest.
    write("virtio_vsock", "routed",
          pre + rx(8) + tx(REQUEST, gport(1), hport(1), dst=1) + peer() + POLL + rx(4) +
          tx(RW, gport(1), hport(1), b"to vm 4", dst=1) + hread(0) + hwrite(0, b"from vm 4") +
          POLL + rx(4) + tx(REQUEST, gport(2), hport(1), dst=2) +
          tx(REQUEST, gport(3), hport(1), dst=3) + rx(4) +
          DEV + u8(2) + u8(1) + gport(4) + POLL + POLL + rx(4) +
          tx(RESPONSE, gport(4), hinit(0), dst=1) + POLL + rx(4) +
          tx(REQUEST, gport(5), hport(2), dst=1) + peer(0x80) + u8(5) + b"NO 1\n" + POLL +
          rx(4) + tx(SHUTDOWN, gport(1), hport(1), flags=3, dst=1) + POLL + rx(4))

    # A routed stream's frames (include/avp/devices/vsock_route.h): op,
    # 3 reserved bytes, flags, len; then the payload.
    def frame(op, flags=0, data=b""):
        return u8(op) + b"\0\0\0" + u32(flags) + u32(len(data)) + data

    EOM, EOR = 1, 2
    # Issue 18: frames both ways on a routed stream (data, each shutdown
    # flag), and seqpacket records to VM 4 (EOM/EOR, a record in two
    # packets), the peer's records and its close; seqpacket to the host
    # is refused.
    write("virtio_vsock", "routed-frames",
          pre + rx(8) + tx(REQUEST, gport(1), hport(1), dst=1) + peer() + POLL + rx(4) +
          tx(RW, gport(1), hport(1), b"to vm 4", dst=1) + hread(0) +
          hwrite(0, frame(RW, 0, b"from vm 4") + frame(SHUTDOWN, 1)) + POLL + rx(4) +
          tx(SHUTDOWN, gport(1), hport(1), flags=2, dst=1) + hread(0) +
          hwrite(0, frame(RW, 0, b"more") + frame(SHUTDOWN, 3)) + POLL + rx(4) +
          tx(SHUTDOWN, gport(1), hport(1), flags=3, dst=1) + hread(0) + hclose(0, 0) +
          POLL + rx(4))
    write("virtio_vsock", "routed-seqpacket",
          pre + rx(8) + tx(REQUEST, gport(2), hport(1), dst=1, typ=2) + peer() + POLL +
          rx(4) + tx(RW, gport(2), hport(1), b"rec", dst=1, typ=2) +
          tx(RW, gport(2), hport(1), b"ord", flags=EOM | EOR, dst=1, typ=2) +
          tx(RW, gport(2), hport(1), b"x", flags=EOM, dst=1, typ=2) + hread(0) +
          hwrite(0, frame(RW, 0, b"a record ") + frame(RW, EOM, b"in two") +
                 frame(RW, EOM | EOR, b"!") + frame(RW, EOM, b"y" * 200)) +
          POLL + rx(8) + POLL + rx(8) + tx(REQUEST, gport(3), hport(1), typ=2) +
          tx(RW, gport(2), hport(1), b"s", dst=1) + hwrite(0, frame(9)) + POLL + rx(4))

    def txbig(g, h, size, rep):
        # shape 1: header and payload apart, the payload (a pattern)
        # repeated rep times
        return DEV + u8(0) + u8(1) + u8(RW) + g + h + u16(size) + u8(0) + u8(0) + u8(0) + \
            u8(rep - 1)

    # 8 x 48 KiB: past the host socket's buffer, so the device buffers
    # the rest; then 144 KiB at once: past the credit.
    write("virtio_vsock", "big-writes",
          pre + rx(8) + tx(REQUEST, gport(1), hport(1)) + accept +
          txbig(gport(1), hport(1), 0x5fff, 2) * 8 + POLL + hread(0) + POLL + rx(8) +
          txbig(gport(1), hport(1), 0x5fff, 6) + POLL + rx(8) + hread(0) + POLL)


def vinput():
    DEV = u8(OP_DEVICE)
    feat_q = u8(0x03) + u8(6)  # EVENT_IDX, INDIRECT; 64 entries

    def select(sel_idx, subsel, wide=False):
        return DEV + u8(0) + u8(1 if wide else 0) + u8(sel_idx) + u8(subsel)

    def request(line):
        return DEV + u8(1) + u16(len(line)) + line

    def events(dev, evs):
        # evs: (type index 0-5, code index 0-11, value + 1)
        out = DEV + u8(2) + u8(len(evs) - 1) + u8(dev)
        for t, cidx, v in evs:
            out += u8(t) + u8(cidx) + u8(v)
        return out

    def key(dev, name_idx, action=None):
        how = name_idx << 1 | ((0x10 | action << 6) if action is not None else 0)
        return DEV + u8(3) + u8(how) + u8(dev)

    def touch(dev, x, y, action=None, slot=None):
        how = (0x10 | action if action is not None else 0) | (0x20 if slot is not None else 0)
        return DEV + u8(4) + u8(how) + u8(dev) + u16(x) + u16(y) + \
            (u8(slot) if slot is not None else b"")

    def bufs(n, base=DATA):
        return b"".join(chain(0, [(base + 8 * i, 8)], 0) for i in range(n)) + kick(0)

    walk = b"".join(select(i, sub) for i in range(8) for sub in (0, 1, 17, 53)) + \
        select(0x81, 0, wide=True)
    write("virtio_input", "keyboard-config", u8(0) + feat_q + walk)
    write("virtio_input", "touch-config", u8(1) + feat_q + walk)
    write("virtio_input", "keyboard-keys",
          u8(0) + feat_q + bufs(16) + key(0, 0) + key(0, 2, 1) + key(0, 2, 2) +
          request(b'{"cmd":"input","args":{"key":"KEY_A","action":"click"},"id":1}') +
          request(b'{"cmd":"input","args":{"device":"touch","touch":{"x":1,"y":2}}}') +
          events(0, [(1, 1, 2), (0, 0, 1), (1, 1, 1), (0, 0, 1)]) + POLL + bufs(16) + POLL +
          u8(OP_WAKE) + u8(0) + kick(1) + chain(1, [(DATA + 0x400, 8)], 1) + kick(1))
    # touch screen 800x480: tap, a drag, two fingers, raw ABS events,
    # then a reset with events waiting
    write("virtio_input", "touch",
          u8(3) + u16(799) + u16(479) + feat_q + bufs(32) +
          touch(1, 100, 200) + touch(1, 10, 20, 1) + touch(1, 30, 40, 2) +
          touch(1, 50, 60, 1, slot=1) + touch(1, 0, 0, 3) + touch(1, 0, 0, 3, slot=1) +
          events(1, [(2, 4, 11), (2, 5, 21), (0, 0, 1)]) + POLL + bufs(32, DATA + 0x800) +
          touch(1, 799, 479) + RESET + touch(1, 5, 5))
    # no event buffers: the ring fills (256 events) and refuses more
    write("virtio_input", "ring-full",
          u8(0) + feat_q + key(0, 1) * 70 + bufs(8) + POLL + key(0, 1))


def gpu():
    DEV = u8(OP_DEVICE)
    (DISPLAY_INFO, CREATE, UNREF, SCANOUT, FLUSH, TRANSFER, ATTACH, DETACH, CAPSET, EDID) = \
        range(10)

    def cmd(idx, body, shape=0, cut=None):
        out = DEV + u8(0) + u8(idx) + u8(shape) + body
        if shape & 0x04:
            out += u16(cut)
        return out

    def dim(v):  # 1-128
        return u8(v - 1)

    def rect(x, y, w, h):
        return u8(0) + u8(x) + u8(y) + dim(w) + dim(h)

    def raw_rect(x, y, w, h):
        return u8(0x80) + u32(x) + u32(y) + u32(w) + u32(h)

    def create(rid, w, h, fmt_idx=1, raw_dims=None):
        if raw_dims:
            return cmd(CREATE, u8(fmt_idx) + u8(rid) + u8(raw_dims[0]) + u8(raw_dims[1]))
        return cmd(CREATE, u8(fmt_idx) + u8(rid) + dim(w) + dim(h))

    def attach(rid, pages, claim=None):
        body = u8(len(pages)) + u8(0x80 if claim is not None else 0) + u8(rid)
        if claim is not None:
            body += u32(claim)
        for pg in pages:
            body += u8(0) + u8(pg)
        return cmd(ATTACH, body)

    def transfer(rid, r, offset=0):
        return cmd(TRANSFER, r + u8(0) + u16(offset) + u8(rid))

    def scanout(rid, r, sid=None):
        return cmd(SCANOUT, r + (u8(0x80) + u32(sid) if sid is not None else u8(0)) + u8(rid))

    def flush(rid, r):
        return cmd(FLUSH, r + u8(rid))

    def cursor(move, x, y, rid):
        return DEV + u8(2) + u8(1 if move else 0) + u8(0) + u8(0) + u16(x) + u16(y) + u8(rid) + \
            u8(1) + u8(1)

    shot = DEV + u8(3)
    pre = u8(1) + u16(64) + u16(48) + u8(0x07) + u8(QSIZE16)
    full = rect(0, 0, 64, 48)
    write("virtio_gpu", "display-2d",
          pre + shot + cmd(DISPLAY_INFO, u8(0)) + cmd(EDID, u8(0), shape=1) +
          create(1, 64, 48) + attach(1, [0, 1, 2]) + ram(DATA, b"\x10\x20\x30\x40" * 16) +
          transfer(1, full) + scanout(1, full) + flush(1, full) + shot +
          cursor(False, 10, 10, 1) + cursor(True, 20, 20, 0) +
          scanout(1, rect(8, 8, 16, 16)) + transfer(1, rect(8, 8, 16, 16), 8 * 256 + 32) + shot +
          cmd(DETACH, u8(1)) + transfer(1, full) + cmd(UNREF, u8(1)) + shot +
          scanout(0, full) + shot)
    write("virtio_gpu", "hostile",
          pre + create(0, 8, 8) + create(1, 8, 8, fmt_idx=0x80) + u32(99) +
          create(1, 0, 0, raw_dims=(0xf0, 0xf0)) + create(2, 0, 0, raw_dims=(0xf5, 0xf1)) +
          create(3, 4, 4) + create(3, 4, 4) + attach(3, [0], claim=0xFFFFFFFF) +
          attach(3, [], claim=0) + attach(3, [0]) + attach(3, [1]) +
          transfer(3, raw_rect(0xFFFFFFFF, 0, 2, 2)) + transfer(3, rect(0, 0, 4, 4), 4000) +
          transfer(3, rect(2, 2, 4, 4)) + scanout(3, rect(0, 0, 4, 4), sid=1) +
          scanout(3, rect(0, 0, 5, 4)) + scanout(5, rect(0, 0, 1, 1)) +
          flush(4, rect(0, 0, 1, 1)) + cmd(EDID, u8(1)) + cmd(CAPSET, u8(4)) +
          cmd(TRANSFER, b"", shape=0x04 | 0x08, cut=30) + DEV + u8(0) + u8(0x80) + u8(0x20) +
          u32(0x0400) + u8(3) + u8(7) + cmd(UNREF, u8(9)) + cmd(DETACH, u8(4)) +
          cmd(DETACH, u8(3)) + cmd(DETACH, u8(3)))
    # a 256 MiB resource fills the budget; more is refused until it goes
    write("virtio_gpu", "budget",
          u8(3) + pre[1:] + create(1, 0, 0, raw_dims=(0xf4, 0xf4)) + create(2, 1, 1) + cmd(UNREF, u8(1)) +
          create(2, 1, 1) + create(3, 0, 0, raw_dims=(0xf5, 0xf1)))
    # 514 resources: two past the count cap
    write("virtio_gpu", "count",
          u8(0) + u8(0x07) + u8(QSIZE16) +
          b"".join(cmd(CREATE, u8(1) + u8(0x80) + u32(100 + i) + dim(1) + dim(1))
                   for i in range(514)))
    # 100 requests in one kick: past the per-wakeup budget of 64
    write("virtio_gpu", "batch",
          u8(0) + u8(0x07) + u8(7) +
          b"".join(cmd(CREATE, u8(1) + u8(0x80) + u32(100 + i) + dim(2) + dim(2), shape=0x80)
                   for i in range(100)) + kick(0) + POLL + POLL +
          u8(OP_CONFIG) + u16(4) + u8(0x22) + u64(1) + u8(OP_CONFIG) + u16(0) + u8(0x02) + u64(0))


def snd():
    DEV = u8(OP_DEVICE)
    (PCM_INFO, SET_PARAMS, PREPARE, START, STOP, RELEASE, CHMAP_INFO, JACK_INFO,
     JACK_REMAP, CTL_INFO) = range(10)

    def ctl(sel, body=b"", shape=0, extra=b""):
        return DEV + u8(0) + u8(sel) + u8(shape) + body + extra

    def info(sel, start, count, raw=False):
        if raw:
            return ctl(sel, u8(0xC0) + u32(start) + u32(count))
        return ctl(sel, u8(start | count << 2))

    def params(stream, fmt_idx, stereo, rate_idx, period_x=4, periods_x=3):
        b = (stream & 1) | (0x02 if stereo else 0) | ((fmt_idx & 3) << 2) | \
            (0x08 if fmt_idx & 4 else 0)
        return ctl(SET_PARAMS, u8(b) + u8(period_x) + u8(periods_x) + u8(0) + u8(rate_idx))

    def cmd(sel, stream):
        return ctl(sel, u8(stream) + u8(0))

    def pcm(out, frames24, shape=0, sid=0):
        return DEV + u8(1 if out else 2) + u8(shape) + u8(sid) + u16(frames24)

    def wait(units=250):
        return DEV + u8(3) + u8(units)

    pre = u8(0x03) + u8(QSIZE16)
    write("virtio_snd", "playback",
          u8(0) + pre + info(PCM_INFO, 0, 2) + info(CHMAP_INFO, 0, 2) + info(JACK_INFO, 0, 0) +
          params(0, 0, True, 7) + cmd(PREPARE, 0) + pcm(True, 4) + pcm(True, 4, shape=2) +
          cmd(START, 0) + wait() + POLL + pcm(True, 4) + pcm(True, 1) + wait() + POLL +
          cmd(STOP, 0) + pcm(True, 4) + cmd(START, 0) + wait() + POLL + cmd(STOP, 0) +
          cmd(RELEASE, 0) + cmd(PREPARE, 0) + pcm(True, 2) + cmd(RELEASE, 0))
    for name, mode, fmt, stereo, rate in (("capture-s16", 2, 0, True, 6), ("capture-u8", 1, 1, False, 1),
                                          ("capture-float", 4, 3, True, 12),
                                          ("capture-silence", 0, 2, False, 7)):
        write("virtio_snd", name,
              u8(mode) + pre + params(1, fmt, stereo, rate) + cmd(PREPARE, 1) +
              pcm(False, 4, sid=1) + pcm(False, 2, shape=3, sid=1) + cmd(START, 1) + wait() +
              POLL + pcm(False, 1, sid=1) + wait() + POLL + cmd(STOP, 1) + cmd(RELEASE, 1))
    write("virtio_snd", "hostile",
          u8(8) + pre + info(PCM_INFO, 0xFFFFFFFF, 2, raw=True) + info(PCM_INFO, 1, 2) +
          ctl(PCM_INFO, u8(0x20) + u8(0)) + ctl(CHMAP_INFO, u8(0x30 | 4) + u8(200) + u8(1) + u32(9999)) +
          info(JACK_INFO, 0, 1) + ctl(JACK_REMAP, u8(0) + u8(0)) + ctl(CTL_INFO) +
          ctl(0x80, extra=b"", body=u32(0xFFFF)) +
          params(0, 5, True, 14) + params(0, 0, True, 15) + params(0, 4, True, 7) +
          ctl(SET_PARAMS, u8(0x10) + u8(4) + u8(3) + u8(0) + u8(3) + u8(7)) +
          ctl(SET_PARAMS, u8(0x20) + u8(4) + u8(3) + u8(0) + u32(1) + u8(7)) +
          ctl(SET_PARAMS, u8(0x80) + u32(6) + u8(3) + u8(0) + u8(7)) +
          ctl(SET_PARAMS, u8(0xC0) + u32(1 << 20) + u32(2) + u8(0) + u8(7)) +
          ctl(SET_PARAMS, u8(0x02) + u8(4) + u8(3) + u8(0x42) + u8(7)) +
          pcm(True, 4) + cmd(START, 0) + cmd(PREPARE, 1) + params(0, 0, True, 7) +
          cmd(START, 0) + cmd(PREPARE, 0) + pcm(True, 4, sid=0x41) + pcm(True, 0x8001) +
          pcm(True, 0x7FFF) + pcm(True, 4, shape=0x10) + u8(3) + pcm(True, 4, shape=0x20) + u8(2) +
          cmd(START, 0) + params(0, 0, True, 7) + cmd(RELEASE, 0) +
          ctl(PREPARE, u8(0) + u8(0), shape=1, extra=u8(6)) + ctl(PCM_INFO, u8(8), shape=2, extra=u8(3)) +
          pcm(True, 4) + pcm(True, 4) + RESET + pcm(True, 4))
    # 70 messages held while the stream is prepared: the cap is 64
    write("virtio_snd", "held-cap",
          u8(0) + u8(0x03) + u8(7) + params(0, 1, False, 1) + cmd(PREPARE, 0) +
          b"".join(pcm(True, 1, shape=0x80) for _ in range(70)) + kick(2) + cmd(START, 0) +
          wait() + POLL + POLL + cmd(STOP, 0) + cmd(RELEASE, 0))

    def wav(tag, channels, rate, bits, frames, ext=False):
        align = channels * bits // 8
        data = bytes((i * 37) & 0xFF for i in range(frames * align))
        if ext:
            fmt = u16(0xFFFE) + u16(channels) + u32(rate) + u32(rate * align) + u16(align) + \
                u16(bits) + u16(22) + u16(bits) + u32(0) + u16(tag) + \
                bytes([0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38,
                       0x9B, 0x71])
        else:
            fmt = u16(tag) + u16(channels) + u32(rate) + u32(rate * align) + u16(align) + u16(bits)
        body = b"WAVE" + b"fmt " + u32(len(fmt)) + fmt + b"LIST" + u32(3) + b"abc\0" + \
            b"data" + u32(len(data)) + data
        return b"RIFF" + u32(len(body)) + body

    for name, w in (("wav-ext-float", wav(3, 2, 22050, 32, 40, ext=True)),
                    ("wav-s32-8ch", wav(1, 8, 768000, 32, 10)),
                    ("wav-streamed", wav(1, 1, 1000, 16, 30)[:-8])):
        write("virtio_snd", name,
              u8(5) + u16(len(w)) + w + pre + params(1, 0, True, 7) + cmd(PREPARE, 1) +
              pcm(False, 8, sid=1) + cmd(START, 1) + wait() + POLL + cmd(STOP, 1) +
              cmd(RELEASE, 1))


def watchdog():
    (RESET, QCUR, QCOUNT, SETCOUNT, QRUN, SETRUN, QSTOP, SETSTOP, QREBOOT, SETREBOOT, QSTATUS,
     SETSTATUS) = range(12)

    def act(a, param=0):
        return u8(1) + u8(a) + u8(0) + u16(param)

    def reg(off, width_log2, write, value=0):  # off from the watchdog's base
        return u8(0) + u8(off + 4) + u8(width_log2 | (4 if write else 0)) + u64(value)

    state = u8(3)
    probe = act(QSTATUS) + act(SETSTATUS) + act(QRUN) + act(SETREBOOT) + act(SETCOUNT, 300)
    write("watchdog", "linux-driver",
          u8(0) + probe + act(SETRUN) + act(RESET) + act(QCUR) + act(RESET) + state +
          act(SETCOUNT, 50) + act(RESET) + act(QCOUNT) + act(SETSTOP) + act(QSTOP) + state +
          act(SETCOUNT, 0) + act(SETCOUNT, 36001) + act(SETRUN) + act(SETRUN) + act(SETSTOP))
    write("watchdog", "fired-before", u8(1) + probe + act(QSTATUS) + act(QREBOOT))
    # unaligned, wide and partial accesses; bytes outside the registers
    write("watchdog", "registers",
          u8(0) + reg(4, 2, True, 0) + reg(4, 2, True, 0xFFFFFFFF) + reg(0, 0, True, 1) +
          reg(8, 2, False) + reg(12, 0, True, 1) + reg(2, 2, True, 0x01000000) +
          reg(3, 3, True, 0xFFFFFFFFFFFFFFFF) + reg(16, 3, True, 1) + reg(-4, 3, False) +
          reg(18, 2, False) + reg(5, 1, True, 0x1234) + reg(0, 2, True, 0) + reg(16, 0, True, 1) +
          state)
    # the neighbours on the bus: UART, RTC, i8042, power registers
    write("watchdog", "ports",
          u8(0) + b"".join(u8(2) + u8(i) + u8(0) + u32(0x5A) + u8(2) + u8(i) + u8(4) + u32(0)
                           for i in range(11)) + u8(2) + u8(0x80) + u16(0x612) + u8(2) + u32(7))


def api_request():
    def lines(*ls):
        return b"\n".join(ls) + b"\n"

    write("api_request", "good", lines(
        b'{"cmd":"status"}',
        b'  {"cmd":"input","args":{"key":"KEY_A","action":"press"},"id":7}  \r',
        b'{"args":null,"cmd":"kill","id":"x1"}',
        b'{"cmd":"shutdown","args":{"timeout":2.5},"id":-9223372036854775808}',
        b'{"cmd":"screenshot","args":{"path":"/tmp/\\u00e9.png"},"$comment":1}',
        b'{"cmd":"a.b-c_d:e"}'))
    write("api_request", "bad", lines(
        b'', b'   ', b'{"cmd":"status"} {"cmd":"kill"}', b'{"cmd":"status"',
        b'[1,2]', b'"status"', b'123', b'{"cmd":""}', b'{"cmd":"' + b"x" * 65 + b'"}',
        b'{"cmd":"st atus"}', b'{"cmd":"\\u0000x"}', b'{"cmd":1}', b'{"args":{}}',
        b'{"cmd":"status","args":[1]}', b'{"cmd":"status","id":1.5}',
        b'{"cmd":"status","id":{}}', b'{"cmd":"status","arg":{}}',
        b"{'cmd':'status'}", b'{"cmd":"status",}', b'{"cmd":"s\x00"}',
        b'{"cmd":"x","args":' + b'{"a":' * 20 + b'1' + b'}' * 21,
        b'{"cmd":"x","args":{"a":[[[[[[[[[[[[[[1]]]]]]]]]]]]]]}}',
        b'{"cmd":"status","cmd":"kill"}', b'{"cmd":"status"}\x00'))


def bundle():
    # what `avp spec` writes, comments shortened
    write("bundle", "default", b"""{
  "$comment": "avp bundle: one VM.",
  "kernel": "vmlinuz",
  "initrd": "initrd.img",
  "cmdline": "console=ttyS0 panic=-1",
  "cpus": { "$comment": "vCPUs", "count": 1 },
  "memory": { "mib": 256, "reserve": false },
  "scheduling": { "class": "normal" },
  "serial": "stdio",
  "devices": [
    { "$comment": "types", "type": "rng" },
    { "type": "console", "backend": "file:hvc0.log" }
  ],
  "restart": { "policy": "on-failure", "max_restarts": 5, "backoff_ms": 1000 },
  "shutdown_timeout_s": 10
}
""")
    write("bundle", "full", b"""{
  "kernel": "vmlinuz", "initrd": "/abs/initrd.img", "cmdline": "console=ttyS0",
  "critical": true, "cpus": {"count": 2, "affinity": [0, 1]},
  "memory": {"mib": 512, "reserve": true}, "scheduling": {"class": "fifo", "priority": 50},
  "serial": "file:serial.log", "shutdown_timeout_s": 30,
  "restart": {"policy": "always", "max_restarts": 0, "backoff_ms": 60000},
  "devices": [
    {"type": "disk", "path": "disk.img"}, {"type": "disk", "path": "ro.img", "read_only": true},
    {"type": "net", "tap": "tap0", "mac": "52:54:00:12:34:56"},
    {"type": "net", "network": "backbone", "mac": "52:54:00:00:00:02"},
    {"type": "rng"}, {"type": "console", "backend": "file:hvc0.log"},
    {"type": "vsock", "cid": 42, "socket": "v.sock"}, {"type": "gpu", "width": 800, "height": 600},
    {"type": "input", "kind": "keyboard"}, {"type": "input", "kind": "touch", "width": 800, "height": 480},
    {"type": "sound", "out": "out.wav", "in": "in.wav"}, {"type": "watchdog", "action": "reset"}
  ]
}""")
    write("bundle", "errors", b"""{"kernel": "missing", "cpus": {"count": 65},
  "devices": [{"type": "disk"}, {"type": "net", "tap": "a", "network": "b"}, {"type": "floppy"}]}""")
    write("bundle", "dup", b"""{"kernel": "vmlinuz", "devices": [{"type": "disk", "path": "disk.img"},
  {"type": "disk", "path": "./disk.img"}, {"type": "disk", "path": "disk.img"}]}""")
    write("bundle", "missing-files", b"""{"kernel": "nope/vmlinuz", "initrd": "initrd.img",
  "devices": [{"type": "disk", "path": "sub"}, {"type": "disk", "path": "/nonexistent/x.img"}],
  "cpus": {"count": 1, "affinity": [4000]}}""")


def system():
    write("system", "two-vms", b"""{"vms": [{"id": "cluster", "bundle": "a"}, {"id": "ivi", "bundle": "b"}],
  "networks": [{"name": "backbone", "members": ["cluster", "ivi"]}]}""")
    write("system", "errors", b"""{"vms": [{"id": "a", "bundle": "a"}, {"id": "a", "bundle": "b"},
  {"id": "-x", "bundle": "c"}], "networks": [{"name": "BAD!", "members": ["zz"]}]}""")
    write("system", "critical-clash", b"""{"vms": [{"id": "one", "bundle": "c"}, {"id": "two", "bundle": "c"}]}""")
    write("system", "not-member", b"""{"vms": [{"id": "cluster", "bundle": "a"}, {"id": "nobody", "bundle": "missing"},
  {"id": "abs", "bundle": "/nonexistent"}], "networks": []}""")
    write("system", "can-bus", b"""{"vms": [{"id": "cluster", "bundle": "e"}, {"id": "ivi", "bundle": "f"}],
  "can": [{"name": "body", "members": ["cluster", "ivi"],
           "rules": {"ivi": {"tx": ["0x300-0x3ff", "ext:0x18000000-0x18ffffff"], "rx": ["std:0x100-0x1ff"]}}},
          {"name": "chassis", "interface": "vcan1", "members": ["ivi"], "rules": {"ivi": {"tx": []}}}]}""")
    write("system", "can-errors", b"""{"vms": [{"id": "cluster", "bundle": "e"}],
  "can": [{"name": "body", "members": ["cluster", "x"], "rules": {"y": {"tx": ["0x1-0x5", "std:0x3"]}}}]}""")


def options():
    # One option value, given to every device type (fuzz/fuzz_options.c).
    write("options", "can-rules", b"if=vcan0,fd=on,tx=std:0x100-0x1ff+ext:0x18000000-0x18ffffff+0x7ff,rx=none")
    write("options", "can-bus", b"bus=body,if=vcan0,tx=0x300-0x3ff,rx=both:0-0x1fffffff")


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


def pci():
    def cfg(slot, off, v, ln=4, w=1):
        return u8(0) + u8(slot) + u16(off) + u8({1: 0, 2: 1, 4: 2, 8: 3}[ln]) + u8(w) + u64(v)

    def bar(off, v, ln=4, w=1):
        return u8(1) + u16(off & 0xffff) + u8(off >> 16) + u8({1: 0, 2: 1, 4: 2, 8: 3}[ln]) + \
            u8(w) + u64(v)
    init = u8(3) + u8(1) + u8(0)
    irqs = u8(2) + u8(0) + u8(2) + u8(2) + u8(2) + u8(4)
    sizing = cfg(1, 0x10, 0xffffffff) + cfg(1, 0x10, 0, w=0) + cfg(1, 0x10, 0xe1000000)
    move = cfg(2, 0x10, 0xe1000000) + bar(0x12, 0, 2, 0) + cfg(2, 0x10, 0xe1004000)
    write("pci", "init-irqs", init + irqs + bar(0x3c00, 0, 8, 0) + bar(0x1000, 0, 1, 0))
    write("pci", "bar-sizing-overlap", sizing + move + init + irqs)
    masked = init[:-1] + u8(0x0f) + irqs + bar(0x3800 + 12, 0) + bar(0x3810 + 12, 0) + bar(0x3c00, 0, 8, 0)
    write("pci", "masked-pending", masked)
    cfgcap = cfg(1, 0x40 + 12 + 16 * 4 + 4 + 4, 0, 1) + cfg(1, 0x40 + 12 + 16 * 4 + 4 + 8, 0x12) + \
        cfg(1, 0x40 + 12 + 16 * 4 + 4 + 12, 2) + cfg(1, 0x40 + 12 + 16 * 4 + 4 + 16, 0, 4, 0)
    write("pci", "odd-accesses", cfg(1, 1, 0, 2, 0) + cfg(1, 0, 0, 8, 0) + bar(0x13, 0xffff, 2) +
          bar(0x3802, 0, 2, 0) + cfgcap + cfg(1, 0x4c, 0xffff, 2))


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


# ---- the arm64 PrimeCells and Image (fuzz/fuzz_pl0*.c, fuzz_sp805.c, fuzz_arm64_image.c) ----
def mmio_w(off, v, width=2):
    """An access op: u16 offset, how (bit 7: raw offset; bits 0-1: width
    log2; bit 2: write), u32 value."""
    return u8(0) + u16(off) + u8(0x80 | 0x04 | width) + u32(v)


def mmio_r(off, width=2):
    return u8(0) + u16(off) + u8(0x80 | width) + u32(0)


def pl011():
    # amba-pl011's startup: LCR_H 8N1 + FIFOs, IFLS, CR enable, IMSC RX|RT
    start = (mmio_w(0x2C, 0x70) + mmio_w(0x34, 0x12) + mmio_w(0x30, 0x301) +
             mmio_w(0x38, 0x50))
    rx = u8(1) + u8(5) + b"hello" + mmio_r(0x40) + mmio_r(0x00) + mmio_r(0x18) + u8(2)
    write("pl011", "startup-rx", start + rx)
    write("pl011", "tx-irq", start + mmio_w(0x38, 0x20) + mmio_w(0x00, 0x41) + mmio_r(0x40) +
          mmio_w(0x44, 0x7FF) + u8(2))
    write("pl011", "loopback-overrun", mmio_w(0x30, 0x381) + mmio_w(0x00, 1) + mmio_w(0x00, 2) +
          mmio_r(0x04) + mmio_r(0x00) + u8(2))
    write("pl011", "ids", b"".join(mmio_r(0xFE0 + 4 * i) for i in range(8)) + u8(2))


def pl031():
    start = u64(1700000000 * 10**9)
    write("pl031", "alarm", start + mmio_w(0x08, 100) + mmio_w(0x04, 103) + mmio_w(0x10, 1) +
          u8(1) + u32(3000) + mmio_r(0x14) + mmio_w(0x1C, 1) + u8(2))
    write("pl031", "counter", start + mmio_r(0x00) + u8(1) + u32(1500) + mmio_r(0x00) +
          mmio_w(0x0C, 1) + u8(2))


def sp805():
    unlock = u8(1)
    arm = unlock + mmio_w(0x000, 999) + mmio_w(0x00C, 0) + mmio_w(0x008, 3) + mmio_w(0xC00, 0)
    write("sp805", "linux-arm-expire", u8(1) + arm + u8(2) + u32(1500000) + u8(3) + u8(2) +
          u32(1000000) + u8(3))
    write("sp805", "linux-ping", u8(1) + arm + u8(2) + u32(800000) + unlock + mmio_w(0x00C, 0) +
          u8(2) + u32(800000) + mmio_r(0x004) + u8(3))


def pl061():
    def acc(off, v, write_=True):
        return u8(0) + u16(off) + u8(0x80 | (0x04 if write_ else 0) | 2) + u32(v)
    # gpio-keys on line 3: both edges, unmasked; press, ack, release
    keys = acc(0x400, 0) + acc(0x404, 0) + acc(0x408, 8) + acc(0x410, 8)
    write("pl061", "power-button", keys + u8(1) + u8(3) + u8(1) + acc(0x418, 0, False) +
          acc(0x41C, 8) + u8(1) + u8(3) + u8(0) + u8(2))
    write("pl061", "data-mask", acc(0x400, 0x0F) + acc(0x3FC, 0xFF) + acc(0x008, 0) +
          acc(0x3FC, 0, False) + u8(2))
    write("pl061", "level", acc(0x404, 0x30) + acc(0x40C, 0x10) + acc(0x410, 0x30) +
          u8(1) + u8(4) + u8(1) + u8(2))


def arm64_header(text_offset, image_size, flags, size=64):
    """An arm64 Image's header (booting.rst), zero-padded to size bytes."""
    h = bytearray(size)
    h[0:4] = u32(0x14000010)
    h[8:16] = u64(text_offset)
    h[16:24] = u64(image_size)
    h[24:32] = u64(flags)
    h[0x38:0x3C] = u32(0x644D5241)
    return bytes(h)


def arm64_image():
    header = arm64_header
    pre = u8(1) + u32(16 << 20) + u64(0x40000000) + u32(256)
    write("arm64_image", "v6", pre + header(0, 40 << 20, 0xA))
    write("arm64_image", "text-offset", pre + header(0x80000, 20 << 20, 0x2))
    write("arm64_image", "legacy", pre + header(0x80000, 0, 0))
    write("arm64_image", "gzip", pre + bytes([0x1F, 0x8B, 8]) + bytes(61))


def arm64_gunzip():
    import gzip
    def header(text_offset, image_size, flags):
        return arm64_header(text_offset, image_size, flags, 4096)
    gz = lambda b: gzip.compress(b, compresslevel=6, mtime=0)
    image = gz(header(0, 8 << 20, 0xA))
    pre = u16(1024) + u16(16 * 1024)
    write("arm64_gunzip", "image", pre + image)
    write("arm64_gunzip", "cut-short", pre + image[: len(image) // 2])
    write("arm64_gunzip", "zeros-past-limit", u16(64) + u16(1024) + gz(bytes(2 << 20)))
    write("arm64_gunzip", "padded", pre + image + bytes(16))
    write("arm64_gunzip", "stored", pre + gzip.compress(header(0x80000, 0, 0)[:1024],
                                                        compresslevel=0, mtime=0))


if __name__ == "__main__":
    for gen in (virtqueue, blk, net, console, rng, can, vsock, vinput, gpu, snd, watchdog, api_request, bundle, system, options, mmio, pci, bzimage, cli,
                pl011, pl031, sp805, pl061, arm64_image, arm64_gunzip):
        gen()
