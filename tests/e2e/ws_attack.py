#!/usr/bin/env python3
"""ws_attack.py: hostile WebSocket clients for nat-rendezvousd (issue 12).

usage: ws_attack.py [-b src] [-i secs] [-m mib] [-Q bytes] [-t secs]
           [-w secs] host:port attack ... | all | list | fuzz secs [seed]

Its own RFC 6455 client over a plain socket, so that every byte can be
wrong: reserved bits, unknown opcodes, unmasked frames, lying lengths.
Each attack (list names them, all runs those for a server with its
default budgets) is bounded in count and time, checks its own outcome
against what it expects and prints one line, "ok   attack NAME: OUTCOME
| FIGURES" or "FAIL attack NAME: OUTCOME -- want: EXPECTED"; then
/healthz must answer.  fuzz sends mutated transcripts for secs seconds
(see The network fuzzer below) and prints its counts.  Exit 0 when
every check held, 1 when one did not, 2 when the server does not answer
/healthz at the start, 64 usage.

-b binds the attacking sockets to src (another loopback address), so
that the per-address budgets an attack spends are not the honest
client's; the attacks that need many addresses take 127.0.N.M of their
own.  -i, -t and -Q are the server's -i, -t and -Q (3, 3 and 65536 by
default); -m allows the memory bounds that many MiB more (ASan's
quarantine); -w bounds each wait (5 s).  Python's standard library
only; the Ed25519 signatures of auth come from libsodium (natkit's own
dependency) through ctypes.  Loopback only: the server must be on
127.0.0.0/8 or ::1.
"""
import base64
import ctypes
import ctypes.util
import hashlib
import json
import os
import random
import re
import select
import socket
import struct
import sys
import time

# ---------------------------------------------------------------------------
# Identity: the same keys as rv-client-tool -k NAME (ident.h).

_sodium = None


def sodium():
    global _sodium
    if _sodium is None:
        lib = ctypes.util.find_library("sodium")
        if lib is None:
            raise SystemExit("ws_attack: no libsodium")
        _sodium = ctypes.CDLL(lib)
        if _sodium.sodium_init() < 0:
            raise SystemExit("ws_attack: sodium_init failed")
    return _sodium


class Ident:
    """An Ed25519 key made from a name, as rv-client-tool's -k."""

    def __init__(self, name):
        seed = hashlib.blake2b(("natkit-test " + name).encode(),
                               digest_size=32).digest()
        pk = ctypes.create_string_buffer(32)
        self.sk = ctypes.create_string_buffer(64)
        sodium().crypto_sign_seed_keypair(pk, self.sk, seed)
        self.pk = pk.raw
        h = hashlib.blake2b(self.pk, digest_size=32).digest()[:16]
        self.id = base64.b32encode(h).decode().lower().rstrip("=")
        self.key = base64.b64encode(self.pk).decode()

    def sign(self, msg):
        sig = ctypes.create_string_buffer(64)
        sodium().crypto_sign_detached(sig, None, msg, ctypes.c_ulonglong(
            len(msg)), self.sk)
        return base64.b64encode(sig.raw).decode()

    def signed(self, domain, fields):
        """fields (a dict of strings, "type" first) with its "sig"."""
        canon = "natkit %s v1\n" % domain + "".join(
            "%s=%s\n" % (k, fields[k]) for k in sorted(fields))
        out = dict(fields)
        out["sig"] = self.sign(canon.encode())
        return out


# ---------------------------------------------------------------------------
# The WebSocket client.

class Closed(Exception):
    """The server closed: code (1006 for no close frame)."""

    def __init__(self, code):
        Exception.__init__(self, "closed %d" % code)
        self.code = code


class Timeout(Exception):
    pass


OPT = {"addr": None, "src": None, "wait": 5.0}


def tcp(src=None, timeout=None):
    host, port = OPT["addr"]
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                      socket.SOCK_STREAM)
    if src or OPT["src"]:
        s.bind((src or OPT["src"], 0))
    s.settimeout(timeout if timeout is not None else OPT["wait"])
    s.connect((host, port))
    return s


def hostport():
    host, port = OPT["addr"]
    return ("[%s]" % host if ":" in host else host) + ":%d" % port


def frame(op, payload=b"", fin=True, rsv=0, mask=True, length=None,
          lenform=None):
    """One frame's bytes.  length lies about the payload's length;
    lenform (7, 16 or 64) picks the length's encoding, minimal or not."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv & 7) << 4 | op
    m = 0x80 if mask else 0
    form = lenform or (7 if n < 126 else 16 if n < 65536 else 64)
    if form == 7:
        h = struct.pack("!BB", b0, m | n)
    elif form == 16:
        h = struct.pack("!BBH", b0, m | 126, n)
    else:
        h = struct.pack("!BBQ", b0, m | 127, n)
    if not mask:
        return h + payload
    key = os.urandom(4)
    n = len(payload)
    pad = (key * (n // 4 + 1))[:n]
    return h + key + (int.from_bytes(payload, "big") ^ int.from_bytes(
        pad, "big")).to_bytes(n, "big")


class WS:
    """A client session; every method bounded by OPT["wait"]."""

    def __init__(self, src=None, host=None, path="/v1/ws",
                 proto="natkit.v1", handshake=True):
        self.s = tcp(src)
        self.buf = b""
        self.nopong = False
        self.pongs = 0
        self.close_code = None
        self.host = host or hostport()
        if handshake:
            self.upgrade(path, proto)

    def upgrade(self, path="/v1/ws", proto="natkit.v1"):
        key = base64.b64encode(os.urandom(16)).decode()
        req = ("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n" % (path, self.host, key))
        if proto:
            req += "Sec-WebSocket-Protocol: %s\r\n" % proto
        self.s.sendall((req + "\r\n").encode())
        deadline = time.monotonic() + OPT["wait"]
        while b"\r\n\r\n" not in self.buf:
            self.fill(deadline)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status = head.split(b"\r\n", 1)[0]
        if not status.startswith(b"HTTP/1.1 101"):
            raise RuntimeError("upgrade refused: %s" % status.decode(
                "latin-1"))

    def send(self, data):
        try:
            self.s.sendall(data)
        except OSError:
            raise Closed(self.close_code or 1006)

    def text(self, obj):
        if not isinstance(obj, (bytes, str)):
            obj = json.dumps(obj, separators=(",", ":"))
        if isinstance(obj, str):
            obj = obj.encode()
        self.send(frame(1, obj))

    def fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise Timeout()
        self.s.settimeout(left)
        try:
            d = self.s.recv(65536)
        except socket.timeout:
            raise Timeout()
        except OSError:
            d = b""
        if not d:
            if self.close_code is None:
                self.close_code = 1006
            raise Closed(self.close_code)
        self.buf += d

    def frame_in(self, deadline):
        """The next frame: (fin, opcode, payload)."""
        while True:
            if len(self.buf) >= 2:
                n = self.buf[1] & 0x7f
                hl = 2 + (2 if n == 126 else 8 if n == 127 else 0)
                if len(self.buf) >= hl:
                    if n == 126:
                        n = struct.unpack("!H", self.buf[2:4])[0]
                    elif n == 127:
                        n = struct.unpack("!Q", self.buf[2:10])[0]
                    if len(self.buf) >= hl + n:
                        b0 = self.buf[0]
                        p = self.buf[hl:hl + n]
                        self.buf = self.buf[hl + n:]
                        return b0 & 0x80, b0 & 0x0f, p
            self.fill(deadline)

    def recv(self, deadline=None):
        """The next message: ("text", obj or raw) or ("binary", bytes);
        answers pings and close frames."""
        deadline = deadline or time.monotonic() + OPT["wait"]
        parts, kind = b"", None
        while True:
            if self.close_code is not None:
                raise Closed(self.close_code)
            fin, op, p = self.frame_in(deadline)
            if op == 9:
                if not self.nopong:
                    self.send(frame(10, p))
                continue
            if op == 10:
                self.pongs += 1
                continue
            if op == 8:
                self.close_code = struct.unpack("!H", p[:2])[0] \
                    if len(p) >= 2 else 1005
                try:
                    self.s.sendall(frame(8, p[:2]))
                except OSError:
                    pass
                raise Closed(self.close_code)
            if op in (1, 2):
                kind = op
            parts += p
            if fin:
                if kind == 2:
                    return "binary", parts
                try:
                    return "text", json.loads(parts)
                except (ValueError, RecursionError):
                    return "text", parts

    def expect(self, type_, **fields):
        kind, m = self.recv()
        if kind != "text" or not isinstance(m, dict) or \
                m.get("type") != type_ or any(
                    m.get(k) != v for k, v in fields.items()):
            raise RuntimeError("want %s %s, got %r" % (type_, fields, m))
        return m

    def outcome(self, secs=None):
        """Reads until the server closes or secs pass; returns what came:
        "error CODE" for each error (repeats counted), then "closed N"
        or "open"."""
        deadline = time.monotonic() + (secs or OPT["wait"])
        seen = []
        try:
            while True:
                kind, m = self.recv(deadline)
                if isinstance(m, dict) and m.get("type") == "error":
                    seen.append("error " + m.get("code", "?"))
                elif isinstance(m, dict):
                    seen.append(m.get("type", "?"))
                else:
                    seen.append(kind)
        except Closed as e:
            end = "closed %d" % e.code
        except Timeout:
            end = "open"
        return ", ".join(tally(seen) + [end])

    def auth(self, ident, tag="-", server=None):
        hello = self.expect("hello")
        a = ident.signed("auth", {"type": "auth", "id": ident.id,
                                  "key": ident.key, "nonce": hello["nonce"],
                                  "server": server or self.host, "tag": tag})
        self.text(a)
        return self.expect("welcome")

    def close(self):
        try:
            self.s.sendall(frame(8, b"\x03\xe8"))
        except OSError:
            pass
        self.s.close()


def tally(seen):
    """["a", "a", "b"] -> ["a x2", "b"], in order of first sight."""
    out, counts = [], {}
    for s in seen:
        if s not in counts:
            out.append(s)
        counts[s] = counts.get(s, 0) + 1
    return [s if counts[s] == 1 else "%s x%d" % (s, counts[s]) for s in out]


# ---------------------------------------------------------------------------
# The server's side: /metrics and /healthz, from the address the attacks
# leave alone.

def http_get(path, timeout=5.0):
    """(status, body) of a GET on a new connection, or (0, why)."""
    host, port = OPT["addr"]
    try:
        s = socket.create_connection((host, port), timeout=timeout)
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                   % (path, hostport())).encode())
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
        s.close()
    except OSError as e:
        return 0, str(e)
    head, _, body = data.partition(b"\r\n\r\n")
    try:
        return int(head.split(b" ")[1]), body
    except (IndexError, ValueError):
        return 0, "no status line"


def metrics():
    """The server's counters, by name with labels."""
    st, body = http_get("/metrics")
    if st != 200:
        raise RuntimeError("/metrics: %s %s" % (st, body))
    out = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = int(float(v))
    return out


