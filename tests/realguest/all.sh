#!/bin/bash
# Every real-guest test, one after another, inside one test-host boot:
#   scripts/testhost tests/realguest/all.sh
# Exits non-zero when any of them failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
rc=0
for t in tests/realguest/*.sh; do
	[ "$t" = tests/realguest/all.sh ] && continue
	echo "=== $t"
	bash "$t" || { echo "=== $t FAILED"; rc=1; }
done
exit $rc
