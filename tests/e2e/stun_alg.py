#!/usr/bin/env python3
"""stun_alg.py: where an ALG would write, for probe6.sh's nft rule.

    stun_alg.py SERVER PORT NEWADDR

Sends one Binding request (IPv4) to SERVER:PORT, waits 2 s at most for the
answer, and prints "ADDR_OFF FP_OFF DELTA": the offset in the UDP payload
of the IPv4 address in MAPPED-ADDRESS, that of the FINGERPRINT value, and
the 32-bit value to XOR into the FINGERPRINT so that it still verifies
once the address is NEWADDR.  CRC-32 is linear: for messages of one
length, crc(a) ^ crc(b) = crc(a ^ b) ^ crc(zeros), so the fix-up does not
depend on the rest of the message (transaction id, port) as long as the
layout is the same.  Exits 1 when no answer or no such attributes came.
"""
import os
import socket
import struct
import sys
import zlib

if len(sys.argv) != 4:
    sys.exit(__doc__)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(struct.pack("!HHI12s", 1, 0, 0x2112A442, os.urandom(12)),
         (sys.argv[1], int(sys.argv[2])))
try:
    data = s.recvfrom(2048)[0]
except OSError as e:
    sys.exit("stun_alg: no answer: %s" % e)
off, addr, fp = 20, None, None
while off + 4 <= len(data):
    t, n = struct.unpack_from("!HH", data, off)
    if t == 0x0001 and n == 8:
        addr = off + 8
    elif t == 0x8028:
        fp = off
    off += 4 + (n + 3) // 4 * 4
if addr is None or fp is None:
    sys.exit("stun_alg: no MAPPED-ADDRESS or no FINGERPRINT")
new = bytes(int(x) for x in sys.argv[3].split("."))
d = bytearray(fp)
d[addr:addr + 4] = bytes(a ^ b for a, b in zip(data[addr:addr + 4], new))
print(addr, fp + 4, "0x%08x" % (zlib.crc32(bytes(d)) ^ zlib.crc32(bytes(fp))))
