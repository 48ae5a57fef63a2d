#!/bin/bash
# Inside the arm64 test host: avp's arm64 devices beyond arm64-avp.sh's
# with the arm64 reference guest (issue 14), through x86's guest-side
# scripts (tests/guest/):
#  watchdog  the SP805 (AVP-WDT-1): Linux's sp805_wdt, fed by busybox's
#            watchdog for 15 s and closed with the magic 'V', lets the guest
#            power off (status 0); armed with 3 s and starved, it fires the
#            --watchdog action (status 6, "watchdog expired"); with
#            action=reset avp boots the guest again
#  main      tests/guest/avp-main.sh: 2 vCPUs, a rw and a ro disk,
#            virtio-net on a tap in the test host (link up, IPv6 link-local
#            ping to fe80::1), rng, virtio-console (hvc0 into a host file)
#  vsock     virtio-vsock: 3 host-to-guest and 2 guest-to-host streams
#            echoing 1 MiB each (tests/guest/vsock.sh, vsock_host.py)
# Several minutes under TCG, so not a CI step; the command:
#   scripts/testhost --arch arm64 --smp 2 \
#     --memory 2048 --timeout 1500 tests/realguest/arm64-devices.sh [PART...]
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh
source tests/lib/realguest.sh
source tests/lib/arm64.sh

