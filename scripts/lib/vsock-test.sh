# shellcheck shell=bash
# scripts/lib/vsock-test.sh - Linux's own AF_VSOCK test suite
# (tools/testing/vsock/vsock_test, issue 18), built from Debian's
# linux-source-6.12 as a static program for the reference guest.  Source it;
# do not run it.
#
#   source scripts/lib/vsock-test.sh
#   vsock_test_ensure [arm64]    # sets AVP_VSOCK_TEST (the binary's path);
#                                # arm64: cross-built for the arm64 guest
#
# Cached under build/cache/vsock_test/<source package version>/: rebuilt only
# when the linux-source-6.12 package (hence the suite) changes.
#
# The suite is compiled against the source tree's own uapi headers for
# AF_VSOCK (linux/vm_sockets.h, linux/errqueue.h: newer than the build host's
# linux-libc-dev, and what the guest kernel speaks); every other header comes
# from the build host's libc.

if [[ -z "${AVP_ROOT:-}" ]]; then
    AVP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
fi
AVP_VSOCK_TEST_SRC_PKG="${AVP_VSOCK_TEST_SRC_PKG:-linux-source-6.12}"

vsock_test_die() { echo "vsock-test.sh: error: $*" >&2; exit 1; }

vsock_test_ensure() {
    local ver tarball cache top out lockfd cc=gcc sfx=''
    if [[ "${1:-}" = arm64 ]]; then cc=aarch64-linux-gnu-gcc sfx=-arm64; fi
    command -v "$cc" >/dev/null || vsock_test_die "$cc not found; run scripts/setup"
    ver="$(dpkg-query -W -f='${Version}' "$AVP_VSOCK_TEST_SRC_PKG" 2>/dev/null || true)"
    [[ -n "$ver" ]] || vsock_test_die "$AVP_VSOCK_TEST_SRC_PKG is not installed; run scripts/setup (scripts/packages.txt lists it)"
    tarball="/usr/src/${AVP_VSOCK_TEST_SRC_PKG}.tar.xz"
    [[ -r "$tarball" ]] || vsock_test_die "$tarball missing; reinstall $AVP_VSOCK_TEST_SRC_PKG"
    cache="$AVP_ROOT/build/cache/vsock_test"
    out="$cache/$ver$sfx/vsock_test"
    AVP_VSOCK_TEST="$out"
    AVP_VSOCK_TEST_VERSION="$AVP_VSOCK_TEST_SRC_PKG $ver${sfx:+ $cc}"
    [[ -x "$out" ]] && return 0

    mkdir -p "$cache"
    exec {lockfd}>"$cache/.lock"
    flock "$lockfd"
    if [[ -x "$out" ]]; then
        exec {lockfd}>&-
        return 0
    fi
    top="${AVP_VSOCK_TEST_SRC_PKG}"
    rm -rf "$cache/$ver$sfx.tmp"
    mkdir -p "$cache/$ver$sfx.tmp"
    echo "vsock-test.sh: building vsock_test from $AVP_VSOCK_TEST_SRC_PKG $ver" >&2
    tar -xJf "$tarball" -C "$cache/$ver$sfx.tmp" \
        "$top/tools/testing/vsock" "$top/tools/include" \
        "$top/include/uapi/linux/vm_sockets.h" "$top/include/uapi/linux/errqueue.h" \
        || vsock_test_die "cannot extract the suite from $tarball"
    local src="$cache/$ver$sfx.tmp/$top"
    # The overlay holds only the AF_VSOCK headers, so libc's own
    # <linux/...> stay consistent with each other.
    mkdir -p "$src/overlay/linux"
    cp "$src/include/uapi/linux/vm_sockets.h" "$src/include/uapi/linux/errqueue.h" "$src/overlay/linux/"
    (
        cd "$src/tools/testing/vsock" || exit 1
        objs=()
        for f in vsock_test vsock_test_zerocopy timeout control util msg_zerocopy_common; do
            "$cc" -O2 -Wall -Wno-pointer-sign -fno-strict-overflow -fno-strict-aliasing \
                -fno-common -U_FORTIFY_SOURCE -D_GNU_SOURCE \
                -I"$src/overlay" -I. -I../../include -c -o "$f.o" "$f.c" || exit 1
            objs+=("$f.o")
        done
        # getaddrinfo in a static program: only numeric addresses are
        # used (the control channel's IPv6 link-local), so libc's NSS
        # warning does not matter.
        "$cc" -static -o vsock_test "${objs[@]}" 2> >(grep -v -e 'getaddrinfo.*statically linked' -e 'in function .control_init' >&2) || exit 1
    ) || vsock_test_die "building vsock_test failed"
    mkdir -p "$cache/$ver$sfx"
    install -m 0755 "$src/tools/testing/vsock/vsock_test" "$out.tmp"
    mv "$out.tmp" "$out"
    rm -rf "$cache/$ver$sfx.tmp"
    exec {lockfd}>&-
}
