//! Arbitrary bytes in both directions, at arbitrary splits, with gaps, FINs and ticks:
//! the parser never panics, never holds more than its limits, and ends with nothing
//! pending.

mod http_support;

use proptest::prelude::*;

use httshark::http::{HttpConn, HttpCtx, HttpLimits};
use httshark::model::Direction;
use httshark::reassembly::{CloseReason, StreamHandler};
use httshark::time::Timestamp;

#[derive(Clone, Debug)]
enum Op {
    Data(bool, Vec<u8>),
    Gap(bool, u64),
    Fin(bool),
    Tick(u64),
}

/// Bytes that look like HTTP often enough to reach deep states.
fn http_ish() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop_oneof![
        Just(b"GET / HTTP/1.1\r\n".to_vec()),
        Just(b"HEAD /h HTTP/1.1\r\n".to_vec()),
        Just(b"CONNECT a:443 HTTP/1.1\r\n".to_vec()),
        Just(b"HTTP/1.1 200 OK\r\n".to_vec()),
        Just(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec()),
        Just(b"HTTP/1.1 101 Switching\r\n\r\n".to_vec()),
        Just(b"Content-Length: 5\r\n".to_vec()),
        Just(b"Content-Length: 3, 4\r\n".to_vec()),
        Just(b"Transfer-Encoding: chunked\r\n".to_vec()),
        Just(b"Content-Encoding: gzip\r\n".to_vec()),
        Just(b"Upgrade: websocket\r\n".to_vec()),
        Just(b" folded\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"5;x=y\r\nhello\r\n0\r\n\r\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..40),
    ];
    proptest::collection::vec(pieces, 0..30).prop_map(|v| v.concat())
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (any::<bool>(), http_ish()).prop_map(|(d, b)| Op::Data(d, b)),
        1 => (any::<bool>(), 0u64..100_000).prop_map(|(d, n)| Op::Gap(d, n)),
        1 => any::<bool>().prop_map(Op::Fin),
        1 => (0u64..100).prop_map(Op::Tick),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_and_stays_bounded(
        ops in proptest::collection::vec(op(), 0..40),
        midstream in any::<bool>(),
        split in 1usize..17,
    ) {
        let limits = HttpLimits {
            max_head_bytes: 256,
            max_headers: 8,
            max_body_keep: 64,
            max_pending_requests: 4,
            max_decode_layers: 2,
            max_decoded_bytes: 4096,
            response_timeout: std::time::Duration::from_secs(10),
        };
        let conn = http_support::conn_info(midstream);
        let mut ctx = HttpCtx::new(limits.clone());
        let mut h = HttpConn::new(&conn);
        let mut now = 1_000i64;
        for op in ops {
            match op {
                Op::Data(d, bytes) => {
                    let dir = if d { Direction::ToServer } else { Direction::ToClient };
                    for piece in bytes.chunks(split) {
                        h.on_data(&mut ctx, &conn, dir, piece, Timestamp::from_secs_nanos(now, 0));
                    }
                }
                Op::Gap(d, n) => {
                    let dir = if d { Direction::ToServer } else { Direction::ToClient };
                    h.on_gap(&mut ctx, &conn, dir, n, Timestamp::from_secs_nanos(now, 0));
                }
                Op::Fin(d) => {
                    let dir = if d { Direction::ToServer } else { Direction::ToClient };
                    h.on_fin(&mut ctx, &conn, dir, Timestamp::from_secs_nanos(now, 0));
                }
                Op::Tick(s) => {
                    now += s as i64;
                    h.on_tick(&mut ctx, &conn, Timestamp::from_secs_nanos(now, 0));
                }
            }
            prop_assert!(h.pending() <= limits.max_pending_requests);
            for t in &ctx.out {
                prop_assert!(t.request.headers.len() <= limits.max_headers);
                prop_assert!(t.request.head_len as usize <= limits.max_head_bytes);
                prop_assert!(t.request.body.data.len() <= limits.max_body_keep);
                prop_assert!(t.request.body.len >= t.request.body.data.len() as u64 + t.request.body.missing);
                if let Some(r) = &t.response {
                    prop_assert!(r.headers.len() <= limits.max_headers);
                    prop_assert!(r.head_len as usize <= limits.max_head_bytes);
                    prop_assert!(r.body.data.len() <= limits.max_body_keep);
                    prop_assert!(r.body.wire_len >= r.body.len);
                    prop_assert!(r.interim.len() <= httshark::http::MAX_INTERIM);
                }
            }
        }
        h.on_close(&mut ctx, &conn, CloseReason::EndOfCapture, Timestamp::from_secs_nanos(now, 0));
        prop_assert_eq!(h.pending(), 0);
        // Placeholders of lost requests always carry the response that revealed them.
        for t in &ctx.out {
            let placeholder = t.anomalies.contains(&httshark::model::Anomaly::RequestLost);
            prop_assert!(!placeholder || t.response.is_some());
        }
        let depths: Vec<u32> = ctx.out.iter().map(|t| t.depth).collect();
        let mut sorted = depths.clone();
        sorted.sort_unstable();
        sorted.dedup();
        prop_assert_eq!(sorted.len(), depths.len(), "each request is emitted once");
        prop_assert_eq!(ctx.counters.transactions, ctx.out.len() as u64);
    }
}
