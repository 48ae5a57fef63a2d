# shellcheck shell=bash
# scripts/lib/kernel.sh - the Debian 6.12 kernel that the test host (L1) and the
# reference guest (L2) both boot.  Source it; do not run it.
#
#   source scripts/lib/kernel.sh
#   kernel_ensure [amd64|arm64]   # resolve + download + extract + depmod (cached)
#   kernel_module_closure kvm-amd # module names, dependencies first
#   kernel_install_modules DIR kvm-amd virtio_blk ...
#
# After kernel_ensure these are set:
#   AVP_KERNEL_PKG     package name   (linux-image-6.12.N+deb12-amd64-unsigned)
#   AVP_KERNEL_PKGVER  package version (6.12.N-1~deb12u1)
#   AVP_KERNEL_KVER    uname -r of the kernel (6.12.N+deb12-amd64)
#   AVP_KERNEL_ROOT    extracted tree (build/cache/kernel/x)
#   AVP_KERNEL_IMAGE   the bzImage (amd64) or the plain, uncompressed Image (arm64)
#   AVP_KERNEL_MODDIR  $AVP_KERNEL_ROOT/lib/modules/$AVP_KERNEL_KVER
#   AVP_KERNEL_ARCH    amd64 or arm64 (Debian's names)
#
# arm64 (kernel_ensure arm64, issue 14): linux-image-6.12.N+deb12-arm64-unsigned,
# extracted to build/cache/kernel-arm64/x; needs 'dpkg --add-architecture arm64'
# (scripts/setup). AVP_KERNEL_IMAGE is boot/Image-KVER: the plain Image avp
# loads (6.12's vmlinuz is one already; a gzip'd vmlinuz would be unpacked).
#
# Why a Debian package rather than a kernel we build: it is what the project
# already verified boots both as a nested KVM host and as a guest, and it has
# every virtio driver as a module.  We never install it into the host system
# (dpkg-deb -x only), so the machine's own kernel setup is untouched.
#
# Override the package with AVP_KERNEL_PKG=<name> (e.g. to pin a version);
# otherwise the highest linux-image-6.12.*+deb12-ARCH-unsigned apt knows wins.

if [[ -z "${AVP_ROOT:-}" ]]; then
    AVP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
fi
AVP_KERNEL_ARCH=amd64
AVP_KERNEL_CACHE="${AVP_KERNEL_CACHE:-$AVP_ROOT/build/cache/kernel}"
_avp_kernel_cache_amd64=$AVP_KERNEL_CACHE

kernel_die() { echo "kernel.sh: error: $*" >&2; exit 1; }
kernel_log() { echo "kernel.sh: $*" >&2; }

# Highest 6.12 deb12 unsigned image of AVP_KERNEL_ARCH apt can see.
kernel_resolve() {
    local pkg a=$AVP_KERNEL_ARCH override=${AVP_KERNEL_PKG:-}
    [[ $a = amd64 ]] || override=${AVP_KERNEL_ARM64_PKG:-}
    if [[ -n "$override" ]]; then
        echo "$override"
        return
    fi
    pkg="$(apt-cache search --names-only "^linux-image-6\\.12\\..*\\+deb12-$a-unsigned\$" \
            | awk '{print $1}' | sort -V | tail -n1)"
    if [[ -z "$pkg" && $a != amd64 ]]; then
        kernel_die "apt knows no linux-image-6.12.*+deb12-$a-unsigned package; run 'dpkg --add-architecture $a && apt-get update' (scripts/setup does)"
    fi
    [[ -n "$pkg" ]] || kernel_die "apt knows no linux-image-6.12.*+deb12-$a-unsigned package; run 'apt-get update' (bookworm-backports or bookworm-security must be in sources.list)"
    echo "$pkg"
}

