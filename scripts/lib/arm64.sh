# shellcheck shell=bash
# scripts/lib/arm64.sh - the arm64 pieces the arm64 test host (scripts/testhost
# --arch arm64) and the arm64 reference guest (scripts/mkguest --arch arm64)
# are made of, all from Debian's arm64 packages, all cached under build/cache/.
# Source it (after scripts/lib/kernel.sh); do not run it.
#
#   arm64_busybox_ensure   AVP_ARM64_BUSYBOX: busybox-static:arm64's binary;
#                          AVP_ARM64_BUSYBOX_APPLETS: its applets, one path a line
#   arm64_rootfs_ensure    AVP_ARM64_ROOTFS: an ext4 image of an arm64 Debian
#                          root file system (the test host's /)
#
# Needs 'dpkg --add-architecture arm64' and 'apt-get update' (scripts/setup).
#
# Why an image of extracted packages and not a bootstrapped system: running
# arm64 maintainer scripts on this x86-64 machine needs qemu-user through
# binfmt_misc, which a container (CI) may neither have nor be allowed to
# register. Nothing the test host runs needs its packages configured: the
# few things a postinst would do for it (passwd, group, the awk alternative)
# are done below, by hand, on the host.

if [[ -z "${AVP_ROOT:-}" ]]; then
    AVP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
fi

arm64_die() { echo "arm64.sh: error: $*" >&2; exit 1; }
arm64_log() { echo "arm64.sh: $*" >&2; }

# What the test host's root holds (issue 14): bash and the shell tools the
# tests use, python3 with Pillow (screenshots), jq and strace (conformance),
# iproute2 (tap, tc), kmod (modprobe), procps (pgrep, ps), qemu-system-arm
# (QEMU's virt machine, the peer), busybox-static (the guest's userland),
# gcc, libc6-dev and make (the conformance run and tests/lib/netbulk.sh build
# the host end of the bulk transfer where they run; conform runs make).
# '?essential' is the base system; mawk gives awk.
AVP_ARM64_ROOTFS_PACKAGES=('?essential' bash mawk python3 python3-pil jq strace iproute2 kmod
    procps util-linux busybox-static qemu-system-arm cpio gcc libc6-dev make)

# arm64_busybox_ensure: busybox-static:arm64, downloaded and extracted once
# per package version into build/cache/busybox-arm64/.
arm64_busybox_ensure() {
    local dir="$AVP_ROOT/build/cache/busybox-arm64" ver deb lockfd
    mkdir -p "$dir"
    exec {lockfd}>"$dir/.lock"
    flock "$lockfd"
    ver="$(apt-cache policy busybox-static:arm64 2>/dev/null | sed -n 's/^ *Candidate: //p')"
    if [[ -z "$ver" || "$ver" = "(none)" ]]; then
        ver="$(cat "$dir/x/.avp-version" 2>/dev/null || true)"
        [[ -n "$ver" ]] || arm64_die "apt knows no busybox-static:arm64; run 'dpkg --add-architecture arm64 && apt-get update' (scripts/setup does)"
        arm64_log "warning: apt knows no busybox-static:arm64; using the cached $ver"
    fi
    if [[ "$(cat "$dir/x/.avp-version" 2>/dev/null || true)" != "$ver" ]]; then
        arm64_log "downloading busybox-static:arm64 $ver"
        rm -rf "$dir/debs" "$dir/x"
        mkdir -p "$dir/debs" "$dir/x"
        (cd "$dir/debs" && apt-get download -q "busybox-static:arm64=$ver" 2>&1 \
            | { grep -v "couldn't be accessed by user '_apt'" >&2 || true; })
        deb="$(ls -1 "$dir"/debs/busybox-static_*_arm64.deb 2>/dev/null | head -n1)"
        [[ -n "$deb" ]] || arm64_die "apt-get download busybox-static:arm64 failed (network? try 'apt-get update')"
        dpkg-deb -x "$deb" "$dir/x" || arm64_die "dpkg-deb -x $deb failed"
        [[ -x "$dir/x/bin/busybox" ]] || arm64_die "$deb has no bin/busybox"
        # The applet list: the arm64 binary's own, through qemu-user when
        # there is one, else the host busybox's (Debian builds both from one
        # configuration).
        if command -v qemu-aarch64-static >/dev/null; then
            qemu-aarch64-static "$dir/x/bin/busybox" --list-full >"$dir/x/applets" \
                || arm64_die "qemu-aarch64-static could not run the arm64 busybox"
        elif command -v busybox >/dev/null; then
            busybox --list-full >"$dir/x/applets"
        else
            arm64_die "neither qemu-aarch64-static nor busybox here to list the applets; run scripts/setup"
        fi
        echo "$ver" >"$dir/x/.avp-version"
    fi
    exec {lockfd}>&-
    AVP_ARM64_BUSYBOX="$dir/x/bin/busybox"
    AVP_ARM64_BUSYBOX_APPLETS="$dir/x/applets"
    export AVP_ARM64_BUSYBOX AVP_ARM64_BUSYBOX_APPLETS
}