def delta(before, after, *names):
    return [after.get(n, 0) - before.get(n, 0) for n in names]


def healthy():
    st, body = http_get("/healthz")
    return st == 200 and b'"status":"ok"' in body


# ---------------------------------------------------------------------------
# The attacks.  Each returns what it saw as a line that the table's
# expectation must equal, and figures (counts, rates) printed beside it.

ATTACKS = []
SERVER = {"ping": 3, "timeout": 3, "rate": 20, "burst": 40, "queue": 65536,
          "slack": 0}


def attack(name, want, doc, server="default"):
    """Registers an attack; server "no-budgets" for one that needs a
    server without message rate or signal budgets (-M 0 -S 0), which
    "all" leaves out."""
    def reg(fn):
        ATTACKS.append((name, fn, want, doc, server))
        return fn
    return reg


def authed(name="attacker", src=None, tag="-"):
    w = WS(src=src)
    w.auth(Ident(name), tag=tag)
    return w


PROBE = frame(1, b'{"type":"probe","ref":"probe"}')


def after(w, secs=None):
    """Sends a probe message after what the attack sent and reads: the
    errors that came, then "closed N" or, when the probe was answered
    (the server read on past the attack), "open"."""
    try:
        w.s.sendall(PROBE)
    except OSError:
        pass
    deadline = time.monotonic() + (secs or OPT["wait"])
    seen = []
    try:
        while True:
            kind, m = w.recv(deadline)
            if isinstance(m, dict) and m.get("ref") == "probe":
                end = "open"
                break
            if isinstance(m, dict) and m.get("type") == "error":
                seen.append("error " + m.get("code", "?"))
            else:
                seen.append(m.get("type", "?") if isinstance(m, dict)
                            else kind)
    except Closed as e:
        end = "closed %d" % e.code
    except Timeout:
        end = "no answer"
    w.s.close()
    return ", ".join(tally(seen) + [end])


def each(cases, auth=True):
    """Sends each case's bytes on a session of its own; returns the
    outcomes tallied ("closed 1002 x7") and the cases by outcome."""
    outs, by = [], {}
    for name, data in cases:
        w = authed() if auth else WS()
        if not auth:
            w.expect("hello")
        w.send(data)
        o = after(w)
        outs.append(o)
        by.setdefault(o, []).append(name)
    return ", ".join(tally(outs)), " ".join(
        "%s: %s;" % (o, " ".join(n)) for o, n in by.items())


MSG = b'{"type":"unregister"}'


@attack("frame-reserved-bits", "closed 1002 x7",
        "a frame with RSV1, RSV2, RSV3 set (each of the 7 mixes)")
def a_rsv():
    return each([("rsv%d" % r, frame(1, MSG, rsv=r)) for r in range(1, 8)])


@attack("frame-unknown-opcodes", "closed 1002 x10",
        "opcodes 3-7 and 0xb-0xf")
def a_opcodes():
    return each([("op%x" % o, frame(o, b"x")) for o in
                 (3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf)])


@attack("frame-unmasked", "error bad-type, open",
        "a client frame without a mask (lws 4.1.6 takes it, against "
        "RFC 6455 5.1)")
def a_unmasked():
    return each([("unmasked", frame(1, b'{"type":"nope"}', mask=False))])


@attack("frame-control-too-long", "closed 1006 x3",
        "ping, pong and close frames of 126 bytes (control frames carry "
        "at most 125)")
def a_ctl_long():
    return each([("ping", frame(9, b"p" * 126)), ("pong", frame(10, b"p" *
                 126)), ("close", frame(8, b"\x03\xe8" + b"c" * 124))])


@attack("frame-control-fragmented", "closed 1002 x3",
        "ping, pong and close frames without FIN")
def a_ctl_frag():
    return each([("ping", frame(9, b"p", fin=False)),
                 ("pong", frame(10, b"p", fin=False)),
                 ("close", frame(8, b"\x03\xe8", fin=False))])


@attack("frame-continuation-first", "closed 1002 x2",
        "a continuation frame with no message begun, with and without FIN")
def a_cont():
    return each([("fin", frame(0, MSG)), ("nofin", frame(0, MSG,
                                                         fin=False))])


@attack("frame-data-in-fragmented", "closed 1002 x2",
        "a new text or binary frame inside a fragmented message")
def a_data_in_frag():
    first = frame(1, b'{"type":', fin=False)
    return each([("text", first + frame(1, MSG)),
                 ("binary", first + frame(2, b"\0\0\0\1x"))])


