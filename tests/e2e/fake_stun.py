#!/usr/bin/env python3
"""fake_stun.py: a hostile STUN server (RFC 8489) for nat-probe's tests.

    fake_stun.py [-l ADDR] [-m ADDR:PORT] [-t SECONDS] MODE

Listens on UDP ADDR (127.0.0.1 by default, port 0), prints "ready PORT"
on stdout, and answers each Binding request as MODE says.  The mapped
address it claims is -m (127.0.0.9:4444 by default: keep it on loopback,
since nat-probe sends its hairpin test there).  It exits after SECONDS
(30 by default) and logs to stderr how many requests it saw.

  normal     a Binding success with XOR-MAPPED-ADDRESS
  silent     no answer
  garbage    random bytes, 1 to 548 of them
  huge       a 60,000-byte success (a long comprehension-optional
             attribute), longer than any STUN client reads
  wrong-tid  a success for another transaction
  bad-attr   XOR-MAPPED-ADDRESS of an unknown family, and one cut short
  escapes    a success whose SOFTWARE and an unknown attribute carry
             escape sequences
  noisy      20 datagrams of garbage and a wrong-tid success first, then
             the right answer
Every answer goes only to the address the request came from, at most 22
datagrams a request.
"""
import os
import socket
import struct
import sys
import time

COOKIE = 0x2112A442
ESC = b"\x1b]0;owned\x07\x1b[2J\x1b[31m\xc2\x9b1m"


def attr(t, v):
    pad = (4 - len(v) % 4) % 4
    return struct.pack("!HH", t, len(v)) + v + b"\0" * pad


def xor_mapped(ip, port, family=1):
    x = struct.pack("!BBH", 0, family, port ^ (COOKIE >> 16))
    x += bytes(a ^ b for a, b in zip(socket.inet_aton(ip),
                                     struct.pack("!I", COOKIE)))
    return attr(0x0020, x)


def success(tid, attrs):
    return struct.pack("!HHI", 0x0101, len(attrs), COOKIE) + tid + attrs


def answers(mode, req, mapped):
    if len(req) < 20 or struct.unpack("!H", req[:2])[0] != 0x0001:
        return []
    tid = req[8:20]
    ip, port = mapped
    good = success(tid, xor_mapped(ip, port))
    if mode == "normal":
        return [good]
    if mode == "garbage":
        return [os.urandom(1 + os.urandom(2)[0] * 2 % 548)]
    if mode == "huge":
        return [success(tid, xor_mapped(ip, port) +
                        attr(0x8030, b"x" * 59960))]
    if mode == "wrong-tid":
        return [success(bytes(b ^ 0xff for b in tid), xor_mapped(ip, port))]
    if mode == "bad-attr":
        cut = struct.pack("!HH", 0x0020, 8) + b"\0\x01"
        return [success(tid, xor_mapped(ip, port, family=7)),
                struct.pack("!HHI", 0x0101, len(cut), COOKIE) + tid + cut]
    if mode == "escapes":
        return [success(tid, xor_mapped(ip, port) + attr(0x8022, ESC) +
                        attr(0x8031, ESC))]
    if mode == "noisy":
        junk = [os.urandom(60) for _ in range(20)]
        other = success(bytes(b ^ 1 for b in tid), xor_mapped("127.0.0.66",
                                                              6666))
        return junk + [other, good]
    return []


def main():
    addr, mapped, lifetime = "127.0.0.1", ("127.0.0.9", 4444), 30.0
    args = sys.argv[1:]
    while len(args) > 1 and args[0].startswith("-"):
        flag, val = args[0], args[1]
        args = args[2:]
        if flag == "-l":
            addr = val
        elif flag == "-m":
            h, _, p = val.rpartition(":")
            mapped = (h, int(p))
        elif flag == "-t":
            lifetime = float(val)
        else:
            sys.exit("usage: fake_stun.py [-l addr] [-m addr:port] "
                     "[-t seconds] mode")
    if len(args) != 1:
        sys.exit("usage: fake_stun.py [-l addr] [-m addr:port] "
                 "[-t seconds] mode")
    mode = args[0]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 0))
    s.settimeout(0.2)
    print("ready", s.getsockname()[1], flush=True)
    end = time.monotonic() + lifetime
    seen = 0
    while time.monotonic() < end:
        try:
            req, src = s.recvfrom(2048)
        except socket.timeout:
            continue
        seen += 1
        for a in answers(mode, req, mapped):
            s.sendto(a, src)
    print("fake_stun: %d requests" % seen, file=sys.stderr)


if __name__ == "__main__":
    main()
