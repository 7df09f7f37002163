#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ (git-ignored) with seeds made from the project's own fixtures:
#   pipeline   <- fixtures/*.pcap, whole, and each cut to its first 2..64 records
#   decode     <- every frame of those pcaps, prefixed by the link-type byte of decode.rs
#   http       <- fixtures/http/*.txt transcripts, in the op format of src/lib.rs (http_ops)
#   reassembly <- a handshake, a request/response exchange and FINs in its 3-byte format,
#                 overlapping copies that differ (of buffered and of delivered bytes), and
#                 out-of-order bytes past its budget
#   keylog     <- ../../shared/corpus/keys/*.keylog (if present), a made-up key log with every
#                 label and line form, and a pcapng (SHB, DSB) holding it, each behind a chunk byte
#   hpack      <- RFC 7541 Appendix C.3-C.6 block sequences in its op format (and a desync)
#   pipeline   <- also ../../shared/corpus/pcaps/*.pcap (the public corpus, classic pcap only),
#                 whole when under the target's -max_len and cut to their first 2..64 records
#   http       <- also exchanges with every Content-Encoding (gzip, x-gzip, deflate, raw
#                 deflate, br, zstd, stacked "gzip, br", unknown), damaged streams, and bombs
#                 (300 KB of zeros) that hit max_decoded_bytes; zstd and brotli bodies come
#                 from the `zstd` tool and from `$BROTLI` (default `brotli -c`) when they exist
#   every target <- also fuzz/regressions/<target>/* (the inputs CI replays)
#   http_split <- the http seeds
#   h2_split, tls_split <- their fuzz/regressions/ (h2 and tls seeds, the same input layout)
#   pipeline   <- also hand-made pcaps: zstd bodies (plain, damaged, stacked, a bomb), and
#                 48 KB out of order behind a hole, past the target's 32 KiB budget
#   redact, body_select, hosts <- hand-made lists and header fields in their formats
# Needs python3 (and the zstd and brotli tools for those two codings). Usage: fuzz/seed.sh (from anywhere).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/pipeline corpus/decode corpus/http corpus/reassembly corpus/keylog corpus/hpack \
  corpus/http_split corpus/redact corpus/body_select corpus/hosts
python3 - <<'PY'
import glob, hashlib, os, re, struct

def put(target, data):
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join("corpus", target, name), "wb") as f:
        f.write(data)

# Index of each link type in decode.rs's LINKS, by pcap LINKTYPE number.
LINKS = {1: 0, 0: 1, 108: 2, 101: 3, 12: 3, 14: 3, 228: 4, 229: 5, 113: 6, 276: 7}

def records(data):
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return None, []
    link = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    out, off = [], 24
    while off + 16 <= len(data):
        caplen = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        out.append((off, off + 16 + caplen))
        off += 16 + caplen
    return link, out

PIPELINE_MAX_LEN = 262144  # fuzz/run.sh's -max_len for pipeline
for path in sorted(glob.glob("../fixtures/*.pcap")) + sorted(glob.glob("../../shared/corpus/pcaps/*.pcap")):
    data = open(path, "rb").read()
    link, recs = records(data)
    if link is None:
        continue
    if len(data) <= PIPELINE_MAX_LEN:
        put("pipeline", data)
    for n in (2, 4, 8, 16, 32, 64):
        if n < len(recs):
            put("pipeline", data[:recs[n - 1][1]])
    if link in LINKS:
        for start, end in recs[:400]:
            put("decode", bytes([LINKS[link]]) + data[start + 16:end])

# Transcripts -> http ops (see fixtures/http/README.md for the format read here).
def unescape(line):
    out, i = bytearray(), 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line):
            n = line[i + 1]
            if n in "rnt\\":
                out += {"r": b"\r", "n": b"\n", "t": b"\t", "\\": b"\\"}[n]
                i += 2
                continue
            if n == "x" and re.match(r"[0-9a-fA-F]{2}", line[i + 2:i + 4]):
                out.append(int(line[i + 2:i + 4], 16))
                i += 4
                continue
        out += c.encode()
        i += 1
    return bytes(out)

