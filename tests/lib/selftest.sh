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
# rg_boot: the boot-retry policy. A fake VM reads its behaviour for each
# attempt from a script of outcomes, one line per boot.
fakevm() { # prints what attempt N of the plan says, exits with its status
	local n; n=$(($(cat "$work/attempts" 2>/dev/null || echo 0) + 1))
	echo "$n" >"$work/attempts"
	case $(sed -n "${n}p" "$work/plan") in
	ok) echo "[    0.1] Linux"; echo "$RG_INIT_LINE"; echo "test output"; return 0 ;;
	die) echo "PCI: Fatal: No config space access function found"; return 2 ;;
	die-qemu) echo "PCI: Fatal: No config space access function found"; return 0 ;;
	hang) echo "[    0.1] Linux"; return 124 ;;
	refused) echo "avp: error: kernel x: not a bzImage"; return 1 ;;
	late-crash) echo "$RG_INIT_LINE"; echo "Kernel panic"; return 2 ;;
	esac
}
# boot_case NAME PLAN WANT_ATTEMPTS WANT_RC WANT_RETRY_LINES
boot_case() {
	printf '%s\n' $2 >"$work/plan"
	rm -f "$work/attempts" "$work/boot.log"*
	rg_boot "case $1" "$work/boot.log" fakevm >"$work/said"
	check_eq "$(cat "$work/attempts") rc=$rc retries=$(grep -c ': retry - ' "$work/said")" \
		"$3 rc=$4 retries=$5" "rg_boot: $1"
}
boot_case "a clean boot is run once" "ok" 1 0 0
boot_case "a death in kernel boot is booted again" "die ok" 2 0 1
boot_case "QEMU's silent reset (exit 0, no init) too" "die-qemu die ok" 3 0 2
boot_case "at most RG_BOOT_TRIES boots, the last one's status stays" "die die die ok" 3 2 2
boot_case "a hang is not retried" "hang ok" 1 124 0
boot_case "a refused configuration is not retried" "refused ok" 1 1 0
boot_case "a crash after init started is not retried" "late-crash ok" 1 2 0
printf '%s\n' die ok >"$work/plan"; rm -f "$work/attempts" "$work/boot.log"*
rg_boot keep "$work/boot.log" fakevm >/dev/null
if grep -q 'PCI: Fatal' "$work/boot.log.try1" && grep -q "$RG_INIT_LINE" "$work/boot.log"; then
	ok "rg_boot keeps the dead attempt's log beside the last one"
else
	notok "rg_boot: attempt logs not kept as LOG.tryN"
fi
finish
