#!/usr/bin/env python3
"""Where the test host's CPU time went during one benchmark job, in a few
classes, from `perf report --sort comm,dso --percent-limit 0 --stdio`
output (bench/profile-report.sh feeds it; one line of that output per
program thread and object).

  profile-summary.py VMM JOB < report     prints one Markdown table row

The classes, as shares of the CPU time of all the test host's CPUs:
  guest      in the nested guest: perf record leaves out samples taken
             while a CPU runs a guest (exclude_guest), but their time is
             still in the total, so the guest's share is what the host's
             rows leave of 100 %
  KVM        the VMM's threads in kvm and kvm_amd: exits handled by the
             kernel, the entry into the guest
  VMM user   the VMM's own code and libraries (avp, qemu-system-x86_64,
             libc...)
  VMM kernel the host kernel on behalf of the VMM: system calls, copies,
             wake-ups, the tap, vhost's kernel threads and io_uring's
             workers (iou-wrk: requests the ring could not do without
             blocking)
  peer       the host end of the benchmark (iperf3, benchnet)
  idle       nothing to run
  other      everything else (the profiler, the shell, kernel workers)
"""
import re
import sys

VMM_COMM = re.compile(r"^(avp.*|vcpu\d+|qemu-system-x86|CPU \d+/KVM|vhost-\d+|IO .*|iou-wrk-\d+|iou-sqp-\d+)$")
PEER_COMM = re.compile(r"^(iperf3|benchnet)$")
CLASSES = ["guest", "KVM", "VMM user", "VMM kernel", "peer", "idle", "other"]


def classify(comm, dso):
    if comm == "swapper":
        return "idle"
    if VMM_COMM.match(comm):
        if dso in ("[kvm]", "[kvm_amd]"):
            return "KVM"
        if dso.startswith("[") or dso.startswith("[kernel"):
            return "VMM kernel"
        return "VMM user"
    if PEER_COMM.match(comm):
        return "peer"
    return "other"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: profile-summary.py VMM JOB < perf-report-output")
    vmm, job = sys.argv[1:]
    shares = dict.fromkeys(CLASSES, 0.0)
    samples = None
    # "    12.34%  comm with spaces  [kernel.kallsyms]": the object is the
    # last field; the command is what lies between.
    row = re.compile(r"^\s*([\d.]+)%\s+(.+?)\s+(\S+)\s*$")
    for line in sys.stdin:
        # "# Samples: 812  of event", or "3K" for thousands
        m = re.match(r"^# Samples: (\d+)([KM]?)", line)
        if m:
            samples = int(m.group(1)) * {"": 1, "K": 1000, "M": 1000000}[m.group(2)]
            continue
        if line.startswith("#"):
            continue
        m = row.match(line)
        if m:
            shares[classify(m.group(2), m.group(3))] += float(m.group(1))
    if samples is None:
        sys.exit(f"profile-summary: {vmm} {job}: no samples in the report")
    shares["guest"] = max(0.0, 100.0 - sum(shares.values()))
    cells = " | ".join(f"{shares[c]:.0f}" for c in CLASSES)
    print(f"| {job} | {vmm} | {samples} | {cells} |")


if __name__ == "__main__":
    main()
