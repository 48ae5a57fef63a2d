#!/bin/bash
# containerd drives avp (issue 17, "Tests with the real engines"; docs/oci.md):
#   scripts/testhost-suite --smp 2 --memory 3072 \
#       --timeout 1500 tests/realguest/oci-ctr.sh
# Debian's containerd started here with a private config, root, state and
# socket under a temp dir (no CRI plugin, the `native` snapshotter: plain
# directories on the test host's tmpfs), and `ctr run --runc-binary avp`:
# containerd-shim-runc-v2 calls avp with runc's command line. The image is
# made offline: the reference guest's busybox as one layer of an OCI image
# layout written here, then `ctr image import`. No network in this mode.
#   1. ctr image import of that layout
#   2. ctr run --rm: stdout and stderr apart, the process's exit status (3)
#   3. ctr run in the background: ctr task ls RUNNING, ctr task ps (the
#      container process and the VMM), `avp list` and `avp state` through
#      the shim's runc root, ctr task kill (SIGTERM: the guest's power button,
#      the process's trap exits 7), the exit status through ctr, STOPPED
#   3b. ctr run -d --log-uri file://: STOPPED in ctr task ls once it ended,
#      its output in the file, ctr task delete says its exit code (5)
#   3c. ctr run -t (a console socket): the output through the pty, status 4
#   4. a program that does not exist: 127, avp's reason on stderr
#   5. ctr container rm: nothing left in avp's root, no process of the test,
#      the shim's second delete (--force, in its cleanup) succeeded
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh
source tests/lib/realguest.sh

rg_setup --absolute --fresh oci-ctr
for tool in containerd ctr containerd-shim-runc-v2; do
	if ! command -v "$tool" >/dev/null; then
		skip "no $tool on this host (Debian's containerd; scripts/packages.txt lists it)"
		finish
		exit 0
	fi
done
[ -e build/oci-init/base.cpio ] || { notok "build/oci-init missing (scripts/mkoci-init)"; finish; exit 1; }
work=$(mktemp -d /tmp/avp-ctr.XXXXXX)
sock=$work/containerd.sock
cpid=
cleanup() {
	local c
	if [ -n "$cpid" ]; then
		for c in c1 c2 c3 c4 c5; do
			ctr --address "$sock" task kill -s KILL "$c" >/dev/null 2>&1
			ctr --address "$sock" task delete "$c" >/dev/null 2>&1
			ctr --address "$sock" container rm "$c" >/dev/null 2>&1
		done
		kill "$cpid" 2>/dev/null
		wait "$cpid" 2>/dev/null
	fi
	cp "$work/containerd.log" "$out/" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# containerd of our own: the plugins a node would use for CRI, and the
# snapshotters that need other file systems, are off.
cat >"$work/config.toml" <<EOF
version = 2
root = "$work/root"
state = "$work/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
EOF
containerd --config "$work/config.toml" >"$work/containerd.log" 2>&1 &
cpid=$!
ctr=(ctr --address "$sock")
for _ in $(seq 1 100); do
	"${ctr[@]}" version >/dev/null 2>&1 && break
	sleep 0.2
done
if ! "${ctr[@]}" version >/dev/null 2>&1; then
	notok "containerd did not start ($(tail -3 "$work/containerd.log"))"
	finish
	exit 1
fi
ok "containerd runs with a private root and socket"

# The image: the guest's busybox tree as one uncompressed layer of an OCI
# image layout (image-spec: oci-layout, index.json, blobs by sha256).
mkdir -p "$work/rootfs"
(cd "$work/rootfs" && gzip -dc "$initrd" | cpio -id --quiet 2>/dev/null)
rm -f "$work/rootfs/init"
tar -C "$work/rootfs" -cf "$work/layer.tar" .
python3 - "$work/layer.tar" "$work/image.tar" localhost/avp-bb:1 <<'PY'
import hashlib, io, json, sys, tarfile
layer_path, out, name = sys.argv[1:4]
blobs = {}
def blob(data, media):
    d = hashlib.sha256(data).hexdigest()
    blobs[d] = data
    return {"mediaType": media, "digest": "sha256:" + d, "size": len(data)}
layer = blob(open(layer_path, "rb").read(), "application/vnd.oci.image.layer.v1.tar")
config = blob(json.dumps({
    "architecture": "amd64", "os": "linux",
    "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/bin:/bin:/usr/sbin:/sbin"], "WorkingDir": "/"},
    "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]},
}).encode(), "application/vnd.oci.image.config.v1+json")
manifest = blob(json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": config, "layers": [layer],
}).encode(), "application/vnd.oci.image.manifest.v1+json")
manifest["annotations"] = {"io.containerd.image.name": name}
with tarfile.open(out, "w") as t:
    def add(path, data):
        info = tarfile.TarInfo(path)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    add("index.json", json.dumps({"schemaVersion": 2, "manifests": [manifest]}).encode())
    for d, data in blobs.items():
        add("blobs/sha256/" + d, data)
