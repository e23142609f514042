#!/usr/bin/env python3
"""reflect_hostile.py: attacks on a running nat-reflect, for hostile_reflect.sh.

Run inside the network namespace the script made, where every address
used here is local.  Every attack is bounded in packets, connections and
time.

  reflect_hostile.py spoof VICTIMS EP0,EP1,EP2,EP3 SECONDS MAXPACKETS
      Requests whose source is a victim, as a reflection attacker forges
      them: from many ports of the victim (bound sockets: in this
      namespace the victim's addresses are local), to every endpoint,
      bare, padded to 1400 bytes, naming an unknown attribute (a 420),
      with CHANGE-REQUEST and with RESPONSE-PORT, between requests from
      other addresses (OTHERS, below) that may share the victim's slot
      in the limiter's table.  VICTIMS is an address, ADDR*N for N
      addresses counting up from ADDR, or PREFIX::/64 for addresses of
      one IPv6 /64.  Prints "sent=N seconds=S".
  reflect_hostile.py trickle HOST PORT GAP
      One connection sending a request's first 19 bytes, one each GAP
      seconds.  Prints "sent=N closed=yes|no": how many bytes went
      before the server closed it.
  reflect_hostile.py tcpflood HOST PORT SOURCES CONNS SECONDS HONEST
      Holds CONNS connections spread over the addresses SOURCES (a
      comma list, each ADDR or ADDR*N for N addresses counting up from
      ADDR), each sending a byte a second and opened again when closed,
      for SECONDS; meanwhile an honest client from HONEST makes a
      connection and a request every half second.  Prints "honest=N/M
      opened=N": answers the honest client got of the requests it made.
"""
import ipaddress
import os
import random
import socket
import struct
import sys
import threading
import time
import zlib

COOKIE = 0x2112A442
# Addresses whose keys shared a slot with 127.0.0.1's in the limiter this
# replaced (its Fibonacci hash of the IPv4 address), and more.
OTHERS = ["127.0.18.210"] + ["127.%d.%d.%d" % (a, b, c)
                             for a in (3, 4) for b in range(8) for c in (1, 77)]


def msg(attrs=b"", mtype=0x0001):
    tid = struct.pack("!I", COOKIE) + os.urandom(12)
    hdr = struct.pack("!HH", mtype, len(attrs) + 8) + tid
    crc = (zlib.crc32(hdr + attrs) & 0xffffffff) ^ 0x5354554E
    attrs += struct.pack("!HHI", 0x8028, 4, crc)
    return struct.pack("!HH", mtype, len(attrs)) + tid + attrs


def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * (-len(v) % 4)


def endpoint(text):
    host, port = text.rsplit(":", 1)
    return host.strip("[]"), int(port)


def victims(spec, n):
    if spec.endswith("/64"):
        net = ipaddress.IPv6Network(spec)
        rnd = random.Random(64)
        return [str(net[rnd.randrange(1, 2 ** 64)]) for _ in range(n)]
    v = sources(spec)
    return [v[k % len(v)] for k in range(n)]


def spoof(spec, eps, seconds, maxpackets):
    eps = [endpoint(e) for e in eps.split(",")]
    fam = socket.AF_INET6 if ":" in eps[0][0] else socket.AF_INET
    socks = []
    for v in victims(spec, 16):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.bind((v, 0))
        socks.append(s)
    others = []
    if fam == socket.AF_INET:
        for o in OTHERS:
            s = socket.socket(fam, socket.SOCK_DGRAM)
            s.bind((o, 0))
            others.append(s)
    kinds = [
        lambda: msg(),                                        # bare
        lambda: msg(attr(0x0026, b"\0" * 1360)),              # PADDING
        lambda: msg(attr(0x0031, b"x") + attr(0x0032, b"y")),  # 420
        lambda: msg(attr(0x0003, struct.pack("!I", 6))),      # change both
        lambda: msg(attr(0x0027, struct.pack("!HH", 9, 0))),  # RESPONSE-PORT
    ]
    sent = 0
    t0 = time.monotonic()
    i = 0
    while sent < maxpackets and time.monotonic() - t0 < seconds:
        # A round of 100 or so requests each 10 ms.
        for s in socks:
            for k in kinds:
                try:
                    s.sendto(k(), eps[i % len(eps)])
                    sent += 1
                except OSError:
                    pass
                i += 1
        for s in others:
            try:
                s.sendto(msg(), eps[i % len(eps)])
                sent += 1
            except OSError:
                pass
            i += 1
        time.sleep(0.01)
    print("sent=%d seconds=%.2f" % (sent, time.monotonic() - t0))


