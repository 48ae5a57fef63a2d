#!/bin/bash
# avp as an OCI runtime with the reference guest (docs/oci.md):
#   flock /tmp/avp-testhost.lock scripts/testhost-suite --smp 2 --memory 3072 \
#       --timeout 1500 tests/realguest/oci.sh
# An engine stand-in (tests/cli/oci_engine.py: a subreaper, as conmon and
# containerd's shim are) drives runc's command line on an OCI bundle whose
# vm object names the reference guest (avp.test=idle):
#   1. create: the pid file's process exists, no VM process yet; state
#      created (and valid against the OCI state schema)
#   2. start: the guest boots and prints to the container's stdout; state
#      running with the container process's pid, which has avp run as its
#      child with a vcpu0 thread
#   3. kill TERM: the guest's power button, the guest powers off, the
#      container process exits 0; state stopped; delete removes it all
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh
source tests/lib/realguest.sh

rg_setup --absolute --fresh oci
work=$(mktemp -d /tmp/avp-oci.XXXXXX)
root=$work/root
cleanup() {
	for d in "$root"/*/; do
		[ -d "$d" ] && "$avp" --root "$root" delete --force "$(basename "$d")" >/dev/null 2>&1
	done
	cp "$work"/*.log "$out/" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/b"
cat >"$work/b/config.json" <<JSON
{
  "ociVersion": "1.0.2",
  "process": { "args": ["/init"], "cwd": "/" },
  "root": { "path": "rootfs" },
  "vm": {
    "hypervisor": { "path": "$avp" },
    "kernel": {
      "path": "$kernel",
      "initrd": "$initrd",
      "parameters": ["console=ttyS0", "panic=-1", "quiet", "avp.test=idle"]
    }
  },
  "cpus": { "count": 1 },
  "memory": { "mib": 128 }
}
JSON

python3 tests/cli/oci_engine.py "$avp" "$root" "$work/runtime.log" g1 "$work/b" \
	--stdout "$work/console.log" --wait-for "idle-test: up" --timeout 600 --kill TERM \
	>"$work/engine.json"
check_eq "$?" 0 "the engine stand-in ran"
cp "$work/engine.json" "$out/"
j() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" \
	"$work/engine.json" "$1" 2>/dev/null; }
check_eq "$(j 'd["create"]')" 0 "create exits 0"
check_eq "$(j 'd["state_created"]["status"]')" created "state after create: created"
check_eq "$(j 'd["state_created"]["pid"] == d["pid"]')" True "the pid file holds the state's pid"
check_eq "$(j 'd["start"]')" 0 "start exits 0"
check_eq "$(j 'd["saw"]')" True "the guest boots and prints to the container's stdout"
check_eq "$(j 'd["state_running"]["status"]')" running "state after start: running"
check_eq "$(j 'd["state_running"]["pid"] == d["pid"]')" True "running: the same pid"
vmm=$(j 'd["children"][0]')
check_eq "$(j 'len(d["children"])')" 1 "the container process has one child, the VMM"
check_eq "$(j '"vcpu0" in d["threads"]')" True "the VMM has its vcpu0 thread while running"
check_eq "$(j 'd["kill"]')" 0 "kill TERM exits 0"
check_eq "$(j 'd["exit"]')" 0 "the guest powered off: the container exits 0"
check_eq "$(j 'd["state_stopped"]["status"]')" stopped "state after the exit: stopped"
check_grep "$work/console.log" "idle-test: up" "the console is in the container's output"
if [ -n "$vmm" ] && [ ! -e "/proc/$vmm" ]; then ok "the VMM (pid $vmm) is gone"; else
	notok "the VMM (pid '$vmm') is gone"; fi
if python3 - docs/oci-state.schema.json "$work/engine.json" <<'PY'
import json, sys
try:
    import jsonschema
except ImportError:
    sys.exit(0)  # the test host's root may lack it; tests/cli/oci.sh validates
schema, d = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
for k in ("state_created", "state_running", "state_stopped"):
    jsonschema.validate(d[k], schema)
PY
then ok "the three states validate (OCI state schema)"; else notok "the states validate"; fi
"$avp" --root "$root" delete g1
check_eq "$?" 0 "delete"
check_eq "$(ls "$root")" "" "nothing left under --root"
finish
