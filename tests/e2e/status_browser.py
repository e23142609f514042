#!/usr/bin/env python3
"""status_browser.py: drives a headless Chromium through the DevTools
protocol, for tests/e2e/status_page.sh.  Python's standard library only.

    status_browser.py CHROMIUM DIR URL

starts CHROMIUM with a fresh profile in DIR, opens URL, records every
request the page makes and every error it reports, then reads one command
a line on stdin and answers each with one line on stdout:

    wait SECS ID TEXT   until element ID's text is TEXT (the rest of the
                        line), at most SECS: "ok", or "timeout GOT"
    text ID             element ID's text
    eval EXPR           the value of a JavaScript expression, as JSON
    requests            the requests so far, as JSON [[type, url], ...]
    errors              exceptions, console errors and CSP reports, as JSON
    screenshot FILE     a PNG of the page
    goto URL            opens URL (on the same host) instead
    quit

Chromium only ever talks to URL's host: the flags keep it off the network
(c.md), and the test checks the requests.  It is stopped, with its whole
process group, on quit, end of input, SIGTERM or an error.
"""
import base64
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--no-default-browser-check",
         "--disable-extensions", "--window-size=1200,1000",
         "--remote-debugging-address=127.0.0.1",
         "--remote-debugging-port=0"]

browser = None


def stop(*_):
    """Stops the browser's process group (its own session, by its
    leader's id), the hard way after 5 s, and exits."""
    if browser is not None:
        try:
            os.killpg(browser.pid, signal.SIGTERM)
            for _ in range(50):
                if browser.poll() is not None:
                    os.killpg(browser.pid, 0)	# its children left?
                time.sleep(0.1)
            os.killpg(browser.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        browser.poll()
    sys.exit(0)


class WebSocket:
    """Just enough of RFC 6455 for the DevTools socket: text frames."""

    def __init__(self, url, deadline):
        assert url.startswith("ws://")
        hostport, path = url[5:].split("/", 1)
        host, port = hostport.rsplit(":", 1)
        self.s = socket.create_connection((host, int(port)), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\n"
                        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                        f"Sec-WebSocket-Key: {key}\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.recv_some(deadline)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError("DevTools upgrade: " + head.decode())

    def recv_some(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("DevTools socket")
        self.s.settimeout(left)
        b = self.s.recv(65536)
        if not b:
            raise RuntimeError("DevTools socket closed")
        return b

    def need(self, n, deadline):
        while len(self.buf) < n:
            self.buf += self.recv_some(deadline)

    def send(self, text):
        data = text.encode()
        n = len(data)
        if n < 126:
            head = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        mask = os.urandom(4)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.s.sendall(head + mask + body)

    def recv(self, deadline):
        """The next whole text message."""
        msg = b""
        while True:
            self.need(2, deadline)
            b0, b1 = self.buf[0], self.buf[1]
            n, off = b1 & 0x7F, 2
            if n == 126:
                self.need(4, deadline)
                n, off = struct.unpack("!H", self.buf[2:4])[0], 4
            elif n == 127:
                self.need(10, deadline)
                n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
            self.need(off + n, deadline)
            payload, self.buf = self.buf[off:off + n], self.buf[off + n:]
            op = b0 & 0x0F
            if op == 8:
                raise RuntimeError("DevTools socket closed")
            if op in (0, 1):
                msg += payload
                if b0 & 0x80:
                    return msg.decode()


class Page:
    def __init__(self, ws):
        self.ws, self.next_id = ws, 0
        self.requests, self.errors = [], []

    def event(self, m):
        meth, p = m.get("method"), m.get("params", {})
        if meth == "Network.requestWillBeSent":
            self.requests.append([p.get("type", "?"), p["request"]["url"]])
        elif meth == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            self.errors.append("exception: " + d.get("exception", {})
                               .get("description", d.get("text", "")))
        elif meth == "Runtime.consoleAPICalled" and p["type"] == "error":
            self.errors.append("console: " + " ".join(
                str(a.get("value", a.get("description", "")))
                for a in p["args"]))
        elif meth == "Log.entryAdded" and p["entry"]["level"] == "error":
            self.errors.append("log: " + p["entry"]["text"])

    def call(self, method, params=None, secs=20):
        self.next_id += 1
        me = self.next_id
        self.ws.send(json.dumps({"id": me, "method": method,
                                 "params": params or {}}))
        deadline = time.monotonic() + secs
        while True:
            m = json.loads(self.ws.recv(deadline))
            if m.get("id") == me:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.event(m)

    def eval(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr,
                                           "returnByValue": True})
        if "exceptionDetails" in r:
            return None
        return r["result"].get("value")

    def text(self, eid):
        return self.eval("(e => e ? e.textContent : null)("
                         f"document.getElementById({json.dumps(eid)}))")


def start(chromium, folder, url):
    global browser
    prof = os.path.join(folder, "profile")
    os.makedirs(prof, exist_ok=True)
    port_file = os.path.join(prof, "DevToolsActivePort")
    browser = subprocess.Popen([chromium] + FLAGS +
                               [f"--user-data-dir={prof}", "about:blank"],
                               stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL,
                               stderr=open(os.path.join(folder,
                                                        "chromium.log"), "w"),
                               start_new_session=True)
    deadline = time.monotonic() + 60
    while not os.path.exists(port_file) or \
            len(open(port_file).read().split()) < 2:
        if browser.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("chromium did not open its DevTools port")
        time.sleep(0.1)
    port = open(port_file).read().split()[0]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list",
                                timeout=10) as r:
        targets = json.load(r)
    target = next(t for t in targets if t["type"] == "page")
    page = Page(WebSocket(target["webSocketDebuggerUrl"],
                          time.monotonic() + 20))
    for domain in ("Page", "Network", "Runtime", "Log"):
        page.call(domain + ".enable")
    page.call("Page.navigate", {"url": url})
    return page


def serve(page):
    for line in sys.stdin:
        words = line.rstrip("\n").split(" ", 3)
        cmd = words[0]
        if cmd == "wait":
            secs, eid, want = float(words[1]), words[2], words[3]
            deadline, got = time.monotonic() + secs, None
            while time.monotonic() < deadline:
                got = page.text(eid)
                if got == want:
                    break
                time.sleep(0.2)
            print("ok" if got == want else f"timeout {got}")
        elif cmd == "text":
            print(page.text(words[1]))
        elif cmd == "eval":
            print(json.dumps(page.eval(line[5:].strip())))
        elif cmd == "requests":
            page.eval("1")		# takes the events queued so far
            print(json.dumps(page.requests))
        elif cmd == "errors":
            page.eval("1")
            print(json.dumps(page.errors))
        elif cmd == "screenshot":
            png = page.call("Page.captureScreenshot", {"format": "png"})
            with open(words[1], "wb") as f:
                f.write(base64.b64decode(png["data"]))
            print("ok")
        elif cmd == "goto":
            page.call("Page.navigate", {"url": words[1]})
            print("ok")
        elif cmd == "quit":
            break
        else:
            print(f"unknown command {cmd}")
        sys.stdout.flush()


def main():
    if len(sys.argv) != 4:
        print("usage: status_browser.py CHROMIUM DIR URL", file=sys.stderr)
        sys.exit(64)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        page = start(*sys.argv[1:])
        print("ready", flush=True)
        serve(page)
    except Exception as e:		# said, then the browser is stopped
        print(f"error {type(e).__name__}: {e}", flush=True)
        print(f"status_browser: {type(e).__name__}: {e}", file=sys.stderr)
    stop()


if __name__ == "__main__":
    main()
