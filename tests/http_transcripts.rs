//! Every transcript in fixtures/http/ replayed whole, byte by byte and at seeded random
//! split points (all must give the same transactions), plus per-fixture assertions.

mod http_support;

use std::path::Path;

use http_support::{parse, replay_all_ways, replay_with, Split};
use httshark::model::{header, Anomaly, Decoded, HttpVersion, Transaction, Unanswered};

fn load(name: &str) -> http_support::Transcript {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/http")
        .join(name);
    parse(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

fn run(name: &str) -> Vec<Transaction> {
    replay_all_ways(&load(name))
}

fn resp(t: &Transaction) -> &httshark::model::Response {
    t.response.as_ref().expect("a response")
}

#[test]
fn every_transcript_replays_identically_at_any_split() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/http");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("txt") {
            continue;
        }
        let t = parse(&std::fs::read_to_string(&path).unwrap());
        let out = replay_all_ways(&t);
        assert!(
            !out.is_empty() || path.ends_with("orphan_only.txt"),
            "{}: no transactions",
            path.display()
        );
        n += 1;
    }
    assert!(n >= 20, "expected the fixture set, found {n}");
}

#[test]
fn simple_get() {
    let t = run("simple_get.txt");
    assert_eq!(t.len(), 1);
    let x = &t[0];
    assert_eq!(
        (x.request.method.as_str(), x.request.target.as_str()),
        ("GET", "/index.html")
    );
    assert_eq!(x.request.version, HttpVersion::Http11);
    assert_eq!(x.host(), "example.com");
    assert_eq!(x.depth, 1);
    let r = resp(x);
    assert_eq!((r.status, r.reason.as_str()), (200, "OK"));
    assert_eq!(r.body.data, b"hello");
    assert_eq!((r.body.len, r.body.wire_len), (5, 5));
    assert_eq!(r.body.decoded, Decoded::Identity);
    assert!(x.request.complete && r.complete);
    assert!(x.anomalies.is_empty(), "{:?}", x.anomalies);
    assert_eq!(x.request.head_len, 26 + 19 + 18 + 2);
    assert_eq!(header(&r.headers, "content-type"), Some("text/plain"));
}

#[test]
fn keepalive_pairs_in_order_with_depth() {
    let t = run("keepalive.txt");
    let got: Vec<_> = t
        .iter()
        .map(|x| (x.depth, x.request.target.as_str(), resp(x).status))
        .collect();
    assert_eq!(got, vec![(1, "/a", 200), (2, "/b", 404)]);
    assert_eq!(t[1].request.first_ts.secs(), 1001);
}

