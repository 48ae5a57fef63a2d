# shellcheck shell=bash
# scripts/lib/guest-can.sh - what the reference guest needs for virtio-can
# (issue 15): avp's own driver module (guest/drivers/virtio_can, built
# against Debian's linux-headers for the guest kernel), the kernel's CAN
# modules, and the raw-socket checker guest/tools/cantest.c. Source it; do
# not run it (scripts/mkguest-can runs it).
#
#   source scripts/lib/guest-can.sh
#   guest_can_module_ensure [amd64|arm64]   # sets AVP_CAN_KO (virtio_can.ko), AVP_CAN_KEY
#   guest_can_initrd_ensure [amd64|arm64]   # sets AVP_CAN_INITRD (build/guest/initrd-can.img)
#
# The module is cached under build/cache/virtio_can/<key>/, the key hashing
# the headers package's version, the gcc that builds it, the driver's
# sources and this file: CI builds it once per headers version. Warnings
# fail the build (-Werror in the Kbuild; modpost's warnings are checked
# here).
#
# arm64 (issue 14): the same driver cross-built (aarch64-linux-gnu-gcc, as
# Debian builds that kernel) against linux-headers-<arm64 guest kernel>
# (kernel_headers_ensure: downloaded into build/cache/kernel-arm64/), cached
# in build/cache/virtio_can-arm64/<key>/, and build/guest-arm64/initrd-can.img
# on build/guest-arm64/initrd.img (scripts/mkguest --arch arm64), with
# cantest cross-built (also build/guest-arm64/cantest: the arm64 test host's
# side) and iproute2's arm64 ip and libraries taken from the arm64 test
# host's root file system (scripts/lib/arm64.sh), as the x86 image takes the
# build machine's.
#
# initrd-can.img is build/guest/initrd.img (scripts/mkguest, untouched)
# with a second gzip'd cpio appended, which Linux unpacks over the first:
#   /lib/modules/{can,can_raw,can_dev,virtio_can}.ko
#   /lib/modules/load-order   the base image's list, then those four, so
#                             the guest's init loads the driver at boot
#   /tests/bin/cantest        gcc -static (also build/guest/cantest, for
#                             the host side of the tests)
#   /tests/bin/ip-full        iproute2's ip and its libraries (the CAN
#                             state as `ip -details link` shows it)
# The guest test script itself (tests/guest/can.sh) is in the base image.
#
# Headers: /usr/src/linux-headers-<guest kernel>, installed when missing
# (kernel_headers_ensure, scripts/lib/kernel.sh).

if [[ -z "${AVP_ROOT:-}" ]]; then
    AVP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
fi
# shellcheck source=kernel.sh
source "$AVP_ROOT/scripts/lib/kernel.sh"
# shellcheck source=arm64.sh
source "$AVP_ROOT/scripts/lib/arm64.sh"

guest_can_die() { echo "guest-can.sh: error: $*" >&2; exit 1; }
guest_can_log() { echo "guest-can.sh: $*" >&2; }

guest_can_headers() {
    kernel_headers_ensure || guest_can_die "$AVP_KERNEL_HDR_ERROR"
    AVP_CAN_KDIR="$AVP_KERNEL_HDRDIR" AVP_CAN_HDRVER="$AVP_KERNEL_HDRVER"
}

# guest_can_arch [amd64|arm64]: AVP_CAN_ARCH, the kernel (kernel_ensure),
# AVP_CAN_CC (the guest programs' compiler) and AVP_CAN_OUT (the guest's
# build directory) for that architecture.
guest_can_arch() {
    AVP_CAN_ARCH="${1:-amd64}"
    case "$AVP_CAN_ARCH" in
        amd64) AVP_CAN_CC=gcc AVP_CAN_OUT="$AVP_ROOT/build/guest" ;;
        arm64) AVP_CAN_CC=aarch64-linux-gnu-gcc AVP_CAN_OUT="$AVP_ROOT/build/guest-arm64" ;;
        *) guest_can_die "unknown architecture '$AVP_CAN_ARCH' (amd64 or arm64)" ;;
    esac
    command -v "$AVP_CAN_CC" >/dev/null || guest_can_die "$AVP_CAN_CC not found; run scripts/setup"
    kernel_ensure "$AVP_CAN_ARCH"
}

