//! Segmentation invariance (issue 16), as a differential property: generated HTTP/1
//! exchanges (chunked bodies with long extensions and trailers, long header lines, bodies
//! over the keep limit, close-delimited responses, interim responses, CONNECT and Upgrade
//! (tunnels, the tunnel probe), stray bytes, gaps and FINs between blocks) replayed whole, byte by byte and at random split points must
//! give the same transactions and the same `HttpCtx` counters.
//!
//! What it does not cover: ACKs (the ACK-based pairing sees the split through the offsets
//! it is given, see `tests/http_ack.rs`) and ticks (timeouts depend on packet times, not
//! on splits).

mod http_support;

use proptest::prelude::*;

use http_support::{replay_with, Event, Split, Transcript};
use httshark::http::HttpLimits;
use httshark::model::{Direction, Transaction};
use httshark::time::Timestamp;

/// Small limits, so generated lines and bodies cross them often.
fn limits() -> HttpLimits {
    HttpLimits {
        max_head_bytes: 160,
        max_headers: 6,
        max_body_keep: 24,
        max_pending_requests: 4,
        max_decode_layers: 2,
        max_decoded_bytes: 4096,
        response_timeout: std::time::Duration::from_secs(30),
    }
}

/// A line of `n` filler bytes (no CR or LF).
fn filler(n: usize, b: u8) -> Vec<u8> {
    vec![b; n]
}

/// Line ends: mostly CRLF, sometimes a bare LF.
fn eol() -> impl Strategy<Value = &'static [u8]> {
    prop_oneof![5 => Just(&b"\r\n"[..]), 1 => Just(&b"\n"[..])]
}

/// Header field lines: short, long (near and over `max_head_bytes`), folded.
fn fields() -> impl Strategy<Value = Vec<u8>> {
    let field = prop_oneof![
        4 => (0usize..20, eol()).prop_map(|(n, e)| [b"X-F: ".as_slice(), &filler(n, b'v'), e].concat()),
        2 => (100usize..260, eol()).prop_map(|(n, e)| [b"X-Long: ".as_slice(), &filler(n, b'l'), e].concat()),
        1 => eol().prop_map(|e| [b" folded".as_slice(), e].concat()),
        1 => Just(b"Host: h\r\n".to_vec()),
    ];
    proptest::collection::vec(field, 0..4).prop_map(|v| v.concat())
}

/// A chunked body: chunks with optional (possibly over-long) extensions, the last chunk,
/// trailer lines (possibly over the trailer bound), the empty line; sometimes cut short.
fn chunked_body() -> impl Strategy<Value = Vec<u8>> {
    let ext = prop_oneof![
        3 => Just(Vec::new()),
        2 => (0usize..30).prop_map(|n| [b";e=".as_slice(), &filler(n, b'x')].concat()),
        1 => (4080usize..4120).prop_map(|n| [b";big=".as_slice(), &filler(n, b'x')].concat()),
    ];
    let chunk = (1usize..40, ext, eol()).prop_map(|(n, ext, e)| {
        [
            format!("{n:x}").as_bytes(),
            &ext,
            e,
            &filler(n, b'd'),
            b"\r\n",
        ]
        .concat()
    });
    let trailer = prop_oneof![
        3 => (0usize..20, eol()).prop_map(|(n, e)| [b"T: ".as_slice(), &filler(n, b't'), e].concat()),
        2 => (140usize..200, eol()).prop_map(|(n, e)| [b"T-Long: ".as_slice(), &filler(n, b't'), e].concat()),
        1 => eol().prop_map(|e| [b" tfold".as_slice(), e].concat()),
    ];
    (
        proptest::collection::vec(chunk, 0..3),
        proptest::collection::vec(trailer, 0..3),
        eol(),
        prop_oneof![4 => Just(None), 1 => (0usize..30).prop_map(Some)],
    )
        .prop_map(|(chunks, trailers, e, cut)| {
            let mut b = chunks.concat();
            b.extend_from_slice(b"0");
            b.extend_from_slice(e);
            b.extend_from_slice(&trailers.concat());
            b.extend_from_slice(e);
            if let Some(c) = cut {
                b.truncate(b.len().saturating_sub(c));
            }
            b
        })
}

/// A body and the framing header that announces it.
fn body() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    prop_oneof![
        2 => Just((Vec::new(), Vec::new())),
        2 => (0usize..60).prop_map(|n| (format!("Content-Length: {n}\r\n").into_bytes(), filler(n, b'c'))),
        1 => (0usize..60, 1usize..10).prop_map(|(n, less)| (
            format!("Content-Length: {n}\r\n").into_bytes(),
            filler(n.saturating_sub(less), b'c'),
        )),
        3 => chunked_body().prop_map(|b| (b"Transfer-Encoding: chunked\r\n".to_vec(), b)),
    ]
}