@attack("frame-length-huge", "error too-large, closed 1009",
        "a frame that says it is 2^63-1 bytes long, and 9000 of them")
def a_len_huge():
    w = authed()
    w.send(frame(1, b"", length=(1 << 63) - 1)[:-4] + b"\0\0\0\0" +
           b" " * 9000)
    # No probe: it would only be more of the same frame.
    o = w.outcome()
    w.s.close()
    return o, ""


@attack("frame-length-bit63", "closed 1006",
        "a 64-bit length with its top bit set (2^63)")
def a_len_bit63():
    return each([("2^63", frame(1, MSG, length=1 << 63))])


@attack("frame-length-nonminimal", "error bad-type, open x2",
        "a small message with a 16-bit and with a 64-bit length")
def a_len_nonmin():
    m = b'{"type":"nope"}'
    return each([("16", frame(1, m, lenform=16)),
                 ("64", frame(1, m, lenform=64))])


@attack("frame-close-codes", "closed 1002 x12, closed 5000, closed 65535",
        "close frames with codes no endpoint may send: 0, 999, 1004-1006, "
        "1012-1016, 2999, and past 4999 (lws 4.1.6 echoes those two)")
def a_close_codes():
    return each([("%d" % c, frame(8, struct.pack("!H", c))) for c in
                 (0, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016,
                  1100, 2999, 5000, 65535)])


@attack("frame-close-malformed", "closed 1005, closed 1000",
        "a close frame of one byte, and one whose reason is not UTF-8 "
        "(lws 4.1.6 answers them as if they were right)")
def a_close_bad():
    return each([("one-byte", frame(8, b"\x03")),
                 ("bad-utf8", frame(8, b"\x03\xe8\xc3\x28"))])


