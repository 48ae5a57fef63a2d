#!/usr/bin/env python3
"""Synthetic bzImages for tests that need a kernel avp accepts but never
boots: a valid 64-bit boot header (Documentation/arch/x86/boot.rst) whose
fields claim what the case needs; the file is sparse past the header.

    mkbz.py OUT FILE_SIZE SYSSIZE_BYTES [RELOCATABLE PREF_ADDRESS INIT_SIZE]
"""
import struct, sys
out, size, sys_bytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
reloc = int(sys.argv[4]) if len(sys.argv) > 4 else 1
pref = int(sys.argv[5], 0) if len(sys.argv) > 5 else 0x1000000
init = int(sys.argv[6], 0) if len(sys.argv) > 6 else 0x300000
h = bytearray(1024)
h[0x1f1] = 1                                   # setup_sects: kernel at 1024
h[0x1f4:0x1f8] = struct.pack("<I", sys_bytes // 16)
h[0x1fe:0x200] = b"\x55\xaa"
h[0x200:0x202] = b"\xeb\x6a"
h[0x202:0x208] = b"HdrS" + struct.pack("<H", 0x020f)
h[0x211] = 1                                   # LOADED_HIGH
h[0x22c:0x238] = struct.pack("<IIBBH", 0x7fffffff, 0x200000, reloc, 21, 3)
h[0x238:0x23c] = struct.pack("<I", 2047)
h[0x258:0x264] = struct.pack("<QI", pref, init)
with open(out, "wb") as f:
    f.write(h)
    f.truncate(size)
