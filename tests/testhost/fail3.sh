#!/bin/bash
# testhost self-test: a script that fails with a specific status.
echo "fail3.sh: exiting with status 3"
exit 3
