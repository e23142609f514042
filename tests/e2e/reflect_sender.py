#!/usr/bin/env python3
"""reflect_sender.py: bad and good STUN packets at a running nat-reflect.

Used by reflect_badpackets.sh.  Every exchange is bounded: a few hundred
packets in all, each wait at most a few seconds, loopback only.

  reflect_sender.py bad HOST UDPPORT TCPPORT
      sends every kind of bad packet, checks that a good request is
      answered after each kind, and prints the counters nat-reflect
      should show: "expect key=value ...".
  reflect_sender.py flood HOST PORT COUNT
      sends COUNT good requests back to back, prints "answered=N".
  reflect_sender.py limit HOST PORT
      against -C 1 -c 1: holds one TCP connection, checks that a second
      from the same address is closed at once, then that one from
      another address (127.0.0.2) takes the first one's place.
Exit 0 when every check held, 1 otherwise.
"""
import os
import random
import socket
import struct
import sys
import zlib

COOKIE = 0x2112A442
expect = {"answered": 0, "refused": 0, "malformed": 0, "notrequest": 0,
          "oversized": 0, "tcp_accepted": 0, "tcp_idle": 0}


def die(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def msg(mtype=0x0001, attrs=b"", fingerprint=True, classic=False):
    tid = os.urandom(16) if classic else struct.pack("!I", COOKIE) + os.urandom(12)
    if fingerprint:
        hdr = struct.pack("!HH", mtype, len(attrs) + 8) + tid
        crc = (zlib.crc32(hdr + attrs) & 0xffffffff) ^ 0x5354554E
        attrs += struct.pack("!HHI", 0x8028, 4, crc)
    return struct.pack("!HH", mtype, len(attrs)) + tid + attrs


def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * (-len(v) % 4)


def parse(data):
    """Returns (type, tid, {attr type: value})."""
    if len(data) < 20:
        die("short answer of %d bytes" % len(data))
    mtype, mlen = struct.unpack("!HH", data[:4])
    if mlen + 20 != len(data):
        die("answer length %d, header says %d" % (len(data), mlen))
    attrs, off = {}, 20
    while off < len(data):
        t, n = struct.unpack("!HH", data[off:off + 4])
        attrs.setdefault(t, data[off + 4:off + 4 + n])
        off += 4 + n + (-n % 4)
    return mtype, data[4:20], attrs


def xor_addr(v, tid):
    port = struct.unpack("!H", v[2:4])[0] ^ (COOKIE >> 16)
    ip = struct.unpack("!I", v[4:8])[0] ^ COOKIE
    return "%s:%d" % (socket.inet_ntoa(struct.pack("!I", ip)), port)


def udp_good(s, dst):
    """A good request must be answered with the right XOR-MAPPED-ADDRESS."""
    req = msg()
    s.sendto(req, dst)
    s.settimeout(3)
    try:
        data, src = s.recvfrom(4096)
    except socket.timeout:
        die("no answer to a good request")
    mtype, tid, attrs = parse(data)
    if mtype != 0x0101 or tid != req[4:20]:
        die("answer type %#x or id wrong" % mtype)
    me = "%s:%d" % s.getsockname()
    if xor_addr(attrs[0x0020], tid) != me:
        die("XOR-MAPPED-ADDRESS %s, not %s" % (xor_addr(attrs[0x0020], tid), me))
    expect["answered"] += 1


def udp_error(s, dst, req, code):
    s.sendto(req, dst)
    s.settimeout(3)
    try:
        data, _ = s.recvfrom(4096)
    except socket.timeout:
        die("no error answer %d" % code)
    mtype, _, attrs = parse(data)
    ec = attrs.get(0x0009, b"\0\0\0\0")
    if mtype & 0x0110 != 0x0110 or (ec[2] & 7) * 100 + ec[3] != code:
        die("expected error %d, got type %#x" % (code, mtype))
    expect["refused"] += 1
    return attrs


def bad(host, uport, tport):
    dst = (host, uport)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, 0))
    rnd = random.Random(5780)
    good = msg()
    udp_good(s, dst)

    kinds = []
    kinds.append(("empty datagram", [b""], "malformed"))
    kinds.append(("truncated", [good[:n] for n in range(1, len(good))], "malformed"))
    longer = bytearray(good)
    longer[3] += 4
    shorter = bytearray(good)
    shorter[3] -= 4
    odd = bytearray(good)
    odd[3] += 2
    kinds.append(("wrong lengths", [bytes(longer), bytes(shorter), bytes(odd),
                                   good + b"\0\0\0\0", good[:-2]], "malformed"))
    badfp = bytearray(good)
    badfp[-1] ^= 0x55
    kinds.append(("bad fingerprint", [bytes(badfp)], "malformed"))
    overrun = msg(attrs=struct.pack("!HH", 0x0031, 64) + b"abcd", fingerprint=False)
    kinds.append(("attribute past the end", [overrun], "malformed"))
    badattr = msg(attrs=attr(0x0003, b"\0\0"))     # CHANGE-REQUEST of 2 bytes
    kinds.append(("malformed known attribute", [badattr], "malformed"))
    garbage = []
    for _ in range(50):
        g = bytearray(rnd.randbytes(rnd.randrange(1, 1400)))
        g[0] |= 0xc0                              # never a STUN first byte
        garbage.append(bytes(g))
    garbage.append(b"GET / HTTP/1.0\r\n\r\n")
    kinds.append(("garbage", garbage, "malformed"))
    kinds.append(("oversized", [msg(attrs=attr(0x0026, b"\0" * 6000)),
                                b"\0" * 9000], "oversized"))
    kinds.append(("not requests", [msg(0x0011), msg(0x0101), msg(0x0111)],
                  "notrequest"))
    for name, pkts, counter in kinds:
        for p in pkts:
            s.sendto(p, dst)
        expect[counter] += len(pkts)
        udp_good(s, dst)     # still answering, and nothing came back
        print("ok: udp %s (%d) dropped, good request answered" % (name, len(pkts)))

    attrs = udp_error(s, dst, msg(attrs=attr(0x0031, b"x")), 420)
    if attrs.get(0x000A) != struct.pack("!H", 0x0031):
        die("UNKNOWN-ATTRIBUTES %r" % attrs.get(0x000A))
    udp_error(s, dst, msg(0x0003), 400)
    print("ok: udp unknown attribute 420, unknown method 400")
    s.settimeout(0.2)
    try:
        data, _ = s.recvfrom(4096)
        die("unexpected answer of %d bytes" % len(data))
    except socket.timeout:
        pass
    s.close()

    tcp(host, tport)
    print("expect " + " ".join("%s=%d" % (k, expect[k]) for k in sorted(expect)))