BAD_UTF8 = [b"\xc3\x28", b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80", b"\xe2\x82"]


@attack("text-invalid-utf8", "error bad-json, closed 1007 x7; the victim "
        "got 1 signal",
        "text messages that are not UTF-8 (a bad continuation, 0xff, an "
        "overlong '/', a surrogate, past U+10FFFF, a cut sequence, one "
        "split across two frames), each as a signal to a victim, which "
        "must get none of them")
def a_utf8():
    victim = Ident("utf8-victim")
    v = authed("utf8-victim", src=OPT["src"])
    cases = []
    for i, b in enumerate(BAD_UTF8):
        cases.append(("bad%d" % i, frame(1, b'{"type":"signal","to":"' +
                      victim.id.encode() + b'","body":{"s":"' + b +
                      b'"}}')))
    pre = b'{"type":"signal","to":"%s","body":{"s":"\xe2' % \
        victim.id.encode()
    cases.append(("split", frame(1, pre, fin=False) + frame(0, b'\x28"}}')))
    out, figs = each(cases)
    # Then a good one, which must be the first thing the victim sees.
    w = authed()
    w.text({"type": "signal", "to": victim.id, "body": {"s": "\u00e9"}})
    got = []
    try:
        while True:
            kind, m = v.recv(time.monotonic() + 1)
            got.append(m)
            if isinstance(m, dict) and m.get("body") == {"s": "\u00e9"}:
                break
    except (Timeout, Closed):
        pass
    w.close()
    v.close()
    # Every message up to the good one; those that are not UTF-8 do not
    # parse as JSON.
    n = len(got)
    return "%s; the victim got %d signal%s" % (out, n, "s" * (n != 1)), figs


@attack("binary-frames", "error not-authenticated, open, error bad-type, "
        "open x2, error too-large, closed 1009",
        "binary messages: before auth, not of a relay, shorter than a "
        "relay id, longer than 1404 bytes")
def a_binary():
    o1, _ = each([("unauth", frame(2, b"\0\0\0\1x"))], auth=False)
    o2, _ = each([("norelay", frame(2, b"\0\0\0\1x")),
                  ("short", frame(2, b"\0\0"))])
    o3, _ = each([("long", frame(2, b"\0\0\0\1" + b"x" * 1401))])
    return ", ".join((o1, o2, o3)), ""


@attack("ping-flood", "open",
        "2000 pings of 125 bytes in one go, the pongs read after")
def a_ping_flood():
    w = authed()
    w.send(frame(9, b"y" * 125) * 2000)
    # lws answers the pings it read together with one pong.
    return after(w), "pongs=%d for 2000 pings" % w.pongs


# --- JSON ------------------------------------------------------------------

def victim_pair(name):
    """A victim session and an attacker's, both authenticated."""
    vid = Ident(name)
    return vid, authed(name, src=OPT["src"]), authed()


def first_signal(v, secs=1.0):
    """The raw text of the next signal v gets, or None."""
    deadline = time.monotonic() + secs
    try:
        while True:
            fin, op, p = v.frame_in(deadline)
            if op == 9:
                v.send(frame(10, p))
            elif op == 1 and b'"type":"signal"' in p[:20]:
                return p
    except (Timeout, Closed):
        return None


def sig_to(vid, body):
    return b'{"type":"signal","to":"' + vid.id.encode() + b'","body":' + \
        body + b'}'


@attack("json-size", "error bad-type, open; error too-large, closed 1009",
        "a message of 8192 bytes (the most) and one of 8193")
def a_json_size():
    def of(n):
        pre = b'{"type":"nope","pad":"'
        return pre + b"x" * (n - len(pre) - 2) + b'"}'
    o1, _ = each([("8192", frame(1, of(8192)))])
    o2, _ = each([("8193", frame(1, of(8193)))])
    return o1 + "; " + o2, ""


@attack("json-nesting", "forwarded; error bad-json, open; error bad-json, "
        "open; error too-large, closed 1009",
        "nesting of 1000 levels (cJSON's most) in a signal's body, 1001, "
        "4000 levels of [ (8000 bytes) and 10000 (too large first)")
def a_json_nest():
    vid, v, w = victim_pair("nest-victim")
    outs = []
    # The message is level 1, the body 2: 998 arrays make 1000.
    body = b'{"x":' + b"[" * 998 + b"]" * 998 + b"}"
    w.send(frame(1, sig_to(vid, body)))
    got = first_signal(v)
    outs.append("forwarded" if got is not None and got.endswith(
        b'"body":' + body + b"}") else "not forwarded: %r" % (got,))
    body = b'{"x":' + b"[" * 999 + b"]" * 999 + b"}"
    outs.append(each([("1001", frame(1, sig_to(vid, body)))])[0])
    outs.append(each([("4000", frame(1, b"[" * 4000 + b"]" * 4000))])[0])
    outs.append(each([("10000", frame(1, b"[" * 10000))])[0])
    v.close()
    w.close()
    return "; ".join(outs), ""


@attack("json-numbers", "forwarded as sent x5",
        "numbers no double holds: 5000 digits, 1e999999, -1e-999999, "
        "-0, 2^64+1, forwarded byte for byte")
def a_json_numbers():
    vid, v, w = victim_pair("num-victim")
    outs = []
    for num in (b"9" * 5000, b"1e999999", b"-1e-999999", b"-0",
                b"18446744073709551617"):
        body = b'{"n":' + num + b'}'
        w.send(frame(1, sig_to(vid, body)))
        got = first_signal(v)
        outs.append("forwarded as sent" if got is not None and
                    got.endswith(b'"body":' + body + b"}") else
                    "changed: %r" % (got[:80] if got else got,))
    v.close()
    w.close()
    return ", ".join(tally(outs)), ""


@attack("json-duplicate-keys", "the first of each: body {\"a\":1}; "
        "auth with two ids: error bad-field, open",
        "duplicate type, to and body members in a signal (the first "
        "counts, as cJSON reads it, and the body forwarded is that one), "
        "and an auth record with its id twice")
def a_json_dup():
    vid, v, w = victim_pair("dup-victim")
    w.send(frame(1, b'{"type":"signal","type":"relay","to":"' +
                 vid.id.encode() + b'","to":"aaaaaaaaaaaaaaaaaaaaaaaaaa",'
                 b'"body":{"a":1},"body":{"b":2}}'))
    got = first_signal(v)
    first = "body " + json.dumps(json.loads(got)["body"], separators=(
        ",", ":")) if got else "nothing"
    v.close()
    w.close()
    me = Ident("dup-auth")
    a = WS()
    hello = a.expect("hello")
    f = me.signed("auth", {"type": "auth", "id": me.id, "key": me.key,
                           "nonce": hello["nonce"], "server": a.host,
                           "tag": "-"})
    text = json.dumps(f, separators=(",", ":"))
    text = text[:-1] + ',"id":"%s"}' % me.id
    a.text(text)
    return "the first of each: %s; auth with two ids: %s" % (
        first, after(a)), ""


@attack("json-nul", "forwarded: nothing; error bad-json, open",
        "\\u0000 inside a string (cJSON would end the string there, and "
        "the body forwarded be another: refused) and a raw NUL byte")
def a_json_nul():
    vid, v, w = victim_pair("nul-victim")
    w.send(frame(1, sig_to(vid, b'{"s":"a\\u0000b"}')))
    got = first_signal(v)
    body = json.dumps(json.loads(got)["body"], separators=(",", ":")) \
        if got else "nothing"
    v.close()
    w.close()
    o, _ = each([("raw", frame(1, sig_to(vid, b'{"s":"a\x00b"}')))])
    return "forwarded: %s; %s" % (body, o), ""


# --- floods before authentication ---------------------------------------

@attack("flood-before-auth", "500 answered: not-authenticated, then "
        "rate-limited; closed 1006 by the auth timeout",
        "500 signals before auth, as fast as they go, then silence")
def a_flood_unauth():
    m0 = metrics()
    w = WS()
    w.expect("hello")
    msg = frame(1, b'{"type":"signal","to":"aaaaaaaaaaaaaaaaaaaaaaaaaa",'
                b'"body":{}}')
    t0 = time.monotonic()
    w.send(msg * 500)
    sent = time.monotonic() - t0
    counts, end = {}, "open"
    try:
        while True:
            kind, m = w.recv(time.monotonic() + SERVER["timeout"] + 3)
            c = m.get("code", "?") if isinstance(m, dict) else kind
            counts[c] = counts.get(c, 0) + 1
    except Closed as e:
        end = "closed %d" % e.code
    except Timeout:
        pass
    took = time.monotonic() - t0
    na, rl = counts.get("not-authenticated", 0), counts.get(
        "rate-limited", 0)
    by, = delta(m0, metrics(),
                'natkit_sessions_closed_total{reason="auth-timeout"}')
    # The burst, and what the rate refilled while they were sent.
    lo, hi = SERVER["burst"], SERVER["burst"] + int(SERVER["rate"] *
                                                    (sent + 0.1)) + 1
    ok = na + rl == 500 and len(counts) == 2 and lo <= na <= hi
    out = "%d answered: %s; %s%s" % (
        na + rl, "not-authenticated, then rate-limited" if ok else
        repr(counts), end, " by the auth timeout" if by == 1 else
        " (auth-timeout +%d)" % by)
    return out, "not-authenticated=%d rate-limited=%d sent_in=%.3fs " \
        "closed_after=%.1fs" % (na, rl, sent, took)


@attack("hellos-unanswered", "120 sessions: closed 1006 x120, "
        "auth-timeout +120",
        "120 sessions from two addresses that never answer hello")
def a_hellos():
    m0 = metrics()
    ws = []
    for i in range(120):
        w = WS(src="127.0.3.%d" % (1 + i % 2))
        ws.append(w)
    for w in ws:
        w.expect("hello")
    t0 = time.monotonic()
    outs = []
    for w in ws:
        try:
            w.recv(t0 + SERVER["timeout"] + 5)
            outs.append("message")
        except Closed as e:
            outs.append("closed %d" % e.code)
        except Timeout:
            outs.append("open")
        w.s.close()
    by, = delta(m0, metrics(),
                'natkit_sessions_closed_total{reason="auth-timeout"}')
    return "120 sessions: %s, auth-timeout +%d" % (
        ", ".join(tally(outs)), by), "all closed %.1fs after hello" % (
            time.monotonic() - t0)


# --- slow writers and readers ------------------------------------------

def trickle(w, data, gap, until):
    """Sends data a byte at a time, gap seconds apart, until it is all
    sent, the connection fails or the monotonic time until; returns the
    bytes sent."""
    for i in range(len(data)):
        if time.monotonic() > until:
            return i
        try:
            w.s.sendall(data[i:i + 1])
        except OSError:
            return i
        time.sleep(gap)
    return len(data)


@attack("slow-writer", "auth a byte at a time: welcome; a message slower "
        "than the auth timeout: closed 1006",
        "an auth message sent a byte every 2 ms (a frame split in ~400 "
        "reads), and a message trickled a byte every 50 ms from hello on")
def a_slow_writer():
    me = Ident("trickler")
    w = WS()
    hello = w.expect("hello")
    a = me.signed("auth", {"type": "auth", "id": me.id, "key": me.key,
                           "nonce": hello["nonce"], "server": w.host,
                           "tag": "-"})
    f = frame(1, json.dumps(a, separators=(",", ":")).encode())
    trickle(w, f, 0.002, time.monotonic() + SERVER["timeout"] - 0.5)
    try:
        first = w.expect("welcome")["type"]
    except (RuntimeError, Closed, Timeout) as e:
        first = "not welcome: %s" % e
    w.close()
    m0 = metrics()
    w = WS()
    w.expect("hello")
    t0 = time.monotonic()
    slow = frame(1, b'{"type":"nope","pad":"' + b"x" * 400 + b'"}')
    n = trickle(w, slow, 0.05, t0 + SERVER["timeout"] + 3)
    try:
        w.recv(time.monotonic() + 3)
        end = "open"
    except Closed as e:
        end = "closed %d" % e.code
    except Timeout:
        end = "open"
    by, = delta(m0, metrics(),
                'natkit_sessions_closed_total{reason="auth-timeout"}')
    return "auth a byte at a time: %s; a message slower than the auth " \
        "timeout: %s" % (first, end), "%d bytes of %d went, auth-timeout " \
        "+%d" % (n, len(slow), by)


def until_probe(w, secs=10.0):
    """Sends a probe and reads up to its answer, which comes after
    whatever the server had queued for w; returns (the messages by type,
    or by code for errors; "open" or "closed N")."""
    w.s.setblocking(True)
    counts = {}
    try:
        w.send(PROBE)
        deadline = time.monotonic() + secs
        while True:
            kind, m = w.recv(deadline)
            if isinstance(m, dict) and m.get("ref") == "probe":
                return counts, "open"
            k = (m.get("code") or m.get("type", "?")) if isinstance(
                m, dict) else kind
            counts[k] = counts.get(k, 0) + 1
    except Closed as e:
        return counts, "closed %d" % e.code
    except Timeout:
        return counts, "no answer"


def flood(senders, msgs, secs, idle, until=None, most=None, finish=True):
    """Each sender sends its msgs (bytes: whole frames) again and again
    for secs, or until until() is true (asked every 0.25 s), or until
    it has sent most frames; the idle sessions, which read nothing, send
    a message now and then.  Returns the frames sent.  Without finish,
    the rest of each sender's last frames is left in its .pend (a sender
    the server holds could not send it)."""
    for s in senders:
        s.s.setblocking(False)
    pend = [b""] * len(senders)
    done = [0] * len(senders)
    keep = [{} for _ in idle]
    sent, t0, asked = 0, time.monotonic(), time.monotonic()
    while time.monotonic() - t0 < secs:
        for i, s in enumerate(senders):
            if not pend[i] and (most is None or done[i] < most):
                pend[i] = msgs[i][0]
                sent += msgs[i][1]
                done[i] += msgs[i][1]
            try:
                k = s.s.send(pend[i])
                pend[i] = pend[i][k:]
            except BlockingIOError:
                pass
            try:
                d = s.s.recv(1 << 20)
                s.buf += d
            except BlockingIOError:
                pass
        for v, st in zip(idle, keep):
            keepalive(v, st)
        if until is not None and time.monotonic() - asked > 0.25:
            asked = time.monotonic()
            if until():
                break
        time.sleep(0.002)
    for i, s in enumerate(senders):
        # The rest of the last frames, so that none is cut.
        s.s.setblocking(True)
        s.pend = pend[i]
        if finish:
            s.s.sendall(pend[i])
    return sent


def keepalive(w, state):
    """A message now and then from a session that reads nothing, so that
    it is not taken for dead: it cannot answer the server's pings, which
    it does not read (and the server does not count a client's own
    pings)."""
    now = time.monotonic()
    if now >= state.get("next", 0):
        state["next"] = now + 0.5
        w.s.setblocking(True)
        w.send(frame(1, b'{"type":"unregister"}'))
        w.s.setblocking(False)


def flood_victim(vid, senders, body, secs, v, most):
    """Senders signal vid with body as fast as they may, most signals
    each, for at most secs, while v reads nothing; returns (signals
    sent, the senders' answers by code, what v then got by type, how v
    ended).  Each sender's probe is answered once the server has dealt
    with all it sent; then v reads what came, a probe behind it."""
    msg = frame(1, sig_to(vid, body))
    sent = flood(senders, [(msg * 8, 8)] * len(senders), secs, [v],
                 most=most)
    answers = {}
    for s in senders:
        keepalive(v, {})
        sgot, send = until_probe(s)
        for k, n in sgot.items():
            answers[k] = answers.get(k, 0) + n
        s.close()
    got, end = until_probe(v)
    v.close()
    return sent, answers, got, end


@attack("slow-reader", "not closed; over its budget: to-peer dropped; "
        "what was let through came",
        "a victim that reads nothing (it sends a message every 0.5 s, so "
        "that it is alive) while four peers from four addresses signal "
        "it 4 KiB bodies, 400 each as fast as they go: the budgets of -S "
        "drop, the victim stays, and then gets what was let through")
def a_slow_reader():
    m0 = metrics()
    vid = Ident("slow-victim")
    v = authed("slow-victim")
    senders = [authed("slow-flood%d" % i, src="127.0.4.%d" % (1 + i))
               for i in range(4)]
    sent, answers, got, end = flood_victim(
        vid, senders, b'{"p":"' + b"x" * 4096 + b'"}', 2.0, v, 400)
    to_peer, qfull, fwd = delta(
        m0, metrics(), 'natkit_signals_dropped_total{reason="to-peer"}',
        'natkit_signals_dropped_total{reason="queue-full"}',
        "natkit_signals_forwarded_total")
    out = "%s; over its budget: %s; %s" % (
        "not closed" if end == "open" else end,
        "to-peer dropped" if to_peer > 0 else "nothing dropped",
        "what was let through came" if got.get("signal", 0) == fwd else
        "%d of %d came" % (got.get("signal", 0), fwd))
    return out, "sent=%d answers=%s forwarded=%d to-peer=%d " \
        "queue-full=%d" % (sent, answers, fwd, to_peer, qfull)


@attack("slow-reader-queue", "not closed; queue-full dropped, senders "
        "told busy; what came is whole",
        "the same, 4000 signals of 7 KiB from each of three peers, "
        "against a server without budgets (-M 0 -S 0): the "
        "victim's queue (-Q) fills and what others send is dropped, "
        "counted, the victim stays, and every message it then reads is "
        "a whole signal", server="no-budgets")
def a_slow_reader_queue():
    m0 = metrics()
    vid = Ident("queue-victim")
    v = authed("queue-victim")
    senders = [authed("queue-flood%d" % i, src="127.0.5.%d" % (1 + i))
               for i in range(3)]
    sent, answers, got, end = flood_victim(
        vid, senders, b'{"p":"' + b"q" * 7000 + b'"}', 2.0, v, 4000)
    qfull, fwd = delta(
        m0, metrics(), 'natkit_signals_dropped_total{reason="queue-full"}',
        "natkit_signals_forwarded_total")
    out = "%s; %s, senders told %s; what came is %s" % (
        "not closed" if end == "open" else end,
        "queue-full dropped" if qfull > 0 else "nothing dropped",
        "busy" if answers.get("busy", 0) == qfull and qfull > 0 else
        repr(answers), "whole" if got == {"signal": fwd} else repr(got))
    return out, "sent=%d forwarded=%d queue-full=%d" % (sent, fwd, qfull)


@attack("no-pong", "closed 1006, no-pong +1",
        "a session that reads nothing and sends nothing after auth, not "
        "even a pong: closed at its liveness timeout (-i, twice)")
def a_no_pong():
    m0 = metrics()
    w = authed("silent")
    # Its bytes are taken off the socket but never answered, which is
    # all the server can see of a reader: it goes by pongs.
    t0 = time.monotonic()
    deadline = t0 + 2 * SERVER["ping"] + 4
    end = "open"
    while end == "open" and time.monotonic() < deadline:
        if not readable([w.s], 0.5):
            continue
        d = w.s.recv(65536)
        if d:
            w.buf += d
        else:
            end = "closed 1006"
    took = time.monotonic() - t0
    pings = 0
    try:
        while True:
            fin, op, p = w.frame_in(0)
            pings += op == 9
            if op == 8:
                end = "closed %d" % (struct.unpack("!H", p[:2])[0] if
                                     len(p) >= 2 else 1005)
    except (Timeout, Closed):
        pass
    by, = delta(m0, metrics(), 'natkit_sessions_closed_total'
                '{reason="no-pong"}')
    w.s.close()
    return "%s, no-pong +%d" % (end, by), "closed %.1fs after auth, " \
        "%d ping(s) unanswered" % (took, pings)


def readable(socks, secs):
    return select.select(socks, [], [], secs)[0]


def peek_eof(s):
    """True when the peer has closed s; what came before is read and
    dropped."""
    try:
        while True:
            s.settimeout(0)
            if not s.recv(65536):
                return True
    except (BlockingIOError, socket.timeout):
        return False
    except OSError:
        return True


# --- relays --------------------------------------------------------------

@attack("relay-flood", "8 relays: senders held, 8 receivers open, "
        "memory bounded",
        "8 pairs of sessions with a relay each; one side sends 1400-byte "
        "frames as fast as it can until the server has held a sender "
        "for a second (at most 10 s), the other reads nothing: each "
        "receiver's queue fills to half of -Q, then the server stops "
        "reading its sender (frames drop only past -Q), and the "
        "server's RSS grows by less "
        "than 8 x 2 x (-Q + 8 KiB) + 8 MiB (and -m MiB: ASan's)")
def a_relay_flood():
    m0 = metrics()
    P = 8
    senders, receivers, msgs = [], [], []
    for i in range(P):
        ai, bi = Ident("relay-a%d" % i), Ident("relay-b%d" % i)
        a = authed("relay-a%d" % i, src="127.0.6.1")
        b = authed("relay-b%d" % i, src="127.0.6.2")
        a.text({"type": "relay", "to": bi.id})
        b.text({"type": "relay", "to": ai.id})
        rid = a.expect("relay-ok")["id"]
        b.expect("relay-ok")
        senders.append(a)
        receivers.append(b)
        msgs.append((frame(2, struct.pack("!I", rid) + b"z" * 1400) * 16,
                     16))

    first = []

    def enough():
        # One more second of it once the server has begun to hold.
        if not first and delta(m0, metrics(),
                               "natkit_relay_held_peer_total")[0]:
            first.append(time.monotonic())
        return first and time.monotonic() - first[0] > 1
    # The senders are held: the rest of their frames goes once the
    # receivers have read.
    offered = flood(senders, msgs, 10.0, receivers, until=enough,
                    finish=False)
    m1 = metrics()
    rss = m1["natkit_memory_rss_bytes"] - m0["natkit_memory_rss_bytes"]
    ndropped, frames, nheld = delta(m0, m1,
                                    "natkit_relay_frames_dropped_total",
                                    "natkit_relay_frames_total",
                                    "natkit_relay_held_peer_total")
    bound = P * 2 * (SERVER["queue"] + 8192) + (8 << 20) + \
        (SERVER["slack"] << 20)
    opened = 0
    for a, b in zip(senders, receivers):
        opened += until_probe(b, 20)[1] == "open"
        a.s.sendall(a.pend)
        a.close()
        b.close()
    out = "%d relays: %s, %d receivers open, memory %s" % (
        P, "senders held" if nheld > 0 else "nobody held", opened,
        "bounded" if rss < bound else "grew %d bytes (bound %d)" % (
            rss, bound))
    return out, "offered=%d relayed=%d dropped=%d held=%d " \
        "rss_growth=%d bound=%d" % (offered, frames, ndropped, nheld, rss,
                                    bound)


# --- HTTP (what the fuzzer found; hostile.py has the rest) ---------------

@attack("http-empty-body", "400 bad-json x3; healthy",
        "POST /v1/peers, /v1/peers/ID/unregister and /v1/signal with "
        "Content-Length: 0 (lws hands the body over as NULL, which a "
        "sanitized server once copied and aborted on)")
def a_http_empty():
    outs = []
    for path in ("/v1/peers", "/v1/peers/%s/unregister" % SINK,
                 "/v1/signal"):
        s = tcp()
        s.sendall(request("POST", path, b""))
        data = b""
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                data += d
        except OSError:
            pass
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        try:
            code = json.loads(body).get("error")
        except ValueError:
            code = body[:40]
        outs.append("%s %s" % (head[9:12].decode() or "nothing", code))
    return "%s; %s" % (", ".join(tally(outs)), "healthy" if healthy() else
                       "NOT healthy"), ""


# --- connection storms ---------------------------------------------------

UPGRADE = ("GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: "
           "dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
           ).encode()


@attack("storm-connect", "3000 connections, 0 failed; healthy; "
        "connections back to where they were",
        "3000 connections as fast as they go from 12 addresses: a third "
        "closed at once, a third after an upgrade, a third reset")
def a_storm():
    m0 = metrics()
    fails = 0
    t0 = time.monotonic()
    for i in range(3000):
        try:
            s = tcp(src="127.0.7.%d" % (1 + i % 12), timeout=3)
            if i % 3 == 1:
                s.sendall(UPGRADE)
            elif i % 3 == 2:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack("ii", 1, 0))
            s.close()
        except OSError:
            fails += 1
    took = time.monotonic() - t0
    ok = healthy()
    # The server closes its ends as it reads them.
    for _ in range(50):
        m1 = metrics()
        if m1["natkit_connections"] <= m0["natkit_connections"]:
            break
        time.sleep(0.1)
    return "3000 connections, %d failed; %s; connections %s" % (
        fails, "healthy" if ok else "NOT healthy",
        "back to where they were" if m1["natkit_connections"] <=
        m0["natkit_connections"] else "%d, were %d" % (
            m1["natkit_connections"], m0["natkit_connections"])), \
        "%.0f connections/s" % (3000 / took)


