#!/bin/sh
# Guest side of tests/realguest/sound.sh (avp.test=sound): the virtio-sound
# card is there, plays a 1 kHz tone for 1 s and records 0.5 s. One
# "ok"/"not ok" line per check; the host checks what went through the WAVs
# from the "sndtest:" lines. busybox sh.
fail=0
ok()    { echo "sound: ok - $*"; }
notok() { echo "sound: not ok - $*"; fail=1; }

if grep -q virtio /proc/asound/cards 2>/dev/null; then
    ok "ALSA card: $(head -n1 /proc/asound/cards | sed 's/^ *//')"
else
    notok "no virtio sound card in /proc/asound/cards: $(cat /proc/asound/cards 2>&1)"
fi
[ -c /dev/snd/pcmC0D0p ] && ok "/dev/snd/pcmC0D0p (playback) exists" || notok "no /dev/snd/pcmC0D0p"
[ -c /dev/snd/pcmC0D0c ] && ok "/dev/snd/pcmC0D0c (capture) exists" || notok "no /dev/snd/pcmC0D0c"

# 48000 frames: 20 whole periods, so drain never waits on a partial one.
if sndtest play 1000 48000; then ok "played 1 s of 1 kHz"; else notok "sndtest play failed"; fi
if sndtest rec 24000; then ok "recorded 0.5 s"; else notok "sndtest rec failed"; fi
# Once more: the streams can be reopened after a release.
if sndtest play 1000 4800; then ok "played again after release"; else notok "second playback failed"; fi
exit $fail
