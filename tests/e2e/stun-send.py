#!/usr/bin/env python3
"""stun-send.py: STUN Binding requests (RFC 8489) one after another, each
answered before the next goes, so that a NAT sees the new flows in the
order given.  Used by wildlab.sh to watch how a lab router allocates.

  stun-send.py SPEC ...

SPEC is SOCK/HOST:PORT.  SOCK names a UDP socket: a number binds that
local port, any other word an ephemeral one; a socket is made at its
first use and kept, so "a/S1 a/S2" asks two servers from one socket.
Prints one line per SPEC: "SOCK LOCALPORT HOST:PORT MAPPED" (MAPPED is
"-" when no answer came after 4 tries, 0.4 s apart).  Every wait is
bounded; only the addresses given are sent to.  Exit 0, or 64 on a bad
SPEC.
"""
import os
import socket
import struct
import sys

COOKIE = 0x2112A442


def request():
    tid = os.urandom(12)
    return tid, struct.pack("!HHI", 0x0001, 0, COOKIE) + tid


def mapped(data, tid):
    """The XOR-MAPPED-ADDRESS (or MAPPED-ADDRESS) of a success, or None."""
    if len(data) < 20 or data[8:20] != tid:
        return None
    mtype, mlen = struct.unpack("!HH", data[:4])
    if mtype != 0x0101:
        return None
    off, plain = 20, None
    while off + 4 <= min(len(data), 20 + mlen):
        t, n = struct.unpack("!HH", data[off:off + 4])
        v = data[off + 4:off + 4 + n]
        if t in (0x0020, 0x0001) and n >= 8 and v[1] == 1:
            port = struct.unpack("!H", v[2:4])[0]
            addr = struct.unpack("!I", v[4:8])[0]
            if t == 0x0020:
                port ^= COOKIE >> 16
                addr ^= COOKIE
                return "%s:%d" % (socket.inet_ntoa(struct.pack("!I", addr)), port)
            plain = "%s:%d" % (socket.inet_ntoa(struct.pack("!I", addr)), port)
        off += 4 + n + (-n % 4)
    return plain


def main():
    socks = {}
    for spec in sys.argv[1:]:
        try:
            name, dst = spec.split("/", 1)
            host, port = dst.rsplit(":", 1)
            port = int(port)
        except ValueError:
            print("stun-send.py: bad SPEC %s" % spec, file=sys.stderr)
            return 64
        if name not in socks:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("", int(name) if name.isdigit() else 0))
            s.settimeout(0.4)
            socks[name] = s
        s = socks[name]
        got = "-"
        tid, req = request()
        for _ in range(4):
            s.sendto(req, (host, port))
            try:
                while True:
                    data, _ = s.recvfrom(2048)
                    m = mapped(data, tid)
                    if m:
                        got = m
                        break
            except socket.timeout:
                continue
            break
        print("%s %d %s %s" % (name, s.getsockname()[1], dst, got), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
