#!/bin/bash
# testhost self-test: the test host's kernel dies while the script runs.
# Only ever inside the nested test host: it crashes the kernel it runs on.
[[ "${AVP_TESTHOST:-}" = nested ]] || { echo "panic.sh: refusing outside the nested test host" >&2; exit 2; }
echo "panic.sh: crashing the test host kernel"
sync
echo c >/proc/sysrq-trigger
sleep 30
echo "panic.sh: still alive after the crash request"
exit 1
