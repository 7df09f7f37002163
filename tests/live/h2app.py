"""A tiny ASGI app for httshark's TLS and HTTP/2 fixtures (scripts/tls-h2-fixtures.sh).

Run by hypercorn (h2c Upgrade, h2c prior knowledge, HTTP/1.1) and used as nginx's backend
for POST /echo. Every request it answers is appended to the file named by $FX_LOG as one
tab-separated line, written after the whole response was handed to the server:

    client port, method, request target (path?query), status, request body bytes,
    HTTP version as hypercorn reports it ("1.1" or "2"), response body bytes,
    sha256 of the response body, bytes of the largest request header value

Routes (anything else: 200 with a short text naming the request):
    /echo...        200, "received N bytes sha256 HEX\\n" about the request body
    /bytes/N...     200, N deterministic bytes (application/octet-stream), N <= 1000000
    /missing...     404, "not found\\n"
"""
import hashlib
import os


def payload(n: int) -> bytes:
    """Deterministic bytes of length n that do not compress (a SHA-256 counter chain)."""
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(b"httshark fixture %d" % i).digest()
        i += 1
    return bytes(out[:n])


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    body = b""
    while True:
        msg = await receive()
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            break
    path = scope["raw_path"].decode("latin-1")
    query = scope["query_string"].decode("latin-1")
    target = path + ("?" + query if query else "")
    method = scope["method"]
    status, ctype = 200, b"text/plain"
    if path.startswith("/echo"):
        out = b"received %d bytes sha256 %s\n" % (len(body), hashlib.sha256(body).hexdigest().encode())
    elif path.startswith("/bytes/"):
        n = min(int(path.split("/")[2]), 1_000_000)
        out, ctype = payload(n), b"application/octet-stream"
    elif path.startswith("/missing"):
        status, out = 404, b"not found\n"
    else:
        out = ("hello %s %s over HTTP/%s\n" % (method, target, scope["http_version"])).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", ctype), (b"content-length", b"%d" % len(out))],
        }
    )
    await send({"type": "http.response.body", "body": out})
    longest = max((len(v) for _, v in scope["headers"]), default=0)
    client_port = scope["client"][1] if scope.get("client") else "-"
    line = "\t".join(
        str(x)
        for x in (
            client_port,
            method,
            target,
            status,
            len(body),
            scope["http_version"],
            len(out),
            hashlib.sha256(out).hexdigest(),
            longest,
        )
    )
    with open(os.environ["FX_LOG"], "a") as f:
        f.write(line + "\n")
