#!/bin/bash
# CAN frame latency and rate through avp's virtio-can with avp's guest
# driver (issue 15), beside the floor of the same measurement between two
# sockets on one host vcan. No peer hypervisor has a virtio-can device.
#
#   floor      two host sockets on a vcan: N round trips (cantest ping
#              against cantest echo), and a flood's frames/s
#   guest      a guest's N round trips through an echo on the host's vcan
#              (guest -> host -> guest), then a guest flood counted on the
#              host (guest -> host frames/s), then a host flood counted in
#              the guest (host -> guest)
#   vm-vm      two VMs on one vcan: N round trips from one through the
#              other's echo
# One-way latency is half a round trip (no shared clock to do better).
# Prints median, p99, mean of each; numbers from the nested test host
# (TCG under the L1 KVM) say nothing about real hardware, only about the
# distance to the floor measured in the same place.
#   scripts/testhost bench/can-latency.sh [N]      (default 10000)
# Needs build/guest/initrd-can.img and build/guest/cantest (scripts/mkguest-can).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source tests/lib/check.sh
source tests/lib/realguest.sh
N=${1:-10000}
F=20000
rg_setup bench-can
initrd=build/guest/initrd-can.img
ct=build/guest/cantest
for f in "$initrd" "$ct"; do
	[ -e "$f" ] || { echo "can-latency: $f missing (scripts/mkguest-can)" >&2; exit 1; }
done
modprobe vcan && modprobe can-raw || { echo "can-latency: cannot load vcan/can-raw" >&2; exit 1; }
work=$(mktemp -d /tmp/avp-canbench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	ip link del cbench0 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
ip link add dev cbench0 type vcan && ip link set cbench0 mtu 72 up || exit 1
res=$out/can-latency.txt
: >"$res"
say() { echo "can-latency: $*" | tee -a "$res"; }
say "$(date -u +%FT%TZ) N=$N round trips, F=$F flood frames; testhost=${AVP_TESTHOST:-?}"


# ---- floor: host sockets only
"$ct" echo cbench0 0x200 "$N" 60000 >"$work/floor-echo" 2>&1 &
pids+=($!)
rg_log_wait "$work/floor-echo" 'ready' 10
say "floor (two host sockets on a vcan): $("$ct" ping cbench0 0x200 "$N" 5000 | sed 's/^cantest: //')"
"$ct" count cbench0 0x300 "$F" 5000 >"$work/floor-count" 2>&1 &
cpid=$!
rg_log_wait "$work/floor-count" 'ready' 10
"$ct" flood cbench0 0x300 "$F" >/dev/null
wait "$cpid"
say "floor flood: $(tail -n1 "$work/floor-count" | sed 's/^cantest: //')"

# ---- a guest against the host
"$ct" echo cbench0 0x200 "$N" 600000 >"$work/echo" 2>&1 &
epid=$!
pids+=("$epid")
"$ct" count cbench0 0x300 "$F" 600000 >"$work/count" 2>&1 &
pids+=($!)
log=$out/can-bench-guest.log
rg_start_bg can-bench gpid "$log" timeout -k 5 1200 "$avp" run --kernel "$kernel" --initrd "$initrd" \
	--cmdline "console=ttyS0 panic=-1 quiet avp.test=can-bench avp.canbench.n=$N avp.canbench.f=$F" \
	--memory 256 --can if=cbench0
pids+=("$gpid")
if rg_log_wait "$log" '^can-bench: sync - flood-done' 1100 "$gpid"; then
	sleep 2
	"$ct" flood cbench0 0x310 "$F" >/dev/null
fi
wait "$gpid"
tr -d '\r' <"$log" >"$log.txt"
say "guest -> host -> guest (avp): $(grep -a '^can-bench: ping' "$log.txt" | sed 's/^can-bench: //')"
say "guest flood, counted on the host: $(tail -n1 "$work/count" | sed 's/^cantest: //') (guest side: $(grep -a '^can-bench: flood' "$log.txt" | sed 's/^can-bench: //'))"
say "host flood, counted in the guest: $(grep -a '^can-bench: host flood: count' "$log.txt" | sed 's/^can-bench: host flood: //')"

# ---- VM to VM on one vcan (the host's echo must not answer too)
kill "$epid" 2>/dev/null
loga=$out/can-bench-echo.log logb=$out/can-bench-ping.log
rg_start_bg can-bench-echo apid "$loga" timeout -k 5 1200 "$avp" run --kernel "$kernel" --initrd "$initrd" \
	--cmdline "console=ttyS0 panic=-1 quiet avp.test=can-bench avp.canbench=echo avp.canbench.n=$N" \
	--memory 256 --can if=cbench0
pids+=("$apid")
rg_log_wait "$loga" '^can-bench: sync - up' 300 "$apid"
sleep 1
rg_start_bg can-bench-ping bpid "$logb" timeout -k 5 1200 "$avp" run --kernel "$kernel" --initrd "$initrd" \
	--cmdline "console=ttyS0 panic=-1 quiet avp.test=can-bench avp.canbench=ping avp.canbench.n=$N" \
	--memory 256 --can if=cbench0
pids+=("$bpid")
wait "$bpid"
wait "$apid"
say "VM -> VM -> VM (avp, one vcan): $(tr -d '\r' <"$logb" | grep -a '^can-bench: ping' | sed 's/^can-bench: //')"
echo "can-latency: results in $res"
