#!/usr/bin/env python3
"""Host side of tests/realguest/vsock.sh: talks to avp's virtio-vsock
through its Unix sockets (Firecracker's convention, docs/devices.md).

  vsock_host.py serve PATH COUNT
      listens on PATH (the guest's connections to CID 2 port P arrive on
      SOCKET_P), echoes COUNT connections until each half-closes.
  vsock_host.py connect SOCKET PORT STREAMS BYTES
      opens STREAMS connections at once to the guest's port PORT
      ("CONNECT PORT\\n" on SOCKET, retried until the guest listens), sends
      BYTES random bytes on each, half-closes, checks the echo.

Prints one "ok - ..." / "not ok - ..." line per stream; exits 0 when all
were ok."""
import os
import socket
import sys
import threading
import time

DEADLINE_S = 240


def serve(path, count):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(16)
    srv.settimeout(DEADLINE_S)
    results = []

    def echo(conn, n):
        total = 0
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)
                total += len(data)
            conn.close()
            results.append(f"ok - served guest stream {n}: echoed {total} bytes")
        except OSError as e:
            results.append(f"not ok - guest stream {n}: {e} after {total} bytes")

    threads = []
    for n in range(count):
        try:
            conn, _ = srv.accept()
        except OSError as e:
            results.append(f"not ok - waiting for guest stream {n}: {e}")
            break
        conn.settimeout(60)
        t = threading.Thread(target=echo, args=(conn, n))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    srv.close()
    os.unlink(path)
    for r in results:
        print(r)
    return 0 if len(results) == count and all(r.startswith("ok") for r in results) else 1


def read_line(s, limit=64):
    line = b""
    while len(line) < limit:
        c = s.recv(1)
        if not c:
            return None
        line += c
        if c == b"\n":
            return line.decode()
    return None


def open_stream(path, port, deadline):
    """CONNECT until the guest accepts; returns (socket, 'OK <hostport>')."""
    while time.time() < deadline:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect(path)
            s.sendall(f"CONNECT {port}\n".encode())
            line = read_line(s)
            if line and line.startswith("OK "):
                return s, line.strip()
        except OSError:
            pass  # avp not up yet, or the guest not listening yet
        s.close()
        time.sleep(0.5)
    raise TimeoutError(f"no guest listener on port {port}")


def connect(path, port, streams, size):
    results = [None] * streams
    deadline = time.time() + DEADLINE_S

    def one(n):
        data = os.urandom(size)
        try:
            s, ok = open_stream(path, port, deadline)
        except Exception as e:  # pylint: disable=broad-except
            results[n] = f"not ok - stream {n}: {e}"
            return
        s.settimeout(60)
        t0 = time.time()

        def writer():
            try:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        w = threading.Thread(target=writer)
        w.start()
        got = bytearray()
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        except OSError as e:
            results[n] = f"not ok - stream {n}: {e} after {len(got)} of {size} bytes"
            w.join()
            return
        w.join()
        s.close()
        dt = time.time() - t0
        if bytes(got) == data:
            results[n] = (f"ok - host stream {n} ({ok}): {size} bytes to guest port {port} "
                          f"and back intact in {dt:.1f} s")
        else:
            first = next((i for i in range(min(len(got), size)) if got[i] != data[i]), None)
            results[n] = (f"not ok - stream {n}: {len(got)} of {size} bytes came back, "
                          f"first difference at {first}")

    threads = [threading.Thread(target=one, args=(n,)) for n in range(streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        print(r)
    return 0 if all(r and r.startswith("ok") for r in results) else 1


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        return serve(sys.argv[2], int(sys.argv[3]))
    if len(sys.argv) == 6 and sys.argv[1] == "connect":
        return connect(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
