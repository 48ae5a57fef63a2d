#!/bin/bash
# The benchmark guest's root disk: a Debian bookworm root file system built
# by mmdebstrap from the packages below (fio and iperf3 with their
# libraries: too large for the reference initramfs), as a read-only ext4
# image. Cached under build/cache/bench-root/KEY/, KEY hashing the package
# list, the suite and this script: a second run with the same inputs only
# prints the path.
#   bench/mkroot.sh          prints the image's path (builds it first if needed)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
suite=bookworm
mirror=${AVP_BENCH_MIRROR:-http://deb.debian.org/debian}
packages=(fio iperf3)
key=$( { echo "$suite ${packages[*]}"; sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1; } | sha256sum | cut -c1-16)
dir=build/cache/bench-root/$key
img=$dir/root.img
if [ -f "$img" ]; then echo "$img"; exit 0; fi
for t in mmdebstrap mke2fs; do
	command -v "$t" >/dev/null || { echo "mkroot: $t missing (scripts/setup)" >&2; exit 1; }
done
mkdir -p "$dir"
exec {lock}>"$dir/.lock"
flock "$lock"
if [ -f "$img" ]; then echo "$img"; exit 0; fi
tmp=$(mktemp -d /tmp/avp-bench-root.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# essential + the two tools: no init system, no apt; the guest's busybox
# init chroots into it.
mmdebstrap --quiet --variant=essential --include="$(IFS=,; echo "${packages[*]}")" \
	--dpkgopt='path-exclude=/usr/share/{doc,man,locale,info}/*' \
	"$suite" "$tmp/root" "$mirror" >&2
rm -rf "$tmp/root/var/cache/apt" "$tmp/root/var/lib/apt/lists"
mb=$(( $(du -sm "$tmp/root" | cut -f1) * 5 / 4 + 32 ))
mke2fs -q -t ext4 -O ^has_journal -L avp-bench -d "$tmp/root" "$tmp/root.img" "${mb}M" >&2
mv "$tmp/root.img" "$img"
echo "$img"
