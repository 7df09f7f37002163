//! `H2Conn` (the HTTP/2 session) through the `StreamHandler` trait with arbitrary frames
//! both ways. Input: byte 0 bit 0 = the session starts lost (a mid-stream pickup), else
//! the client preface is sent first; then ops, each a tag byte:
//! - tag & 7 == 0..=3: a frame (tag bit 3: to the client). Then `kind` (mod 12: the ten
//!   RFC types, an unknown one, and DATA again), `flags`, `stream` (one byte: small ids,
//!   so frames meet the same streams), `len` (u16) and up to `len` payload bytes. A tag
//!   of 1 makes the payload an HPACK block of literal fields from the payload bytes (so
//!   header blocks decode into real requests and responses), 2 prefixes a PADDED pad
//!   length; the frame is fed cut at a split point from the next byte;
//! - 4: raw bytes (u16 length), unframed; 5: a gap (u16 length); 6: a tick and time
//!   forward; 7: a FIN (direction from bit 3).
//!
//! Small HTTP limits, so every limit is reached; each exported transaction must respect
//! them (`check_transaction`), and `mem_bytes` must stay bounded.

use std::net::{Ipv4Addr, SocketAddr};

use super::{check_transaction, small_http_limits, Cursor};
use crate::h2::H2Conn;
use crate::http::HttpCtx;
use crate::model::{ConnInfo, Direction};
use crate::reassembly::{CloseReason, StreamHandler};
use crate::time::Timestamp;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    v.extend_from_slice(&[kind, flags]);
    v.extend_from_slice(&stream.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// An HPACK block of literal fields (never indexed) cut from `bytes`: pseudo-headers
/// and names picked by each piece's first byte.
fn block(bytes: &[u8]) -> Vec<u8> {
    const NAMES: [&str; 8] = [
        ":method",
        ":path",
        ":status",
        ":authority",
        "content-encoding",
        "cookie",
        ":scheme",
        "x",
    ];
    let mut out = Vec::new();
    for piece in bytes.chunks(6) {
        let name = NAMES[usize::from(piece[0]) % NAMES.len()];
        let value = &piece[1..];
        out.push(0x10);
        out.push(name.len() as u8);
        out.extend_from_slice(name.as_bytes());
        out.push(value.len() as u8);
        out.extend_from_slice(value);
    }
    out
}

/// Runs one input; panics when an invariant above breaks.
pub fn check(data: &[u8]) {
    let mut c = Cursor::new(data);
    let lost = c.u8().is_some_and(|f| f & 1 == 1);
    let conn = ConnInfo {
        id: 1,
        client: SocketAddr::from((Ipv4Addr::new(10, 0, 0, 2), 40_000)),
        server: SocketAddr::from((Ipv4Addr::new(10, 0, 0, 1), 80)),
        syn_ts: None,
        synack_ts: None,
        established_ts: None,
        midstream: lost,
    };
    let limits = small_http_limits();
    let mut ctx = HttpCtx::new(limits.clone());
    let mut h = H2Conn::new(&mut ctx, lost);
    let mut ts = Timestamp::from_secs_nanos(1_700_000_000, 0);
    if !lost {
        h.on_data(&mut ctx, &conn, Direction::ToServer, PREFACE, ts);
    }
    let mut finished = [false; 2];
    while let Some(tag) = c.u8() {
        let dir = if tag & 8 != 0 {
            Direction::ToClient
        } else {
            Direction::ToServer
        };
        let mut bytes = Vec::new();
        match tag & 7 {
            0..=3 => {
                let (Some(kind), Some(flags), Some(stream), Some(len)) =
                    (c.u8(), c.u8(), c.u8(), c.u16())
                else {
                    break;
                };
                let payload = c.bytes_upto(usize::from(len));
                let mut p = match tag & 7 {
                    1 => block(payload),
                    2 => {
                        let mut v = vec![payload.first().copied().unwrap_or(0) % 8];
                        v.extend_from_slice(payload);
                        v
                    }
                    _ => payload.to_vec(),
                };
                if kind % 12 == 5 && tag & 7 == 1 {
                    // PUSH_PROMISE: a promised id before the block.
                    let mut v = vec![0, 0, 0, stream.wrapping_add(1)];
                    v.append(&mut p);
                    p = v;
                }
                let kind = match kind % 12 {
                    10 => 0x42,
                    11 => 0,
                    k => k,
                };
                bytes = frame(kind, flags, u32::from(stream), &p);
            }
            4 => {
                let Some(len) = c.u16() else { break };
                bytes = c.bytes_upto(usize::from(len)).to_vec();
            }
            5 => {
                let Some(len) = c.u16() else { break };
                if !finished[dir.index()] && len > 0 {
                    h.on_gap(&mut ctx, &conn, dir, u64::from(len), ts);
                }
            }
            6 => {
                ts = Timestamp(ts.0.saturating_add(1_000_000_000));
                h.on_tick(&mut ctx, &conn, ts);
            }
            _ => {
                if !finished[dir.index()] {
                    finished[dir.index()] = true;
                    h.on_fin(&mut ctx, &conn, dir, ts);
                }
            }
        }
        if !bytes.is_empty() && !finished[dir.index()] {
            let cut = usize::from(c.u8().unwrap_or(0)) % (bytes.len() + 1);
            let (a, b) = bytes.split_at(cut);
            for part in [a, b] {
                if !part.is_empty() {
                    h.on_data(&mut ctx, &conn, dir, part, ts);
                }
            }
        }
        for tx in ctx.out.drain(..) {
            check_transaction(&tx, &limits);
        }
        // Bounded: streams (MAX_STREAMS, but ids here are one byte), one header block and
        // one frame buffer per direction, bodies at the keep limit.
        assert!(h.mem_bytes() < 4 << 20, "mem_bytes {}", h.mem_bytes());
    }
    h.on_close(&mut ctx, &conn, CloseReason::EndOfCapture, ts);
    for tx in ctx.out.drain(..) {
        check_transaction(&tx, &limits);
    }
    assert_eq!(h.open_streams(), 0);
}
