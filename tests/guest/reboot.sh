#!/bin/sh
# avp.test=reboot: the guest asks for a reboot; avp must end with its
# documented reboot status (3) instead of powering off.
echo "reboot-test: rebooting"
sync
reboot -f
sleep 10
echo "reboot-test: still running after reboot -f"
exit 1
