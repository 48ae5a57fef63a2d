#!/bin/bash
# testhost self-test: a runner shaped like tests/realguest/all.sh for
# scripts/testhost-suite. Tests a, b, c; b crashes the test host's kernel
# the first time it runs for TOKEN (nested test host only).
# usage: suite-runner.sh TOKEN [--from NAME]
token=$1 from=${3:-}
flag=build/testhost/out/suite-crashed-$token
for t in a b c; do
    if [[ -n "$from" ]]; then [[ "$t.sh" = "$from" ]] || continue; from=; fi
    echo "=== tests/testhost/$t.sh"
    echo "$t: ok - first check"
    if [[ $t = b && ! -e $flag ]]; then
        [[ "${AVP_TESTHOST:-}" = nested ]] || { echo "b: not ok - refusing to crash outside the nested test host"; exit 1; }
        touch "$flag"
        sync
        echo c >/proc/sysrq-trigger
        sleep 30
    fi
    [[ $t = b ]] && echo "b: ok - second check, after the point where the first run died"
done
exit 0
