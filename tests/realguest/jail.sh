#!/bin/bash
# avp run --jail DIR --uid 65534 --gid 65534 (docs/security.md): the
# reference guest boots, reads and writes its disk and powers off while the
# VM process is jailed and confined by seccomp (the default). Needs a real
# /dev/kvm and root: scripts/testhost tests/realguest/jail.sh
#
# While the guest runs, the VM process (avp's child, PID 1 of its own PID
# namespace) is inspected from outside: its IDs, no_new_privs, seccomp, its
# namespaces, and the root directory of every one of its threads, which must
# be the jail directory (same device and inode). Logs go to
# build/testhost/out/.
#
# The same script runs in the arm64 test host (issue 14) with build/arm64/avp
# and the arm64 reference guest, logs in build/testhost/out/arm64-jail/:
#   scripts/testhost --arch arm64 --smp 2 --memory 2048 --timeout 1200 tests/realguest/jail.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh
source tests/lib/realguest.sh
source tests/lib/arm64.sh

rg_arch_setup jail
if ! rg_guest_has tests/jail.sh; then
	notok "the guest image has no tests/jail.sh (run scripts/mkguest)"
	finish
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	notok "the jail needs root (run inside scripts/testhost)"
	finish
	exit 1
fi

work=$(mktemp -d /tmp/avp-jail.XXXXXX)
avp_pid=
cleanup() {
	[ -n "$avp_pid" ] && kill "$avp_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# --- configuration errors come before anything runs ----------------------
"$avp" run --kernel "$kernel" --jail "$work/j0" </dev/null >"$work/e1" 2>&1
check_eq "$?" 1 "--jail without --uid/--gid is a configuration error (status 1)"
check_grep "$work/e1" 'needs --uid and --gid' "... and says what is missing"
touch "$work/not-a-dir"
"$avp" run --kernel "$kernel" --initrd "$initrd" --memory "$guest_mem" --jail "$work/not-a-dir" \
	--uid 65534 --gid 65534 </dev/null >"$work/e2" 2>&1
check_eq "$?" 1 "a jail path that is a file is a configuration error (status 1)"
check_grep "$work/e2" 'jail: the jail must be a directory' "... and says so"

# --- boot in the jail ------------------------------------------------------
jail=$work/root # does not exist yet: avp creates it
truncate -s 16M "$work/disk.img"
printf 'AVP-DISK-SIGNATURE' | dd of="$work/disk.img" conv=notrunc status=none
# The console goes to the test host's own disk (a write per byte to the 9p
# share is slow), copied to $out at the end.
log=$work/jail.log
host_net=$(readlink /proc/self/ns/net)
host_mnt=$(readlink /proc/self/ns/mnt)

# Inspect the VM process once it has dropped to uid 65534 (the guest takes
# seconds to boot in the test host, the jail closes before its first
# instruction): inspect ATTEMPT, called by rg_start_bg while the guest
# boots (afresh for each attempt), and after it until done. Returns 0 once
# it has seen the VM process.
vm=
seen=0 seen_try=0
inspect() {
	[ "$1" = "$seen_try" ] || { seen=0 seen_try=$1; }
	[ "$seen" = 0 ] || return 0
	vm=$(awk '{print $1}' "/proc/$avp_pid/task/$avp_pid/children" 2>/dev/null)
	if [ -n "$vm" ] && grep -qE '^Uid:\s+65534\s' "/proc/$vm/status" 2>/dev/null; then
		# vCPU threads start right after the drop; give them a moment.
		sleep 1
		cp "/proc/$vm/status" "$work/status"
		jail_id=$(stat -c %d:%i "$jail")
		roots=""
		uids=""
		devnets=""
		timernets=""
		comms=""
		for t in /proc/"$vm"/task/*; do
			roots+="$(stat -L -c %d:%i "$t/root/" 2>/dev/null) "
			uids+="$(awk '/^Uid:/ {print $2 $3 $4 $5}' "$t/status") "
			# virtio device workers (avp-blk, avp-rng...): they run
			# the guest's requests, so they belong in the VM's
			# network namespace too.
			comm=$(cat "$t/comm" 2>/dev/null)
			comms+="$comm "
			# Not the platform devices' timer threads (x86's
			# watchdog; arm64's RTC, power button and SP805): they
			# start with the machine, before the jail.
			case "$comm" in
			avp-watchdog | avp-pl031 | avp-pl061 | avp-sp805)
				timernets+="$comm:$(readlink "$t/ns/net") " ;;
			avp-*) devnets+="$comm:$(readlink "$t/ns/net") " ;;
			esac
		done
		nthreads=$(ls "/proc/$vm/task" | wc -l)
		vm_net=$(readlink "/proc/$vm/ns/net")
		vm_mnt=$(readlink "/proc/$vm/ns/mnt")
		host_sees_jail_mount=$(grep -c " $jail " /proc/self/mountinfo)
		seen=1
		return 0
	fi
	return 1
}
# A guest that never gets to its init must not hang the suite (nor one
# that never powers off: the deadline below).
RG_INIT_WAIT=240 rg_start_bg --poll inspect jail avp_pid "$log" "$avp" run --kernel "$kernel" --initrd "$initrd" \
	--cmdline "console=$serial panic=-1 quiet avp.test=jail" --memory "$guest_mem" --cpus 2 \
	--disk "$work/disk.img" --rng --jail "$jail" --uid 65534 --gid 65534 -v
supervisor=$avp_pid
( sleep 240; kill "$avp_pid" 2>/dev/null ) &
deadline=$!
for _ in $(seq 1 600); do
	kill -0 "$avp_pid" 2>/dev/null || break
	inspect "$seen_try" && break
	sleep 0.1
done
wait "$avp_pid"
rc=$?
avp_pid=
kill "$deadline" 2>/dev/null
txt=$out/jail.log.txt
tr -d '\r' <"$log" >"$txt"
echo "jail: avp exit $rc"
sed 's/^/  | /' "$txt" | tail -n 40
# A seccomp kill (SIGSYS) names the refused call only in the kernel's
# log (audit type 1326: comm, syscall number).
if [ "$rc" != 0 ]; then
	dmesg 2>/dev/null | grep -a 'type=1326' | tail -n 5 | sed 's/^/  dmesg | /'
fi

check_eq "$rc" 0 "the jailed guest powered off normally (avp exit 0)"
check_grep "$txt" '^jail-guest: ok - vda reads' "guest read the disk inside the jail"
check_grep "$txt" '^jail-guest: ok - wrote and flushed' "guest wrote and flushed the disk inside the jail"
check_grep "$txt" '^jail-guest: ok - read 16 bytes from /dev/hwrng' "virtio-rng works inside the jail"
check_grep "$txt" "^$GUEST_PASSED" "every guest-side check passed"
check_eq "$(dd if="$work/disk.img" bs=1 skip=512 count=16 status=none)" GUEST-WROTE-THIS \
	"the guest's disk write reached the host image"
check_grep "$txt" 'jail: VM confined to' "avp reports the jail (-v)"
if [ -d "$jail" ]; then
	check_eq "$(stat -c %a "$jail")" 700 "avp created the missing jail directory, mode 0700"
else
	notok "the jail directory was not created"
fi

if [ "$seen" = 1 ]; then
	ok "found the VM process $vm (child of avp $supervisor) running as uid 65534"
	check_grep "$work/status" '^Uid:\s+65534\s+65534\s+65534\s+65534$' "real/effective/saved/fs uid are 65534"
	check_grep "$work/status" '^Gid:\s+65534\s+65534\s+65534\s+65534$' "real/effective/saved/fs gid are 65534"
	check_grep "$work/status" '^Groups:\s*$' "no supplementary groups"
	check_grep "$work/status" '^NoNewPrivs:\s+1$' "no_new_privs is set"
	check_grep "$work/status" '^Seccomp:\s+2$' "the main thread runs under a seccomp filter"
	check_grep "$work/status" '^CapEff:\s+0+$' "no effective capabilities"
	check_grep "$work/status" '^NSpid:\s+[0-9]+\s+1$' "the VM process is PID 1 of its own PID namespace"
	[ "$vm_net" != "$host_net" ] && ok "the VM process has its own network namespace" \
		|| notok "the VM process shares the host's network namespace ($vm_net)"
	[ "$vm_mnt" != "$host_mnt" ] && ok "the VM process has its own mount namespace" \
		|| notok "the VM process shares the host's mount namespace ($vm_mnt)"
	check_eq "$host_sees_jail_mount" 0 "the jail's bind mount is invisible on the host"
	# Device workers, the UART reader and the vCPUs alike: the root
	# directory lives in the fs_struct all threads share.
	bad=0
	for r in $roots; do [ "$r" = "$jail_id" ] || bad=1; done
	if [ "$bad" = 0 ] && [ "$nthreads" -ge 4 ]; then
		ok "all $nthreads threads of the VM process have the jail as root ($jail_id)"
	else
		notok "thread roots '$roots' are not all the jail ($jail_id), $nthreads threads"
	fi
	bad=0 ndev=0
	for d in $devnets; do
		ndev=$((ndev + 1))
		[ "${d#*:}" = "$vm_net" ] || bad=1
	done
	if [ "$bad" = 0 ] && [ "$ndev" -ge 2 ]; then
		ok "all $ndev virtio device workers are in the VM's network namespace"
	else
		notok "device workers' network namespaces '$devnets' are not all the VM's ($vm_net)"
	fi
	[ -z "$timernets" ] || echo "$CHECK_PREFIX: info - platform timer threads (host's net namespace $host_net): $timernets"
	# They name themselves: named by their creator, through a /proc path
	# with the VM's PID-namespace TID, they had lost their names here.
	for name in $platform_threads; do
		[[ " $timernets" == *" $name:"* ]] && ok "the platform's $name thread carries its name" \
			|| notok "no thread named $name (threads: $comms)"
	done
	bad=0
	for u in $uids; do [ "$u" = 65534655346553465534 ] || bad=1; done
	[ "$bad" = 0 ] && ok "every thread dropped to uid 65534" || notok "thread uids: $uids"
else
	notok "never saw the VM process running as uid 65534"
fi

finish
