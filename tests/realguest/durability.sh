#!/bin/bash
# AVP-BLK-2: what the guest flushed is in the image when avp is killed, and
# what it did not flush is lost at most, never garbled. Needs a real
# /dev/kvm:  scripts/testhost tests/realguest/durability.sh
#
# Boot 1 (avp.dur=sync): the guest writes pattern A over 4 MiB of vda,
# fsyncs and prints AVP-DUR-SYNCED; we SIGKILL avp the moment that line
# reaches us and check the image holds all of A.
# Boot 2 (avp.dur=torn), same image: the guest overwrites the range with
# O_DIRECT writes and no flush (patterns B, C in alternating passes) and
# prints AVP-DUR-UNFLUSHED after its first 16 blocks completed; we SIGKILL
# avp at that line while writes are in flight and check every sector holds
# A, B or C for its own position (old or new, never garbage), the 16
# completed blocks are new, and nothing outside the range changed.
# (A SIGKILL does not drop the host's page cache: this shows avp keeps no
# write in its own memory past a completion or a flush. That a flush also
# reaches the platter is fdatasync's job, checked in test_disk_raw.)
# Both boots run twice: with the default disk (io_uring, page cache) and
# with cache=none (O_DIRECT, bounce buffers for the guest's unaligned
# buffers), each on a freshly filled image.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh
source tests/lib/realguest.sh

rg_setup

