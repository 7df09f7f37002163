#!/usr/bin/env python3
"""A small HTTP/1.1 test server for httshark's live tests and real-traffic fixtures.

Serves a fixed set of endpoints that exercise what a passive sniffer must get right
(keep-alive, Content-Length and chunked bodies, gzip, HEAD, 204, 304, redirects, cookies,
POST bodies with 100-continue, an image with a repeated header field) and logs every exchange it answered as one TSV line:

    method <TAB> target <TAB> status <TAB> request body bytes <TAB> response content bytes
        <TAB> wall time (seconds since the epoch) when the response was fully handed to the socket

The sixth column lets a live test tell exchanges completed before a given moment (a signal)
from those still in flight. `/hang?s=N` answers only after N seconds (default 60): a request
left pending; its arrival is logged at once to LOGFILE.received as

    method <TAB> target <TAB> request body bytes <TAB> wall time

Usage: server.py ADDRESS PORT LOGFILE [CERT KEY]
With CERT and KEY (PEM files) it serves HTTPS instead (TLS 1.2 and 1.3, Python's defaults).
"""
import gzip
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def payload(n: int) -> bytes:
    """Deterministic printable bytes of length n."""
    line = b"httshark test payload 0123456789 abcdefghijklmnopqrstuvwxyz\n"
    return (line * (n // len(line) + 1))[:n]


# A 1x1 transparent PNG (67 bytes).
PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000a49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "httshark-test/1"

    def log_message(self, fmt, *args):  # silence the default stderr log
        pass

    def record(self, status: int, req_len: int, resp_len: int) -> None:
        with open(self.server.logfile, "a") as f:
            f.write(f"{self.command}\t{self.path}\t{status}\t{req_len}\t{resp_len}\t{time.time():.6f}\n")

    def read_body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send(self, status: int, body: bytes = b"", ctype="text/plain", extra=(), chunked=False, gz=False):
        content_len = len(body)
        if gz:
            body = gzip.compress(body, mtime=0)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in extra:
            self.send_header(k, v)
        if gz:
            self.send_header("Content-Encoding", "gzip")
        if status in (204, 304):
            self.end_headers()
            return 0
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if self.command != "HEAD":
                step = 1000
                for i in range(0, len(body), step):
                    part = body[i : i + step]
                    self.wfile.write(b"%x;ext=1\r\n" % len(part) + part + b"\r\n")
                self.wfile.write(b"0\r\nX-Trailer: done\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        return 0 if self.command == "HEAD" else content_len

    def route(self, req_body: bytes):
        path, _, query = self.path.partition("?")
        if path.startswith("/bytes/"):
            n = int(path.split("/")[2])
            return 200, self.send(200, payload(n))
        if path == "/chunked":
            return 200, self.send(200, payload(5000), chunked=True)
        if path == "/gzip":
            return 200, self.send(200, payload(20000), ctype="text/html", gz=True)
        if path == "/json":
            body = b'{"hello": "world", "query": "%s"}' % query.encode()
            return 200, self.send(200, body, ctype="application/json", extra=[("Set-Cookie", "sid=abc123; Path=/; HttpOnly")])
        if path == "/empty":
            return 204, self.send(204)
        if path == "/cached":
            return 304, self.send(304, extra=[("ETag", '"v1"')])
        if path == "/redirect":
            return 302, self.send(302, b"moved", extra=[("Location", "/bytes/10")])
        if path == "/hang":
            with open(self.server.logfile + ".received", "a") as f:
                f.write(f"{self.command}\t{self.path}\t{len(req_body)}\t{time.time():.6f}\n")
            delay = 60.0
            for kv in query.split("&"):
                if kv.startswith("s="):
                    delay = min(float(kv[2:]), 600.0)
            time.sleep(delay)
            return 200, self.send(200, b"late")
        if path == "/image.png":
            # A 1x1 PNG, with a header field repeated (the view shows both, in order).
            return 200, self.send(200, PNG_1X1, ctype="image/png", extra=[("X-Dup", "1"), ("X-Dup", "2")])
        if path == "/echo":
            return 200, self.send(200, b"got %d bytes" % len(req_body))
        return 404, self.send(404, b"not found")

    def handle_one(self):
        req_body = self.read_body()
        status, resp_len = self.route(req_body)
        self.record(status, len(req_body), resp_len)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_one


def main():
    addr, port, logfile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    server = ThreadingHTTPServer((addr, port), Handler)
    server.logfile = logfile
    if len(sys.argv) >= 6:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[4], sys.argv[5])
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
