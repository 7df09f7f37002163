//! Cases whose bytes are easier generated than written: compressed bodies, 10k pipelined
//! requests, limits.
// Tests may read the clock (deadlines, complexity guards); clippy.toml keeps it out of
// the library.
#![allow(clippy::disallowed_methods)]

mod http_support;

use std::io::Write;
use std::time::{Duration, Instant};

use http_support::{blocks, replay_all_ways, replay_with, Split};
use httshark::http::HttpLimits;
use httshark::model::{Anomaly, Decoded, Direction, Unanswered};

const TEXT: &[u8] =
    b"The quick brown fox jumps over the lazy dog. The quick brown fox jumps again.\n";

fn gz(d: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(d).unwrap();
    e.finish().unwrap()
}
fn zlib(d: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(d).unwrap();
    e.finish().unwrap()
}
fn raw_deflate(d: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(d).unwrap();
    e.finish().unwrap()
}
fn br(d: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        w.write_all(d).unwrap();
    }
    out
}

fn response(coding: &str, body: &[u8], chunked: bool) -> Vec<u8> {
    let mut r = format!("HTTP/1.1 200 OK\r\nContent-Encoding: {coding}\r\n").into_bytes();
    if chunked {
        r.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
        for c in body.chunks(7) {
            r.extend(format!("{:x}\r\n", c.len()).into_bytes());
            r.extend_from_slice(c);
            r.extend_from_slice(b"\r\n");
        }
        r.extend_from_slice(b"0\r\n\r\n");
    } else {
        r.extend(format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes());
        r.extend_from_slice(body);
    }
    r
}

fn decoded_body(coding: &str, body: &[u8], chunked: bool) -> (Decoded, Vec<Anomaly>) {
    let req = b"GET /c HTTP/1.1\r\nHost: z\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n\r\n";
    let resp = response(coding, body, chunked);
    let t = replay_all_ways(&blocks(&[
        (Direction::ToServer, req),
        (Direction::ToClient, &resp),
    ]));
    assert_eq!(t.len(), 1);
    let r = t[0].response.as_ref().unwrap();
    assert_eq!(r.body.len, body.len() as u64);
    (r.body.decoded.clone(), t[0].anomalies.clone())
}

fn expect_text(d: Decoded) {
    assert_eq!(
        d,
        Decoded::Decoded {
            data: TEXT.to_vec(),
            len: TEXT.len() as u64,
            truncated: false
        }
    );
}

#[test]
fn content_codings_are_undone() {
    for chunked in [false, true] {
        expect_text(decoded_body("gzip", &gz(TEXT), chunked).0);
        expect_text(decoded_body("x-gzip", &gz(TEXT), chunked).0);
        expect_text(decoded_body("deflate", &zlib(TEXT), chunked).0);
        // Raw deflate labelled deflate (old IIS; corpus zk_missing-zlib-header).
        expect_text(decoded_body("deflate", &raw_deflate(TEXT), chunked).0);
        expect_text(decoded_body("br", &br(TEXT), chunked).0);
        expect_text(decoded_body("zstd", &zstd::encode_all(TEXT, 3).unwrap(), chunked).0);
        // Stacked: gzip applied first, then br.
        expect_text(decoded_body("gzip, br", &br(&gz(TEXT)), chunked).0);
        expect_text(decoded_body("gzip,gzip", &gz(&gz(TEXT)), chunked).0);
    }
}

#[test]
fn corrupt_and_unknown_codings_fail_and_are_flagged() {
    let (d, a) = decoded_body("gzip", b"definitely not gzip", false);
    assert!(matches!(d, Decoded::Failed { .. }));
    assert!(a.iter().any(|x| matches!(x, Anomaly::DecodeFailed(_))));
    let (d, _) = decoded_body("compress", b"whatever", false);
    assert!(matches!(d, Decoded::Failed { .. }));
}

