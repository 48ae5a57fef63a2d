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

# rg_start_bg: the same policy for a VM kept in the background. The fake VM
# is a program this time (it runs as a background process); it takes each
# attempt's outcome from the plan, as fakevm does.
cat >"$work/bgvm" <<'SH'
#!/bin/bash
n=$(($(cat "$1/attempts" 2>/dev/null || echo 0) + 1))
echo "$n" >"$1/attempts"
init='avp-guest: init started'
case $(sed -n "${n}p" "$1/plan") in
ok) echo "[    0.1] Linux"; sleep 0.3; echo "$init"; sleep 0.5; echo "test output"; exit 0 ;;
die) echo "PCI: Fatal: No config space access function found"; echo "avp: stderr line" >&2; sleep 0.3; exit 2 ;;
die-qemu) echo "PCI: Fatal: No config space access function found"; exit 0 ;;
oops) echo "Oops: bounds: 0000"; exit 3 ;;
hang) echo "[    0.1] Linux"; exit 124 ;;
killed) echo "[    0.1] Linux"; exit 137 ;;
refused) echo "avp: error: kernel x: not a bzImage"; exit 1 ;;
late-crash) echo "$init"; sleep 0.3; echo "Kernel panic"; exit 2 ;;
silent) sleep 5; exit 0 ;;
die-polled | ok-polled) # once the --poll function ran for this attempt (no race)
	for ((i = 0; i < 100; i++)); do [ "$(cat "$1/polled" 2>/dev/null)" = "$n" ] && break; sleep 0.1; done
	[ "$(sed -n "${n}p" "$1/plan")" = ok-polled ] && { echo "$init"; exit 0; }
	echo "PCI: Fatal: No config space access function found"; exit 2 ;;
esac
SH
chmod +x "$work/bgvm"
polls=""
note_poll() { [[ " $polls " == *" $1 "* ]] || polls="$polls $1"; echo "$1" >"$work/polled"; }
# bg_case NAME PLAN WANT_ATTEMPTS WANT_RETURN WANT_STATUS WANT_RETRY_LINES [OPTIONS...]
# WANT_STATUS: the VM's exit status as the test's own `wait PID` sees it
bg_case() {
	local name=$1 plan=$2 want="$3 ret=$4 status=$5 retries=$6" ret st
	shift 6
	printf '%s\n' $plan >"$work/plan"
	rm -f "$work/attempts" "$work/bg.log"* "$work/bg.err"*
	bgpid=
	rg_start_bg "$@" "case $name" bgpid "$work/bg.log" "$work/bgvm" "$work" >"$work/said"
	ret=$?
	wait "$bgpid"
	st=$?
	check_eq "$(cat "$work/attempts") ret=$ret status=$st retries=$(grep -c ': retry - ' "$work/said")" \
		"$want" "rg_start_bg: $name"
}
bg_case "a clean boot is started once, returns at the init line" "ok" 1 0 0 0
# PIDVAR is the caller's, whatever its name (the tests use pid, avp_pid, tpid)
for v in pid try log end; do
	printf '%s\n' ok >"$work/plan"; rm -f "$work/attempts"
	unset "$v"
	rg_start_bg "case $v" "$v" "$work/bg.log" "$work/bgvm" "$work" >/dev/null
	if [ -n "${!v:-}" ] && [ "${!v}" -gt 1 ] 2>/dev/null && wait "${!v}"; then
		ok "rg_start_bg sets the caller's \$$v to the VM's pid"
	else
		notok "rg_start_bg with PIDVAR $v: the caller's \$$v is '${!v:-}'"
	fi
done
bg_case "a death in kernel boot is started again" "die ok" 2 0 0 1
bg_case "QEMU's silent reset too" "die-qemu ok" 2 0 0 1
bg_case "gives up after RG_BOOT_TRIES, the last status stays for wait" "die die die ok" 3 1 2 2
bg_case "a refused configuration is not retried" "refused ok" 1 1 1 0
bg_case "a timeout (124) is not retried" "hang ok" 1 1 124 0
bg_case "a SIGKILL (137) is not retried" "killed ok" 1 1 137 0
bg_case "a VM that dies after its init ran is the test's failure" "late-crash ok" 1 0 2 0
crash_no_oops() { [ "$2" = 2 ] && ! grep -aq Oops "$1"; }
bg_case "--only-if narrows the policy: an oops is not retried" "oops ok" 1 1 3 0 --only-if crash_no_oops
bg_case "--only-if narrows the policy: nor a silent exit 0" "die-qemu ok" 1 1 0 0 --only-if crash_no_oops
bg_case "--only-if: a death it agrees with still is" "die ok" 2 0 0 1 --only-if crash_no_oops
polls=""
rm -f "$work/polled"
bg_case "--poll runs during each attempt's boot" "die-polled ok-polled" 2 0 0 1 --poll note_poll
check_eq "$polls" " 1 2" "rg_start_bg: --poll gets each attempt's number"
bg_case "--stderr keeps standard error apart" "die ok" 2 0 0 1 --stderr "$work/bg.err"
if grep -q 'avp: stderr line' "$work/bg.err.try1" && ! grep -q 'avp: stderr line' "$work/bg.log.try1" &&
	grep -q 'PCI: Fatal' "$work/bg.log.try1" && grep -q "$RG_INIT_LINE" "$work/bg.log"; then
	ok "rg_start_bg keeps each dead attempt's output and standard error as .tryN"
