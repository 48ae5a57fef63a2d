#!/usr/bin/env python3
"""Host-side helpers of the conformance run (conformance/inside.sh).

  host.py vsock-serve ADDR DEADLINE_S
      accept ONE connection, read one line (or until the guest
      half-closes), echo it and close: the guest then checks that its
      send fails with EPIPE (the close reached it both ways).
      ADDR is unix:PATH (avp: the guest's connections to CID 2 port P
      arrive on SOCKET_P) or vsock:PORT (QEMU vhost-vsock: AF_VSOCK on the
      host, CID 2).
  host.py vsock-connect ADDR PORT TOKEN DEADLINE_S
      open a stream to the guest's PORT (retried until the guest listens),
      send TOKEN and a newline, half-close, and check that exactly that
      comes back. ADDR is unix:SOCKET (avp: "CONNECT PORT" on the device's
      Unix socket) or vsock:CID (QEMU).
  host.py image-check FILE W H
      the four-quadrant picture of the guest's gpu_pattern (red, green /
      blue, white) in a PNG (avp's screenshot) or PPM (QEMU's screendump)
  host.py isolation A.maps B.maps
      compare two hypervisor processes' /proc/PID/maps copies: their guest
      RAM mappings and any shared file mapping they have in common

Each prints one line, "ok - ..." or "not ok - ...", and exits 0 or 1.
"""
import os
import socket
import struct
import sys
import time


def say(ok, text):
    print(("ok - " if ok else "not ok - ") + " ".join(text.split()))
    return 0 if ok else 1


def vsock_serve(addr, deadline_s):
    kind, where = addr.split(":", 1)
    if kind == "unix":
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(where)
    else:
        srv = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
        srv.bind((socket.VMADDR_CID_ANY, int(where)))
    srv.listen(4)
    srv.settimeout(float(deadline_s))
    try:
        conn, peer = srv.accept()
    except OSError as e:
        return say(False, f"guest->host: no connection to {addr} within {deadline_s} s ({e})")
    conn.settimeout(30)
    data = b""
    try:
        while not data.endswith(b"\n"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        conn.sendall(data)
        conn.close()
    except OSError as e:
        return say(False, f"guest->host stream on {addr}: {e} after {len(data)} bytes")
    finally:
        srv.close()
        if kind == "unix":
            os.unlink(where)
    return say(True, f"guest->host: echoed {len(data)} bytes ({data[:40]!r}) from {peer or 'the guest'} on {addr}")


def open_stream(kind, where, port, deadline):
    last = "no attempt"
    while time.time() < deadline:
        try:
            if kind == "unix":
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(10)
                s.connect(where)
                s.sendall(f"CONNECT {port}\n".encode())
                line = b""
                while not line.endswith(b"\n") and len(line) < 64:
                    c = s.recv(1)
                    if not c:
                        break
                    line += c
                if line.startswith(b"OK "):
                    return s, line.decode().strip()
                last = f"reply {line!r}"
            else:
                s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
                s.settimeout(10)
                s.connect((int(where), port))
                return s, f"connected to CID {where}"
        except OSError as e:
            last = str(e)
        s.close()
        time.sleep(0.5)
    raise TimeoutError(f"no guest listener on port {port} ({last})")


def vsock_connect(addr, port, token, deadline_s):
    kind, where = addr.split(":", 1)
    try:
        s, how = open_stream(kind, where, int(port), time.time() + float(deadline_s))
    except TimeoutError as e:
        return say(False, f"host->guest: {e}")
    want = (token + "\n").encode()
    s.settimeout(30)
    got = b""
    try:
        s.sendall(want)
        s.shutdown(socket.SHUT_WR)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except OSError as e:
        return say(False, f"host->guest port {port} ({how}): {e} after {len(got)} bytes")
    s.close()
    return say(got == want, f"host->guest port {port} ({how}): sent the token, "
               + ("got it back" if got == want else f"got {got[:60]!r}"))


def image_check(path, want_w, want_h):
    # Pillow (Debian's python3-pil: run this with /usr/bin/python3) reads
    # both avp's PNG and QEMU's PPM.
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as im:
            if im.format not in ("PNG", "PPM"):
                return say(False, f"{path} is {im.format}, neither PNG nor PPM")
            rgb = im.convert("RGB")
    except (OSError, ValueError, UnidentifiedImageError) as e:
        return say(False, f"cannot read {path}: {e}")
    (w, h), px = rgb.size, lambda x, y: rgb.getpixel((x, y))
    want_w, want_h = int(want_w), int(want_h)
    if (w, h) != (want_w, want_h):
        return say(False, f"screenshot is {w}x{h}, the display was configured {want_w}x{want_h}")
    # Points clear of the box gpu_pattern may add to the red quadrant.
    spots = [(w // 16, h // 16, (255, 0, 0), "red"), (3 * w // 4, h // 4, (0, 255, 0), "green"),
             (w // 4, 3 * h // 4, (0, 0, 255), "blue"), (3 * w // 4, 3 * h // 4, (255, 255, 255), "white"),
             (w - 1, 0, (0, 255, 0), "green corner"), (0, h - 1, (0, 0, 255), "blue corner"),
             (w - 1, h - 1, (255, 255, 255), "white corner")]
    bad = [f"{name} at ({x},{y}) is {px(x, y)}" for x, y, want, name in spots if px(x, y) != want]
    if bad:
        return say(False, f"{w}x{h} screenshot does not show the guest's picture: " + "; ".join(bad))
    return say(True, f"{w}x{h} screenshot shows the guest's four quadrants ({len(spots)} pixels checked)")


def maps(path):
    out, big = set(), None
    for line in open(path, encoding="utf-8", errors="replace"):
        f = line.split(None, 5)
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        name = f[5].strip() if len(f) > 5 else ""
        if (hi - lo) >= 96 << 20 and (big is None or hi - lo > big[0]):
            big = (hi - lo, f[1], name or "anonymous")
        # Shared mappings of real files/memfds (not the anon inodes that
        # KVM uses for vCPU state, which all share one inode number).
        if f[1][3] == "s" and f[4] != "0" and not name.startswith("anon_inode"):
            out.add((f[3], f[4], name))
    return out, big


def isolation(a, b):
    try:
        (sa, ba), (sb, bb) = maps(a), maps(b)
    except OSError as e:
        return say(False, f"no maps to compare ({e})")
    common = sa & sb

    def ram(x):
        return f"{x[0] >> 20} MiB {'shared' if x[1][3] == 's' else 'private'} {x[2]}" if x else "none found"
    text = (f"guest RAM a: {ram(ba)}; b: {ram(bb)}; shared file mappings in common: {len(common)}"
            + (f" ({sorted(common)[:3]})" if common else ""))
    return say(not common and ba is not None and bb is not None, text)


def main():
    a = sys.argv[1:]
    if len(a) == 3 and a[0] == "vsock-serve":
        return vsock_serve(a[1], a[2])
    if len(a) == 5 and a[0] == "vsock-connect":
        return vsock_connect(a[1], a[2], a[3], a[4])
    if len(a) == 4 and a[0] == "image-check":
        return image_check(a[1], a[2], a[3])
    if len(a) == 3 and a[0] == "isolation":
        return isolation(a[1], a[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