guest_can_module_ensure() {
    local src="$AVP_ROOT/guest/drivers/virtio_can" cache="$AVP_ROOT/build/cache/virtio_can"
    local lockfd work log
    guest_can_arch "${1:-amd64}"
    # Its own directory: each build below removes every other key's.
    [[ $AVP_CAN_ARCH = amd64 ]] || cache+="-$AVP_CAN_ARCH"
    guest_can_headers
    AVP_CAN_KEY="$(
        {
            echo "headers $AVP_KERNEL_KVER $AVP_CAN_HDRVER"
            "$AVP_CAN_CC" --version | head -n1
            sha256sum "$src/virtio_can.c" "$src/Kbuild" "${BASH_SOURCE[0]}" | cut -d' ' -f1
        } | sha256sum | cut -c1-16
    )"
    AVP_CAN_KO="$cache/$AVP_CAN_KEY/virtio_can.ko"
    [[ -f "$AVP_CAN_KO" ]] && return 0

    mkdir -p "$cache"
    exec {lockfd}>"$cache/.lock"
    flock "$lockfd"
    if [[ ! -f "$AVP_CAN_KO" ]]; then
        guest_can_log "building virtio_can.ko against $AVP_CAN_KDIR"
        work="$cache/$AVP_CAN_KEY.tmp"
        rm -rf "$work"
        mkdir -p "$work"
        cp "$src/virtio_can.c" "$src/Kbuild" "$work/"
        log="$work/build.log"
        make -C "$AVP_CAN_KDIR" "${AVP_KERNEL_HDRMAKE[@]}" M="$work" modules >"$log" 2>&1 \
            || { cat "$log" >&2; guest_can_die "the module did not build (log above)"; }
        if grep -qiE 'warning' "$log"; then
            cat "$log" >&2
            guest_can_die "the module built with warnings (above); fix them"
        fi
        modinfo -F vermagic "$work/virtio_can.ko" | grep -qF "$AVP_KERNEL_KVER " \
            || guest_can_die "virtio_can.ko's vermagic is not $AVP_KERNEL_KVER"
        mkdir -p "$cache/$AVP_CAN_KEY"
        cp "$work/virtio_can.ko" "$AVP_CAN_KO.tmp"
        mv "$AVP_CAN_KO.tmp" "$AVP_CAN_KO"
        rm -rf "$work"
        # keep only the current build
        find "$cache" -mindepth 1 -maxdepth 1 -type d ! -name "$AVP_CAN_KEY" -exec rm -rf {} +
    fi
    exec {lockfd}>&-
}

# iproute2's ip (busybox's knows no CAN details) as /tests/bin/ip-full,
# with the shared libraries ldd names, so a guest test reads the CAN state
# as users do: ip -details link show can0.
guest_can_add_ip() {
    local stage=$1 ip lib
    [[ $AVP_CAN_ARCH = amd64 ]] || { guest_can_add_ip_arm64 "$stage"; return; }
    ip="$(command -v ip)" || guest_can_die "no ip (iproute2) on this machine"
    ip="$(readlink -f "$ip")"
    LC_ALL=C readelf -l "$ip" | grep -q 'Requesting program interpreter' \
        || guest_can_die "$ip is not a dynamic iproute2 binary"
    install -D -m 0755 "$ip" "$stage/tests/bin/ip-full"
    while read -r lib; do
        [[ -f "$lib" ]] || continue
        install -D -m 0755 "$(readlink -f "$lib")" "$stage$lib"
    done < <(ldd "$ip" | sed -nE 's/.*=> (\/[^ ]+) .*/\1/p; s/^[[:space:]]*(\/[^ ]+) .*/\1/p')
}

