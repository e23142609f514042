#!/usr/bin/env python3
"""tcp-relay.py TARGET_HOST TARGET_PORT [SECONDS]: a man in the middle for
the hostile tests.  Listens on 127.0.0.1 (a port of the kernel's choice),
prints "ready PORT", and passes every connection's bytes both ways to the
target unchanged, as a relaying server would.  Exits after SECONDS
(default 60)."""
import socket
import sys
import threading


def pump(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    secs = float(sys.argv[3]) if len(sys.argv) > 3 else 60
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    print("ready", ls.getsockname()[1], flush=True)
    threading.Timer(secs, lambda: sys.exit(0) or __import__("os")._exit(0)).start()
    while True:
        c, _ = ls.accept()
        u = socket.create_connection((host, port))
        threading.Thread(target=pump, args=(c, u), daemon=True).start()
        threading.Thread(target=pump, args=(u, c), daemon=True).start()


main()
