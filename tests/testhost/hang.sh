#!/bin/bash
# testhost self-test: a script that never finishes (exercises --timeout).
echo "hang.sh: sleeping forever"
while :; do sleep 3600; done
