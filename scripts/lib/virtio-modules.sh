# shellcheck shell=bash
# scripts/lib/virtio-modules.sh - the upstream virtio-gpio and virtio-i2c
# guest drivers (drivers/gpio/gpio-virtio.c, drivers/i2c/busses/i2c-virtio.c),
# which Debian's 6.12 kernel leaves out of its config, built out of tree from
# Debian's linux-source-6.12 against linux-headers-<guest kver>, and an
# initrd that adds them to the reference guest.  Source it; do not run it.
#
#   source scripts/lib/kernel.sh; kernel_ensure
#   source scripts/lib/virtio-modules.sh
#   virtio_modules_ensure        # sets AVP_VIRTIO_MODULES_DIR (*.ko there)
#   virtio_modules_initrd BASE OUT FILE...
#       OUT = BASE followed by a second gzip'd cpio (the kernel unpacks
#       concatenated archives in order) holding /lib/modules/extra/ (the two
#       drivers and Debian's i2c-dev) and each FILE as SRC=DEST.
#
# gpiolib (with its IRQ chip and character device) and the I2C core are
# built into Debian's kernel (CONFIG_GPIOLIB=y, CONFIG_I2C=y): the two
# drivers need nothing else; i2c-dev (=m) gives the guest /dev/i2c-N.
#
# arm64 (issue 14; after kernel_ensure arm64): the same two cross-built, and
# i2c-stub (drivers/i2c/i2c-stub.c), which Debian's arm64 kernel leaves out
# but the host side of the I2C tests needs: the arm64 test host runs that
# same kernel, so it loads this build (AVP_VIRTIO_MODULES_DIR/i2c-stub.ko).
#
# Cached under build/cache/virtio_modules/<source version>-<kver>-<headers
# version>/: rebuilt only when one of them changes.  Building takes seconds;
# unpacking the source tarball (two files out of it) most of a minute.

if [[ -z "${AVP_ROOT:-}" ]]; then
    AVP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
fi
AVP_VIRTIO_MODULES_SRC_PKG="${AVP_VIRTIO_MODULES_SRC_PKG:-linux-source-6.12}"

virtio_modules_die() { echo "virtio-modules.sh: error: $*" >&2; exit 1; }