# kernel_ensure [amd64|arm64]: the kernel of that architecture (default amd64).
# AVP_KERNEL_PKG and AVP_KERNEL_CACHE (given by the caller) pin the amd64 one
# only: an arm64 kernel is pinned with AVP_KERNEL_ARM64_PKG. One architecture
# per shell: the AVP_KERNEL_* results describe the last call.
kernel_ensure() {
    local a="${1:-amd64}"
    case "$a" in
        amd64) AVP_KERNEL_CACHE=$_avp_kernel_cache_amd64 ;;
        arm64) AVP_KERNEL_CACHE="$AVP_ROOT/build/cache/kernel-arm64" ;;
        *) kernel_die "kernel_ensure: unknown architecture '$a' (amd64 or arm64)" ;;
    esac
    AVP_KERNEL_ARCH=$a
    command -v dpkg-deb >/dev/null || kernel_die "dpkg-deb not found (Debian host required)"
    command -v depmod >/dev/null || kernel_die "depmod not found; install kmod (scripts/setup)"
    mkdir -p "$AVP_KERNEL_CACHE/debs"

    # Serialise: mkguest and testhost may both want the kernel at once.
    local lockfd
    exec {lockfd}>"$AVP_KERNEL_CACHE/.lock"
    flock "$lockfd"

    AVP_KERNEL_PKG="$(kernel_resolve)"
    local deb
    deb="$(ls -1 "$AVP_KERNEL_CACHE/debs/${AVP_KERNEL_PKG}"_*_"$a".deb 2>/dev/null | sort -V | tail -n1 || true)"
    if [[ -z "$deb" ]]; then
        kernel_log "downloading $AVP_KERNEL_PKG"
        # apt-get download writes into the cwd; the '_apt' sandbox warning it
        # prints when running as root is harmless.
        local dlrc=0
        (cd "$AVP_KERNEL_CACHE/debs" && apt-get download -q "$AVP_KERNEL_PKG:$a" 2>&1 \
            | { grep -v "couldn't be accessed by user '_apt'" >&2 || true; }) || dlrc=$?
        deb="$(ls -1 "$AVP_KERNEL_CACHE/debs/${AVP_KERNEL_PKG}"_*_"$a".deb 2>/dev/null | sort -V | tail -n1 || true)"
        if [[ $dlrc != 0 || -z "$deb" ]]; then
            # Offline but a kernel is already extracted: keep using it rather
            # than blocking every test run on the network.
            local have
            have="$(cat "$AVP_KERNEL_CACHE/x/.avp-version" 2>/dev/null || true)"
            [[ -n "$have" ]] || kernel_die "apt-get download $AVP_KERNEL_PKG failed (network? try 'apt-get update')"
            kernel_log "warning: cannot download $AVP_KERNEL_PKG; using the cached ${have%% *}"
            AVP_KERNEL_PKG="${have%% *}"
            deb="$(ls -1 "$AVP_KERNEL_CACHE/debs/${AVP_KERNEL_PKG}"_*_"$a".deb 2>/dev/null | sort -V | tail -n1 || true)"
            [[ -n "$deb" ]] || kernel_die "cached kernel $AVP_KERNEL_PKG has no .deb in $AVP_KERNEL_CACHE/debs"
        fi
    fi
    AVP_KERNEL_PKGVER="$(dpkg-deb -f "$deb" Version)"

    AVP_KERNEL_ROOT="$AVP_KERNEL_CACHE/x"
    local want="$AVP_KERNEL_PKG $AVP_KERNEL_PKGVER"
    if [[ "$(cat "$AVP_KERNEL_ROOT/.avp-version" 2>/dev/null || true)" != "$want" ]]; then
        kernel_log "extracting $AVP_KERNEL_PKG $AVP_KERNEL_PKGVER"
        rm -rf "$AVP_KERNEL_ROOT" "$AVP_KERNEL_ROOT.tmp"
        mkdir -p "$AVP_KERNEL_ROOT.tmp"
        dpkg-deb -x "$deb" "$AVP_KERNEL_ROOT.tmp" || kernel_die "dpkg-deb -x $deb failed (corrupt download? delete it and retry)"
        local kv
        kv="$(ls -1 "$AVP_KERNEL_ROOT.tmp/lib/modules" | head -n1)"
        [[ -n "$kv" ]] || kernel_die "no lib/modules/<version> in $deb"
        # So that modprobe/modinfo -d work against the tree (and inside L1, where
        # it is bind-mounted over /lib/modules).
        depmod -b "$AVP_KERNEL_ROOT.tmp" "$kv" || kernel_die "depmod -b failed on $kv"
        if [[ $a = arm64 ]]; then
            # 6.12's vmlinuz is already a plain Image (with the EFI stub's "MZ"
            # in front); older Debian kernels were gzip'd.
            local vz="$AVP_KERNEL_ROOT.tmp/boot/vmlinuz-$kv" img="$AVP_KERNEL_ROOT.tmp/boot/Image-$kv"
            if [[ "$(od -An -j56 -N4 -c "$vz" | tr -d ' ')" = ARMd ]]; then
                ln "$vz" "$img"
            else
                gzip -dc "$vz" >"$img" && [[ "$(od -An -j56 -N4 -c "$img" | tr -d ' ')" = ARMd ]] \
                    || kernel_die "boot/vmlinuz-$kv in $deb is neither an arm64 Image nor a gzip'd one"
            fi
        fi
        echo "$want" >"$AVP_KERNEL_ROOT.tmp/.avp-version"
        mv "$AVP_KERNEL_ROOT.tmp" "$AVP_KERNEL_ROOT"
        # Old .debs are 100 MB each; keep only the current one.
        find "$AVP_KERNEL_CACHE/debs" -name '*.deb' ! -path "$deb" -delete
    fi
    exec {lockfd}>&-

    AVP_KERNEL_KVER="$(ls -1 "$AVP_KERNEL_ROOT/lib/modules" | head -n1)"
    AVP_KERNEL_MODDIR="$AVP_KERNEL_ROOT/lib/modules/$AVP_KERNEL_KVER"
    AVP_KERNEL_IMAGE="$AVP_KERNEL_ROOT/boot/vmlinuz-$AVP_KERNEL_KVER"
    [[ $a = amd64 ]] || AVP_KERNEL_IMAGE="$AVP_KERNEL_ROOT/boot/Image-$AVP_KERNEL_KVER"
    [[ -f "$AVP_KERNEL_IMAGE" ]] || kernel_die "missing $AVP_KERNEL_IMAGE (delete $AVP_KERNEL_ROOT and retry)"
    export AVP_KERNEL_PKG AVP_KERNEL_PKGVER AVP_KERNEL_KVER AVP_KERNEL_ROOT AVP_KERNEL_IMAGE AVP_KERNEL_MODDIR AVP_KERNEL_ARCH
}