def trickle(host, port, gap):
    c = socket.create_connection((host, port), timeout=5)
    req = msg()
    sent, closed = 0, "no"
    for b in req[:19]:
        try:
            c.send(bytes([b]))
        except OSError:
            closed = "yes"
            break
        sent += 1
        # Closed by the server: readable with nothing to read.
        c.settimeout(gap)
        try:
            if c.recv(64) == b"":
                closed = "yes"
                break
        except socket.timeout:
            pass
        except OSError:
            closed = "yes"
            break
    c.close()
    print("sent=%d closed=%s" % (sent, closed))


def sources(spec):
    out = []
    for part in spec.split(","):
        addr, _, n = part.partition("*")
        first = ipaddress.ip_address(addr)
        out += [str(first + k) for k in range(int(n or 1))]
    return out


def tcp_answer(host, port, src):
    """One connection and one request from src: True when answered."""
    try:
        c = socket.create_connection((host, port), timeout=5,
                                     source_address=(src, 0))
        c.settimeout(5)
        req = msg()
        c.sendall(req)
        buf = b""
        while len(buf) < 20 or len(buf) < 20 + struct.unpack("!H", buf[2:4])[0]:
            d = c.recv(4096)
            if not d:
                return False
            buf += d
        c.close()
        return buf[0:2] == b"\x01\x01" and buf[4:20] == req[4:20]
    except OSError:
        return False


def tcpflood(host, port, srcspec, conns, seconds, honest):
    srcs = sources(srcspec)
    want = [srcs[k % len(srcs)] for k in range(conns)]
    held = [None] * conns
    opened = 0
    result = {"asked": 0, "answered": 0}
    stop = threading.Event()

    def honest_client():
        time.sleep(1)                   # the crowd is in first
        while not stop.is_set():
            result["asked"] += 1
            result["answered"] += tcp_answer(host, port, honest)
            time.sleep(0.5)

    t0 = time.monotonic()
    th = threading.Thread(target=honest_client)
    th.start()
    try:
        while time.monotonic() - t0 < seconds:
            for k in range(conns):
                s = held[k]
                if s is not None:
                    try:
                        s.send(b"\0", socket.MSG_DONTWAIT)
                        if s.recv(64, socket.MSG_DONTWAIT) == b"":
                            raise OSError("closed")
                    except BlockingIOError:
                        pass
                    except OSError:
                        s.close()
                        held[k] = s = None
                if s is None and opened < 20 * conns:
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    s.setblocking(False)
                    s.bind((want[k], 0))
                    try:
                        s.connect((host, port))
                    except BlockingIOError:
                        pass
                    except OSError:
                        s.close()
                        continue
                    held[k] = s
                    opened += 1
            time.sleep(1)
    finally:
        stop.set()
        th.join()
        for s in held:
            if s is not None:
                s.close()
    print("honest=%d/%d opened=%d" % (result["answered"], result["asked"],
                                      opened))


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[:1] == ["spoof"] and len(a) == 5:
        spoof(a[1], a[2], float(a[3]), int(a[4]))
    elif a[:1] == ["trickle"] and len(a) == 4:
        trickle(a[1], int(a[2]), float(a[3]))
    elif a[:1] == ["tcpflood"] and len(a) == 7:
        tcpflood(a[1], int(a[2]), a[3], int(a[4]), float(a[5]), a[6])
    else:
        sys.exit(__doc__)
