"""An HTTPS client on Python's ssl module with keylog_filename, for httshark's fixtures.

    tlsclient.py HOST PORT SNI KEYLOG BODYDIR NAME MODE POSTFILE

MODE "tls13": the default context (TLS 1.3); "tls12-cbc-noetm": TLS 1.2 only, cipher
ECDHE-RSA-AES256-SHA384, and OpenSSL's SSL_OP_NO_ENCRYPT_THEN_MAC (0x80000, no Python name),
so the CBC records use MAC-then-encrypt (RFC 5246 section 6.2.3.2) rather than RFC 7366.
Sends on one keep-alive HTTP/1.1 connection: GET /mid.bin?r=1, POST /echo?r=2 (POSTFILE),
GET /text.txt?r=3 with Accept-Encoding: gzip (gunzipped here), GET /missing?r=4. Bodies go to
BODYDIR/NAME.I, "PATH<TAB>file" lines to BODYDIR/NAME.map.
"""
import gzip
import http.client
import os
import socket
import ssl
import sys

SSL_OP_NO_ENCRYPT_THEN_MAC = 0x80000


def main() -> None:
    host, port, sni, keylog, bodydir, name, mode, postfile = sys.argv[1:9]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.keylog_filename = keylog
    if mode == "tls12-cbc-noetm":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("ECDHE-RSA-AES256-SHA384")
        ctx.options |= SSL_OP_NO_ENCRYPT_THEN_MAC
    elif mode != "tls13":
        sys.exit(f"tlsclient: unknown mode {mode}")
    raw = socket.create_connection((host, int(port)), timeout=20)
    conn = http.client.HTTPConnection(sni, int(port), timeout=20)
    conn.sock = ctx.wrap_socket(raw, server_hostname=sni)
    body = open(postfile, "rb").read()
    requests = [
        ("GET", "/mid.bin?r=1", None, {}),
        ("POST", "/echo?r=2", body, {"Content-Type": "application/octet-stream"}),
        ("GET", "/text.txt?r=3", None, {"Accept-Encoding": "gzip"}),
        ("GET", "/missing?r=4", None, {}),
    ]
    with open(os.path.join(bodydir, name + ".map"), "a") as m:
        for i, (method, path, data, headers) in enumerate(requests, 1):
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            got = resp.read()
            if resp.getheader("Content-Encoding") == "gzip":
                got = gzip.decompress(got)
            out = os.path.join(bodydir, f"{name}.{i}")
            with open(out, "wb") as f:
                f.write(got)
            m.write(f"{path}\t{out}\n")
    conn.close()


if __name__ == "__main__":
    main()
