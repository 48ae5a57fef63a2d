#!/bin/bash
# The benchmark guest, for scripts/bench and scripts/bootloop --io: the
# reference guest (scripts/mkguest), the Debian root disk with fio and
# iperf3 (bench/mkroot.sh, cached), and build/bench/initrd.img: the
# reference initramfs with a second archive after it (the kernel unpacks
# both) holding bench/guest/bench.sh, a static benchnet and the ext4
# modules for the root disk (in their own directory: the reference
# load-order stays as it is).
#   bench/prepare.sh     prints the root disk's path
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
scripts/mkguest >&2 || exit 1
rootimg=$(bench/mkroot.sh) || { echo "bench/prepare.sh: the bench root disk could not be built (bench/mkroot.sh)" >&2; exit 1; }
source scripts/lib/kernel.sh
kernel_ensure >&2
b=build/bench
rm -rf "$b/stage" && mkdir -p "$b/stage/tests/bin" "$b/stage/mods" "$b/stage/lib/modules"
install -m 0755 bench/guest/bench.sh "$b/stage/tests/bench.sh"
gcc -static -O2 -Wall -o "$b/stage/tests/bin/benchnet" bench/benchnet.c >&2 || exit 1
# crc32c_generic: ext4 asks the crypto API for "crc32c", a soft dependency
# the module closure does not follow
kernel_install_modules "$b/stage/mods" crc32c_generic ext4 >&2
mv "$b/stage/mods/lib/modules" "$b/stage/lib/modules/bench" && rm -rf "$b/stage/mods"
(cd "$b/stage" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) | gzip -n >"$b/extra.cpio.gz"
cat build/guest/initrd.img "$b/extra.cpio.gz" >"$b/initrd.img"
rm -rf "$b/stage"
echo "$rootimg"
