#!/bin/sh
# avp.test=idle: a guest that stays up doing nothing until the host stops
# it (runtime lifecycle tests).
echo "idle-test: up"
sleep 3600