parts=("$@")
((${#parts[@]})) || parts=(watchdog main vsock)
want() { [[ " ${parts[*]} " == *" $1 "* ]]; }

arm64_setup
out=build/testhost/out/arm64-devices
mkdir -p "$out"
# Consoles go to the test host's own disk (a write per byte to the 9p
# share is slow), copied to $out after each boot.
tmp=$(mktemp -d /tmp/arm64-devices.XXXXXX)
tap=avpt0
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	ip link del "$tap" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
cmd="console=ttyAMA0 panic=-1 quiet"

# boot NAME LIMIT AVP-ARGS...: one VM in the foreground, its console in
# $tmp/NAME.log then $out/NAME.log (rg_boot's retry of a guest that died
# before its init); sets rc and log.
boot() {
	local name=$1 limit=$2
	shift 2
	log=$tmp/$name.log
	rg_boot "$name" "$log" timeout -k 5 "$limit" "$avp" run --kernel "$kernel" \
		--initrd "$initrd" "$@"
	tr -d '\r' <"$log" >"$out/$name.log"
	log=$out/$name.log
	echo "$CHECK_PREFIX: $name: avp exit $rc"
}

if want watchdog; then
	boot watchdog-feed 240 --memory 256 --watchdog --cmdline "$cmd avp.test=watchdog avp.wdt=feed"
	check_eq "$rc" 0 "watchdog: fed by the guest, it let the guest power off: status 0 (log: $log)"
	rg_guest_checks "$log" watchdog
	check_grep "$log" "^$GUEST_PASSED" "watchdog: every guest-side check passed"
	if grep -qi 'watchdog expired' "$log"; then notok "watchdog: avp reported an expiry while fed"; else ok "watchdog: no expiry while fed"; fi

	t0=$(date +%s.%N)
	boot watchdog-starve 240 --memory 256 --watchdog --cmdline "$cmd avp.test=watchdog avp.wdt=starve"
	t1=$(date +%s.%N)
	check_eq "$rc" 6 "watchdog: starved, the SP805 ends avp with status 6 (log: $log)"
	rg_guest_checks "$log" watchdog
	check_grep "$log" 'avp: warning: watchdog expired: the guest did not refresh it for [0-9.]+ s; ending the VM' \
		"watchdog: stderr reports the expiry"
	if grep -q 'still running 60 s' "$log"; then notok "watchdog: the guest outlived its watchdog"; fi
	echo "$CHECK_PREFIX: time - starve boot to expiry $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s"

	# action=reset: avp boots the VM again. sp805_wdt reports no boot
	# status, so the guest cannot tell and starves it again: two boots and
	# avp's reset line are the check, then the VM is stopped.
	log=$tmp/watchdog-reset.log
	avp_pid=
	rg_start_bg watchdog-reset avp_pid "$log" timeout -k 5 300 "$avp" run --kernel "$kernel" \
		--initrd "$initrd" --memory 256 --watchdog action=reset \
		--cmdline "$cmd avp.test=watchdog avp.wdt=starve"
	pids+=("$avp_pid")
	end=$((SECONDS + 240))
	while kill -0 "$avp_pid" 2>/dev/null && ((SECONDS < end)) &&
		(($(grep -c 'avp-guest: running /tests/watchdog.sh' "$log") < 2)); do
		sleep 0.5
	done
	kill "$avp_pid" 2>/dev/null
	wait "$avp_pid" 2>/dev/null
	tr -d '\r' <"$log" >"$out/watchdog-reset.log"
	log=$out/watchdog-reset.log
	check_grep "$log" 'watchdog expired: .*; resetting the VM' "watchdog: action=reset: avp reports the expiry and the reset (log: $log)"
	check_eq "$(grep -c 'avp-guest: running /tests/watchdog.sh' "$log")" 2 "watchdog: action=reset: the guest booted again"
fi

if want main; then
	truncate -s 16M "$tmp/rw.img"
	printf 'AVP-DISK-SIGNATURE' | dd of="$tmp/rw.img" conv=notrunc status=none
	truncate -s 4M "$tmp/ro.img"
	printf 'AVP-RO-SIGNATURE..' | dd of="$tmp/ro.img" conv=notrunc status=none
	modprobe tun 2>/dev/null
	ip tuntap add "$tap" mode tap || notok "cannot create tap $tap"
	# The host end answers the guest's ping at fe80::1 (link-local only).
	sysctl -qw "net.ipv6.conf.$tap.accept_dad=0" 2>/dev/null
	ip link set "$tap" up
	ip -6 addr add fe80::1/64 dev "$tap"
	boot main 400 --cpus 2 --memory 256 --cmdline "$cmd avp.test=avp-main" \
		--disk "$tmp/rw.img" --disk "$tmp/ro.img,ro" --net "tap=$tap,mac=52:54:00:12:34:56" \
		--rng --console "file:$tmp/hvc0.log" -vv
	check_eq "$rc" 0 "main: the guest checked its devices and powered off: status 0 (log: $log)"
	check_grep "$log" '^virtio: .* device=0x0001 .*driver=virtio_net$' "main: virtio-net bound"
	check_grep "$log" '^virtio: .* device=0x0003 .*driver=virtio_console$' "main: virtio-console bound"
	rg_guest_checks "$log" avp-main
	check_grep "$log" "^$GUEST_PASSED" "main: every guest-side check passed"
	check_eq "$(dd if="$tmp/rw.img" bs=1 skip=512 count=16 status=none)" GUEST-WROTE-THIS \
		"main: the guest's write to vda is in the host image"
	check_grep "$tmp/hvc0.log" 'HVC0-HELLO-FROM-GUEST' "main: hvc0 output reaches the host file"
	rx=$(cat "/sys/class/net/$tap/statistics/rx_packets" 2>/dev/null || echo 0)
	check_eq "$((rx > 0))" 1 "main: the tap's host end received $rx packets from the guest"
	check_eq "$(grep -c 'through an irqfd' "$log")" 5 "main: the 5 virtio devices interrupt through irqfds"
	ip link del "$tap" 2>/dev/null
fi

if want vsock; then
	sock=$tmp/v.sock
	python3 tests/realguest/vsock_host.py serve "${sock}_5000" 2 >"$tmp/serve.log" 2>&1 &
	serve_pid=$!
	pids+=("$serve_pid")
	log=$tmp/vsock.log
	avp_pid=
	rg_start_bg vsock avp_pid "$log" timeout -k 5 400 "$avp" run --kernel "$kernel" \
		--initrd "$initrd" --cmdline "$cmd avp.test=vsock" --memory 256 \
		--vsock "cid=42,socket=$sock"
	pids+=("$avp_pid")
	python3 tests/realguest/vsock_host.py connect "$sock" 1234 3 1048576 >"$tmp/connect.log" 2>&1
	connect_rc=$?
	wait "$avp_pid"
	rc=$?
	wait "$serve_pid"
	serve_rc=$?
	tr -d '\r' <"$log" >"$out/vsock.log"
	cp "$tmp/connect.log" "$tmp/serve.log" "$out/" 2>/dev/null
	log=$out/vsock.log
	check_eq "$rc" 0 "vsock: the guest powered off after its checks: status 0 (log: $log)"
	check_grep "$log" '^vsock-guest: cid=42$' "vsock: the guest's CID is the configured 42"
	rg_guest_checks "$log" vsock-guest
	check_grep "$log" "^$GUEST_PASSED" "vsock: every guest-side check passed"
	check_eq "$connect_rc" 0 "vsock: 3 host-to-guest streams echoed 1 MiB each"
	check_eq "$serve_rc" 0 "vsock: 2 guest-to-host streams echoed by the host"
	# Removed on the way out under seccomp (unlinkat on arm64: a SIGSYS,
	# status 159, before the main thread's list had it).
	check_eq "$([[ -e "$sock" ]] && echo left || echo removed)" removed "vsock: avp removed its socket"
fi
finish
