#!/usr/bin/env python3
"""hostile.py: a hostile client of nat-rendezvousd, for hostile_rv.sh.

One subcommand per attack.  Each talks to loopback only (the server on
127.0.0.1, sources in 127.0.0.0/8), is bounded in connections, bytes and
time, and ends with one line of key=value fields that the test compares
whole.  Python's standard library only.

  pipeline PORT KIND N     N requests (KIND get, post or mix) in one write
  keepalive PORT KIND      a second request after the first was answered
  split PORT               one request cut in two at every byte, and one
                           sent a byte at a time
  trickle PORT WHAT        a request whose headers or body come a byte at
                           a time, a quarter of a second apart
  upgrade-mix PORT         a request and an upgrade in one write, and an
                           upgrade with HTTP bytes behind it
  idle PORT N [options]    N connections that never send a byte, held
                           (and opened again when closed) until --hold
                           seconds have passed; prints "holding" first
  honest PORT N            N requests each on a new connection, timed:
                           the figures of a client that means no harm
  get PORT METHOD PATH     the status of one request
  metrics PORT NAME...     the values of counters in /metrics
"""
import argparse
import ipaddress
import resource
import selectors
import socket
import sys
import time

HOST = "127.0.0.1"
# A peer id nobody holds.  A signal over HTTP is answered 401 (signals go
# over a session) once its body has been read whole and parsed: a body
# read wrong would be answered 400.
PEER = "a" * 26

# Every exchange gives up after this long; an attack as a whole after the
# bound its own arguments set.
IO_TIMEOUT = 5.0


def request(method, path, body=None, extra=""):
    """One HTTP/1.1 request as bytes."""
    head = "%s %s HTTP/1.1\r\nHost: %s\r\n%s" % (method, path, HOST, extra)
    if body is None:
        return (head + "\r\n").encode()
    return (head + "Content-Type: application/json\r\n"
            "Content-Length: %d\r\n\r\n" % len(body)).encode() + body


def signal_request():
    return request("POST", "/v1/signal",
                   b'{"to":"%s","body":{"hostile":1}}' % PEER.encode())


def upgrade_request():
    return request("GET", "/v1/ws", extra=(
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Protocol: natkit.v1\r\n"
        "Sec-WebSocket-Version: 13\r\n"))


