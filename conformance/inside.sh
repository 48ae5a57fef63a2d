#!/bin/bash
# The boots of the AVP conformance run (conformance/conform runs this where
# /dev/kvm can boot Linux: inside scripts/testhost, or directly).
#
#   conformance/inside.sh --hypervisor avp|qemu[,..] --out DIR [--quick]
#                     [--no-rng] [--legacy-mmio] [--transport mmio|pci]
#                     [--arch arm64]
#
# --arch arm64 (in the arm64 test host): build/arm64/avp and the arm64
# reference guest (build/guest-arm64), QEMU's virt machine as the peer
# (instead of microvm), console=ttyAMA0 (the PL011), the SP805 as avp's
# watchdog and the PL061 power button; virtio-can, -gpio and -i2c with the
# drivers scripts/mkguest-can and scripts/mkguest-gpio-i2c --arch arm64
# cross-build (not offered, with why, when their images are missing).
#
# Per hypervisor, results in DIR/<hv>/ (live logs are kept on the test
# host's tmpfs and copied there every few seconds and at the end):
#   phase 1 "main"  one VM with the whole reference platform: scratch and
#                   read-only virtio-blk, a tap NIC whose host end is
#                   fe80::1, rng, virtio-console to a file, and what the
#                   hypervisor offers beyond that (avp: vsock, GPU, keyboard
#                   and touch screen, sound to/from WAV files, watchdog,
#                   control socket; QEMU 7.2 microvm: GPU, keyboard, tablet,
#                   vhost-vsock when /dev/vhost-vsock exists). The guest
#                   agent judges most rows; the host feeds input, captures
#                   the screen, runs vsock streams, checks the WAVs. The
#                   guest ends with a reboot (AVP-PM-1 reboot part).
#                   avp boots it from a bundle (AVP-RT-1).
#   phase 2 "pair"  (not with --quick) VMs side by side: a and b on a host
#                   bridge without any NIC (AVP-NET-2, AVP-PART-1); b
#                   flushes a token under strace and a watcher SIGKILLs its
#                   hypervisor the moment it says so (AVP-BLK-2); a keeps
#                   doing I/O, its vCPU is pinned and real-time
#                   (AVP-PART-2), its memory reserved (AVP-PART-3), and it
#                   finally gets the host's graceful shutdown request
#                   (AVP-PM-1). On avp, a and b are one system ('avp system
#                   up': their network and a vsock link, AVP-VSOCK-2) and d
#                   comes from 'avp create/start' (AVP-RT-2, bundles that
#                   pin, reserve and set a restart policy: AVP-RT-1); d
#                   starves its watchdog (AVP-WDT-1), is restarted by the
#                   policy (AVP-RT-3), then forced off by a graceful kill
#                   it cannot answer (AVP-PM-1 force-off part), and must
#                   not reach a by vsock (no link).
# --quick: phase 1 only, with the basic platform (disks, NIC, rng,
# console); rows that need phase 2 or the extra devices come out FAIL.
# Host-side observations go to DIR/<hv>/host.tsv (ID, result, evidence);
# the guests' lines stay in DIR/<hv>/*.serial / *.hvc0; report.py
# extract merges both into results.jsonl.
#
# Test knobs for the honesty self-test: --no-rng leaves virtio-rng out,
# --legacy-mmio keeps QEMU microvm's default legacy (version 1) virtio-mmio.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

hvs="" out="" quick=0 rng=1 legacy=0 transport=mmio arch=x86_64
while (($#)); do
	case "$1" in
	--hypervisor) hvs=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--quick) quick=1; shift ;;
	--no-rng) rng=0; shift ;;
	--legacy-mmio) legacy=1; shift ;;
	--transport) transport=$2; shift 2 ;; # avp's, in its bundles
	--arch) arch=$2; shift 2 ;;
	*) echo "conform-inside: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ -n "$hvs" ] && [ -n "$out" ] || { echo "conform-inside: need --hypervisor and --out" >&2; exit 2; }
[[ "$arch" =~ ^(x86_64|arm64)$ ]] || { echo "conform-inside: --arch must be x86_64 or arm64, got '$arch'" >&2; exit 2; }
[ -c /dev/kvm ] || { echo "conform-inside: no /dev/kvm" >&2; exit 4; }

# conformance/conform --avp PATH arrives as AVP_CONFORM_AVP (scripts/testhost
# passes AVP_* variables into the test host).
AVP=${AVP_CONFORM_AVP:-$ROOT/build/avp}
GUEST=$ROOT/build/guest KNAME=vmlinuz
if [ "$arch" = arm64 ]; then
	AVP=${AVP_CONFORM_AVP:-$ROOT/build/arm64/avp}
	GUEST=$ROOT/build/guest-arm64 KNAME=Image
fi
HOSTPY=$ROOT/conformance/host.py
W=$(mktemp -d /tmp/avp-conform.XXXXXX)
# The guest's kernel and initramfs from tmpfs: every VM reads them at
# start, and the repository may be on 9p.
K=$W/vmlinuz I=$W/initrd.img
# Every hypervisor boots the same image: the reference initrd followed, where
# they were built, by the archives scripts/mkguest-can (avp's virtio-can
# driver, which Debian's 6.12 lacks: AVP-CAN-1) and scripts/mkguest-gpio-i2c
# (the upstream gpio-virtio and i2c-virtio: AVP-GPIO-1, AVP-I2C-1) append to
# it; Linux unpacks concatenated initramfs archives in turn.
guest_initrd() { # OUT
	local base=$GUEST/initrd.img n img
	n=$(stat -c %s "$base") && cp "$base" "$1" || return
	for img in "$GUEST/initrd-can.img" "$GUEST/initrd-gpio-i2c.img"; do
		[ -f "$img" ] && cmp -s -n "$n" "$base" "$img" || continue
		tail -c +"$((n + 1))" "$img" >>"$1" || return
	done
}
cp "$GUEST/$KNAME" "$K" && guest_initrd "$I" ||
	{ echo "conform-inside: no guest image in ${GUEST#"$ROOT"/} (run scripts/mkguest$([ "$arch" = x86_64 ] || echo " --arch $arch"))" >&2; exit 1; }
I2C_STUB=0
export AVP_RUNTIME_ROOT=$W/rt
declare -A PID=() WPID=() QEV=() RTVM=() STUCK=()
BG=()
TAPS=()
D="" L="" HV=""
GPU_W=640 GPU_H=480
# The pair's and d's RAM: as little as boots, since under the nested test
# host every page reserved up front costs a TCG-emulated fault. Debian's
# arm64 Image (44 MB) and the initramfs leave 128 MiB "deadlocked on
# memory" (an out-of-memory panic in inet_init); 256 MiB boots.
PMEM=128
[ "$arch" = arm64 ] && PMEM=256

T0=$SECONDS
log() { echo "conform[$HV] +$((SECONDS - T0))s: $*"; }
# A process that exited but was not reaped yet still answers kill -0.
alive() {
	local s
	[ -n "${1:-}" ] || return 1
	s=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$s" ] && [ "$s" != Z ]
}
# Host-side observation: ID RESULT EVIDENCE (one line, no tabs).
hrec() { printf '%s\t%s\t%s\n' "$1" "$2" "$(printf '%s' "$3" | tr '\t\n' '  ')" >>"$L/host.tsv"; }
# Live logs -> results directory (the repository, which may be 9p).
sync_logs() { [ -n "$L" ] && [ -d "$L" ] && cp -a "$L"/. "$D"/ 2>/dev/null; }

