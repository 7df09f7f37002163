//! Hostile captures: traffic built to exhaust a passive sniffer's memory, interleaved with
//! ordinary keep-alive HTTP connections whose transactions must still come out exact.
//!
//! Each [`Kind`] is one attack from issue 4 ("Prove it with generated hostile captures"):
//!
//! | kind | `scale` counts | default | what each unit is |
//! |---|---|---|---|
//! | `syn-flood` | SYNs | 1,000,000 | a lone SYN from its own address and port: a half-open connection |
//! | `pending` | connections | 100,000 | handshake + one GET, never answered, never closed |
//! | `endless-chunked` | body bytes | 2,000,000,000 | one response, `Transfer-Encoding: chunked`, 64 KiB chunks, no last chunk |
//! | `huge-header` | header value bytes | 10,000,000 | one request and one response, each with one `X-Padding` header line that long (+11 bytes of name) |
//! | `pipelined` | requests | 10,000 | GETs pipelined on one connection (RFC 9112 section 9.3.2), none answered |
//! | `ooo-window` | connections | 1,000 | handshake, first data segment lost, then `ooo_bytes` (connection 0: 16x) out of order, never filled |
//!
//! Attack traffic comes from 198.18.0.0/15 (RFC 2544 benchmarking addresses) and goes to
//! `www.example.com` (192.0.2.10:80), the server the legitimate clients also use; the
//! legitimate clients are the generator's usual 10.1.0.0/16 addresses, so the two never
//! share a 4-tuple. The legitimate connections are [`super::http::generate_conn`]
//! connections (keep-alive GET/POST/PUT/HEAD, chunked and gzip bodies, every one closed
//! normally and fully answered), started evenly through the attack: connection `j` of
//! `legit` starts with attack step `j * steps / legit`. Their ground truth is
//! [`ExpectedTx`] rows, the `.expected.tsv` format of [`super::scenario`].
//!
//! Streaming: the attack is produced step by step (a step is a SYN, a connection, a 64 KiB
//! piece of a body or header line, a request), every frame goes through one time-ordered
//! heap, and frames are written as soon as no later step can produce an earlier one. Memory
//! is bounded by the frames of one step plus those of the legitimate connections in flight,
//! whatever the scale: a 2 GB endless body is written with a few MB resident.
//!
//! What it does not do: spoofed RSTs, overlapping segments, IP fragments, malformed heads;
//! the fault injector ([`super::faults`]) and the fuzzers cover those. Captures are classic
//! pcap, Ethernet, microsecond timestamps.
//!
//! Invariants: frames are written in non-decreasing time order; the same [`HostileConfig`]
//! always gives the same bytes.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::http::{generate_conn, host, ExpectedTx, GeneratedConn, HttpParams, Sizes};
use super::pcap::{LinkKind, PcapWriter, TsResolution};
use super::rng::Rng;
use super::tcp::{Direction, Packet, TcpConn, TcpParams};
use crate::time::Timestamp;

/// Bytes of a body or header line sent per step (one `TcpConn::send`).
pub const PIECE: usize = 64 * 1024;

/// The connection of the `ooo-window` kind that carries 16x `ooo_bytes`, so the
/// per-direction out-of-order limit is hit even at small scales.
pub const OOO_BIG_FACTOR: u64 = 16;

/// Default `ooo_bytes`: just under the default 1 MiB per-direction out-of-order limit
/// (`max_ooo_bytes_per_direction`) and, at 1448-byte segments, 691 segments (under the
/// 1024-segment limit), so every connection holds its whole window without hitting a
/// per-connection limit: only a global budget bounds the sum.
pub const DEFAULT_OOO_BYTES: u64 = 1_000_000;

/// The attacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    SynFlood,
    Pending,
    EndlessChunked,
    HugeHeader,
    Pipelined,
    OooWindow,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::SynFlood,
        Kind::Pending,
        Kind::EndlessChunked,
        Kind::HugeHeader,
        Kind::Pipelined,
        Kind::OooWindow,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::SynFlood => "syn-flood",
            Kind::Pending => "pending",
            Kind::EndlessChunked => "endless-chunked",
            Kind::HugeHeader => "huge-header",
            Kind::Pipelined => "pipelined",
            Kind::OooWindow => "ooo-window",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The scale issue 4 names for this attack.
    pub fn default_scale(self) -> u64 {
        match self {
            Kind::SynFlood => 1_000_000,
            Kind::Pending => 100_000,
            Kind::EndlessChunked => 2_000_000_000,
            Kind::HugeHeader => 10_000_000,
            Kind::Pipelined => 10_000,
            Kind::OooWindow => 1_000,
        }
    }

    /// What `scale` counts.
    pub fn unit(self) -> &'static str {
        match self {
            Kind::SynFlood => "SYNs",
            Kind::Pending => "connections",
            Kind::EndlessChunked => "body bytes",
            Kind::HugeHeader => "header value bytes",
            Kind::Pipelined => "requests",
            Kind::OooWindow => "connections",
        }
    }
}

