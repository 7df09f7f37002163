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

use super::{check_transaction, plain_conn, small_http_limits, Cursor, Split};
use crate::h2::H2Conn;
use crate::http::HttpCtx;
use crate::model::{Direction, Transaction};
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

/// One step of an input, as parsed (the same bytes give the same steps).
enum Op {
    /// Bytes for a direction, and where the `h2` target cuts them in two.
    Data {
        dir: Direction,
        bytes: Vec<u8>,
        cut: usize,
    },
    Gap(Direction, u64),
    Tick,
    Fin(Direction),
}

/// Parses the input format above: whether the session starts lost, and the steps. Steps
/// after a direction's FIN (data, gaps, FINs) are left out, as the reassembler would.
fn ops(data: &[u8]) -> (bool, Vec<Op>) {
    let mut c = Cursor::new(data);
    let lost = c.u8().is_some_and(|f| f & 1 == 1);
    let mut out = Vec::new();
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
                    out.push(Op::Gap(dir, u64::from(len)));
                }
            }
            6 => out.push(Op::Tick),
            _ => {
                if !finished[dir.index()] {
                    finished[dir.index()] = true;
                    out.push(Op::Fin(dir));
                }
            }
        }
        if !bytes.is_empty() && !finished[dir.index()] {
            let cut = usize::from(c.u8().unwrap_or(0)) % (bytes.len() + 1);
            out.push(Op::Data { dir, bytes, cut });
        }
    }
    (lost, out)
}

/// How each `Op::Data` is cut before it is fed.
#[derive(Clone, Copy, Debug)]
enum Feed {
    /// In two at the op's own cut (the `h2` target).
    AtCut,
    /// As the differential targets cut (`h2_split`).
    Split(Split),
}

/// Feeds one input to an `H2Conn`; returns every exported transaction and the counters
/// (their `Debug` text: every field at once).
fn run(data: &[u8], feed: Feed) -> (Vec<Transaction>, String) {
    let (lost, ops) = ops(data);
    let conn = plain_conn(lost);
    let limits = small_http_limits();
    let mut ctx = HttpCtx::new(limits.clone());
    let mut h = H2Conn::new(&mut ctx, lost);
    let mut ts = Timestamp::from_secs_nanos(1_700_000_000, 0);
    let split = match feed {
        Feed::AtCut => None,
        Feed::Split(s) => Some(s),
    };
    let mut rng = split.map_or(1, Split::rng);
    let mut out = Vec::new();
    let mut feed = |h: &mut H2Conn, ctx: &mut HttpCtx, dir, bytes: &[u8], cut: usize, ts| {
        let mut rest = bytes;
        let Some(split) = split else {
            let (a, b) = bytes.split_at(cut);
            for part in [a, b] {
                if !part.is_empty() {
                    h.on_data(ctx, &conn, dir, part, ts);
                }
            }
            return;
        };
        while !rest.is_empty() {
            let n = split.piece_len(&mut rng, rest.len());
            let (piece, after) = rest.split_at(n);
            h.on_data(ctx, &conn, dir, piece, ts);
            rest = after;
        }
    };
    if !lost {
        feed(&mut h, &mut ctx, Direction::ToServer, PREFACE, 0, ts);
    }
    for op in ops {
        match op {
            Op::Data { dir, bytes, cut } => feed(&mut h, &mut ctx, dir, &bytes, cut, ts),
            Op::Gap(dir, len) => h.on_gap(&mut ctx, &conn, dir, len, ts),
            Op::Tick => {
                ts = Timestamp(ts.0.saturating_add(1_000_000_000));
                h.on_tick(&mut ctx, &conn, ts);
            }
            Op::Fin(dir) => h.on_fin(&mut ctx, &conn, dir, ts),
        }
        for tx in ctx.out.drain(..) {
            check_transaction(&tx, &limits);
            out.push(tx);
        }
        // Bounded: streams (MAX_STREAMS, but ids here are one byte), one header block and
        // one frame buffer per direction, bodies at the keep limit.
        assert!(h.mem_bytes() < 4 << 20, "mem_bytes {}", h.mem_bytes());
    }
    h.on_close(&mut ctx, &conn, CloseReason::EndOfCapture, ts);
    for tx in ctx.out.drain(..) {
        check_transaction(&tx, &limits);
        out.push(tx);
    }
    assert_eq!(h.open_streams(), 0);
    (out, format!("{:?}", ctx.counters))
}

