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
