#!/bin/bash
# testhost self-test: a script that succeeds (and shows what it sees).
set -euo pipefail
echo "ok.sh: AVP_TESTHOST=${AVP_TESTHOST:-unset} cwd=$PWD kvm=$(ls -l /dev/kvm 2>&1)"
echo "ok.sh: args:$(printf ' [%s]' "$@")"
