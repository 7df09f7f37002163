//! `HttpConn` through the `StreamHandler` trait, as the reassembler drives it: arbitrary
//! bytes in both directions at arbitrary split points, gaps, FINs, ticks, time going back,
//! then a close. Input format: [`super::http_ops`] (seeded from fixtures/http by seed.sh).
//! Small limits, so every limit is reached.
//!
//! Two targets share it:
//! - `http` ([`check`]): each exported transaction must respect the limits
//!   (`check_transaction`). Data of even length comes with an `on_ack` derived from its
//!   first byte (up to 255 before the other direction's end: plausible, stale and, after
//!   gaps, past lost bytes), so the ACK pairing rules see arbitrary offsets. A second run
//!   with `keep_bodies` off (no output reads bodies: bytes counted, content codings left
//!   alone) must give the same transactions with the body bytes and what decoding found
//!   left out (`without_body_bytes`) and the same counters, the decoding ones aside.
//! - `http_split` ([`check_split`]), a differential oracle: the same ops fed whole, byte by
//!   byte and at pseudo-random split points (seeded by the input) must give identical
//!   transactions and identical `HttpCtx` counters (docs/testing.md: "identical results at
//!   any split"). ACKs are left out: an ACK is stated at an offset, and where it falls
//!   between the pieces of a split segment is a different capture, not the same one cut
//!   differently. Ticks and time steps stay between ops, at the same packet times.

use super::{check_transaction, http_ops, plain_conn, small_http_limits, HttpOp, Split};
use crate::http::{HttpConn, HttpCounters, HttpCtx};
use crate::model::{Anomaly, Decoded, Direction, Transaction};
use crate::reassembly::{CloseReason, StreamHandler};
use crate::time::Timestamp;

const REASONS: [CloseReason; 6] = [
    CloseReason::Fin,
    CloseReason::Reset,
    CloseReason::Idle,
    CloseReason::Evicted,
    CloseReason::Reused,
    CloseReason::EndOfCapture,
];

fn dir(to_client: bool) -> Direction {
    if to_client {
        Direction::ToClient
    } else {
        Direction::ToServer
    }
}

/// Feeds the ops to one `HttpConn`; returns every exported transaction and the counters.
fn run(
    data: &[u8],
    split: Split,
    acks: bool,
    keep_bodies: bool,
) -> (Vec<Transaction>, HttpCounters) {
    let (midstream, ops) = http_ops(data);
    let conn = plain_conn(midstream);
    let limits = small_http_limits();
    let mut ctx = HttpCtx::new(limits.clone());
    ctx.keep_bodies = keep_bodies;
    let mut h = HttpConn::new(&conn);
    let mut ts = Timestamp::from_secs_nanos(1_700_000_000, 0);
    let mut reason = CloseReason::EndOfCapture;
    let mut rng = split.rng();
    // The reassembler never calls on after a direction's FIN; neither do we.
    let mut finished = [false; 2];
    // Bytes and gaps so far per direction: the offsets an ACK is stated in.
    let mut total = [0u64; 2];
    let mut out = Vec::new();
    for op in ops {
        match op {
            HttpOp::Data { to_client, data } => {
                let d = dir(to_client);
                if !finished[d.index()] && !data.is_empty() {
                    if acks && data.len() % 2 == 0 {
                        let other = total[d.reverse().index()];
                        let ack = other.saturating_sub(data[0] as u64);
                        h.on_ack(&mut ctx, &conn, d, ack);
                    }
                    let mut rest = data;
                    while !rest.is_empty() {
                        let n = split.piece_len(&mut rng, rest.len());
                        let (piece, after) = rest.split_at(n);
                        h.on_data(&mut ctx, &conn, d, piece, ts);
                        rest = after;
                    }
                    total[d.index()] += data.len() as u64;
                }
            }
            HttpOp::Gap { to_client, len } => {
                let d = dir(to_client);
                if !finished[d.index()] && len > 0 {
                    h.on_gap(&mut ctx, &conn, d, len, ts);
                    total[d.index()] = total[d.index()].saturating_add(len);
                }
            }
            HttpOp::Fin { to_client } => {
                let d = dir(to_client);
                if !finished[d.index()] {
                    finished[d.index()] = true;
                    h.on_fin(&mut ctx, &conn, d, ts);
                }
            }
            HttpOp::Time(delta) => ts = Timestamp(ts.0.saturating_add(delta)),
            HttpOp::Tick => h.on_tick(&mut ctx, &conn, ts),
            HttpOp::Close(r) => reason = REASONS[r as usize % REASONS.len()],
        }
        for tx in ctx.out.drain(..) {
            check_transaction(&tx, &limits);
            out.push(tx);
        }
    }
    h.on_close(&mut ctx, &conn, reason, ts);
    for tx in ctx.out.drain(..) {
        check_transaction(&tx, &limits);
        out.push(tx);
    }
    assert_eq!(h.pending(), 0, "nothing may stay pending after close");
    (out, ctx.counters)
}