#[test]
fn pipelining() {
    let t = run("pipelining.txt");
    let got: Vec<_> = t
        .iter()
        .map(|x| {
            (
                x.request.target.as_str(),
                resp(x).status,
                resp(x).body.data.clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("/1", 200, b"1".to_vec()),
            ("/2", 200, b"22".to_vec()),
            ("/3", 201, b"333".to_vec())
        ]
    );
    assert_eq!(t[2].request.body.data, b"abcd");
}

#[test]
fn head_response_has_no_body() {
    let t = run("head.txt");
    assert_eq!(t.len(), 2);
    assert_eq!(t[0].request.method, "HEAD");
    assert_eq!(resp(&t[0]).body.len, 0);
    assert_eq!(header(&resp(&t[0]).headers, "content-length"), Some("219"));
    assert_eq!(resp(&t[1]).body.data, b"ok");
}

#[test]
fn no_body_for_204_and_304() {
    let t = run("no_body_204_304.txt");
    let got: Vec<_> = t
        .iter()
        .map(|x| (resp(x).status, resp(x).body.len))
        .collect();
    assert_eq!(got, vec![(204, 0), (304, 0), (200, 1)]);
}

#[test]
fn chunked_with_extensions_and_trailers() {
    let t = run("chunked.txt");
    let b = &resp(&t[0]).body;
    assert_eq!(b.data, b"Wikipedia in\r\n\r\nchunks.");
    assert_eq!(b.len, 23);
    assert!(b.wire_len > b.len);
    let names: Vec<_> = b.trailers.iter().map(|h| &*h.name).collect();
    assert_eq!(names, vec!["Expires", "X-Checksum"]);
    assert!(t[0].anomalies.is_empty(), "{:?}", t[0].anomalies);
    assert!(resp(&t[0]).complete);
}

#[test]
fn close_delimited_body_ends_at_fin() {
    let t = run("close_delimited.txt");
    let r = resp(&t[0]);
    assert_eq!(r.body.data, b"line one\r\nline two\r\n");
    assert!(r.complete);
    assert!(t[0].anomalies.is_empty());
}

#[test]
fn close_delimited_body_at_end_of_capture_is_incomplete() {
    let mut tr = load("close_delimited.txt");
    tr.events
        .retain(|e| matches!(e, http_support::Event::Data(..)));
    let t = replay_all_ways(&tr);
    assert!(!resp(&t[0]).complete);
    assert!(t[0].anomalies.contains(&Anomaly::ResponseInterrupted));
}

#[test]
fn continue_100_is_interim() {
    let t = run("continue_100.txt");
    assert_eq!(t.len(), 1);
    let r = resp(&t[0]);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.interim.iter().map(|i| i.status).collect::<Vec<_>>(),
        vec![100]
    );
    assert_eq!(t[0].request.body.data, b"hello world");
    assert!(t[0].wire_bytes() > t[0].request.head_len + 11);
}

#[test]
fn early_hints_103() {
    let t = run("early_hints_103.txt");
    let r = resp(&t[0]);
    assert_eq!(r.status, 200);
    assert_eq!(r.interim.len(), 1);
    assert_eq!(r.interim[0].status, 103);
    assert_eq!(
        header(&r.interim[0].headers, "link"),
        Some("</style.css>; rel=preload; as=style")
    );
    assert_eq!(r.body.data, b"page");
}

#[test]
fn websocket_upgrade_becomes_a_tunnel() {
    let tr = load("websocket_101.txt");
    let (t, ctx) = replay_with(&tr, Split::Whole, http_support::limits());
    assert_eq!(t, replay_all_ways(&tr));
    assert_eq!(t.len(), 1);
    assert_eq!(resp(&t[0]).status, 101);
    assert!(t[0].anomalies.contains(&Anomaly::Tunnel));
    assert_eq!(ctx.counters.tunnels, 1);
    assert_eq!(ctx.counters.tunnel_bytes, 7 + 11);
    assert_eq!(ctx.counters.parse_errors, 0);
}

#[test]
fn plain_http_through_a_connect_tunnel_is_parsed() {
    let tr = load("connect_plain_http.txt");
    let t = replay_all_ways(&tr);
    assert_eq!(t.len(), 2);
    assert_eq!(
        (t[0].request.method.as_str(), resp(&t[0]).status),
        ("CONNECT", 200)
    );
    assert!(t[0].anomalies.contains(&Anomaly::Tunnel));
    assert_eq!(
        (t[1].request.method.as_str(), t[1].request.target.as_str()),
        ("GET", "/inside")
    );
    assert_eq!(t[1].host(), "inner.example");
    assert_eq!(resp(&t[1]).status, 200);
    assert_eq!(resp(&t[1]).body.data, b"inner body");
    let (_, ctx) = replay_with(&tr, Split::Whole, http_support::limits());
    assert_eq!(ctx.counters.tunnels_with_http, 1);
    assert_eq!(ctx.counters.parse_errors, 0);
}

