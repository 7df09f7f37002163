#!/usr/bin/env python3
"""Rewrites a capture of real traffic the way issue 9 says captures arrive (used by
tests/real_stack_scapy.rs). Needs scapy.

Usage:
    real_stack_scapy.py swap IN OUT SEED WINDOW
        Each packet, with probability 0.3, trades places with one up to WINDOW-1 positions
        later (any packet: SYN, SYN-ACK, FIN, RST included). Packets keep their own
        timestamps, as when a multi-queue NIC stamps them out of causal order.
    real_stack_scapy.py inject IN OUT
        Control segments a receiving stack rejects, around the first connection: before its
        SYN, a RST with another ISN and a FIN (no connection yet); inside it, right after
        the first request, a RST from the server 64 MiB past its sequence space (RFC 5961
        out of window) and a FIN from the client at its next sequence number but with a
        TCP timestamp older than its last (RFC 7323 PAWS). Prints how many were injected.
    real_stack_scapy.py rexmit IN OUT
        Right after the first request's segment (before the server's ACK of it), the same
        segment again with two bytes of its request target changed: a retransmission of
        bytes already delivered whose copy differs. Prints the original and forged
        request lines.
"""
import random
import sys

from scapy.all import IP, TCP, Ether, rdpcap, wrpcap  # noqa: F401  (Ether: link layer)


def tcp_packets(pkts):
    return [p for p in pkts if IP in p and TCP in p]


def fix(p):
    """Recompute lengths, the TCP header length and checksums after an edit."""
    del p[IP].len
    del p[TCP].dataofs
    del p[IP].chksum
    del p[TCP].chksum
    return p.__class__(bytes(p))


def first_syn(pkts):
    for i, p in enumerate(pkts):
        if TCP in p and p[TCP].flags.S and not p[TCP].flags.A:
            return i
    sys.exit("no SYN in the capture")


def first_request(pkts, client, server):
    """Index of the client's first segment whose payload starts a request."""
    for i, p in enumerate(pkts):
        if TCP not in p or (p[IP].src, p[TCP].sport) != client:
            continue
        data = bytes(p[TCP].payload)
        if data[:4] in (b"GET ", b"POST", b"HEAD"):
            return i
    sys.exit("no request in the capture")


def tsval(p):
    for name, val in p[TCP].options:
        if name == "Timestamp":
            return val
    return None


def with_ts(opts, ts):
    out = [o for o in opts if o[0] != "Timestamp"]
    return out + [("Timestamp", ts)]


def swap(src, dst, seed, window):
    pkts = list(rdpcap(src))
    rng = random.Random(seed)
    for i in range(len(pkts)):
        if rng.random() < 0.3:
            j = i + rng.randint(1, window - 1)
            if j < len(pkts):
                pkts[i], pkts[j] = pkts[j], pkts[i]
    wrpcap(dst, pkts)


def inject(src, dst):
    pkts = list(rdpcap(src))
    s = first_syn(pkts)
    syn = pkts[s]
    client = (syn[IP].src, syn[TCP].sport)
    server = (syn[IP].dst, syn[TCP].dport)
    r = first_request(pkts, client, server)
    req = pkts[r]
    t0 = float(syn.time)
    # Before the handshake: a RST with another ISN, and a FIN; both from the client.
    before = []
    rst = syn.copy()
    rst[TCP].flags = "R"
    rst[TCP].seq = (syn[TCP].seq + 0x12345678) & 0xFFFFFFFF
    rst[TCP].options = []
    rst = fix(rst)
    rst.time = t0 - 0.002
    before.append(rst)
    fin = syn.copy()
    fin[TCP].flags = "FA"
    fin[TCP].seq = (syn[TCP].seq + 0x23456789) & 0xFFFFFFFF
    fin[TCP].ack = 12345
    fin = fix(fin)
    fin.time = t0 - 0.001
    before.append(fin)
    # Inside: after the first request.
    inside = []
    # The server's last segment before the request, for its sequence numbers.
    srv = next(
        p
        for p in reversed(pkts[:r])
        if TCP in p and (p[IP].src, p[TCP].sport) == server
    )
    bad_rst = srv.copy()
    bad_rst[TCP].flags = "R"
    bad_rst[TCP].seq = (srv[TCP].seq + (64 << 20)) & 0xFFFFFFFF
    bad_rst[TCP].options = []
    bad_rst[TCP].remove_payload()
    bad_rst = fix(bad_rst)
    bad_rst.time = float(req.time) + 0.000001
    inside.append(bad_rst)
    ts = tsval(req)
    if ts is None:
        sys.exit("the client sends no TCP timestamps: PAWS cannot be shown")
    old = ((ts[0] - 100000) & 0xFFFFFFFF, ts[1])
    paws = req.copy()
    paws[TCP].flags = "FA"
    paws[TCP].seq = (req[TCP].seq + len(bytes(req[TCP].payload))) & 0xFFFFFFFF
    paws[TCP].options = with_ts(req[TCP].options, old)
    paws[TCP].remove_payload()
    paws = fix(paws)
    paws.time = float(req.time) + 0.000002
    inside.append(paws)
    out = pkts[:s] + before + pkts[s : r + 1] + inside + pkts[r + 1 :]
    wrpcap(dst, out)
    print(len(before) + len(inside))


def rexmit(src, dst):
    pkts = list(rdpcap(src))
    s = first_syn(pkts)
    syn = pkts[s]
    client = (syn[IP].src, syn[TCP].sport)
    server = (syn[IP].dst, syn[TCP].dport)
    r = first_request(pkts, client, server)
    req = pkts[r]
    data = bytearray(bytes(req[TCP].payload))
    line_end = data.index(b" HTTP/")
    # Two bytes of the target, before " HTTP/": same length, so framing is unchanged.
    for k in (line_end - 1, line_end - 2):
        data[k] = ord("Z") if data[k] != ord("Z") else ord("Y")
    forged = req.copy()
    forged[TCP].remove_payload()
    forged = forged / bytes(data)
    forged = fix(forged)
    forged.time = float(req.time) + 0.000001
    out = pkts[: r + 1] + [forged] + pkts[r + 1 :]
    wrpcap(dst, out)
    orig = bytes(req[TCP].payload).split(b"\r\n")[0].decode()
    print(orig)
    print(bytes(data).split(b"\r\n")[0].decode())


def main():
    mode = sys.argv[1]
    if mode == "swap":
        swap(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    elif mode == "inject":
        inject(sys.argv[2], sys.argv[3])
    elif mode == "rexmit":
        rexmit(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
