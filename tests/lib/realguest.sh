# The common start of a real-guest test (tests/realguest/*.sh), sourced
# after tests/lib/check.sh with the repository root as the working
# directory.
#
#   rg_setup [--absolute] [--fresh] [SUBDIR]
#       sets avp (from $AVP, default build/avp), kernel, initrd and out
#       (build/testhost/out, or its SUBDIR), creates out (emptied first
#       with --fresh), and ends the test with one failed check when a
#       build product is missing. --absolute makes the paths absolute, for
#       tests that hand them to programs running elsewhere (the runtime's
#       monitor, bundles).
rg_setup() {
	local base="" fresh=0 f
	while (($#)); do
		case "$1" in
		--absolute) base=$PWD/; shift ;;
		--fresh) fresh=1; shift ;;
		*) break ;;
		esac
	done
	avp=${AVP:-build/avp}
	[[ $avp == /* ]] || avp=$base$avp
	kernel=${base}build/guest/vmlinuz
	initrd=${base}build/guest/initrd.img
	out=${base}build/testhost/out${1:+/$1}
	[ $fresh = 1 ] && rm -rf "$out"
	mkdir -p "$out"
	for f in "$avp" "$kernel" "$initrd"; do
		[ -e "$f" ] || { notok "$f missing (run make and scripts/mkguest first)"; finish; exit 1; }
	done
}

# rg_guest_checks LOG NAME: each "NAME: ok - X" / "NAME: not ok - X" line the
# guest printed in LOG becomes a check "guest: X"; none at all is a failure.
rg_guest_checks() {
	local line
	if ! grep -q "^$2: " "$1"; then
		notok "the guest-side checks (avp.test=$2) did not run"
		return
	fi
	while IFS= read -r line; do
		case "$line" in
		"$2: ok - "*) ok "guest: ${line#"$2: ok - "}" ;;
		"$2: not ok - "*) notok "guest: ${line#"$2: not ok - "}" ;;
		esac
	done < <(grep -E "^$2: (ok|not ok) - " "$1")
}

# rg_guest_has PATH: is PATH (e.g. tests/jail.sh) in the guest image?
# The listing is taken whole first: `cpio -it | grep -q` ends the pipe at
# the first match, cpio dies of SIGPIPE and, under pipefail, a present file
# reads as missing (it failed CI on jail.sh).
rg_guest_has() {
	local listing
	listing=$(gzip -dc "$initrd" 2>/dev/null | cpio -it --quiet 2>/dev/null) || return 1
	grep -qxF -- "$1" <<<"$listing"
}

# rg_avp_has_option OPT: does `avp run --help` list OPT? (whole text
# first, for the same reason: the help is longer than one pipe write)
rg_avp_has_option() {
	local help
	help=$("$avp" run --help 2>&1) || return 1
	grep -qF -- "$1" <<<"$help"
}

# For the runtime tests (avp create/start/state, avp system):
#   rg_field ID PYTHON-EXPR   evaluates EXPR on `avp state ID` as d ("" on
#                             any error)
#   rg_wait_for ID STATUS S   waits up to S seconds for that status
rg_field() {
	"$avp" state "$1" 2>/dev/null | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
    print(eval(sys.argv[1]))
except Exception:
    print("")' "$2"
}
rg_wait_for() {
	local i
	for ((i = 0; i < $3 * 5; i++)); do
		[ "$(rg_field "$1" 'd["status"]')" = "$2" ] && return 0
		sleep 0.2
	done
	return 1
}

# The boot-retry policy, one for every harness (issue 12): a guest that
# ends before its init printed its first line ("avp-guest: init started",
# tests/guest/init) died in kernel boot; nothing of the test ran in it, so
# it is booted again, RG_BOOT_TRIES times in all, and each retry is said on
# a "retry - " line that scripts/test counts. A VM that timed out (a hang)
# or that avp refused (exit 1: bad configuration, nothing booted) is not
# retried, and no retry ever follows a check: checks read the last log.
RG_BOOT_TRIES=${RG_BOOT_TRIES:-3}
RG_INIT_LINE='avp-guest: init started'

# rg_died_in_boot LOG RC: did this attempt die before its init ran?
rg_died_in_boot() {
	case $2 in 1 | 124 | 137) return 1 ;; esac
	! grep -aqF "$RG_INIT_LINE" "$1"
}

# rg_boot NAME LOG CMD...: runs CMD (one whole VM in the foreground: avp
# run, or qemu) with stdin from /dev/null and its output in LOG, under the
# policy above. Sets rc to the last attempt's exit status; earlier
# attempts' logs stay as LOG.tryN.
rg_boot() {
	local name=$1 log=$2 try last
	shift 2
	for ((try = 1; ; try++)); do
		"$@" </dev/null >"$log" 2>&1
		rc=$?
		[ "$try" -lt "$RG_BOOT_TRIES" ] && rg_died_in_boot "$log" "$rc" || return 0
		mv "$log" "$log.try$try"
		last=$(tr -d '\r' <"$log.try$try" | grep -a '[[:print:]]' | tail -n 1 | cut -c1-160)
		retry "$name: attempt $try of $RG_BOOT_TRIES died before the guest's init ran (exit $rc; console ends: $last); booting it again"
	done
}
