#!/usr/bin/env python3
"""fake_rv.py: a hostile rendezvous server for the clients' tests.

    fake_rv.py [-l ADDR] [-r RECORDS] [-s BYTES] [-t SECONDS] MODE

Listens on ADDR (127.0.0.1 by default, port 0), prints "ready PORT" on
stdout, and answers the HTTP API (GET /v1/peers, /v1/peers/ID) and the
WebSocket session (/v1/ws, RFC 6455) of nat(7) as MODE says.  RECORDS
is a file of peer records, one JSON object a line, that it serves.  It
exits after SECONDS (30 by default) whatever happens, and logs what it
did to stderr ("page N", "ws: ...").

HTTP modes:
  normal        every record on one page; by id, the record or 404
  slow          each page after 0.3 s, and always a next page
  drip          the page one byte every 0.2 s
  huge          a page of BYTES (100 MB by default), sent at once
  flood         pages of 100 records of 4,000 bytes (BYTES with -s),
                always a next one
  endless       pages of the records, always a next one, at once
  big-record    a record of 5,000 bytes
  too-many      101 records on a page
  garbage       200 and random bytes
  error-escapes 400 with escape sequences in the error code
  silent        reads the request and never answers
WebSocket modes (HTTP as normal):
  ws-normal     hello, welcome, and a signal to the sender's own session
                forwarded back to it (nat-query's barrier)
  ws-error-escapes  the signal refused with escapes in code and reason
  ws-replay     welcome and hello sent again 25 times for each signal,
                and nothing forwarded
  ws-oversize   a 1 MiB text message instead of hello, then silence
  ws-garbage    bytes that are no WebSocket frame after the handshake
  ws-bad-accept a 101 whose Sec-WebSocket-Accept is not the key's
  ws-masked     hello in a masked frame (a server must not mask)
  ws-split      as ws-normal, but the 101 and every frame after it
                written a few bytes at a time, hello in three fragments
                with a ping between them; the pong must carry the ping's
                exact bytes, else the session ends
Traffic: only the connections clients make to ADDR; each send is
bounded by the mode (BYTES at most) and by -t.
"""
import base64
import hashlib
import json
import os
import socket
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
ESC = "\x1b]0;owned\x07\x1b[2J\x1b[31m\u009b1m"


def log(*a):
    print("fake_rv:", *a, file=sys.stderr, flush=True)


