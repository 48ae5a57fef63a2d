#!/bin/bash
# The boots of the AVP conformance run (scripts/conform runs this where
# /dev/kvm can boot Linux: inside scripts/testhost, or directly).
#
#   conform-inside.sh --hypervisor avp|qemu[,..] --out DIR [--quick]
#                     [--no-rng] [--legacy-mmio]
#
# Per hypervisor, in DIR/<hv>/:
#   boot 1 "main"  one VM with the whole reference platform (scratch disk,
#                  read-only disk, tap NIC whose host end is fe80::1, rng,
#                  virtio-console to a file); the guest agent judges most
#                  rows, then the guest powers off (AVP-PM-1 power-off).
#   boot 2 "pair"  (not with --quick) VMs side by side: a and b on a host
#                  bridge without any NIC (AVP-NET-2, AVP-PART-1); b flushes
#                  a token and is SIGKILLed at its marker (AVP-BLK-2); c
#                  reboots (AVP-PM-1 reboot); a keeps doing I/O, gets its
#                  vCPUs pinned (AVP-PART-2), its RSS measured (AVP-PART-3)
#                  and finally the host's graceful shutdown request
#                  (AVP-PM-1). A fourth VM d tests the watchdog if boot 1
#                  found one.
# Host-side observations go to DIR/<hv>/host.tsv (ID, result, evidence);
# the guests' lines stay in DIR/<hv>/*.serial; conform-report.py extract
# merges both into results.jsonl.
#
# Test knobs for the honesty self-test: --no-rng leaves virtio-rng out,
# --legacy-mmio keeps QEMU microvm's default legacy (version 1) virtio-mmio.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD

hvs="" out="" quick=0 rng=1 legacy=0
while (($#)); do
	case "$1" in
	--hypervisor) hvs=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--quick) quick=1; shift ;;
	--no-rng) rng=0; shift ;;
	--legacy-mmio) legacy=1; shift ;;
	*) echo "conform-inside: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ -n "$hvs" ] && [ -n "$out" ] || { echo "conform-inside: need --hypervisor and --out" >&2; exit 2; }
[ -c /dev/kvm ] || { echo "conform-inside: no /dev/kvm" >&2; exit 4; }

# scripts/conform --avp PATH arrives as AVP_CONFORM_AVP (scripts/testhost
# passes AVP_* variables into the test host).
AVP=${AVP_CONFORM_AVP:-$ROOT/build/avp}
K=$ROOT/build/guest/vmlinuz
I=$ROOT/build/guest/initrd.img
W=$(mktemp -d /tmp/avp-conform.XXXXXX)
declare -A PID=() SPID=() QEV=()
TAPS=()
D=""
HV=""

T0=$SECONDS
log() { echo "conform[$HV] +$((SECONDS - T0))s: $*"; }
# A process that exited but was not reaped yet still answers kill -0.
alive() {
	local s
	s=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$s" ] && [ "$s" != Z ]
}
# Host-side observation: ID RESULT EVIDENCE (one line, no tabs).
hrec() { printf '%s\t%s\t%s\n' "$1" "$2" "$(printf '%s' "$3" | tr '\t\n' '  ')" >>"$D/host.tsv"; }