# _virtio_modules_have DIR SOURCE...: is each SOURCE's .ko in DIR?
_virtio_modules_have() {
    local dir=$1 f
    shift
    for f in "$@"; do
        f=${f##*/}
        [[ -f "$dir/${f%.c}.ko" ]] || return 1
    done
}

virtio_modules_ensure() {
    [[ -n "${AVP_KERNEL_KVER:-}" ]] || virtio_modules_die "call kernel_ensure first (scripts/lib/kernel.sh)"
    local srcver hdrpkg hdrver hdrdir tarball cache key out lockfd top
    srcver="$(dpkg-query -W -f='${Version}' "$AVP_VIRTIO_MODULES_SRC_PKG" 2>/dev/null || true)"
    [[ -n "$srcver" ]] || virtio_modules_die "$AVP_VIRTIO_MODULES_SRC_PKG is not installed; run scripts/setup (scripts/packages.txt lists it)"
    hdrpkg="linux-headers-$AVP_KERNEL_KVER"
    kernel_headers_ensure || virtio_modules_die "$AVP_KERNEL_HDR_ERROR"
    hdrver="$AVP_KERNEL_HDRVER" hdrdir="$AVP_KERNEL_HDRDIR"
    tarball="/usr/src/${AVP_VIRTIO_MODULES_SRC_PKG}.tar.xz"
    [[ -r "$tarball" ]] || virtio_modules_die "$tarball missing; reinstall $AVP_VIRTIO_MODULES_SRC_PKG"
    cache="$AVP_ROOT/build/cache/virtio_modules"
    key="$srcver-$AVP_KERNEL_KVER-$hdrver"
    out="$cache/$key"
    AVP_VIRTIO_MODULES_DIR="$out"
    AVP_VIRTIO_MODULES_VERSION="$AVP_VIRTIO_MODULES_SRC_PKG $srcver, $hdrpkg $hdrver"
    export AVP_VIRTIO_MODULES_DIR AVP_VIRTIO_MODULES_VERSION
    local srcs=(drivers/gpio/gpio-virtio.c drivers/i2c/busses/i2c-virtio.c) f
    [[ $AVP_KERNEL_ARCH = amd64 ]] || srcs+=(drivers/i2c/i2c-stub.c)
    _virtio_modules_have "$out" "${srcs[@]}" && return 0

    mkdir -p "$cache"
    exec {lockfd}>"$cache/.lock"
    flock "$lockfd"
    if _virtio_modules_have "$out" "${srcs[@]}"; then
        exec {lockfd}>&-
        return 0
    fi
    top="$AVP_VIRTIO_MODULES_SRC_PKG"
    rm -rf "$out.tmp"
    mkdir -p "$out.tmp"
    echo "virtio-modules.sh: building ${srcs[*]##*/} from $AVP_VIRTIO_MODULES_SRC_PKG $srcver for $AVP_KERNEL_KVER" >&2
    tar -xJf "$tarball" -C "$out.tmp" "${srcs[@]/#/$top/}" \
        || virtio_modules_die "cannot extract the drivers from $tarball"
    local m="$out.tmp/m" objs=()
    mkdir -p "$m"
    for f in "${srcs[@]}"; do
        cp "$out.tmp/$top/$f" "$m/"
        f=${f##*/}
        objs+=("${f%.c}.o")
    done
    echo "obj-m := ${objs[*]}" >"$m/Kbuild"
    # Warnings are errors here as in our own code: a driver that does not
    # build cleanly against these headers is not the one we meant to test.
    make -s -C "$hdrdir" "${AVP_KERNEL_HDRMAKE[@]}" M="$m" KCFLAGS=-Werror -j2 modules >"$out.tmp/build.log" 2>&1 \
        || { cat "$out.tmp/build.log" >&2; virtio_modules_die "building the modules failed"; }
    if [[ -s "$out.tmp/build.log" ]] && grep -qi 'warning' "$out.tmp/build.log"; then
        cat "$out.tmp/build.log" >&2
        virtio_modules_die "the modules built with warnings"
    fi
    mkdir -p "$out"
    for f in "${objs[@]}"; do
        install -m 0644 "$m/${f%.o}.ko" "$out/" || virtio_modules_die "no ${f%.o}.ko after the build"
    done
    rm -rf "$out.tmp"
    exec {lockfd}>&-
}

virtio_modules_initrd() {
    local base="$1" dest="$2"; shift 2
    [[ -f "$base" ]] || virtio_modules_die "$base missing (run scripts/mkguest)"
    [[ -n "${AVP_VIRTIO_MODULES_DIR:-}" ]] || virtio_modules_die "call virtio_modules_ensure first"
    local stage="$dest.stage" f
    rm -rf "$stage"
    mkdir -p "$stage/lib/modules/extra"
    cp "$AVP_VIRTIO_MODULES_DIR/gpio-virtio.ko" "$AVP_VIRTIO_MODULES_DIR/i2c-virtio.ko" "$stage/lib/modules/extra/"
    # i2c-dev from Debian's own modules (its dependencies are built in).
    f="$(modinfo -b "$AVP_KERNEL_ROOT" -k "$AVP_KERNEL_KVER" -F filename i2c-dev)" \
        || virtio_modules_die "modinfo cannot find i2c-dev"
    case "$f" in
        *.ko.xz) xz -dc "$f" >"$stage/lib/modules/extra/i2c-dev.ko" ;;
        *.ko) cp "$f" "$stage/lib/modules/extra/i2c-dev.ko" ;;
        *) virtio_modules_die "unexpected module file $f" ;;
    esac
    for f in "$@"; do
        mkdir -p "$stage/$(dirname "${f#*=}")"
        cp "${f%%=*}" "$stage/${f#*=}"
    done
    {
        cat "$base"
        (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) | gzip -9n
    } >"$dest.tmp"
    mv "$dest.tmp" "$dest"
    rm -rf "$stage"
}
