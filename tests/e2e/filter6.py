#!/usr/bin/env python3
"""filter6.py: tells a firewall's UDP filtering by real packets (lab6.sh).

    filter6.py server A1 A2 PORT SECONDS
    filter6.py host SERVER PORT P Q SECONDS

The host side binds ports P and Q (P+1), sends "hello" from P to
SERVER:PORT (three times, 0.2 s apart) and prints, after SECONDS, the
marks that came back to each: "P:abc Q:d" at most, "P:- Q:-" when none
came, "error WHY" when it cannot send.  The server side
listens on A1:PORT and, for the first hello of each source, sends from
  a  A1:PORT      (the address and port the host sent to)
  b  A1:PORT+1    (same address, another port)
  c  A2:PORT+1    (another address)
to the source, and d from A2:PORT+1 to the source's address at port
P+1 (Q, from which the host never sent), each three times.  It prints
"from ADDR PORT" for each source and exits after SECONDS.  So a router
without a filter gives "P:abc Q:d", endpoint-independent filtering
"P:abc Q:-", address-dependent "P:ab Q:-", address-and-port-dependent
"P:a Q:-", and UDP blocked "P:- Q:-".  Every datagram goes only to the lab address
that sent a hello, at most 12 for one hello.
"""
import select
import socket
import sys
import time


def udp(addr, port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    return s


def server(a1, a2, port, secs):
    sa = udp(a1, port)
    sb = udp(a1, port + 1)
    sc = udp(a2, port + 1)
    seen = set()
    end = time.monotonic() + secs
    while time.monotonic() < end:
        r, _, _ = select.select([sa], [], [], max(0, end - time.monotonic()))
        if not r:
            continue
        data, src = sa.recvfrom(2048)
        if data != b"hello" or src[:2] in seen:
            continue
        seen.add(src[:2])
        print("from", src[0], src[1], flush=True)
        for _ in range(3):
            sa.sendto(b"a", src[:2])
            sb.sendto(b"b", src[:2])
            sc.sendto(b"c", src[:2])
            sc.sendto(b"d", (src[0], src[1] + 1))
            time.sleep(0.05)


def host(srv, port, p, q, secs):
    sp = udp("::", p)
    sq = udp("::", q)
    got = {sp: set(), sq: set()}
    end = time.monotonic() + secs
    sends = 0
    try:
        sp.sendto(b"hello", (srv, port))
    except OSError as e:
        print("error", e.strerror.replace(" ", "-").lower())
        return
    sends = 1
    last = time.monotonic()
    while time.monotonic() < end:
        if sends < 3 and time.monotonic() - last >= 0.2:
            sp.sendto(b"hello", (srv, port))
            sends += 1
            last = time.monotonic()
        r, _, _ = select.select([sp, sq], [], [], 0.05)
        for s in r:
            data, _ = s.recvfrom(2048)
            got[s].add(data.decode("ascii", "replace"))
    print("P:%s Q:%s" % ("".join(sorted(got[sp])) or "-",
                         "".join(sorted(got[sq])) or "-"))


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) == 5 and a[0] == "server":
        server(a[1], a[2], int(a[3]), float(a[4]))
    elif len(a) == 6 and a[0] == "host":
        host(a[1], int(a[2]), int(a[3]), int(a[4]), float(a[5]))
    else:
        sys.exit(__doc__)