/// Everything that decides a hostile capture.
#[derive(Clone, Debug)]
pub struct HostileConfig {
    pub kind: Kind,
    /// Size of the attack, in [`Kind::unit`]s (0 means no attack traffic at all).
    pub scale: u64,
    pub seed: u64,
    /// Legitimate connections interleaved with the attack.
    pub legit: u32,
    /// `ooo-window`: bytes each connection sends after its lost first segment.
    pub ooo_bytes: u64,
}

impl HostileConfig {
    /// The scale for `kind`, 100 legitimate connections, seed 1.
    pub fn new(kind: Kind) -> HostileConfig {
        HostileConfig {
            kind,
            scale: kind.default_scale(),
            seed: 1,
            legit: 100,
            ooo_bytes: DEFAULT_OOO_BYTES,
        }
    }
}

/// Totals of a written hostile capture.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostileSummary {
    pub packets: u64,
    /// File bytes, global header included.
    pub bytes: u64,
    pub attack_packets: u64,
    /// TCP connections the attack opened (or tried to: SYNs of a flood).
    pub attack_connections: u64,
    pub legit_connections: u64,
    pub legit_transactions: u64,
}

/// The server every attack targets: virtual host 0 of [`super::http::host`].
pub fn target() -> (String, SocketAddr) {
    host(0, false)
}

/// Attacker `i`'s address: 198.18.0.0/15 (131,072 addresses, RFC 2544) cycled, the source
/// port moving on each time round, so the first 131,072 x 64,000 are distinct.
pub fn attacker(i: u64) -> SocketAddr {
    let a = (i % 131_072) as u32;
    let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 0, 0)) + a);
    let port = 1024 + ((i / 131_072) % 64_000) as u16;
    SocketAddr::new(IpAddr::V4(ip), port)
}

/// The legitimate traffic: short keep-alive connections, all answered and closed.
pub fn legit_params(seed: u64) -> HttpParams {
    HttpParams {
        tx_per_conn: (1, 4),
        pipelining: 0.1,
        hosts: 2,
        clients: 64,
        resp_body: Sizes {
            zero_share: 0.1,
            min: 16,
            max: 16 * 1024,
        },
        req_body: Sizes {
            zero_share: 0.05,
            min: 8,
            max: 4096,
        },
        post_put_share: 0.3,
        close_delimited_share: 0.0,
        midstream_share: 0.0,
        rst_share: 0.0,
        open_share: 0.0,
        tcp: TcpParams {
            rtt: Duration::from_millis(2),
            ..TcpParams::default()
        },
        think_max: Duration::from_millis(20),
        server_time_max: Duration::from_millis(5),
        ..HttpParams::mixed(seed)
    }
}

/// Parameters of attack connections: a 1 ms RTT, ISNs from the seed.
fn attack_tcp(rng: &mut Rng) -> TcpParams {
    TcpParams {
        rtt: Duration::from_millis(1),
        client_isn: rng.next_u32(),
        server_isn: rng.next_u32(),
        ..TcpParams::default()
    }
}

/// `n` bytes of filler text (no CR or LF, no control characters) cut from a fixed pattern
/// at offset `off`, so consecutive pieces of one long value join seamlessly.
fn filler(off: u64, n: usize, out: &mut Vec<u8>) {
    const PATTERN: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_";
    let start = (off % PATTERN.len() as u64) as usize;
    out.extend(PATTERN.iter().cycle().skip(start).take(n));
}

/// One attack in progress: a number of steps, each producing frames no earlier than
/// [`Attack::next_start`].
struct Attack {
    kind: Kind,
    cfg: HostileConfig,
    rng: Rng,
    steps: u64,
    /// Start time of the next step.
    now: Timestamp,
    /// The attack connection in progress (single-connection kinds, and `ooo-window`'s
    /// current one).
    conn: Option<TcpConn>,
    /// Connections opened so far.
    conns: u64,
    /// `ooo-window`: (steps of each connection, step within the current one).
    ooo_steps: Vec<u64>,
    ooo_at: (usize, u64),
}

