#!/bin/bash
# The demo boot, run by scripts/demo where /dev/kvm is real.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
work=$(mktemp -d /tmp/avp-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
truncate -s 64M "$work/data.img"
truncate -s 8M "$work/readonly.img"
echo "demo: build/avp run --kernel build/guest/vmlinuz --initrd build/guest/initrd.img" \
	"--cpus 2 --memory 256 --disk data.img --disk readonly.img,ro --rng --console file:hvc0.log --timing"
build/avp run --kernel build/guest/vmlinuz --initrd build/guest/initrd.img \
	--cmdline "console=ttyS0 panic=-1 quiet" --cpus 2 --memory 256 \
	--disk "$work/data.img" --disk "$work/readonly.img,ro" --rng \
	--console "file:$work/hvc0.log" --timing </dev/null
echo "demo: avp exited $? (0 = the guest powered off)"
