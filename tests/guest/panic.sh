#!/bin/sh
# avp.test=panic: the kernel panics (sysrq crash). With panic=-1 it resets
# at once, which avp reports as a reboot (exit status 3); the runtime's
# restart policy decides what happens next (tests/realguest/runtime.sh).
echo "panic-test: crashing the kernel"
echo c > /proc/sysrq-trigger
sleep 10
echo "panic-test: still alive after the sysrq crash"
exit 1