/// `Rng::derive` purpose of the attack's draws (apart from those of `http`'s tags).
const RNG_HOSTILE: u64 = 0x0405_711e;

/// First connection index (in frame metadata) of attack connections, after the legitimate ones.
const ATTACK_CONN_BASE: u32 = 1 << 24;

impl Attack {
    fn new(cfg: &HostileConfig, start: Timestamp) -> Attack {
        let pieces = |bytes: u64| bytes.div_ceil(PIECE as u64);
        let mut ooo_steps = Vec::new();
        let steps = match cfg.kind {
            Kind::SynFlood | Kind::Pending => cfg.scale,
            // Handshake + request, then one step per chunk.
            Kind::EndlessChunked => 1 + pieces(cfg.scale),
            // Per message: handshake and head start, pieces of the line, the rest and close.
            Kind::HugeHeader => 2 * (2 + pieces(cfg.scale)),
            Kind::Pipelined => 1 + cfg.scale,
            Kind::OooWindow => {
                // Bounded by the scale the CLI accepts; the Vec holds one u64 per connection.
                ooo_steps = (0..cfg.scale)
                    .map(|i| {
                        let bytes = if i == 0 {
                            cfg.ooo_bytes.saturating_mul(OOO_BIG_FACTOR)
                        } else {
                            cfg.ooo_bytes
                        };
                        1 + pieces(bytes).max(1)
                    })
                    .collect();
                ooo_steps.iter().sum()
            }
        };
        Attack {
            kind: cfg.kind,
            cfg: cfg.clone(),
            rng: Rng::derive(cfg.seed, 0, RNG_HOSTILE),
            steps,
            now: start,
            conn: None,
            conns: 0,
            ooo_steps,
            ooo_at: (0, 0),
        }
    }

    fn next_start(&self) -> Timestamp {
        self.conn
            .as_ref()
            .map_or(self.now, |c| c.now().max(self.now))
    }

    fn open(&mut self, client: SocketAddr) -> Option<TcpConn> {
        let (_, server) = target();
        let p = attack_tcp(&mut self.rng);
        let index = ATTACK_CONN_BASE.wrapping_add(self.conns as u32);
        self.conns += 1;
        TcpConn::new(index, client, server, p, self.next_start()).ok()
    }

    /// Runs step `i`, appending its frames to `out`.
    fn step(&mut self, i: u64, out: &mut Vec<Packet>) {
        let (host_header, _) = target();
        match self.kind {
            Kind::SynFlood => {
                // 100,000 SYNs per second.
                if let Some(mut c) = self.open(attacker(i)) {
                    c.syn();
                    out.extend(c.finish());
                }
                self.now = self.now + Duration::from_micros(10);
            }
            Kind::Pending => {
                if let Some(mut c) = self.open(attacker(i)) {
                    c.handshake();
                    c.wait(Duration::from_micros(100));
                    let req = format!(
                        "GET /pending/{i} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: hostile/1\r\nAccept: */*\r\n\r\n"
                    );
                    c.send(Direction::ToServer, req.as_bytes());
                    out.extend(c.finish());
                }
                // 20,000 new connections per second.
                self.now = self.now + Duration::from_micros(50);
            }
            Kind::EndlessChunked => self.endless_chunked(i, &host_header, out),
            Kind::HugeHeader => self.huge_header(i, &host_header, out),
            Kind::Pipelined => {
                if i == 0 {
                    self.conn = self.open(attacker(0));
                    if let Some(c) = self.conn.as_mut() {
                        c.handshake();
                    }
                } else if let Some(c) = self.conn.as_mut() {
                    c.wait(Duration::from_micros(20));
                    let req = format!(
                        "GET /pipelined/{} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: hostile/1\r\n\r\n",
                        i - 1
                    );
                    c.send(Direction::ToServer, req.as_bytes());
                }
                if let Some(c) = self.conn.as_mut() {
                    out.extend(c.take_packets());
                }
            }
            Kind::OooWindow => self.ooo_window(out),
        }
    }

