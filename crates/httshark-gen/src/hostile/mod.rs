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
//! [`ExpectedTx`](crate::http::ExpectedTx) rows, the `.expected.tsv` format of
//! [`super::scenario`].
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
//!
//! Layout: this file holds the attacks' vocabulary ([`Kind`], [`HostileConfig`],
//! [`HostileSummary`]) and addresses; `attack` makes each attack's frames step by step;
//! `write` merges them with the legitimate connections in time order and writes the
//! capture ([`write_hostile`]).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::http::{host, HttpParams, Sizes};
use crate::tcp::TcpParams;

mod attack;
#[cfg(test)]
mod tests;
mod write;

pub use write::{write_hostile, write_hostile_with};

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
