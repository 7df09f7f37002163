//! The worker's memory budget (`ReassemblyLimits::memory_budget`, a share of
//! `-memory-limit`) through `ConnTable` + the protocol layer (`ProtoConn` over `HttpConn`, as the workers run it): what is charged never goes over the
//! budget, each step of the policy applies and is counted, the transactions it touches are
//! exported flagged, and the charge returns to zero when every connection is gone.

use std::net::SocketAddr;
use std::time::Duration;

use httshark::hosts::ServerSet;
use httshark::http::HttpLimits;
use httshark::model::{Anomaly, Transaction, Unanswered};
use httshark::proto::{ProtoCtx, ProtoFactory};
use httshark::reassembly::{ConnTable, ReassemblyLimits};
use httshark::time::Timestamp;
use httshark::wire::{TcpFlags, TcpSegment};

struct Run {
    table: ConnTable<ProtoFactory>,
    ctx: ProtoCtx,
    t: Timestamp,
    n: u64,
    budget: usize,
    /// Highest charge seen after any segment.
    peak: usize,
    out: Vec<Transaction>,
}

impl Run {
    fn new(budget: usize, reassembly: ReassemblyLimits) -> Run {
        let limits = ReassemblyLimits {
            memory_budget: budget,
            ..reassembly
        };
        Run {
            table: ConnTable::new(ProtoFactory, ServerSet::parse(":80").unwrap(), limits),
            ctx: ProtoCtx::new(HttpLimits::default()),
            t: Timestamp::from_secs_nanos(1_700_000_000, 0),
            n: 0,
            budget,
            peak: 0,
            out: Vec::new(),
        }
    }

    fn pkt(&mut self, src: SocketAddr, dst: SocketAddr, flags: &str, seq: u32, ack: u32, p: &[u8]) {
        let seg = TcpSegment {
            src,
            dst,
            seq,
            ack,
            flags: TcpFlags {
                syn: flags.contains('S'),
                ack: flags.contains('A'),
                fin: flags.contains('F'),
                rst: flags.contains('R'),
            },
            payload: p,
            auth_option: false,
            timestamp: None,
            window: 65535,
        };
        self.table
            .on_segment(&mut self.ctx, &seg, self.n, self.t, self.t);
        self.n += 1;
        self.t = self.t + Duration::from_micros(10);
        let used = self.table.memory_used();
        self.peak = self.peak.max(used);
        assert!(
            used <= self.budget,
            "packet {}: {used} bytes charged, budget {}",
            self.n,
            self.budget
        );
        self.out.append(&mut self.ctx.http.out);
    }

    fn finish(&mut self) {
        self.table.close_all(&mut self.ctx, self.t);
        self.out.append(&mut self.ctx.http.out);
        assert_eq!(self.table.memory_used(), 0, "charge left after close_all");
    }
}

fn client(i: u32) -> SocketAddr {
    SocketAddr::from((
        [10, 1, (i >> 16) as u8, (i >> 8) as u8],
        1024 + (i & 0xff) as u16,
    ))
}

fn server() -> SocketAddr {
    "10.9.9.9:80".parse().unwrap()
}

/// Handshake, then `req` from the client; returns the next client and server sequences.
fn open_with_request(r: &mut Run, c: SocketAddr, req: &[u8]) -> (u32, u32) {
    let s = server();
    r.pkt(c, s, "S", 100, 0, b"");
    r.pkt(s, c, "SA", 900, 101, b"");
    r.pkt(c, s, "A", 101, 901, b"");
    r.pkt(c, s, "A", 101, 901, req);
    (101 + req.len() as u32, 901)
}

fn exchange(r: &mut Run, c: SocketAddr, path: &str) {
    let s = server();
    let req = format!("GET {path} HTTP/1.1\r\nHost: legit\r\n\r\n");
    let (cs, ss) = open_with_request(r, c, req.as_bytes());
    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    r.pkt(s, c, "A", ss, cs, resp);
    let ss = ss + resp.len() as u32;
    r.pkt(c, s, "FA", cs, ss, b"");
    r.pkt(s, c, "FA", ss, cs + 1, b"");
    r.pkt(c, s, "A", cs + 1, ss + 1, b"");
}