    fn endless_chunked(&mut self, i: u64, host_header: &str, out: &mut Vec<Packet>) {
        if i == 0 {
            self.conn = self.open(attacker(0));
            if let Some(c) = self.conn.as_mut() {
                c.handshake();
                let req = format!(
                    "GET /endless HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: hostile/1\r\n\r\n"
                );
                c.send(Direction::ToServer, req.as_bytes());
                c.wait(c.params().rtt);
                c.send(
                    Direction::ToClient,
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n",
                );
            }
        } else if let Some(c) = self.conn.as_mut() {
            // Chunk i-1 of the body (RFC 9112 section 7.1); never the last chunk.
            let off = (i - 1) * PIECE as u64;
            let n = self.cfg.scale.saturating_sub(off).min(PIECE as u64) as usize;
            let mut chunk = format!("{n:x}\r\n").into_bytes();
            filler(off, n, &mut chunk);
            chunk.extend_from_slice(b"\r\n");
            c.wait(c.params().gap);
            c.send(Direction::ToClient, &chunk);
        }
        if let Some(c) = self.conn.as_mut() {
            out.extend(c.take_packets());
        }
    }

    fn huge_header(&mut self, i: u64, host_header: &str, out: &mut Vec<Packet>) {
        let per_msg = 2 + self.cfg.scale.div_ceil(PIECE as u64);
        let (msg, k) = (i / per_msg, i % per_msg);
        // Message 0: a request with the long line (answered 431, RFC 6585 section 5);
        // message 1: a plain request answered with the long line.
        let dir = if msg == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        if k == 0 {
            self.conn = self.open(attacker(msg));
            if let Some(c) = self.conn.as_mut() {
                c.handshake();
                if msg == 0 {
                    let start = format!(
                        "GET /huge-request-header HTTP/1.1\r\nHost: {host_header}\r\nX-Padding: "
                    );
                    c.send(Direction::ToServer, start.as_bytes());
                } else {
                    let req = format!(
                        "GET /huge-response-header HTTP/1.1\r\nHost: {host_header}\r\n\r\n"
                    );
                    c.send(Direction::ToServer, req.as_bytes());
                    c.wait(c.params().rtt);
                    c.send(Direction::ToClient, b"HTTP/1.1 200 OK\r\nX-Padding: ");
                }
            }
        } else if k + 1 < per_msg {
            if let Some(c) = self.conn.as_mut() {
                let off = (k - 1) * PIECE as u64;
                let n = self.cfg.scale.saturating_sub(off).min(PIECE as u64) as usize;
                let mut piece = Vec::with_capacity(n);
                filler(off, n, &mut piece);
                c.wait(c.params().gap);
                c.send(dir, &piece);
            }
        } else if let Some(c) = self.conn.as_mut() {
            c.wait(c.params().gap);
            if msg == 0 {
                c.send(Direction::ToServer, b"\r\n\r\n");
                c.wait(c.params().rtt);
                c.send(
                    Direction::ToClient,
                    b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            } else {
                c.send(Direction::ToClient, b"\r\nContent-Length: 0\r\n\r\n");
            }
            c.close(Direction::ToClient);
        }
        if let Some(c) = self.conn.as_mut() {
            out.extend(c.take_packets());
        }
    }

    /// `ooo-window`: connection by connection (each left open, so every window is held
    /// at once): handshake, the first segment lost, then the rest out of order. The
    /// server's ACKs are left out as well: it never received the first segment, so it
    /// would only repeat the ACK of the handshake, and an ACK past the hole would tell the
    /// sniffer the bytes are lost (which is not this attack).
    fn ooo_window(&mut self, out: &mut Vec<Packet>) {
        let (ci, k) = self.ooo_at;
        let Some(&n_steps) = self.ooo_steps.get(ci) else {
            return;
        };
        let bytes = if ci == 0 {
            self.cfg.ooo_bytes.saturating_mul(OOO_BIG_FACTOR)
        } else {
            self.cfg.ooo_bytes
        };
        if k == 0 {
            self.conn = self.open(attacker(ci as u64));
            if let Some(c) = self.conn.as_mut() {
                c.handshake();
                out.extend(c.take_packets());
                // The lost segment: a POST head and the start of its body.
                let (host_header, _) = target();
                let mut first = format!(
                    "POST /ooo/{ci} HTTP/1.1\r\nHost: {host_header}\r\nContent-Length: {}\r\n\r\n",
                    bytes + c.params().mss as u64
                )
                .into_bytes();
                let fill = c.params().mss.saturating_sub(first.len());
                filler(0, fill, &mut first);
                first.truncate(c.params().mss);
                c.wait(c.params().gap);
                c.send(Direction::ToServer, &first);
                drop(c.take_packets());
            }
        } else if let Some(c) = self.conn.as_mut() {
            let off = (k - 1) * PIECE as u64;
            let n = bytes.saturating_sub(off).min(PIECE as u64) as usize;
            let mut piece = Vec::with_capacity(n);
            filler(off, n, &mut piece);
            c.wait(c.params().gap);
            c.send(Direction::ToServer, &piece);
            out.extend(
                c.take_packets()
                    .into_iter()
                    .filter(|p| p.meta.dir == Direction::ToServer),
            );
        }
        self.ooo_at = if k + 1 >= n_steps {
            if let Some(c) = self.conn.take() {
                self.now = c.now() + c.params().gap;
            }
            (ci + 1, 0)
        } else {
            (ci, k + 1)
        };
    }
}

/// A frame waiting in the time-ordered heap: (time, arrival order) keeps equal times in
/// the order they were made.
struct Queued {
    key: (Timestamp, u64),
    packet: Packet,
}

impl PartialEq for Queued {
    fn eq(&self, o: &Self) -> bool {
        self.key == o.key
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Queued {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.key.cmp(&o.key)
    }
}

/// Frames waiting to be written, in time order (equal times in the order they were made).
#[derive(Default)]
struct TimeQueue {
    heap: BinaryHeap<Reverse<Queued>>,
    order: u64,
}

impl TimeQueue {
    fn push(&mut self, packet: Packet) {
        self.order += 1;
        self.heap.push(Reverse(Queued {
            key: (packet.ts, self.order),
            packet,
        }));
    }

