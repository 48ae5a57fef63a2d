#!/bin/bash
# The layering check (scripts/check-layers) on small made-up trees: a clean
# one passes; each way of climbing the layers fails and names the file,
# the line and the two layers; and the README states the order the
# script's table holds.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
CHECK_PREFIX=layers-selftest
source tests/lib/check.sh

work=$(mktemp -d /tmp/avp-layers.XXXXXX)
trap 'rm -rf "$work"' EXIT

# put TREE FILE LINE...: writes FILE under TREE, one line per argument.
put() {
	local tree=$1 file=$2
	shift 2
	mkdir -p "$(dirname "$work/$tree/$file")"
	printf '%s\n' "$@" >"$work/$tree/$file"
}

# A tree in which every include points down or sideways, with each kind of
# include the check must resolve.
clean_tree() {
	local t=$1
	rm -rf "${work:?}/$t"
	put "$t" include/avp/log.h '#include <stdarg.h>'
	put "$t" include/avp/vm.h '#include "avp/log.h"'
	put "$t" include/avp/config.h '#include "avp/vm.h"'
	put "$t" include/avp/devices.h '#include "avp/virtio/virtio_dev.h"'
	put "$t" include/avp/machine.h '#include "avp/config.h"'
	put "$t" include/avp/api.h '#include "avp/vm.h"'
	put "$t" include/avp/cli.h '#include "avp/config.h"'
	put "$t" include/avp/runtime/state.h '#include "avp/config.h"'
	put "$t" include/avp/virtio/virtio_dev.h '#include "avp/vm.h"'
	put "$t" include/avp/hw/serial.h '#include "avp/io_bus.h"'
	put "$t" include/avp/io_bus.h ''
	put "$t" src/core/vm.c '#include "avp/vm.h"' '#include <stdio.h>'
	put "$t" src/config/options.c '#include "avp/config.h"' '#include "avp/vm.h"'
	put "$t" src/core/uses_config.c '#include "avp/config.h"'
	put "$t" src/hw/serial.c '#include "avp/hw/serial.h"' '#include "fifo.h"'
	put "$t" src/hw/fifo.h ''
	put "$t" src/arch/x86/platform.c '#include "arch/x86/x86.h"' '#include "avp/hw/serial.h"'
	put "$t" src/arch/x86/x86.h '#include "avp/vm.h"'
	put "$t" src/virtio/mmio.c '#include "avp/virtio/virtio_dev.h"'
	put "$t" src/devices/virtio_gpu.c '#include "avp/devices.h"' '#include "devices/gpu_resource.h"'
	put "$t" src/devices/gpu_resource.h ''
	put "$t" src/disk/raw.c '#include "avp/devices.h"'
	put "$t" src/vmm/machine.c '#include "avp/machine.h"' '#include "avp/devices.h"' \
		'#include "avp/api.h"' '#include "avp_version.h"'
	put "$t" src/api/server.c '#include "avp/api.h"' '#include "avp/vm.h"'
	put "$t" src/runtime/bundle.c '#include "avp/api.h"' '#include "avp/config.h"'
	put "$t" src/cli/main.c '#include "avp/cli.h"' '#include "avp/machine.h"' '#include "avp/api.h"'
}

# run TREE: the check on TREE; its status in rc, its output in $work/out.
run() {
	scripts/check-layers --root "$work/$1" >"$work/out" 2>&1
	rc=$?
}
# show: the check's output, quoted so that scripts/test does not count its
# lines as this test's own.
show() { sed 's/^/  | /' "$work/out"; }

clean_tree clean
run clean
if [ "$rc" = 0 ] && grep -q '^ok - no lower layer includes a higher one' "$work/out" &&
	! grep -q 'not ok' "$work/out"; then
	ok "a clean tree passes (down, sideways, config beside core, private and relative headers, a generated one)"
else
	notok "a clean tree did not pass (status $rc)"
	show
fi

# expect_violation NAME FILE LINE_NO REGEX DESCRIPTION -- FILE-LINES...: a
# clean tree plus FILE (written with FILE-LINES) must fail, with a line
# naming FILE:LINE_NO (FILE alone when LINE_NO is empty) and matching REGEX.
expect_violation() {
	local name=$1 file=$2 lineno=$3 regex=$4 what=$5 where
	shift 6
	where=$file${lineno:+:$lineno}
	clean_tree "$name"
	put "$name" "$file" "$@"
	run "$name"
	if [ "$rc" = 1 ] && grep -qE "^not ok - $where: $regex" "$work/out"; then
		ok "fails: $what"
	else
		notok "did not fail as it should: $what (status $rc)"
		show
	fi
}

expect_violation core-up src/core/machine.c 2 'core includes devices \(avp/devices.h\)' \
	"core includes a device header" -- '#include "avp/vm.h"' '#include "avp/devices.h"'
expect_violation header-up include/avp/vm.h 1 'core includes api' \
	"a core header includes the api layer's" -- '#include "avp/api.h"'
expect_violation private-up src/virtio/mmio.c 1 'virtio includes devices \(devices/gpu_resource.h\)' \
	"a transport includes a device's private header (through -Isrc)" -- '#include "devices/gpu_resource.h"'
expect_violation runtime-cli src/runtime/bundle.c 1 'runtime includes cli' \
	"the runtime includes the CLI" -- '#include "avp/cli.h"'
expect_violation config-up src/config/options.c 1 'core includes devices' \
	"the configuration layer includes a device" -- '#include "avp/devices.h"'
expect_violation hw-arch src/hw/serial.c 1 'hw includes arch' \
	"a chip includes an architecture header" -- '#include "arch/x86/x86.h"'
expect_violation backend-vmm src/disk/raw.c 1 'devices includes vmm' \
	"a backend includes machine assembly" -- '#include "avp/machine.h"'
expect_violation api-vmm src/api/server.c 2 'api includes vmm' \
	"the control-socket server includes machine assembly" -- '#include "avp/api.h"' '#include "avp/machine.h"'
expect_violation subdir-up include/avp/virtio/virtio_dev.h 1 'virtio includes runtime' \
	"a header in a layer's folder includes a higher one" -- '#include "avp/runtime/state.h"'

# What the check cannot place fails too, so the table stays complete.
expect_violation unmapped-dir src/gizmo/thing.c '' 'in no layer' "a folder in no layer" -- '#include "avp/vm.h"'
expect_violation unmapped-header include/avp/newthing.h '' 'in no layer' "a top-level header in no layer" -- ''
expect_violation unresolved src/core/vm.c 1 '#include "avp/nowhere.h" is not a file' \
	"an include that names no file in the tree" -- '#include "avp/nowhere.h"'

# Every violation is listed, not just the first.
clean_tree many
put many src/core/a.c '#include "avp/api.h"' '#include "avp/cli.h"'
put many src/hw/b.c '#include "avp/machine.h"'
run many
n=$(grep -c '^not ok - ' "$work/out")
check_eq "$n" 3 "all three violations of a tree are listed"

# The order lives in the script's table; the README's Design section
# states the same one.
order=$(scripts/check-layers --print-order)
if grep -qF "$order" README.md; then
	ok "the README states the layer order of scripts/check-layers ($order)"
else
	notok "the README does not state the order '$order' (scripts/check-layers --print-order)"
fi
finish
