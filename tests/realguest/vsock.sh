#!/bin/bash
# virtio-vsock end to end (AVP-VSOCK-1): the reference guest's
# vmw_vsock_virtio_transport talks to host programs on avp's Unix sockets.
# At the same time: 3 host-to-guest streams (CONNECT 1234 on the socket,
# guest echo server) and 2 guest-to-host streams (guest connects to CID 2
# port 5000, host echo server on SOCKET_5000), each echoing 1 MiB, plus a
# refused connection. Needs a real /dev/kvm:
#   scripts/testhost tests/realguest/vsock.sh
# Guest side: tests/guest/vsock.sh, tests/guest/vsock_echo.c; host side:
# tests/realguest/vsock_host.py. Logs go to build/testhost/out/.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh
source tests/lib/realguest.sh

rg_setup
if ! rg_avp_has_option --vsock; then
	notok "$avp has no --vsock option"; finish; exit 1
fi

work=$(mktemp -d /tmp/avp-vsock.XXXXXX)
sock=$work/v.sock
pids=()
cleanup() {
	for p in "${pids[@]}" ${avp_pid:-}; do kill "$p" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT

python3 tests/realguest/vsock_host.py serve "${sock}_5000" 2 >"$work/serve.log" 2>&1 &
serve_pid=$!
pids+=("$serve_pid")
log=$out/vsock.log
start=$(date +%s.%N)
avp_pid=
rg_start_bg vsock avp_pid "$log" timeout -k 5 300 "$avp" run --kernel "$kernel" --initrd "$initrd" \
	--cmdline "console=ttyS0 panic=-1 quiet avp.test=vsock" --memory 256 \
	--vsock "cid=42,socket=$sock"
pids+=("$avp_pid")
python3 tests/realguest/vsock_host.py connect "$sock" 1234 3 1048576 >"$work/connect.log" 2>&1
connect_rc=$?
wait "$avp_pid"
rc=$?
wait "$serve_pid"
serve_rc=$?
end=$(date +%s.%N)
tr -d '\r' <"$log" >"$log.txt"
echo "vsock: boot and streams took $(awk "BEGIN{printf \"%.1f\", $end - $start}") s, avp exit $rc"
sed 's/^/  | /' "$log.txt" | tail -n 40
sed 's/^/  host connect: /' "$work/connect.log"
sed 's/^/  host serve: /' "$work/serve.log"

check_eq "$rc" 0 "the guest powered off after its checks (avp exit 0)"
check_grep "$log.txt" '^vsock-guest: cid=42$' "the guest's CID is the configured 42"
while IFS= read -r line; do
	case "$line" in
	"vsock-guest: ok - "*) ok "guest: ${line#vsock-guest: ok - }" ;;
	"vsock-guest: not ok - "*) notok "guest: ${line#vsock-guest: not ok - }" ;;
	esac
done < <(grep -E '^vsock-guest: (ok|not ok) - ' "$log.txt")
check_grep "$log.txt" "^$GUEST_PASSED" "every guest-side check passed"
check_eq "$connect_rc" 0 "3 host-to-guest streams echoed 1 MiB each, concurrently"
check_eq "$(grep -c '^ok - host stream' "$work/connect.log")" 3 "3 host streams reported ok"
check_eq "$serve_rc" 0 "2 guest-to-host streams echoed by the host"
check_eq "$(grep -c '^ok - served guest stream .*: echoed 1048576 bytes' "$work/serve.log")" 2 \
	"the host echo server saw 1 MiB on each guest stream"
if [ -e "$sock" ]; then notok "$sock is left behind after avp exited"; else ok "avp removed its vsock socket"; fi
finish
