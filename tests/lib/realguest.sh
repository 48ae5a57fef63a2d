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

# rg_log_has LOG REGEX: has LOG a line matching REGEX (an extended regular
# expression; carriage returns dropped first, so `$` anchors work on a
# serial console's CRLF lines)? grep reads the whole log through a process
# substitution, never from a `tr | grep -q` pipe: grep -q leaves at the
# first match, tr dies of SIGPIPE and, under pipefail, the pipe reads as
# false (it failed CI's can.sh: a line that was there read as missing).
rg_log_has() {
	grep -aqE -- "$2" < <({ tr -d '\r' <"$1"; } 2>/dev/null)
}

# rg_log_wait LOG REGEX SECONDS [PID]: until LOG has a line matching REGEX,
# up to SECONDS. With PID (the process writing LOG), gives up early once it
# has ended, after one last look: the line may have come just before.
rg_log_wait() {
	local log=$1 re=$2 secs=$3 pid=${4:-} i
	for ((i = 0; i < secs * 10; i++)); do
		rg_log_has "$log" "$re" && return 0
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			rg_log_has "$log" "$re"
			return
		fi
		sleep 0.1
	done
	rg_log_has "$log" "$re"
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

# rg_retry_boot NAME LOG RC TRY [ONLY_IF]: attempt TRY of a boot ended with
# status RC, its console in LOG. When the policy says boot it again (it
# died before its init ran and tries are left; with ONLY_IF, a function
# called as ONLY_IF LOG RC, only when it agrees too: a test whose subject is
# the boot itself narrows the policy so to deaths that are not its own
# failure), keeps LOG as LOG.tryTRY, says so on a "retry - " line and
# returns 0; else returns 1, LOG untouched. The one decision every boot loop
# here uses.
rg_retry_boot() {
	local name=$1 log=$2 rc=$3 try=$4 only_if=${5:-} last
	[ "$try" -lt "$RG_BOOT_TRIES" ] && rg_died_in_boot "$log" "$rc" || return 1
	[ -z "$only_if" ] || "$only_if" "$log" "$rc" || return 1
	mv "$log" "$log.try$try"
	last=$(tr -d '\r' <"$log.try$try" | grep -a '[[:print:]]' | tail -n 1 | cut -c1-160)
	retry "$name: attempt $try of $RG_BOOT_TRIES died before the guest's init ran (exit $rc; console ends: $last); booting it again"
}

# rg_boot NAME LOG CMD...: runs CMD (one whole VM in the foreground: avp
# run, or qemu) with stdin from /dev/null and its output in LOG, under the
# policy above. Sets rc to the last attempt's exit status; earlier
# attempts' logs stay as LOG.tryN.
rg_boot() {
	local name=$1 log=$2 try
	shift 2
	for ((try = 1; ; try++)); do
		"$@" </dev/null >"$log" 2>&1
		rc=$?
		rg_retry_boot "$name" "$log" "$rc" "$try" || return 0
	done
}

# rg_start_bg [--stderr FILE] [--poll FN] [--only-if FN] NAME PIDVAR LOG CMD...
# For a test that keeps its VM in the background: starts CMD (one whole VM:
# avp run, qemu, or either under timeout) with stdin from /dev/null and its
# output in LOG (standard error in FILE with --stderr), sets the variable
# PIDVAR to its pid, and returns once the guest's init printed its first
# line. So the test starts its checks, with the timing they always had,
# only on a guest that got through its kernel boot; an attempt that ended
# before that line is booted again under the policy (rg_retry_boot, with
# --only-if's FN as ONLY_IF). FN, when given, is called with the attempt number about every
# 0.1 s while the guest boots: a test that acts during the boot (presses a
# button, inspects the VM process) does it there, afresh for each attempt.
# (Its locals are all _rg_*: PIDVAR is set in the caller's scope, whatever
# its name.) Returns 0 once the init line came; 1 when the last attempt ended without
# it (its status in rg_rc, and still there for the test's own `wait PID`)
# or when it did not come within RG_INIT_WAIT seconds (a hang: not retried,
# the VM runs on and the test's own limits judge it).
RG_INIT_WAIT=${RG_INIT_WAIT:-400}
rg_start_bg() {
	local _rg_err="" _rg_poll="" _rg_only_if="" _rg_name _rg_pidvar _rg_log _rg_try _rg_pid _rg_end
	while (($#)); do
		case $1 in
		--stderr) _rg_err=$2; shift 2 ;;
		--poll) _rg_poll=$2; shift 2 ;;
		--only-if) _rg_only_if=$2; shift 2 ;;
		*) break ;;
		esac
	done
	_rg_name=$1 _rg_pidvar=$2 _rg_log=$3
	shift 3
	rg_rc=
	for ((_rg_try = 1; ; _rg_try++)); do
		# Emptied here, not only by the child's redirection: a log left by
		# an earlier run must not be read as this guest's init line.
		: >"$_rg_log"
		if [ -n "$_rg_err" ]; then
			"$@" </dev/null >"$_rg_log" 2>"$_rg_err" &
		else
			"$@" </dev/null >"$_rg_log" 2>&1 &
		fi
		_rg_pid=$!
		printf -v "$_rg_pidvar" %s "$_rg_pid"
		_rg_end=$((SECONDS + RG_INIT_WAIT))
		while ! grep -aqF "$RG_INIT_LINE" "$_rg_log" 2>/dev/null; do
			kill -0 "$_rg_pid" 2>/dev/null || break
			[ "$SECONDS" -lt "$_rg_end" ] || return 1
			[ -z "$_rg_poll" ] || "$_rg_poll" "$_rg_try"
			sleep 0.1
		done
		grep -aqF "$RG_INIT_LINE" "$_rg_log" 2>/dev/null && return 0
		wait "$_rg_pid"
		rg_rc=$?
		# the line may have come just before the end
		grep -aqF "$RG_INIT_LINE" "$_rg_log" && return 0
		rg_retry_boot "$_rg_name" "$_rg_log" "$rg_rc" "$_rg_try" "$_rg_only_if" || return 1
		[ -z "$_rg_err" ] || mv "$_rg_err" "$_rg_err.try$_rg_try"
	done
}