def connect(port, source=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if source is not None:
        s.bind((source, 0))
    s.settimeout(IO_TIMEOUT)
    s.connect((HOST, port))
    return s


def read_all(s, deadline):
    """Reads until the peer closes or the deadline.  Returns (bytes, how
    it ended: eof, reset or timeout)."""
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return data, "timeout"
        s.settimeout(left)
        try:
            b = s.recv(65536)
        except socket.timeout:
            return data, "timeout"
        except ConnectionResetError:
            return data, "reset"
        if not b:
            return data, "eof"
        data += b


def read_response(s, deadline):
    """Reads until one whole response came, the peer closed or the
    deadline: a server that keeps the connection open costs no wait."""
    data = b""
    while not responses(data)[0] and time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            b = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not b:
            break
        data += b
    return data


def responses(data):
    """Splits what a server sent into HTTP responses (each with a
    Content-Length) and what follows them.  Returns ([(status, headers,
    body)], rest)."""
    out = []
    while data.startswith(b"HTTP/1.1 "):
        end = data.find(b"\r\n\r\n")
        if end < 0:
            break
        lines = data[:end].decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        if status == 101:
            n = 0
        if len(data) < end + 4 + n:
            break
        out.append((status, headers, data[end + 4:end + 4 + n]))
        data = data[end + 4 + n:]
        if status == 101:
            break
    return out, data


def describe(rs, rest, how):
    """The result line of what came back on one connection."""
    return "responses=%d status=%s connection=%s rest=%d close=%s" % (
        len(rs), ",".join(str(r[0]) for r in rs) or "-",
        rs[0][1].get("connection", "-") if rs else "-", len(rest), how)


def kind_requests(kind, n):
    reqs = []
    for i in range(n):
        if kind == "get" or (kind == "mix" and i % 2 == 0):
            reqs.append(request("GET", "/healthz"))
        else:
            reqs.append(signal_request())
    return reqs


def cmd_pipeline(a):
    """All N requests in one write: the server answers the first and
    closes (it must never spin: hostile_rv.sh checks it serves others)."""
    s = connect(a.port)
    s.sendall(b"".join(kind_requests(a.kind, a.n)))
    data, how = read_all(s, time.monotonic() + IO_TIMEOUT)
    s.close()
    rs, rest = responses(data)
    print(describe(rs, rest, how))


def cmd_keepalive(a):
    """A second request on the connection once the first was answered,
    as a keep-alive client would send it."""
    s = connect(a.port)
    first, second = kind_requests(a.kind, 2)
    s.sendall(first)
    data = read_response(s, time.monotonic() + IO_TIMEOUT)
    try:
        s.sendall(second)
    except OSError:
        pass  # closed already: as good
    more, how = read_all(s, time.monotonic() + IO_TIMEOUT)
    s.close()
    rs, rest = responses(data + more)
    print(describe(rs, rest, how))


def cmd_split(a):
    """A POST, and a GET, each cut in two at every byte (the halves a few
    milliseconds apart, so that they are read apart), and each sent a byte
    at a time: every cut must get the answer the whole request gets."""
    same = cuts = 0
    odd = []
    for req in (signal_request(), request("GET", "/healthz")):
        s = connect(a.port)
        s.sendall(req)
        want = read_response(s, time.monotonic() + IO_TIMEOUT)
        s.close()
        pieces = [[req[:k], req[k:]] for k in range(1, len(req))]
        pieces.append([req[k:k + 1] for k in range(len(req))])
        for parts in pieces:
            s = connect(a.port)
            for p in parts:
                s.sendall(p)
                time.sleep(0.002)
            got = read_response(s, time.monotonic() + IO_TIMEOUT)
            s.close()
            cuts += 1
            if got == want:
                same += 1
            elif len(odd) < 3:
                odd.append("%d:%r" % (len(parts[0]), got[:40]))
    print("cuts=%d same=%d%s" % (cuts, same,
                                 "".join(" odd=" + o for o in odd)))


def cmd_upgrade_mix(a):
    """A GET and an upgrade in one write: the GET is answered and the
    connection closed.  An upgrade with an HTTP request behind it in the
    same write: the upgrade is accepted, and the bytes behind it are taken
    for WebSocket frames (not frames: the session is closed)."""
    s = connect(a.port)
    s.sendall(request("GET", "/healthz") + upgrade_request())
    data, how = read_all(s, time.monotonic() + IO_TIMEOUT)
    s.close()
    rs, rest = responses(data)
    print("get+upgrade " + describe(rs, rest, how))
    s = connect(a.port)
    s.sendall(upgrade_request() + request("GET", "/healthz"))
    data, how = read_all(s, time.monotonic() + IO_TIMEOUT)
    s.close()
    rs, rest = responses(data)
    # What follows the 101: the hello text frame, then a close frame
    # whose status code says why.
    code = "-"
    i = 0
    while i + 2 <= len(rest):
        op, n = rest[i] & 0x0f, rest[i + 1] & 0x7f
        i += 2
        if n == 126:
            n = int.from_bytes(rest[i:i + 2], "big")
            i += 2
        if op == 0x8 and n >= 2:
            code = str(int.from_bytes(rest[i:i + 2], "big"))
        i += n
    print("upgrade+get " + describe(rs, b"", how) + " ws_close=" + code)


def cmd_trickle(a):
    """A request whose headers, or whose 40-byte body, come a byte every
    quarter of a second: 10 s for the body, more for the headers, unless
    the server ends it first."""
    body = b"{" * 40
    head = request("POST", "/v1/signal", extra=(
        "Content-Type: application/json\r\n"
        "Content-Length: %d\r\n" % len(body)))
    s = connect(a.port)
    slow = head + body if a.what == "headers" else body
    if a.what == "body":
        s.sendall(head)
    data, how = b"", "timeout"
    end = time.monotonic() + 20
    for i in range(len(slow)):
        try:
            s.sendall(slow[i:i + 1])
        except OSError:
            how = "reset"
            break
        s.settimeout(0.25)
        try:
            b = s.recv(65536)
            if not b:
                how = "eof"
                break
            data += b
        except socket.timeout:
            pass
        except ConnectionResetError:
            how = "reset"
            break
        if responses(data)[0]:
            # Answered: no more bytes (they would draw a reset), just
            # how the connection ends.
            more, how = read_all(s, time.monotonic() + IO_TIMEOUT)
            data += more
            break
        if time.monotonic() > end:
            break
    else:
        more, how = read_all(s, time.monotonic() + IO_TIMEOUT)
        data += more
    s.close()
    rs, rest = responses(data)
    # A byte sent as the server closes draws a reset instead of the end
    # of file: both are the server closing.
    print(describe(rs, rest, "closed" if how in ("eof", "reset") else how))


def sources(first, per, n):
    """n source addresses, per of them on each address from first on."""
    base = ipaddress.IPv4Address(first)
    for i in range(n):
        addr = base + i // per
        if not addr.is_loopback:
            raise SystemExit("hostile.py: %s is not loopback" % addr)
        yield str(addr)


def cmd_idle(a):
    """N connections that never send a byte, per of them from each source
    address, held until --hold seconds have passed; one the server closes
    is opened again, at most --rate a second in all."""
    want = a.n + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    sel = selectors.DefaultSelector()
    addrs = list(sources(a.source, a.per, a.n))
    opened = refused = closed = 0
    end = time.monotonic() + a.hold
    budget = a.rate * (a.hold + 10)  # connects in all, first ones included

    def open_one(src):
        nonlocal opened, refused
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((src, 0))
        s.settimeout(IO_TIMEOUT)
        try:
            s.connect((HOST, a.port))
        except OSError:
            s.close()
            refused += 1
            return
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, src)
        opened += 1

    for src in addrs:
        if opened + refused < budget:
            open_one(src)
    print("holding n=%d opened=%d refused=%d" % (len(sel.get_map()),
                                                   opened, refused),
          flush=True)
    waiting = []  # addresses whose connection the server closed
    next_open = time.monotonic()
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=0.05):
            s = key.fileobj
            try:
                b = s.recv(4096)
            except OSError:
                b = b""
            if not b:
                sel.unregister(s)
                s.close()
                closed += 1
                waiting.append(key.data)
        now = time.monotonic()
        while waiting and now >= next_open and opened + refused < budget:
            open_one(waiting.pop())
            next_open = max(next_open + 1.0 / a.rate, now - 1.0)
    held = len(sel.get_map())
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    print("held=%d opened=%d refused=%d closed_by_server=%d" %
          (held, opened, refused, closed), flush=True)