@attack("storm-per-address", "100 held from one address: 64 kept, 36 "
        "closed at once, per-address +36",
        "100 connections held from one address (-C 64)")
def a_per_address():
    m0 = metrics()
    ss = []
    for i in range(100):
        s = tcp(src="127.0.8.1", timeout=3)
        ss.append(s)
    time.sleep(0.5)
    closed = sum(1 for s in ss if readable([s], 0) and peek_eof(s))
    by, = delta(m0, metrics(),
                'natkit_connections_refused_total{reason="per-address"}')
    for s in ss:
        s.close()
    return "100 held from one address: %d kept, %d closed at once, " \
        "per-address +%d" % (100 - closed, closed, by), ""


@attack("half-open", "200 half-open handshakes: 0 answered, 200 closed "
        "by the server",
        "200 upgrade requests from 4 addresses that never end (half cut "
        "in the request line, half before the blank line), held until "
        "the server closes them (-t)")
def a_half_open():
    ss = []
    for i in range(200):
        s = tcp(src="127.0.9.%d" % (1 + i % 4), timeout=3)
        s.sendall(UPGRADE[:30] if i % 2 else UPGRADE[:-2])
        ss.append(s)
    t0 = time.monotonic()
    answered = closed = 0
    live = list(ss)
    while live and time.monotonic() - t0 < SERVER["timeout"] + 5:
        for s in readable(live, 0.5):
            try:
                s.settimeout(0)
                d = s.recv(4096)
            except OSError:
                d = b""
            if d:
                answered += 1
            else:
                closed += 1
                live.remove(s)
    for s in ss:
        s.close()
    return "200 half-open handshakes: %d answered, %d closed by the " \
        "server" % (answered, closed), "the last closed %.1fs after" % (
            time.monotonic() - t0)


