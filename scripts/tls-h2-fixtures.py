#!/usr/bin/env python3
"""Helper of scripts/tls-h2-fixtures.sh (no network, no processes): content files, splitting
HTTP/1.x responses printed by `openssl s_client`, and joining a server's log with what the
client received into NAME.expected.tsv (columns in fixtures/README.md).

    tls-h2-fixtures.py content WEBROOT
    tls-h2-fixtures.py split-http STDOUT BODYDIR NAME URI...
    tls-h2-fixtures.py expected nginx|hypercorn LOGLINES MAPFILE > NAME.expected.tsv
    tls-h2-fixtures.py h2-data-segment PCAP SERVER_PORT STREAM
        (prints the frame number of a server segment lying wholly inside the payload of a
        DATA frame of h2c stream STREAM: the middle one of those)
"""
import gzip
import hashlib
import os
import sys

COLUMNS = (
    "conn_port method uri status req_body_len http_version h2 tls_protocol tls_cipher "
    "session_reused early_data request_length bytes_sent body_bytes_sent content_len "
    "content_sha256 source"
).split()


def payload(n: int) -> bytes:
    """The same deterministic, incompressible bytes as tests/live/h2app.py."""
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(b"httshark fixture %d" % i).digest()
        i += 1
    return bytes(out[:n])


def content(root: str) -> None:
    os.makedirs(root, exist_ok=True)
    files = {
        "index.html": b"<!doctype html>\n<title>httshark fixture</title>\n<p>hello over TLS</p>\n",
        "big.bin": payload(100_000),
        "mid.bin": payload(24_000),
        "small.bin": payload(3_000),
        # Text that nginx gzips (gzip_types text/plain): 60 KB, compresses well.
        "text.txt": b"".join(
            b"line %05d: httshark passive HTTP sniffer fixture text, compressible\n" % i
            for i in range(900)
        ),
    }
    for name, data in files.items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)


def dechunk(data: bytes, pos: int):
    """Chunked body starting at pos: (body, end position)."""
    out = b""
    while True:
        eol = data.index(b"\r\n", pos)
        size = int(data[pos:eol].split(b";")[0], 16)
        pos = eol + 2
        if size == 0:
            # Trailer section, then the empty line.
            while True:
                eol = data.index(b"\r\n", pos)
                line, pos = data[pos:eol], eol + 2
                if not line:
                    return out, pos
        out += data[pos : pos + size]
        pos += size + 2


def split_http(stdout: str, bodydir: str, name: str, uris) -> None:
    """Cuts the HTTP/1.x responses out of s_client's output, in order, one per URI."""
    data = open(stdout, "rb").read()
    pos = 0
    mapfile = os.path.join(bodydir, name + ".map")
    # Body files are numbered on from those the scenario already has.
    first = sum(1 for _ in open(mapfile)) + 1 if os.path.exists(mapfile) else 1
    with open(mapfile, "a") as m:
        for i, uri in enumerate(uris, first):
            pos = data.index(b"HTTP/1.", pos)
            head_end = data.index(b"\r\n\r\n", pos) + 4
            head = data[pos:head_end].decode("latin-1").lower()
            fields = dict(
                (k.strip(), v.strip())
                for k, _, v in (l.partition(":") for l in head.split("\r\n")[1:] if l)
            )
            if fields.get("transfer-encoding") == "chunked":
                body, pos = dechunk(data, head_end)
            else:
                n = int(fields.get("content-length", "0"))
                body, pos = data[head_end : head_end + n], head_end + n
                if len(body) != n:
                    sys.exit(f"split-http: {uri}: body has {len(body)} of {n} bytes")
            if fields.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            path = os.path.join(bodydir, f"{name}.{i}")
            with open(path, "wb") as f:
                f.write(body)
            m.write(f"{uri}\t{path}\n")