PY
"${ctr[@]}" image import --snapshotter native "$work/image.tar" >"$work/import" 2>&1
check_eq "$?" 0 "ctr image import of an OCI layout of the guest's busybox"
# The shim's runc root under the temp dir: what avp keeps is in sight.
runc_root=$work/runc
run=("${ctr[@]}" run --snapshotter native --runc-binary "$avp" --runc-root "$runc_root"
	--fifo-dir "$work/fifo")

# 2. In the foreground, --rm.
t0=$(date +%s.%N)
"${run[@]}" --rm localhost/avp-bb:1 c1 sh -c 'echo out-ctr; echo err-ctr >&2; test -x /bin/busybox && exit 3' \
	</dev/null >"$work/out1" 2>"$work/err1"
rc=$?
t1=$(date +%s.%N)
cp "$work/out1" "$work/err1" "$out/" 2>/dev/null
check_eq "$rc" 3 "ctr run --rm: the process's exit status (3)"
check_eq "$(cat "$work/out1")" out-ctr "ctr run --rm: the process's stdout"
check_grep "$work/err1" '^err-ctr$' "ctr run --rm: its stderr, apart"
echo "oci-ctr: ctr run --rm took $(echo "$t1 - $t0" | bc) s"

# 3. A container that runs until it is stopped.
"${run[@]}" localhost/avp-bb:1 c2 \
	sh -c 'trap "echo stopping; exit 7" TERM; echo up; while :; do sleep 1; done' \
	</dev/null >"$work/out2" 2>"$work/err2" &
runpid=$!
for _ in $(seq 1 600); do
	grep -q '^up' "$work/out2" && break
	kill -0 "$runpid" 2>/dev/null || break
	sleep 1