# ---------------------------------------------------------------------------
# The network fuzzer: mutations of valid transcripts (HTTP requests of the
# API, WebSocket handshakes and frames carrying the rvmsg seeds of
# tests/fuzz/corpus/rvmsg), sent to the running server on connections of
# their own, /healthz asked every FUZZ_CHECK inputs.
#
# Each input is one of: an HTTP request (or two or three in one write),
# a handshake and frames (both mutated as bytes), an authenticated
# session's frames (mutated as messages and as frames: reserved bits,
# opcodes, no mask, lengths that lie, fragments), or relay frames between
# two sessions that asked for each other.  A sink session, the peer the
# seeds' signals go to, must never be closed.
#
# Ten minutes against a SANITIZE=1 server (-i 3 -t 3, rvd-auth with the
# fix of one request a connection), seed 4242: 38,155 inputs (14,408
# authenticated sessions, 9,523 handshakes and frames, 9,517 HTTP, 4,707
# relays), 42,862 connections, 30.1 MB sent, 24,496 connections closed by
# the server; /healthz asked 763 times and answered every time; server
# restarts 0 (one process throughout, stopped by SIGTERM at the end), ASan
# and UBSan reports 0; the sink got 2,083 signals and was never closed.
# Before, the fuzzer found within a minute that two requests in one write
# spun the server (fixed on rvd-http), and that an empty POST body made a
# sanitized server abort.

FUZZ_CHECK = 50
SINK = "aaaaaaaaaaaaaaaaaaaaaaaaaa"     # the seeds' peer id, replaced


def corpus():
    """The rvmsg seeds as (mode, bytes): mode 0 a WebSocket message, 1-3
    a POST body (peers, unregister, signal), 4 a server's message, "B" a
    relay frame."""
    d = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                     "fuzz", "corpus", "rvmsg")
    out = []
    for f in sorted(os.listdir(d)):
        with open(os.path.join(d, f), "rb") as fp:
            b = fp.read()
        if f.endswith(".hex"):
            b = bytes.fromhex("".join(
                l for l in b.decode().splitlines() if not l.startswith("#")))
        if b:
            out.append((0x42 if b[:1] == b"B" else b[0] % 5, b[1:]))
    return out