cleanup() {
	local n
	for n in "${!PID[@]}"; do kill -KILL "${PID[$n]}" 2>/dev/null; done
	for n in "${!SPID[@]}"; do kill -KILL "${SPID[$n]}" 2>/dev/null; done
	for n in "${!QEV[@]}"; do kill "${QEV[$n]}" 2>/dev/null; done
	wait 2>/dev/null
	for n in "${TAPS[@]}"; do ip link del "$n" 2>/dev/null; done
	ip link del avpcbr0 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

# ------------------------------------------------------------- helpers ----

mktap() { # NAME [ADDR]
	ip tuntap add "$1" mode tap || return 1
	TAPS+=("$1")
	sysctl -qw "net.ipv6.conf.$1.accept_dad=0" 2>/dev/null
	ip link set "$1" up
	[ -z "${2:-}" ] || ip -6 addr add "$2/64" dev "$1"
}

# mkimg PATH SIZE SIGNATURE: a raw image with SIGNATURE at byte 0.
mkimg() {
	rm -f "$1"
	truncate -s "$2" "$1"
	printf '%s' "$3" | dd of="$1" conv=notrunc status=none
}

# The scratch disk also gets a known pattern at 1 MiB: byte i = (i*31+7)&255.
scratch_pattern() {
	python3 -c 'import sys; sys.stdout.buffer.write(bytes(((i*31+7)&255) for i in range(65536)))' |
		dd of="$1" bs=1M seek=1 conv=notrunc status=none
}

# Variables describing the next VM (set before launch, reset after):
#   V_DISKS (array of PATH[,ro]) V_TAP V_MAC V_RNG V_CON V_MEM V_PREALLOC V_STRACE
reset_vm() { V_DISKS=(); V_TAP="" V_MAC="" V_RNG=0 V_CON="" V_MEM=192 V_PREALLOC=0 V_STRACE=0; }

# launch NAME CMDLINE: start the VM in the background.
launch() {
	local name=$1 cl=$2 cmd=() i=0 d
	if [ "$HV" = avp ]; then
		cmd=("$AVP" run --kernel "$K" --initrd "$I" --cmdline "$cl" --cpus 1 --memory "$V_MEM" --serial stdio)
		for d in "${V_DISKS[@]}"; do cmd+=(--disk "$d"); done
		[ -z "$V_TAP" ] || cmd+=(--net "tap=$V_TAP,mac=$V_MAC")
		[ "$V_RNG" = 0 ] || cmd+=(--rng)
		[ -z "$V_CON" ] || cmd+=(--console "file:$V_CON")
	else
		# microvm with ACPI is how Debian's kernel finds virtio-mmio;
		# force-legacy=false gives modern (version 2) virtio-mmio, which
		# microvm does not by default; discard=unmap passes discards on.
		cmd=(qemu-system-x86_64 -enable-kvm -M microvm,acpi=on -cpu host -m "$V_MEM" -smp 1
			-nodefaults -no-user-config -nographic -serial stdio -no-reboot
			-kernel "$K" -initrd "$I" -append "$cl"
			-qmp "unix:$W/$name-ev.sock,server=on,wait=off"
			-qmp "unix:$W/$name-cmd.sock,server=on,wait=off")
		[ "$legacy" = 1 ] || cmd+=(-global virtio-mmio.force-legacy=false)
		for d in "${V_DISKS[@]}"; do
			local ro=""
			case "$d" in *,ro) ro=",readonly=on"; d=${d%,ro} ;; esac
			cmd+=(-drive "file=$d,if=none,id=d$i,format=raw,discard=unmap$ro" -device "virtio-blk-device,drive=d$i")
			i=$((i + 1))
		done
		[ -z "$V_TAP" ] || cmd+=(-netdev "tap,id=n0,ifname=$V_TAP,script=no,downscript=no"
			-device "virtio-net-device,netdev=n0,mac=$V_MAC")
		[ "$V_RNG" = 0 ] || cmd+=(-device virtio-rng-device)
		[ -z "$V_CON" ] || cmd+=(-chardev "file,id=con0,path=$V_CON" -device virtio-serial-device
			-device virtconsole,chardev=con0)
		[ "$V_PREALLOC" = 0 ] || cmd+=(-mem-prealloc)
	fi
	printf '%q ' "${cmd[@]}" >"$D/$name.cmd"
	echo >>"$D/$name.cmd"
	if [ "$V_STRACE" = 1 ] && command -v strace >/dev/null; then
		# Only the sync calls stop the tracee (seccomp-bpf filter), so the
		# VM runs at full speed; -y names each fd's file.
		strace -f -qq --seccomp-bpf -y -e trace=fsync,fdatasync,sync_file_range,syncfs \
			-o "$D/$name.strace" "${cmd[@]}" </dev/null >"$D/$name.serial" 2>"$D/$name.stderr" &
		SPID[$name]=$!
		local c=""
		for _ in $(seq 50); do
			c=$(cat "/proc/${SPID[$name]}/task/${SPID[$name]}/children" 2>/dev/null)
			[ -n "$c" ] && break
			sleep 0.1
		done
		PID[$name]=${c%% *}
	else
		"${cmd[@]}" </dev/null >"$D/$name.serial" 2>"$D/$name.stderr" &
		PID[$name]=$!
	fi
	if [ "$HV" = qemu ]; then
		python3 "$ROOT/scripts/lib/qmp.py" events "$W/$name-ev.sock" "$D/$name.qmp-events" 2>/dev/null &
		QEV[$name]=$!
	fi
	log "started $name (pid ${PID[$name]})"
}

qmp() { python3 "$ROOT/scripts/lib/qmp.py" cmd "$W/$1-cmd.sock" "${@:2}"; }

