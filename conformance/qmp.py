#!/usr/bin/env python3
"""Minimal QMP client for conformance/conform (QEMU side of the conformance run).

  qmp.py events SOCK OUT       log every QMP event as one JSON line in OUT
                               until QEMU closes the socket
  qmp.py cmd SOCK JSON...      run each command ({"execute": ...}), print
                               each reply as one JSON line
  qmp.py describe SOCK         QEMU's own view of the platform as JSON:
                               x-query-virtio + x-query-virtio-status per
                               device, and the HMP 'info qtree' text

QEMU allows one client per -qmp socket, so the harness gives each VM two:
one that this script holds for events, one for commands.
"""
import json
import socket
import sys
import time


def connect(path, wait=15.0):
    # QEMU creates the socket a moment after it starts: retry until then.
    deadline = time.time() + wait
    while True:
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            break
        except OSError:
            s.close()
            if time.time() > deadline:
                raise
            time.sleep(0.1)
    f = s.makefile("rw", encoding="utf-8")
    json.loads(f.readline())  # greeting
    f.write(json.dumps({"execute": "qmp_capabilities"}) + "\n")
    f.flush()
    reply(f, None)
    return s, f


def reply(f, events):
    """Next non-event message; events seen on the way go to EVENTS."""
    while True:
        line = f.readline()
        if not line:
            raise EOFError("QEMU closed the QMP socket")
        msg = json.loads(line)
        if "event" in msg:
            if events is not None:
                events.append(msg)
            continue
        return msg


def execute(f, cmd, args=None):
    req = {"execute": cmd}
    if args:
        req["arguments"] = args
    f.write(json.dumps(req) + "\n")
    f.flush()
    return reply(f, None)


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "events":
        _, f = connect(path)
        with open(sys.argv[3], "a", encoding="utf-8") as out:
            for line in f:
                msg = json.loads(line)
                if "event" in msg:
                    out.write(json.dumps(msg) + "\n")
                    out.flush()
        return 0
    if mode == "cmd":
        _, f = connect(path)
        for c in sys.argv[3:]:
            req = json.loads(c)
            print(json.dumps(execute(f, req["execute"], req.get("arguments"))))
        return 0
    if mode == "describe":
        _, f = connect(path)
        doc = {"source": "QMP", "virtio_devices": []}
        lst = execute(f, "x-query-virtio")
        if "error" in lst:
            doc["error"] = lst["error"]
        for d in lst.get("return", []):
            st = execute(f, "x-query-virtio-status", {"path": d["path"]})
            doc["virtio_devices"].append({"name": d.get("name"), "path": d.get("path"),
                                          "status": st.get("return", st.get("error"))})
        qtree = execute(f, "human-monitor-command", {"command-line": "info qtree"})
        doc["hmp_info_qtree"] = qtree.get("return", "")
        print(json.dumps(doc, indent=1))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
