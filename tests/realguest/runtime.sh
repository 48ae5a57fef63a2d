#!/bin/bash
# The runtime (AVP-RT-2/3, AVP-PART-1/2/3, AVP-NET-2) with real guests:
#   scripts/testhost --smp 2 --memory 3072 tests/realguest/runtime.sh
# (also part of tests/realguest/all.sh; on a one-CPU test host the critical
# VM is pinned to CPU 0 instead of 1). Checks:
#   1. lifecycle: create -> created, duplicate ID refused, start -> running
#      with the VMM's pid and its vcpu0 thread there when start returns, list,
#      kill TERM -> stopped with its reason, delete; start of a VM whose
#      kernel is garbage exits 1 with the reason (config-error, not retried)
#   2. a VM process killed from outside shows stopped + "killed"; a VM whose
#      monitor died too shows stopped + "vanished"
#   3. restart policy: a guest that panics (panic=-1 -> reboot) is restarted
#      under on-failure up to max_restarts, not under never
#   4. examples/cockpit: system up; the critical VM's vCPU thread is pinned,
#      SCHED_FIFO 50, its memory locked; the two guests ping each other over
#      the system's network (IPv6 link-local); system down removes it all
# VM console logs are kept in build/testhost/out/runtime/.
# `avp start` waits for the vCPUs (default 10 s): the nested test host is
# slow, so every start here allows $START_S.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh
source tests/lib/realguest.sh

repo=$PWD
rg_setup --absolute --fresh runtime
START_S=120

work=$(mktemp -d /tmp/avp-runtime.XXXXXX)
export AVP_RUNTIME_ROOT=$work/root
cockpit=$work/cockpit

keep_logs() {
	for d in "$AVP_RUNTIME_ROOT"/*/; do
		[ -f "$d/console.log" ] && cp "$d/console.log" "$out/$(basename "$d").log"
	done
}
cleanup() {
	keep_logs
	[ -f "$cockpit/system.json" ] && "$avp" system down "$cockpit/system.json" >/dev/null 2>&1
	for d in "$AVP_RUNTIME_ROOT"/*/; do
		[ -d "$d" ] && "$avp" delete --force "$(basename "$d")" >/dev/null 2>&1
	done
	rm -rf "$work"
}
trap cleanup EXIT

# bundle NAME GUEST-TEST RESTART-JSON: a one-VM bundle in $work/NAME.
bundle() {
	mkdir -p "$work/$1"
	cat >"$work/$1/config.json" <<JSON
{
  "kernel": "$kernel",
  "initrd": "$initrd",
  "cmdline": "console=ttyS0 panic=-1 quiet avp.test=$2",
  "cpus": { "count": 1 },
  "memory": { "mib": 128 },
  "devices": [ { "type": "rng" } ],
  "restart": $3,
  "shutdown_timeout_s": 2
}
JSON
}

