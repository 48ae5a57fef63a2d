#!/bin/bash
# virtio-gpu end to end (AVP-GPU-1, AVP-GPU-2): the reference guest's
# virtio-gpu driver comes up on an 800x600 display (EDID, fbdev), a guest
# program draws known patterns through DRM dumb buffers, and the host takes
# screenshots through the control socket and checks their pixels.
# Needs a real /dev/kvm:
#   scripts/testhost tests/realguest/gpu.sh
# Guest side: tests/guest/gpu.sh and tests/guest/gpu_pattern.c. Console log
# and screenshots go to build/testhost/out/.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh
source tests/lib/realguest.sh

W=800 H=600
rg_setup
run_help=$("$avp" run --help 2>&1)
if ! grep -q -- '--gpu' <<<"$run_help"; then
	notok "$avp has no --gpu option"; finish; exit 1
fi
# The screenshot is taken through the control socket; without it there is
# nothing to check, so do not spend a boot.
if ! grep -q -- '--api-sock' <<<"$run_help" || ! "$avp" api --help >/dev/null 2>&1; then
	notok "$avp has no control socket (avp run --api-sock, avp api): cannot take screenshots"
	finish; exit 1
fi

work=$(mktemp -d /tmp/avp-gpu.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# Checks a PNG's size and pixels with Pillow (Debian's python3-pil, hence
# /usr/bin/python3 rather than whatever python3 is first on PATH). Args:
# PNG W H then "X,Y,R,G,B,what" per pixel. Prints "ok - ..." / "not ok -
# ..." lines.
check_png() {
	/usr/bin/python3 - "$@" <<'PY'
import sys
from PIL import Image, UnidentifiedImageError

path, want_w, want_h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
try:
    with Image.open(path) as im:
        fmt, mode = im.format, im.mode
        rgb = im.convert('RGB')
except (OSError, ValueError, UnidentifiedImageError) as e:
    print(f"not ok - {path} is not a readable image: {e}"); sys.exit()
if fmt != 'PNG' or mode not in ('RGB', 'RGBA'):
    print(f"not ok - {path} is {fmt} {mode} (expected an 8-bit RGB PNG)"); sys.exit()
w, h = rgb.size
print(("ok" if (w, h) == (want_w, want_h) else "not ok") +
      f" - screenshot is {w}x{h} (expected {want_w}x{want_h})")
for spec in sys.argv[4:]:
    x, y, r, g, b, what = spec.split(',', 5)
    x, y = int(x), int(y)
    want = (int(r), int(g), int(b))
    if not (0 <= x < w and 0 <= y < h):
        print(f"not ok - {what}: ({x},{y}) is outside the image"); continue
    got = rgb.getpixel((x, y))
    print(("ok" if got == want else "not ok") + f" - {what}: ({x},{y}) is {got}, expected {want}")
PY
}

relay_png_checks() {
	local line
	while IFS= read -r line; do
		case "$line" in
		"ok - "*) ok "${line#ok - }" ;;
		*) notok "${line#not ok - }" ;;
		esac
	done < <(check_png "$@" 2>&1)
}

# Waits up to $2 s for a console line matching $1 while avp runs.
wait_console() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		grep -aqE -- "$1" "$log" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || { grep -aqE -- "$1" "$log"; return; }
		sleep 0.1
	done
	return 1
}

# screenshot FILE [via]: through `avp screenshot` when this build has it
# and via=cli, else through `avp api`.
screenshot() {
	if [ "${2:-}" = cli ] && "$avp" screenshot --help >/dev/null 2>&1; then
		echo "gpu: screenshot via avp screenshot"
		"$avp" screenshot --api-sock "$sock" "$1"
	else
		"$avp" api --api-sock "$sock" screenshot "{\"path\":\"$1\"}"
	fi
}

sock=$work/api.sock
log=$out/gpu.log
shot1=$PWD/$out/gpu-1.png
shot2=$PWD/$out/gpu-2.png
rm -f "$shot1" "$shot2"
# The guest waits for its go-aheads on a small control disk (vda).
ctl=$work/control.img
truncate -s 1M "$ctl"
go_ahead() { printf '%s' "$1" | dd of="$ctl" conv=notrunc,fsync status=none; }
rg_start_bg gpu pid "$log" timeout -k 5 300 "$avp" run --kernel "$kernel" --initrd "$initrd" \
	--cmdline "console=ttyS0 panic=-1 quiet avp.test=gpu avp.gpusize=${W}x${H}" \
	--memory 256 --gpu "width=$W,height=$H" --api-sock "$sock" --disk "$ctl"