def tcp_conn(host, port):
    c = socket.create_connection((host, port), timeout=3)
    expect["tcp_accepted"] += 1
    return c


def tcp_read(c, n_msgs):
    buf = b""
    out = []
    while len(out) < n_msgs:
        try:
            d = c.recv(4096)
        except socket.timeout:
            die("tcp: no answer")
        if not d:
            die("tcp: closed early")
        buf += d
        while len(buf) >= 20 and len(buf) >= 20 + struct.unpack("!H", buf[2:4])[0]:
            n = 20 + struct.unpack("!H", buf[2:4])[0]
            out.append(buf[:n])
            buf = buf[n:]
    return out


def tcp_closed(c, what, timeout=3):
    c.settimeout(timeout)
    try:
        if c.recv(4096) != b"":
            die("tcp %s: data instead of close" % what)
    except socket.timeout:
        die("tcp %s: not closed" % what)
    except ConnectionResetError:
        pass
    c.close()


def tcp(host, port):
    c = tcp_conn(host, port)
    a, b = msg(), msg()
    c.sendall(a)
    c.sendall(b + msg())                  # two in one write
    r = msg()
    c.sendall(r[:7])                      # one in two writes
    c.sendall(r[7:])
    ans = tcp_read(c, 4)
    for x in ans:
        mtype, _, attrs = parse(x)
        if mtype != 0x0101 or 0x0020 not in attrs:
            die("tcp: bad answer %#x" % mtype)
    me = "%s:%d" % c.getsockname()
    if xor_addr(parse(ans[0])[2][0x0020], None) != me:
        die("tcp: mapped address is not " + me)
    expect["answered"] += 4
    # A well-framed but malformed message is dropped; the stream lives.
    badfp = bytearray(msg())
    badfp[-1] ^= 1
    c.sendall(bytes(badfp) + msg())
    expect["malformed"] += 1
    tcp_read(c, 1)
    expect["answered"] += 1
    # CHANGE-REQUEST over TCP: 420 (the address cannot change).
    c.sendall(msg(attrs=attr(0x0003, struct.pack("!I", 4))))
    t, _, attrs = parse(tcp_read(c, 1)[0])
    if t != 0x0111 or attrs.get(0x000A) != struct.pack("!H", 3):
        die("tcp: CHANGE-REQUEST not refused with 420")
    expect["refused"] += 1
    c.close()
    print("ok: tcp answers whole, pipelined and split requests; 420 for CHANGE-REQUEST")

    c = tcp_conn(host, port)
    c.sendall(b"\xff" * 20)               # cannot start a STUN message
    expect["malformed"] += 1
    tcp_closed(c, "garbage")
    c = tcp_conn(host, port)
    c.sendall(struct.pack("!HHI", 1, 0xfffc, COOKIE) + b"\0" * 12)
    expect["oversized"] += 1
    tcp_closed(c, "oversized frame")
    c = tcp_conn(host, port)
    c.sendall(msg()[:10])                 # half a header, then silence
    expect["tcp_idle"] += 1
    tcp_closed(c, "idle", timeout=8)
    print("ok: tcp garbage, oversized frame and idle connection closed")


def flood(host, port, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, 0))
    for _ in range(count):
        s.sendto(msg(), (host, port))
    n = 0
    s.settimeout(0.5)
    try:
        while n < count:
            s.recvfrom(4096)
            n += 1
    except socket.timeout:
        pass
    print("answered=%d" % n)


def limit(host, port):
    a = tcp_conn(host, port)
    a.sendall(msg())
    tcp_read(a, 1)
    b = socket.create_connection((host, port), timeout=3)
    tcp_closed(b, "over the per-address limit")
    a.sendall(msg())
    tcp_read(a, 1)                       # the first one still served
    print("ok: tcp connection over the per-address limit closed, the first still served")
    c = socket.create_connection((host, port), timeout=3,
                                 source_address=("127.0.0.2", 0))
    tcp_closed(a, "pushed out by a newer one")
    c.settimeout(3)
    c.sendall(msg())
    tcp_read(c, 1)
    c.close()
    print("ok: tcp connection over the total limit took the older one's place")


if __name__ == "__main__":
    if sys.argv[1] == "bad":
        bad(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif sys.argv[1] == "flood":
        flood(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif sys.argv[1] == "limit":
        limit(sys.argv[2], int(sys.argv[3]))
    else:
        die("usage")