# Is MOD built into the kernel (=y)? Then there is nothing to load.
kernel_module_builtin() {
    local m="${1//-/_}"
    grep -qE "/${m}\.ko(\.[gx]z|\.zst)?\$" <(sed 's/-/_/g' "$AVP_KERNEL_MODDIR/modules.builtin")
}

# Print the module names needed for MOD..., dependencies before dependants,
# each once.  Built-in modules are skipped.  Uses modinfo's depends field
# recursively (hard dependencies; softdeps are not followed).
kernel_module_closure() {
    local -A seen=()
    local out=()
    _kmc_visit() {
        local m="$1" dep deps
        local key="${m//-/_}"
        [[ -n "${seen[$key]:-}" ]] && return 0
        seen[$key]=1
        if kernel_module_builtin "$m"; then return 0; fi
        deps="$(modinfo -b "$AVP_KERNEL_ROOT" -k "$AVP_KERNEL_KVER" -F depends "$m" 2>/dev/null)" \
            || kernel_die "module '$m' not found in $AVP_KERNEL_KVER (check the name: modinfo -b $AVP_KERNEL_ROOT -k $AVP_KERNEL_KVER $m)"
        local IFS=,
        for dep in $deps; do
            [[ -n "$dep" ]] && _kmc_visit "$dep"
        done
        out+=("$key")
    }
    local m
    for m in "$@"; do _kmc_visit "$m"; done
    printf '%s\n' "${out[@]}"
}

