#!/bin/bash
# conformance/conform's argument handling, with no test host and no guest
# (seconds; scripts/test's conform-args step): --arch picks the arm64 test
# host, avp build, guest and QEMU peer (checked through --dry-run, which
# prints the plan and runs nothing), refuses what arm64 cannot do with one
# line and status 2, and report.py names the columns by architecture.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
source tests/lib/check.sh

tmp=$(mktemp -d /tmp/conform-args.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# The plan must not depend on where this runs (a test host sets it).
unset AVP_TESTHOST AVP_CONFORM_AVP

# run NAME ARGS...: conformance/conform ARGS; status in rc, output in
# $tmp/NAME.out and $tmp/NAME.err.
run() {
	local name=$1
	shift
	conformance/conform "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
	rc=$?
}

# refused NAME REGEX ARGS...: status 2, one line on stderr matching REGEX,
# and nothing built or booted (no plan on stdout).
refused() {
	local name=$1 re=$2
	shift 2
	run "$name" "$@"
	check_eq "$rc" 2 "$name: status 2"
	check_eq "$(wc -l <"$tmp/$name.err")" 1 "$name: one line: $(head -c 200 "$tmp/$name.err")"
	check_grep "$tmp/$name.err" "$re" "$name: the line says what is wrong"
	check_eq "$(wc -c <"$tmp/$name.out")" 0 "$name: nothing run"
}

run arm64 --arch arm64 --hypervisor avp,qemu --dry-run --out build/x
check_eq "$rc" 0 "--arch arm64 --dry-run: status 0"
check_grep "$tmp/arm64.out" '^build: make -j2 ARCH=arm64$' "arm64: builds build/arm64/avp"
check_grep "$tmp/arm64.out" '^build: scripts/mkguest --arch arm64$' "arm64: builds the arm64 guest"
check_grep "$tmp/arm64.out" '^build: aarch64-linux-gnu-gcc .*-o build/arm64/conform/net_bulk tests/guest/net_bulk.c$' \
	"arm64: cross-builds NET-3's host end (the arm64 test host has no compiler)"
check_grep "$tmp/arm64.out" '^build: scripts/mkguest-can --arch arm64$' "arm64: builds the arm64 CAN guest"
check_grep "$tmp/arm64.out" '^build: scripts/mkguest-gpio-i2c --arch arm64$' "arm64: builds the arm64 GPIO/I2C guest"
if grep -qE '^build: (make -j2|scripts/mkguest(-can|-gpio-i2c)?)$' "$tmp/arm64.out"; then
	notok "arm64: builds x86 things: $(grep '^build:' "$tmp/arm64.out" | tr '\n' ' ')"
else
	ok "arm64: builds nothing for x86 (no make or mkguest* without the arm64 architecture)"
fi
# On x86-64, arm64 always goes through the arm64 test host.
if [ "$(uname -m)" = aarch64 ]; then
	skip "the arm64 test host's plan: this machine is arm64 itself"
else
	check_grep "$tmp/arm64.out" '^boot: scripts/testhost --arch arm64 --smp 2 --memory 3072 --timeout 1800 conformance/inside.sh --hypervisor avp,qemu --out build/x --arch arm64$' \
		"arm64: boots in the arm64 test host, inside.sh told --arch arm64"
fi
check_grep "$tmp/arm64.out" '^avp: .*/build/arm64/avp$' "arm64: tests build/arm64/avp"

run alias --arch aarch64 --hypervisor avp --dry-run --no-build
check_eq "$rc" 0 "--arch aarch64: status 0"
check_grep "$tmp/alias.out" 'inside.sh .* --arch arm64$' "--arch aarch64 is arm64"
check_eq "$(grep -c '^build:' "$tmp/alias.out")" 0 "--no-build: nothing built"

run x86 --hypervisor avp --dry-run
check_eq "$rc" 0 "no --arch: status 0"
if grep -q -- '--arch' "$tmp/x86.out"; then
	notok "no --arch: the plan names an --arch: $(cat "$tmp/x86.out")"
else
	ok "no --arch: x86_64, as before (no --arch passed on)"
fi
check_grep "$tmp/x86.out" '^avp: .*/build/avp$' "x86_64: tests build/avp"
run x86e --arch x86_64 --hypervisor avp --dry-run --transport pci
check_eq "$rc" 0 "--arch x86_64 --transport pci: accepted"
check_grep "$tmp/x86e.out" 'conformance/inside.sh --hypervisor avp --out build/conform --transport pci$' \
	"x86_64: --transport pci reaches inside.sh, and no --arch with it"

# arm64 has virtio-pci too (issue 16): TRANS-3 is decided as on x86_64.
run arm64p --arch arm64 --hypervisor avp --dry-run --no-build --transport pci
check_eq "$rc" 0 "--arch arm64 --transport pci: accepted"
check_grep "$tmp/arm64p.out" 'inside.sh .*--transport pci --arch arm64$' \
	"arm64: --transport pci reaches inside.sh"

run avpp --arch arm64 --hypervisor avp --dry-run --no-build --avp build/arm64/avp-other
check_grep "$tmp/avpp.out" '^avp: .*/build/arm64/avp-other$' "--avp PATH wins over arm64's default"

refused bad-arch "--arch must be x86_64 or arm64, got 'sparc'" --arch sparc --hypervisor avp --dry-run
refused no-arch "--arch needs a value" --hypervisor avp --dry-run --arch
refused empty-arch "--arch must be x86_64 or arm64, got ''" --hypervisor avp --dry-run --arch ''
refused arm64-hv '--hypervisor must be' --arch arm64 --hypervisor kvmtool --dry-run

# inside.sh (what runs in the test host) refuses an architecture it does
# not know before it looks for /dev/kvm or touches anything.
conformance/inside.sh --hypervisor avp --out "$tmp/inside" --arch sparc >"$tmp/inside.out" 2>"$tmp/inside.err"
check_eq "$?" 2 "inside.sh --arch sparc: status 2"
check_grep "$tmp/inside.err" "^conform-inside: --arch must be x86_64 or arm64, got 'sparc'$" "inside.sh --arch sparc: one line naming the choices"
check_eq "$([ -e "$tmp/inside" ] && echo made || echo none)" none "inside.sh --arch sparc: no output directory made"

# report.py: columns named by hypervisor and architecture, both kept apart.
for hv in avp qemu; do
	mkdir -p "$tmp/$hv"
	echo '{"id": "AVP-BOOT-1", "result": "PASS", "evidence": "x", "source": "guest:main"}' >"$tmp/$hv/results.jsonl"
	echo '{"version": "v", "platform": "p", "arch": "arm64"}' >"$tmp/$hv/meta.json"
done
printf '# p\n- AVP-BOOT-1 MUST: a\n- AVP-RNG-1 MUST: b\n' >"$tmp/profile.md"
python3 conformance/report.py table --profile "$tmp/profile.md" --markdown "$tmp/t.md" --json "$tmp/t.json" \
	"avp arm64=$tmp/avp" "qemu arm64=$tmp/qemu" >"$tmp/report.out" 2>&1
check_eq "$?" 0 "report.py table with arm64 columns: status 0"
check_grep "$tmp/t.md" '^\| ID \| level \| avp arm64 \| qemu arm64 \|$' "the Markdown table's columns are 'avp arm64' and 'qemu arm64'"
check_grep "$tmp/t.md" '^\| AVP-RNG-1 \| MUST \| FAIL \| FAIL \|$' "a row nobody observed still fails on arm64"
finish
