#!/usr/bin/python3
"""A stand-in for a container engine's monitor (conmon, containerd's shim),
for tests/cli/oci.sh: it makes itself a child subreaper as they do, runs
`avp create` with runc's options (--pid-file, and --console-socket with a
socket of its own that receives the pty master by SCM_RIGHTS), reads the
state, starts the container, waits for the container process (which became
its child when `avp create` exited) and prints what it saw as one JSON
object: create/start exit statuses, the states, the container's exit
status, what came out of the console.

usage: oci_engine.py AVP ROOT LOG ID BUNDLE [--console]"""
import ctypes
import json
import os
import select
import socket
import subprocess
import sys

PR_SET_CHILD_SUBREAPER = 36


def main():
    avp, root, log, cid, bundle = sys.argv[1:6]
    console = "--console" in sys.argv[6:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("prctl(PR_SET_CHILD_SUBREAPER) failed")
    glob = [avp, "--root", root, "--log", log, "--log-format", "json"]
    pidfile = f"{root}.{cid}.pid"
    create = glob + ["create", "--bundle", bundle, "--pid-file", pidfile]
    out = {}
    listener = None
    if console:
        path = f"{root}.{cid}.sock"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(1)
        create += ["--console-socket", path]
    out["create"] = subprocess.call(create + [cid])
    if out["create"]:
        print(json.dumps(out))
        return
    pid = int(open(pidfile).read())
    out["pid"] = pid
    master = None
    if listener:
        conn, _ = listener.accept()
        msg, fds, _, _ = socket.recv_fds(conn, 4096, 1)
        out["console_name"] = msg.decode()
        master = fds[0] if fds else None
        conn.close()
    out["state_created"] = json.loads(subprocess.check_output(glob + ["state", cid]))
    out["start"] = subprocess.call(glob + ["start", cid])
    text = b""
    if master is not None:
        # Until the last writer (the VMM) closes: EIO on a pty master.
        while select.select([master], [], [], 10)[0]:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            text += chunk
        out["console"] = text.decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    out["exit"] = os.waitstatus_to_exitcode(status)
    out["state_stopped"] = json.loads(subprocess.check_output(glob + ["state", cid]))
    print(json.dumps(out))


main()
