#!/usr/bin/env python3
"""flip-proxy.py: a rendezvous server that alters relayed datagrams.

    flip-proxy.py -l ADDR:PORT -t ADDR:PORT [-n N] [-o OFFSET]

Listens on -l and forwards every TCP connection to -t, the real
nat-rendezvousd, as it is, with one exception: on a connection whose first
response is a WebSocket upgrade (HTTP 101), the server's frames to the
client (RFC 6455 section 5.2: unmasked, a 7, 16 or 64-bit length) are read
one by one, and in the N-th binary one whose payload is longer than
OFFSET, counted over all connections, the payload's byte at OFFSET is
flipped (XOR 0x01).  That payload is a relay frame (nat(7) PROTOCOL,
Relay): 4 bytes of relay id, then the datagram, so OFFSET 40 is well
inside a QUIC packet.  N 0 alters nothing.  A connection whose first
response is not a 101 is plain HTTP and passes through unchanged.

Standard output: "ready ADDR:PORT" once listening, then one line per
event, flushed:

    upgraded conn=C
    flipped conn=C frame=N offset=O len=L from=0xAA to=0xBB
    closed conn=C binary=B

Exits 64 for usage.
"""
import argparse
import asyncio
import sys

args = None
nbinary = 0     # binary frames long enough, over all connections
nconn = 0


def say(line):
    print(line, flush=True)


def hostport(s):
    host, sep, port = s.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError("%s: not ADDR:PORT" % s)
    return host, int(port)


def frame_split(buf):
    """Returns (header length, payload length) of the frame at the start
    of buf, or None when its header is not all there."""
    if len(buf) < 2:
        return None
    n = buf[1] & 0x7F
    hl = 2
    if n == 126:
        hl = 4
        if len(buf) < hl:
            return None
        n = int.from_bytes(buf[2:4], "big")
    elif n == 127:
        hl = 10
        if len(buf) < hl:
            return None
        n = int.from_bytes(buf[2:10], "big")
    if buf[1] & 0x80:
        hl += 4         # a mask key: not from a server, but skipped
    return hl, n


async def pipe(reader, writer):
    """Client to server: as it is."""
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


async def server_to_client(reader, writer, conn):
    """Server to client: HTTP as it is; after a 101, frame by frame."""
    global nbinary
    buf = bytearray()
    ws = None           # None: the first response's head is not all in
    binary = 0
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if ws is False:
                writer.write(data)
                await writer.drain()
                continue
            buf += data
            if ws is None:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    continue
                status = bytes(buf[:buf.find(b"\r\n")]).split()
                ws = len(status) > 1 and status[1] == b"101"
                if not ws:
                    writer.write(bytes(buf))
                    buf.clear()
                    await writer.drain()
                    continue
                say("upgraded conn=%d" % conn)
                writer.write(bytes(buf[:end + 4]))
                del buf[:end + 4]
            while True:
                hdr = frame_split(buf)
                if hdr is None or len(buf) < hdr[0] + hdr[1]:
                    break
                hl, n = hdr
                if buf[0] & 0x0F == 0x2:
                    binary += 1
                    if n > args.offset:
                        nbinary += 1
                        if nbinary == args.n:
                            at = hl + args.offset
                            was = buf[at]
                            buf[at] ^= 0x01
                            say("flipped conn=%d frame=%d offset=%d len=%d "
                                "from=0x%02x to=0x%02x" % (conn, nbinary,
                                args.offset, n, was, buf[at]))
                writer.write(bytes(buf[:hl + n]))
                del buf[:hl + n]
            await writer.drain()
        if buf:
            writer.write(bytes(buf))
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass
    return binary


async def handle(creader, cwriter):
    global nconn
    nconn += 1
    conn = nconn
    try:
        sreader, swriter = await asyncio.open_connection(*args.target)
    except OSError as e:
        print("flip-proxy: %s:%d: %s" % (args.target + (e,)),
              file=sys.stderr)
        cwriter.close()
        return
    up = asyncio.ensure_future(pipe(creader, swriter))
    binary = await server_to_client(sreader, cwriter, conn)
    await up
    for w in (cwriter, swriter):
        w.close()
    say("closed conn=%d binary=%d" % (conn, binary))


async def main():
    srv = await asyncio.start_server(handle, *args.listen)
    say("ready %s:%d" % args.listen)
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="flip-proxy.py",
                                description="alters one relayed datagram")
    p.add_argument("-l", dest="listen", type=hostport, required=True)
    p.add_argument("-t", dest="target", type=hostport, required=True)
    p.add_argument("-n", dest="n", type=int, default=20)
    p.add_argument("-o", dest="offset", type=int, default=40)
    try:
        args = p.parse_args()
    except SystemExit as e:
        sys.exit(64 if e.code else 0)
    if args.n < 0 or args.offset < 0:
        p.print_usage(sys.stderr)
        sys.exit(64)
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
