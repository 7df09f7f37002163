//! One attack in progress ([`Attack`]): its steps (a SYN, a connection, a 64 KiB piece of
//! a body or header line, a request) and the frames each step makes.

use std::net::SocketAddr;
use std::time::Duration;

use super::{attacker, target, HostileConfig, Kind, OOO_BIG_FACTOR, PIECE};
use crate::rng::Rng;
use crate::tcp::{Direction, Packet, TcpConn, TcpParams};
use crate::time::Timestamp;

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
pub(super) struct Attack {
    kind: Kind,
    cfg: HostileConfig,
    rng: Rng,
    pub(super) steps: u64,
    /// Start time of the next step.
    now: Timestamp,
    /// The attack connection in progress (single-connection kinds, and `ooo-window`'s
    /// current one).
    conn: Option<TcpConn>,
    /// Connections opened so far.
    pub(super) conns: u64,
    /// `ooo-window`: (steps of each connection, step within the current one).
    ooo_steps: Vec<u64>,
    ooo_at: (usize, u64),
}

/// `Rng::derive` purpose of the attack's draws (apart from those of `http`'s tags).
const RNG_HOSTILE: u64 = 0x0405_711e;

/// First connection index (in frame metadata) of attack connections, after the legitimate ones.
pub(super) const ATTACK_CONN_BASE: u32 = 1 << 24;

impl Attack {
    pub(super) fn new(cfg: &HostileConfig, start: Timestamp) -> Attack {
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

    pub(super) fn next_start(&self) -> Timestamp {
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
    pub(super) fn step(&mut self, i: u64, out: &mut Vec<Packet>) {
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
