#!/bin/bash
# virtio-sound (AVP-SND-1) with a real guest: avp boots the reference guest
# with --sound out=OUT.wav,in=IN.wav; the guest (tests/guest/sound.sh,
# sndtest) plays a 1 kHz tone for 1 s at 48 kHz S16_LE mono through
# /dev/snd/pcmC0D0p and records 0.5 s through /dev/snd/pcmC0D0c from IN.wav,
# a 440 Hz tone. The host checks that OUT.wav holds the tone (format,
# length, Goertzel and zero crossings, level), that playback took real time,
# and that the guest recorded IN.wav's first 24000 frames bit for bit (an
# FNV-1a hash) with 440 Hz dominant. Needs a real /dev/kvm:
#   scripts/testhost tests/realguest/sound.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh
source tests/lib/realguest.sh

rg_setup

work=$(mktemp -d /tmp/avp-sound.XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 tests/lib/wavcheck.py gen "$work/in.wav" 440 2 || { notok "cannot generate in.wav"; finish; exit 1; }

log="$out/avp-sound.log"
rg_boot "sound boot" "$log" timeout -k 5 240 "$avp" run --kernel "$kernel" --initrd "$initrd" \
	--cmdline "console=ttyS0 panic=-1 quiet avp.test=sound" --memory 256 \
	--sound "out=$work/out.wav,in=$work/in.wav"
tr -d '\r' <"$log" >"$log.txt"
sed 's/^/  | /' "$log.txt" | grep -vE '^  \| (block|net):' | tail -n 40
cp "$work/out.wav" "$out/sound-out.wav" 2>/dev/null

check_eq "$rc" 0 "guest poweroff ends avp with status 0"
check_grep "$log.txt" '^virtio: .* device=0x0019 .*driver=virtio_snd$' "virtio-sound (ID 25) bound to virtio_snd"
while IFS= read -r line; do
	case "$line" in
	"sound: ok - "*) ok "guest: ${line#sound: ok - }" ;;
	"sound: not ok - "*) notok "guest: ${line#sound: not ok - }" ;;
	esac
done < <(grep -E '^sound: (ok|not ok) - ' "$log.txt")
check_grep "$log.txt" "^$GUEST_PASSED" "every guest-side check passed"

# --- playback: what reached OUT.wav -----------------------------------------
if [ -s "$work/out.wav" ]; then
	read -r rate ch bits frames dominant zc_hz rms ratio < <(python3 tests/lib/wavcheck.py tone "$work/out.wav" 1000)
	echo "sound: out.wav: ${rate} Hz, ${ch} ch, ${bits} bit, ${frames} frames, dominant ${dominant} Hz, zero crossings ${zc_hz} Hz, rms ${rms}, 1 kHz power ratio ${ratio}"
	check_eq "$rate/$ch/$bits" 48000/1/16 "out.wav is 48 kHz mono 16-bit (the guest's SET_PARAMS)"
	# 1 s played, then 0.1 s more by the second playback.
	check_eq "$frames" 52800 "out.wav holds every frame the guest played (1 s + 0.1 s)"
	check_eq "$dominant" 1000 "out.wav's dominant frequency is 1 kHz"
	if awk "BEGIN{exit !($zc_hz >= 990 && $zc_hz <= 1010)}"; then
		ok "zero crossings give ${zc_hz} Hz"
	else
		notok "zero crossings give ${zc_hz} Hz, expected 1000"
	fi
	if awk "BEGIN{exit !($ratio > 1000)}"; then ok "1 kHz dominates every other probe by ${ratio}x"; else notok "1 kHz over other frequencies only ${ratio}x"; fi
	# Half scale sine: rms 16384/sqrt(2).
	if [ "$rms" -ge 11000 ] && [ "$rms" -le 12200 ]; then ok "level is right (rms $rms)"; else notok "rms $rms, expected ~11585"; fi
else
	notok "no out.wav"
fi
play_ms=$(sed -n 's/^sndtest: played 48000 frames of 1000 Hz in \([0-9]*\) ms.*/\1/p' "$log.txt")
if [ -n "$play_ms" ] && [ "$play_ms" -ge 950 ]; then
	ok "1 s of audio took ${play_ms} ms to play (paced in real time)"
else
	notok "1 s of audio took '${play_ms}' ms to play, expected >= 950"
fi

# --- capture: what the guest got from IN.wav --------------------------------
recline=$(grep -E '^sndtest: recorded 24000 frames' "$log.txt")
want_fnv=$(python3 tests/lib/wavcheck.py fnv "$work/in.wav" 24000)
got_fnv=$(sed -n 's/.* fnv=\(0x[0-9a-f]*\).*/\1/p' <<<"$recline")
got_dom=$(sed -n 's/.* dominant=\([0-9]*\).*/\1/p' <<<"$recline")
check_eq "$got_dom" 440 "the guest hears 440 Hz as the dominant frequency"
check_eq "$got_fnv" "$want_fnv" "the guest recorded in.wav's first 24000 frames bit for bit"
rec_ms=$(sed -n 's/.* in \([0-9]*\) ms:.*/\1/p' <<<"$recline")
if [ -n "$rec_ms" ] && [ "$rec_ms" -ge 450 ]; then
	ok "0.5 s of recording took ${rec_ms} ms (paced in real time)"
else
	notok "0.5 s of recording took '${rec_ms}' ms, expected >= 450"
fi

finish