else
	notok "rg_start_bg: attempt logs not kept as LOG.tryN / FILE.tryN"
fi
# (the log still holds the last case's init line: it must not count)
printf '%s\n' silent >"$work/plan"; rm -f "$work/attempts"
t0=$SECONDS
RG_INIT_WAIT=1 rg_start_bg "case hang" bgpid "$work/bg.log" "$work/bgvm" "$work" >"$work/said"
ret=$?
if [ "$ret" = 1 ] && kill -0 "$bgpid" 2>/dev/null && [ $((SECONDS - t0)) -lt 4 ] && ! grep -q 'retry - ' "$work/said"; then
	ok "rg_start_bg: no init line within RG_INIT_WAIT returns 1, the VM left running, no retry"
else
	notok "rg_start_bg: a silent VM (ret=$ret, $((SECONDS - t0)) s, $(cat "$work/said"))"
fi
kill "$bgpid" 2>/dev/null; wait "$bgpid" 2>/dev/null

# rg_rt_boot: runtime-started VMs. A fake `avp state` reads each VM's
# status from a file; the fake UP writes the consoles the monitor would,
# one life per plan word: ok (init ran, powered off), crash (ended before
# init, reason crash), killed (SIGKILL before init), late (crashed after
# init), run (init ran, still running).
export AVP_RUNTIME_ROOT=$work/rt
out=$work/out
mkdir -p "$out"
avp=$work/fake-rt
printf '#!/bin/sh\n[ "$1" = state ] || exit 2\ncat "$AVP_RUNTIME_ROOT/$2/status.json" 2>/dev/null || exit 1\n' >"$avp"
chmod +x "$avp"
rt_life() { # ID WORD: append one life to ID's console
	local c=$AVP_RUNTIME_ROOT/$1/console.log
	echo "avp-monitor 10:00:00: started the VM process, pid 1" >>"$c"
	printf 'Linux\r\nPCI: Fatal: No config space access function found\r\n' >>"$c"
	case $2 in
	ok | late | run) echo "$RG_INIT_LINE" >>"$c" ;;
	esac
	case $2 in
	ok) echo "avp-monitor 10:00:01: the VM process ended: poweroff (the guest powered off)" >>"$c" ;;
	crash | late) echo "avp-monitor 10:00:01: the VM process ended: crash (the guest crashed)" >>"$c" ;;
	killed) echo "avp-monitor 10:00:01: the VM process ended: killed (signal 9)" >>"$c" ;;
	esac
}
rt_up() { # each VM's plan for this attempt: $work/rtplan.ID line N = its lives
	local id n
	rt_ups=$((rt_ups + 1))
	for id in $rt_ids; do
		mkdir -p "$AVP_RUNTIME_ROOT/$id"
		: >"$AVP_RUNTIME_ROOT/$id/console.log"
		for w in $(sed -n "${rt_ups}p" "$work/rtplan.$id"); do rt_life "$id" "$w"; done
		case $w in
		run) n=running ;;
		*) n=stopped ;;
		esac
		echo "{\"status\": \"$n\"}" >"$AVP_RUNTIME_ROOT/$id/status.json"
	done
	return 7
}
rt_down() { rt_downs=$((rt_downs + 1)); rm -rf "$AVP_RUNTIME_ROOT"; }
# rt_case NAME IDS PLAN-PER-ID... WANT: PLAN is "attempt1-lives|attempt2-lives|..."
rt_case() {
	local name=$1 want=$2 id i=0
	rt_ids=$3
	shift 3
	for id in $rt_ids; do tr '|' '\n' <<<"$1" >"$work/rtplan.$id"; shift; done
	rt_ups=0 rt_downs=0
	rm -rf "$AVP_RUNTIME_ROOT" "$out"/*
	rg_rt_boot "case $name" rt_up rt_down $rt_ids >"$work/said"
	check_eq "ups=$rt_ups downs=$rt_downs rc=$rg_up_rc retries=$(grep -c ': retry - ' "$work/said")" "$want" "rg_rt_boot: $name"
}
rt_case "a clean start runs once" "ups=1 downs=0 rc=7 retries=0" "x" "run"
rt_case "a VM that crashed before its init is started again" "ups=2 downs=1 rc=7 retries=1" "x" "crash|run"
rt_case "a linked set goes down and up whole when one VM died" "ups=2 downs=1 rc=7 retries=1" "a b" "run|run" "crash|run"
rt_case "a restart by the runtime that died before init counts too" "ups=2 downs=1 rc=7 retries=1" "x" "ok crash ok|ok ok"
rt_case "at most RG_BOOT_TRIES starts" "ups=3 downs=2 rc=7 retries=2" "x" "crash|crash|crash|run"
rt_case "a VM killed (signal) before init is not retried" "ups=1 downs=0 rc=7 retries=0" "x" "killed|run"
rt_case "a crash after init is not retried" "ups=1 downs=0 rc=7 retries=0" "x" "late|run"
rt_case "a restart that ran its init after an early crash still counts the crash" "ups=2 downs=1 rc=7 retries=1" "x" "crash run|run"
rt_case "a VM that crashed before init: the retry line names it" "ups=2 downs=1 rc=7 retries=1" "a b" "run|run" "crash|run"
if grep -q 'b: life 1 ended before its init ran (crash; console ends: PCI: Fatal' "$work/said" && [ -s "$out/b.try1.log" ]; then
	ok "rg_rt_boot names the VM, the life, the reason and the console's end, and keeps the console"
else
	notok "rg_rt_boot's retry line or kept console: $(cat "$work/said")"
fi
# rg_log_has / rg_log_wait: the console-log waits every background test
# uses. A line near the start of a log longer than a pipe must be found
# every time under pipefail (the `tr | grep -q` loops they replace missed
# it: CI's can.sh failed on a line that was there).
big=$work/big.log
{ printf 'can-guest: sync - rmmod-done\r\n'; for ((i = 0; i < 4000; i++)); do printf 'console line %d with some text to make it long\r\n' "$i"; done; } >"$big"
found=0
for ((i = 0; i < 20; i++)); do rg_log_has "$big" '^can-guest: sync - rmmod-done$' && found=$((found + 1)); done
check_eq "$found" 20 "rg_log_has finds the first line of a $(($(wc -c <"$big") / 1024)) KiB CRLF log every time (20 tries, pipefail, \$ anchor)"
if rg_log_has "$big" '^no such line'; then notok "rg_log_has matched a line that is not there"; else ok "rg_log_has: a missing line is missing"; fi
if rg_log_has "$work/no-such-file" '.'; then notok "rg_log_has matched in a missing file"; else ok "rg_log_has: a missing log has no lines"; fi
sleep 0.1 & gone=$!
wait "$gone"
if rg_log_wait "$big" 'rmmod-done' 5 "$gone"; then ok "rg_log_wait: the writer has ended, its last line still counts"; else notok "rg_log_wait missed a line written before the writer ended"; fi
t0=$SECONDS
if rg_log_wait "$big" '^absent' 30 "$gone"; then notok "rg_log_wait matched an absent line"; else check_eq "$((SECONDS - t0 < 3))" 1 "rg_log_wait gives up at once when the writer has ended"; fi
late=$work/late.log
: >"$late"
(sleep 0.5; printf 'x\r\nready 2\r\n' >>"$late") &
if rg_log_wait "$late" '^ready 2$' 20; then ok "rg_log_wait sees a line that comes later"; else notok "rg_log_wait missed a line written after 0.5 s"; fi
wait
t0=$SECONDS
if rg_log_wait "$late" '^never' 1; then notok "rg_log_wait matched a line never written"; else check_eq "$((SECONDS - t0 <= 3))" 1 "rg_log_wait ends after its SECONDS"; fi
# GUEST_PASSED: the guest's pass line, also when the kernel's power-off
# message took its newline; never another status.
printf 'AVP-GUEST-EXIT=0\n' >"$work/p1"
printf 'AVP-GUEST-EXIT=0[   10.344807] reboot: Power down\n' >"$work/p2"
printf 'AVP-GUEST-EXIT=01\nAVP-GUEST-EXIT=1\nAVP-GUEST-EXIT=0[x\nxAVP-GUEST-EXIT=0 \n' >"$work/p3"
check_grep "$work/p1" "^$GUEST_PASSED" "GUEST_PASSED: the pass line"
check_grep "$work/p2" "^$GUEST_PASSED" "GUEST_PASSED: the pass line run into the kernel's power-off message"
check_eq "$(grep -cE "^$GUEST_PASSED" "$work/p3")" 0 "GUEST_PASSED: no other status, no other text after the 0"

finish
