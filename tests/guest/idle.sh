#!/bin/sh
# avp.test=idle: a guest that stays up doing nothing until the host stops
# it (runtime lifecycle tests). Like a real system it powers off when the
# host presses the ACPI power button.
powerbtn &
echo "idle-test: up"
sleep 3600