# What VM NAME said: the agent writes to hvc0 when it has one (NAME.hvc0),
# else to the serial console (NAME.serial).
vmout() { cat "$D/$1.serial" "$D/$1.hvc0" 2>/dev/null; }
# vgrep NAME GREP-ARGS: grep both files directly. 'vmout | grep -q' would
# fail under pipefail whenever grep exits before cat (SIGPIPE).
vgrep() { local n=$1; shift; grep -sha "$@" "$D/$n.serial" "$D/$n.hvc0"; }

# wait_mark NAME REGEX TIMEOUT: wait for an AVP-MARK line from NAME.
wait_mark() {
	local end=$(($(date +%s) + $3))
	while [ "$(date +%s)" -lt "$end" ]; do
		vgrep "$1" -qE "AVP-MARK $nonce $2" && return 0
		alive "${PID[$1]}" || { vgrep "$1" -qE "AVP-MARK $nonce $2"; return; }
		sleep 0.1
	done
	return 1
}

count_marks() { vmout "$1" | grep -caE "AVP-MARK $nonce $2"; }

# wait_exit NAME TIMEOUT: sets RC (124 when it had to be killed).
wait_exit() {
	local end=$(($(date +%s) + $2)) p=${SPID[$1]:-${PID[$1]}}
	while alive "${PID[$1]}" && [ "$(date +%s)" -lt "$end" ]; do sleep 0.2; done
	if alive "${PID[$1]}"; then
		kill -KILL "${PID[$1]}" 2>/dev/null
		wait "$p" 2>/dev/null
		RC=124
	else
		wait "$p" 2>/dev/null
		RC=$?
	fi
	unset "PID[$1]" "SPID[$1]"
	if [ -n "${QEV[$1]:-}" ]; then
		sleep 0.3
		kill "${QEV[$1]}" 2>/dev/null
		wait "${QEV[$1]}" 2>/dev/null
		unset "QEV[$1]"
	fi
}

# shutdown_reason NAME: QEMU's SHUTDOWN event reason ("" if none).
shutdown_reason() {
	sed -n 's/.*"event": "SHUTDOWN".*"reason": "\([a-z-]*\)".*/\1/p' "$D/$1.qmp-events" 2>/dev/null | tail -n1
}

# fd_flags PID FILE: octal open flags of PID's first fd on FILE.
fd_flags() {
	local f
	for f in /proc/"$1"/fd/*; do
		if [ "$(readlink "$f")" = "$2" ]; then
			sed -n 's/^flags:[[:space:]]*//p' "/proc/$1/fdinfo/${f##*/}"
			return
		fi
	done
}

vm_cmdline() { # ROLE EXTRA...
	echo "console=ttyS0 panic=-1 quiet avp.test=conform avp.conform.role=$1 avp.conform.nonce=$nonce avp.conform.hosttime=$(date +%s) ${*:2}"
}

guest_has_info() { vgrep "$1" -q "AVP-INFO .*\"key\":\"$2\""; }
guest_info() { vmout "$1" | sed -n "s/.*AVP-INFO .*\"key\":\"$2\",\"value\":\"\([^\"]*\)\".*/\1/p" | tail -n1; }

# ----------------------------------------------------------------- boots --