# --- 1. lifecycle ----------------------------------------------------------
bundle life idle '{ "policy": "never" }'
"$avp" create life --bundle "$work/life"
check_eq "$?" 0 "create life"
check_eq "$(rg_field life 'd["status"]')" created "state after create: created"
check_eq "$(rg_field life 'd["pid"]')" 0 "a created VM has no VM process yet"
mon=$(rg_field life 'd["monitor_pid"]')
if [ -n "$mon" ] && kill -0 "$mon" 2>/dev/null; then ok "the monitor (pid $mon) runs after the CLI exited"; else notok "no live monitor: '$mon'"; fi
msg=$("$avp" create life --bundle "$work/life" 2>&1)
rc=$?
check_eq "$rc" 1 "a second create with the same ID fails"
case "$msg" in *"exists already"*) ok "it says the ID exists: $msg" ;; *) notok "duplicate-ID message: '$msg'" ;; esac
# The guests here are started under the boot-retry policy (rg_rt_boot,
# tests/lib/realguest.sh): a guest that died in kernel boot is started
# afresh before any check of it. What must be seen the moment start
# returns is noted in the UP function and checked after.
life_up() {
	"$avp" start life --timeout $START_S
	local st=$?
	# start returns once the vCPUs run: the thread is there without polling.
	pid=$(rg_field life 'd["pid"]')
	vcpu0_at_start=0
	grep -qx vcpu0 /proc/"$pid"/task/*/comm 2>/dev/null && vcpu0_at_start=1
	return $st
}
life_down() {
	"$avp" delete --force life
	"$avp" create life --bundle "$work/life"
}
rg_rt_boot life life_up life_down life
check_eq "$rg_up_rc" 0 "start life"
check_eq "$(rg_field life 'd["status"]')" running "state after start: running"
if [ "$vcpu0_at_start" = 1 ]; then ok "vcpu0 exists when start returns"; else notok "no vcpu0 thread in pid $pid when start returned"; fi
if [ -n "$pid" ] && [ "$pid" -gt 0 ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "run --bundle $work/life"; then
	ok "pid $pid is the VMM: $(tr '\0' ' ' <"/proc/$pid/cmdline")"
else
	notok "pid '$pid' is not 'avp run --bundle' (cmdline: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null))"
fi
"$avp" list | tee "$work/list.txt" | sed 's/^/  | /'
check_grep "$work/list.txt" "^life +running +$pid " "avp list shows life running with its pid"
n=$("$avp" list --json | python3 -c 'import json,sys; print(len([v for v in json.load(sys.stdin) if v["id"]=="life"]))')
check_eq "$n" 1 "avp list --json has life"
check_eq "$("$avp" start life 2>&1 >/dev/null | grep -c 'only a created VM')" 1 "start on a running VM is refused"
"$avp" kill life TERM --wait
check_eq "$?" 0 "kill life TERM --wait"
check_eq "$(rg_field life 'd["status"]')" stopped "state after kill TERM: stopped"
reason=$(rg_field life 'd["last_exit_reason"]')
case "$reason" in signal|poweroff) ok "stopped with reason '$reason' ($(rg_field life 'd["last_exit_detail"]'))" ;; *) notok "reason after kill TERM: '$reason'" ;; esac
check_eq "$(rg_field life 'd["stop_requested"]')" TERM "the state records the TERM request"
check_eq "$(rg_field life 'd["pid"]')" 0 "a stopped VM has no pid"
if [ -d "/proc/$pid" ]; then notok "VM process $pid still exists"; else ok "the VM process is gone"; fi
keep_logs
"$avp" delete life
check_eq "$?" 0 "delete life"
"$avp" state life >/dev/null 2>&1
check_eq "$?" 1 "state of a deleted VM fails"

# A bundle whose kernel is not a bzImage: start says why, at once.
bundle garbage idle '{ "policy": "always", "backoff_ms": 100 }'
head -c 100000 /dev/urandom >"$work/garbage/bz"
sed -i "s|\"kernel\": \"[^\"]*\"|\"kernel\": \"bz\"|" "$work/garbage/config.json"
"$avp" create garbage --bundle "$work/garbage"
msg=$("$avp" start garbage --timeout $START_S 2>&1)
check_eq "$?" 1 "start of a VM with a garbage kernel fails"
case "$msg" in *config-error*"not a bzImage"*) ok "start says why: $msg" ;; *) notok "start's message: '$msg'" ;; esac
check_eq "$(rg_field garbage 'd["restarts"]')" 0 "a config error is not retried (policy always)"
"$avp" delete garbage

# --- 2. killed from outside -------------------------------------------------
# (killed right after start, long before their kernels could die in boot:
# no boot-retry needed)
bundle victim idle '{ "policy": "never" }'
"$avp" create victim --bundle "$work/victim" && "$avp" start victim --timeout $START_S
vpid=$(rg_field victim 'd["pid"]')
kill -KILL "$vpid"
if rg_wait_for victim stopped 10; then ok "a VM whose process was killed with SIGKILL shows stopped"; else notok "victim status: $(rg_field victim 'd["status"]')"; fi
check_eq "$(rg_field victim 'd["last_exit_reason"]')" killed "reason: killed"
case "$(rg_field victim 'd["last_exit_detail"]')" in *"signal 9"*) ok "detail names signal 9" ;; *) notok "detail: $(rg_field victim 'd["last_exit_detail"]')" ;; esac

bundle ghost idle '{ "policy": "always" }'
"$avp" create ghost --bundle "$work/ghost" && "$avp" start ghost --timeout $START_S
gpid=$(rg_field ghost 'd["pid"]')
gmon=$(rg_field ghost 'd["monitor_pid"]')
kill -KILL "$gmon" "$gpid"
# A SIGKILLed VMM is gone only once the kernel has torn down its threads
# and guest RAM, which takes a while on a loaded test host.
if rg_wait_for ghost stopped 15; then
	ok "monitor and VM killed: state says stopped, not running"
else
	notok "monitor and VM killed: state says $(rg_field ghost 'd["status"]') 15 s later, not stopped"
fi
check_eq "$(rg_field ghost 'd["last_exit_reason"]')" vanished "reason: vanished"
keep_logs
"$avp" delete victim
"$avp" delete ghost

# --- 3. restart policy --------------------------------------------------------
bundle crashy panic '{ "policy": "on-failure", "max_restarts": 1, "backoff_ms": 200 }'
bundle steady panic '{ "policy": "never" }'
# Both run to their end before rg_rt_boot looks at every life (a restart
# that died in kernel boot would spoil the count as much as a first boot).
restart_up() {
	"$avp" create crashy --bundle "$work/crashy" && "$avp" start crashy --timeout $START_S
	"$avp" create steady --bundle "$work/steady" && "$avp" start steady --timeout $START_S
	t0=$(date +%s)
	rg_wait_for steady stopped 120 && rg_wait_for crashy stopped 150
}
restart_down() {
	"$avp" delete --force crashy
	"$avp" delete --force steady
}
rg_rt_boot "restart policy" restart_up restart_down crashy steady
echo "  restart tests ended after $(($(date +%s) - t0)) s"
keep_logs
check_grep "$out/crashy.log" 'panic-test: crashing the kernel' "the panic guest ran"
check_eq "$(grep -c 'panic-test: crashing the kernel' "$out/crashy.log")" 2 "on-failure: the panicking guest booted twice (1 restart)"
check_eq "$(rg_field crashy 'd["restarts"]')" 1 "on-failure: restarts = max_restarts = 1"
check_eq "$(rg_field crashy 'd["status"]')" stopped "on-failure: stopped once the limit is reached"
check_eq "$(rg_field crashy 'd["last_exit_reason"]')" reboot "on-failure: the panic (panic=-1) shows as reason reboot"
check_eq "$(rg_field steady 'd["restarts"]')" 0 "never: no restart"
check_eq "$(rg_field steady 'd["status"]')" stopped "never: stopped after the panic"
check_eq "$(rg_field steady 'd["last_exit_reason"]')" reboot "never: reason reboot"
"$avp" delete crashy
"$avp" delete steady

# --- 4. the cockpit system ----------------------------------------------------
# A copy with absolute guest paths; one-CPU test hosts pin to CPU 0.
cpu=1
[ "$(nproc)" -ge 2 ] || { cpu=0; skip "this test host has one CPU: the cluster is pinned to CPU 0, not 1"; }
cp -r examples/cockpit "$cockpit"
python3 - "$cockpit" "$kernel" "$initrd" "$cpu" <<'PY'
import json, sys
root, kernel, initrd, cpu = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
for vm in ("cluster", "infotainment"):
    p = f"{root}/{vm}/config.json"
    c = json.load(open(p))
    c["kernel"], c["initrd"] = kernel, initrd
    if "affinity" in c["cpus"]:
        c["cpus"]["affinity"] = [cpu]
    json.dump(c, open(p, "w"), indent=2)
PY
# Two linked VMs: one that died in kernel boot takes the system down and
# up again (rg_rt_boot). The guests act at once and end on their own, so
# what needs them running is looked at in cockpit_up, right after system
# up as it always was, and checked once both guests are up.
cockpit_up() {
	"$avp" system up "$cockpit/system.json" --timeout $START_S
	local st=$? t
	c_status=$(rg_field cluster 'd["status"]')
	i_status=$(rg_field infotainment 'd["status"]')
	c_bridge=$(ip -d link show avpbr-backbone 2>/dev/null)
	c_taps=$(ip link show avp525400c00001 2>/dev/null; ip link show avp525400c00002 2>/dev/null)
	# Pinning, as the kernel sees it (not as avp says).
	cpid=$(rg_field cluster 'd["pid"]')
	vtid="" c_affinity="" prio="" policy=""
	# The VMM names its vCPU threads once guest RAM is set up (and, here,
	# locked): poll rather than race it right after 'system up'.
	for ((i = 0; i < 300; i++)); do
		for t in /proc/"$cpid"/task/*; do
			[ "$(cat "$t/comm" 2>/dev/null)" = vcpu0 ] && vtid=${t##*/}
		done
		[ -n "$vtid" ] && break
		sleep 0.1
	done
	if [ -n "$vtid" ]; then
		c_affinity=$(taskset -pc "$vtid" | sed 's/.*: //')
		# /proc/TID/stat fields 40 (rt_priority) and 41 (policy; 1 =
		# SCHED_FIFO), counted after the ")" that ends the command name.
		read -r prio policy < <(sed 's/.*) //' "/proc/$cpid/task/$vtid/stat" | awk '{print $38, $39}')
	fi
	lck=$(awk '/^VmLck/ {print $2}' "/proc/$cpid/status")
	c_eff_aff=$(rg_field cluster 'd["effective"]["vcpus"][0]["affinity"]')
	c_eff_class=$(rg_field cluster 'd["effective"]["vcpus"][0]["class"]')
	ipid=$(rg_field infotainment 'd["pid"]')
	i_eff_class=$(rg_field infotainment 'd["effective"]["vcpus"][0]["class"]')
	ilck=$(awk '/^VmLck/ {print $2}' "/proc/$ipid/status")
	"$avp" system status "$cockpit/system.json" >"$work/status.json"
	return $st
}
cockpit_down() { "$avp" system down "$cockpit/system.json"; }
rg_rt_boot cockpit cockpit_up cockpit_down cluster infotainment
check_eq "$rg_up_rc" 0 "system up examples/cockpit"
check_eq "$c_status" running "cluster is running"
check_eq "$i_status" running "infotainment is running"
if grep -q bridge <<<"$c_bridge"; then ok "bridge avpbr-backbone exists"; else notok "no bridge avpbr-backbone"; fi
for tap in avp525400c00001 avp525400c00002; do
	if grep -q "^[0-9]*: $tap: .*master avpbr-backbone" <<<"$c_taps"; then ok "tap $tap is on the bridge"; else notok "tap $tap not on avpbr-backbone"; fi