cleanup() {
	local n
	[ -f "$W/system.json" ] && "$AVP" system down "$W/system.json" >/dev/null 2>&1
	for n in "${!RTVM[@]}"; do "$AVP" delete --force "$n" >/dev/null 2>&1; done
	# Never 0 or 1 (kill 0 would hit our own process group).
	for n in "${PID[@]}" "${WPID[@]}"; do [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -gt 1 ] && kill -KILL "$n" 2>/dev/null; done
	for n in "${!QEV[@]}"; do kill "${QEV[$n]}" 2>/dev/null; done
	for n in "${BG[@]}"; do kill "$n" 2>/dev/null; done
	wait 2>/dev/null
	for n in "${TAPS[@]}"; do ip link del "$n" 2>/dev/null; done
	ip link del avpcbr0 2>/dev/null
	[ "$I2C_STUB" = 0 ] || rmmod i2c_stub 2>/dev/null
	ip link del avpcan0 2>/dev/null
	sync_logs
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

# go_ahead WHAT: tell the main guest to go on (it polls 16 MiB of the
# scratch disk with O_DIRECT, see wait_go() in the agent).
go_ahead() {
	printf 'AVPCONF-GO-%s-%s' "$1" "$nonce" |
		dd of="$W/scratch.img" bs=1M seek=16 conv=notrunc,fsync status=none
}

# Variables describing the next VM (set before launch, reset after):
#   V_DISKS (array of PATH[,ro]) V_TAP V_MAC V_RNG V_CON V_MEM V_PREALLOC
#   V_VSOCK (guest CID) V_GPU V_INPUT V_SOUND V_WDT V_GPIO V_I2C (avp: the
#   host adapter, /dev/i2c-N) V_PIN (host
#   CPU) V_FIFO (priority) V_RESTART (JSON) V_SHUTDOWN (s) V_SERIAL (avp:
#   the bundle's serial backend; stdio is avp's stdout, which the runtime
#   appends to its console.log) V_NET (avp: the system network the NIC
#   joins, instead of V_TAP)
reset_vm() {
	V_DISKS=() V_TAP="" V_NET="" V_MAC="" V_RNG=0 V_CON="" V_MEM=192 V_PREALLOC=0 V_SERIAL=stdio
	V_VSOCK="" V_CAN="" V_GPU=0 V_INPUT=0 V_SOUND=0 V_WDT=0 V_GPIO=0 V_I2C="" V_PIN="" V_FIFO="" V_RESTART="" V_SHUTDOWN=10
}

# How many virtio devices the next VM gets (AVP-BOOT-2).
vm_ndev() {
	local n=${#V_DISKS[@]}
	[ -z "$V_TAP$V_NET" ] || n=$((n + 1))
	[ -z "$V_CON" ] || n=$((n + 1))
	[ -z "$V_VSOCK" ] || n=$((n + 1))
	n=$((n + V_RNG + V_GPU + 2 * V_INPUT + V_GPIO))
	[ -z "$V_I2C" ] || n=$((n + 1))
	[ "$HV" = avp ] && n=$((n + V_SOUND))
	[ -z "$V_CAN" ] || n=$((n + 1))
	echo "$n"
}

# mkbundle NAME CMDLINE: the avp bundle of the next VM in $W/bundle-NAME
# (AVP-RT-1: one declarative file describes the whole VM).
mkbundle() {
	local dir=$W/bundle-$1 d ro devs=()
	mkdir -p "$dir"
	for d in "${V_DISKS[@]}"; do
		ro=false
		case "$d" in *,ro) ro=true d=${d%,ro} ;; esac
		devs+=("{\"type\": \"disk\", \"path\": \"$d\", \"read_only\": $ro}")
	done
	[ -z "$V_TAP" ] || devs+=("{\"type\": \"net\", \"tap\": \"$V_TAP\", \"mac\": \"$V_MAC\"}")
	[ -z "$V_NET" ] || devs+=("{\"type\": \"net\", \"network\": \"$V_NET\", \"mac\": \"$V_MAC\"}")
	[ "$V_RNG" = 0 ] || devs+=('{"type": "rng"}')
	[ -z "$V_CON" ] || devs+=("{\"type\": \"console\", \"backend\": \"file:$V_CON\"}")
	[ -z "$V_VSOCK" ] || devs+=("{\"type\": \"vsock\", \"cid\": $V_VSOCK, \"socket\": \"$W/$1-v.sock\"}")
	[ "$V_GPU" = 0 ] || devs+=("{\"type\": \"gpu\", \"width\": $GPU_W, \"height\": $GPU_H}")
	[ "$V_INPUT" = 0 ] || devs+=('{"type": "input", "kind": "keyboard"}'
		"{\"type\": \"input\", \"kind\": \"touch\", \"width\": $GPU_W, \"height\": $GPU_H}")
	[ "$V_SOUND" = 0 ] || devs+=("{\"type\": \"sound\", \"out\": \"$W/out.wav\", \"in\": \"$W/in.wav\"}")
	[ "$V_GPIO" = 0 ] || devs+=('{"type": "gpio", "lines": 8, "names": "reset:led:button:door"}')
	[ -z "$V_I2C" ] || devs+=("{\"type\": \"i2c\", \"dev\": \"$V_I2C\", \"allow\": \"0x50\"}")
	[ "$V_WDT" = 0 ] || devs+=('{"type": "watchdog", "action": "exit"}')
	[ -z "$V_CAN" ] || devs+=("{\"type\": \"can\", \"if\": \"$V_CAN\"}")
	{
		echo "{"
		echo "  \"kernel\": \"$K\", \"initrd\": \"$I\","
		echo "  \"cmdline\": \"$2\","
		echo "  \"cpus\": {\"count\": 1$([ -z "$V_PIN" ] || echo ", \"affinity\": [$V_PIN]")},"
		echo "  \"memory\": {\"mib\": $V_MEM$([ "$V_PREALLOC" = 0 ] || echo ', "reserve": true')},"
		[ -z "$V_FIFO" ] || echo "  \"scheduling\": {\"class\": \"fifo\", \"priority\": $V_FIFO},"
		echo "  \"serial\": \"$V_SERIAL\","
		[ -z "$V_RESTART" ] || echo "  \"restart\": $V_RESTART,"
		echo "  \"shutdown_timeout_s\": $V_SHUTDOWN,"
		[ "$transport" = mmio ] || echo "  \"transport\": \"$transport\","
		echo "  \"devices\": ["
		local i
		for i in "${!devs[@]}"; do
			echo "    ${devs[$i]}$([ "$i" -lt $((${#devs[@]} - 1)) ] && echo ,)"
		done
		echo "  ]"
		echo "}"
	} >"$dir/config.json"
	cp "$dir/config.json" "$L/$1.bundle.json"
}

