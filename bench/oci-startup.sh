#!/bin/bash
# Start-up cost of a container image run as a VM (issue 17, docs/oci.md),
# side by side with runc running the same image as a container, in the
# same run. An image is the reference guest's busybox tree plus PAD MiB of
# incompressible files (0 and 100 by default); its process prints a line
# and exits. Through runc's command line (tests/cli/oci_engine.py, the
# engine stand-in), per image and runtime, ROUNDS times:
#   create_s           `create` (avp packs the tree into the guest's
#                      initramfs here; runc sets up its namespaces)
#   start_to_exit_s    `start` until the container process has exited
#                      (its one line printed just before)
# and the medians. Inside the nested test host only the ratios mean much.
#   scripts/testhost --smp 2 --memory 3072 --timeout 1800 bench/oci-startup.sh [ROUNDS] [PAD_MIB...]
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds=${1:-3}
shift
pads=("${@:-0 100}")
read -r -a pads <<<"${pads[*]}"
source bench/lib.sh
bench_setup oci-startup
avp=$PWD/build/avp
out=build/testhost/out/oci-startup
mkdir -p "$out"
[ -e build/oci-init/base.cpio ] || { echo "oci-startup: build/oci-init missing (scripts/mkoci-init)" >&2; exit 1; }
runc=$(command -v runc || true)
# runc needs a cgroup file system; the test host mounts none of its own
if [ -n "$runc" ] && ! mountpoint -q /sys/fs/cgroup; then
	mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null || say_later="runc: /sys/fs/cgroup could not be mounted"
fi

mkdir -p "$work/tree"
(cd "$work/tree" && gzip -dc "$OLDPWD/build/guest/initrd.img" | cpio -id --quiet 2>/dev/null)
rm -f "$work/tree/init"
res=$out/oci-startup.txt
: >"$res"
say() { echo "oci-startup: $*" | tee -a "$res"; }
say "$(date -u +%FT%TZ) rounds=$rounds pads=${pads[*]} MiB; testhost=${AVP_TESTHOST:-?}; runc=${runc:-none}"
[ -z "${say_later:-}" ] || say "$say_later"

# bundle DIR PAD RUNTIME: the image with PAD MiB more, for avp (no vm
# object: avp's default kernel and init) or runc (runc spec's defaults).
bundle() {
	local dir=$1 pad=$2 rt=$3
	rm -rf "$dir" && mkdir -p "$dir" && cp -a "$work/tree" "$dir/rootfs"
	if [ "$pad" -gt 0 ]; then
		mkdir -p "$dir/rootfs/pad"
		# 1 MiB files of random bytes: nothing for gzip to win
		for ((i = 0; i < pad; i++)); do head -c 1048576 /dev/urandom >"$dir/rootfs/pad/f$i"; done
	fi
	if [ "$rt" = avp ]; then
		cat >"$dir/config.json" <<JSON
{
  "ociVersion": "1.0.2",
  "process": { "args": ["sh", "-c", "echo started; exit 0"], "env": ["PATH=/bin:/sbin"], "cwd": "/" },
  "root": { "path": "rootfs" },
  "memory": { "mib": $((256 + 3 * pad)) }
}
JSON
	else
		(cd "$dir" && "$runc" spec) || return 1
		python3 - "$dir/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["sh", "-c", "echo started; exit 0"]
c["root"]["readonly"] = False
json.dump(c, open(p, "w"))
PY
	fi
}

# one RT PAD ROUND: prints "create_s start_to_exit_s", or "-1 -1" when the
# run failed (the engine's output is kept in build/testhost/out/oci-startup).
one() {
	local rt=$1 pad=$2 round=$3 bin=$avp id j
	[ "$rt" = runc ] && bin=$runc
	id="$rt-$pad-$round"
	j=$work/$id.json
	python3 tests/cli/oci_engine.py "$bin" "$work/root-$rt" "$work/$rt.log" "$id" "$work/b-$rt-$pad" \
		--stdout "$work/$id.out" >"$j" 2>"$work/$id.err"
	python3 - "$j" "$work/$id.out" <<'PY'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    ok = d.get("create") == 0 and d.get("exit") == 0 and b"started" in open(sys.argv[2], "rb").read()
except Exception:
    ok = False
if ok:
    print(d["create_s"], d["start_to_exit_s"])
else:
    print(-1, -1)
PY
	cp "$j" "$work/$id.err" "$work/$id.out" "$out/" 2>/dev/null
	"$bin" --root "$work/root-$rt" delete --force "$id" >/dev/null 2>&1
}


rts=(avp)
[ -n "$runc" ] && rts+=(runc) || say "runc is not installed: avp alone"
for pad in "${pads[@]}"; do
	for rt in "${rts[@]}"; do
		bundle "$work/b-$rt-$pad" "$pad" "$rt" || { say "$rt pad $pad: the bundle could not be made"; continue; }
	done
	say "image: busybox tree + $pad MiB ($(du -sm "$work/b-avp-$pad/rootfs" | cut -f1) MiB in all)"
	for rt in "${rts[@]}"; do
		: >"$work/fig-$rt-$pad"
		for ((r = 1; r <= rounds; r++)); do
			line=$(one "$rt" "$pad" "$r")
			say "  $rt round $r: create ${line%% *} s, start to exit ${line##* } s"
			[ "${line%% *}" = -1 ] || echo "$line" >>"$work/fig-$rt-$pad"
		done
		if [ -s "$work/fig-$rt-$pad" ]; then
			say "  $rt median of $(wc -l <"$work/fig-$rt-$pad"): create $(cut -d' ' -f1 "$work/fig-$rt-$pad" | median) s," \
				"start to exit $(cut -d' ' -f2 "$work/fig-$rt-$pad" | median) s"
		else
			say "  $rt: no round completed (the engine's output is in $out)"
		fi
	done
	rm -rf "$work"/b-*-"$pad"
done
say "figures in $res"
