#!/bin/bash
# Bad input to the arm64 build (issue 14): a kernel of another format, an
# arm64 Image that is cut short or inconsistent, an Image.gz that is cut
# short or corrupt, too little memory for the Image plus initrd plus device
# tree, and the like each give exactly one
# line and exit status 1, from the pre-flight checks, before /dev/kvm is
# opened. No arm64 machine is needed: on x86 build/arm64/avp (make
# ARCH=arm64) runs under qemu-aarch64 user emulation, which cannot run a
# VM at all, so reaching KVM would show as a KVM error, not the expected
# line. (A host without a GICv3 can only be seen with a real KVM: that case
# is tests/realguest/arm64-avp.sh in `scripts/testhost --arch arm64
# --gic-version 2`.)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh

avp=${AVP:-build/arm64/avp}
runner=()
[[ "$(uname -m)" = aarch64 ]] || runner=(qemu-aarch64-static)
if [[ ! -x "$avp" ]]; then
	notok "no $avp: run make ARCH=arm64 (after scripts/setup)"
	finish
	exit
fi
if ((${#runner[@]})) && ! command -v "${runner[0]}" >/dev/null; then
	notok "no ${runner[0]} to run $avp on $(uname -m): scripts/setup installs qemu-user-static"
	finish
	exit
fi
work=$(mktemp -d /tmp/avp-bad-arm64.XXXXXX)
trap 'rm -rf "$work"' EXIT

# mkimage OUT FILE_SIZE [KEY=VALUE...]: a synthetic arm64 Image (the 64-byte
# header of booting.rst, sparse after it). Keys: text_offset, image_size
# (default 8 MiB), flags (default 0xa: LE, 4 KiB pages, anywhere), efi_end
# (an EFI stub whose PE/COFF sections end at that offset, like Linux's
# efi-header.S: "MZ", the PE header at 0x40, .text and .data).
mkimage() {
	python3 - "$@" <<'PY'
import struct, sys
out, size, kv = sys.argv[1], int(sys.argv[2], 0), dict(a.split("=") for a in sys.argv[3:])
get = lambda k, d: int(kv.get(k, str(d)), 0)
h = bytearray(4096)
struct.pack_into("<IIQQQ", h, 0, 0x14000010, 0, get("text_offset", 0), get("image_size", 8 << 20),
                 get("flags", 0xA))
struct.pack_into("<I", h, 0x38, 0x644D5241)
if "efi_end" in kv:
    h[0:2] = b"MZ"
    struct.pack_into("<I", h, 0x3C, 0x40)
    struct.pack_into("<4sHHIIIHH", h, 0x40, b"PE\0\0", 0xAA64, 2, 0, 0, 0, 160, 0x206)
    sec = 0x40 + 24 + 160
    struct.pack_into("<8sIIII", h, sec, b".text", 0x10000, 0x10000, 0x10000, 0x10000)
    struct.pack_into("<8sIIII", h, sec + 40, b".data", 0x10000, 0x20000, get("efi_end", 0) - 0x20000,
                     0x20000)
with open(out, "wb") as f:
    f.write(h[:size])
    f.truncate(size)
PY
}

mkimage "$work/Image" $((4 << 20))
mkimage "$work/efi-Image" $((4 << 20)) efi_end=$((4 << 20))
mkimage "$work/efi-Image-cut" $((3 << 20)) efi_end=$((4 << 20))
mkimage "$work/header-cut" 60
mkimage "$work/big-endian" $((4 << 20)) flags=0xb
mkimage "$work/odd-text-offset" $((4 << 20)) text_offset=0x80004
mkimage "$work/image-size-corrupt" $((4 << 20)) image_size=0xffffffffffffffff
mkimage "$work/Image-60M" $((4 << 20)) image_size=$((60 << 20))
mkimage "$work/Image-40M" $((4 << 20)) image_size=$((40 << 20))
python3 tests/lib/mkbz.py "$work/bzImage" $((1024 + 65536)) 65536
cp /bin/true "$work/elf"
head -c 1048576 /dev/urandom >"$work/random.bin"
# Image.gz (Debian's arm64 vmlinuz before 6.x): inflated first, then the
# same checks. An Image whose sections are not all zeros, so that cutting
# the stream in half cuts the data.
head -c $((1 << 20)) /dev/urandom | dd of="$work/Image" bs=4096 seek=1 conv=notrunc status=none
gzip -c "$work/Image" >"$work/Image.gz"
gzip -c "$work/Image-60M" >"$work/Image-60M.gz"
gzip -c "$work/bzImage" >"$work/bzImage.gz"
gzip -c "$work/Image.gz" >"$work/Image.gz.gz"
head -c $(($(stat -c %s "$work/Image.gz") / 2)) "$work/Image.gz" >"$work/Image.gz-cut"
cp "$work/Image.gz" "$work/Image.gz-crc"
printf '\xff\xff' | dd of="$work/Image.gz-crc" bs=1 seek=$(($(stat -c %s "$work/Image.gz") - 8)) \
	conv=notrunc status=none
# 64 MiB of zeros: about 64 KiB of gzip, more than a 32 MiB guest.
head -c $((64 << 20)) /dev/zero | gzip -c >"$work/zeros.gz"
: >"$work/empty"
truncate -s 40M "$work/initrd-40M"
truncate -s 20M "$work/initrd-20M"
mkdir "$work/dir"

# expect_line NAME REGEX ARGS...: status 1 and exactly one line on stderr,
# matching REGEX (which is also what shows it is not KVM's error).
expect_line() {
	local name=$1 regex=$2 out rc
	shift 2
	out=$(timeout -k 2 20 "${runner[@]}" "$avp" "$@" </dev/null 2>&1 >/dev/null)
	rc=$?
	if [[ $rc -eq 1 && "$(grep -c . <<<"$out")" = 1 ]] && grep -qiE -- "$regex" <<<"$out"; then
		ok "$name: exit 1, one line: $out"
	else
		notok "$name: exit $rc (want 1 and one line matching /$regex/), said: '$(head -n 3 <<<"$out" | tr '\n' ' ')'"
	fi
}

r=(run --serial none)
# The kernel's format.
expect_line "kernel is an x86 bzImage" "is an x86 bzImage, not an arm64 kernel.*arch/arm64/boot/Image" \
	"${r[@]}" --kernel "$work/bzImage"
expect_line "kernel is an ELF file" "is an ELF file \(vmlinux\?\), not an arm64 Image" \
	"${r[@]}" --kernel "$work/elf"
expect_line "kernel is random bytes" "is not an arm64 Linux Image: no \"ARM.x64\" magic at offset 0x38" \
	"${r[@]}" --kernel "$work/random.bin"
expect_line "kernel is empty" "too short for an arm64 Image \(0 bytes" "${r[@]}" --kernel "$work/empty"
expect_line "kernel is a directory" "kernel .*is a directory" "${r[@]}" --kernel "$work/dir"
expect_line "kernel missing" "kernel .*no such file" "${r[@]}" --kernel "$work/nope"
# The header's fields (booting.rst): cut inside the header, the EFI stub's
# sections past the end of the file, big-endian, text_offset not 8-byte
# aligned, an image_size no kernel has.
expect_line "Image header cut short" "too short for an arm64 Image \(60 bytes; the header alone is 64\)" \
	"${r[@]}" --kernel "$work/header-cut"
expect_line "EFI Image cut short" "is truncated: 3145728 bytes, and its EFI header's sections need 4194304" \
	"${r[@]}" --kernel "$work/efi-Image-cut"
expect_line "big-endian Image" "big-endian arm64 kernel" "${r[@]}" --kernel "$work/big-endian"
expect_line "text_offset not 8-byte aligned" "text_offset 0x80004 is not 8-byte aligned" \
	"${r[@]}" --kernel "$work/odd-text-offset"
expect_line "image_size corrupt" "header is corrupt" "${r[@]}" --kernel "$work/image-size-corrupt"
# Image.gz: cut short, corrupt, more than the guest's RAM once inflated,
# or holding something other than an Image.
expect_line "Image.gz cut short" "is a gzip stream cut short.*give the whole Image.gz" \
	"${r[@]}" --kernel "$work/Image.gz-cut"
expect_line "Image.gz corrupt" "gzip stream is corrupt \(zlib: incorrect data check\)" \
	"${r[@]}" --kernel "$work/Image.gz-crc"
expect_line "Image.gz inflates past guest RAM" "holds more than 32 MiB once inflated.*give the VM more memory" \
	"${r[@]}" --kernel "$work/zeros.gz" --memory 32
expect_line "Image.gz of an Image too big for RAM" "Image-60M.gz needs 60 MiB of guest RAM.*--memory 32" \
	"${r[@]}" --kernel "$work/Image-60M.gz" --memory 32
expect_line "Image.gz holding a bzImage" "\(an Image.gz\) is an x86 bzImage, not an arm64 kernel" \
	"${r[@]}" --kernel "$work/bzImage.gz"
expect_line "Image.gz compressed twice" "\(an Image.gz\) is gzip-compressed: unpack it" \
	"${r[@]}" --kernel "$work/Image.gz.gz"
# Memory: the Image alone, the Image and the device tree's 2 MiB block, the
# Image, device tree and initrd.
expect_line "Image bigger than guest RAM" "needs 60 MiB of guest RAM.*more than --memory 32: give the VM more memory" \
	"${r[@]}" --kernel "$work/Image-60M" --memory 32
expect_line "no room for the device tree" "device tree needs the 2 MiB block.*--memory 40 is too little" \
	"${r[@]}" --kernel "$work/Image-40M" --memory 40
expect_line "initrd does not fit" "initrd .*41943040 bytes do not fit.*--memory 44 is too little, give the VM more memory" \
	"${r[@]}" --kernel "$work/Image" --initrd "$work/initrd-40M" --memory 44
# 40 MiB of Image, 20 of initrd and the device tree's 2 MiB block fit in
# 62 MiB exactly (below), not in 61.
expect_line "Image + initrd + device tree over RAM" "initrd .*20971520 bytes do not fit.*--memory 61" \
	"${r[@]}" --kernel "$work/Image-40M" --initrd "$work/initrd-20M" --memory 61
expect_line "initrd empty" "initrd .*empty" "${r[@]}" --kernel "$work/Image" --initrd "$work/empty"
expect_line "initrd missing" "initrd .*no such file" "${r[@]}" --kernel "$work/Image" --initrd "$work/nope"
expect_line "command line over 2047 bytes" "command line is 2048 bytes; an arm64 Linux kernel takes at most 2047" \
	"${r[@]}" --kernel "$work/Image" --cmdline "$(head -c 2048 /dev/zero | tr '\0' a)"
expect_line "describe: kernel is a bzImage" "x86 bzImage" run --kernel "$work/bzImage" --describe

# The same inputs, right: what the checks above refuse is the input, not
# everything (pre-flight passes; --describe and --dump-dtb need no KVM).
for k in Image efi-Image Image.gz; do
	if out=$("${runner[@]}" "$avp" run --kernel "$work/$k" --initrd "$work/initrd-20M" --memory 64 \
		--describe 2>&1) && grep -q '"arch":"arm64"' <<<"$out"; then
		ok "a good $k with an initrd that fits passes the checks (--describe)"
	else
		notok "a good $k with an initrd that fits: --describe failed: $(head -n 2 <<<"$out")"
	fi
done
# --transport pci (issue 16): the functions' BDFs and vectors as on x86,
# and the generic ECAM host bridge in the device tree (without KVM, no ITS:
# INTx only, so no msi-map).
if out=$("${runner[@]}" "$avp" run --kernel "$work/Image" --transport pci --rng --describe 2>&1) &&
	grep -q '"pci_bdf":"0000:00:01.0"' <<<"$out" && grep -q '"msix_vectors":2' <<<"$out"; then
	ok "--transport pci --rng: --describe shows virtio-rng at 0000:00:01.0 with 2 MSI-X vectors"
else
	notok "--transport pci --rng --describe: $(head -c 300 <<<"$out")"
fi
if "${runner[@]}" "$avp" run --kernel "$work/Image" --transport pci --rng --dump-dtb "$work/pci.dtb" \
	2>"$work/err"; then
	if ! command -v fdtget >/dev/null; then
		skip "--transport pci --dump-dtb: no fdtget (Debian's device-tree-compiler) to read the tree"
	elif [[ "$(fdtget "$work/pci.dtb" /pci@3f000000 compatible 2>&1)" == pci-host-ecam-generic &&
		"$(fdtget "$work/pci.dtb" /pci@3f000000 interrupt-map 2>&1)" =~ ^2048\ 0\ 0\ 1\ 1\ 0\ 0\ 0\ [0-9]+\ 4$ ]]; then
		ok "--transport pci --dump-dtb: a pci-host-ecam-generic node with INTA of 00:01.0 in its interrupt-map"
	else
		notok "--transport pci --dump-dtb: $(fdtget "$work/pci.dtb" /pci@3f000000 compatible interrupt-map 2>&1)"
	fi
else
	notok "--transport pci --dump-dtb failed: $(head -n 2 "$work/err")"
fi
if "${runner[@]}" "$avp" run --kernel "$work/Image-40M" --memory 44 --dump-dtb "$work/out.dtb" 2>"$work/err" &&
	[[ "$(head -c 4 "$work/out.dtb" | od -An -tx1 | tr -d ' ')" = d00dfeed ]]; then
	ok "an Image that leaves just the device tree's block fits (--memory 44, --dump-dtb)"
else
	notok "an Image that leaves just the device tree's block: $(cat "$work/err")"
fi
if "${runner[@]}" "$avp" run --kernel "$work/Image-40M" --initrd "$work/initrd-20M" --memory 62 \
	--describe >/dev/null 2>"$work/err"; then
	ok "40 MiB of Image, 20 MiB of initrd and the device tree fit in --memory 62"
else
	notok "Image, initrd and device tree in --memory 62: $(cat "$work/err")"
fi

# A clean clone without scripts/setup has no arm64 sysroot: make names
# what to run before it compiles anything (not a linker error at the end).
out=$(make -s ARCH=arm64 ARM64_SYSROOT="$work/no-sysroot" BUILD="$work/build" 2>&1 >/dev/null)
rc=$?
if ((rc != 0)) && grep -q "missing libfdt.a in $work/no-sysroot/: run scripts/setup first" <<<"$out" &&
	[[ -z "$(find "$work/build" -name '*.o' 2>/dev/null)" ]]; then
	ok "make ARCH=arm64 without the sysroot: stops before compiling: $(head -n 1 <<<"$out")"
else
	notok "make ARCH=arm64 without the sysroot: status $rc, said '$(head -n 2 <<<"$out")', objects: $(find "$work/build" -name '*.o' 2>/dev/null | wc -l)"
fi
finish
