//! Inputs found by the fuzz targets (fuzz/, docs/robustness.md) that broke an invariant,
//! kept as regression tests. Debug builds turn the parser's "no progress" guard into a
//! panic, so each test fails on the bug it pins.

use std::net::{Ipv4Addr, SocketAddr};

use httshark::http::{HttpConn, HttpCtx, HttpLimits};
use httshark::model::{ConnInfo, Direction};
use httshark::reassembly::{CloseReason, StreamHandler};
use httshark::time::Timestamp;

fn conn() -> ConnInfo {
    ConnInfo {
        id: 1,
        client: SocketAddr::from((Ipv4Addr::new(10, 0, 0, 2), 40_000)),
        server: SocketAddr::from((Ipv4Addr::new(10, 0, 0, 1), 80)),
        syn_ts: None,
        synack_ts: None,
        established_ts: None,
        midstream: false,
    }
}

/// The fuzz target's small limits (fuzz/src/lib.rs, `small_http_limits`).
fn small_limits() -> HttpLimits {
    HttpLimits {
        max_head_bytes: 512,
        max_headers: 8,
        max_body_keep: 64,
        max_pending_requests: 4,
        max_decode_layers: 2,
        max_decoded_bytes: 4096,
        response_timeout: std::time::Duration::from_secs(5),
    }
}

/// Feeds `data` to the server side in chunks of `chunk` bytes, then closes; returns the
/// transactions and counters, printed (both derive Debug).
fn replay(data: &[u8], chunk: usize) -> (String, String) {
    let c = conn();
    let mut ctx = HttpCtx::new(small_limits());
    let mut h = HttpConn::new(&c);
    let ts = Timestamp::from_secs_nanos(1_700_000_000, 0);
    for piece in data.chunks(chunk) {
        h.on_data(&mut ctx, &c, Direction::ToServer, piece, ts);
    }
    h.on_close(&mut ctx, &c, CloseReason::EndOfCapture, ts);
    (format!("{:?}", ctx.out), format!("{:?}", ctx.counters))
}

/// Found by the `http` fuzz target (docs/robustness.md): an abandoned malformed request
/// head re-feeds its bytes after the first line, which start another malformed head, and
/// so on, one line less each time. The parser's no-progress guard took these steps for a
/// stall: debug builds panicked ("http parser made no progress"), release builds dropped
/// the rest of the segment unseen. Fed whole or byte by byte, the result must be the same.
#[test]
fn http_abandoned_malformed_heads_are_not_a_stall() {
    let data: &[u8] = b"\r\nPOST /3\r\nST /3\r\nContenTPOST /3\r\nST /3\r\nContenT /3.1\r\n\
        Hos /3.1\r\nHosth 4\r\n\r\x10:ab";
    let whole = replay(data, data.len());
    let bytewise = replay(data, 1);
    assert_eq!(whole.0, bytewise.0, "transactions differ");
    assert_eq!(whole.1, bytewise.1, "counters differ");
}