boot_main() {
	local img_s=$W/scratch.img img_r=$W/ro.img con=$D/main.hvc0 ro_sum rc ndev
	mkimg "$img_s" 32M AVPCONF-SCRATCH
	scratch_pattern "$img_s"
	mkimg "$img_r" 4M "AVPCONF-RO"
	ro_sum=$(md5sum <"$img_r")
	mktap avpc0 fe80::1 || hrec AVP-NET-1 FAIL "host: cannot create tap avpc0"
	reset_vm
	V_DISKS=("$img_s" "$img_r,ro") V_TAP=avpc0 V_MAC=52:54:00:c0:00:01 V_RNG=$rng V_CON=$con V_MEM=256
	ndev=$((2 + 1 + rng + 1))
	local cl
	cl=$(vm_cmdline main avp.conform.mac=$V_MAC avp.conform.self=fe80::2 avp.conform.peer=fe80::1)

	# AVP-BOOT-4: the host-side description of this very platform.
	if [ "$HV" = avp ]; then
		local dcmd=("$AVP" run --kernel "$K" --initrd "$I" --cmdline "$cl" --cpus 1 --memory 256
			--disk "$img_s" --disk "$img_r,ro" --net "tap=avpc0,mac=$V_MAC" --console "file:$con" --describe)
		[ "$rng" = 0 ] || dcmd+=(--rng)
		"${dcmd[@]}" >"$D/describe.json" 2>"$D/describe.err" || log "avp --describe failed: $(head -c 300 "$D/describe.err")"
	fi

	local t0=$SECONDS
	launch main "$cl"
	if [ "$HV" = qemu ]; then
		python3 "$ROOT/scripts/lib/qmp.py" describe "$W/main-cmd.sock" >"$D/describe.json" 2>"$D/describe.err" ||
			log "QMP describe failed: $(head -c 300 "$D/describe.err")"
	fi
	# The read-only image must be open read-only on the host too: then no
	# guest request can change it, whatever the device model does.
	local flags=""
	if wait_mark main 'agent-start' 300; then
		flags=$(fd_flags "${PID[main]}" "$img_r")
	fi
	wait_exit main 400
	rc=$RC
	log "main boot: exit $rc after $((SECONDS - t0)) s"

	# AVP-PM-1 (power-off part)
	if [ "$HV" = avp ]; then
		[ "$rc" = 0 ] && hrec AVP-PM-1 PASS "guest power-off ended avp with status 0" ||
			hrec AVP-PM-1 FAIL "guest power-off: avp exit status $rc (want 0)"
	else
		local why
		why=$(shutdown_reason main)
		[ "$rc" = 0 ] && [ "$why" = guest-shutdown ] && hrec AVP-PM-1 PASS "guest power-off: QEMU exit 0, QMP SHUTDOWN reason guest-shutdown" ||
			hrec AVP-PM-1 FAIL "guest power-off: QEMU exit $rc, QMP SHUTDOWN reason '$why'"
	fi
	vgrep main -q "AVP-MARK $nonce agent-done" ||
		hrec AVP-BOOT-1 FAIL "the guest agent did not finish (see main.serial)"

	# AVP-BOOT-2: the guest found every device the host configured.
	local seen
	seen=$(vmout main | grep -ca 'AVP-INVENTORY {"role":"main"')
	if [ "$seen" -lt "$ndev" ]; then
		hrec AVP-BOOT-2 FAIL "host configured $ndev virtio devices, the guest found $seen"
	else
		hrec AVP-BOOT-2 PASS "host configured $ndev virtio devices, the guest found $seen"
	fi
	python3 "$ROOT/scripts/lib/conform-report.py" describe-check "$HV" "$D/describe.json" "$D/main.serial,$D/main.hvc0" "$ndev" >>"$D/host.tsv"

	# AVP-BLK-1 host half: the guest's token reached the image.
	local tok
	tok=$(dd if="$img_s" bs=1 skip=$((4 << 20)) count=64 status=none | tr -d '\0')
	[ "$tok" = "AVPCONF-GUEST-WROTE-$nonce" ] && hrec AVP-BLK-1 PASS "host finds the guest's token at 4 MiB in the image after power-off" ||
		hrec AVP-BLK-1 FAIL "host image at 4 MiB holds '$tok', not the guest's token"
	# AVP-BLK-3 host half.
	if [ "$(md5sum <"$img_r")" != "$ro_sum" ]; then
		hrec AVP-BLK-3 FAIL "the read-only image CHANGED on the host"
	elif [ -z "$flags" ]; then
		hrec AVP-BLK-3 FAIL "read-only image unchanged, but no open fd on it was found in the hypervisor"
	elif [ $((8#$flags & 3)) = 0 ]; then
		hrec AVP-BLK-3 PASS "read-only image unchanged; the hypervisor holds it O_RDONLY (flags 0$flags)"
	else
		hrec AVP-BLK-3 FAIL "read-only image unchanged, but the hypervisor opened it writable (flags 0$flags)"
	fi
	# AVP-CON-1 host half.
	grep -qa "AVPCONF-HVC0-$nonce" "$con" 2>/dev/null && hrec AVP-CON-1 PASS "the guest's hvc0 token arrived in the host's console file" ||
		hrec AVP-CON-1 FAIL "the guest's hvc0 token is not in the host's console file"
	# AVP-NET-1 host half.
	local rx
	rx=$(cat /sys/class/net/avpc0/statistics/rx_packets 2>/dev/null || echo 0)
	[ "$rx" -gt 0 ] && hrec AVP-NET-1 PASS "host end of the tap received $rx packets" ||
		hrec AVP-NET-1 FAIL "host end of the tap received no packets"
	ip link del avpc0 2>/dev/null
}

boot_pair() {
	local a=$W/pair-a.img b=$W/pair-b.img dur=$W/durable.img
	mkimg "$a" 8M AVPCONF-PAIR-a
	mkimg "$b" 8M AVPCONF-PAIR-b
	mkimg "$dur" 4M AVPCONF-DURABLE
	modprobe bridge 2>/dev/null
	# A host bridge with no NIC in it: the VMs' only virtual network.
	ip link add avpcbr0 type bridge && ip link set avpcbr0 up
	mktap avpca && ip link set avpca master avpcbr0
	mktap avpcb && ip link set avpcb master avpcbr0
	local t0=$SECONDS wdt=0
	guest_has_info main watchdog && wdt=1

	reset_vm
	# 128 MiB: under the nested test host every page QEMU preallocates
	# costs a TCG-emulated fault, and three guests share one CPU.
	V_DISKS=("$a") V_TAP=avpca V_MAC=52:54:00:c0:00:0a V_RNG=1 V_PREALLOC=1 V_CON=$D/a.hvc0 V_MEM=128
	launch a "$(vm_cmdline a avp.conform.self=fe80::a avp.conform.peer=fe80::b)"
	reset_vm
	V_DISKS=("$b" "$dur") V_TAP=avpcb V_MAC=52:54:00:c0:00:0b V_RNG=1 V_STRACE=1 V_CON=$D/b.hvc0 V_MEM=128
	launch b "$(vm_cmdline b avp.conform.self=fe80::b avp.conform.peer=fe80::a)"
	reset_vm
	V_MEM=128
	launch c "$(vm_cmdline c)"
	if [ "$wdt" = 1 ]; then
		reset_vm
		V_MEM=160 V_CON=$D/d.hvc0
		launch d "$(vm_cmdline d)"
	fi

	# --- AVP-PART-1 part 1: both running side by side, memory not shared.
	local iso=""
	if wait_mark a 'agent-start' 400 && wait_mark b 'agent-start' 400 && alive "${PID[a]}" && alive "${PID[b]}"; then
		iso=$(python3 - "${PID[a]}" "${PID[b]}" <<'EOF'
import sys
def maps(pid):
    out, big = set(), None
    for line in open(f"/proc/{pid}/maps"):
        f = line.split(None, 5)
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        path = f[5].strip() if len(f) > 5 else ""
        if (hi - lo) >= 96 << 20 and (big is None or hi - lo > big[0]):
            big = (hi - lo, f[1], path or "anonymous")
        # Shared mappings of real files/memfds (not the anon inodes that
        # KVM uses for vCPU state, which all share one inode number).
        if f[1][3] == "s" and f[4] != "0" and not path.startswith("anon_inode"):
            out.add((f[3], f[4], path))
    return out, big
(sa, ba), (sb, bb) = maps(sys.argv[1]), maps(sys.argv[2])
common = sa & sb
ram = lambda b: f"{b[0] >> 20} MiB {'shared' if b[1][3] == 's' else 'private'} {b[2]}" if b else "none found"
print(("SHARED " if common else "") + f"guest RAM a: {ram(ba)}; b: {ram(bb)}; shared file mappings in common: {len(common)}"
      + (f" ({sorted(common)[:3]})" if common else ""))
EOF
)
		log "isolation: $iso"
	else
		iso="FAILED: a and b were not both running"
	fi

	# --- AVP-PM-1 reboot part: c reboots.
	wait_exit c 400
	local crc=$RC
	if [ "$HV" = avp ]; then
		[ "$crc" = 3 ] && hrec AVP-PM-1 PASS "guest reboot ended avp with status 3 (reported as 'guest rebooted')" ||
			hrec AVP-PM-1 FAIL "guest reboot: avp exit $crc (want 3)"
	else
		local why
		why=$(shutdown_reason c)
		[ "$why" = guest-reset ] && hrec AVP-PM-1 PASS "guest reboot: QMP SHUTDOWN reason guest-reset, QEMU exit $crc (-no-reboot)" ||
			hrec AVP-PM-1 FAIL "guest reboot: QEMU exit $crc, QMP SHUTDOWN reason '$why'"
	fi

	# --- AVP-BLK-2: b flushed its token; kill -9 its hypervisor right then.
	local bflags=""
	if wait_mark b 'durable-flushed' 400; then
		bflags=$(fd_flags "${PID[b]}" "$dur")
		kill -KILL "${PID[b]}"
		log "b flushed: SIGKILLed its hypervisor"
		wait_exit b 20
		local tok syncs
		tok=$(dd if="$dur" bs=1 skip=8192 count=64 status=none | tr -d '\0')
		syncs=$(grep -cE "(fsync|fdatasync|sync_file_range|syncfs)\([0-9]+<$dur>" "$D/b.strace" 2>/dev/null)
		local why="" dsync=0
		[ -n "$bflags" ] && [ $((8#$bflags & 8#10000)) != 0 ] && dsync=1
		if [ "$tok" != "AVPCONF-DURABLE-TOKEN-$nonce" ]; then
			hrec AVP-BLK-2 FAIL "after a completed guest flush and SIGKILL of the hypervisor the image holds '$tok', not the token"
		elif [ "${syncs:-0}" -gt 0 ] || [ "$dsync" = 1 ]; then
			hrec AVP-BLK-2 PASS "token flushed by the guest is in the image after SIGKILL of the hypervisor; host saw ${syncs:-0} fsync/fdatasync on the image (strace)$([ "$dsync" = 1 ] && echo ", image opened O_DSYNC")"
		else
			[ -s "$D/b.strace" ] || why=" (no strace output)"
			hrec AVP-BLK-2 FAIL "token survived SIGKILL (host page cache), but no fsync/fdatasync of the image was seen$why and it is not open O_DSYNC: not on stable storage"
		fi
	else
		alive "${PID[b]}" && kill -KILL "${PID[b]}"
		wait_exit b 10
		hrec AVP-BLK-2 FAIL "VM b never reported its flushed token ($(grep -ao "AVP-MARK $nonce durable[a-z-]*.*" <(vmout b) | head -n1))"
	fi

	# --- AVP-PART-1 part 2: a keeps working after b was killed and c rebooted.
	local before after ok_after
	before=$(count_marks a 'heartbeat [0-9]+ ok')
	sleep 4
	after=$(count_marks a 'heartbeat [0-9]+ ok')
	ok_after=$((after - before))
	local fails
	fails=$(count_marks a 'heartbeat [0-9]+ FAILED')
	if [[ "$iso" != SHARED* && "$iso" != FAILED* ]] && [ "$ok_after" -ge 2 ] && [ "$fails" = 0 ] &&
		! grep -qa "AVPCONF-PAIR-b" <(guest_info a disks_seen) && ! grep -qa "AVPCONF-PAIR-a" <(guest_info b disks_seen); then
		hrec AVP-PART-1 PASS "3 VMs ran side by side; $iso; a saw only its own disk ($(guest_info a disks_seen)), b its own; after b was SIGKILLed and c rebooted, a did $ok_after more disk+rng heartbeats, none failed (isolation of memory itself is the host kernel's: separate processes, private guest RAM)"
	else
		hrec AVP-PART-1 FAIL "$iso; a disks: $(guest_info a disks_seen); b disks: $(guest_info b disks_seen); a heartbeats after b died: $ok_after ok, $fails failed in total"
	fi

	# --- AVP-VSOCK-1: CIDs must differ between VMs.
	local ca cb
	ca=$(guest_info a vsock_cid) cb=$(guest_info b vsock_cid)
	if [ -n "$ca" ] && [ "$ca" != -1 ] && [ "$ca" = "$cb" ]; then
		hrec AVP-VSOCK-1 FAIL "VMs a and b both have guest CID $ca"
	fi
	if [ "${ca:--1}" = -1 ] && [ "${cb:--1}" = -1 ]; then
		hrec AVP-VSOCK-2 FAIL "no virtio-vsock device in the pair VMs"
	fi

	# --- AVP-PART-2: pin a's vCPU threads and make them SCHED_FIFO.
	local tids="" how=""
	if [ "$HV" = qemu ]; then
		tids=$(qmp a '{"execute":"query-cpus-fast"}' | python3 -c 'import json,sys; print(" ".join(str(c["thread-id"]) for c in json.load(sys.stdin)["return"]))' 2>/dev/null)
		how="QMP query-cpus-fast thread-id"
	else
		local t
		for t in /proc/"${PID[a]}"/task/*; do
			grep -qiE 'vcpu|cpu ?[0-9]' "$t/comm" 2>/dev/null && tids="$tids ${t##*/}"
		done
		how="thread names"
	fi
	if [ -z "${tids// /}" ]; then
		local names opt
		names=$(cat /proc/"${PID[a]}"/task/*/comm 2>/dev/null | sort | uniq -c | awk '{printf "%s x%s, ", $2, $1}')
		opt=$("$AVP" run --help 2>&1 | grep -iE 'pin|affinity|sched|realtime|rt-' | head -n 2 | tr -s ' ')
		hrec AVP-PART-2 FAIL "the hypervisor does not say which host threads run vCPUs (by $how: ${names%, }); run options for pinning/RT: ${opt:-none}"
	else
		local pinned=0 fifo=0 n=0 hb0 hb1
		for t in $tids; do
			n=$((n + 1))
			taskset -p -c 0 "$t" >/dev/null 2>&1 && grep -q 'Cpus_allowed_list:[[:space:]]*0$' "/proc/$t/status" && pinned=$((pinned + 1))
			chrt -f -p 1 "$t" 2>/dev/null && chrt -p "$t" | grep -q SCHED_FIFO && fifo=$((fifo + 1))
		done
		hb0=$(count_marks a 'heartbeat [0-9]+ ok')
		sleep 3
		hb1=$(count_marks a 'heartbeat [0-9]+ ok')
		for t in $tids; do chrt -o -p 0 "$t" 2>/dev/null; done
		if [ "$pinned" = "$n" ] && [ "$fifo" = "$n" ] && [ $((hb1 - hb0)) -ge 1 ]; then
			hrec AVP-PART-2 PASS "$n vCPU thread(s) found by $how, pinned to host CPU 0 and set SCHED_FIFO; the guest kept running ($((hb1 - hb0)) heartbeats)"
		else
			hrec AVP-PART-2 FAIL "$n vCPU thread(s) by $how: $pinned pinned, $fifo SCHED_FIFO, $((hb1 - hb0)) heartbeats after"
		fi
	fi

	# --- AVP-PART-3: memory reserved up front (QEMU is asked to with
	# -mem-prealloc; avp has no such option, so it is observed as is).
	local rss mem=128
	rss=$(awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/${PID[a]}/status" 2>/dev/null)
	if [ -n "$rss" ] && [ "$rss" -ge $((mem * 95 / 100)) ]; then
		hrec AVP-PART-3 PASS "VM a (${mem} MiB RAM): hypervisor RSS ${rss} MiB right after boot: memory is reserved up front$([ "$HV" = qemu ] && echo ' (-mem-prealloc)')"
	else
		local opt=""
		[ "$HV" = avp ] && opt=$("$AVP" run --help 2>&1 | grep -iE 'prealloc|reserve|mlock|hugepage' | head -n1 | tr -s ' ')
		hrec AVP-PART-3 FAIL "VM a (${mem} MiB RAM): hypervisor RSS ${rss:-?} MiB: memory is allocated on demand$([ "$HV" = avp ] && echo "; avp run has no option to reserve it (${opt:-none found in --help})")"
	fi

	# --- AVP-PM-1 graceful part: ask a to shut down.
	wait_mark a 'pair-ready' 400
	local req arc gone
	if [ "$HV" = avp ]; then
		# avp has no control socket: SIGTERM is the only request it gets.
		req="SIGTERM to avp"
		kill -TERM "${PID[a]}"
	else
		req="QMP system_powerdown"
		qmp a '{"execute":"system_powerdown"}' >/dev/null
	fi
	wait_exit a 30
	arc=$RC
	local btn=no
	vgrep a -q "AVP-MARK $nonce power-button" && btn=yes
	if [ "$arc" = 124 ]; then
		gone="not down after 30 s: forced off with SIGKILL"
	else
		gone="hypervisor exited with status $arc"
	fi
	local why=""
	[ "$HV" = qemu ] && why=", QMP SHUTDOWN reason '$(shutdown_reason a)'"
	if [ "$btn" = yes ] && { [ "$arc" = 0 ]; }; then
		hrec AVP-PM-1 PASS "host request ($req) reached the guest as a power-button press; the guest powered off, $gone$why; force-off after timeout: SIGKILL"
	else
		hrec AVP-PM-1 FAIL "host graceful shutdown: $req; the guest saw a power-button press: $btn; $gone$why"
	fi

	# --- AVP-WDT-1: the expiry half, when boot 1 found a watchdog.
	if [ "$wdt" = 1 ]; then
		if wait_mark d 'watchdog-starving' 120; then
			local t1=$SECONDS
			wait_exit d 40
			local drc=$RC
			if [ "$drc" != 124 ] && { grep -qai watchdog "$D/d.stderr" || grep -qa '"WATCHDOG"' "$D/d.qmp-events" 2>/dev/null; }; then
				hrec AVP-WDT-1 PASS "watchdog starved: the hypervisor ended/reset the VM after $((SECONDS - t1)) s (exit $drc) and reported it"
			else
				hrec AVP-WDT-1 FAIL "watchdog starved: exit $drc after $((SECONDS - t1)) s; no watchdog report in stderr/QMP"
			fi
		else
			wait_exit d 5
			hrec AVP-WDT-1 FAIL "VM d never armed the watchdog"
		fi
	fi
	for n in a b c d; do [ -z "${PID[$n]:-}" ] || wait_exit "$n" 5; done
	ip link del avpca 2>/dev/null
	ip link del avpcb 2>/dev/null
	ip link del avpcbr0 2>/dev/null
	log "pair boot: $((SECONDS - t0)) s"
}

# Runtime contract: does the hypervisor have lifecycle commands?
check_runtime() {
	if [ "$HV" = avp ]; then
		local op missing="" first=""
		for op in create start state kill delete list; do
			if ! "$AVP" "$op" --help >"$W/rt.out" 2>&1; then
				missing="$missing $op"
				[ -n "$first" ] || first="'avp $op': $(head -n1 "$W/rt.out")"
			fi
		done
		if [ -n "$missing" ]; then
			hrec AVP-RT-2 FAIL "no create/start/state/kill/delete/list lifecycle (missing:$missing; $first)"
		else
			hrec AVP-RT-2 FAIL "lifecycle commands exist but this suite does not drive them yet"
		fi
		local h
		h=$("$AVP" --help 2>&1; "$AVP" run --help 2>&1)
		if grep -qiE 'bundle|--config' <<<"$h"; then
			hrec AVP-RT-1 FAIL "a config/bundle option exists but this suite does not drive it yet"
		else
			hrec AVP-RT-1 FAIL "no declarative VM configuration file: 'avp --help'/'avp run --help' offer only command-line options"
		fi
		if grep -qiE 'on-failure|restart-policy' <<<"$h"; then
			hrec AVP-RT-3 FAIL "a restart policy option exists but this suite does not drive it yet"
		else
			hrec AVP-RT-3 FAIL "no restart policy (never/on-failure/always) with restart count and reason in a state; only $(grep -oE -- '--on-reboot [a-z|]+' <<<"$h" | head -n1)"
		fi
	else
		# QEMU alone is a VMM, not a runtime; what it has is stated.
		hrec AVP-RT-1 FAIL "QEMU is configured by its command line (-readconfig covers part of it); no bundle format that the suite can drive"
		hrec AVP-RT-2 FAIL "QEMU has per-process QMP (query-status, quit) but no create/start/state/kill/delete/list across VMs"
		hrec AVP-RT-3 FAIL "QEMU has no restart policy (only -no-reboot / -action)"
	fi
}

# ------------------------------------------------------------------ main --

modprobe tun 2>/dev/null
IFS=, read -r -a hv_list <<<"$hvs"
rc=0
for HV in "${hv_list[@]}"; do
	case "$HV" in avp|qemu) ;; *) echo "conform-inside: unknown hypervisor $HV" >&2; rc=2; continue ;; esac
	D=$out/$HV
	rm -rf "$D"
	mkdir -p "$D"
	: >"$D/host.tsv"
	nonce=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
	if [ "$HV" = avp ]; then ver=$("$AVP" --version 2>&1 | head -n1); else ver=$(qemu-system-x86_64 --version | head -n1); fi
	platform="1 vCPU, 256 MiB; scratch + read-only virtio-blk, virtio-net on a tap (host fe80::1), $([ $rng = 1 ] && echo 'virtio-rng, ')virtio-console to a file"
	[ "$HV" = qemu ] && platform="$platform; -M microvm,acpi=on$([ $legacy = 0 ] && echo ', virtio-mmio.force-legacy=false')"
	printf '{"version": "%s", "platform": "%s", "quick": %s, "testhost": "%s"}\n' "$ver" "$platform" \
		"$([ $quick = 1 ] && echo true || echo false)" "${AVP_TESTHOST:-}" >"$D/meta.json"
	t0=$SECONDS
	boot_main
	if [ "$quick" = 0 ]; then
		boot_pair
	else
		hrec AVP-BLK-2 FAIL "kill-after-flush test not run (--quick)"
		hrec AVP-PM-1 FAIL "reboot and graceful-shutdown parts not run (--quick)"
	fi
	check_runtime
	python3 "$ROOT/scripts/lib/conform-report.py" extract "$HV" "$D" || rc=1
	log "done in $((SECONDS - t0)) s"
done
exit $rc