# Copy MOD... and their dependencies, decompressed (busybox insmod cannot read
# .ko.xz), to DIR/lib/modules/NAME.ko, and write DIR/lib/modules/load-order
# (one name per line, dependencies first) for the init script to insmod.
kernel_install_modules() {
    local dir="$1"; shift
    local dest="$dir/lib/modules"
    mkdir -p "$dest"
    : >"$dest/load-order"
    local m f list
    list="$(kernel_module_closure "$@")" || kernel_die "could not resolve modules: $*"
    while read -r m; do
        [[ -n "$m" ]] || continue
        f="$(modinfo -b "$AVP_KERNEL_ROOT" -k "$AVP_KERNEL_KVER" -F filename "$m")" \
            || kernel_die "modinfo cannot find $m"
        case "$f" in
            *.ko.xz)  xz -dc "$f" >"$dest/$m.ko" ;;
            *.ko.zst) zstd -qdc "$f" >"$dest/$m.ko" ;;
            *.ko.gz)  gzip -dc "$f" >"$dest/$m.ko" ;;
            *.ko)     cp "$f" "$dest/$m.ko" ;;
            *) kernel_die "unexpected module file $f" ;;
        esac || kernel_die "could not decompress $f"
        echo "$m" >>"$dest/load-order"
    done <<<"$list"
}

# kernel_headers_ensure: the guest kernel's headers (for modules built out
# of tree: scripts/lib/guest-can.sh, scripts/lib/virtio-modules.sh), after
# kernel_ensure. Installs linux-headers-<guest kernel> with apt-get when
# missing: its version is only known once kernel_resolve has run, so
# scripts/packages.txt cannot name it. Sets AVP_KERNEL_HDRDIR,
# AVP_KERNEL_HDRVER and AVP_KERNEL_HDRMAKE (the make arguments a module
# build against them needs: none for amd64, the cross compiler's for
# arm64); returns 1 with AVP_KERNEL_HDR_ERROR set on failure.
kernel_headers_ensure() {
    local pkg="linux-headers-$AVP_KERNEL_KVER"
    AVP_KERNEL_HDRDIR="/usr/src/$pkg" AVP_KERNEL_HDR_ERROR="" AVP_KERNEL_HDRMAKE=()
    if [[ $AVP_KERNEL_ARCH = arm64 ]]; then
        _kernel_headers_arm64
        return
    fi
    if [[ ! -f "$AVP_KERNEL_HDRDIR/Makefile" ]]; then
        _kernel_apt_install "$pkg" || return 1
    fi
    AVP_KERNEL_HDRVER="$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true)"
    [[ -n "$AVP_KERNEL_HDRVER" ]] || AVP_KERNEL_HDRVER="unpackaged-$(stat -c %Y "$AVP_KERNEL_HDRDIR/Makefile")"
    # Headers of another build of the same version would load with a
    # vermagic match yet a different ABI: insist they are the image's.
    if [[ "$AVP_KERNEL_HDRVER" != unpackaged-* && "$AVP_KERNEL_HDRVER" != "$AVP_KERNEL_PKGVER" ]]; then
        AVP_KERNEL_HDR_ERROR="$pkg is $AVP_KERNEL_HDRVER but the guest kernel is $AVP_KERNEL_PKGVER: apt-get install $pkg=$AVP_KERNEL_PKGVER"
        return 1
    fi
}

# _kernel_apt_install PKG...: apt-get install on this machine (through sudo
# when not root); AVP_KERNEL_HDR_ERROR says why it failed.
_kernel_apt_install() {
    local sudo=()
    kernel_log "installing $* (for the guest kernel's headers)"
    if ((EUID != 0)); then
        command -v sudo >/dev/null || { AVP_KERNEL_HDR_ERROR="not root and no sudo: apt-get install $*"; return 1; }
        sudo=(sudo)
    fi
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q \
        -o DPkg::Lock::Timeout=600 --no-install-recommends "$@" >&2 \
        || { AVP_KERNEL_HDR_ERROR="apt-get install $* failed (apt-get update? bookworm-backports/security in sources.list?)"; return 1; }
}

