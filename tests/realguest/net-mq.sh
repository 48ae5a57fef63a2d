#!/bin/bash
# Multi-queue virtio-net (issue 16): net-offload.sh with a 2-vCPU guest and
# `--net tap=T,queues=2` on a multi_queue tap. The guest's driver
# negotiates CTRL_VQ and MQ and enables both pairs (one per vCPU, through
# the control queue's VQ_PAIRS_SET), and 4 MiB go each way over TCP with
# the host, every byte checked. Two vCPUs are the point here, though
# net-offload.sh keeps to one for the nested host's early second-vCPU
# deaths (rg_boot retries a boot that dies so). 22 s in the x86 test host
# (2026-12-06, in all.sh, so in CI).
#   scripts/testhost tests/realguest/net-mq.sh
NET_QUEUES=2 exec "$(dirname "${BASH_SOURCE[0]}")/net-offload.sh" "$@"
