#!/bin/bash
# avp as an OCI runtime, through runc's command line (docs/oci.md), without
# a guest: the kernel of the bundles is not a bzImage, so the VM process
# (avp run) refuses it at once, which is the "VMM failure" path.
#   1. runc's global options, features, --version, the refused commands
#   2. an engine's create/state/start/wait (tests/cli/oci_engine.py: a
#      subreaper like conmon): pid file, created -> stopped, exit status 255
#      with the reason in the --log (JSON lines), the console socket's pty
#   3. every state validates against the OCI state schema
#      (docs/oci-state.schema.json, python3-jsonschema), an avp VM's too
#   4. every failure path: bad bundle, unknown ID, bad signal, double
#      create, start of a stopped container, missing kernel, runc options on
#      an avp bundle: exit 1, one clear line, nothing left running
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh

avp=$PWD/${AVP:-build/avp}
py=/usr/bin/python3
if ! "$py" -c 'import jsonschema' 2>/dev/null; then
	skip "needs Debian's python3-jsonschema (scripts/packages.txt)"
	finish
	exit 0
fi
work=$(mktemp -d /tmp/avp-oci.XXXXXX)
root=$work/root
log=$work/log.json
cleanup() {
	for d in "$root"/*/; do
		[ -d "$d" ] && "$avp" --root "$root" delete --force "$(basename "$d")" >/dev/null 2>&1
	done
	rm -rf "$work"
}
trap cleanup EXIT

# validate FILE: the OCI state schema says yes
validate() {
	"$py" - docs/oci-state.schema.json "$1" <<'PY'
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
jsonschema.Draft202012Validator(schema).validate(json.load(open(sys.argv[2])))
PY
}
# expect_fail DESCRIPTION REGEX CMD...: exit status 1 and REGEX on stderr
expect_fail() {
	local what=$1 re=$2 rc
	shift 2
	"$@" >"$work/out" 2>"$work/err"
	rc=$?
	if [ "$rc" = 1 ] && grep -qE -- "$re" "$work/err"; then
		ok "$what"
	else
		notok "$what (exit $rc: $(head -c 300 "$work/err"))"
	fi
}
# no process of ours runs with $work in its command line
nothing_running() {
	local p
	for p in /proc/[0-9]*; do
		[ "$p" = "/proc/$$" ] && continue
		if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q -- "$work/b"; then
			return 1
		fi
	done
	return 0
}

mkdir -p "$work/b/rootfs"
head -c 8192 /dev/zero >"$work/b/vmlinuz"
cat >"$work/b/config.json" <<EOF
{
  "ociVersion": "1.0.2",
  "process": { "terminal": false, "args": ["sh"], "cwd": "/" },
  "root": { "path": "rootfs" },
  "hostname": "oci",
  "linux": { "namespaces": [ { "type": "pid" } ] },
  "annotations": { "io.example.test": "yes" },
  "vm": {
    "hypervisor": { "path": "$avp" },
    "kernel": { "path": "$work/b/vmlinuz", "parameters": ["console=ttyS0"] }
  }
}
EOF

# --- 1. the command line -----------------------------------------------
"$avp" --root "$root" --log "$log" --log-format json --systemd-cgroup features >"$work/f.json"
check_eq "$?" 0 "features with runc's global options"
check_eq "$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["ociVersionMax"])' \
	"$work/f.json")" 1.2.0 "features names the spec version"
"$avp" --root "$root" --version >"$work/v"
check_grep "$work/v" '^spec: 1\.2\.0$' "--version after a global option says the spec version"
for c in exec pause resume update; do
	expect_fail "$c: a clear refusal" "avp $c: not supported for a VM" "$avp" --root "$root" "$c" x
done
expect_fail "unknown global option" "unknown global option '--bogus'" "$avp" --root "$root" --bogus state x
expect_fail "--log-format other than text|json" "expected text or json" \
	"$avp" --log-format yaml state x
expect_fail "runc's run" "use create, then start" "$avp" --root "$root" run x

# --- 2. an engine runs a container -------------------------------------
"$py" tests/cli/oci_engine.py "$avp" "$root" "$log" c1 "$work/b" >"$work/e1.json"
j() { "$py" -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
check_eq "$(j "$work/e1.json" 'd["create"]')" 0 "create exits 0"
check_eq "$(j "$work/e1.json" 'd["state_created"]["status"]')" created "state: created"
check_eq "$(j "$work/e1.json" 'd["state_created"]["pid"] == d["pid"]')" True \
	"the pid file holds the state's pid"
check_eq "$(j "$work/e1.json" 'd["state_created"]["annotations"]["io.example.test"]')" yes \
	"the config's annotations are the state's"
check_eq "$(j "$work/e1.json" 'd["start"]')" 0 "start exits 0"
check_eq "$(j "$work/e1.json" 'd["exit"]')" 255 "a VMM failure: the container exits 255"
check_eq "$(j "$work/e1.json" 'd["state_stopped"]["status"]')" stopped "state: stopped"
check_grep "$log" '"level":"error".*the VM ended: avp refused the VM.s configuration' \
	"the reason is in runc's --log, as JSON"
"$py" -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$log"
check_eq "$?" 0 "every --log line is a JSON object"
for s in created stopped; do
	j "$work/e1.json" "json.dumps(d['state_$s'])" >"$work/s.json"
	if validate "$work/s.json"; then ok "the $s state validates (OCI state schema)"; else
		notok "the $s state validates"; fi
done
expect_fail "start of a stopped container" "is stopped: only a created container can start" \
	"$avp" --root "$root" start c1
expect_fail "kill of a stopped container" "not running" "$avp" --root "$root" kill c1 KILL
"$avp" --root "$root" delete c1
check_eq "$?" 0 "delete of a stopped container"
check_eq "$(ls "$root")" "" "delete leaves nothing under --root"

"$py" tests/cli/oci_engine.py "$avp" "$root" "$log" c2 "$work/b" --console >"$work/e2.json"
check_grep "$work/e2.json" '"console_name": "/dev/pts/[0-9]+"' \
	"--console-socket: a pty master arrives with its name"
check_grep "$work/e2.json" '"console": "[^"]*not a bzImage' \
	"the VM process's output comes out of the pty"
check_eq "$(j "$work/e2.json" 'd["exit"]')" 255 "the console container exits 255 too"
"$avp" --root "$root" delete c2

# created, then signals, then delete
"$avp" --root "$root" create --bundle "$work/b" --pid-file "$work/c3.pid" c3
check_eq "$?" 0 "create without an engine around it"
# containerd's runc shim (ctr task ps) reads `ps --format json` with stdout
# and stderr combined: the JSON array and nothing else
"$avp" --root "$root" --log "$log" --log-format json ps --format json c3 >"$work/ps" 2>&1
check_eq "$?" 0 "ps --format json of a created container"
check_eq "$(cat "$work/ps")" "[$(cat "$work/c3.pid")]" \
	"ps --format json: the container process alone before start, nothing else"
"$avp" --root "$root" ps c3 >"$work/ps"
check_grep "$work/ps" "^$(cat "$work/c3.pid") " "ps: a table with the container process"
expect_fail "ps --format other than table|json" "expected table or json" \
	"$avp" --root "$root" ps --format yaml c3
expect_fail "--format on another command" "option of avp list and avp ps" \
	"$avp" --root "$root" kill --format json c3
expect_fail "ps of an unknown ID" "no (VM|container) with ID 'nope'" "$avp" --root "$root" ps nope
"$avp" --root "$root" state c3 >"$work/s.json"
if validate "$work/s.json"; then ok "state from the command line validates"; else
	notok "state from the command line validates"; fi
expect_fail "create with an ID in use" "exists already" \
	"$avp" --root "$root" create --bundle "$work/b" c3
expect_fail "a bad signal" "signal 'BOGUS'" "$avp" --root "$root" kill c3 BOGUS
expect_fail "signal 0" "signal '0'" "$avp" --root "$root" kill c3 0
"$avp" --root "$root" kill --all c3 15
check_eq "$?" 0 "kill --all ID 15 (a number) of a created container"
sleep 0.3
check_eq "$("$avp" --root "$root" state c3 | j /dev/stdin 'd["status"]')" stopped \
	"a created container that is killed is stopped"
check_eq "$("$avp" --root "$root" ps --format json c3 2>&1)" "[]" "ps of a stopped container: none"
"$avp" --root "$root" create --bundle "$work/b" c4 && "$avp" --root "$root" delete --force c4
check_eq "$?" 0 "delete --force of a created container"
"$avp" --root "$root" delete c3

# --- 3. an avp VM in the OCI shape -------------------------------------
mkdir -p "$work/avpb"
cp "$work/b/vmlinuz" "$work/avpb/bz"
echo '{"kernel": "bz"}' >"$work/avpb/config.json"
"$avp" create avm --root "$root" --bundle "$work/avpb"
"$avp" --root "$root" state avm >"$work/s.json"
if validate "$work/s.json"; then ok "an avp VM's state, asked runc-style, validates"; else
	notok "an avp VM's state, asked runc-style, validates"; fi
"$avp" state avm --root "$root" >"$work/s2.json"
check_grep "$work/s2.json" '"monitor_pid"' "asked avp-style, the avp state is unchanged"
expect_fail "--pid-file with an avp bundle" "need an OCI bundle" \
	"$avp" --root "$root" create --bundle "$work/avpb" --pid-file "$work/x.pid" avm2
expect_fail "ps of an avp VM" "is an avp VM" "$avp" --root "$root" ps avm

# --- 3b. list: avp's VMs and OCI ones, as avp and as runc show them ----
"$avp" --root "$root" create --bundle "$work/b" --pid-file "$work/c5.pid" c5
c5=$(cat "$work/c5.pid")
"$avp" list --root "$root" >"$work/list"
check_grep "$work/list" "^c5 +created +$c5 +- +- +$work/b\$" "avp list shows an OCI VM"
check_grep "$work/list" "^avm +created " "avp list shows the avp VM beside it"
"$avp" list --json --root "$root" >"$work/list.json"
check_eq "$(j "$work/list.json" '[(v["id"], "ociVersion" in v) for v in d]')" \
	"[('avm', False), ('c5', True)]" "avp list --json: both, the OCI VM in its OCI state"
"$avp" --root "$root" list --format json >"$work/rlist.json" 2>&1
check_eq "$(j "$work/rlist.json" '[sorted(v) for v in d][1]')" \
	"['annotations', 'bundle', 'created', 'id', 'ociVersion', 'owner', 'pid', 'rootfs', 'status']" \
	"runc's list --format json: runc's fields"
check_eq "$(j "$work/rlist.json" '[(v["id"], v["status"], v["pid"], v["owner"]) for v in d]')" \
	"[('avm', 'created', $(j "$work/s.json" 'd["pid"]'), '$(id -un)'), ('c5', 'created', $c5, '$(id -un)')]" \
	"runc's list: IDs, statuses, pids and owners"
check_eq "$(j "$work/rlist.json" 'all(__import__("re").fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", v["created"]) for v in d)')" \
	True "runc's list: created in RFC 3339 (go-runc parses it as a time)"
check_eq "$("$avp" --root "$root" list -q | tr '\n' ' ')" "avm c5 " "runc's list -q: the IDs"
"$avp" --root "$root" list >"$work/rlist"
check_grep "$work/rlist" "^ID +PID +STATUS +BUNDLE +CREATED +OWNER\$" "runc's list: runc's table"
expect_fail "list --json runc-style" "runc's list takes --format json" "$avp" --root "$root" list --json
"$avp" --root "$root" delete --force c5
"$avp" delete --force avm --root "$root"

# --- 4. refusals at create: nothing left behind ------------------------
expect_fail "unknown ID: state" "no (VM|container) with ID 'nope'" "$avp" --root "$root" state nope
expect_fail "unknown ID: start" "no (VM|container) with ID 'nope'" "$avp" --root "$root" start nope
expect_fail "unknown ID: kill" "no (VM|container) with ID 'nope'" "$avp" --root "$root" kill nope
expect_fail "unknown ID: delete" "no (VM|container) with ID 'nope'" \
	"$avp" --root "$root" delete nope
# runc: delete --force of a container that is gone succeeds (containerd's
# shim deletes once, then again when it cleans up after itself)
"$avp" --root "$root" --log "$log" --log-format json delete --force nope
check_eq "$?" 0 "runc-style delete --force of an unknown ID succeeds"
expect_fail "avp-style delete --force of an unknown ID" "no (VM|container) with ID 'nope'" \
	"$avp" delete --force nope --root "$root"
mkdir -p "$work/bad"
echo '{"ociVersion": "1.0.2", "vm": {' >"$work/bad/config.json"
expect_fail "a bundle that is not JSON" "config.json:[0-9]+:[0-9]+: JSON syntax error" \
	"$avp" --root "$root" create --bundle "$work/bad" x1
sed "s|$work/b/vmlinuz|$work/b/gone|" "$work/b/config.json" >"$work/bad/config.json"
expect_fail "a missing kernel" "file not found.*$work/b/gone" \
	"$avp" --root "$root" --log "$log" create --bundle "$work/bad" --pid-file "$work/x1.pid" x1
check_grep "$log" 'file not found' "the refusal is in the --log too"
sed 's|"vm": {|"vm": { "hypervisor": { "path": "/usr/bin/qemu-system-x86_64" },|; s|"hypervisor": { "path": "[^"]*avp" },||' \
	"$work/b/config.json" >"$work/bad/config.json"
expect_fail "another hypervisor" "is not avp" "$avp" --root "$root" create --bundle "$work/bad" x1
# a container image (root.path, no vm) whose tree is not there, or whose
# process has nothing to run
mkdir -p "$work/img"
echo '{"ociVersion": "1.0.2", "process": {"args": ["sh"]}, "root": {"path": "gone"}}' \
	>"$work/img/config.json"
expect_fail "a container image without its tree" "root.path" \
	"$avp" --root "$root" create --bundle "$work/img" x2
mkdir -p "$work/img/rootfs"
echo '{"ociVersion": "1.0.2", "process": {"args": []}, "root": {"path": "rootfs"}}' \
	>"$work/img/config.json"
expect_fail "a container image with empty process.args" "process.args|avp's guest kernel and init" \
	"$avp" --root "$root" create --bundle "$work/img" x2
check_eq "$(ls "$root")" "" "no state left by the refused creates"
if [ -e "$work/x1.pid" ]; then notok "no pid file from a refused create"; else
	ok "no pid file from a refused create"; fi
if nothing_running; then ok "no process left running"; else notok "no process left running"; fi
finish