# The arm64 guest kernel's headers, for a cross build (issue 14): the
# linux-headers-KVER:arm64 package cannot be installed here (it depends on
# the arm64 kbuild, whose programs are arm64 binaries), so it is
# downloaded and extracted into build/cache/kernel-arm64/headers/x/, and
# its relative 'scripts' and 'tools' links (../../lib/linux-kbuild-V/...)
# land, through a link x/usr/lib/linux-kbuild-V made beside them, in this
# machine's own linux-kbuild of the same version (modpost, fixdep:
# programs that run on the build machine); its Makefile includes the
# -common package's, which is architecture-independent and installed here. Debian builds that
# kernel with aarch64-linux-gnu-gcc-12, the cross compiler scripts/setup
# installs: AVP_KERNEL_HDRMAKE says ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-.
_kernel_headers_arm64() {
    local pkg="linux-headers-$AVP_KERNEL_KVER" base="${AVP_KERNEL_KVER%-arm64}"
    local dir="$AVP_KERNEL_CACHE/headers" deb lockfd want
    local host=("linux-headers-$base-common=$AVP_KERNEL_PKGVER" "linux-kbuild-$base=$AVP_KERNEL_PKGVER")
    command -v aarch64-linux-gnu-gcc >/dev/null \
        || { AVP_KERNEL_HDR_ERROR="aarch64-linux-gnu-gcc not found: run scripts/setup (gcc-aarch64-linux-gnu)"; return 1; }
    if [[ "$(dpkg-query -W -f='${Version}' "linux-headers-$base-common" 2>/dev/null)" != "$AVP_KERNEL_PKGVER" ||
          "$(dpkg-query -W -f='${Version}' "linux-kbuild-$base" 2>/dev/null)" != "$AVP_KERNEL_PKGVER" ]]; then
        _kernel_apt_install "${host[@]}" || return 1
    fi
    mkdir -p "$dir"
    exec {lockfd}>"$dir/.lock"
    flock "$lockfd"
    want="$pkg $AVP_KERNEL_PKGVER"
    if [[ "$(cat "$dir/x/.avp-version" 2>/dev/null || true)" != "$want" ]]; then
        kernel_log "downloading $pkg:arm64 $AVP_KERNEL_PKGVER (cross-build headers)"
        rm -rf "$dir/debs" "$dir/x" "$dir/x.tmp"
        mkdir -p "$dir/debs"
        (cd "$dir/debs" && apt-get download -q "$pkg:arm64=$AVP_KERNEL_PKGVER" 2>&1 \
            | { grep -v "couldn't be accessed by user '_apt'" >&2 || true; })
        deb="$(ls -1 "$dir/debs/${pkg}"_*_arm64.deb 2>/dev/null | head -n1)"
        if [[ -z "$deb" ]] || ! dpkg-deb -x "$deb" "$dir/x.tmp"; then
            rm -rf "$dir/x.tmp"
            exec {lockfd}>&-
            AVP_KERNEL_HDR_ERROR="apt-get download $pkg:arm64=$AVP_KERNEL_PKGVER failed (network? apt-get update?)"
            return 1
        fi
        mkdir -p "$dir/x.tmp/usr/lib"
        ln -s "/usr/lib/linux-kbuild-$base" "$dir/x.tmp/usr/lib/linux-kbuild-$base"
        echo "$want" >"$dir/x.tmp/.avp-version"
        mv "$dir/x.tmp" "$dir/x"
        rm -rf "$dir/debs"
    fi
    exec {lockfd}>&-
    AVP_KERNEL_HDRDIR="$dir/x/usr/src/$pkg"
    AVP_KERNEL_HDRVER="$AVP_KERNEL_PKGVER"
    AVP_KERNEL_HDRMAKE=(ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-)
    [[ -f "$AVP_KERNEL_HDRDIR/Makefile" && -x "$AVP_KERNEL_HDRDIR/scripts/mod/modpost" ]] \
        || { AVP_KERNEL_HDR_ERROR="$AVP_KERNEL_HDRDIR is incomplete (no Makefile or scripts/mod/modpost): delete $dir and retry"; return 1; }
}
