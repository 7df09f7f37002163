//! Shared by the `http_*` tests: the transcript format (see fixtures/http/README.md), a
//! deterministic splitter, and a driver that feeds events to an `HttpConn`.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use httshark::http::{HttpConn, HttpCtx, HttpLimits};
use httshark::model::{ConnInfo, Direction, Transaction};
use httshark::reassembly::{CloseReason, StreamHandler};
use httshark::time::Timestamp;

/// One step of a transcript.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Data(Direction, Vec<u8>, Timestamp),
    Gap(Direction, u64, Timestamp),
    Fin(Direction, Timestamp),
    Tick(Timestamp),
    Close(CloseReason, Timestamp),
}

#[derive(Clone, Debug, Default)]
pub struct Transcript {
    pub events: Vec<Event>,
    pub midstream: bool,
}

fn unescape(line: &str, lineno: usize) -> Vec<u8> {
    let b = line.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'\\' => out.push(b'\\'),
                b'x' => {
                    let hex = line
                        .get(i + 2..i + 4)
                        .unwrap_or_else(|| panic!("line {lineno}: bad \\x escape"));
                    out.push(
                        u8::from_str_radix(hex, 16)
                            .unwrap_or_else(|_| panic!("line {lineno}: bad \\x{hex}")),
                    );
                    i += 2;
                }
                other => panic!("line {lineno}: unknown escape \\{}", other as char),
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn dir_of(s: &str) -> Direction {
    match s {
        ">>>" => Direction::ToServer,
        "<<<" => Direction::ToClient,
        other => panic!("unknown direction {other:?}"),
    }
}

/// Parses the transcript format documented in fixtures/http/README.md.
pub fn parse(text: &str) -> Transcript {
    let mut t = Transcript::default();
    let mut dir: Option<Direction> = None;
    let mut cur: Vec<u8> = Vec::new();
    let mut eol: &[u8] = b"\r\n";
    let mut now = Timestamp::from_secs_nanos(1_000, 0);
    let flush = |t: &mut Transcript, dir: Option<Direction>, cur: &mut Vec<u8>, now: Timestamp| {
        if let Some(d) = dir {
            if !cur.is_empty() {
                t.events.push(Event::Data(d, std::mem::take(cur), now));
            }
        }
    };
    for (n, line) in text.lines().enumerate() {
        let lineno = n + 1;
        if line == ">>>" || line == "<<<" {
            flush(&mut t, dir, &mut cur, now);
            dir = Some(dir_of(line));
            continue;
        }
        if let Some(d) = line.strip_prefix("~~~ ") {
            flush(&mut t, dir, &mut cur, now);
            let words: Vec<&str> = d.split_whitespace().collect();
            match words.as_slice() {
                ["gap", n] => t.events.push(Event::Gap(
                    dir.expect("gap outside a block"),
                    n.parse().unwrap(),
                    now,
                )),
                ["fin", d] => t.events.push(Event::Fin(dir_of(d), now)),
                ["time", s] => now = Timestamp::from_secs_nanos(s.parse().unwrap(), 0),
                ["tick", s] => {
                    now = Timestamp::from_secs_nanos(s.parse().unwrap(), 0);
                    t.events.push(Event::Tick(now));
                }
                ["close", r] => t.events.push(Event::Close(
                    match *r {
                        "fin" => CloseReason::Fin,
                        "reset" => CloseReason::Reset,
                        "idle" => CloseReason::Idle,
                        "end" => CloseReason::EndOfCapture,
                        other => panic!("line {lineno}: close reason {other}"),
                    },
                    now,
                )),
                ["eol", "lf"] => eol = b"\n",
                ["eol", "crlf"] => eol = b"\r\n",
                ["midstream"] => t.midstream = true,
                _ => panic!("line {lineno}: unknown directive {line:?}"),
            }
            continue;
        }
        match dir {
            None => {
                assert!(
                    line.starts_with('#') || line.trim().is_empty(),
                    "line {lineno}: text outside a block"
                );
            }
            Some(_) => {
                if let Some(body) = line.strip_suffix('\\').filter(|b| !b.ends_with('\\')) {
                    cur.extend(unescape(body, lineno));
                } else {
                    cur.extend(unescape(line, lineno));
                    cur.extend_from_slice(eol);
                }
            }
        }
    }
    flush(&mut t, dir, &mut cur, now);
    t
}

pub fn conn_info(midstream: bool) -> ConnInfo {
    let client: SocketAddr = "10.0.0.1:40000".parse().unwrap();
    let server: SocketAddr = "10.0.0.2:80".parse().unwrap();
    ConnInfo {
        id: 7,
        client,
        server,
        syn_ts: if midstream {
            None
        } else {
            Some(Timestamp::from_secs_nanos(999, 0))
        },
        synack_ts: None,
        established_ts: None,
        midstream,
    }
}

pub fn limits() -> HttpLimits {
    HttpLimits {
        response_timeout: Duration::from_secs(30),
        ..HttpLimits::default()
    }
}

/// A small deterministic PRNG (xorshift64*), so no `rand` dependency is needed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

/// How data blocks are cut into `on_data` calls.
#[derive(Clone, Copy, Debug)]
pub enum Split {
    Whole,
    Bytes,
    Random(u64),
}

/// Replays `t` through a fresh `HttpConn`, ending with `on_close(EndOfCapture)` unless the
/// transcript closes itself. Every piece of a block carries the block's time.
pub fn replay_with(
    t: &Transcript,
    split: Split,
    limits: HttpLimits,
) -> (Vec<Transaction>, HttpCtx) {
    let conn = conn_info(t.midstream);
    let mut ctx = HttpCtx::new(limits);
    let mut h = HttpConn::new(&conn);
    replay_through(t, split, &conn, &mut h, &mut ctx);
    assert_eq!(h.pending(), 0, "nothing may stay pending after close");
    (std::mem::take(&mut ctx.out), ctx)
}

/// Replays `t` through any stream handler (the HTTP/1 parser, or the protocol layer above
/// it), ending with `on_close(EndOfCapture)` unless the transcript closes itself.
pub fn replay_through<H: StreamHandler>(
    t: &Transcript,
    split: Split,
    conn: &ConnInfo,
    h: &mut H,
    ctx: &mut H::Ctx,
) {
    let mut rng = Rng::new(match split {
        Split::Random(s) => s,
        _ => 1,
    });
    let mut closed = false;
    let mut last = Timestamp::from_secs_nanos(1_000, 0);
    for e in &t.events {
        match e {
            Event::Data(d, bytes, ts) => {
                last = *ts;
                match split {
                    Split::Whole => h.on_data(ctx, conn, *d, bytes, *ts),
                    Split::Bytes => {
                        for b in bytes.chunks(1) {
                            h.on_data(ctx, conn, *d, b, *ts);
                        }
                    }
                    Split::Random(_) => {
                        let mut rest = &bytes[..];
                        while !rest.is_empty() {
                            let n = 1 + rng.below(rest.len().min(64) as u64) as usize;
                            let (a, b) = rest.split_at(n.min(rest.len()));
                            h.on_data(ctx, conn, *d, a, *ts);
                            rest = b;
                        }
                    }
                }
            }
            Event::Gap(d, n, ts) => h.on_gap(ctx, conn, *d, *n, *ts),
            Event::Fin(d, ts) => h.on_fin(ctx, conn, *d, *ts),
            Event::Tick(ts) => {
                last = *ts;
                h.on_tick(ctx, conn, *ts)
            }
            Event::Close(r, ts) => {
                h.on_close(ctx, conn, *r, *ts);
                closed = true;
            }
        }
    }
    if !closed {
        h.on_close(ctx, conn, CloseReason::EndOfCapture, last);
    }
}

pub fn replay(t: &Transcript, split: Split) -> Vec<Transaction> {
    replay_with(t, split, limits()).0
}

/// Builds a transcript from raw byte blocks (for generated cases).
pub fn blocks(list: &[(Direction, &[u8])]) -> Transcript {
    let ts = Timestamp::from_secs_nanos(1_000, 0);
    Transcript {
        events: list
            .iter()
            .map(|(d, b)| Event::Data(*d, b.to_vec(), ts))
            .collect(),
        midstream: false,
    }
}

/// Replays whole, byte by byte and at seeded random splits; all must agree, transactions
/// and counters alike.
pub fn replay_all_ways(t: &Transcript) -> Vec<Transaction> {
    let run = |split| {
        let (out, ctx) = replay_with(t, split, limits());
        (out, format!("{:?}", ctx.counters))
    };
    let (whole, counters) = run(Split::Whole);
    let (bytes, bytes_counters) = run(Split::Bytes);
    assert_eq!(bytes, whole, "byte-by-byte replay differs");
    assert_eq!(
        bytes_counters, counters,
        "byte-by-byte replay: counters differ"
    );
    for seed in 1..=8 {
        let (random, random_counters) = run(Split::Random(seed));
        assert_eq!(random, whole, "random split (seed {seed}) differs");
        assert_eq!(
            random_counters, counters,
            "random split (seed {seed}): counters differ"
        );
    }
    whole
}