    /// The earliest frame, if it is at or before `until` (`None`: any).
    fn pop_until(&mut self, until: Option<Timestamp>) -> Option<Packet> {
        let Reverse(q) = self.heap.peek()?;
        if until.is_some_and(|t| q.key.0 > t) {
            return None;
        }
        self.heap.pop().map(|Reverse(q)| q.packet)
    }
}

/// Queues a legitimate connection's frames and writes its ground truth.
fn add_legit<E: Write>(
    g: GeneratedConn,
    queue: &mut TimeQueue,
    sum: &mut HostileSummary,
    expected: &mut Option<E>,
) -> io::Result<()> {
    sum.legit_connections += 1;
    for tx in &g.txs {
        sum.legit_transactions += 1;
        if let Some(e) = expected.as_mut() {
            writeln!(e, "{}", tx.to_tsv_row(true))?;
        }
    }
    for p in g.packets {
        queue.push(p);
    }
    Ok(())
}

/// Time of the first frame.
const START_SECS: i64 = 1_700_000_000;

/// Streams the capture for `cfg` to `out`, calling `on_packet` for every frame written
/// (tests count what they need there) and writing the legitimate transactions' ground
/// truth to `expected` as TSV.
pub fn write_hostile_with<W: Write, E: Write>(
    cfg: &HostileConfig,
    out: W,
    mut expected: Option<E>,
    mut on_packet: impl FnMut(&Packet, bool),
) -> io::Result<HostileSummary> {
    let start = Timestamp::from_secs_nanos(START_SECS, 0);
    let mut w = PcapWriter::new(out, LinkKind::Ethernet, TsResolution::Micro, None)?;
    if let Some(e) = expected.as_mut() {
        writeln!(e, "{}", ExpectedTx::TSV_HEADER)?;
    }
    let legit_p = legit_params(cfg.seed);
    let mut attack = Attack::new(cfg, start);
    let mut queue = TimeQueue::default();
    let mut sum = HostileSummary::default();
    let mut batch = Vec::new();
    let mut next_legit = 0u32;
    let steps = attack.steps;
    // Legitimate connection `j` starts with attack step `j * steps / legit`.
    let legit_step = |j: u32| (j as u128 * steps as u128 / cfg.legit.max(1) as u128) as u64;

    let mut flush_until = |queue: &mut TimeQueue,
                           until: Option<Timestamp>,
                           sum: &mut HostileSummary|
     -> io::Result<()> {
        while let Some(p) = queue.pop_until(until) {
            let is_attack = p.meta.conn >= ATTACK_CONN_BASE;
            w.write_packet_with_orig_len(p.ts, &p.data, p.orig_len)?;
            on_packet(&p, is_attack);
            sum.attack_packets += is_attack as u64;
        }
        Ok(())
    };

    for i in 0..steps {
        let t = attack.next_start();
        flush_until(&mut queue, Some(t), &mut sum)?;
        while next_legit < cfg.legit && legit_step(next_legit) == i {
            let g = generate_conn(&legit_p, next_legit, t);
            add_legit(g, &mut queue, &mut sum, &mut expected)?;
            next_legit += 1;
        }
        attack.step(i, &mut batch);
        for p in batch.drain(..) {
            queue.push(p);
        }
    }
    // Legitimate connections the attack left no step for (scale 0) start at the end.
    while next_legit < cfg.legit {
        let g = generate_conn(&legit_p, next_legit, attack.next_start());
        add_legit(g, &mut queue, &mut sum, &mut expected)?;
        next_legit += 1;
    }
    flush_until(&mut queue, None, &mut sum)?;
    sum.attack_connections = attack.conns;
    sum.packets = w.packets_written();
    sum.bytes = w.bytes_written();
    w.into_inner()?;
    if let Some(mut e) = expected {
        e.flush()?;
    }
    Ok(sum)
}

/// [`write_hostile_with`] without a per-frame callback.
pub fn write_hostile<W: Write, E: Write>(
    cfg: &HostileConfig,
    out: W,
    expected: Option<E>,
) -> io::Result<HostileSummary> {
    write_hostile_with(cfg, out, expected, |_, _| {})
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    use super::*;
    use crate::parse_expected_tsv;

    struct Written {
        /// (frame, is attack)
        packets: Vec<(Packet, bool)>,
        bytes: Vec<u8>,
        expected: String,
        sum: HostileSummary,
    }

    fn write(cfg: &HostileConfig) -> Written {
        let mut packets = Vec::new();
        let mut expected = Vec::new();
        let mut bytes = Vec::new();
        let sum = write_hostile_with(cfg, &mut bytes, Some(&mut expected), |p, a| {
            packets.push((p.clone(), a))
        })
        .unwrap();
        Written {
            packets,
            bytes,
            expected: String::from_utf8(expected).unwrap(),
            sum,
        }
    }

    fn cfg(kind: Kind, scale: u64, legit: u32) -> HostileConfig {
        HostileConfig {
            scale,
            legit,
            ..HostileConfig::new(kind)
        }
    }

    struct Tcp {
        src: SocketAddr,
        dst: SocketAddr,
        syn: bool,
        ack: bool,
        payload: Vec<u8>,
    }

    fn tcp(p: &Packet) -> Tcp {
        let s = SlicedPacket::from_ethernet(&p.data).unwrap();
        let (src, dst) = match s.net {
            Some(NetSlice::Ipv4(ip)) => (
                IpAddr::V4(ip.header().source_addr()),
                IpAddr::V4(ip.header().destination_addr()),
            ),
            _ => panic!("not IPv4"),
        };
        let Some(TransportSlice::Tcp(t)) = s.transport else {
            panic!("not TCP")
        };
        Tcp {
            src: SocketAddr::new(src, t.source_port()),
            dst: SocketAddr::new(dst, t.destination_port()),
            syn: t.syn(),
            ack: t.ack(),
            payload: t.payload().to_vec(),
        }
    }

    /// The payload bytes of attack connection `n` in `dir`, in capture order.
    fn stream(w: &Written, n: u32, dir: Direction) -> Vec<u8> {
        let mut out = Vec::new();
        for (p, _) in &w.packets {
            if p.meta.conn == ATTACK_CONN_BASE + n && p.meta.dir == dir {
                out.extend_from_slice(&tcp(p).payload);
            }
        }
        out
    }

    fn count(hay: &[u8], needle: &[u8]) -> usize {
        hay.windows(needle.len()).filter(|w| *w == needle).count()
    }

    #[test]
    fn syn_flood_is_lone_syns_from_distinct_sources() {
        let w = write(&cfg(Kind::SynFlood, 5000, 3));
        let attack: Vec<Tcp> = w
            .packets
            .iter()
            .filter(|p| p.1)
            .map(|p| tcp(&p.0))
            .collect();
        assert_eq!(attack.len(), 5000);
        assert_eq!(w.sum.attack_packets, 5000);
        assert_eq!(w.sum.attack_connections, 5000);
        let (_, server) = target();
        assert!(attack
            .iter()
            .all(|t| t.syn && !t.ack && t.payload.is_empty() && t.dst == server));
        let sources: HashSet<SocketAddr> = attack.iter().map(|t| t.src).collect();
        assert_eq!(
            sources.len(),
            5000,
            "every SYN from its own address and port"
        );
        assert!(sources
            .iter()
            .all(|s| matches!(s.ip(), IpAddr::V4(a) if a.octets()[..2] == [198, 18] || a.octets()[..2] == [198, 19])));
        // The legitimate connections are there and complete.
        assert_eq!(w.sum.legit_connections, 3);
        assert!(w.packets.iter().any(|(p, a)| !a && p.meta.fin));
    }

    #[test]
    fn attacker_addresses_are_distinct_across_the_port_wrap() {
        let mut seen = HashSet::new();
        for i in (0..300_000u64).chain(131_072 * 63_990..131_072 * 63_990 + 10) {
            assert!(seen.insert(attacker(i)), "attacker {i}");
        }
    }

    #[test]
    fn huge_header_lines_have_the_requested_length() {
        let scale = 200_001;
        let w = write(&cfg(Kind::HugeHeader, scale, 2));
        for (n, dir) in [(0, Direction::ToServer), (1, Direction::ToClient)] {
            let s = stream(&w, n, dir);
            let at = s
                .windows(11)
                .position(|x| x == b"X-Padding: ")
                .expect("the long line");
            let len = s[at..].windows(2).position(|x| x == b"\r\n").unwrap();
            assert_eq!(len as u64, 11 + scale, "conn {n}");
            assert!(!s[at..at + len].iter().any(|&b| b.is_ascii_control()));
            // The head ends right after (request) or after Content-Length (response).
            assert!(s.ends_with(b"\r\n\r\n"));
        }
        // Both connections are closed by the server.
        let fins = w.packets.iter().filter(|(p, a)| *a && p.meta.fin).count();
        assert_eq!(fins, 4);
    }

    #[test]
    fn endless_chunked_body_never_ends() {
        let scale = 300_000;
        let w = write(&cfg(Kind::EndlessChunked, scale, 2));
        let s = stream(&w, 0, Direction::ToClient);
        let head_end = s.windows(4).position(|x| x == b"\r\n\r\n").unwrap() + 4;
        assert!(s[..head_end]
            .windows(26)
            .any(|x| x == b"Transfer-Encoding: chunked"));
        let (mut rest, mut data, mut chunks) = (&s[head_end..], 0u64, 0);
        while !rest.is_empty() {
            let eol = rest.windows(2).position(|x| x == b"\r\n").unwrap();
            let n = usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap(), 16).unwrap();
            assert!(n > 0, "a last chunk was sent");
            assert_eq!(&rest[eol + 2 + n..eol + 4 + n], b"\r\n");
            rest = &rest[eol + 4 + n..];
            data += n as u64;
            chunks += 1;
        }
        assert_eq!(data, scale);
        assert_eq!(chunks, scale.div_ceil(PIECE as u64));
        assert!(!w
            .packets
            .iter()
            .any(|(p, a)| *a && (p.meta.fin || p.meta.rst)));
    }