def peer_record(me, seq):
    return me.signed("record", {
        "type": "peer", "id": me.id, "key": me.key, "name": "fuzz",
        "seq": str(seq), "expires": str(int(time.time()) + 600),
        "mapping": "endpoint-independent", "filtering":
        "address-and-port-dependent", "nat": "port-restricted-cone",
        "public": "203.0.113.7:40001", "hairpin": "no",
        "local": "192.168.1.20:40001"})


def request(method, path, body=None, extra=""):
    head = "%s %s HTTP/1.1\r\nHost: %s\r\n%s" % (method, path, hostport(),
                                                  extra)
    if body is None:
        return (head + "\r\n").encode()
    return (head + "Content-Type: application/json\r\nContent-Length: "
            "%d\r\n\r\n" % len(body)).encode() + body


class Fuzz:
    def __init__(self, seed):
        self.rnd = random.Random(seed)
        self.seeds = corpus()
        self.sink_id = Ident("fuzz-sink")
        self.sink = None
        self.n = {"inputs": 0, "connections": 0, "bytes": 0,
                  "closed_by_server": 0, "healthz": 0, "sink_closed": 0,
                  "sink_got": 0}
        self.kinds = {}
        self.last = []

    # --- the seeds, made fresh (ids, signatures, the sink's id) -------
    def msg(self, modes=(0,)):
        m, b = self.rnd.choice([x for x in self.seeds if x[0] in modes])
        b = b.replace(SINK.encode(), self.sink_id.id.encode())
        if self.rnd.randrange(2):
            # To the sink's presence session rather than a tag of it.
            b = re.sub(rb"(%s)/[a-z0-9]+" % self.sink_id.id.encode(),
                       rb"\1", b)
        return m, b

    def http_seed(self):
        r = self.rnd.randrange(10)
        me = Ident("fz%d" % self.rnd.randrange(1 << 30))
        if r == 0:
            return request("GET", "/healthz")
        if r == 1:
            return request("GET", "/metrics")
        if r == 2:
            return request("GET", "/v1/peers?limit=%d&cursor=%s&name=fuzz"
                           % (self.rnd.randrange(-2, 120), self.sink_id.id))
        if r == 3:
            return request("GET", "/v1/peers/" + self.sink_id.id)
        if r == 4:
            body = json.dumps({"record": peer_record(me, int(
                time.time() * 1000)), "ttl": 30}).encode()
            return request("POST", "/v1/peers", body)
        if r == 5:
            u = me.signed("unregister", {"type": "unregister", "id": me.id,
                                         "key": me.key, "seq": "1"})
            return request("POST", "/v1/peers/%s/unregister" % me.id,
                           json.dumps(u).encode())
        if r == 6:
            mode, b = self.msg((1, 2, 3))
            return request("POST", ("/v1/peers", "/v1/peers/%s/unregister"
                                    % SINK, "/v1/signal")[mode - 1], b)
        if r == 7:
            return request(self.rnd.choice(["PUT", "DELETE", "HEAD",
                                            "OPTIONS", "PATCH", "BREW"]),
                           self.rnd.choice(["/", "/v1/peers", "/v1/ws",
                                            "/healthz", "/%2e%2e/x"]))
        if r == 8:
            return request("GET", "/v1/ws", None, "Upgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: "
                           "dGhlIHNhbXBsZSBub25jZQ==\r\n")
        # Two or three requests in one write.
        return b"".join(self.http_seed() for _ in range(
            self.rnd.randrange(2, 4)))

    def ws_seed(self):
        key = base64.b64encode(bytes(self.rnd.randrange(256) for _ in
                                     range(16))).decode()
        out = ("GET /v1/ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Protocol: natkit.v1\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n" % (hostport(), key)
               ).encode()
        for _ in range(self.rnd.randrange(1, 4)):
            mode, b = self.msg((0, 4, 0x42))
            out += frame(2 if mode == 0x42 else 1, b)
        return out

    # --- mutations ------------------------------------------------------
    def mutate(self, b, rounds=None):
        rnd = self.rnd
        for _ in range(rounds or rnd.randrange(1, 5)):
            if not b:
                b = bytes([rnd.randrange(256)])
            i = rnd.randrange(len(b))
            op = rnd.randrange(9)
            if op == 0:         # bit flips
                b = b[:i] + bytes([b[i] ^ (1 << rnd.randrange(8))]) + \
                    b[i + 1:]
            elif op == 1:       # insert bytes, some that mean something
                ins = rnd.choice([b"\0", b"\xff", b"\x80", b'"', b"\\",
                                  b"{", b"[", b"\r\n", b"\r\n\r\n",
                                  b"\\u0000", b"9" * 400, b"\xc3",
                                  bytes([rnd.randrange(256)])])
                b = b[:i] + ins + b[i:]
            elif op == 2:       # delete
                b = b[:i] + b[i + rnd.randrange(1, 17):]
            elif op == 3:       # splice another seed in
                o = rnd.choice([self.http_seed, self.ws_seed,
                                lambda: self.msg((0, 1, 2, 3, 4))[1]])()
                j = rnd.randrange(len(o))
                b = b[:i] + o[j:j + rnd.randrange(1, 200)] + b[i:]
            elif op == 4:       # a lie in Content-Length
                k = b.find(b"Content-Length: ")
                if k >= 0:
                    e = b.find(b"\r\n", k)
                    b = b[:k + 16] + rnd.choice(
                        [b"0", b"1", b"-1", b"8193", b"99999999999",
                         b"18446744073709551616", b"2 2", b"x",
                         str(max(0, len(b) - e - 5 + rnd.randrange(-3, 4))
                             ).encode()]) + b[e:]
            elif op == 5:       # duplicate a chunk
                j = rnd.randrange(i, len(b)) + 1
                b = b[:j] + b[i:j] + b[j:]
            elif op == 6:       # truncate
                b = b[:i]
            elif op == 7:       # an interesting byte
                b = b[:i] + bytes([rnd.choice([0, 0x7f, 0x7e, 0x80, 0xff,
                                                0x7d, 0x20])]) + b[i + 1:]
            else:               # a number made huge
                b = b[:i] + rnd.choice([b"1e999", b"-0", b"1" * 30,
                                        b"4294967296"]) + b[i:]
        return b

    def frame_mut(self, op, payload):
        """One frame of payload, maybe lying about itself."""
        rnd = self.rnd
        r = rnd.randrange(20)
        if r == 0:
            return frame(op, payload, rsv=rnd.randrange(1, 8))
        if r == 1:
            return frame(rnd.choice([0, 3, 8, 9, 10, 11, 15]), payload)
        if r == 2:
            return frame(op, payload, mask=False)
        if r == 3:
            return frame(op, payload, length=max(0, len(payload) +
                         rnd.choice([-1, 1, 125, 8192, (1 << 63) - 1])))
        if r == 4:
            return frame(op, payload, lenform=rnd.choice([16, 64]))
        if r == 5 and len(payload) > 2:
            k = rnd.randrange(1, len(payload))
            return frame(op, payload[:k], fin=False) + frame(0, payload[k:])
        return frame(op, payload)

    # --- the sink: a peer that others' inputs reach --------------------
    def sink_pump(self):
        if self.sink is None:
            self.sink = WS(src="127.0.0.1")
            self.sink.auth(self.sink_id)
            self.sink.s.setblocking(False)
        s = self.sink
        try:
            while True:
                d = s.s.recv(1 << 20)
                if not d:
                    raise Closed(1006)
                s.buf += d
        except (BlockingIOError, InterruptedError):
            pass
        except (Closed, OSError):
            self.n["sink_closed"] += 1
            self.sink = None
            return
        try:
            while True:
                fin, op, p = s.frame_in(time.monotonic())
                if op == 9:
                    s.s.setblocking(True)
                    s.send(frame(10, p))
                    s.s.setblocking(False)
                elif op == 8:
                    raise Closed(1000)
                elif op in (1, 2):
                    self.n["sink_got"] += 1
        except Timeout:
            pass
        except (Closed, OSError):
            self.n["sink_closed"] += 1
            self.sink = None

    # --- one input ------------------------------------------------------
    def src(self):
        return "127.0.10.%d" % (1 + self.rnd.randrange(32))

    def send_read(self, s, data, chunks=1, secs=0.03):
        """Sends data (in chunks), reads until the server closes or secs
        pass; counts."""
        self.n["bytes"] += len(data)
        try:
            cuts = sorted(self.rnd.randrange(len(data) + 1)
                          for _ in range(chunks - 1))
            at = 0
            for c in cuts + [len(data)]:
                s.sendall(data[at:c])
                at = c
        except OSError:
            pass
        deadline = time.monotonic() + secs
        try:
            while time.monotonic() < deadline:
                s.settimeout(max(0.001, deadline - time.monotonic()))
                if not s.recv(65536):
                    self.n["closed_by_server"] += 1
                    break
        except (socket.timeout, OSError):
            pass
        if self.rnd.randrange(4) == 0:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
        s.close()

    def one(self):
        kind = self.rnd.choice(["http", "http", "ws-raw", "ws-raw",
                                "ws-auth", "ws-auth", "ws-auth", "relay"])
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        self.n["inputs"] += 1
        if kind in ("http", "ws-raw"):
            data = self.mutate(self.http_seed() if kind == "http" else
                               self.ws_seed())
            self.last.append((kind, data))
            s = tcp(src=self.src(), timeout=2)
            self.n["connections"] += 1
            self.send_read(s, data, self.rnd.randrange(1, 4))
        elif kind == "ws-auth":
            w = WS(src=self.src())
            self.n["connections"] += 1
            w.auth(Ident("fz%d" % self.rnd.randrange(1 << 30)),
                   tag=self.rnd.choice(["-", "-", "t1", "fz"]))
            data = b""
            for _ in range(self.rnd.randrange(1, 7)):
                r = self.rnd.randrange(6)
                if r == 1:
                    body = json.dumps({"type": "signal", "to":
                                       self.sink_id.id, "body": {
                                           "n": self.n["inputs"]}}).encode()
                elif r == 0:
                    body = json.dumps({"type": "register", "record":
                                       peer_record(Ident("fz-reg"), int(
                                           time.time() * 1000))}).encode()
                else:
                    mode, body = self.msg((0, 4))
                if self.rnd.randrange(3):
                    body = self.mutate(body)
                data += self.frame_mut(1, body)
            self.last.append((kind, data))
            self.send_read(w.s, data, self.rnd.randrange(1, 3))
        else:
            a, b = Ident("fza"), Ident("fzb")
            wa, wb = WS(src=self.src()), WS(src=self.src())
            self.n["connections"] += 2
            wa.auth(a)
            wb.auth(b)
            wa.text({"type": "relay", "to": b.id})
            wb.text({"type": "relay", "to": a.id})
            rid = wa.expect("relay-ok")["id"]
            data = b""
            for _ in range(self.rnd.randrange(1, 9)):
                n = self.rnd.choice([0, 1, 100, 1399, 1400, 1401])
                p = struct.pack("!I", self.rnd.choice(
                    [rid, rid, rid, rid + 1, 0])) + b"r" * n
                data += self.frame_mut(2, self.mutate(p, 1) if
                                       self.rnd.randrange(3) == 0 else p)
            self.last.append((kind, data))
            self.send_read(wa.s, data)
            wb.outcome(0.02)
            wb.s.close()
        del self.last[:-20]