# launch NAME CMDLINE: start the VM in the background as our child.
launch() {
	local name=$1 cl=$2 cmd=() i=0 d
	if [ "$HV" = avp ]; then
		mkbundle "$name" "$cl"
		cmd=("$AVP" run --bundle "$W/bundle-$name" --api-sock "$W/$name-api.sock")
	else
		# microvm with ACPI is how Debian's kernel finds virtio-mmio;
		# force-legacy=false gives modern (version 2) virtio-mmio, which
		# microvm does not by default; discard=unmap passes discards on.
		# arm64: virt, whose device tree lists its virtio-mmio slots (also
		# legacy by default), its PL011, PL031 and PL061 power button.
		if [ "$arch" = arm64 ]; then
			cmd=(qemu-system-aarch64 -accel kvm -M virt,gic-version=3 -cpu host)
		else
			cmd=(qemu-system-x86_64 -enable-kvm -M microvm,acpi=on -cpu host)
		fi
		cmd+=(-m "$V_MEM" -smp 1
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
		[ -z "$V_VSOCK" ] || cmd+=(-device "vhost-vsock-device,guest-cid=$V_VSOCK")
		[ "$V_GPU" = 0 ] || cmd+=(-device "virtio-gpu-device,xres=$GPU_W,yres=$GPU_H")
		# QEMU 7.2 has no virtio multi-touch device (8.0 added one): the
		# tablet is its closest absolute pointer.
		[ "$V_INPUT" = 0 ] || cmd+=(-device virtio-keyboard-device -device virtio-tablet-device)
		[ "$V_PREALLOC" = 0 ] || cmd+=(-mem-prealloc)
	fi
	printf '%q ' "${cmd[@]}" >"$L/$name.cmd"
	echo >>"$L/$name.cmd"
	"${cmd[@]}" </dev/null >"$L/$name.serial" 2>"$L/$name.stderr" &
	PID[$name]=$! WPID[$name]=$!
	if [ "$HV" = qemu ]; then
		python3 "$ROOT/conformance/qmp.py" events "$W/$name-ev.sock" "$L/$name.qmp-events" 2>/dev/null &
		QEV[$name]=$!
	fi
	log "started $name (pid ${PID[$name]})"
}

# sync_calls FILE: how many sync calls on FILE the strace log of VM b's
# hypervisor shows (AVP-BLK-2; see watch_b).
sync_calls() {
	grep -cE "(fsync|fdatasync|sync_file_range|syncfs)\([0-9]+<$1>" "$L/b.strace" 2>/dev/null
}

# rt ARGS...: the avp runtime CLI; output also goes to the run's log.
rt() { "$AVP" "$@" 2>&1 | tee -a "$L/runtime.log"; return "${PIPESTATUS[0]}"; }
# rtf ID JQ-FILTER: one field of `avp state ID` ("" when it fails).
rtf() { "$AVP" state "$1" 2>/dev/null | jq -r "$2" 2>/dev/null; }

# rt_launch NAME CMDLINE: create and start the VM under the avp runtime
# from its bundle; the lifecycle as observed goes to RTLOG_<NAME>.
rt_launch() {
	local name=$1 cl=$2 ev="" st pid mon
	mkbundle "$name" "$cl"
	RTVM[$name]=1
	if rt create "$name" --bundle "$W/bundle-$name" >/dev/null; then
		RTCREATED="$RTCREATED $name"
		st=$(rtf "$name" .status) pid=$(rtf "$name" .pid) mon=$(rtf "$name" .monitor_pid)
		ev="create: status '$st', pid $pid, monitor $mon $(alive "$mon" && echo alive || echo NOT-alive)"
		[ "$st" = created ] && [ "$pid" = 0 ] && alive "$mon" || RTBAD=1
	else
		ev="create FAILED: $(tail -n1 "$L/runtime.log")"
		RTBAD=1
	fi
	if rt start "$name" >/dev/null; then
		st=$(rtf "$name" .status) pid=$(rtf "$name" .pid)
		[[ "$pid" =~ ^[0-9]+$ ]] && [ "$pid" -gt 1 ] && PID[$name]=$pid
		ev="$ev; start: status '$st', pid $pid = '$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-60)...'"
		[ "$st" = running ] && alive "$pid" && grep -q "run --bundle $W/bundle-$name" <(tr '\0' ' ' <"/proc/$pid/cmdline") || RTBAD=1
	else
		ev="$ev; start FAILED: $(tail -n1 "$L/runtime.log")"
		RTBAD=1
	fi
	RTEV="${RTEV:+$RTEV; }$name: $ev"
	log "started $name under the runtime (pid ${PID[$name]:-none})"
}

qmp() { python3 "$ROOT/conformance/qmp.py" cmd "$W/$1-cmd.sock" "${@:2}"; }

# What VM NAME said: the agent writes to hvc0 when it has one (NAME.hvc0),
# else to the serial console (NAME.serial).
vmout() { cat "$L/$1.serial" "$L/$1.hvc0" 2>/dev/null; }
# vgrep NAME GREP-ARGS: grep both files directly. 'vmout | grep -q' would
# fail under pipefail whenever grep exits before cat (SIGPIPE).
vgrep() { local n=$1; shift; grep -sha "$@" "$L/$n.serial" "$L/$n.hvc0"; }

# QEMU that hit a KVM internal error stops its VM but keeps running.
stuck() { grep -qs 'KVM internal error' "$L/$1.stderr"; }
gone() { ! alive "${PID[$1]:-}" || stuck "$1"; }

# wait_mark NAME REGEX TIMEOUT: wait for an AVP-MARK line from NAME.
wait_mark() {
	local end=$(($(date +%s) + $3))
	while [ "$(date +%s)" -lt "$end" ]; do
		vgrep "$1" -qE "AVP-MARK $nonce $2" && return 0
		gone "$1" && { sleep 0.5; vgrep "$1" -qE "AVP-MARK $nonce $2"; return; }
		sleep 0.1
	done
	return 1
}

count_marks() { vmout "$1" | grep -caE "AVP-MARK $nonce $2"; }

# wait_exit NAME TIMEOUT: for a VM we launched; sets RC (124 when it had
# to be killed after the timeout, 125 when QEMU was stuck).
wait_exit() {
	local end=$(($(date +%s) + $2)) p=${WPID[$1]:-${PID[$1]:-}}
	while alive "${PID[$1]:-}" && ! stuck "$1" && [ "$(date +%s)" -lt "$end" ]; do sleep 0.2; done
	if stuck "$1"; then
		STUCK[$1]=1
		kill -KILL "${PID[$1]}" 2>/dev/null
		wait "$p" 2>/dev/null
		RC=125
	elif alive "${PID[$1]:-}"; then
		kill -KILL "${PID[$1]}" 2>/dev/null
		wait "$p" 2>/dev/null
		RC=124
	else
		wait "$p" 2>/dev/null
		RC=$?
	fi
	unset "PID[$1]" "WPID[$1]"
	if [ -n "${QEV[$1]:-}" ]; then
		sleep 0.3
		kill "${QEV[$1]}" 2>/dev/null
		wait "${QEV[$1]}" 2>/dev/null
		unset "QEV[$1]"
	fi
}

# shutdown_reason NAME: QEMU's SHUTDOWN event reason ("" if none).
shutdown_reason() {
	sed -n 's/.*"event": "SHUTDOWN".*"reason": "\([a-z-]*\)".*/\1/p' "$L/$1.qmp-events" 2>/dev/null | tail -n1
}
stuck_note() { [ -z "${STUCK[$1]:-}" ] || echo " ($(grep -m1 -a 'KVM internal error' "$L/$1.stderr"), $(grep -m1 -a 'emulation failure' "$L/$1.stderr"): QEMU stopped the VM and was killed)"; }

# A guest that died during kernel boot: its hypervisor is gone before the
# agent started and the guest never reached its init ("avp-guest:
# running"). Seen only in the nested test host, under load: a QEMU guest
# reset about a second into boot, no panic on its console. No device was
# judged yet, so the harness boots it again (BOOT_TRIES in all) and says so
# in the log and in meta.json ("boot_retries"); a guest that keeps dying
# leaves its rows FAIL as before.
BOOT_TRIES=5
died_in_boot() { gone "$1" && ! vgrep "$1" -q 'avp-guest: running'; }
# note_retry NAME TRY: reap the dead attempt, keep its logs as NAME.tryN.*.
note_retry() {
	local n=$1 why f
	wait_exit "$n" 30
	why="exit status $RC$([ "$HV" = qemu ] && echo ", QEMU shutdown reason '$(shutdown_reason "$n")'")$(stuck_note "$n")"
	why="$why; console ends: $(tail -c 200 "$L/$n.serial" 2>/dev/null | tr -c '[:print:]' ' ')"
	unset "STUCK[$n]"
	log "$n: attempt $2 died before the agent started ($why); booting it again"
	echo "$n, attempt $2: $why" >>"$L/boot-retries.txt"
	for f in serial stderr hvc0 qmp-events; do
		[ -f "$L/$n.$f" ] && mv "$L/$n.$f" "$L/$n.try$2.$f"
	done
}
# launch_booted NAME CMDLINE: launch, then wait for the agent to start,
# booting again when the guest died in its kernel boot (above).
launch_booted() {
	local try
	for ((try = 1; try <= BOOT_TRIES; try++)); do
		launch "$1" "$2"
		wait_mark "$1" 'agent-start' 300 && return 0
		gone "$1" || log "$1: no agent after 300 s, the VM still running: $(stall_note "$1")"
		died_in_boot "$1" && [ "$try" -lt "$BOOT_TRIES" ] || return 1
		note_retry "$1" "$try"
	done
}

# stall_note NAME: one line on a guest that is still running but has not
# reached its init, for the log and the row: whether its vCPUs run at all
# (the test host's KVM statistics for the VM, two samples 2 s apart: exits,
# halts, injected interrupts), what its threads wait in, QEMU's status and
# RIP, the test host kernel's last warnings, and the end of its console.
# A boot that hangs is not booted again (the retry policy is for deaths):
# this line is what the next reader has.
stall_note() {
	local n=$1 pid=${PID[$1]:-} d stat a b k t out=""
	mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug 2>/dev/null
	for d in /sys/kernel/debug/kvm/"$pid"-*; do [ -r "$d/exits" ] && stat=$d; done
	if [ -n "${stat:-}" ]; then
		a=$(for k in exits halt_exits irq_injections io_exits mmio_exits; do cat "$stat/$k" 2>/dev/null || echo 0; done)
		sleep 2
		b=$(for k in exits halt_exits irq_injections io_exits mmio_exits; do cat "$stat/$k" 2>/dev/null || echo 0; done)
		out=$(paste <(echo "$a") <(echo "$b") | awk 'BEGIN{split("exits halts irqs io mmio",k," ")} {printf "%s%s %d", (NR>1?", ":""), k[NR], $2-$1}')
		out="KVM in 2 s: $out"
	else
		out="no KVM statistics for pid $pid"
	fi
	for t in /proc/"$pid"/task/*; do
		[ -r "$t/comm" ] || continue
		out="$out; $(cat "$t/comm"):$(sed 's/.*) //' "$t/stat" | cut -d' ' -f1):$(cat "$t/wchan" 2>/dev/null)"
	done
	if [ "$HV" = qemu ]; then
		out="$out; QMP: $(timeout 10 python3 "$ROOT/conformance/qmp.py" cmd "$W/$n-cmd.sock" '{"execute":"query-status"}' 2>&1 | grep -o '"status": *"[a-z-]*"' | head -n1)"
		out="$out, $(timeout 10 python3 "$ROOT/conformance/qmp.py" cmd "$W/$n-cmd.sock" '{"execute":"human-monitor-command","arguments":{"command-line":"info registers"}}' 2>&1 | grep -o 'R[IS]P=[0-9a-f]*' | head -n2 | tr '\n' ' ')"
	fi
	# The test host's own kernel (an oops there can stop a vCPU thread
	# without ending the VM); KVM's unhandled-MSR notes are routine.
	k=$(dmesg --level=emerg,alert,crit,err,warn 2>/dev/null | grep -v 'Unhandled [RW][DR]MSR' | tail -n 2 | tr '\n' ' ')
	out="$out; host kernel's last warnings: ${k:-none}"
	echo "$out; console ends: $(tail -c 240 "$L/$n.serial" 2>/dev/null | tr -c '[:print:]' ' ')"
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

# reboot=acpi: on a hardware-reduced ACPI platform without EFI (avp's and
# QEMU microvm's) Linux's default reboot is "EFI" then "BIOS", a jump to
# the reset vector; avp's reset-vector stub turns that into a platform
# reset, microvm's qboot boots again in the un-reset machine and jumps to
# garbage in about a third of reboots (docs/triple-fault.md, bootloop
# --reboot). Both platforms declare the FADT reset register, so the suite
# asks Linux to use it, for both: AVP-PM-1 then judges the platforms'
# reset, the same way every run.
# arm64 has no such choice: the guest reboots through PSCI SYSTEM_RESET on
# both (avp's and QEMU virt's device trees name PSCI).
vm_cmdline() { # ROLE EXTRA...
	local con="console=ttyS0" rb="reboot=acpi"
	[ "$arch" = arm64 ] && con="console=ttyAMA0" rb=""
	echo "$con panic=-1 quiet${rb:+ $rb} avp.test=conform avp.conform.role=$1 avp.conform.nonce=$nonce avp.conform.hosttime=$(date +%s) ${*:2}"
}

guest_has_info() { vgrep "$1" -q "AVP-INFO .*\"key\":\"$2\""; }
guest_info() { vmout "$1" | sed -n "s/.*AVP-INFO .*\"key\":\"$2\",\"value\":\"\([^\"]*\)\".*/\1/p" | tail -n1; }

# Background: when each guest's AVP-MARK lines arrived, in host time
# ($L/timeline.log; the first boot's marks of d are kept by watch_d).
timeline() {
	local f seen=$W/timeline.seen line
	: >"$seen"
	while sleep 1; do
		for f in "$L"/*.hvc0 "$L"/*.serial; do
			[ -s "$f" ] || continue
			grep -ah "AVP-MARK $nonce" "$f" 2>/dev/null | grep -v heartbeat | while IFS= read -r line; do
				line="${f##*/}: ${line#*AVP-MARK $nonce }"
				grep -qxF -- "$line" "$seen" || { echo "$line" >>"$seen"; echo "+$((SECONDS - T0))s ${line//$'\r'/}" >>"$L/timeline.log"; }
			done
		done
	done
}

# bg_done FILE TIMEOUT: wait for a background watcher's result file.
bg_done() {
	local end=$(($(date +%s) + $2))
	while [ ! -s "$1" ] && [ "$(date +%s)" -lt "$end" ]; do sleep 0.3; done
	[ -s "$1" ]
}

# AVP-CAN-1's host side: a vcan with CAN FD for the VM's virtio-can, and
# an echo on it that answers ID 0x1a0 (standard or extended) as 0x1a1 with
# the same bytes, for the agent's round trips. 1 when it cannot be had
# (the row then fails on the missing device).
can_host() {
	local ct=$GUEST/cantest
	[ -x "$ct" ] || { log "no $ct (scripts/mkguest-can): no CAN device"; return 1; }
	modprobe vcan 2>/dev/null
	modprobe can-raw 2>/dev/null
	ip link del avpcan0 2>/dev/null
	if ! { ip link add dev avpcan0 type vcan && ip link set avpcan0 mtu 72 && ip link set avpcan0 up; }; then
		log "cannot create the vcan avpcan0: no CAN device"
		return 1
	fi
	"$ct" echo avpcan0 0x1a0 1000 900000 >"$L/can-echo.log" 2>&1 &
	BG+=($!)
}

# arm64_unoffered SCRIPT ID...: avp devices the arm64 run leaves out
# because SCRIPT's image is missing, with why (their rows would otherwise
# say only "not offered").
arm64_unoffered() {
	local why="the arm64 reference guest has no driver for it (Debian's 6.12 arm64 kernel lacks it; $1 --arch arm64 builds it: build/guest-arm64 has no image of it), so --arch arm64 does not offer the device" id
	shift
	# ABSENT: a MAY row may be not offered; CAN-1 (SHOULD) fails as such.
	for id in "$@"; do hrec "$id" ABSENT "not offered on arm64: $why"; done
}

# ---------------------------------------------------------- phase 1: main --

boot_main() {
	local img_s=$W/scratch.img img_r=$W/ro.img con=$L/main.hvc0 ro_sum rc ndev cl extra=0 tx ty
	local vhelp=()
	mkimg "$img_s" 32M AVPCONF-SCRATCH
	scratch_pattern "$img_s"
	mkimg "$img_r" 4M "AVPCONF-RO"
	ro_sum=$(md5sum <"$img_r")
	mktap avpc0 fe80::1 || hrec AVP-NET-1 FAIL "host: cannot create tap avpc0"
	# AVP-NET-3: the host end of the agent's bulk TCP transfer (port 5201).
	local nbpid=
	# The arm64 test host's root has no compiler: conformance/conform
	# cross-builds the host end there (build/arm64/conform/net_bulk).
	if [ "$arch" = arm64 ]; then
		cp "$ROOT/build/arm64/conform/net_bulk" "$W/net_bulk" 2>"$L/net_bulk.err"
	else
		gcc -O2 -o "$W/net_bulk" "$ROOT/tests/guest/net_bulk.c" 2>"$L/net_bulk.err"
	fi
	if [ -x "$W/net_bulk" ]; then
		"$W/net_bulk" serve avpc0 5201 600 >"$L/net_bulk.log" 2>&1 &
		nbpid=$!
		BG+=("$nbpid")
	fi
	reset_vm
	V_DISKS=("$img_s" "$img_r,ro") V_TAP=avpc0 V_MAC=52:54:00:c0:00:01 V_RNG=$rng V_CON=$con V_MEM=256
	# Beyond the basic platform: what each hypervisor can offer here.
	if [ "$quick" = 0 ]; then
		extra=1
		V_GPU=1 V_INPUT=1
		if [ "$HV" = avp ]; then
			V_VSOCK=10 V_SOUND=1 V_WDT=1
			python3 "$ROOT/tests/lib/wavcheck.py" gen "$W/in.wav" 440 1
			# AVP-GPIO-1: simulated lines; AVP-I2C-1: the kernel's i2c-stub
			# with chips at 0x50 (allowed) and 0x51 (not), when it loads
			# (arm64: the one scripts/mkguest-gpio-i2c built, Debian's
			# arm64 kernel has none).
			local stub=(modprobe i2c-stub)
			if [ "$arch" = x86_64 ]; then
				V_GPIO=1
			elif [ -f "$GUEST/initrd-gpio-i2c.img" ]; then
				V_GPIO=1 stub=(insmod "$GUEST/i2c-stub.ko")
			else
				arm64_unoffered scripts/mkguest-gpio-i2c AVP-GPIO-1 AVP-I2C-1
			fi
			if [ "$V_GPIO" = 0 ]; then
				:
			elif "${stub[@]}" chip_addr=0x50,0x51 2>/dev/null && modprobe i2c-dev 2>/dev/null; then
				I2C_STUB=1
				local ad wi=0
				for ad in /sys/bus/i2c/devices/i2c-*; do
					[ "$(cat "$ad/name" 2>/dev/null)" = "SMBus stub driver" ] && V_I2C=/dev/${ad##*/}
				done
				while [ -n "$V_I2C" ] && [ ! -c "$V_I2C" ] && [ $wi -lt 50 ]; do
					sleep 0.1
					wi=$((wi + 1))
				done
			fi
			if [ "$arch" = x86_64 ] || [ -f "$GUEST/initrd-can.img" ]; then
				can_host && V_CAN=avpcan0
			else
				arm64_unoffered scripts/mkguest-can AVP-CAN-1
			fi
		elif modprobe vhost_vsock 2>/dev/null; [ -c /dev/vhost-vsock ]; then
			V_VSOCK=10
		fi
	fi
	ndev=$(vm_ndev)
	# Touch coordinates differ per run (from the nonce).
	tx=$((16#${nonce:0:4} % (GPU_W - 40) + 20)) ty=$((16#${nonce:4:4} % (GPU_H - 40) + 20))
	cl=$(vm_cmdline main avp.conform.mac=$V_MAC avp.conform.self=fe80::2 avp.conform.peer=fe80::1 \
		avp.conform.gpu=${GPU_W}x$GPU_H avp.conform.touch=$tx,$ty avp.conform.interactive=$((1 - quick)) \
		avp.conform.i2c=0x50,0x51)

	# vsock host ends: an echo server for the guest's stream, and a client
	# for the guest's listener (retried until it listens).
	if [ -n "$V_VSOCK" ]; then
		local srv=vsock:5000 cli=vsock:$V_VSOCK
		[ "$HV" = avp ] && srv=unix:$W/main-v.sock_5000 cli=unix:$W/main-v.sock
		python3 "$HOSTPY" vsock-serve "$srv" 400 >"$L/vsock-g2h.log" 2>&1 &
		vhelp+=($!)
		python3 "$HOSTPY" vsock-connect "$cli" 1234 "AVPCONF-VSOCK-H2G-$nonce" 400 >"$L/vsock-h2g.log" 2>&1 &
		vhelp+=($!)
		BG+=("${vhelp[@]}")
	fi

	local t0=$SECONDS
	# AVP-BOOT-4: the host-side description of this very platform (avp:
	# before the boot, since it opens, and locks, the same disks).
	if [ "$HV" = avp ]; then
		mkbundle main "$cl"
		"$AVP" run --bundle "$W/bundle-main" --describe >"$L/describe.json" 2>"$L/describe.err" ||
			log "avp --describe failed: $(head -c 300 "$L/describe.err")"
	fi
	local flags="" started=0 try
	for ((try = 1; try <= BOOT_TRIES; try++)); do
		launch main "$cl"
		if [ "$HV" = qemu ]; then
			python3 "$ROOT/conformance/qmp.py" describe "$W/main-cmd.sock" >"$L/describe.json" 2>"$L/describe.err" ||
				log "QMP describe failed: $(head -c 300 "$L/describe.err")"
		fi
		# The read-only image must be open read-only on the host too: then
		# no guest request can change it, whatever the device model does.
		# (Read while the hypervisor starts: a quick guest may be gone by
		# the time the harness sees its first mark.)
		for _ in $(seq 300); do
			flags=$(fd_flags "${PID[main]}" "$img_r")
			[ -n "$flags" ] || gone main && break
			sleep 0.2
		done
		if wait_mark main 'agent-start' 300; then
			started=1
			log "main: agent started after $((SECONDS - t0)) s"
			break
		fi
		if ! gone main; then
			local stall
			stall=$(stall_note main)
			log "main: no agent after 300 s, the VM still running: $stall"
			hrec AVP-BOOT-1 FAIL "the main guest's agent did not start within 300 s and the VM was still running$(vgrep main -q 'avp-guest: running' || echo ', before its init'): $stall"
			break
		fi
		died_in_boot main && [ "$try" -lt "$BOOT_TRIES" ] || break
		note_retry main "$try"
	done

	# Host halves of the interactive rows, in the agent's order.
	if [ "$started" = 1 ] && [ "$quick" = 0 ]; then
		if wait_mark main 'input-(ready|none)' 300 && vgrep main -q "AVP-MARK $nonce input-ready"; then
			local r1 r2 how
			if [ "$HV" = avp ]; then
				r1=$("$AVP" api --api-sock "$W/main-api.sock" input '{"key":"KEY_A"}' 2>&1)
				r2=$("$AVP" api --api-sock "$W/main-api.sock" input "{\"device\":\"touch\",\"touch\":{\"x\":$tx,\"y\":$ty}}" 2>&1)
				how="control socket 'input': KEY_A click -> $r1; touch at ($tx,$ty) -> $r2"
			else
				r1=$(qmp main '{"execute":"input-send-event","arguments":{"events":[{"type":"key","data":{"down":true,"key":{"type":"qcode","data":"a"}}}]}}' \
					'{"execute":"input-send-event","arguments":{"events":[{"type":"key","data":{"down":false,"key":{"type":"qcode","data":"a"}}}]}}' 2>&1 | tr '\n' ' ')
				how="QMP input-send-event: key 'a' down and up -> $r1; no multi-touch device to touch"
			fi
			log "main: fed input ($how)"
			hrec AVP-INPUT-1 PASS "host fed events through $how (the guest's row says what arrived)"
		elif vgrep main -q "AVP-MARK $nonce input-none"; then
			:
		else
			hrec AVP-INPUT-1 FAIL "the guest never said it was ready for input events"
		fi
		if wait_mark main 'gpu-(drawn|none|failed)' 300 && vgrep main -q "AVP-MARK $nonce gpu-drawn"; then
			local shot res
			if [ "$HV" = avp ]; then
				shot=$L/main-screen.png
				res=$("$AVP" api --api-sock "$W/main-api.sock" screenshot "{\"path\":\"$shot\"}" 2>&1)
			else
				shot=$L/main-screen.ppm
				res=$(qmp main "{\"execute\":\"screendump\",\"arguments\":{\"filename\":\"$shot\"}}" 2>&1)
			fi
			go_ahead gpu-shot
			local chk
			chk=$(/usr/bin/python3 "$HOSTPY" image-check "$shot" "$GPU_W" "$GPU_H" 2>&1)
			log "main: screenshot: $chk"
			case "$chk" in
			"ok - "*) hrec AVP-GPU-1 PASS "host capture ($([ "$HV" = avp ] && echo 'control socket screenshot, PNG' || echo 'QMP screendump, PPM')): ${chk#ok - }" ;;
			*) hrec AVP-GPU-1 FAIL "host capture: ${chk#not ok - } (request: $(head -c 200 <<<"$res"))" ;;
			esac
		elif vgrep main -q "AVP-MARK $nonce gpu-failed"; then
			go_ahead gpu-shot
			hrec AVP-GPU-1 FAIL "the guest could not draw, so the host had nothing to capture"
		fi
	elif [ "$quick" = 1 ]; then
		hrec AVP-GPU-1 FAIL "not offered in the --quick platform (no GPU, no host capture)"
		hrec AVP-INPUT-1 FAIL "not offered in the --quick platform (no input devices, no host feeding)"
	fi

	wait_exit main 400
	rc=$RC
	log "main boot: exit $rc after $((SECONDS - t0)) s"

	# AVP-PM-1 (reboot part): the agent reboots the guest at its end.
	local rb=no
	vgrep main -q "AVP-MARK $nonce rebooting" && rb=yes
	if [ "$HV" = avp ]; then
		[ "$rc" = 3 ] && [ "$rb" = yes ] && hrec AVP-PM-1 PASS "guest reboot ended avp with status 3 ('guest rebooted', the default --on-reboot exit)" ||
			hrec AVP-PM-1 FAIL "guest reboot (asked: $rb): avp exit status $rc (want 3)"
	else
		local why
		why=$(shutdown_reason main)
		[ "$rc" = 0 ] && [ "$why" = guest-reset ] && [ "$rb" = yes ] && hrec AVP-PM-1 PASS "guest reboot: QMP SHUTDOWN reason guest-reset, QEMU exit 0 (-no-reboot)" ||
			hrec AVP-PM-1 FAIL "guest reboot (asked: $rb): QEMU exit $rc, QMP SHUTDOWN reason '$why'$(stuck_note main)"
	fi

	log "main: reboot judged"
	# AVP-BOOT-2 host half: the guest found every configured device.
	local seen
	seen=$(vmout main | grep -ca 'AVP-INVENTORY ')
	if [ "$seen" != "$ndev" ]; then
		hrec AVP-BOOT-2 FAIL "host configured $ndev virtio devices, the guest found $seen"
	else
		hrec AVP-BOOT-2 PASS "host configured $ndev virtio devices, the guest found $seen"
	fi
	python3 "$ROOT/conformance/report.py" describe-check "$HV" "$L/describe.json" "$L/main.serial,$L/main.hvc0" "$ndev" >>"$L/host.tsv"

	# AVP-RT-1: the main VM was one bundle.
	if [ "$HV" = avp ]; then
		if [ "$started" = 1 ] && [ "$seen" = "$ndev" ]; then
			hrec AVP-RT-1 PASS "the main VM was booted from one declarative file (avp run --bundle: $(jq -r '[.devices[].type] | join(",")' "$L/main.bundle.json" 2>/dev/null), kernel, command line, memory): the guest found all $ndev virtio devices it lists, and 'avp run --bundle --describe' gives the platform it describes (BOOT-4); one host cannot show that another conforming host runs it the same"
		else
			hrec AVP-RT-1 FAIL "the main VM's bundle: agent started: $started; guest found $seen of $ndev virtio devices"
		fi
	fi

	# AVP-BLK-1 host half: the guest's token reached the image.
	local tok
	tok=$(dd if="$img_s" bs=1 skip=$((4 << 20)) count=64 status=none | tr -d '\0')
	[ "$tok" = "AVPCONF-GUEST-WROTE-$nonce" ] && hrec AVP-BLK-1 PASS "host finds the guest's token at 4 MiB in the image after the VM ended" ||
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
	# AVP-NET-3 host half: the guest's bytes arrived intact, and the tap
	# carried GSO frames (above 1514 bytes on average) both ways.
	if [ -z "$nbpid" ]; then
		hrec AVP-NET-3 FAIL "host: cannot build net_bulk: $(head -c 200 "$L/net_bulk.err")"
	else
		kill "$nbpid" 2>/dev/null
		local nbl nbin nbout
		nbl=$(grep -a '^NET_BULK_HOST ' "$L/net_bulk.log" | tail -n 1)
		nbin=$(sed -n 's/.* rx_avg=\([0-9]*\).*/\1/p' <<<"$nbl") nbout=$(sed -n 's/.* tx_avg=\([0-9]*\).*/\1/p' <<<"$nbl")
		if [ -n "$nbl" ] && [ "${nbin:-0}" -gt 1514 ] && [ "${nbout:-0}" -gt 1514 ]; then
			hrec AVP-NET-3 PASS "host: $(grep -a '^net_bulk: ok' "$L/net_bulk.log" | sed 's/^net_bulk: ok - //')"
		else
			hrec AVP-NET-3 FAIL "host: $(grep -a '^net_bulk: ' "$L/net_bulk.log" | tail -n 1 | head -c 300)$([ -n "$nbl" ] && echo " (GSO needs above 1514 bytes/frame both ways)")"
		fi
	fi
	ip link del avpc0 2>/dev/null

	# AVP-VSOCK-1 host half: both streams, as the host saw them.
	if [ -n "$V_VSOCK" ]; then
		local p n=0
		for p in "${vhelp[@]}"; do
			while kill -0 "$p" 2>/dev/null && [ $n -lt 25 ]; do sleep 0.2; n=$((n + 1)); done
			kill "$p" 2>/dev/null
		done
		local g h
		g=$(tail -n1 "$L/vsock-g2h.log" 2>/dev/null) h=$(tail -n1 "$L/vsock-h2g.log" 2>/dev/null)
		if [[ "$g" == "ok - "* && "$h" == "ok - "* ]]; then
			hrec AVP-VSOCK-1 PASS "host side ($([ "$HV" = avp ] && echo "avp's Unix sockets" || echo 'AF_VSOCK over vhost-vsock')): ${g#ok - }; ${h#ok - }"
		else
			hrec AVP-VSOCK-1 FAIL "host side: ${g:-guest->host: no result (VM ended first)}; ${h:-host->guest: no result (VM ended first)}"
		fi
	elif [ "$extra" = 1 ] && [ "$HV" = qemu ]; then
		hrec AVP-VSOCK-1 FAIL "not offered: QEMU's vhost-vsock-device needs /dev/vhost-vsock, which this host lacks"
	fi

	log "main: vsock judged"
	# AVP-SND-1 host half: what reached OUT.wav, and what the guest heard.
	if [ "$V_SOUND" = 1 ]; then
		local tone rate ch bits frames dom zc rms ratio want_fnv got_fnv
		tone=$(python3 "$ROOT/tests/lib/wavcheck.py" tone "$W/out.wav" 1000 2>&1)
		read -r rate ch bits frames dom zc rms ratio <<<"$tone"
		want_fnv=$(python3 "$ROOT/tests/lib/wavcheck.py" fnv "$W/in.wav" 4800 2>/dev/null)
		got_fnv=$(guest_info main snd_rec_fnv)
		cp "$W/out.wav" "$L/sound-out.wav" 2>/dev/null
		if [ "$rate/$ch/$bits" = 48000/1/16 ] && [ "${frames:-0}" = 4800 ] && [ "$dom" = 1000 ] && [ -n "$want_fnv" ] && [ "$got_fnv" = "$want_fnv" ]; then
			hrec AVP-SND-1 PASS "host sink: OUT.wav holds the guest's 4800 frames at 48 kHz, dominant ${dom} Hz (rms $rms); host source: the guest's recording hashes like the first 4800 frames of IN.wav (FNV-1a $got_fnv)"
		else
			hrec AVP-SND-1 FAIL "host sink: OUT.wav '$tone' (want 48000 1 16 4800 frames, dominant 1000 Hz); host source: guest recording FNV '$got_fnv', IN.wav '$want_fnv'"
		fi
	fi
	sync_logs
	log "main: host checks done"
}

# ---------------------------------------------------------- phase 2: pair --

# Background: VM b says when it is about to flush a token to its durable
# disk; strace then attaches to its hypervisor (sync calls only, so the
# VM runs at full speed until then and ptrace costs nothing during boot)
# and the go-ahead is written into the durable image at 64 KiB. The
# moment b says the token is flushed, note what the isolation and
# durability checks need from /proc and SIGKILL b's hypervisor. The
# result line goes to $W/b.watch.
watch_b() {
	local pb=$1 pa=$2 dur=$3 end=$(($(date +%s) + 500)) res="no flush mark within 500 s" sp="" t i
	while [ "$(date +%s)" -lt "$end" ]; do
		if [ -z "$sp" ] && vgrep b -qE "AVP-MARK $nonce durable-ready"; then
			strace -f -qq -y -e trace=fsync,fdatasync,sync_file_range,syncfs -o "$L/b.strace" -p "$pb" \
				2>"$L/b.strace.err" &
			sp=$!
			# Go on once every thread of the hypervisor is traced.
			for i in $(seq 100); do
				t=$(grep -h '^TracerPid:' /proc/"$pb"/task/*/status 2>/dev/null | grep -c 'TracerPid:[[:space:]]*0$')
				[ "$t" = 0 ] && break
				sleep 0.1
			done
			printf 'AVPCONF-GO-flush-%s' "$nonce" | dd of="$dur" bs=64k seek=1 conv=notrunc,fsync status=none
		fi
		if vgrep b -qE "AVP-MARK $nonce durable-flushed"; then
			if alive "$pb"; then
				cat "/proc/$pa/maps" >"$W/a.maps" 2>/dev/null
				cat "/proc/$pb/maps" >"$W/b.maps" 2>/dev/null
				fd_flags "$pb" "$dur" >"$W/b.flags"
				if kill -KILL "$pb"; then res="killed"; else res="kill -KILL $pb failed"; fi
			else
				res="b's hypervisor was gone before the kill"
			fi
			break
		fi
		if vgrep b -qE "AVP-MARK $nonce durable-(missing|write-failed|no-go)"; then
			res="the guest did not flush: $(vgrep b -ohaE "AVP-MARK $nonce durable-[a-z-]+.*" | tail -n1)"
			break
		fi
		alive "$pb" || { res="b's hypervisor exited before the guest flushed"; break; }
		sleep 0.1
	done
	[ -z "$sp" ] || { sleep 1; kill "$sp" 2>/dev/null; wait "$sp" 2>/dev/null; }
	echo "$res" >"$W/b.watch"
}

# Background (avp): VM d starves its watchdog; the runtime's restart policy
# (on-failure, at most 1) must restart it. Once restarted, a graceful kill
# that the fresh guest cannot answer must force it off after d's
# shutdown_timeout_s. Records in $W/d.*.json, result line in $W/d.watch.
watch_d() {
	local end=$(($(date +%s) + 500)) res="no restart within 500 s" st r t1 try=1 life1
	local con=$AVP_RUNTIME_ROOT/d/console.log
	while [ "$(date +%s)" -lt "$end" ]; do
		if "$AVP" state d >"$W/d.state.json" 2>/dev/null; then
			st=$(jq -r .status "$W/d.state.json") r=$(jq -r .restarts "$W/d.state.json")
			# A first life that crashed in kernel boot, before its init ran
			# (the nested host's early triple fault, see died_in_boot), tested
			# nothing: the runtime restarted it for 'crash'. Start d afresh
			# instead (BOOT_TRIES in all), as launch_booted does for a and b.
			life1=$(sed -n '/the VM process ended/q; p' "$con" 2>/dev/null)
			if [ "${r:-0}" -ge 1 ] && [ "$(jq -r .last_exit_reason "$W/d.state.json")" = crash ] \
				&& ! grep -aq 'avp-guest: running' <<<"$life1" && [ "$try" -lt "$BOOT_TRIES" ]; then
				cp "$con" "$L/d.try$try.serial" 2>/dev/null
				echo "d, attempt $try: crashed in kernel boot (runtime reason 'crash'); console ends: $(tail -c 200 <<<"$life1" | tr -c '[:print:]' ' ')" >>"$L/boot-retries.txt"
				log "d: attempt $try crashed in kernel boot, before its init ran; starting d afresh"
				rt kill d KILL --wait >/dev/null 2>&1
				rt delete d >/dev/null 2>&1
				rt create d --bundle "$W/bundle-d" >/dev/null && rt start d >/dev/null
				try=$((try + 1))
				continue
			fi
			if [ "${r:-0}" -ge 1 ]; then
				cp "$W/d.state.json" "$W/d.restarted.json"
				# The kill must meet the restarted VM running with its
				# control socket up, or it tests nothing.
				local i
				for i in $(seq 60); do
					[ "$(rtf d .status)" = running ] && [ -S "$AVP_RUNTIME_ROOT/d/api.sock" ] && break
					sleep 0.5
				done
				"$AVP" state d >"$W/d.running.json" 2>/dev/null
				sleep 1
				t1=$(date +%s.%N)
				"$AVP" kill d TERM --wait >"$W/d.kill.log" 2>&1
				echo "$t1 $(date +%s.%N)" >"$W/d.killtime"
				"$AVP" state d >"$W/d.final.json" 2>/dev/null
				res="restarted"
				break
			fi
			if [ "$st" = stopped ]; then
				cp "$W/d.state.json" "$W/d.final.json"
				res="stopped without a restart"
				break
			fi
		fi
		sleep 0.5
	done
	echo "$res" >"$W/d.watch"
}

boot_pair() {
	local a=$W/pair-a.img b=$W/pair-b.img dur=$W/durable.img
	mkimg "$a" 8M AVPCONF-PAIR-a
	mkimg "$b" 8M AVPCONF-PAIR-b
	mkimg "$dur" 4M AVPCONF-DURABLE
	local t0=$SECONDS wdt=0 cpu=$(($(nproc) - 1)) vs=0 cla clb br n pid
	[ "$HV" = avp ] && guest_has_info main watchdog && wdt=1
	[ "$HV" = avp ] || [ -c /dev/vhost-vsock ] && vs=1
	RTEV="" RTBAD=0 RTCREATED="" SYSUP=0
	cla=$(vm_cmdline a avp.conform.self=fe80::a avp.conform.peer=fe80::b)
	clb=$(vm_cmdline b avp.conform.self=fe80::b avp.conform.peer=fe80::a $([ "$vs" = 0 ] || echo avp.conform.peercid=11))

	# a: pinned, real-time, memory reserved (avp: in its bundle; QEMU:
	# -mem-prealloc now, pinning by the harness later). b: the durable
	# disk. $PMEM MiB (above): under the nested test host every page reserved up
	# front costs a TCG-emulated fault.
	if [ "$HV" = avp ]; then
		# avp: a and b are one system ('avp system up'): the network
		# between them (a bridge with their two taps, no host NIC) and
		# the vsock link between them are the runtime's.
		reset_vm
		V_DISKS=("$a") V_NET=pair V_MAC=52:54:00:c0:00:0a V_RNG=1 V_PREALLOC=1 V_CON=$L/a.hvc0 V_MEM=$PMEM V_SHUTDOWN=60
		V_VSOCK=11 V_PIN=$cpu V_FIFO=10 V_SERIAL=file:$L/a.serial
		mkbundle a "$cla"
		reset_vm
		V_DISKS=("$b" "$dur") V_NET=pair V_MAC=52:54:00:c0:00:0b V_RNG=1 V_CON=$L/b.hvc0 V_MEM=$PMEM
		V_VSOCK=12 V_SERIAL=file:$L/b.serial
		mkbundle b "$clb"
		cat >"$W/system.json" <<EOF
{
  "vms": [ { "id": "a", "bundle": "bundle-a" }, { "id": "b", "bundle": "bundle-b" } ],
  "networks": [ { "name": "pair", "members": ["a", "b"] } ],
  "links": [ { "vsock": ["a", "b"] } ]
}
EOF
		cp "$W/system.json" "$L/system.json"
		RTVM[a]=1 RTVM[b]=1
		local try dead f
		for ((try = 1; ; try++)); do
			if rt system up "$W/system.json" >/dev/null; then
				SYSUP=1
				for n in a b; do
					pid=$(rtf "$n" .pid)
					[[ "$pid" =~ ^[0-9]+$ ]] && [ "$pid" -gt 1 ] && PID[$n]=$pid
				done
				br=$(ip -o link show master avpbr-pair 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | tr '\n' ' ')
				RTEV="system up (a, b, network pair, vsock link a<->b): a $(rtf a .status) pid ${PID[a]}, b $(rtf b .status) pid ${PID[b]}; bridge avpbr-pair holds: ${br:-nothing}"
				[ "$(rtf a .status)/$(rtf b .status)" = running/running ] && alive "${PID[a]}" && alive "${PID[b]}" || RTBAD=1
			else
				RTEV="system up FAILED: $(tail -n2 "$L/runtime.log" | tr '\n' ' ')"
				RTBAD=1
				break
			fi
			# A guest of the pair that died in its kernel boot (died_in_boot:
			# the nested test host's early triple fault, issue 12) tested
			# nothing: the whole system goes down and up again (one VM of a
			# linked system cannot be started alone), BOOT_TRIES in all, as
			# launch_booted does for QEMU's pair. No check has run yet.
			dead=""
			for n in a b; do
				wait_mark "$n" 'agent-start' 300 || ! died_in_boot "$n" || dead="$dead $n"
			done
			[ -n "$dead" ] && [ "$try" -lt "$BOOT_TRIES" ] || break
			for n in $dead; do
				echo "$n, attempt $try: died in kernel boot (avp state: $(rtf "$n" .status), reason '$(rtf "$n" .last_exit_reason)'); console ends: $(tail -c 200 "$L/$n.serial" 2>/dev/null | tr -c '[:print:]' ' ')" >>"$L/boot-retries.txt"
				log "$n: attempt $try died in kernel boot, before its agent started; the pair's system goes down and up again"
			done
			rt system down "$W/system.json" >/dev/null
			# Their file: backends are reopened (emptied) by the next start.
			for n in a b; do
				for f in serial hvc0; do [ -f "$L/$n.$f" ] && mv "$L/$n.$f" "$L/$n.try$try.$f"; done
			done
			RTEV="" RTBAD=0 SYSUP=0
		done
		[ "$SYSUP" = 1 ] && hrec AVP-NET-2 "$([ "$(wc -w <<<"$br")" = 2 ] && echo PASS || echo FAIL)" "the network between a and b is avp's own: 'avp system up' made bridge avpbr-pair, which holds only the VMs' taps (${br:-none}), no host NIC"
		log "started a (pid ${PID[a]:-none}) and b (pid ${PID[b]:-none}) with avp system up"
	else
		modprobe bridge 2>/dev/null
		# A host bridge with no NIC in it: the VMs' only virtual network.
		ip link add avpcbr0 type bridge && ip link set avpcbr0 up
		mktap avpca && ip link set avpca master avpcbr0
		mktap avpcb && ip link set avpcb master avpcbr0
		reset_vm
		V_DISKS=("$a") V_TAP=avpca V_MAC=52:54:00:c0:00:0a V_RNG=1 V_PREALLOC=1 V_CON=$L/a.hvc0 V_MEM=$PMEM
		[ "$vs" = 0 ] || V_VSOCK=11
		# b once a's agent runs: the nested test host has been seen to
		# die when two QEMUs went through their firmware at once (and a
		# waits up to 300 s for b on the network).
		launch_booted a "$cla"
		reset_vm
		V_DISKS=("$b" "$dur") V_TAP=avpcb V_MAC=52:54:00:c0:00:0b V_RNG=1 V_CON=$L/b.hvc0 V_MEM=$PMEM
		[ "$vs" = 0 ] || V_VSOCK=12
		launch_booted b "$clb"
		br=$(ip -o link show master avpcbr0 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | tr '\n' ' ')
		hrec AVP-NET-2 PASS "the network between a and b: a host bridge the harness made (avpcbr0, holding only the taps ${br}), no host NIC; QEMU attaches each VM with -netdev tap"
	fi
	watch_b "${PID[b]:-}" "${PID[a]:-0}" "$dur" &
	BG+=($!)
	if [ "$wdt" = 1 ]; then
		# No virtio-console: the agent then writes to the serial port, which
		# the runtime appends to d's console.log across the restart (a
		# restarted VM reopens, and so truncates, file: backends).
		# d has a vsock device but no link: it must not reach a (AVP-VSOCK-2).
		reset_vm
		V_WDT=1 V_MEM=$PMEM V_SHUTDOWN=3 V_VSOCK=13
		V_RESTART='{"policy": "on-failure", "max_restarts": 1, "backoff_ms": 1000}'
		rt_launch d "$(vm_cmdline d avp.conform.peercid=11)"
		watch_d &
		BG+=($!)
	fi
	if [ "$HV" = avp ]; then
		rt list --json >"$L/list.json"
		local ids
		ids=$(jq -r '[.[] | "\(.id)=\(.status)"] | join(" ")' "$L/list.json" 2>/dev/null)
		RTEV="$RTEV; list --json: $ids"
		grep -q 'a=running' <<<"$ids" || RTBAD=1
	fi

	# --- AVP-PART-2/3 on a, once its guest does its heartbeats (after it
	# reached b over the network).
	local a_up=0
	wait_mark a 'heartbeat [0-9]+ ok' 500 && a_up=1
	log "a: heartbeats started: $a_up"
	if [ "$HV" = avp ]; then
		local pa=${PID[a]:-} tid="" aff pol prio lck rss eff
		for t in /proc/"$pa"/task/*; do
			[ "$(cat "$t/comm" 2>/dev/null)" = vcpu0 ] && tid=${t##*/}
		done
		if [ -n "$tid" ]; then
			aff=$(taskset -pc "$tid" 2>/dev/null | sed 's/.*: //')
			# /proc/TID/stat fields 40 (rt_priority) and 41 (policy; 1 =
			# SCHED_FIFO), counted after the ")" that ends the name.
			read -r prio pol < <(sed 's/.*) //' "/proc/$pa/task/$tid/stat" | awk '{print $38, $39}')
			eff=$(rtf a '.effective.vcpus[0] | "\(.affinity) \(.class)"')
			local hb0 hb1
			hb0=$(count_marks a 'heartbeat [0-9]+ ok')
			sleep 3
			hb1=$(count_marks a 'heartbeat [0-9]+ ok')
			if [ "$aff" = "$cpu" ] && [ "$pol" = 1 ] && [ "$prio" = 10 ] && [ $((hb1 - hb0)) -ge 1 ]; then
				hrec AVP-PART-2 PASS "VM a's bundle asks cpus.affinity [$cpu] and scheduling fifo 10: its vCPU thread vcpu0 (tid $tid) runs only on host CPU $aff (taskset) with SCHED_FIFO priority $prio (/proc), 'avp state' reports $eff; the guest kept running ($((hb1 - hb0)) heartbeats in 3 s)"
			else
				hrec AVP-PART-2 FAIL "VM a asked for CPU $cpu, fifo 10: vcpu0 (tid $tid) affinity '$aff', policy $pol, priority $prio; $((hb1 - hb0)) heartbeats in 3 s"
			fi
		else
			hrec AVP-PART-2 FAIL "no vcpu0 thread in VM a's hypervisor (pid '${pa}'): $(cat /proc/"$pa"/task/*/comm 2>/dev/null | sort | uniq -c | tr -s ' \n' ' ')"
		fi
		lck=$(awk '/^VmLck/ {print int($2 / 1024)}' "/proc/$pa/status" 2>/dev/null)
		rss=$(awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$pa/status" 2>/dev/null)
		if [ -n "$lck" ] && [ "$lck" -ge "$PMEM" ]; then
			hrec AVP-PART-3 PASS "VM a ($PMEM MiB, bundle memory.reserve): ${lck} MiB locked (VmLck) and ${rss} MiB resident right after boot: reserved up front, no overcommit"
		else
			hrec AVP-PART-3 FAIL "VM a ($PMEM MiB, bundle memory.reserve): VmLck ${lck:-?} MiB, VmRSS ${rss:-?} MiB"
		fi
	else
		local tids pinned=0 fifo=0 n=0 hb0 hb1
		tids=$(qmp a '{"execute":"query-cpus-fast"}' | python3 -c 'import json,sys; print(" ".join(str(c["thread-id"]) for c in json.load(sys.stdin)["return"]))' 2>/dev/null)
		for t in $tids; do
			n=$((n + 1))
			taskset -p -c "$cpu" "$t" >/dev/null 2>&1 && grep -q "Cpus_allowed_list:[[:space:]]*$cpu\$" "/proc/$t/status" && pinned=$((pinned + 1))
			chrt -f -p 10 "$t" 2>/dev/null && chrt -p "$t" | grep -q SCHED_FIFO && fifo=$((fifo + 1))
		done
		hb0=$(count_marks a 'heartbeat [0-9]+ ok')
		sleep 3
		hb1=$(count_marks a 'heartbeat [0-9]+ ok')
		for t in $tids; do chrt -o -p 0 "$t" 2>/dev/null; done
		if [ "$n" -ge 1 ] && [ "$pinned" = "$n" ] && [ "$fifo" = "$n" ] && [ $((hb1 - hb0)) -ge 1 ]; then
			hrec AVP-PART-2 PASS "$n vCPU thread(s) found by QMP query-cpus-fast thread-id, pinned to host CPU $cpu and set SCHED_FIFO 10 by the host (taskset, chrt); the guest kept running ($((hb1 - hb0)) heartbeats)"
		else
			hrec AVP-PART-2 FAIL "$n vCPU thread(s) by QMP: $pinned pinned, $fifo SCHED_FIFO, $((hb1 - hb0)) heartbeats after"
		fi
		local rss
		rss=$(awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/${PID[a]}/status" 2>/dev/null)
		if [ -n "$rss" ] && [ "$rss" -ge $((PMEM * 95 / 100)) ]; then
			hrec AVP-PART-3 PASS "VM a ($PMEM MiB RAM, -mem-prealloc): QEMU RSS ${rss} MiB right after boot: memory is reserved up front"
		else
			hrec AVP-PART-3 FAIL "VM a ($PMEM MiB RAM, -mem-prealloc): QEMU RSS ${rss:-?} MiB"
		fi
	fi

	# --- AVP-BLK-2: b flushed its token; its hypervisor was SIGKILLed then.
	local bw="" iso
	bg_done "$W/b.watch" 520 && bw=$(cat "$W/b.watch")
	log "b: $bw"
	local brc bend i
	if [ -n "${RTVM[b]:-}" ]; then
		for i in $(seq 240); do [ "$(rtf b .status)" = stopped ] && break; sleep 0.5; done
		bend="avp state b: $(rtf b .status), reason '$(rtf b .last_exit_reason)' ($(rtf b .last_exit_detail))"
		brc=$(rtf b .last_exit_reason)
		[ "$brc" = killed ] && [[ "$(rtf b .last_exit_detail)" == *"signal 9"* ]] && brc=137
		unset "PID[b]"
	else
		# A SIGKILLed QEMU can take a while to tear its VM down here.
		wait_exit b 120
		brc=$RC bend="exit status $RC"
	fi
	if [ "$bw" = killed ]; then
		local tok syncs how bflags why="" dsync=0
		bflags=$(cat "$W/b.flags" 2>/dev/null)
		tok=$(dd if="$dur" bs=1 skip=8192 count=64 status=none | tr -d '\0')
		syncs=$(sync_calls "$dur") how=strace
		[ -n "$bflags" ] && [ $((8#$bflags & 8#10000)) != 0 ] && dsync=1
		if [ "$brc" != 137 ]; then
			hrec AVP-BLK-2 FAIL "b's hypervisor did not end by the SIGKILL ($bend)"
		elif [ "$tok" != "AVPCONF-DURABLE-TOKEN-$nonce" ]; then
			hrec AVP-BLK-2 FAIL "after a completed guest flush and SIGKILL of the hypervisor the image holds '$tok', not the token"
		elif [ "${syncs:-0}" -gt 0 ] || [ "$dsync" = 1 ]; then
			hrec AVP-BLK-2 PASS "the guest's flushed token is in the image after its hypervisor was SIGKILLed the moment the guest reported the flush ($bend); host saw ${syncs:-0} fsync/fdatasync on the image ($how)$([ "$dsync" = 1 ] && echo ", image opened O_DSYNC")"
		else
			[ -s "$L/b.strace" ] || why=" (no strace output: $(head -c 200 "$L/b.strace.err" 2>/dev/null))"
			hrec AVP-BLK-2 FAIL "token survived SIGKILL (host page cache), but no fsync/fdatasync of the image was seen$why and it is not open O_DSYNC: not on stable storage"
		fi
	else
		hrec AVP-BLK-2 FAIL "kill-after-flush test: $bw ($bend)"
	fi
	iso=$(python3 "$HOSTPY" isolation "$W/a.maps" "$W/b.maps" 2>&1)
	log "isolation: $iso"

	# --- AVP-WDT-1 and AVP-RT-3 (avp): d's watchdog and restart.
	local dw=""
	if [ "$wdt" = 1 ]; then
		bg_done "$W/d.watch" 520 && dw=$(cat "$W/d.watch")
		log "d: $dw"
		cp "$AVP_RUNTIME_ROOT/d/console.log" "$L/d.serial" 2>/dev/null
		local reason detail exp
		reason=$(jq -r .last_exit_reason "$W/d.restarted.json" 2>/dev/null)
		detail=$(jq -r .last_exit_detail "$W/d.restarted.json" 2>/dev/null)
		exp=$(grep -m1 -a 'watchdog expired' "$L/d.serial" | tr -d '\r')
		if [ "$dw" = restarted ] && [ "$reason" = watchdog ] && [ -n "$exp" ] && vgrep d -q "AVP-MARK $nonce watchdog-starving"; then
			hrec AVP-WDT-1 PASS "VM d armed and fed the watchdog, then starved it: avp reported '$exp', the runtime recorded reason '$reason' ($detail) and restarted that VM only (VM a kept its heartbeats, see AVP-PART-1)"
		else
			hrec AVP-WDT-1 FAIL "VM d starved its watchdog (its mark: $(vgrep d -q "AVP-MARK $nonce watchdog-starving" && echo yes || echo no)): watcher '$dw', reason '$reason', report '${exp:-none}'"
		fi
		local r1 pol mx fr fst fsr
		r1=$(jq -r .restarts "$W/d.restarted.json" 2>/dev/null)
		pol=$(jq -r '.restart.policy' "$W/d.restarted.json" 2>/dev/null)
		mx=$(jq -r '.restart.max_restarts' "$W/d.restarted.json" 2>/dev/null)
		fst=$(jq -r .status "$W/d.final.json" 2>/dev/null) fr=$(jq -r .restarts "$W/d.final.json" 2>/dev/null)
		fsr=$(jq -r .stop_requested "$W/d.final.json" 2>/dev/null)
		if [ "$dw" = restarted ] && [ "$pol" = on-failure ] && [ "$r1" = 1 ] && [ "$fst" = stopped ] && [ "$fr" = 1 ]; then
			hrec AVP-RT-3 PASS "VM d (restart policy $pol, max_restarts $mx): the monitor restarted it after the watchdog ended it, 'avp state' shows restarts $r1 and last_exit_reason '$reason'; a stop asked for with 'avp kill' was not undone (status $fst, stop_requested $fsr, restarts still $fr)"
		else
			hrec AVP-RT-3 FAIL "VM d (policy '$pol'): watcher '$dw', restarts '$r1', final status '$fst' with restarts '$fr'"
		fi
		# AVP-PM-1 force-off part: the restarted guest, just booting, does
		# not answer the power button; kill TERM must force it off.
		local kt secs freason
		kt=$(cat "$W/d.killtime" 2>/dev/null)
		secs=$(awk '{printf "%.1f", $2 - $1}' <<<"$kt" 2>/dev/null)
		freason=$(jq -r .last_exit_reason "$W/d.final.json" 2>/dev/null)
		RTEV="$RTEV; kill d TERM --wait on its restarted guest: status '$fst', last_exit_reason '$freason' (want signal: the guest did not power off, avp was stopped)"
		[ "$fst" = stopped ] && [ "$freason" = signal ] || RTBAD=1
		if [ "$dw" = restarted ] && [ "$fst" = stopped ] && [ "$freason" != poweroff ] && [ -n "$secs" ] && awk -v s="$secs" 'BEGIN { exit !(s >= 2 && s <= 20) }'; then
			hrec AVP-PM-1 PASS "force-off after the timeout: 'avp kill d TERM' on d's freshly restarted guest (role d runs no power-button handler, so it does not power off) stopped it after ${secs} s (shutdown_timeout_s 3, then SIGTERM), reason '$freason'"
		else
			hrec AVP-PM-1 FAIL "force-off after the timeout: 'avp kill d TERM' took '${secs:-?}' s (shutdown_timeout_s 3); final status '$fst', reason '$freason'; $(tail -n1 "$W/d.kill.log" 2>/dev/null)"
		fi
	elif [ "$HV" = avp ]; then
		hrec AVP-RT-3 FAIL "not run: the main boot found no watchdog for VM d to starve"
	fi

	# --- AVP-PART-1: a kept working after b was killed (and d reset).
	local before after ok_after fails
	before=$(count_marks a 'heartbeat [0-9]+ ok')
	sleep 4
	after=$(count_marks a 'heartbeat [0-9]+ ok')
	ok_after=$((after - before))
	fails=$(count_marks a 'heartbeat [0-9]+ FAILED')
	local others="b was SIGKILLed"
	[ "$wdt" = 1 ] && others="$others and d's watchdog ended it"
	if [[ "$iso" == "ok - "* ]] && [ "$ok_after" -ge 2 ] && [ "$fails" = 0 ] &&
		! grep -qa "AVPCONF-PAIR-b" <(guest_info a disks_seen) && ! grep -qa "AVPCONF-PAIR-a" <(guest_info b disks_seen); then
		hrec AVP-PART-1 PASS "$((2 + wdt)) VMs ran side by side; ${iso#ok - }; a saw only its own disk ($(guest_info a disks_seen)), b its own; after $others, a did $ok_after more disk+rng heartbeats in 4 s, none failed (isolation of memory itself is the host kernel's: separate processes, private guest RAM)"
	else
		hrec AVP-PART-1 FAIL "${iso}; a disks: $(guest_info a disks_seen); b disks: $(guest_info b disks_seen); a heartbeats after $others: $ok_after ok, $fails failed in total"
	fi

	# --- AVP-VSOCK-1: CIDs must differ between VMs.
	local ca cb
	ca=$(guest_info a vsock_cid) cb=$(guest_info b vsock_cid)
	if [ -n "$ca" ] && [ "$ca" != -1 ] && [ "$ca" = "$cb" ]; then
		hrec AVP-VSOCK-1 FAIL "VMs a and b both have guest CID $ca"
	elif [ -n "$ca" ] && [ "$ca" != -1 ] && [ -n "$cb" ] && [ "$cb" != -1 ]; then
		hrec AVP-VSOCK-1 PASS "side by side, VM a has guest CID $ca and VM b $cb (unique per VM)"
	fi
	if [ "${ca:--1}" = -1 ] && [ "${cb:--1}" = -1 ]; then
		hrec AVP-VSOCK-2 FAIL "no virtio-vsock device in the pair VMs"
	fi

	# --- AVP-PM-1 graceful part: ask a to shut down.
	wait_mark a 'pair-ready' 300
	local arc gone req st reason sreq t1=$SECONDS
	if [ "$HV" = avp ]; then
		req="'avp kill a TERM' (runtime: control socket shutdown = $([ "$arch" = arm64 ] && echo 'the PL061 line of the gpio-keys power button' || echo 'ACPI power button'))"
		timeout 120 "$AVP" kill a TERM --wait >>"$L/runtime.log" 2>&1
		arc=$?
		st=$(rtf a .status) reason=$(rtf a .last_exit_reason) sreq=$(rtf a .stop_requested)
		gone="kill exit $arc after $((SECONDS - t1)) s; state: $st, reason '$reason', stop_requested $sreq"
		[ "$st" = stopped ] && [ "$reason" = poweroff ] && [ "$sreq" = TERM ] || RTBAD=1
		RTEV="$RTEV; kill a TERM --wait: exit $arc, status '$st', last_exit_reason '$reason', stop_requested '$sreq'"
		cp "$AVP_RUNTIME_ROOT/a/console.log" "$L/a.runtime.log" 2>/dev/null
		unset "PID[a]"
	else
		req="QMP system_powerdown"
		qmp a '{"execute":"system_powerdown"}' >/dev/null
		wait_exit a 60
		arc=$RC
		[ "$arc" = 124 ] && gone="not down after 60 s: forced off with SIGKILL" || gone="QEMU exited with status $arc"
		gone="$gone, QMP SHUTDOWN reason '$(shutdown_reason a)'"
	fi
	local btn=no
	vgrep a -q "AVP-MARK $nonce power-button" && btn=yes
	local down=0
	if [ "$HV" = avp ]; then
		[ "$arc" = 0 ] && [ "$st" = stopped ] && [ "$reason" = poweroff ] && down=1
	else
		[ "$arc" = 0 ] && [ "$(shutdown_reason a)" = guest-shutdown ] && down=1
	fi
	if [ "$btn" = yes ] && [ "$down" = 1 ]; then
		hrec AVP-PM-1 PASS "host request ($req) reached the guest as a power-button press; the guest powered off ($gone)"
	else
		hrec AVP-PM-1 FAIL "host graceful shutdown: $req; the guest saw a power-button press: $btn; $gone"
	fi

	if [ "$HV" = avp ]; then
		if rt system down "$W/system.json" >/dev/null; then
			if ip link show avpbr-pair >/dev/null 2>&1 || "$AVP" state a >/dev/null 2>&1 || "$AVP" state b >/dev/null 2>&1; then
				RTEV="$RTEV; system down: the bridge or a VM is still there"
				RTBAD=1
			else
				RTEV="$RTEV; system down: a and b deleted ('avp state' fails), bridge avpbr-pair removed"
			fi
		else
			RTEV="$RTEV; system down FAILED: $(tail -n1 "$L/runtime.log")"
			RTBAD=1
		fi
		unset "RTVM[a]" "RTVM[b]"
		if [ "$wdt" = 1 ]; then
			if rt delete d >/dev/null && ! "$AVP" state d >/dev/null 2>&1; then
				unset "RTVM[d]"
				RTEV="$RTEV; delete d: done, 'avp state d' fails"
			else
				RTBAD=1
				RTEV="$RTEV; delete d FAILED"
			fi
		fi
		[ "$RTBAD" = 0 ] && hrec AVP-RT-2 PASS "lifecycle driven and observed: $RTEV" ||
			hrec AVP-RT-2 FAIL "lifecycle: $RTEV"
		if [ "$SYSUP" = 1 ] && { [ "$wdt" = 0 ] || [ "${RTCREATED# }" = d ]; }; then
			hrec AVP-RT-1 PASS "the pair VMs ran from their bundles alone: a (pinning, real-time class, reserved memory) and b through 'avp system up'$([ "$wdt" = 1 ] && echo ", d (watchdog, restart policy) through 'avp create'")"
		else
			hrec AVP-RT-1 FAIL "the pair's bundles: system up $([ "$SYSUP" = 1 ] && echo worked || echo FAILED), created by 'avp create': '${RTCREATED# }' (runtime.log: $(tail -n1 "$L/runtime.log"))"
		fi
	fi
	for n in a b d; do [ -z "${PID[$n]:-}" ] || [ -n "${RTVM[$n]:-}" ] || wait_exit "$n" 5; done
	ip link del avpca 2>/dev/null
	ip link del avpcb 2>/dev/null
	ip link del avpcbr0 2>/dev/null
	ip link del avpcan0 2>/dev/null
	sync_logs
	log "pair boot: $((SECONDS - t0)) s"
}

# The runtime rows that are stated rather than observed.
runtime_rows() {
	if [ "$HV" = qemu ]; then
		# QEMU alone is a VMM, not a runtime; what it has is stated.
		hrec AVP-RT-1 FAIL "QEMU is configured by its command line (-readconfig covers part of it); no bundle format that the suite can drive"
		hrec AVP-RT-2 FAIL "QEMU has per-process QMP (query-status, quit) but no create/start/state/kill/delete/list across VMs"
		hrec AVP-RT-3 FAIL "QEMU has no restart policy (only -no-reboot / -action)"
	elif [ "$quick" = 1 ]; then
		hrec AVP-RT-2 FAIL "lifecycle not driven (--quick: no pair phase)"
		hrec AVP-RT-3 FAIL "restart policy not driven (--quick: no pair phase)"
	fi
}

# ------------------------------------------------------------------ main --

modprobe tun 2>/dev/null
IFS=, read -r -a hv_list <<<"$hvs"
rc=0
for HV in "${hv_list[@]}"; do
	case "$HV" in avp|qemu) ;; *) echo "conform-inside: unknown hypervisor $HV" >&2; rc=2; continue ;; esac
	D=$out/$HV
	L=$W/log-$HV
	rm -rf "$D"
	mkdir -p "$D" "$L"
	: >"$L/host.tsv"
	nonce=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
	( while sleep 15; do cp -a "$L"/. "$D"/ 2>/dev/null; done ) &
	syncer=$!
	timeline &
	tline=$!
	BG+=("$syncer" "$tline")
	if [ "$HV" = avp ]; then ver=$("$AVP" --version 2>&1 | head -n1)
	elif [ "$arch" = arm64 ]; then ver=$(qemu-system-aarch64 --version | head -n1)
	else ver=$(qemu-system-x86_64 --version | head -n1); fi
	platform="1 vCPU, 256 MiB; scratch + read-only virtio-blk, virtio-net on a tap (host fe80::1), $([ $rng = 1 ] && echo 'virtio-rng, ')virtio-console to a file"
	if [ "$quick" = 0 ]; then
		if [ "$HV" = avp ]; then
			platform="$platform, virtio-vsock, virtio-gpu ${GPU_W}x$GPU_H, virtio-input keyboard + touch, virtio-sound (WAV files), watchdog, control socket; booted from a bundle"
		else
			platform="$platform, virtio-gpu ${GPU_W}x$GPU_H, virtio keyboard + tablet$(modprobe vhost_vsock 2>/dev/null; [ -c /dev/vhost-vsock ] && echo ', vhost-vsock')"
		fi
	fi
	[ "$HV" = qemu ] && platform="$platform; -M $([ "$arch" = arm64 ] && echo virt,gic-version=3 || echo microvm,acpi=on)$([ $legacy = 0 ] && echo ', virtio-mmio.force-legacy=false')"
	[ "$arch" = arm64 ] && platform="arm64 ($(uname -m) test host): $platform"
	printf '{"version": "%s", "platform": "%s", "quick": %s, "testhost": "%s", "arch": "%s"}\n' "$ver" "$platform" \
		"$([ $quick = 1 ] && echo true || echo false)" "${AVP_TESTHOST:-}" "$arch" >"$L/meta.json"
	t0=$SECONDS
	boot_main
	if [ "$quick" = 0 ]; then
		boot_pair
	else
		hrec AVP-BLK-2 FAIL "kill-after-flush test not run (--quick)"
		hrec AVP-PM-1 FAIL "power-off and graceful-shutdown parts not run (--quick)"
		hrec AVP-PART-1 FAIL "side-by-side VMs not run (--quick)"
	fi
	runtime_rows
	if [ -s "$L/boot-retries.txt" ]; then
		jq --rawfile r "$L/boot-retries.txt" '. + {boot_retries: ($r | rtrimstr("\n") | split("\n"))}' \
			"$L/meta.json" >"$L/meta.json.new" && mv "$L/meta.json.new" "$L/meta.json"
	fi
	kill "$syncer" "$tline" 2>/dev/null
	wait "$syncer" "$tline" 2>/dev/null
	# The kernel's log says what the logs cannot: a seccomp kill (audit
	# type=1326 names the system call), an OOM kill, a KVM warning.
	dmesg >"$L/dmesg.log" 2>&1
	grep -a 'type=1326' "$L/dmesg.log" | tail -n 5 | while IFS= read -r line; do log "seccomp: $line"; done
	sync_logs
	python3 "$ROOT/conformance/report.py" extract "$HV" "$D" || rc=1
	log "done in $((SECONDS - t0)) s"
done
exit $rc