done
if [ -n "$vtid" ]; then
	ok "cluster's vCPU thread vcpu0 is tid $vtid"
	check_eq "$c_affinity" "$cpu" "taskset: vcpu0 runs only on host CPU $cpu"
	check_eq "$policy" 1 "vcpu0's scheduling policy is SCHED_FIFO"
	check_eq "$prio" 50 "vcpu0's real-time priority is 50"
else
	notok "no vcpu0 thread in cluster's VMM (pid $cpid)"
fi
if [ "${lck:-0}" -ge $((128 * 1024)) ]; then ok "cluster has ${lck} KiB locked (memory.reserve, 128 MiB)"; else notok "cluster VmLck ${lck:-none} KiB"; fi
check_eq "$c_eff_aff" "[$cpu]" "avp state reports the effective affinity [$cpu]"
check_eq "$c_eff_class" fifo "avp state reports the effective class fifo"
check_eq "$i_eff_class" normal "infotainment's vCPU is normal"
check_eq "${ilck:-0}" 0 "infotainment has no locked memory"
check_eq "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["networks"][0]["present"], [v["status"] for v in d["vms"]])' "$work/status.json")" \
	"True ['running', 'running']" "system status: network present, both VMs running"

t0=$(date +%s)
rg_wait_for cluster stopped 180 && rg_wait_for infotainment stopped 60
echo "  cockpit guests ended after $(($(date +%s) - t0)) s"
keep_logs
for l in cluster infotainment; do
	sed 's/^/  | /' "$out/$l.log" | tr -d '\r' | grep -E 'netpeer|AVP-GUEST|monitor' | head -n 12
done
check_grep "$out/cluster.log" 'netpeer: ok - fe80::1 reached fe80::2' "cluster (fe80::1) pinged infotainment (fe80::2) over the system network"
check_grep "$out/infotainment.log" 'netpeer: ok - fe80::2 reached fe80::1' "infotainment (fe80::2) pinged cluster (fe80::1)"
check_eq "$(rg_field cluster 'd["last_exit_reason"]')" poweroff "cluster powered off (no restart for a clean end)"
check_eq "$(rg_field cluster 'd["restarts"]')" 0 "cluster was never restarted"
"$avp" system down "$cockpit/system.json"
check_eq "$?" 0 "system down"
if ip link show avpbr-backbone >/dev/null 2>&1; then notok "bridge still there after down"; else ok "bridge removed"; fi
if ip link show avp525400c00001 >/dev/null 2>&1; then notok "tap still there after down"; else ok "taps removed"; fi
"$avp" state cluster >/dev/null 2>&1
check_eq "$?" 1 "cluster is deleted"

finish