#[test]
fn truncated_gzip_keeps_what_decoded_and_flags_it() {
    let full = gz(TEXT);
    let cut = &full[..full.len() - 8];
    let (d, a) = decoded_body("gzip", cut, false);
    expect_text(d);
    assert!(
        a.iter()
            .any(|x| matches!(x, Anomaly::DecodeFailed(r) if r.contains("truncated"))),
        "{a:?}"
    );
}

#[test]
fn decompression_bomb_is_stopped() {
    let big = vec![0u8; 4 << 20];
    let req = b"GET /bomb HTTP/1.1\r\nHost: z\r\n\r\n";
    let resp = response("gzip", &gz(&big), false);
    let limits = HttpLimits {
        max_decoded_bytes: 1 << 20,
        ..http_support::limits()
    };
    let (t, ctx) = replay_with(
        &blocks(&[(Direction::ToServer, req), (Direction::ToClient, &resp)]),
        Split::Whole,
        limits,
    );
    assert!(matches!(
        t[0].response.as_ref().unwrap().body.decoded,
        Decoded::Failed { .. }
    ));
    assert_eq!(ctx.counters.decode_limit_hits, 1);
    assert_eq!(ctx.counters.decode_failures, 1);
}

#[test]
fn body_keep_limit_keeps_sizes_exact_and_skips_decoding() {
    let req = b"GET /big HTTP/1.1\r\nHost: z\r\n\r\n";
    let body = gz(&vec![b'x'; 10_000]);
    let resp = response("gzip", &body, true);
    let limits = HttpLimits {
        max_body_keep: 10,
        ..http_support::limits()
    };
    let (t, ctx) = replay_with(
        &blocks(&[(Direction::ToServer, req), (Direction::ToClient, &resp)]),
        Split::Bytes,
        limits,
    );
    let b = &t[0].response.as_ref().unwrap().body;
    assert_eq!(
        (b.data.len(), b.len, b.truncated),
        (10, body.len() as u64, true)
    );
    assert!(matches!(&b.decoded, Decoded::Failed { reason } if reason.contains("keep limit")));
    assert!(t[0].anomalies.contains(&Anomaly::BodyTruncated));
    assert_eq!(ctx.counters.bodies_truncated, 1);
}

#[test]
fn gap_in_compressed_body_skips_decoding() {
    let body = gz(TEXT);
    let resp = response("gzip", &body, false);
    let head_len = resp.len() - body.len();
    let t = http_support::Transcript {
        events: vec![
            http_support::Event::Data(
                Direction::ToServer,
                b"GET / HTTP/1.1\r\n\r\n".to_vec(),
                httshark::time::Timestamp(1),
            ),
            http_support::Event::Data(
                Direction::ToClient,
                resp[..head_len + 5].to_vec(),
                httshark::time::Timestamp(2),
            ),
            http_support::Event::Gap(Direction::ToClient, 5, httshark::time::Timestamp(2)),
            http_support::Event::Data(
                Direction::ToClient,
                resp[head_len + 10..].to_vec(),
                httshark::time::Timestamp(3),
            ),
        ],
        midstream: false,
    };
    let out = replay_all_ways(&t);
    let b = &out[0].response.as_ref().unwrap().body;
    assert_eq!((b.missing, b.len), (5, body.len() as u64));
    assert!(matches!(&b.decoded, Decoded::Failed { reason } if reason.contains("missing")));
}

fn pipelined(n: usize) -> (Vec<u8>, Vec<u8>) {
    let mut req = Vec::new();
    let mut resp = Vec::new();
    for i in 0..n {
        req.extend(format!("GET /item/{i} HTTP/1.1\r\nHost: p\r\n\r\n").into_bytes());
        let body = format!("body {i}");
        resp.extend(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
        );
    }
    (req, resp)
}

