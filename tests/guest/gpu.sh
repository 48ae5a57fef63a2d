#!/bin/sh
# Guest side of tests/realguest/gpu.sh (avp.test=gpu avp.gpusize=WxH,
# control disk as vda):
# the virtio-gpu driver binds, its DRM device, fbdev emulation and EDID
# appear with the configured size, then gpu_pattern draws what the host
# checks in its screenshots. busybox sh.
fail=0
ok()    { echo "gpu-guest: ok - $*"; }
notok() { echo "gpu-guest: not ok - $*"; fail=1; }

size=800x600
for w in $(cat /proc/cmdline); do
    case "$w" in avp.gpusize=*) size=${w#avp.gpusize=} ;; esac
done
want_w=${size%x*}
want_h=${size#*x}

bound=
for v in /sys/bus/virtio/devices/*; do
    [ "$(cat "$v/device" 2>/dev/null)" = 0x0010 ] || continue
    [ -e "$v/driver" ] && bound=$(basename "$(readlink "$v/driver")")
done
[ "$bound" = virtio_gpu ] && ok "virtio device 16 is bound to virtio_gpu" \
    || notok "virtio-gpu device not bound (driver '$bound')"

# The DRM device and its fbdev emulation come up asynchronously.
i=0
while [ $i -lt 100 ] && ! { [ -e /dev/dri/card0 ] && [ -e /dev/fb0 ]; }; do
    sleep 0.1; i=$((i + 1))
done
[ -e /dev/dri/card0 ] && ok "/dev/dri/card0 exists" || notok "no /dev/dri/card0"
if [ -e /dev/fb0 ]; then
    ok "/dev/fb0 exists ($(cat /sys/class/graphics/fb0/name 2>/dev/null))"
    vs=$(cat /sys/class/graphics/fb0/virtual_size 2>/dev/null)
    case "$vs" in
        "$want_w,"*) ok "fbdev is $want_w pixels wide ($vs)" ;;
        *) notok "fbdev virtual size '$vs', expected $want_w wide" ;;
    esac
else
    notok "no /dev/fb0 (DRM fbdev emulation)"
fi

edid=$(ls /sys/class/drm/card0-*/edid 2>/dev/null | head -n 1)
if [ -n "$edid" ]; then
    n=$(wc -c <"$edid")
    [ "$n" = 128 ] && ok "the connector has a 128-byte EDID" || notok "EDID is $n bytes"
    modes=$(dirname "$edid")/modes
    first=$(head -n 1 "$modes" 2>/dev/null)
    [ "$first" = "$size" ] && ok "first (preferred) mode is $size" \
        || notok "first mode is '$first', expected $size (all: $(tr '\n' ' ' <"$modes"))"
else
    notok "no EDID in /sys/class/drm"
fi

# Quiet the kernel so that no console output interleaves with the markers.
echo 1 >/proc/sys/kernel/printk 2>/dev/null
# The host's go-aheads arrive on the control disk (vda), if it gave one.
ctl=
[ -b /dev/vda ] && ctl=/dev/vda
gpu_pattern "$want_w" "$want_h" 60 $ctl || fail=1
exit $fail
