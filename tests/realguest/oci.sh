#!/bin/bash
# avp as an OCI runtime with the reference guest (docs/oci.md):
#   scripts/testhost-suite --smp 2 --memory 3072 \
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
# and a container image as a VM (root.path, no vm object: avp's default
# kernel and init, scripts/mkoci-init), its tree the reference guest's
# busybox with /etc/hostname bind-mounted as podman does:
#   4. process.args runs with its env; stdout and stderr arrive apart;
#      stdin carries a line, then EOF; the exit status is the process's (3)
#   5. kill TERM: the power button becomes SIGTERM to the process, whose
#      trap exits 7, and that is the container's exit status
# The engine's timings (create = packing, start to first output) go to
# build/testhost/out/oci/.
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

# --- a container image as a VM ---------------------------------------------
if [ ! -e build/oci-init/base.cpio ]; then
	notok "build/oci-init missing (run scripts/mkoci-init)"
	finish
	exit 1
fi
mkdir -p "$work/img/rootfs"
(cd "$work/img/rootfs" && gzip -dc "$initrd" | cpio -id --quiet 2>/dev/null)
rm -f "$work/img/rootfs/init"
echo oci-image-test >"$work/hostname"
# image ARGS-JSON: config.json of a bundle whose process runs ARGS
image() {
	cat >"$work/img/config.json" <<JSON
{
  "ociVersion": "1.0.2",
  "process": { "args": $1, "env": ["PATH=/bin:/sbin:/usr/bin", "GREETING=hi"], "cwd": "/tmp" },
  "root": { "path": "rootfs" },
  "hostname": "ctr",
  "mounts": [ { "destination": "/etc/hostname", "type": "bind", "source": "$work/hostname",
                "options": ["rbind"] } ],
  "memory": { "mib": 256 }
}
JSON
}
image '["sh", "-c", "cat /etc/hostname; echo $GREETING from $(pwd) on $(hostname); echo to-stderr >&2; read line; echo got:$line; read more || echo eof; exit 3"]'
printf 'hello\n' | python3 tests/cli/oci_engine.py "$avp" "$root" "$work/runtime.log" i1 \
	"$work/img" --stdout "$work/i1.out" --stderr "$work/i1.err" >"$work/i1.json"
cp "$work/i1.json" "$work/i1.out" "$work/i1.err" "$out/" 2>/dev/null
k() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" \
	"$work/$1.json" "$2" 2>/dev/null; }
check_eq "$(k i1 'd["create"]')" 0 "image: create (packs the tree) exits 0"
check_eq "$(k i1 'd["exit"]')" 3 "image: the container exits with the process's status (3)"
check_grep "$work/i1.out" "^oci-image-test$" "image: the bind-mounted /etc/hostname is the container's"
check_grep "$work/i1.out" "^hi from /tmp on ctr$" "image: process.env, cwd and hostname"
check_grep "$work/i1.out" "^got:hello$" "image: stdin reaches the process"
check_grep "$work/i1.out" "^eof$" "image: then EOF"
check_grep "$work/i1.err" "^to-stderr$" "image: stderr arrives on stderr"
if grep -q to-stderr "$work/i1.out"; then notok "image: stderr kept out of stdout"; else
	ok "image: stderr kept out of stdout"; fi
"$avp" --root "$root" delete i1
image '["sh", "-c", "trap \"echo got-term; exit 7\" TERM; echo ready; while :; do sleep 1; done"]'
python3 tests/cli/oci_engine.py "$avp" "$root" "$work/runtime.log" i2 "$work/img" \
	--stdout "$work/i2.out" --stderr "$work/i2.err" --wait-for ready --timeout 600 \
	--kill TERM </dev/null >"$work/i2.json"
cp "$work/i2.json" "$work/i2.out" "$work/i2.err" "$out/" 2>/dev/null
check_eq "$(k i2 'd["saw"]')" True "image: the process runs"
check_eq "$(k i2 'd["exit"]')" 7 "image: kill TERM -> power button -> SIGTERM: the trap's status 7"
check_grep "$work/i2.out" "^got-term$" "image: the process saw SIGTERM"
echo "oci: timings: $(k i1 '(d["create_s"], d["start_to_exit_s"])') (create, start to exit)"
"$avp" --root "$root" delete i2
check_eq "$(ls "$root")" "" "nothing left under --root"
finish