def transcript_ops(text):
    flags, ops, cur, eol = 0, bytearray(), None, b"\r\n"
    buf = bytearray()
    def flush():
        nonlocal buf
        data = bytes(buf)
        while data:
            chunk, data = data[:65535], data[65535:]
            ops.extend(bytes([cur]) + struct.pack("<H", len(chunk)) + chunk)
        buf = bytearray()
    t = 1000.0
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the file's final newline ends the last line
    for line in lines:
        if cur is None and line.startswith("#"):
            continue
        if line.startswith(">>>") or line.startswith("<<<"):
            if cur is not None:
                flush()
            cur = 0 if line.startswith(">>>") else 1
            continue
        if line.startswith("~~~ "):
            if cur is not None:
                flush()
            words = line[4:].split()
            d = 8 if cur == 1 else 0
            if words[0] == "eol":
                eol = b"\n" if words[1] == "lf" else b"\r\n"
            elif words[0] == "gap":
                ops.extend(bytes([2 | d]) + struct.pack("<I", int(words[1])))
            elif words[0] == "fin":
                ops.append(3 | (8 if words[1] == "<<<" else 0))
            elif words[0] in ("time", "tick"):
                s = float(words[1])
                steps = int(round((s - t) * 100))
                t = s
                while steps:
                    n = max(-65535, min(65535, steps))
                    ops.extend(bytes([4 if n > 0 else 7]) + struct.pack("<H", abs(n)))
                    steps -= n
                if words[0] == "tick":
                    ops.append(5)
            elif words[0] == "close":
                r = {"fin": 0, "reset": 1, "idle": 2, "end": 5}.get(words[1], 5)
                ops.append(6 | (r << 4))
            elif words[0] == "midstream":
                flags |= 1
            continue
        if cur is None:
            continue
        if line.endswith("\\") and not line.endswith("\\\\"):
            buf += unescape(line[:-1])
        else:
            buf += unescape(line) + eol
    if cur is not None:
        flush()
    return bytes([flags]) + bytes(ops)

for path in sorted(glob.glob("../fixtures/http/*.txt")):
    put("http", transcript_ops(open(path, encoding="utf-8").read()))

# Reassembly: handshake, request, response, FINs (client port 0); then the same out of order.
def seg(b0, length, b1=0):
    return bytes([b0, b1, length])
SYN, ACK, FIN, RST = 2, 4, 8, 16
base = seg(SYN, 0) + seg(1 | SYN | ACK, 0) + seg(ACK, 0) + seg(ACK, 40) + seg(1 | ACK, 200) \
    + seg(ACK | FIN, 0) + seg(1 | ACK | FIN, 0) + seg(ACK, 0)
put("reassembly", base)
# A hole: the second segment jumps 60 bytes ahead (seq mode 1), then RST with a tick.
put("reassembly", seg(ACK, 30) + bytes([ACK, 0x10, 30]) + struct.pack("<h", 60)
    + seg(1 | ACK, 10) + seg(ACK | RST, 0, 12))
# Four client ports (two evicted), then an idle step with a tick.
put("reassembly", seg(ACK, 20) + seg(ACK | 0x40, 20) + seg(ACK | 0x80, 20) + seg(ACK | 0xC0, 20, 11) + seg(ACK, 5, 12))
# Overlapping copies that differ: 5 bytes 10 ahead (buffered), then a forged copy (odd
# length, seq mode 1, byte 1 bit 1) of all 15 from the start: bytes 10..15 conflict.
put("reassembly", seg(SYN, 0) + seg(1 | SYN | ACK, 0) + seg(ACK, 0)
    + bytes([ACK, 0x10, 5]) + struct.pack("<h", 10)
    + bytes([ACK, 0x12, 15]) + struct.pack("<h", -15) + seg(1 | ACK, 0) + seg(ACK | FIN, 0))
# The budget (1.5 KiB; a bare connection is charged ~650 bytes): one connection with
# 1,000 bytes out of order behind a 100-byte hole is over it alone (its buffers are
# released early, the hole delivered as a gap); two with 400 each pass it together (the
# older one is evicted).
def hole(port, ahead, n, size=200):
    p = port << 6
    return (bytes([ACK | p, 0x10, size]) + struct.pack("<h", ahead)
            + b"".join(seg(ACK | p, size) for _ in range(n - 1)))