# _guest_can_img_file IMG PATH: PATH in the ext4 image IMG with its
# symbolic links followed (debugfs follows those of the directories on the
# way, not the last one's); fails when there is no such file.
_guest_can_img_file() {
    local img=$1 path=$2 st dest
    for _ in 1 2 3 4 5 6 7 8; do
        st="$(debugfs -R "stat $path" "$img" 2>/dev/null)"
        grep -q 'Type: ' <<<"$st" || return 1
        grep -q 'Type: symlink' <<<"$st" || { echo "$path"; return 0; }
        dest="$(sed -n 's/^Fast link dest: "\(.*\)"$/\1/p' <<<"$st")"
        [[ -n "$dest" ]] || return 1
        [[ $dest = /* ]] || dest="$(dirname "$path")/$dest"
        path=$dest
    done
    return 1
}

# The arm64 guest's ip-full: no arm64 program runs here (no ldd), so the
# binary, its interpreter and the libraries its DT_NEEDED entries name,
# recursively, are read out of the arm64 test host's root file system with
# debugfs, from the directories Debian's arm64 loader searches.
guest_can_add_ip_arm64() {
    local stage=$1 img f lib interp todo=() done=" "
    arm64_rootfs_ensure
    img=$AVP_ARM64_ROOTFS
    command -v debugfs >/dev/null || guest_can_die "debugfs not found; install e2fsprogs (scripts/setup)"
    f="$(_guest_can_img_file "$img" /bin/ip)" || guest_can_die "no /bin/ip (iproute2) in $img"
    mkdir -p "$stage/tests/bin" "$stage/lib/aarch64-linux-gnu"
    debugfs -R "dump $f $stage/tests/bin/ip-full" "$img" >/dev/null 2>&1 \
        || guest_can_die "debugfs could not read $f out of $img"
    chmod 0755 "$stage/tests/bin/ip-full"
    interp="$(LC_ALL=C readelf -l "$stage/tests/bin/ip-full" | sed -n 's/.*Requesting program interpreter: \(.*\)]$/\1/p')"
    [[ -n "$interp" ]] || guest_can_die "$f in $img is not a dynamic program"
    f="$(_guest_can_img_file "$img" "$interp")" || guest_can_die "no $interp in $img"
    mkdir -p "$stage$(dirname "$interp")"
    debugfs -R "dump $f $stage$interp" "$img" >/dev/null 2>&1 || guest_can_die "debugfs could not read $f"
    chmod 0755 "$stage$interp"
    todo=("$stage/tests/bin/ip-full")
    while ((${#todo[@]})); do
        f=${todo[0]}
        todo=("${todo[@]:1}")
        while read -r lib; do
            [[ $done = *" $lib "* ]] && continue
            done+="$lib "
            # the loader itself is in place already
            [[ $lib = "$(basename "$interp")" ]] && continue
            local src
            src="$(_guest_can_img_file "$img" "/lib/aarch64-linux-gnu/$lib" \
                || _guest_can_img_file "$img" "/usr/lib/aarch64-linux-gnu/$lib")" \
                || guest_can_die "$lib (needed by ${f#"$stage"}) is not in $img"
            debugfs -R "dump $src $stage/lib/aarch64-linux-gnu/$lib" "$img" >/dev/null 2>&1 \
                || guest_can_die "debugfs could not read $src"
            todo+=("$stage/lib/aarch64-linux-gnu/$lib")
        done < <(LC_ALL=C readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p')
    done
}

guest_can_initrd_ensure() {
    local tool="$AVP_ROOT/guest/tools/cantest.c" base out stage stamp m ipsrc
    guest_can_module_ensure "${1:-amd64}"
    base="$AVP_CAN_OUT/initrd.img" out="$AVP_CAN_OUT/initrd-can.img"
    [[ -f "$base" ]] || guest_can_die "$base missing: run scripts/mkguest$([[ $AVP_CAN_ARCH = amd64 ]] || echo " --arch $AVP_CAN_ARCH") first"
    if [[ $AVP_CAN_ARCH = amd64 ]]; then
        ipsrc="$(readlink -f "$(command -v ip)")"
    else
        arm64_rootfs_ensure
        ipsrc=$AVP_ARM64_ROOTFS
    fi
    stamp="$(
        {
            echo "$AVP_CAN_KEY $AVP_KERNEL_PKG $AVP_KERNEL_PKGVER"
            "$AVP_CAN_CC" --version | head -n1
            # the rootfs image is rebuilt, never changed: its name and time
            [[ $AVP_CAN_ARCH = amd64 ]] || stat -c '%n %Y' "$ipsrc"
            sha256sum "$base" "$AVP_CAN_KO" "$tool" "${BASH_SOURCE[0]}" | cut -d' ' -f1
            [[ $AVP_CAN_ARCH != amd64 ]] || sha256sum "$ipsrc" | cut -d' ' -f1
        } | sha256sum | cut -d' ' -f1
    )"
    AVP_CAN_INITRD="$out"
    if [[ -f "$out" && "$(cat "$out.stamp" 2>/dev/null)" = "$stamp" ]]; then
        return 0
    fi
    stage="$AVP_CAN_OUT/can-root.tmp"
    rm -rf "$stage"
    mkdir -p "$stage/tests/bin" "$stage/lib/modules"
    kernel_install_modules "$stage" can can-raw can-dev
    mv "$stage/lib/modules/load-order" "$stage/can-order"
    # The base image's order first: the CAN modules and the driver after
    # virtio_mmio, so the driver binds as it loads.
    gzip -dc "$base" | (cd "$stage" && cpio -i --quiet --to-stdout '*lib/modules/load-order') \
        >"$stage/lib/modules/load-order" || guest_can_die "no lib/modules/load-order in $base"
    while read -r m; do
        grep -qxF "$m" "$stage/lib/modules/load-order" || echo "$m" >>"$stage/lib/modules/load-order"
    done <"$stage/can-order"
    rm "$stage/can-order"
    echo virtio_can >>"$stage/lib/modules/load-order"
    cp "$AVP_CAN_KO" "$stage/lib/modules/virtio_can.ko"
    "$AVP_CAN_CC" -static -O2 -Wall -Wextra -Werror -o "$stage/tests/bin/cantest" "$tool" \
        || guest_can_die "$AVP_CAN_CC -static failed for $tool"
    # the same program for the host side of the tests (the test host)
    cp "$stage/tests/bin/cantest" "$AVP_CAN_OUT/cantest"
    guest_can_add_ip "$stage"
    {
        cat "$base"
        (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) | gzip -9n
    } >"$out.tmp"
    mv "$out.tmp" "$out"
    echo "$stamp" >"$out.stamp"
    guest_can_log "built $out ($(du -h "$out" | cut -f1)); modules: $(tr '\n' ' ' <"$stage/lib/modules/load-order" | sed 's/.* \(can \)/\1/')"
    rm -rf "$stage"
}
