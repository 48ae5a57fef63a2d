#!/bin/bash
# Bad input gets one clear message and exit status 1, never a signal, a hang
# or a core dump. Runs on any host (no guest boots: every case fails while
# the VM is being assembled).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh

avp=${AVP:-build/avp}
kernel=${KERNEL:-build/guest/vmlinuz}
work=$(mktemp -d /tmp/avp-bad.XXXXXX)
trap 'rm -rf "$work"' EXIT

head -c 1048576 /dev/urandom >"$work/random.bin"
mkdir "$work/dir"
: >"$work/empty.img"
truncate -s 1M "$work/disk.img"
if [ -f "$kernel" ]; then
	head -c 70000 "$kernel" >"$work/truncated-bzimage"
	# An initrd larger than the whole of a 32 MiB guest.
	truncate -s 40M "$work/huge-initrd"
else
	skip "no $kernel (run scripts/mkguest): truncated-bzImage and memory cases use it"
fi

# expect_error NAME REGEX ARGS...: status 1 and a message matching REGEX.
expect_error() {
	local name=$1 regex=$2
	shift 2
	local out rc
	out=$(timeout -k 2 20 "$avp" "$@" </dev/null 2>&1 >/dev/null)
	rc=$?
	if [ $rc -eq 1 ] && grep -qiE -- "$regex" <<<"$out"; then
		ok "$name: exit 1, says: $(head -n 1 <<<"$out")"
	else
		notok "$name: exit $rc (want 1), said: '$(head -n 3 <<<"$out" | tr '\n' ' ')' (want /$regex/)"
	fi
}

k=(run --serial none)
expect_error "missing kernel file" "no such file" "${k[@]}" --kernel "$work/nope"
expect_error "kernel is random bytes" "not a bzImage|not a Linux" "${k[@]}" --kernel "$work/random.bin"
expect_error "kernel is a directory" "directory|not a regular file" "${k[@]}" --kernel "$work/dir"
expect_error "kernel is empty" "empty|truncated|not a bzImage" "${k[@]}" --kernel "$work/empty.img"
if [ -f "$kernel" ]; then
	expect_error "truncated bzImage" "truncated" "${k[@]}" --kernel "$work/truncated-bzimage"
	expect_error "memory too small for kernel + initrd" "memory|does not fit|too small" \
		"${k[@]}" --kernel "$kernel" --initrd "$work/huge-initrd" --memory 32
	expect_error "missing initrd" "no such file" "${k[@]}" --kernel "$kernel" --initrd "$work/nope"
	expect_error "missing disk file" "disk.*no such file" "${k[@]}" --kernel "$kernel" --disk "$work/nope.img"
	expect_error "directory as disk" "disk.*directory" "${k[@]}" --kernel "$kernel" --disk "$work/dir"
	expect_error "empty disk" "disk.*empty" "${k[@]}" --kernel "$kernel" --disk "$work/empty.img"
	expect_error "tap name too long" "tap.*(long|name)" "${k[@]}" --kernel "$kernel" \
		--net tap=this-name-is-far-too-long-for-linux
fi
expect_error "unknown option" "unknown option" run --kernel x --frobnicate
expect_error "unknown command" "unknown command" frobnicate
expect_error "no kernel option" "--kernel is required" run
expect_error "absurd CPU count" "--cpus" run --kernel x --cpus 100000
expect_error "absurd memory size" "--memory" run --kernel x --memory 99999999999
expect_error "bad MAC" "--net" run --kernel x --net tap=a,mac=52:54:00:zz:00:01
# Linux caps one argv string at 128 KiB, so 100 KB is the longest a shell can pass.
expect_error "100 KB command line" "too long" run --kernel x --cmdline "$(head -c 100000 /dev/zero | tr "\\0" a)"
expect_error "same disk twice" "twice" run --kernel x --disk a.img --disk a.img

# The help and version texts exist and exit 0.
for args in "--help" "--version" "run --help"; do
	# shellcheck disable=SC2086
	if "$avp" $args >/dev/null 2>&1; then ok "avp $args exits 0"; else notok "avp $args failed"; fi
done
finish
