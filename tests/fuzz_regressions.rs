//! Inputs found by the fuzz targets (fuzz/, docs/robustness.md) that broke an invariant,
//! kept as regression tests. Debug builds turn the parser's "no progress" guard into a
//! panic, so each test fails on the bug it pins.

use httshark::http::{HttpConn, HttpCtx, HttpLimits};
use httshark::model::{ConnInfo, Direction};
use httshark::reassembly::{CloseReason, StreamHandler};
use httshark::time::Timestamp;

/// The connection the `http` fuzz target feeds.
fn conn() -> ConnInfo {
    httshark::fuzzing::plain_conn(false)
}

/// The limits the `http` fuzz target had when it found these (`httshark::fuzzing::small_http_limits`
/// keeps 512 body bytes since issue 16; these inputs need no body).
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

/// Feeds `data` to the server side cut at `cuts` (ascending offsets), then closes; returns
/// the transactions and counters, printed.
fn replay_cut(data: &[u8], cuts: &[usize]) -> (String, String) {
    let c = conn();
    let mut ctx = HttpCtx::new(small_limits());
    let mut h = HttpConn::new(&c);
    let ts = Timestamp::from_secs_nanos(1_700_000_000, 0);
    let mut from = 0;
    for &to in cuts.iter().chain(std::iter::once(&data.len())) {
        h.on_data(&mut ctx, &c, Direction::ToServer, &data[from..to], ts);
        from = to;
    }
    h.on_close(&mut ctx, &c, CloseReason::EndOfCapture, ts);
    (format!("{:?}", ctx.out), format!("{:?}", ctx.counters))
}

/// `data` whole, byte by byte, in 3-, 64- and 100-byte pieces, and cut once at every
/// offset: the same transactions and counters every time. Returns the whole run's.
fn same_at_any_split(data: &[u8]) -> (String, String) {
    let whole = replay(data, data.len());
    for chunk in [1, 3, 64, 100] {
        let got = replay(data, chunk);
        assert_eq!(whole.0, got.0, "transactions differ in {chunk}-byte pieces");
        assert_eq!(whole.1, got.1, "counters differ in {chunk}-byte pieces");
    }
    for cut in 1..data.len() {
        let got = replay_cut(data, &[cut]);
        assert_eq!(whole.0, got.0, "transactions differ cut at {cut}");
        assert_eq!(whole.1, got.1, "counters differ cut at {cut}");
    }
    whole
}

/// A chunked POST whose body is `chunks`, followed by a second request.
fn chunked_post(chunks: &[u8]) -> Vec<u8> {
    let mut data = b"POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    data.extend_from_slice(chunks);
    data.extend_from_slice(b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n");
    data
}

/// Issue 16, found by a differential `http` target (each input fed whole, then byte by
/// byte): a chunked trailer line over its bound (512 bytes here, `max_head_bytes`)
/// consumed "the rest of the line within the current segment", so a POST with a `0`
/// chunk and one 607-byte trailer line had a body `wire_len` of 610 fed whole and 516
/// byte by byte, the difference moving into `resync_skipped_bytes`. The whole line now
/// belongs to the body (610 bytes), which ends `invalid-chunk`, at any split.
#[test]
fn issue16_over_long_trailer_line_is_split_independent() {
    let mut chunks = b"0\r\nX-Long: ".to_vec();
    chunks.resize(3 + 605, b'a');
    chunks.extend_from_slice(b"\r\n\r\n");
    let (out, counters) = same_at_any_split(&chunked_post(&chunks));
    assert!(out.contains("wire_len: 610,"), "{out}");
    assert!(out.contains("InvalidChunk"), "{out}");
    assert!(out.contains("target: \"/next\""), "{out}");
    // The empty line after the over-long one is skipped on the way to the next request.
    assert!(counters.contains("resync_skipped_bytes: 2,"), "{counters}");
}

/// Issue 16, the same with an over-long chunk-size line: a chunk extension past
/// `MAX_CHUNK_LINE` (4096 bytes).
#[test]
fn issue16_over_long_chunk_extension_is_split_independent() {
    let mut chunks = b"5;ext=".to_vec();
    chunks.resize(4200, b'e');
    chunks.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
    let (out, counters) = same_at_any_split(&chunked_post(&chunks));
    assert!(out.contains("wire_len: 4202,"), "{out}");
    assert!(out.contains("InvalidChunk"), "{out}");
    assert!(out.contains("target: \"/next\""), "{out}");
    // The rest of the body after the invalid line (`hello\r\n0\r\n\r\n`): skipped.
    assert!(counters.contains("resync_skipped_bytes: 12,"), "{counters}");
}

/// Issue 16: the over-long line cut across many segments, unevenly, and a connection
/// that ends before the line does: the body is still `invalid-chunk`, its wire length
/// every byte of the line received.
#[test]
fn issue16_over_long_line_across_many_segments() {
    let mut chunks = b"2\r\nab\r\n0\r\nX-Long: ".to_vec();
    chunks.resize(2000, b'z');
    chunks.extend_from_slice(b"\r\n\r\n");
    let data = chunked_post(&chunks);
    let whole = replay(&data, data.len());
    let cuts: Vec<usize> = (1..data.len())
        .scan(0, |at, k| {
            *at += 1 + (k * 7919) % 97;
            Some(*at)
        })
        .take_while(|&at| at < data.len())
        .collect();
    assert!(cuts.len() > 30);
    assert_eq!(whole, replay_cut(&data, &cuts));
    assert!(whole.0.contains("wire_len: 2002,"), "{}", whole.0);

    // Cut off inside the line: no LF ever comes.
    let head = chunked_post(b"").len() - b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n".len();
    let cut_off = &data[..head + 1500];
    let (out, _) = same_at_any_split(cut_off);
    assert!(out.contains("wire_len: 1500,"), "{out}");
    assert!(out.contains("InvalidChunk"), "{out}");
}
