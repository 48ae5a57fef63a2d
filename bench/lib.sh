# Shared by the bench/*.sh programs, sourced from the repository root.
#
#   bench_setup NAME   checks build/avp, the reference guest and /dev/kvm
#                      (exits with a message naming NAME if one is
#                      missing), sets kernel and initrd, and makes a
#                      scratch directory $work removed at exit.
#   median             reads numbers, one per line, prints their median.
#   qemu_microvm ...   the QEMU microvm command line both benchmarks
#                      compare against, before the devices: prints nothing,
#                      sets the array qemu_base (args: memory MiB, cmdline).
#   bench_boot NAME LOG CMD...
#                      runs one VM (CMD, as rg_boot does) under the
#                      real-guest tests' boot-retry policy: a guest that died
#                      before its init ran is booted again, at most
#                      RG_BOOT_TRIES times, a "retry - " line on standard
#                      error for each (standard output is the benchmark's
#                      figures). Sets rc.
#   bench_retries      prints how many boots were retried in this run.
# The policy's one implementation is tests/lib/realguest.sh.
CHECK_PREFIX=bench-$(basename "$0" .sh)
source tests/lib/check.sh
source tests/lib/realguest.sh
bench_boot() { rg_boot "$@" >&2; }
# Each retry also noted in $work/retries: run_one runs in a subshell.
retry() { echo "$CHECK_PREFIX: retry - $*"; echo "$*" >>"$work/retries"; }
bench_retries() {
	echo "boot retries (guests that died before their init ran, booted again): $(cat "$work/retries" 2>/dev/null | wc -l)"
}
bench_setup() {
	local f
	kernel=build/guest/vmlinuz
	initrd=build/guest/initrd.img
	for f in build/avp "$kernel" "$initrd"; do
		[ -e "$f" ] || { echo "$1: $f missing (make; scripts/mkguest)" >&2; exit 1; }
	done
	[ -c /dev/kvm ] || { echo "$1: no /dev/kvm: run through scripts/testhost" >&2; exit 1; }
	work=$(mktemp -d "/tmp/avp-$1.XXXXXX")
	trap 'rm -rf "$work"' EXIT
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR ? a[int((NR + 1) / 2)] : -1)}'; }

qemu_microvm() {
	qemu_base=(qemu-system-x86_64 -enable-kvm -M microvm,acpi=on -cpu host -m "$1" -smp 1
		-nodefaults -no-user-config -nographic -serial stdio -no-reboot
		-kernel "$kernel" -initrd "$initrd" -append "$2")
}
