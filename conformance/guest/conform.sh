#!/bin/sh
# avp.test=conform: the guest half of the AVP conformance suite
# (conformance/conform). The agent reads its role and parameters from the
# kernel command line (avp.conform.*) and prints AVP-RESULT lines; /init
# powers the guest off afterwards, which is itself one of the checks.
/tests/bin/avp_agent