work=$(mktemp -d /tmp/avp-dur.XXXXXX)
wd=
cleanup() { [ -n "$wd" ] && kill "$wd" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
img=$work/dur.img
OFF=$((1 << 20)) LEN=$((4 << 20)) SIZE=$((8 << 20))

# The sector pattern of tests/guest/fsync_marker.c, and the image checks.
cat >"$work/pattern.py" <<'PY'
import sys

SECTOR, BLOCK, FIRST, STRIDE = 512, 4096, 16, 37

# The tail of a sector depends only on (n * 131 + tag) & 0xff: 256 variants,
# built once (the test host runs Python under emulation, so this matters).
TAILS = [bytes((c + i * 7) & 0xFF for i in range(16, SECTOR)) for c in range(256)]

def sector(tag, n):
    head = ("DUR%s%012x" % (tag, n & 0xFFFFFFFFFFFF)).encode()
    return head + TAILS[(n * 131 + ord(tag)) & 0xFF]

def fill(path, size, tag):
    with open(path, "wb") as f:
        for n in range(size // SECTOR):
            f.write(sector(tag, n))

def check(path, off, length, allowed, need_new):
    data = open(path, "rb").read()
    counts = {t: 0 for t in allowed}
    bad = []
    outside = 0
    for n in range(len(data) // SECTOR):
        got = data[n * SECTOR:(n + 1) * SECTOR]
        if off // SECTOR <= n < (off + length) // SECTOR:
            for t in allowed:
                if got == sector(t, n):
                    counts[t] += 1
                    break
            else:
                bad.append(n)
        elif got != sector("S", n):
            outside += 1
    stale = 0
    if need_new:
        nblocks = length // BLOCK
        for k in range(FIRST):
            b = (k * STRIDE) % nblocks
            for s in range(BLOCK // SECTOR):
                n = (off + b * BLOCK) // SECTOR + s
                if data[n * SECTOR:(n + 1) * SECTOR] == sector("A", n):
                    stale += 1
    print(" ".join("%s=%d" % kv for kv in counts.items()),
          "garbage=%d" % len(bad), "first_garbage=%s" % (bad[0] if bad else "-"),
          "outside_changed=%d" % outside, "completed_but_old=%d" % stale)

if sys.argv[1] == "fill":
    fill(sys.argv[2], int(sys.argv[3]), sys.argv[4])
else:
    check(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6] == "1")
PY

# boot PHASE MARKER: runs the guest with its console on a FIFO we read line
# by line, SIGKILLs avp as soon as a line contains MARKER. Sets seen (1 when
# the marker came), rc (avp's status; 137 for our SIGKILL). A guest that
# died before its init ran wrote nothing: it is booted again under the
# boot-retry policy (rg_retry_boot), before any check.
boot() {
	local phase=$1 marker=$2 log=$out/durability-$1$label.log try
	for ((try = 1; ; try++)); do
		boot_once "$phase" "$marker" "$log"
		[ "$seen" = 1 ] && break
		rg_retry_boot "durability $phase" "$log" "$rc" "$try" || break
		mv "$log.stderr" "$log.stderr.try$try"
	done
	echo "durability: boot $phase: marker seen=$seen, avp status $rc; console tail:"
	tr -d '\r' <"$log" | tail -n 8 | sed 's/^/  | /'
	sed 's/^/  | stderr: /' "$log.stderr" | tail -n 5
}
boot_once() {
	local phase=$1 marker=$2 log=$3 pid line
	local fifo=$work/console.$1
	rm -f "$fifo"
	mkfifo "$fifo"
	: >"$log"
	"$avp" run --kernel "$kernel" --initrd "$initrd" --memory 192 \
		--cmdline "console=ttyS0 panic=-1 quiet avp.test=durability avp.dur=$phase" \
		--disk "$img$disk_opts" --serial stdio </dev/null >"$fifo" 2>"$log.stderr" &
	pid=$!
	# A guest that never gets there must not hang the suite.
	(sleep 300; kill -KILL "$pid" 2>/dev/null) &
	wd=$!
	seen=0
	while IFS= read -r line; do
		printf '%s\n' "$line" >>"$log"
		case "$line" in
		*"$marker"*) kill -KILL "$pid"; seen=1; break ;;
		esac
	done <"$fifo"
	{ wait "$pid"; } 2>/dev/null # no "Killed" job notice
	rc=$?
	kill "$wd" 2>/dev/null
	wait "$wd" 2>/dev/null
	wd=
}

# field NAME: the value of NAME=VALUE in the checker's summary line $res.
field() { tr ' ' '\n' <<<"$res" | sed -n "s/^$1=//p"; }

# round OPTS LABEL: both boots on a freshly filled image attached as
# --disk IMG$OPTS; LABEL prefixes the checks and names the logs.
round() {
	disk_opts=$1 label=${2:+-$2} p=${2:+$2: }
	python3 "$work/pattern.py" fill "$img" "$SIZE" S

	# --- boot 1: flushed data survives the kill --------------------------------
	boot sync AVP-DUR-SYNCED
	check_eq "$seen" 1 "${p}sync: the guest printed its marker after fsync"
	check_eq "$rc" 137 "${p}sync: avp was SIGKILLed at the marker (not exited on its own)"
	res=$(python3 "$work/pattern.py" check "$img" $OFF $LEN A 0)
	echo "durability: ${p}sync: $res"
	check_eq "$(field A)" $((LEN / 512)) \
		"${p}sync: every sector the guest fsynced is in the image after SIGKILL"
	check_eq "$(field outside_changed)" 0 \
		"${p}sync: nothing outside the written range changed"

	# --- boot 2: unflushed writes in flight ------------------------------------
	boot torn AVP-DUR-UNFLUSHED
	check_eq "$seen" 1 "${p}torn: the guest printed its marker with writes in flight"
	check_eq "$rc" 137 "${p}torn: avp was SIGKILLed at the marker"
	res=$(python3 "$work/pattern.py" check "$img" $OFF $LEN ABC 1)
	echo "durability: ${p}torn: $res"
	check_eq "$(field garbage)" 0 \
		"${p}torn: every sector holds the old or a new pattern for its own position, never garbage"
	check_eq "$(field completed_but_old)" 0 \
		"${p}torn: the 16 blocks whose writes completed before the marker hold new data"
	check_eq "$(field outside_changed)" 0 \
		"${p}torn: nothing outside the written range changed"
}

round "" ""
round ",cache=none" "cache=none"
finish