def fuzz(secs, seed):
    if seed is None:
        seed = int.from_bytes(os.urandom(4), "big")
    f = Fuzz(seed)
    t0 = time.monotonic()
    down = 0
    while time.monotonic() - t0 < secs:
        try:
            f.one()
        except (OSError, RuntimeError, Closed, Timeout):
            # A connection the server refused or closed early: counted,
            # the health check decides.
            f.n["setup_failed"] = f.n.get("setup_failed", 0) + 1
        except Exception:
            # The fuzzer's own mistake: said once, counted, not the
            # server's failure.
            if not f.n.get("fuzzer_errors"):
                import traceback
                traceback.print_exc()
            f.n["fuzzer_errors"] = f.n.get("fuzzer_errors", 0) + 1
        try:
            f.sink_pump()
        except (OSError, RuntimeError, Closed, Timeout):
            f.n["sink_closed"] += 1
            f.sink = None
        if f.n["inputs"] % FUZZ_CHECK == 0:
            f.n["healthz"] += 1
            if not healthy():
                time.sleep(2)
                if not healthy():
                    down = 1
                    break
    ok = not down and healthy()
    f.n["seconds"] = int(time.monotonic() - t0)
    print("fuzz seed=%d %s kinds=%s" % (seed, " ".join(
        "%s=%d" % kv for kv in sorted(f.n.items())), f.kinds))
    if not ok:
        print("FAIL the server stopped answering /healthz; the last "
              "inputs, oldest first:")
        for kind, data in f.last:
            print("  %s %s" % (kind, data.hex()))
        return 1
    if f.n["sink_closed"]:
        print("FAIL the sink, a peer others signal, was closed %d times"
              % f.n["sink_closed"])
        return 1
    return 0


# ---------------------------------------------------------------------------

def run_attack(name, fn, want):
    t0 = time.monotonic()
    try:
        got, figs = fn()
    except (OSError, RuntimeError, Closed, Timeout) as e:
        got, figs = "error in the attack: %s %s" % (type(e).__name__, e), ""
    ok = got == want
    print("%s attack %s: %s%s%s (%.1fs)" % (
        "ok  " if ok else "FAIL", name, got,
        "" if ok else " -- want: " + want, " | " + figs if figs else "",
        time.monotonic() - t0), flush=True)
    return ok


def usage():
    sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
    sys.exit(64)


def main(argv):
    import getopt
    try:
        opts, args = getopt.getopt(argv, "b:i:m:t:Q:w:")
    except getopt.GetoptError:
        usage()
    for o, v in opts:
        if o == "-b":
            OPT["src"] = v
        elif o == "-w":
            OPT["wait"] = float(v)
        else:
            SERVER[{"-i": "ping", "-t": "timeout", "-Q": "queue",
                    "-m": "slack"}[o]] = int(v)
    if len(args) < 2:
        usage()
    host, _, port = args[0].rpartition(":")
    host = host.strip("[]")
    if not (host.startswith("127.") or host == "::1"):
        sys.stderr.write("ws_attack: %s is not a loopback address\n" % host)
        return 64
    OPT["addr"] = (host, int(port))
    table = dict((a[0], a) for a in ATTACKS)
    if args[1] == "list":
        for name, fn, want, doc, server in ATTACKS:
            print("%-26s %-10s %s" % (name, server, doc))
        return 0
    if not healthy():
        print("ws_attack: %s does not answer /healthz" % args[0])
        return 2
    if args[1] == "fuzz":
        return fuzz(float(args[2]) if len(args) > 2 else 20.0,
                    int(args[3]) if len(args) > 3 else None)
    names = [a[0] for a in ATTACKS if a[4] == "default"] \
        if args[1] == "all" else args[1:]
    if any(n not in table for n in names):
        usage()
    fails = 0
    for n in names:
        fails += not run_attack(n, table[n][1], table[n][2])
        if not healthy():
            print("FAIL the server stopped serving after %s" % n)
            return 1
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
