#!/usr/bin/env python3
"""WAV helpers for tests/realguest/sound.sh (python3 standard library only).

  wavcheck.py gen PATH FREQ SECONDS   write a 48 kHz S16 mono sine, half scale
  wavcheck.py fnv PATH FRAMES         FNV-1a (32-bit) of the first FRAMES
                                      frames' bytes, as 0x%08x
  wavcheck.py tone PATH FREQ          print 'rate channels bits frames
                                      dominant_hz zc_hz rms ratio' where ratio
                                      is the Goertzel power at FREQ over the
                                      strongest other probe frequency
"""
import math
import struct
import sys
import wave


def gen(path, freq, secs):
    rate = 48000
    n = int(rate * secs)
    data = b"".join(struct.pack("<h", int(round(16384 * math.sin(2 * math.pi * freq * i / rate))))
                    for i in range(n))
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data)


def read(path):
    with wave.open(path, "rb") as w:
        return (w.getframerate(), w.getnchannels(), w.getsampwidth() * 8,
                w.getnframes(), w.readframes(w.getnframes()))


def fnv(path, frames):
    rate, ch, bits, n, data = read(path)
    h = 2166136261
    for b in data[:frames * ch * bits // 8]:
        h = ((h ^ b) * 16777619) & 0xffffffff
    return "0x%08x" % h


def goertzel(x, rate, f):
    c = 2 * math.cos(2 * math.pi * f / rate)
    s1 = s2 = 0.0
    for v in x:
        s1, s2 = v + c * s1 - s2, s1
    return s1 * s1 + s2 * s2 - c * s1 * s2


def tone(path, freq):
    rate, ch, bits, n, data = read(path)
    if bits != 16 or ch != 1 or n == 0:
        return "%d %d %d %d 0 0 0 0" % (rate, ch, bits, n)
    x = struct.unpack("<%dh" % n, data[:2 * n])
    zc = sum(1 for i in range(1, n) if (x[i - 1] < 0) != (x[i] < 0))
    zc_hz = zc / 2 / (n / rate)
    rms = math.sqrt(sum(v * v for v in x) / n)
    w = x[:rate // 5]  # 0.2 s: 5 Hz bins
    probes = [f for f in range(100, 4000, 20)]
    powers = {f: goertzel(w, rate, f) for f in probes + [freq]}
    dominant = max(powers, key=powers.get)
    others = max(p for f, p in powers.items() if abs(f - freq) > 50)
    ratio = powers[freq] / others if others > 0 else float("inf")
    return "%d %d %d %d %d %.1f %.0f %.0f" % (rate, ch, bits, n, dominant, zc_hz, rms, ratio)


def main(argv):
    if len(argv) == 5 and argv[1] == "gen":
        gen(argv[2], float(argv[3]), float(argv[4]))
    elif len(argv) == 4 and argv[1] == "fnv":
        print(fnv(argv[2], int(argv[3])))
    elif len(argv) == 4 and argv[1] == "tone":
        print(tone(argv[2], float(argv[3])))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
