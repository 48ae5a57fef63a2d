#!/bin/bash
# The conformance suite's self-test lives with the suite
# (conformance/selftest.sh); it is here so that tests/realguest/all.sh and
# scripts/testhost-suite run and account for it like every real-guest test.
exec bash "$(dirname "${BASH_SOURCE[0]}")/../../conformance/selftest.sh" "$@"