#[test]
fn connect_becomes_a_tunnel() {
    let tr = load("connect.txt");
    let (t, ctx) = replay_with(&tr, Split::Whole, http_support::limits());
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].request.method, "CONNECT");
    assert_eq!(t[0].request.target, "example.com:443");
    assert_eq!(resp(&t[0]).status, 200);
    assert!(t[0].anomalies.contains(&Anomaly::Tunnel));
    assert_eq!(ctx.counters.tunnel_bytes, 10 + 7);
    assert_eq!(
        (ctx.counters.parse_errors, ctx.counters.resync_skipped_bytes),
        (0, 0)
    );
}

#[test]
fn refused_connect_does_not_tunnel() {
    let t = run("connect_refused.txt");
    let got: Vec<_> = t
        .iter()
        .map(|x| (x.request.target.as_str(), resp(x).status))
        .collect();
    assert_eq!(got, vec![("example.com:443", 407), ("/after", 200)]);
    assert!(!t[0].anomalies.contains(&Anomaly::Tunnel));
}

#[test]
fn bare_lf_is_accepted_and_flagged() {
    let t = run("bare_lf.txt");
    assert_eq!(t[0].request.target, "/lf");
    assert_eq!(resp(&t[0]).body.data, b"abc");
    assert!(t[0].anomalies.contains(&Anomaly::BareLf));
}

#[test]
fn obs_fold_is_joined_and_flagged() {
    let t = run("obs_fold.txt");
    assert_eq!(
        header(&t[0].request.headers, "x-long"),
        Some("first part second part third part")
    );
    assert!(t[0].anomalies.contains(&Anomaly::ObsFold));
}

#[test]
fn conflicting_content_length_uses_the_last() {
    let t = run("conflicting_cl.txt");
    assert_eq!(t.len(), 2);
    assert_eq!(t[0].request.body.data, b"bar=1&foo=2POST /ev");
    assert!(t[0].anomalies.contains(&Anomaly::ConflictingContentLength));
    assert_eq!(resp(&t[0]).status, 501);
    assert_eq!(t[1].request.target, "/next");
    assert_eq!(
        t[1].anomalies,
        vec![Anomaly::Unanswered(Unanswered::EndOfCapture)]
    );
}

#[test]
fn transfer_encoding_wins_over_content_length() {
    let t = run("te_and_cl.txt");
    assert_eq!(resp(&t[0]).body.data, b"12345");
    assert!(t[0]
        .anomalies
        .contains(&Anomaly::TransferEncodingAndContentLength));
}

#[test]
fn invalid_content_length_reads_to_close() {
    let t = run("invalid_cl.txt");
    assert_eq!(resp(&t[0]).body.data, b"body bytes");
    assert!(resp(&t[0]).complete);
    assert!(t[0].anomalies.contains(&Anomaly::InvalidContentLength));
}

#[test]
fn gap_in_known_length_body_is_counted_and_parsing_goes_on() {
    let tr = load("gap_in_body.txt");
    let (t, ctx) = replay_with(&tr, Split::Whole, http_support::limits());
    assert_eq!(t.len(), 2);
    let b = &resp(&t[0]).body;
    assert_eq!((b.len, b.missing, b.wire_len), (20, 10, 20));
    assert_eq!(b.data, b"0123456789");
    assert!(t[0].anomalies.contains(&Anomaly::BodyGap));
    assert!(!resp(&t[0]).complete);
    assert_eq!(resp(&t[1]).body.data, b"ok");
    assert!(t[1].anomalies.is_empty());
    assert_eq!(ctx.counters.body_gaps, 1);
}

#[test]
fn gap_in_response_head_interrupts_and_resyncs() {
    let tr = load("gap_in_head.txt");
    let (t, ctx) = replay_with(&tr, Split::Whole, http_support::limits());
    assert_eq!(t, replay_all_ways(&tr));
    assert_eq!(t.len(), 2);
    let r0 = resp(&t[0]);
    assert_eq!(r0.status, 200);
    assert!(!r0.complete);
    assert_eq!(header(&r0.headers, "server"), Some("x"));
    assert!(t[0].anomalies.contains(&Anomaly::ResponseInterrupted));
    assert_eq!(resp(&t[1]).body.data, b"two");
    assert_eq!(t[1].request.target, "/2");
    assert_eq!(
        ctx.counters.resync_skipped_bytes,
        "ZZZZbody tail\r\n".len() as u64
    );
}