if wait_console '^GPU-PATTERN-1 ' 240; then
	ok "guest drew pattern 1"
	# Before the guest set a mode of its own, the console was on screen;
	# now the quadrants are.
	if out1=$(screenshot "$shot1" 2>&1); then
		ok "screenshot 1 taken: $out1"
		relay_png_checks "$shot1" "$W" "$H" \
			"$((W / 4)),$((H / 4)),255,0,0,top-left quadrant red" \
			"$((3 * W / 4)),$((H / 4)),0,255,0,top-right quadrant green" \
			"$((W / 4)),$((3 * H / 4)),0,0,255,bottom-left quadrant blue" \
			"$((3 * W / 4)),$((3 * H / 4)),255,255,255,bottom-right quadrant white" \
			"0,0,255,0,0,top-left corner" "$((W - 1)),0,0,255,0,top-right corner" \
			"0,$((H - 1)),0,0,255,bottom-left corner" \
			"$((W - 1)),$((H - 1)),255,255,255,bottom-right corner" \
			"$((W / 2 - 1)),$((H / 2 - 1)),255,0,0,last red pixel" \
			"$((W / 2)),$((H / 2)),255,255,255,first white pixel"
	else
		notok "screenshot 1 failed: $out1"
	fi
	# A relative path is refused: the VM does not guess our directory.
	if "$avp" api --api-sock "$sock" screenshot '{"path":"relative.png"}' >/dev/null 2>&1; then
		notok "a relative screenshot path was accepted"
	else
		ok "a relative screenshot path is refused"
	fi
	go_ahead next
else
	notok "guest never drew pattern 1 (no GPU-PATTERN-1 line)"
fi

if wait_console '^GPU-PATTERN-2 ' 120; then
	# Where gpu_pattern puts the box, computed here rather than parsed
	# from the console line.
	bx=$((W / 8 + 1)) by=$((H / 8 + 1)) bw=$((W / 4 + 3)) bh=$((H / 4 + 5))
	ok "guest drew the box ${bw}x${bh}+${bx}+${by}"
	if out2=$(screenshot "$shot2" cli 2>&1); then
		ok "screenshot 2 taken: $out2"
		relay_png_checks "$shot2" "$W" "$H" \
			"$bx,$by,255,0,255,box top-left magenta" \
			"$((bx + bw - 1)),$((by + bh - 1)),255,0,255,box bottom-right magenta" \
			"$((bx - 1)),$by,255,0,0,left of the box still red" \
			"$bx,$((by - 1)),255,0,0,above the box still red" \
			"$((bx + bw)),$((by + bh - 1)),255,0,0,right of the box still red" \
			"$bx,$((by + bh)),255,0,0,below the box still red" \
			"$((3 * W / 4)),$((H / 4)),0,255,0,top-right quadrant still green" \
			"$((3 * W / 4)),$((3 * H / 4)),255,255,255,bottom-right still white"
	else
		notok "screenshot 2 failed: $out2"
	fi
	go_ahead done
else
	notok "guest never drew pattern 2 (no GPU-PATTERN-2 line)"
fi

wait "$pid"
rc=$?
pid=
tr -d '\r\000' <"$log" >"$log.txt"
sed 's/^/  | /' "$log.txt" | tail -n 40
check_eq "$rc" 0 "guest poweroff ends avp with status 0"
check_grep "$log.txt" '^virtio: .* device=0x0010 .*driver=virtio_gpu$' "virtio-gpu bound in the guest"
while IFS= read -r line; do
	case "$line" in
	"gpu-guest: ok - "* | "gpu-pattern: ok - "*) ok "guest: ${line#*: ok - }" ;;
	"gpu-guest: not ok - "* | "gpu-pattern: not ok - "*) notok "guest: ${line#*: not ok - }" ;;
	esac
done < <(grep -aE '^gpu-(guest|pattern): (ok|not ok) - ' "$log.txt")
check_grep "$log.txt" "^$GUEST_PASSED" "every guest-side check passed"
finish
