//! Test-only HTTP/2 encoder: frames and HPACK blocks of literal fields (never indexed,
//! no Huffman), and a driver that replays a transcript through `H2Conn` whole, byte by
//! byte or at seeded random split points.

use std::net::SocketAddr;

use crate::http::{HttpCtx, HttpLimits};
use crate::model::{ConnInfo, Direction, Transaction};
use crate::proto::detect::H2_PREFACE;
use crate::reassembly::{CloseReason, StreamHandler};
use crate::time::Timestamp;

use super::frame::{self, FrameHeader};
use super::H2Conn;

/// One frame's bytes.
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let h = FrameHeader {
        len: payload.len() as u32,
        kind,
        flags,
        stream,
    };
    let mut v = h.encode().to_vec();
    v.extend_from_slice(payload);
    v
}

/// An HPACK integer with an `n`-bit prefix, the prefix's other bits `flags` (RFC 7541 §5.1).
pub fn int(out: &mut Vec<u8>, flags: u8, n: u32, mut v: u64) {
    let max = (1u64 << n) - 1;
    if v < max {
        out.push(flags | v as u8);
        return;
    }
    out.push(flags | max as u8);
    v -= max;
    while v >= 128 {
        out.push((v % 128) as u8 | 0x80);
        v /= 128;
    }
    out.push(v as u8);
}

/// A header block of literal fields, never indexed, names and values as raw strings.
pub fn block(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        out.push(0x10);
        int(&mut out, 0, 7, name.len() as u64);
        out.extend_from_slice(name.as_bytes());
        int(&mut out, 0, 7, value.len() as u64);
        out.extend_from_slice(value.as_bytes());
    }
    out
}

/// HEADERS with a whole block.
pub fn headers(stream: u32, fields: &[(&str, &str)], end_stream: bool) -> Vec<u8> {
    let flags = frame::FLAG_END_HEADERS
        | if end_stream {
            frame::FLAG_END_STREAM
        } else {
            0
        };
    frame(frame::HEADERS, flags, stream, &block(fields))
}

pub fn data(stream: u32, bytes: &[u8], end_stream: bool) -> Vec<u8> {
    let flags = if end_stream {
        frame::FLAG_END_STREAM
    } else {
        0
    };
    frame(frame::DATA, flags, stream, bytes)
}

pub fn settings(pairs: &[(u16, u32)]) -> Vec<u8> {
    let mut p = Vec::new();
    for (id, v) in pairs {
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&v.to_be_bytes());
    }
    frame(frame::SETTINGS, 0, 0, &p)
}

/// The client preface and an empty SETTINGS.
pub fn preface() -> Vec<u8> {
    let mut v = H2_PREFACE.to_vec();
    v.extend(settings(&[]));
    v
}

/// A GET request's fields.
pub fn get(path: &str) -> Vec<(&'static str, String)> {
    vec![
        (":method", "GET".into()),
        (":scheme", "http".into()),
        (":authority", "a.test".into()),
        (":path", path.into()),
    ]
}

/// `block` of owned fields.
pub fn fields<'a>(f: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    f.iter().map(|(n, v)| (*n, v.as_str())).collect()
}

/// How a transcript's chunks are cut before they are fed.
#[derive(Clone, Copy, Debug)]
pub enum Split {
    Whole,
    Bytes,
    Random(u64),
}

/// One event of a transcript.
#[derive(Clone, Debug)]
pub enum Step {
    Data(Direction, Vec<u8>),
    Gap(Direction, u64),
}

pub fn conn_info(midstream: bool) -> ConnInfo {
    let client: SocketAddr = "10.0.0.1:40000".parse().unwrap();
    let server: SocketAddr = "10.0.0.2:80".parse().unwrap();
    ConnInfo {
        id: 7,
        client,
        server,
        syn_ts: (!midstream).then(|| Timestamp::from_secs_nanos(10, 0)),
        synack_ts: None,
        established_ts: None,
        midstream,
    }
}

/// A small deterministic generator (xorshift) for split points.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Replays `steps` (each step one packet time later) through a new `H2Conn`, cut as
/// `split` says, then closes it. Returns the transactions and the context.
pub fn replay(steps: &[Step], split: Split, midstream: bool) -> (Vec<Transaction>, HttpCtx) {
    replay_with(steps, split, midstream, HttpLimits::default())
}

pub fn replay_with(
    steps: &[Step],
    split: Split,
    midstream: bool,
    limits: HttpLimits,
) -> (Vec<Transaction>, HttpCtx) {
    let conn = conn_info(midstream);
    let mut ctx = HttpCtx::new(limits);
    let mut h = H2Conn::new(&mut ctx, midstream);
    let mut rng = Rng(match split {
        Split::Random(seed) => seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
        _ => 1,
    });
    for (i, step) in steps.iter().enumerate() {
        let ts = Timestamp::from_secs_nanos(100 + i as i64, 0);
        match step {
            Step::Data(dir, bytes) => {
                let mut rest: &[u8] = bytes;
                while !rest.is_empty() {
                    let n = match split {
                        Split::Whole => rest.len(),
                        Split::Bytes => 1,
                        Split::Random(_) => 1 + (rng.next() % 40) as usize,
                    }
                    .min(rest.len());
                    h.on_data(&mut ctx, &conn, *dir, &rest[..n], ts);
                    rest = &rest[n..];
                }
            }
            Step::Gap(dir, n) => h.on_gap(&mut ctx, &conn, *dir, *n, ts),
        }
    }
    let end = Timestamp::from_secs_nanos(100 + steps.len() as i64, 0);
    h.on_close(&mut ctx, &conn, CloseReason::Fin, end);
    (std::mem::take(&mut ctx.out), ctx)
}

/// A literal field with incremental indexing and a literal name (RFC 7541 §6.2.1): the
/// decoder adds it to its dynamic table.
pub fn indexed_literal(out: &mut Vec<u8>, name: &str, value: &str) {
    out.push(0x40);
    int(out, 0, 7, name.len() as u64);
    out.extend_from_slice(name.as_bytes());
    int(out, 0, 7, value.len() as u64);
    out.extend_from_slice(value.as_bytes());
}

/// An indexed field (RFC 7541 §6.1): 1-61 static, 62 on the dynamic table.
pub fn indexed(out: &mut Vec<u8>, index: u64) {
    int(out, 0x80, 7, index);
}