#[test]
fn gap_in_request_head_emits_the_partial_request() {
    let t = run("gap_in_request_head.txt");
    assert_eq!(t.len(), 2);
    assert_eq!(
        (t[0].request.method.as_str(), t[0].request.target.as_str()),
        ("POST", "/form")
    );
    assert!(!t[0].request.complete);
    assert!(t[0].anomalies.contains(&Anomaly::RequestInterrupted));
    assert_eq!(resp(&t[0]).status, 400);
    assert_eq!(
        (t[1].request.target.as_str(), resp(&t[1]).status),
        ("/next", 200)
    );
}

#[test]
fn midstream_pickup_resyncs_both_directions() {
    let tr = load("midstream.txt");
    let (t, ctx) = replay_with(&tr, Split::Whole, http_support::limits());
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].request.target, "/second");
    assert_eq!(resp(&t[0]).body.data, b"second");
    assert!(t[0].anomalies.contains(&Anomaly::MidStreamPickup));
    assert!(ctx.counters.resync_skipped_bytes > 0);
    assert_eq!(ctx.counters.parse_errors, 0);
}

#[test]
fn orphan_response_is_counted_not_emitted() {
    let tr = load("orphan_response.txt");
    let (t, ctx) = replay_with(&tr, Split::Whole, http_support::limits());
    assert_eq!(t.len(), 1);
    assert_eq!(resp(&t[0]).body.data, b"real");
    assert_eq!(ctx.counters.orphan_responses, 1);
}

#[test]
fn late_response_after_timeout_is_not_mispaired() {
    let tr = load("late_response.txt");
    let (t, ctx) = replay_with(&tr, Split::Whole, http_support::limits());
    assert_eq!(t, replay_all_ways(&tr));
    assert_eq!(t.len(), 2);
    assert_eq!(t[0].request.method, "HEAD");
    assert!(t[0].response.is_none());
    assert_eq!(
        t[0].anomalies,
        vec![Anomaly::Unanswered(Unanswered::Timeout)]
    );
    assert_eq!(t[0].completed_at.secs(), 1031);
    assert_eq!(
        (
            t[1].request.target.as_str(),
            resp(&t[1]).body.data.as_slice()
        ),
        ("/fast", &b"fast"[..])
    );
    assert_eq!(
        (ctx.counters.late_responses, ctx.counters.response_timeouts),
        (1, 1)
    );
}

#[test]
fn http09_request_and_raw_response() {
    let t = run("http09.txt");
    assert_eq!(t[0].request.version, HttpVersion::Http09);
    assert_eq!(t[0].request.target, "/old");
    let r = resp(&t[0]);
    assert_eq!((r.status, r.version), (0, HttpVersion::Http09));
    assert_eq!(r.body.data, b"<html>old</html>\r\n");
}

#[test]
fn unanswered_requests_at_server_close() {
    let t = run("unanswered.txt");
    assert_eq!(t.len(), 2);
    assert!(t[0].anomalies.is_empty());
    assert_eq!(
        t[1].anomalies,
        vec![Anomaly::Unanswered(Unanswered::ConnectionClosed)]
    );
}

#[test]
fn invalid_chunk_ends_the_body_and_resyncs() {
    let t = run("invalid_chunk.txt");
    assert_eq!(t.len(), 2);
    assert!(t[0].anomalies.contains(&Anomaly::InvalidChunk));
    assert!(!resp(&t[0]).complete);
    assert_eq!(resp(&t[0]).body.data, b"abc");
    assert_eq!(resp(&t[1]).body.data, b"2");
}