def shake(port):
    p = port << 6
    return seg(SYN | p, 0) + seg(1 | SYN | ACK | p, 0) + seg(ACK | p, 0) + seg(ACK | p, 30)
put("reassembly", shake(0) + hole(0, 100, 5) + seg(ACK | FIN, 0) + seg(1 | ACK | FIN, 0))
put("reassembly", shake(0) + hole(0, 100, 2) + shake(1) + hole(1, 100, 2) + seg(1 | ACK | 0x40, 10))
# A later copy of delivered bytes that differs: 15 bytes in order, then, before the
# server's ACK, a forged copy of them (compared with the retained copy), then the ACK and
# another forged copy (released: not compared).
put("reassembly", seg(SYN, 0) + seg(1 | SYN | ACK, 0) + seg(ACK, 0) + seg(ACK, 15)
    + bytes([ACK, 0x12, 15]) + struct.pack("<h", -15) + seg(1 | ACK, 0)
    + bytes([ACK, 0x12, 15]) + struct.pack("<h", -15) + seg(ACK | FIN, 0))

# Key logs (keylog.rs: first byte = chunk size - 1). Made-up secrets only.
R = "00112233445566778899aabbccddeeff" * 2
lines = ["# comment", "CLIENT_RANDOM %s %s" % (R, "ab" * 48)]
for label in ("CLIENT_EARLY_TRAFFIC_SECRET", "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
              "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0",
              "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET", "EARLY_EXPORTER_SECRET",
              "ECH_SECRET", "ECH_CONFIG", "PMS_CLIENT_RANDOM"):
    lines.append("%s %s %s" % (label, R.upper(), "cd" * 32))
lines += ["RSA 0102030405060708 " + "ef" * 48, "CLIENT_RANDOM " + R[8:] + " " + "ab" * 48, "bogus"]
text = ("\ufeff" + "\r\n".join(lines)).encode()
put("keylog", b"\x07" + text)
put("keylog", b"\x00" + "\n".join(lines).encode("utf-16"))
def block(kind, body):
    body += b"\0" * (-len(body) % 4)
    return struct.pack("<II", kind, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))
shb = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
put("keylog", b"\x1f" + shb + block(10, struct.pack("<II", 0x544C534B, len(text)) + text))
for path in sorted(glob.glob("../../shared/corpus/keys/*.keylog")):
    put("keylog", b"\x0f" + open(path, "rb").read())
# hpack: 2 octets of cap (x4), then per block its length and octets; 0xf1 desync, 0xf2 +
# 4 octets: SETTINGS_HEADER_TABLE_SIZE. The RFC 7541 Appendix C sequences.
def hx(s):
    return bytes.fromhex("".join(s.split()))
C3 = ["828684410f7777772e6578616d706c652e636f6d", "828684be58086e6f2d6361636865",
      "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565"]
C4 = ["828684418cf1e3c2e5f23a6ba0ab90f4ff", "828684be5886a8eb10649cbf",
      "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf"]
C5 = ["4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d54"
      "6e1768747470733a2f2f7777772e6578616d706c652e636f6d", "4803333037c1c0bf",
      "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d"
      "4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b207665"
      "7273696f6e3d31"]
C6 = ["488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f"
      "0b97c8e9ae82ae43d3", "4883640effc1c0bf",
      "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335df"
      "dfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007"]
def hpack(blocks, cap=16384, pre=b""):
    data = struct.pack("<H", cap) + pre
    for b in blocks:
        b = hx(b)
        data += bytes([len(b)]) + b
    return data
T256 = b"\xf2" + struct.pack("<I", 256)
put("hpack", hpack(C3))
put("hpack", hpack(C4))
put("hpack", hpack(C5, pre=T256))
put("hpack", hpack(C6, pre=T256))
put("hpack", hpack(C6, cap=64))
put("hpack", hpack(C4[:1]) + b"\xf1" + hpack(C4[2:])[2:])

