#!/usr/bin/python3
"""A stand-in for a container engine's monitor (conmon, containerd's shim),
for tests/cli/oci.sh: it makes itself a child subreaper as they do, runs
`avp create` with runc's options (--pid-file, and --console-socket with a
socket of its own that receives the pty master by SCM_RIGHTS), reads the
state, starts the container, waits for the container process (which became
its child when `avp create` exited) and prints what it saw as one JSON
object: create/start exit statuses, the states, the container's exit
status, what came out of the console.

usage: oci_engine.py AVP ROOT LOG ID BUNDLE [--console]
           [--stdout FILE [--stderr FILE] [--wait-for TEXT [--timeout S] --kill SIGNAL]]
With --stdout the container's output goes to FILE; after start the engine
waits for TEXT in it, reads the state (running), then sends SIGNAL with
`avp kill` (tests/realguest/oci.sh: the guest's power button)."""
import ctypes
import json
import os
import select
import socket
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def main():
    avp, root, log, cid, bundle = sys.argv[1:6]
    opts = sys.argv[6:]
    console = "--console" in opts

    def opt(name, default=None):
        return opts[opts.index(name) + 1] if name in opts else default

    stdout = opt("--stdout")
    stderr = opt("--stderr", stdout)
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
    sink = open(stdout, "wb") if stdout else None
    errs = open(stderr, "ab") if stderr else None
    t0 = time.monotonic()
    out["create"] = subprocess.call(create + [cid], stdout=sink, stderr=errs)
    out["create_s"] = round(time.monotonic() - t0, 3)
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
    t0 = time.monotonic()
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
    if stdout and opt("--wait-for"):
        deadline = time.monotonic() + float(opt("--timeout", "300"))
        want = opt("--wait-for").encode()
        while time.monotonic() < deadline and want not in open(stdout, "rb").read():
            time.sleep(0.2)
        out["saw"] = want in open(stdout, "rb").read()
        out["start_to_output_s"] = round(time.monotonic() - t0, 3)
        out["state_running"] = json.loads(subprocess.check_output(glob + ["state", cid]))
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            out["children"] = [int(c) for c in f.read().split()]
        out["threads"] = []
        for c in out["children"]:
            for t in os.listdir(f"/proc/{c}/task"):
                with open(f"/proc/{c}/task/{t}/comm") as f:
                    out["threads"].append(f.read().strip())
        if opt("--kill"):
            out["kill"] = subprocess.call(glob + ["kill", cid, opt("--kill")])
    _, status = os.waitpid(pid, 0)
    out["start_to_exit_s"] = round(time.monotonic() - t0, 3)
    out["exit"] = os.waitstatus_to_exitcode(status)
    out["state_stopped"] = json.loads(subprocess.check_output(glob + ["state", cid]))
    print(json.dumps(out))


main()
