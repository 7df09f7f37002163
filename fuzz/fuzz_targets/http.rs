//! `HttpConn` through the `StreamHandler` trait, as the reassembler drives it: arbitrary
//! bytes in both directions at arbitrary split points, gaps, FINs, ticks, time going back,
//! then a close. Input format: `httshark_fuzz::http_ops` (seeded from fixtures/http by
//! seed.sh). Small limits, so every limit is reached; each exported transaction must
//! respect them (`check_transaction`). Data of even length comes with an `on_ack` derived
//! from its first byte (up to 255 before the other direction's end: plausible, stale and,
//! after gaps, past lost bytes), so the ACK pairing rules see arbitrary offsets.
#![no_main]

use std::net::{Ipv4Addr, SocketAddr};

use httshark::http::{HttpConn, HttpCtx};
use httshark::model::{ConnInfo, Direction};
use httshark::reassembly::{CloseReason, StreamHandler};
use httshark::time::Timestamp;
use httshark_fuzz::{check_transaction, http_ops, small_http_limits, HttpOp};
use libfuzzer_sys::fuzz_target;

const REASONS: [CloseReason; 6] = [
    CloseReason::Fin,
    CloseReason::Reset,
    CloseReason::Idle,
    CloseReason::Evicted,
    CloseReason::Reused,
    CloseReason::EndOfCapture,
];

fuzz_target!(|data: &[u8]| {
    let (midstream, ops) = http_ops(data);
    let conn = ConnInfo {
        id: 1,
        client: SocketAddr::from((Ipv4Addr::new(10, 0, 0, 2), 40_000)),
        server: SocketAddr::from((Ipv4Addr::new(10, 0, 0, 1), 80)),
        syn_ts: None,
        synack_ts: None,
        established_ts: None,
        midstream,
    };
    let limits = small_http_limits();
    let mut ctx = HttpCtx::new(limits.clone());
    let mut h = HttpConn::new(&conn);
    let mut ts = Timestamp::from_secs_nanos(1_700_000_000, 0);
    let mut reason = CloseReason::EndOfCapture;
    let dir = |to_client: bool| {
        if to_client {
            Direction::ToClient
        } else {
            Direction::ToServer
        }
    };
    // The reassembler never calls on after a direction's FIN; neither do we.
    let mut finished = [false; 2];
    // Bytes and gaps so far per direction: the offsets an ACK is stated in.
    let mut total = [0u64; 2];
    for op in ops {
        match op {
            HttpOp::Data { to_client, data } => {
                let d = dir(to_client);
                if !finished[d.index()] && !data.is_empty() {
                    if data.len() % 2 == 0 {
                        let other = total[d.reverse().index()];
                        let ack = other.saturating_sub(data[0] as u64);
                        h.on_ack(&mut ctx, &conn, d, ack);
                    }
                    h.on_data(&mut ctx, &conn, d, data, ts);
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
        }
    }
    h.on_close(&mut ctx, &conn, reason, ts);
    for tx in ctx.out.drain(..) {
        check_transaction(&tx, &limits);
    }
});