# For VMs the runtime runs (avp create + start, avp system up): their
# console is $AVP_RUNTIME_ROOT/ID/console.log, where the monitor ends each
# life of the VM (the first, and each restart) with "the VM process ended:
# REASON (...)".
#
# rg_rt_deaths ID...: one line per life of these VMs that ended before its
# init ran, for any reason but the ones rg_died_in_boot leaves alone too:
# config-error (exit 1), signal and killed (a stop, a timeout, a SIGKILL).
rg_rt_deaths() {
	local id
	for id in "$@"; do
		tr -d '\r' <"$AVP_RUNTIME_ROOT/$id/console.log" 2>/dev/null |
			awk -v id="$id" -v init="$RG_INIT_LINE" '
			index($0, init) { up = 1 }
			/avp-monitor [0-9:]*: the VM process ended: / {
				life++
				r = $0
				sub(/.*the VM process ended: /, "", r)
				sub(/ .*/, "", r)
				if (!up && r != "config-error" && r != "signal" && r != "killed")
					printf "%s: life %d ended before its init ran (%s; console ends: %s)\n", id, life, r, substr(last, 1, 120)
				up = 0
				next
			}
			/[[:print:]]/ && !/avp-monitor [0-9:]*: / { last = $0 }'
	done
}

# rg_rt_wait_init SECONDS ID...: waits until the current life of each VM
# has printed the init line, or the VM is neither running nor restarting
# (stopped, or never started). 1 when SECONDS passed first.
rg_rt_wait_init() {
	local end=$((SECONDS + $1)) id pending
	shift
	while :; do
		pending=0
		for id in "$@"; do
			tr -d '\r' <"$AVP_RUNTIME_ROOT/$id/console.log" 2>/dev/null |
				awk -v init="$RG_INIT_LINE" '/avp-monitor [0-9:]*: the VM process ended: / { up = 0; next }
					index($0, init) { up = 1 } END { exit !up }' && continue
			case $(rg_field "$id" 'd["status"]') in running | restarting) pending=1 ;; esac
		done
		[ "$pending" = 0 ] && return 0
		[ "$SECONDS" -lt "$end" ] || return 1
		# (each look at a VM not yet up is an `avp state`: not too often
		# on a test host whose guests are still booting)
		sleep 0.5
	done
}

# rg_rt_boot NAME UP DOWN ID...: the policy for runtime-started VMs. Runs
# the function UP, which starts the VMs ID... (avp start, avp system up;
# its status goes to rg_up_rc, and it may note what must be seen at once,
# e.g. the VMM's command line, for checks made later), then waits
# (rg_rt_wait_init, up to RG_INIT_WAIT s) until each guest reached its init
# or its VM stopped. UP may also wait for more itself (VMs meant to end on
# their own): every life is looked at. When one of them ended before its
# init ran (rg_rt_deaths), the function DOWN takes the whole set down (one
# VM of a linked set cannot be started again alone) and UP runs again,
# RG_BOOT_TRIES times in all, each retry on a "retry - " line; the dead
# attempt's consoles are kept as $out/ID.tryN.log. UP and DOWN make no
# checks: the test makes them after this returns.
rg_rt_boot() {
	local _rg_name=$1 _rg_up=$2 _rg_down=$3 _rg_try _rg_deaths _rg_id
	shift 3
	for ((_rg_try = 1; ; _rg_try++)); do
		"$_rg_up"
		rg_up_rc=$?
		rg_rt_wait_init "$RG_INIT_WAIT" "$@"
		_rg_deaths=$(rg_rt_deaths "$@")
		[ -n "$_rg_deaths" ] && [ "$_rg_try" -lt "$RG_BOOT_TRIES" ] || return 0
		for _rg_id in "$@"; do
			cp "$AVP_RUNTIME_ROOT/$_rg_id/console.log" "$out/$_rg_id.try$_rg_try.log" 2>/dev/null
		done
		retry "$_rg_name: attempt $_rg_try of $RG_BOOT_TRIES: $(awk 'NR > 1 { printf "; " } { printf "%s", $0 }' <<<"$_rg_deaths"); starting it again"
		"$_rg_down"
	done
}