# The file system made from the extracted packages (DIR): what the packages'
# maintainer scripts would have done that the test host needs.
_arm64_rootfs_finish() {
    local r="$1"
    cp "$r/usr/share/base-passwd/passwd.master" "$r/etc/passwd"
    cp "$r/usr/share/base-passwd/group.master" "$r/etc/group"
    # update-alternatives' links (mawk's postinst).
    [[ -e "$r/usr/bin/awk" ]] || ln -s mawk "$r/usr/bin/awk"
    [[ -e "$r/usr/bin/cc" ]] || ln -s gcc "$r/usr/bin/cc"
    echo avp-testhost-arm64 >"$r/etc/hostname"
    mkdir -p "$r/lib/modules"
    # Nothing in it may depend on this machine's: no resolv.conf, no mtab.
    rm -f "$r/etc/resolv.conf" "$r/etc/machine-id"
    ln -sf /proc/self/mounts "$r/etc/mtab"
}

# arm64_rootfs_ensure: build/cache/arm64-rootfs/root-HASH.img, HASH over the
# package list, the Debian suite and the two functions that build it. Only
# the newest image is kept.
arm64_rootfs_ensure() {
    command -v mmdebstrap >/dev/null || arm64_die "mmdebstrap not found; run scripts/setup"
    command -v mkfs.ext4 >/dev/null || arm64_die "mkfs.ext4 not found; install e2fsprogs (scripts/setup)"
    local dir="$AVP_ROOT/build/cache/arm64-rootfs" suite hash lockfd img
    suite="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
    [[ -n "$suite" ]] || arm64_die "no VERSION_CODENAME in /etc/os-release (a Debian host is needed)"
    hash="$( {
        echo "$suite"
        printf '%s\n' "${AVP_ARM64_ROOTFS_PACKAGES[@]}"
        declare -f arm64_rootfs_ensure _arm64_rootfs_finish
    } | sha256sum | cut -c1-16)"
    img="$dir/root-$hash.img"
    mkdir -p "$dir"
    exec {lockfd}>"$dir/.lock"
    flock "$lockfd"
    if [[ ! -f "$img" ]]; then
        local t0=$SECONDS tmp="$dir/build.tmp" log="$dir/mmdebstrap.log"
        arm64_log "building the arm64 root file system ($suite: ${AVP_ARM64_ROOTFS_PACKAGES[*]}); log: ${log#"$AVP_ROOT"/}"
        rm -rf "$tmp"
        local inc=() p
        for p in "${AVP_ARM64_ROOTFS_PACKAGES[@]}"; do inc+=(--include="$p"); done
        # --variant=extract: unpack only (see the top of this file). Without
        # a mirror argument mmdebstrap takes deb.debian.org plus the suite's
        # updates and security archives, as the host's apt has them.
        if ! mmdebstrap --variant=extract --architectures=arm64 --mode=root --format=directory \
                "${inc[@]}" "$suite" "$tmp" >"$log" 2>&1; then
            tail -n 15 "$log" | sed 's/^/  | /' >&2
            rm -rf "$tmp"
            arm64_die "mmdebstrap failed (log: $log)"
        fi
        _arm64_rootfs_finish "$tmp"
        # Room to spare: the test host mounts it read-only under a tmpfs
        # overlay, so nothing is ever written to it.
        local mib
        mib=$(( $(du -sm "$tmp" | cut -f1) * 5 / 4 + 64 ))
        rm -f "$img.tmp"
        if ! mkfs.ext4 -q -F -L avp-arm64-root -O ^metadata_csum,^64bit -E root_owner=0:0 \
                -d "$tmp" "$img.tmp" "${mib}M" >>"$log" 2>&1; then
            rm -rf "$tmp" "$img.tmp"
            arm64_die "mkfs.ext4 -d failed (log: $log)"
        fi
        rm -rf "$tmp"
        mv "$img.tmp" "$img"
        find "$dir" -maxdepth 1 -name 'root-*.img' ! -path "$img" -delete
        arm64_log "built ${img#"$AVP_ROOT"/} (${mib} MiB) in $((SECONDS - t0)) s"
    fi
    exec {lockfd}>&-
    AVP_ARM64_ROOTFS="$img"
    export AVP_ARM64_ROOTFS
}