/// The `http` target: one run, ACKs included, every transaction within the limits; and the
/// same run with no body bytes kept gives the same transactions, bytes aside, and counters.
pub fn check(data: &[u8]) {
    let (kept, counters) = run(data, Split::Whole, true, true);
    let (counted, counted_counters) = run(data, Split::Whole, true, false);
    assert_eq!(
        kept.len(),
        counted.len(),
        "bodies counted: another number of transactions"
    );
    for (i, (k, c)) in kept.iter().zip(&counted).enumerate() {
        assert_eq!(
            &without_body_bytes(k),
            c,
            "bodies counted: transaction {i} differs"
        );
    }
    assert_eq!(
        without_decoding(counters, &kept),
        counted_counters,
        "bodies counted: counters differ"
    );
}

/// `counters` of the run that gave `kept` as a run that decodes no body counts them.
fn without_decoding(mut counters: HttpCounters, kept: &[Transaction]) -> HttpCounters {
    counters.decode_failures = 0;
    counters.decode_limit_hits = 0;
    let flags = kept
        .iter()
        .flat_map(|t| &t.anomalies)
        .filter(|a| matches!(a, Anomaly::DecodeFailed(_)))
        .count();
    counters.anomalies -= flags as u64;
    counters
}

/// `tx` as a run that keeps no body bytes makes it: each body with bytes has them dropped,
/// its content coding not undone (`Decoded::Skipped`) and every size kept; what decoding
/// flagged is not there.
fn without_body_bytes(tx: &Transaction) -> Transaction {
    let mut tx = tx.clone();
    let strip = |b: &mut crate::model::Body| {
        if b.len > 0 {
            b.data = Vec::new();
            if b.decoded != Decoded::Identity {
                b.decoded = Decoded::Skipped;
            }
            b.dropped = true;
        }
    };
    tx.anomalies
        .retain(|a| !matches!(a, Anomaly::DecodeFailed(_)));
    strip(&mut tx.request.body);
    if let Some(r) = tx.response.as_mut() {
        strip(&mut r.body);
    }
    tx
}

/// The `http_split` target: whole, byte by byte and at random split points, the same
/// transactions and counters.
pub fn check_split(data: &[u8]) {
    let (whole, counters) = run(data, Split::Whole, false, true);
    let (bytes, bytes_counters) = run(data, Split::Bytes, false, true);
    assert_eq!(
        whole.len(),
        bytes.len(),
        "byte by byte: another number of transactions"
    );
    for (i, (w, b)) in whole.iter().zip(&bytes).enumerate() {
        assert_eq!(w, b, "byte by byte: transaction {i} differs");
    }
    assert_eq!(counters, bytes_counters, "byte by byte: counters differ");
    // The seed from the input, so a finding replays; pieces up to 2..=64 bytes.
    let seed = data.iter().fold(0x9e37_79b9_7f4a_7c15u64, |a, &b| {
        (a ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let max = 2 + (seed >> 58) as usize;
    let (random, random_counters) = run(data, Split::Random { seed, max }, false, true);
    assert_eq!(
        whole.len(),
        random.len(),
        "random split: another number of transactions"
    );
    for (i, (w, r)) in whole.iter().zip(&random).enumerate() {
        assert_eq!(
            w, r,
            "random split (pieces up to {max}): transaction {i} differs"
        );
    }
    assert_eq!(counters, random_counters, "random split: counters differ");
}
