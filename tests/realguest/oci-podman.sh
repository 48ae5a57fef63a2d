#!/bin/bash
# podman drives avp (issue 17, "Tests with the real engines"; docs/oci.md):
#   scripts/testhost-suite --smp 2 --memory 3072 \
#       --timeout 1500 tests/realguest/oci-podman.sh
# Debian's podman with avp as its runtime, storage on the test host's tmpfs
# (vfs driver), cgroupfs, no events, always --network none (podman's default
# network is a private IPv4 range; the VM has no network in this mode). The
# image is made offline: `podman import` of the reference guest's busybox.
#   1. podman run --rm: the container's /etc/hostname (podman's bind mount)
#      is printed and the exit status is the process's (3)
#   2. podman run -d, podman logs, podman ps lists it, podman stop (the
#      guest's power button, the process's SIGTERM trap exits 0), its exit
#      code 0, podman rm; a stop during the guest's boot is not lost
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh
source tests/lib/realguest.sh

rg_setup --absolute --fresh oci-podman
if ! command -v podman >/dev/null; then
	skip "no podman on this host (scripts/packages.txt lists it)"
	finish
	exit 0
fi
[ -e build/oci-init/base.cpio ] || { notok "build/oci-init missing (scripts/mkoci-init)"; finish; exit 1; }
work=$(mktemp -d /tmp/avp-podman.XXXXXX)
pm=(podman --root "$work/storage" --runroot "$work/run" --storage-driver vfs
	--cgroup-manager cgroupfs --events-backend none)
cleanup() {
	"${pm[@]}" rm -f -a >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/rootfs"
(cd "$work/rootfs" && gzip -dc "$initrd" | cpio -id --quiet 2>/dev/null)
rm -f "$work/rootfs/init"
tar -C "$work/rootfs" -cf "$work/bb.tar" .
"${pm[@]}" import "$work/bb.tar" localhost/avp-bb:1 >/dev/null
check_eq "$?" 0 "podman import of a busybox root file system"
run=("${pm[@]}" run --network none --runtime "$avp")

t0=$(date +%s.%N)
"${run[@]}" --rm --hostname avp-ctr localhost/avp-bb:1 sh -c 'cat /etc/hostname; exit 3' \
	>"$work/out1" 2>"$work/err1"
rc=$?
t1=$(date +%s.%N)
cp "$work/out1" "$work/err1" "$out/" 2>/dev/null
check_eq "$rc" 3 "podman run --rm: the process's exit status (3)"
check_eq "$(tr -d '\r' <"$work/out1")" avp-ctr "podman run --rm: the container's /etc/hostname"
echo "oci-podman: podman run --rm took $(echo "$t1 - $t0" | bc) s"

"${run[@]}" -d --log-driver k8s-file --name avp-v localhost/avp-bb:1 \
	sh -c 'trap "echo stopping; exit 0" TERM; echo up; while :; do sleep 1; done' >/dev/null
check_eq "$?" 0 "podman run -d"
for _ in $(seq 1 600); do
	"${pm[@]}" logs avp-v 2>/dev/null | grep -q '^up' && break
	sleep 1
done
"${pm[@]}" logs avp-v >"$work/logs" 2>&1
check_grep "$work/logs" '^up' "podman logs: the detached container runs"
"${pm[@]}" ps --format '{{.Names}} {{.Status}}' >"$work/ps"
# and a stop before its process runs: pressed once the guest's init is up
"${run[@]}" -d --log-driver k8s-file --name avp-early localhost/avp-bb:1 \
	sh -c 'trap "exit 0" TERM; while :; do sleep 1; done' >/dev/null
"${pm[@]}" stop -t 300 avp-early >/dev/null
# 0 when the trap was set in time, 143 when SIGTERM came first (as with
# runc); 137 would be podman's SIGKILL after a stop nobody saw.
code=$("${pm[@]}" inspect -f '{{.State.ExitCode}}' avp-early)
case "$code" in
0 | 143) ok "podman stop during the guest's boot reaches the process (exit $code)" ;;
*) notok "podman stop during the guest's boot reaches the process (exit $code)" ;;
esac
"${pm[@]}" rm avp-early >/dev/null
check_grep "$work/ps" '^avp-v Up' "podman ps lists it as up"
"${pm[@]}" stop -t 120 avp-v >/dev/null
check_eq "$?" 0 "podman stop"
check_eq "$("${pm[@]}" inspect -f '{{.State.ExitCode}}' avp-v)" 0 \
	"podman stop reached the process's SIGTERM trap through the power button (exit 0)"
"${pm[@]}" logs avp-v >"$work/logs" 2>&1
check_grep "$work/logs" '^stopping' "the process saw SIGTERM"
cp "$work/logs" "$out/" 2>/dev/null
"${pm[@]}" rm avp-v >/dev/null
check_eq "$?" 0 "podman rm"
check_eq "$("${pm[@]}" ps -a -q | wc -l)" 0 "no container left"
finish
