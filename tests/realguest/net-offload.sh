#!/bin/bash
# virtio-net offloads at work (AVP-NET-3): the reference guest on avp
# negotiates checksum and TCP segmentation offloads both ways and moves
# 32 MiB each way over TCP with the host (link-local fe80::2 <-> fe80::1
# on a tap), every byte checked at the receiving end (tests/guest/net_bulk.c,
# guest side tests/guest/net-offload.sh). GSO is shown from both ends:
# frames larger than Ethernet's 1514 bytes, on average, in the guest's eth0
# and the host's tap statistics (a GSO frame counts as one packet).
# One vCPU: twice, with two, the guest kernel died on its second vCPU
# within 4 s of boot, before any traffic (a recursive page fault on its
# per-CPU GS base; then a triple fault), in the nested test host.
# NET_QUEUES=N (tests/realguest/net-mq.sh): N vCPUs and `queues=N` on a
# multi_queue tap, 4 MiB each way, and the guest checks CTRL_VQ, MQ and
# its N queue pairs too.
#   scripts/testhost tests/realguest/net-offload.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh
source tests/lib/realguest.sh
source tests/lib/netbulk.sh

rg_setup
work=$(mktemp -d /tmp/avp-net-offload.XXXXXX)
q=${NET_QUEUES:-}
tap=avpt3 name=net-offload mib=32
[ -n "$q" ] && tap=avpt5 name=net-mq mib=4
cleanup() { [ -n "${nb_pid:-}" ] && kill "$nb_pid" 2>/dev/null; ip link del "$tap" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

rg_guest_has tests/net-offload.sh && rg_guest_has tests/bin/net_bulk ||
	{ notok "the guest image lacks net-offload.sh/net_bulk (run scripts/mkguest)"; finish; exit 1; }
nb_build "$work" || { notok "cannot build the host's net_bulk"; finish; exit 1; }
nb_tap "$tap" ${q:+multi_queue} || { notok "cannot create tap $tap"; finish; exit 1; }
nb_serve "$tap" "$out/$name-host.log"
read -r rb0 rp0 tb0 tp0 < <(nb_counts "$tap")

log="$out/$name.log"
rg_boot "$name boot" "$log" timeout -k 5 400 "$avp" run --kernel "$kernel" --initrd "$initrd" \
	--cmdline "console=ttyS0 panic=-1 quiet avp.test=net-offload avp.mib=$mib${q:+ avp.netq=$q}" \
	${q:+--cpus "$q"} --memory 256 --net "tap=$tap,mac=52:54:00:12:34:58${q:+,queues=$q}"
tr -d '\r' <"$log" >"$log.txt"
read -r rb1 rp1 tb1 tp1 < <(nb_counts "$tap")
# The server is done once the guest closed; one the guest never reached
# must not hold the test for its whole timeout.
for _ in $(seq 50); do kill -0 "$nb_pid" 2>/dev/null || break; sleep 0.2; done
kill "$nb_pid" 2>/dev/null
wait "$nb_pid"
src=$?
nb_pid=
sed 's/^/  | /' "$log.txt" | grep -E 'net-offload|net_bulk|NET_BULK|avp:' | tail -n 30
sed 's/^/  host | /' "$out/$name-host.log"

check_eq "$rc" 0 "guest powered off, avp exit 0"
rg_guest_checks "$log.txt" net-offload
check_grep "$log.txt" "^$GUEST_PASSED" "every guest-side check passed"
check_eq "$src" 0 "host's net_bulk received the guest's $mib MiB intact and sent its own: $(grep -h '^net_bulk: \(not \)\?ok' "$out/$name-host.log" | tail -n 1)"
rx_avg=$(nb_avg "$rb0" "$rp0" "$rb1" "$rp1")
tx_avg=$(nb_avg "$tb0" "$tp0" "$tb1" "$tp1")
if [ "$rx_avg" -gt 1514 ]; then ok "host tap received GSO frames from the guest: $((rp1 - rp0)) frames, $rx_avg bytes on average"
else notok "host tap received no GSO frames from the guest: $((rp1 - rp0)) frames, $rx_avg bytes on average"; fi
if [ "$tx_avg" -gt 1514 ]; then ok "host tap sent GSO frames to the guest: $((tp1 - tp0)) frames, $tx_avg bytes on average"
else notok "host tap sent no GSO frames to the guest: $((tp1 - tp0)) frames, $tx_avg bytes on average"; fi
# And with queues: it opened every tap queue and refused no command.
bad='bad transmit header\|setting tap offloads\|not a multi-queue\|tap queue\|control commands refused'
if grep -q "$bad" "$log.txt"; then
	notok "avp complained: $(grep -m1 "$bad" "$log.txt")"
else
	ok "avp dropped no transmit header and set the tap's offloads${q:+; it opened $q tap queues}"
fi
finish
