#!/usr/bin/python3
"""Started by the nested test host's /init before the test script: hold one
idle KVM VM (in-kernel irqchip, one vCPU) until the test host powers off.

Why: the test host runs on multi-threaded TCG, which now and then executes a
stale translation of kernel text that the kernel has just patched (a static
key flip), and the test host dies of "Oops: int3" in __schedule or
kvm_arch_vcpu_ioctl_run. KVM flips such keys whenever the number of VMs goes
0 -> 1 -> 0 (the scheduler's preempt-notifier key) and when the first vCPU
with a disabled LAPIC appears or the last one goes (KVM's LAPIC keys): with
this VM alive, those flips happen once, here, before any test runs, instead
of at every VM start and end during the tests. A crash here costs nothing:
scripts/testhost boots the test host again when it died before the script
started.

Deliberately no perf event: the test host's KVM has no vPMU (enable_pmu=N,
"PMU virtualization is disabled"), so nothing flips the perf scheduling key
unless somebody opens a task-bound perf event, and opening one is exactly
such a flip (it crashed a CI run on 2026-11-26).
"""
import fcntl
import os
import signal
import sys
import time

KVM_CREATE_VM = 0xAE01
KVM_CREATE_VCPU = 0xAE41
KVM_CREATE_IRQCHIP = 0xAE60


def main():
    try:
        kvm = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
        vm = fcntl.ioctl(kvm, KVM_CREATE_VM, 0)
        fcntl.ioctl(vm, KVM_CREATE_IRQCHIP, 0)
        fcntl.ioctl(vm, KVM_CREATE_VCPU, 0)   # its LAPIC starts software-disabled
    except OSError as e:
        print(f"not holding a VM: {e}", flush=True)
        return 1
    print(f"holding an idle KVM VM with one vCPU (pid {os.getpid()})", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