/// Issue 16: an over-long chunk-size line ends the body at its LF at any split (the
/// replays whole, byte by byte and at random splits must agree, counters included).
#[test]
fn over_long_chunk_line_ends_the_body_at_its_line_end() {
    let tr = load("over_long_chunk_line.txt");
    let t = replay_all_ways(&tr);
    assert_eq!(t.len(), 2);
    assert!(t[0].anomalies.contains(&Anomaly::InvalidChunk));
    let r = resp(&t[0]);
    assert!(!r.complete);
    assert_eq!((r.body.len, r.body.wire_len), (0, 4200 + 2));
    assert_eq!(resp(&t[1]).body.data, b"2");
    let (_, ctx) = replay_with(&tr, Split::Bytes, http_support::limits());
    // `hello`, the last chunk and the empty line: 7 + 3 + 2.
    assert_eq!(ctx.counters.resync_skipped_bytes, 12);
}

#[test]
fn stray_byte_before_a_request_is_skipped() {
    let tr = load("stray_byte.txt");
    let (t, ctx) = replay_with(&tr, Split::Whole, http_support::limits());
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].request.target, "/after-probe");
    assert_eq!(
        (ctx.counters.parse_errors, ctx.counters.resync_skipped_bytes),
        (1, 1)
    );
}

#[test]
fn malformed_request_lines_are_recorded_flagged_and_paired() {
    let t = run("malformed_request_line.txt");
    let seen: Vec<(&str, &str, u16)> = t
        .iter()
        .map(|x| {
            (
                x.request.method.as_str(),
                x.request.target.as_str(),
                resp(x).status,
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("OPTIONS", "", 400),
            ("GET", "/", 200),
            ("GET/", "", 400),
            // The bytes C3 83 C3 82 are UTF-8 for "ÃÂ".
            ("\u{c3}\u{c2}", "/", 405),
            ("GET", "/fine", 200),
        ]
    );
    for x in &t[..4] {
        assert!(
            x.anomalies.contains(&Anomaly::MalformedRequestLine),
            "{x:?}"
        );
        assert_eq!(x.host(), "m");
    }
    assert!(!t[4].anomalies.contains(&Anomaly::MalformedRequestLine));
    assert_eq!(resp(&t[1]).body.data, b"yes");
}

#[test]
fn text_that_is_not_a_request_is_skipped_up_to_the_next_request_line() {
    let tr = load("not_a_request_line.txt");
    let (t, ctx) = replay_with(&tr, Split::Whole, http_support::limits());
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].request.target, "/after-text");
    assert!(t[0].anomalies.is_empty());
    assert_eq!(ctx.counters.parse_errors, 1);
    assert_eq!(
        ctx.counters.resync_skipped_bytes,
        "hello there\r\n".len() as u64
    );
}

#[test]
fn http09_line_followed_by_fields_keeps_them_and_is_flagged() {
    let t = run("http09_with_fields.txt");
    assert_eq!(t.len(), 1);
    let x = &t[0];
    assert_eq!(
        (x.request.method.as_str(), x.request.target.as_str()),
        ("GET", "/HTTP/1.1")
    );
    assert_eq!(x.request.version, HttpVersion::Http09);
    assert_eq!(x.host(), "m");
    assert!(x.anomalies.contains(&Anomaly::MalformedRequestLine));
    let r = resp(x);
    assert_eq!((r.status, r.version), (0, HttpVersion::Http09));
    assert!(r.body.data.starts_with(b"HTTP/1.0 403 Forbidden\n"));
}

#[test]
fn http09_line_with_another_method_is_flagged() {
    let t = run("http09_other_method.txt");
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].request.method.as_str(), t[0].request.version),
        ("POST", HttpVersion::Http09)
    );
    assert!(t[0].anomalies.contains(&Anomaly::MalformedRequestLine));
    assert_eq!(resp(&t[0]).body.data, b"raw bytes");
}