/// The `h2` target: one run, each frame cut in two where the input says.
pub fn check(data: &[u8]) {
    run(data, Feed::AtCut);
}

/// The `h2_split` target: whole, byte by byte and at random split points, the same
/// transactions (stream ids, method, URL, status, headers, bodies, anomalies, every other
/// field) and the same counters.
pub fn check_split(data: &[u8]) {
    let (whole, counters) = run(data, Feed::Split(Split::Whole));
    let (bytes, bytes_counters) = run(data, Feed::Split(Split::Bytes));
    compare(&whole, &bytes, "byte by byte");
    assert_eq!(counters, bytes_counters, "byte by byte: counters differ");
    // The seed from the input, so a finding replays; pieces up to 2..=64 bytes.
    let seed = data.iter().fold(0x9e37_79b9_7f4a_7c15u64, |a, &b| {
        (a ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let max = 2 + (seed >> 58) as usize;
    let (random, random_counters) = run(data, Feed::Split(Split::Random { seed, max }));
    compare(
        &whole,
        &random,
        &format!("random split (pieces up to {max})"),
    );
    assert_eq!(counters, random_counters, "random split: counters differ");
}

fn compare(whole: &[Transaction], other: &[Transaction], how: &str) {
    assert_eq!(
        whole.len(),
        other.len(),
        "{how}: another number of transactions"
    );
    for (i, (w, o)) in whole.iter().zip(other).enumerate() {
        assert_eq!(w, o, "{how}: transaction {i} differs");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame op of the input format: tag, kind, flags, stream, u16 length (LE), payload
    /// and the cut byte.
    fn op(tag: u8, kind: u8, flags: u8, stream: u8, payload: &[u8], cut: u8) -> Vec<u8> {
        let mut v = vec![tag, kind, flags, stream];
        v.extend_from_slice(&(payload.len() as u16).to_le_bytes());
        v.extend_from_slice(payload);
        v.push(cut);
        v
    }

    /// A GET and its 200 with a body, as the input format spells them.
    fn exchange() -> Vec<u8> {
        let mut v = vec![0];
        v.extend(op(8, 4, 0, 0, &[], 3)); // server SETTINGS
        let mut req = Vec::new();
        for piece in [&b"\x01/abcd"[..], b"\x06https", b"\x03a.com", b"\x00GET"] {
            req.extend_from_slice(piece);
        }
        v.extend(op(1, 1, 0x5, 1, &req, 7)); // HEADERS, END_HEADERS | END_STREAM
        v.extend(op(9, 1, 0x4, 1, b"\x02200", 5)); // HEADERS, END_HEADERS
        v.extend(op(8, 0, 0x1, 1, b"hello", 12)); // DATA, END_STREAM
        v
    }

    /// The runs compared are not empty: the exchange makes one transaction, the same fed
    /// whole, byte by byte and cut in two.
    #[test]
    fn exchange_gives_one_transaction_at_any_split() {
        let data = exchange();
        let (whole, _) = run(&data, Feed::Split(Split::Whole));
        assert_eq!(whole.len(), 1);
        let tx = &whole[0];
        assert_eq!(tx.request.method, "GET");
        assert_eq!(tx.request.target, "/abcd");
        assert_eq!(tx.response.as_ref().map(|r| r.status), Some(200));
        for split in [Feed::Split(Split::Bytes), Feed::AtCut] {
            assert_eq!(run(&data, split).0, whole, "{split:?}");
        }
        check(&data);
        check_split(&data);
    }

    /// The comparison sees a transaction that differs.
    #[test]
    #[should_panic(expected = "transaction 0 differs")]
    fn compare_fails_on_a_different_transaction() {
        let (whole, _) = run(&exchange(), Feed::Split(Split::Whole));
        let mut other = whole.clone();
        other[0].request.target.push('x');
        compare(&whole, &other, "test");
    }
}