fn request() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        4 => Just(b"POST /p HTTP/1.1\r\n".to_vec()),
        2 => Just(b"GET /g HTTP/1.1\r\n".to_vec()),
        1 => Just(b"HEAD /h HTTP/1.1\r\n".to_vec()),
        1 => (150usize..200).prop_map(|n| [b"GET /".as_slice(), &filler(n, b'u'), b" HTTP/1.1\r\n"].concat()),
        1 => Just(b"OPTIONS HTTP/1.1\r\n".to_vec()),
        1 => Just(b"GET /09\r\n".to_vec()),
        1 => Just(b"CONNECT a:443 HTTP/1.1\r\n".to_vec()),
        1 => Just(b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n".to_vec()),
    ];
    (line, fields(), body(), eol())
        .prop_map(|(l, f, (fh, b), e)| [l, f, fh, e.to_vec(), b].concat())
}

fn response() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        5 => Just(b"HTTP/1.1 200 OK\r\n".to_vec()),
        1 => Just(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec()),
        1 => Just(b"HTTP/1.1 204 No Content\r\n".to_vec()),
        1 => Just(b"HTTP/1.0 200 OK\r\n".to_vec()),
        1 => Just(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n".to_vec()),
        1 => Just(b"HTTP/1.1 200 Connection established\r\n\r\n".to_vec()),
    ];
    // A response with no framing header and a body is close-delimited.
    (line, fields(), body(), eol()).prop_map(|(l, f, (fh, b), e)| {
        if l.ends_with(b"\r\n\r\n") {
            l
        } else {
            [l, f, fh, e.to_vec(), b].concat()
        }
    })
}

#[derive(Clone, Debug)]
enum Block {
    Req(Vec<u8>),
    Resp(Vec<u8>),
    Junk(bool, Vec<u8>),
    Gap(bool, u64),
    Fin(bool),
}

fn block() -> impl Strategy<Value = Block> {
    prop_oneof![
        6 => request().prop_map(Block::Req),
        6 => response().prop_map(Block::Resp),
        1 => (any::<bool>(), proptest::collection::vec(any::<u8>(), 1..12)).prop_map(|(d, b)| Block::Junk(d, b)),
        1 => (any::<bool>(), 1u64..80).prop_map(|(d, n)| Block::Gap(d, n)),
        1 => any::<bool>().prop_map(Block::Fin),
    ]
}

fn dir(to_server: bool) -> Direction {
    if to_server {
        Direction::ToServer
    } else {
        Direction::ToClient
    }
}

/// Consecutive blocks of one direction are one data event, so requests and responses
/// meet each other's splits as in a capture.
fn transcript(blocks: &[Block], midstream: bool) -> Transcript {
    let ts = Timestamp::from_secs_nanos(1_000, 0);
    let mut events: Vec<Event> = Vec::new();
    for b in blocks {
        let (d, bytes) = match b {
            Block::Req(v) => (Direction::ToServer, v),
            Block::Resp(v) => (Direction::ToClient, v),
            Block::Junk(d, v) => (dir(*d), v),
            Block::Gap(d, n) => {
                events.push(Event::Gap(dir(*d), *n, ts));
                continue;
            }
            Block::Fin(d) => {
                events.push(Event::Fin(dir(*d), ts));
                continue;
            }
        };
        match events.last_mut() {
            Some(Event::Data(ld, lb, _)) if *ld == d => lb.extend_from_slice(bytes),
            _ => events.push(Event::Data(d, bytes.clone(), ts)),
        }
    }
    Transcript { events, midstream }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600)
}

fn run(t: &Transcript, split: Split) -> (Vec<Transaction>, String) {
    let (out, ctx) = replay_with(t, split, limits());
    (out, format!("{:?}", ctx.counters))
}

proptest! {
    // `PROPTEST_CASES` runs more (the default keeps the suite quick).
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn whole_bytewise_and_random_splits_agree(
        blocks in proptest::collection::vec(block(), 1..8),
        midstream in prop_oneof![4 => Just(false), 1 => Just(true)],
        seeds in proptest::collection::vec(any::<u64>(), 3),
    ) {
        let t = transcript(&blocks, midstream);
        let whole = run(&t, Split::Whole);
        let bytes = run(&t, Split::Bytes);
        prop_assert_eq!(&whole.0, &bytes.0, "transactions: whole vs byte by byte");
        prop_assert_eq!(&whole.1, &bytes.1, "counters: whole vs byte by byte");
        for seed in seeds {
            let random = run(&t, Split::Random(seed));
            prop_assert_eq!(&whole.0, &random.0, "transactions: whole vs random split {}", seed);
            prop_assert_eq!(&whole.1, &random.1, "counters: whole vs random split {}", seed);
        }
    }
}