done
check_grep "$work/out2" '^up' "ctr run: the container's process runs"
"${ctr[@]}" task ls >"$work/ls" 2>&1
check_grep "$work/ls" '^c2 +[0-9]+ +RUNNING' "ctr task ls: RUNNING"
tpid=$(awk '$1 == "c2" { print $2 }' "$work/ls")
"${ctr[@]}" task ps c2 >"$work/ps" 2>&1
check_eq "$?" 0 "ctr task ps (avp ps --format json)"
cp "$work/ls" "$work/ps" "$out/" 2>/dev/null
check_grep "$work/ps" "^$tpid " "ctr task ps lists the container process ($tpid)"
vmm=$(awk -v t="$tpid" 'NR > 1 && $1 != t { print $1; exit }' "$work/ps")
if [ -n "$vmm" ] && grep -qx vcpu0 /proc/"$vmm"/task/*/comm 2>/dev/null; then
	ok "ctr task ps lists the VMM ($vmm, with its vCPU threads)"
else
	notok "ctr task ps lists the VMM (pids: $(tr '\n' ' ' <"$work/ps"))"
fi
"$avp" --root "$runc_root/default" list >"$work/list" 2>&1
check_grep "$work/list" "^c2 +$tpid +running " "avp list through the shim's runc root: c2 running"
"$avp" --root "$runc_root/default" state c2 >"$work/c2state" 2>&1
check_grep "$work/c2state" '"status": "running"' "avp state through the shim's runc root"
"${ctr[@]}" task kill c2
check_eq "$?" 0 "ctr task kill (SIGTERM)"
wait "$runpid"
check_eq "$?" 7 "the guest's power button reached the process's trap: ctr run's exit status 7"
check_grep "$work/out2" '^stopping' "the process saw SIGTERM"
cp "$work/out2" "$work/err2" "$out/" 2>/dev/null
"${ctr[@]}" task ls >"$work/ls2" 2>&1
if grep -q '^c2 ' "$work/ls2"; then
	notok "ctr run deleted its task ($(tr '\n' ' ' <"$work/ls2"))"
else
	ok "ctr run deleted its task"
fi

# 3b. Detached, its output to a file: the task stays until deleted, STOPPED.
"${run[@]}" -d --log-uri "file://$work/out4" localhost/avp-bb:1 c4 sh -c 'echo bye; exit 5' \
	>"$work/d4" 2>&1
check_eq "$?" 0 "ctr run -d --log-uri file://"
for _ in $(seq 1 600); do
	"${ctr[@]}" task ls >"$work/ls4" 2>&1
	grep -qE '^c4 +[0-9]+ +STOPPED' "$work/ls4" && break
	sleep 1
done
check_grep "$work/ls4" '^c4 +[0-9]+ +STOPPED' "ctr task ls: STOPPED once the process ended"
check_grep "$work/out4" '^bye' "ctr run -d: the process's output in the --log-uri file"
"${ctr[@]}" task delete c4 >"$work/del4" 2>&1
check_grep "$work/del4" 'exit code 5' "ctr task delete: the process's exit code (5)"
"${ctr[@]}" container rm c4 >/dev/null 2>&1

# 3c. A terminal (-t): the shim makes a console socket, avp sends the pty
# master over it (--console-socket), the shim copies it to ctr's terminal
# (script(1) gives ctr one).
script -qfec "${run[*]} -t --rm localhost/avp-bb:1 c5 sh -c 'echo tty-ctr; exit 4'" /dev/null \
	</dev/null >"$work/out5" 2>&1
rc=$?
cp "$work/out5" "$out/" 2>/dev/null
check_eq "$rc" 4 "ctr run -t: the process's exit status (4)"
check_grep "$work/out5" 'tty-ctr' "ctr run -t: its output through the pty avp sent"

# 4. A program the image lacks.
"${run[@]}" --rm localhost/avp-bb:1 c3 /no/such/program </dev/null >"$work/out3" 2>"$work/err3"
check_eq "$?" 127 "ctr run of a missing program: 127"
check_grep "$work/err3" 'cannot execute' "ctr run of a missing program: avp's reason on stderr"

# 5. Nothing left.
"${ctr[@]}" container rm c2
check_eq "$?" 0 "ctr container rm"
check_eq "$("${ctr[@]}" container ls -q | wc -l)" 0 "no container left in containerd"
left=$(find "$runc_root" -mindepth 2 -maxdepth 2 2>/dev/null | wc -l)
check_eq "$left" 0 "nothing left in the shim's runc root"
stray=
for p in /proc/[0-9]*; do
	if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q -- "$work/state/io.containerd.runtime"; then
		stray="$stray ${p#/proc/}"
	fi
done
check_eq "$stray" "" "no avp process left"
# The shim deletes each container twice (the second time with --force, when
# it cleans up after itself); a runtime that fails the second makes
# containerd log its message (avp's did, before it took runc's way). A bare
# "exit status 255: " there is the cleanup shim's own race (its reaper takes
# the exit before os/exec's Wait does), seen with runc as well.
if grep -qE 'failed to remove runc container.*(no VM|no container) with ID' "$work/containerd.log"; then
	notok "the shim's second delete --force succeeds ($(grep -m1 -o 'failed to remove.\{0,200\}' "$work/containerd.log"))"
else
	ok "the shim's second delete --force succeeds"
fi
finish