class Conn:
    def __init__(self, sock, opts):
        self.s = sock
        self.o = opts
        self.buf = b""

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 16384:
                return None
            d = self.s.recv(4096)
            if not d:
                return None
            self.buf += d
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        hdrs = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        return method, target, hdrs

    def send(self, status, body, ctype="application/json", drip=0):
        if isinstance(body, str):
            body = body.encode()
        head = ("HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                "Connection: close\r\n\r\n" % (status, ctype, len(body)))
        self.s.sendall(head.encode())
        if drip:
            for i in range(len(body)):
                self.s.sendall(body[i:i + 1])
                time.sleep(drip)
        else:
            self.s.sendall(body)

    # -- HTTP --------------------------------------------------------------

    def page(self, peers, nxt):
        return json.dumps({"peers": peers, "next": nxt})

    def http(self, target):
        o = self.o
        mode = o.mode
        u = urlsplit(target)
        q = parse_qs(u.query)
        cursor = q.get("cursor", [""])[0]
        n = int(cursor[1:]) + 1 if cursor.startswith("c") else 0
        nxt = "c%06d" % n
        o.pages += 1
        log("page", o.pages, target)
        recs = o.records
        if u.path.startswith("/v1/peers/"):
            want = u.path[len("/v1/peers/"):]
            for r in recs:
                if r.get("id") == want:
                    return self.send("200 OK", json.dumps(r))
            return self.send("404 Not Found",
                             '{"error":"unknown-peer","reason":"no"}')
        if u.path != "/v1/peers":
            return self.send("404 Not Found", '{"error":"not-found"}')
        if mode == "slow":
            time.sleep(0.3)
            return self.send("200 OK", self.page(recs, nxt))
        if mode == "drip":
            return self.send("200 OK", self.page(recs, None), drip=0.2)
        if mode == "huge":
            pad = b"x" * 65536
            body_len = o.size
            head = ('{"peers":[{"type":"peer","pad":"').encode()
            tail = b'"}],"next":null}'
            total = len(head) + body_len + len(tail)
            self.s.sendall(("HTTP/1.1 200 OK\r\nContent-Type: "
                            "application/json\r\nContent-Length: %d\r\n"
                            "Connection: close\r\n\r\n" % total).encode())
            self.s.sendall(head)
            left = body_len
            while left > 0:
                k = min(left, len(pad))
                self.s.sendall(pad[:k])
                left -= k
            return self.s.sendall(tail)
        if mode == "flood":
            one = {"type": "peer", "id": "x", "pad": "y" * o.pad}
            return self.send("200 OK", self.page([one] * 100, nxt))
        if mode == "endless":
            return self.send("200 OK", self.page(recs, nxt))
        if mode == "big-record":
            return self.send("200 OK", self.page(
                [{"type": "peer", "id": "x", "pad": "y" * 5000}], None))
        if mode == "too-many":
            return self.send("200 OK", self.page(
                [{"type": "peer", "id": "x%d" % i} for i in range(101)],
                None))
        if mode == "garbage":
            return self.send("200 OK", os.urandom(4096))
        if mode == "error-escapes":
            return self.send("400 Bad Request", json.dumps(
                {"error": ESC, "reason": ESC}))
        if mode == "silent":
            time.sleep(o.lifetime)
            return None
        return self.send("200 OK", self.page(recs, None))

    # -- WebSocket ---------------------------------------------------------

    def ws_send(self, text, opcode=1):
        data = text.encode() if isinstance(text, str) else text
        n = len(data)
        if n < 126:
            head = bytes([0x80 | opcode, n])
        elif n < 65536:
            head = bytes([0x80 | opcode, 126]) + n.to_bytes(2, "big")
        else:
            head = bytes([0x80 | opcode, 127]) + n.to_bytes(8, "big")
        self.out(head + data)

    def out(self, b):
        """Sends b: in pieces of 1 to 3 bytes in mode ws-split."""
        if self.o.mode != "ws-split":
            self.s.sendall(b)
            return
        i = 0
        while i < len(b):
            k = 1 + i % 3
            self.s.sendall(b[i:i + k])
            time.sleep(0.001)
            i += k

    def ws_recv(self):
        """Returns (opcode, payload) of the next frame, or None."""
        def need(k):
            while len(self.buf) < k:
                d = self.s.recv(65536)
                if not d:
                    raise EOFError
                self.buf += d
        need(2)
        op = self.buf[0] & 15
        n = self.buf[1] & 127
        off = 2
        if n == 126:
            need(4)
            n = int.from_bytes(self.buf[2:4], "big")
            off = 4
        elif n == 127:
            need(10)
            n = int.from_bytes(self.buf[2:10], "big")
            off = 10
        if n > 1 << 20:
            raise EOFError
        need(off + 4 + n)
        mask = self.buf[off:off + 4]
        data = bytes(b ^ mask[i % 4] for i, b in
                     enumerate(self.buf[off + 4:off + 4 + n]))
        self.buf = self.buf[off + 4 + n:]
        return op, data

    def ws_next(self):
        """Returns the next text message as an object, answering pings."""
        while True:
            op, data = self.ws_recv()
            if op == 8:
                raise EOFError
            if op == 9:
                self.ws_send(data, 10)
                continue
            if op == 1:
                return json.loads(data)

    def ws(self, hdrs):
        o = self.o
        key = hdrs.get("sec-websocket-key", "")
        acc = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest())
        proto = ("Sec-WebSocket-Protocol: natkit.v1\r\n"
                 if "natkit.v1" in hdrs.get("sec-websocket-protocol", "")
                 else "")
        if o.mode == "ws-bad-accept":
            acc = base64.b64encode(hashlib.sha1(b"x" + GUID).digest())
        self.out(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: "
                  "websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Accept: %s\r\n%s\r\n" %
                  (acc.decode(), proto)).encode())
        log("ws: upgraded")
        if o.mode == "ws-oversize":
            self.ws_send('{"type":"hello","nonce":"' + "n" * (1 << 20) +
                         '","version":1}')
            log("ws: sent 1 MiB")
            time.sleep(o.lifetime)
            return
        if o.mode == "ws-garbage":
            self.s.sendall(os.urandom(2048))
            log("ws: sent garbage")
            time.sleep(1)
            return
        nonce = base64.b64encode(os.urandom(32)).decode()
        hello = json.dumps({"type": "hello", "nonce": nonce, "version": 1})
        if o.mode == "ws-masked":
            data, mask = hello.encode(), b"\x01\x02\x03\x04"
            self.s.sendall(bytes([0x81, 0x80 | len(data)]) + mask +
                           bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
            log("ws: sent hello masked")
            time.sleep(1)
            return
        if o.mode == "ws-split":
            # hello in three fragments, a ping between the first two.
            h, ping = hello.encode(), bytes(range(0, 250, 2))[:125]
            self.out(bytes([0x01, 10]) + h[:10])
            self.out(bytes([0x89, len(ping)]) + ping)
            self.out(bytes([0x00, 5]) + h[10:15])
            self.out(bytes([0x80, len(h) - 15]) + h[15:])
            op, data = self.ws_recv()
            if op != 10 or data != ping:
                log("ws: no pong of the ping's bytes:", op, data[:16])
                return
            log("ws: pong with the ping's bytes")
        else:
            self.ws_send(hello)
        auth = self.ws_next()
        me = auth.get("id", "")
        tag = auth.get("tag", "-")
        welcome = json.dumps({"type": "welcome", "id": me, "tag": tag})
        self.ws_send(welcome)
        log("ws: welcomed", me, tag)
        while True:
            m = self.ws_next()
            log("ws: got", m.get("type"), m.get("to"), m.get("ref"))
            if m.get("type") != "signal":
                continue
            if o.mode == "ws-replay":
                for _ in range(25):
                    self.ws_send(welcome)
                    self.ws_send(hello)
                log("ws: replayed 25")
                continue
            if o.mode == "ws-error-escapes":
                self.ws_send(json.dumps({"type": "error", "code": ESC,
                                         "reason": ESC,
                                         "ref": m.get("ref")}))
                continue
            own = me + ("/" + tag if tag != "-" else "")
            if m.get("to") == own:
                self.ws_send(json.dumps({"type": "signal", "from": own,
                                         "body": m.get("body")}))

    def run(self):
        try:
            req = self.read_head()
            if req is None:
                return
            method, target, hdrs = req
            if hdrs.get("upgrade", "").lower() == "websocket":
                self.ws(hdrs)
            else:
                self.http(target)
        except (EOFError, OSError, ValueError) as e:
            log("connection ended:", type(e).__name__)
        finally:
            self.s.close()


class Opts:
    pass


def main():
    o = Opts()
    o.addr, o.size, o.lifetime, o.records = "127.0.0.1", 100 << 20, 30, []
    o.pages, o.pad = 0, 4000
    args = sys.argv[1:]
    while len(args) > 1 and args[0].startswith("-"):
        flag, val = args[0], args[1]
        args = args[2:]
        if flag == "-l":
            o.addr = val
        elif flag == "-r":
            with open(val) as f:
                o.records = [json.loads(ln) for ln in f if ln.strip()]
        elif flag == "-s":
            o.size = o.pad = int(val)
        elif flag == "-t":
            o.lifetime = float(val)
        else:
            sys.exit("usage: fake_rv.py [-l addr] [-r records] [-s bytes] "
                     "[-t seconds] mode")
    if len(args) != 1:
        sys.exit("usage: fake_rv.py [-l addr] [-r records] [-s bytes] "
                 "[-t seconds] mode")
    o.mode = args[0]
    fam = socket.AF_INET6 if ":" in o.addr else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((o.addr, 0))
    ls.listen(64)
    print("ready", ls.getsockname()[1], flush=True)
    end = time.monotonic() + o.lifetime
    ls.settimeout(0.2)
    while time.monotonic() < end:
        try:
            c, _ = ls.accept()
        except socket.timeout:
            continue
        c.settimeout(o.lifetime)
        threading.Thread(target=Conn(c, o).run, daemon=True).start()
    log("lifetime over after", o.pages, "pages")


if __name__ == "__main__":
    main()