    #[test]
    fn pending_and_pipelined_requests_are_never_answered() {
        let w = write(&cfg(Kind::Pending, 300, 2));
        assert_eq!(w.sum.attack_connections, 300);
        for n in [0, 150, 299] {
            let req = stream(&w, n, Direction::ToServer);
            assert!(req.starts_with(format!("GET /pending/{n} ").as_bytes()));
            assert_eq!(count(&req, b"\r\n\r\n"), 1);
            assert!(stream(&w, n, Direction::ToClient).is_empty());
        }
        assert!(!w
            .packets
            .iter()
            .any(|(p, a)| *a && (p.meta.fin || p.meta.rst)));

        let w = write(&cfg(Kind::Pipelined, 500, 2));
        assert_eq!(w.sum.attack_connections, 1);
        let req = stream(&w, 0, Direction::ToServer);
        assert_eq!(count(&req, b"GET /pipelined/"), 500);
        assert_eq!(count(&req, b"\r\n\r\n"), 500);
        assert!(req.ends_with(b"GET /pipelined/499 HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: hostile/1\r\n\r\n"));
        assert!(stream(&w, 0, Direction::ToClient).is_empty());
    }

    #[test]
    fn ooo_window_loses_each_first_segment_and_never_fills() {
        let w = write(&HostileConfig {
            ooo_bytes: 20_000,
            ..cfg(Kind::OooWindow, 5, 2)
        });
        assert_eq!(w.sum.attack_connections, 5);
        let mss = TcpParams::default().mss as u64;
        for n in 0..5u32 {
            let segs: Vec<&Packet> = w
                .packets
                .iter()
                .filter(|(p, _)| p.meta.conn == ATTACK_CONN_BASE + n)
                .map(|(p, _)| p)
                .collect();
            // SYN, SYN-ACK, ACK, then client data only.
            assert!(segs[0].meta.syn && segs[1].meta.syn);
            assert!(segs[3..].iter().all(|p| p.meta.dir == Direction::ToServer));
            let mut next = mss;
            for p in segs.iter().filter(|p| p.meta.payload_len > 0) {
                assert_eq!(
                    p.meta.stream_off, next,
                    "conn {n}: contiguous after the hole"
                );
                next += p.meta.payload_len as u64;
            }
            let want = if n == 0 {
                20_000 * OOO_BIG_FACTOR
            } else {
                20_000
            };
            assert_eq!(next - mss, want, "conn {n}");
        }
    }