#[test]
fn pending_requests_over_the_budget_evict_the_oldest_connections_flagged() {
    let mut r = Run::new(256 << 10, ReassemblyLimits::default());
    exchange(&mut r, client(0), "/before");
    let flood = 3000;
    for i in 1..=flood {
        let req = format!(
            "GET /pending/{i} HTTP/1.1\r\nHost: attacker\r\nX-Pad: {:0>200}\r\n\r\n",
            i
        );
        open_with_request(&mut r, client(i), req.as_bytes());
        if i == flood / 2 {
            exchange(&mut r, client(100_000), "/during");
        }
    }
    exchange(&mut r, client(100_001), "/after");
    let c = r.table.counters().clone();
    assert!(c.memory_limit_hits > 0, "{c:?}");
    assert!(c.memory_limit_evictions > 1000, "{c:?}");
    assert_eq!(c.connections_evicted, c.memory_limit_evictions);
    // The budget held well under the whole flood's size: what was charged at the peak is
    // the budget, so about a third of the connections at most were alive at once.
    assert!(r.peak > r.budget / 2, "peak {}", r.peak);
    let evicted: Vec<&Transaction> = r
        .out
        .iter()
        .filter(|t| {
            t.anomalies
                .contains(&Anomaly::Unanswered(Unanswered::Evicted))
        })
        .collect();
    assert_eq!(evicted.len() as u64, c.memory_limit_evictions);
    assert!(evicted
        .iter()
        .all(|t| t.request.target.starts_with("/pending/")));
    r.finish();
    // Every request is exported exactly once, evicted or at the end.
    let pending = r
        .out
        .iter()
        .filter(|t| t.request.target.starts_with("/pending/"))
        .count();
    assert_eq!(pending, flood as usize);
    for path in ["/before", "/during", "/after"] {
        let t = r
            .out
            .iter()
            .find(|t| t.request.target == path)
            .unwrap_or_else(|| panic!("{path} missing"));
        let resp = t.response.as_ref().expect("answered");
        assert_eq!((resp.status, &resp.body.data[..]), (200, &b"hello"[..]));
        assert!(t.anomalies.is_empty(), "{path}: {:?}", t.anomalies);
    }
}

#[test]
fn a_body_over_the_budget_stops_being_kept_and_its_sizes_stay_exact() {
    let budget = 1 << 20;
    let mut r = Run::new(budget, ReassemblyLimits::default());
    let (c, s) = (client(1), server());
    let len = 3 << 20;
    let head = format!("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: {len}\r\n\r\n");
    let (mut cs, ss) = open_with_request(&mut r, c, head.as_bytes());
    let chunk = vec![b'x'; 1400];
    let mut sent = 0;
    while sent < len {
        let n = chunk.len().min(len - sent);
        r.pkt(c, s, "A", cs, ss, &chunk[..n]);
        cs += n as u32;
        sent += n;
    }
    let resp = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
    r.pkt(s, c, "A", ss, cs, resp);
    r.finish();
    let c = r.ctx.http.counters.clone();
    assert_eq!(c.memory_limit_bodies_dropped, 1, "{c:?}");
    assert_eq!(r.table.counters().memory_limit_evictions, 0);
    let t = r
        .out
        .iter()
        .find(|t| t.request.target == "/upload")
        .unwrap();
    assert_eq!(t.request.body.len, len as u64);
    assert_eq!(t.request.body.missing, 0);
    assert!(t.request.body.truncated);
    assert!(t.request.body.data.len() < budget);
    assert!(t.request.complete);
    assert!(
        t.anomalies.contains(&Anomaly::MemoryLimit),
        "{:?}",
        t.anomalies
    );
    assert_eq!(t.response.as_ref().map(|r| r.status), Some(201));
}

#[test]
fn out_of_order_data_over_the_budget_is_released_as_a_gap() {
    let budget = 256 << 10;
    let limits = ReassemblyLimits {
        max_ooo_bytes_per_direction: 4 << 20,
        max_ooo_segments_per_direction: 100_000,
        ..ReassemblyLimits::default()
    };
    let mut r = Run::new(budget, limits);
    let (c, s) = (client(1), server());
    let len = 1 << 20;
    let head = format!("POST /ooo HTTP/1.1\r\nHost: a\r\nContent-Length: {len}\r\n\r\n");
    let (cs, ss) = open_with_request(&mut r, c, head.as_bytes());
    // The first body segment never comes: everything after it waits out of order.
    let chunk = vec![b'y'; 1000];
    let mut off = chunk.len();
    while off < len {
        let n = chunk.len().min(len - off);
        r.pkt(c, s, "A", cs + off as u32, ss, &chunk[..n]);
        off += n;
    }
    let rc = r.table.counters().clone();
    assert!(rc.memory_limit_buffers_released > 0, "{rc:?}");
    assert!(rc.gap_bytes >= chunk.len() as u64, "{rc:?}");
    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    r.pkt(s, c, "A", ss, cs + len as u32, resp);
    r.finish();
    let t = r.out.iter().find(|t| t.request.target == "/ooo").unwrap();
    assert_eq!(t.request.body.len, len as u64);
    assert_eq!(t.request.body.missing, chunk.len() as u64);
    assert!(t.anomalies.contains(&Anomaly::BodyGap), "{:?}", t.anomalies);
    assert_eq!(t.response.as_ref().map(|r| r.status), Some(200));
}

#[test]
fn without_pressure_nothing_is_shed_and_the_charge_returns_to_zero() {
    let mut r = Run::new(64 << 20, ReassemblyLimits::default());
    for i in 0..200 {
        exchange(&mut r, client(i), &format!("/ok/{i}"));
    }
    r.finish();
    let c = r.table.counters();
    assert_eq!(
        (
            c.memory_limit_hits,
            r.ctx.http.counters.memory_limit_bodies_dropped
        ),
        (0, 0)
    );
    assert_eq!(r.out.len(), 200);
    assert!(r.out.iter().all(|t| t.anomalies.is_empty()));
}