#[test]
fn ten_thousand_pipelined_requests_in_linear_time() {
    let limits = HttpLimits {
        max_pending_requests: 20_000,
        ..http_support::limits()
    };
    let time = |n: usize| {
        let (req, resp) = pipelined(n);
        let tr = blocks(&[(Direction::ToServer, &req), (Direction::ToClient, &resp)]);
        let start = Instant::now();
        let (t, _) = replay_with(&tr, Split::Random(3), limits.clone());
        let took = start.elapsed();
        assert_eq!(t.len(), n);
        for (i, x) in t.iter().enumerate() {
            assert_eq!(x.depth as usize, i + 1);
            assert_eq!(x.request.target, format!("/item/{i}"));
            assert_eq!(
                x.response.as_ref().unwrap().body.data,
                format!("body {i}").into_bytes()
            );
        }
        took
    };
    let small = time(1_000);
    let large = time(10_000);
    // Linear: 10x the input may cost ~10x; quadratic behaviour would cost ~100x.
    assert!(
        large < small * 40 + Duration::from_millis(200),
        "1k: {small:?}, 10k: {large:?}"
    );
}

#[test]
fn pending_limit_exports_the_oldest_unanswered() {
    let (req, resp) = pipelined(10);
    let limits = HttpLimits {
        max_pending_requests: 4,
        ..http_support::limits()
    };
    let tr = blocks(&[(Direction::ToServer, &req), (Direction::ToClient, &resp)]);
    let (t, ctx) = replay_with(&tr, Split::Whole, limits);
    assert_eq!(t.len(), 10);
    assert_eq!(ctx.counters.pending_limit_hits, 6);
    for x in &t[..6] {
        assert_eq!(
            x.anomalies,
            vec![Anomaly::Unanswered(Unanswered::PendingLimit)]
        );
    }
    // The responses of the dropped requests are skipped, not paired with later ones.
    for x in &t[6..] {
        let i: usize = x
            .request
            .target
            .trim_start_matches("/item/")
            .parse()
            .unwrap();
        assert_eq!(
            x.response.as_ref().unwrap().body.data,
            format!("body {i}").into_bytes()
        );
    }
    assert_eq!(ctx.counters.late_responses, 6);
}

#[test]
fn head_too_large_interrupts_and_resyncs() {
    let mut req = b"GET /huge HTTP/1.1\r\nHost: z\r\n".to_vec();
    for i in 0..200 {
        req.extend(format!("X-Filler-{i}: {}\r\n", "v".repeat(50)).into_bytes());
    }
    req.extend_from_slice(b"\r\nGET /ok HTTP/1.1\r\nHost: z\r\n\r\n");
    let resp = b"HTTP/1.1 431 Too Large\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let limits = HttpLimits {
        max_head_bytes: 1024,
        ..http_support::limits()
    };
    let tr = blocks(&[(Direction::ToServer, &req), (Direction::ToClient, resp)]);
    let (t, ctx) = replay_with(&tr, Split::Whole, limits.clone());
    assert_eq!(replay_with(&tr, Split::Bytes, limits).0, t);
    assert_eq!(t.len(), 2);
    assert!(t[0].anomalies.contains(&Anomaly::HeadTooLarge));
    assert!(t[0].anomalies.contains(&Anomaly::RequestInterrupted));
    assert_eq!(t[0].response.as_ref().unwrap().status, 431);
    assert_eq!(t[1].request.target, "/ok");
    assert_eq!(ctx.counters.head_too_large, 1);
}

#[test]
fn a_head_split_into_many_segments_is_not_rescanned() {
    // 60 KB of header fields fed one byte at a time: quadratic rescanning would take
    // ~1.8e9 byte visits here; linear scanning finishes at once.
    let mut req = b"GET / HTTP/1.1\r\n".to_vec();
    while req.len() < 60_000 {
        req.extend_from_slice(b"X-Some-Header: some value here\r\n");
    }
    req.extend_from_slice(b"\r\n");
    let tr = blocks(&[(Direction::ToServer, &req)]);
    let start = Instant::now();
    let (t, _) = replay_with(&tr, Split::Bytes, http_support::limits());
    assert_eq!(t.len(), 1);
    assert!(t[0].request.headers.len() > 1000 || t[0].anomalies.contains(&Anomaly::HeadTooLarge));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}