    #[test]
    fn frames_are_in_time_order_and_the_truth_matches_the_legit_traffic() {
        for kind in Kind::ALL {
            let scale = match kind {
                Kind::EndlessChunked | Kind::HugeHeader => 150_000,
                Kind::OooWindow => 3,
                _ => 200,
            };
            let c = HostileConfig {
                ooo_bytes: 10_000,
                ..cfg(kind, scale, 7)
            };
            let w = write(&c);
            assert!(
                w.packets.windows(2).all(|x| x[0].0.ts <= x[1].0.ts),
                "{kind:?}: time order"
            );
            assert_eq!(w.sum.packets as usize, w.packets.len());
            assert_eq!(w.sum.bytes as usize, w.bytes.len());
            let truth = parse_expected_tsv(&w.expected).unwrap();
            assert_eq!(truth.len() as u64, w.sum.legit_transactions, "{kind:?}");
            assert_eq!(w.sum.legit_connections, 7);
            // Every transaction is answered, and comes from a legitimate client whose
            // frames are all marked legitimate.
            let legit_clients: HashSet<SocketAddr> = w
                .packets
                .iter()
                .filter(|(_, a)| !a)
                .map(|(p, _)| tcp(p))
                .filter(|t| t.syn && !t.ack)
                .map(|t| t.src)
                .collect();
            assert_eq!(legit_clients.len(), 7, "{kind:?}");
            for (tx, intact) in &truth {
                assert!(*intact && tx.status.is_some());
                assert!(
                    legit_clients.contains(&tx.client),
                    "{kind:?}: {}",
                    tx.client
                );
            }
            // Legitimate connections are spread through the attack, not bunched at the end.
            let first_attack = w.packets.iter().position(|p| p.1).unwrap();
            let last_attack = w.packets.iter().rposition(|p| p.1).unwrap();
            let legit_inside = w.packets[first_attack..last_attack]
                .iter()
                .filter(|(p, a)| !a && p.meta.syn && p.meta.dir == Direction::ToServer)
                .count();
            assert!(
                legit_inside >= 5,
                "{kind:?}: {legit_inside} legit SYNs inside"
            );
            // Deterministic in the config, and the seed matters.
            assert_eq!(write(&c).bytes, w.bytes, "{kind:?}");
            let other = HostileConfig { seed: 2, ..c };
            assert_ne!(write(&other).bytes, w.bytes, "{kind:?}");
        }
    }

    #[test]
    fn scale_zero_and_no_legit_is_an_empty_capture() {
        let w = write(&cfg(Kind::SynFlood, 0, 0));
        assert_eq!(w.bytes.len(), 24);
        assert_eq!(w.expected.lines().count(), 1);
        let w = write(&cfg(Kind::Pipelined, 0, 2));
        assert_eq!(w.sum.legit_connections, 2);
        assert!(
            w.sum.attack_packets > 0,
            "the pipelined connection's handshake"
        );
    }

    #[test]
    fn kinds_round_trip_their_names() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
            assert!(k.default_scale() > 0);
        }
        assert_eq!(Kind::parse("smurf"), None);
    }
}