def cmd_honest(a):
    """n GET /healthz, each on a new connection, one after the other;
    prints how many were answered 200 and the times from connect to the
    whole answer."""
    times = []
    ok = 0
    for _ in range(a.n):
        t0 = time.monotonic()
        try:
            s = connect(a.port)
            s.sendall(request("GET", "/healthz"))
            data = read_response(s, t0 + a.timeout)
            s.close()
        except OSError:
            data = b""
        times.append((time.monotonic() - t0) * 1000)
        rs, _ = responses(data)
        if rs and rs[0][0] == 200:
            ok += 1
    times.sort()

    def pct(p):
        return times[min(len(times) - 1, int(len(times) * p))]
    print("n=%d ok=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f" %
          (a.n, ok, pct(0.5), pct(0.99), times[-1]))


def cmd_get(a):
    """The status of one request, METHOD PATH."""
    s = connect(a.port)
    s.sendall(request(a.method, a.path, b"{}" if a.method == "POST"
                      else None))
    data = read_response(s, time.monotonic() + IO_TIMEOUT)
    s.close()
    rs, _ = responses(data)
    print(rs[0][0] if rs else "-")


def cmd_metrics(a):
    s = connect(a.port)
    s.sendall(request("GET", "/metrics"))
    data = read_response(s, time.monotonic() + IO_TIMEOUT)
    s.close()
    rs, _ = responses(data)
    values = {}
    if rs:
        for line in rs[0][2].decode().splitlines():
            if line and not line.startswith("#"):
                k, _, v = line.rpartition(" ")
                values[k] = v
    print(" ".join("%s=%s" % (n, values.get(n, "-")) for n in a.names))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("pipeline")
    c.add_argument("port", type=int)
    c.add_argument("kind", choices=("get", "post", "mix"))
    c.add_argument("n", type=int, choices=range(2, 101))
    c = sub.add_parser("keepalive")
    c.add_argument("port", type=int)
    c.add_argument("kind", choices=("get", "post", "mix"))
    c = sub.add_parser("split")
    c.add_argument("port", type=int)
    c = sub.add_parser("trickle")
    c.add_argument("port", type=int)
    c.add_argument("what", choices=("headers", "body"))
    c = sub.add_parser("upgrade-mix")
    c.add_argument("port", type=int)
    c = sub.add_parser("idle")
    c.add_argument("port", type=int)
    c.add_argument("n", type=int, choices=range(1, 10001))
    c.add_argument("--source", default="127.1.0.1")
    c.add_argument("--per", type=int, default=50)
    c.add_argument("--hold", type=float, default=10.0)
    c.add_argument("--rate", type=float, default=200.0)
    c = sub.add_parser("honest")
    c.add_argument("port", type=int)
    c.add_argument("n", type=int, choices=range(1, 10001))
    c.add_argument("--timeout", type=float, default=IO_TIMEOUT)
    c = sub.add_parser("get")
    c.add_argument("port", type=int)
    c.add_argument("method", choices=("GET", "POST"))
    c.add_argument("path")
    c = sub.add_parser("metrics")
    c.add_argument("port", type=int)
    c.add_argument("names", nargs="+")
    a = p.parse_args()
    if a.cmd == "idle" and not 1 <= a.hold <= 600:
        p.error("--hold: from 1 to 600 seconds")
    {"pipeline": cmd_pipeline, "keepalive": cmd_keepalive,
     "split": cmd_split, "trickle": cmd_trickle,
     "upgrade-mix": cmd_upgrade_mix, "idle": cmd_idle,
     "honest": cmd_honest, "get": cmd_get,
     "metrics": cmd_metrics}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