# HTTP bodies in every content coding, in the http op format.
import gzip, shlex, subprocess, zlib
BROTLI = shlex.split(os.environ.get("BROTLI", "brotli -c"))
def http_exchange(resp_head, body, req=b"GET /c HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip, br, zstd\r\n\r\n"):
    resp = resp_head + b"Content-Length: %d\r\n\r\n" % len(body) + body
    out = b"\x00"
    for tag, m in ((0, req), (1, resp)):
        for i in range(0, len(m), 65535):
            c = m[i:i + 65535]
            out += bytes([tag]) + struct.pack("<H", len(c)) + c
    return out + bytes([6 | (5 << 4)])
def tool(cmd, data):
    try:
        return subprocess.run(cmd, input=data, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
text = b"<html>" + b"hello, fuzzer " * 20 + b"</html>"
bomb = bytes(300_000)
def raw_deflate(d):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(d) + c.flush()
codecs = {"gzip": lambda d: gzip.compress(d, 9), "x-gzip": lambda d: gzip.compress(d, 9),
          "deflate": lambda d: zlib.compress(d, 9), "deflate-raw": raw_deflate,
          "zstd": lambda d: tool(["zstd", "-19", "-c", "-q"], d),
          "br": lambda d: tool(BROTLI, d)}
for name, enc in codecs.items():
    for what, plain in (("text", text), ("bomb", bomb)):
        body = enc(plain)
        if body is None:
            continue
        coding = b"deflate" if name == "deflate-raw" else name.encode()
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: " + coding + b"\r\n"
        put("http", http_exchange(head, body))
        if what == "text":
            put("http", http_exchange(head, body[:len(body) // 2] + b"\xff" * 4))  # damaged
# Stacked: gzip then br (Content-Encoding lists them in the order applied), and an unknown one.
gz = gzip.compress(text, mtime=0)  # mtime 0: the same seed at every run
br = tool(BROTLI, gz)
if br is not None:
    put("http", http_exchange(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip, br\r\n", br))
put("http", http_exchange(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip, gzip, gzip\r\n",
                          gzip.compress(gzip.compress(gzip.compress(text)))))
put("http", http_exchange(b"HTTP/1.1 200 OK\r\nContent-Encoding: compress\r\n", b"\x1f\x9d" + text[:20]))
for f in os.listdir("corpus/http"):
    put("http_split", open(os.path.join("corpus/http", f), "rb").read())

# pipeline: hand-made pcaps for what no capture reaches (issue 16). One TCP connection,
# Ethernet/IPv4, checksums 0 (not verified), 10 ms between frames.
def pcap(frames):
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for i, f in enumerate(frames):
        t = 1_700_000_000_000 + 10 * i  # milliseconds
        out += struct.pack("<IIII", t // 1000, (t % 1000) * 1000, len(f), len(f)) + f
    return out
CLI, SRV = (bytes([10, 0, 0, 2]), 40000), (bytes([10, 0, 0, 1]), 80)
def frame(src, dst, seq, ack, flags, payload=b""):
    tcp = struct.pack(">HHIIBBHHH", src[1], dst[1], seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      0x50, flags, 65535, 0, 0)
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0x4000, 64, 6, 0,
                     src[0], dst[0])
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + tcp + payload
F_FIN, F_SYN, F_RST, F_PSH, F_ACK = 1, 2, 4, 8, 16
def connection(request, response, lose=(), seg=1400, late=()):
    # Handshake, the request, the response in `seg`-byte segments (those whose index is in
    # `lose` left out: a hole), the client's ACKs, FINs.
    c, s = 1000, 5000
    frames = [frame(CLI, SRV, c, 0, F_SYN), frame(SRV, CLI, s, c + 1, F_SYN | F_ACK),
              frame(CLI, SRV, c + 1, s + 1, F_ACK),
              frame(CLI, SRV, c + 1, s + 1, F_PSH | F_ACK, request)]
    c += 1 + len(request)
    s += 1
    for i in range(0, len(response), seg):
        if i // seg not in lose:
            frames.append(frame(SRV, CLI, s + i, c, F_PSH | F_ACK, response[i:i + seg]))
    for i in late:  # lost segments retransmitted at the end
        frames.append(frame(SRV, CLI, s + i * seg, c, F_PSH | F_ACK, response[i * seg:(i + 1) * seg]))
    s += len(response)
    frames += [frame(SRV, CLI, s, c, F_FIN | F_ACK), frame(CLI, SRV, c, s + 1, F_FIN | F_ACK),
               frame(SRV, CLI, s + 1, c + 1, F_ACK)]
    return pcap(frames)
GET = b"GET /z HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip, br, zstd\r\n\r\n"
def response(coding, body):
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
    if coding:
        head += b"Content-Encoding: " + coding + b"\r\n"
    head += b"Set-Cookie: s=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT\r\n"
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body
# A response body in zstd (the pipeline target's seeds had none: its zstd reader was never
# reached), a damaged one, one under gzip, and 300 KB of zeros in 30 bytes.
zs = tool(["zstd", "-19", "-c", "-q"], text)
if zs is not None:
    put("pipeline", connection(GET, response(b"zstd", zs)))
    put("pipeline", connection(GET, response(b"zstd", zs[:len(zs) // 2] + b"\xff" * 4)))
    put("pipeline", connection(GET, response(b"gzip, zstd", tool(["zstd", "-19", "-c", "-q"], gz))))
    put("pipeline", connection(GET, response(b"zstd", tool(["zstd", "-19", "-c", "-q"], bomb))))
# Out-of-order bytes past the target's 32 KiB budget on one connection: the response's
# second segment is lost, 47 KB follow the hole, so the budget's last step (releasing the
# connection's buffers early, holes as gaps: HalfStream::release_buffered) runs; then the
# same with the hole filled late (a retransmission after the release).
big = response(None, bytes(range(256)) * 192)
put("pipeline", connection(GET, big, lose={1}))
put("pipeline", connection(GET, big, lose={1}, late=[1]))

# -hosts values, -redact-headers lists with header fields, body selection lists.
for v in (b":80", b":80,10.0.0.1:8080,10.0.0.2:,[::1]:8443,[2001:db8::1]:", b"[::ffff:1.2.3.4]:443",
          b"10.0.0.1", b"::1:80", b"[::1", b"[::1]80", b":0", b":65536", b" , :443 ,", b"1.2.3.4:"):
    put("hosts", v)
fields = (b"Cookie: sid=abc; theme=dark; =x; lone\r\nSet-Cookie: sid=abc; Path=/; HttpOnly; Foo=bar;"
          b" Expires=Wed, 21 Oct 2015 07:28:00 GMT; Max-Age=60\r\nAuthorization: Bearer t\r\nX-Other: keep")
for lst in (b"Authorization,Cookie,Set-Cookie", b" cookie , ,SET-COOKIE,x-api-key,", b"Host", b"a b",
            b",".join(b"h%d" % i for i in range(257)), b"x" * 256):
    put("redact", lst + b"\x00" + fields)
for flags, drop, keep, req, resp in ((0x14, b"image,audio,video", b"", b"text/html", b"image/png"),
                                     (0x15, b"", b"json", b"application/problem+json", b"IMAGE/PNG; q=1"),
                                     (0x01, b"image", b"", b"", b"text/plain"),
                                     (0x10, b"text/html; charset=utf-8", b"", b"a", b"b"),
                                     (0x10, b",".join(b"p%d" % i for i in range(257)), b"", b"a", b"b")):
    put("body_select", bytes([flags]) + drop + b"\x00" + keep + b"\x00" + req + b"\x00" + resp)
for t in os.listdir("regressions"):
    os.makedirs(os.path.join("corpus", t), exist_ok=True)
    for f in os.listdir(os.path.join("regressions", t)):
        put(t, open(os.path.join("regressions", t, f), "rb").read())
PY
for t in pipeline decode http reassembly keylog hpack http_split redact body_select hosts \
  h2_split tls_split; do
  echo "corpus/$t: $(ls "corpus/$t" | wc -l) seeds"
done
