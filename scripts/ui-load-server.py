#!/usr/bin/env python3
"""A minimal keep-alive HTTP/1.1 server (asyncio) for scripts/ui-load.sh: answers every
request with a small fixed JSON body, fast enough for thousands of requests a second on
one core. usage: ui-load-server.py ADDR PORT"""
import asyncio
import sys

BODY = b'{"ok":true,"pad":"' + b"x" * 200 + b'"}'
RESP = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
        % len(BODY)) + BODY


async def handle(reader, writer):
    buf = b""
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            buf += data
            n = buf.count(b"\r\n\r\n")  # requests are GETs without bodies
            if n:
                buf = buf[buf.rfind(b"\r\n\r\n") + 4:]
                writer.write(RESP * n)
                await writer.drain()
    except ConnectionError:
        pass
    writer.close()


async def main():
    server = await asyncio.start_server(handle, sys.argv[1], int(sys.argv[2]), backlog=512)
    async with server:
        await server.serve_forever()


asyncio.run(main())