def expected(kind: str, loglines: str, mapfile: str) -> None:
    bodies = {}
    for line in open(mapfile):
        uri, path = line.rstrip("\n").split("\t")
        if uri in bodies:
            sys.exit(f"expected: {uri} requested twice (URIs must be unique per scenario)")
        bodies[uri] = path
    print("\t".join(COLUMNS))
    used = set()
    for line in open(loglines):
        f = [x if x else "-" for x in line.rstrip("\n").split("\t")]
        if kind == "nginx":
            port, method, uri, status, clen, proto, h2, tlsv, cipher, reused, early, rlen, sent, bsent = f
            proto = {"HTTP/2.0": "HTTP/2.0"}.get(proto, proto)
            server_sha = None
        else:
            port, method, uri, status, blen, ver, rbytes, server_sha, _longest = f
            clen, proto = blen, {"2": "HTTP/2.0"}.get(ver, "HTTP/" + ver)
            h2 = "h2c" if ver == "2" else "-"
            tlsv = cipher = reused = early = rlen = sent = "-"
            bsent = rbytes
        if uri not in bodies:
            sys.exit(f"expected: the server logged {method} {uri} but the client saved no body for it")
        used.add(uri)
        body = open(bodies[uri], "rb").read()
        sha = hashlib.sha256(body).hexdigest()
        if server_sha and server_sha != sha:
            sys.exit(f"expected: {uri}: client body sha256 {sha} != server's {server_sha}")
        if clen == "-" and method == "GET":
            clen = "0"
        print("\t".join([port, method, uri, status, clen, proto, h2, tlsv, cipher, reused, early,
                         rlen, sent, bsent, str(len(body)), sha, kind]))
    missing = set(bodies) - used
    if missing:
        sys.exit(f"expected: the client requested {sorted(missing)} but the server did not log them")


def server_segments(pcap: str, port: int):
    """(frame number, payload) of each TCP segment from PORT with data, in a classic
    Ethernet/IPv4 pcap; retransmissions (a sequence number seen before) left out."""
    import struct
    data = open(pcap, "rb").read()
    endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    pos, frame, seen, out = 24, 0, set(), []
    while pos < len(data):
        incl = struct.unpack(endian + "I", data[pos + 8 : pos + 12])[0]
        pkt = data[pos + 16 : pos + 16 + incl]
        pos += 16 + incl
        frame += 1
        if struct.unpack(">H", pkt[12:14])[0] != 0x0800:
            continue
        ip = pkt[14:]
        ihl, total = (ip[0] & 15) * 4, struct.unpack(">H", ip[2:4])[0]
        tcp = ip[ihl:total]
        sport, seq = struct.unpack(">H", tcp[0:2])[0], struct.unpack(">I", tcp[4:8])[0]
        payload = tcp[(tcp[12] >> 4) * 4 :]
        if sport == port and payload and seq not in seen:
            seen.add(seq)
            out.append((frame, payload))
    return out


def h2_data_segment(pcap: str, port: int, stream: int) -> None:
    segs = server_segments(pcap, port)
    # Byte ranges of the segments and of stream STREAM's DATA payloads in the server's
    # byte stream (the server sends no preface magic: frames from offset 0).
    ranges, off = [], 0
    for frame, payload in segs:
        ranges.append((frame, off, off + len(payload)))
        off += len(payload)
    whole = b"".join(p for _, p in segs)
    data_payloads, pos = [], 0
    while pos + 9 <= len(whole):
        length = int.from_bytes(whole[pos : pos + 3], "big")
        ftype, sid = whole[pos + 3], int.from_bytes(whole[pos + 5 : pos + 9], "big") & 0x7FFFFFFF
        if ftype == 0 and sid == stream:
            data_payloads.append((pos + 9, pos + 9 + length))
        pos += 9 + length
    if pos != len(whole):
        sys.exit(f"h2-data-segment: frames end at {pos}, the stream at {len(whole)}")
    inside = [f for f, a, b in ranges if any(s <= a and b <= e for s, e in data_payloads)]
    if not inside:
        sys.exit(f"h2-data-segment: no segment inside stream {stream}'s DATA")
    print(inside[len(inside) // 2])


def main() -> None:
    cmd = sys.argv[1]
    if cmd == "content":
        content(sys.argv[2])
    elif cmd == "split-http":
        split_http(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    elif cmd == "expected":
        expected(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "h2-data-segment":
        h2_data_segment(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
