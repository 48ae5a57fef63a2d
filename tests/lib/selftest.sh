#!/bin/bash
# Checks of the test library itself (tests/lib/realguest.sh), on a
# synthetic guest image: no test host needed.
#
# rg_guest_has must find a file listed first in a large image under
# pipefail. The old `gzip | cpio -it | grep -q` form failed this (grep -q
# leaves at the first match, cpio dies of SIGPIPE): it made CI report
# "the guest image has no tests/jail.sh" for an image that had it.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh
source tests/lib/realguest.sh

work=$(mktemp -d /tmp/avp-libtest.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/tests" "$work/root/many"
: >"$work/root/tests/jail.sh"
for ((i = 0; i < 3000; i++)); do : >"$work/root/many/file-with-a-long-name-$i"; done
# tests/jail.sh first in the archive, the 3000 others after it
(cd "$work/root" && { echo tests; echo tests/jail.sh; find many; } |
	cpio -o -H newc --quiet | gzip -1 >"$work/initrd.img")
initrd=$work/initrd.img

found=0
for ((i = 0; i < 20; i++)); do rg_guest_has tests/jail.sh && found=$((found + 1)); done
check_eq "$found" 20 "rg_guest_has finds the archive's first file every time (20 tries, pipefail)"
if rg_guest_has tests/missing.sh; then notok "rg_guest_has claims a missing file"; else ok "rg_guest_has: a missing file is missing"; fi
if rg_guest_has tests; then ok "rg_guest_has matches a whole path"; else notok "rg_guest_has missed the directory 'tests'"; fi
if rg_guest_has tests/jail; then notok "rg_guest_has matched a prefix"; else ok "rg_guest_has does not match a prefix"; fi
head -c 1000 "$initrd" >"$work/cut.img"
initrd=$work/cut.img
if rg_guest_has tests/jail.sh; then notok "rg_guest_has trusts a truncated image"; else ok "rg_guest_has: a truncated image has nothing"; fi
initrd=$work/none.img
if rg_guest_has tests/jail.sh; then notok "rg_guest_has trusts a missing image"; else ok "rg_guest_has: a missing image has nothing"; fi

avp=$work/fake-avp
printf '#!/bin/sh\n[ "$1 $2" = "run --help" ] || exit 2\nseq 1 20000 | sed "s/^/  --opt-/"\necho "  --vsock-peer CID:PATH"\n' >"$avp"
chmod +x "$avp"
if rg_avp_has_option --opt-1; then ok "rg_avp_has_option finds the first option of a long help"; else notok "rg_avp_has_option missed --opt-1"; fi
if rg_avp_has_option --vsock-peer; then ok "rg_avp_has_option finds the last option"; else notok "rg_avp_has_option missed --vsock-peer"; fi
if rg_avp_has_option --nope; then notok "rg_avp_has_option claims --nope"; else ok "rg_avp_has_option: --nope is absent"; fi
finish
