//! `H2Conn` on transcripts built with the test encoder (`h2::testing`): each replayed
//! whole, byte by byte and at seeded random split points must give the same transactions.

use crate::h2::frame::{self, FLAG_END_HEADERS, FLAG_END_STREAM, FLAG_PADDED, FLAG_PRIORITY};
use crate::h2::testing::*;
use crate::model::{Anomaly, Direction::ToClient, Direction::ToServer, HttpVersion, Unanswered};

const SPLITS: [Split; 5] = [
    Split::Whole,
    Split::Bytes,
    Split::Random(1),
    Split::Random(2),
    Split::Random(99),
];

fn c(bytes: Vec<u8>) -> Step {
    Step::Data(ToServer, bytes)
}
fn s(bytes: Vec<u8>) -> Step {
    Step::Data(ToClient, bytes)
}

/// Replays `steps` at every split: all must agree; returns the whole replay's result.
fn replay_all(
    steps: &[Step],
    midstream: bool,
) -> (Vec<crate::model::Transaction>, crate::http::HttpCtx) {
    let (whole, ctx) = replay(steps, Split::Whole, midstream);
    for split in SPLITS {
        let (out, other) = replay(steps, split, midstream);
        assert_eq!(out, whole, "{split:?} differs from whole");
        assert_eq!(other.h2, ctx.h2, "{split:?}: counters differ");
        assert_eq!(
            other.counters, ctx.counters,
            "{split:?}: HTTP counters differ"
        );
    }
    (whole, ctx)
}

fn ok(status: &str) -> Vec<(&'static str, String)> {
    vec![
        (":status", status.into()),
        ("content-type", "text/plain".into()),
    ]
}

#[test]
fn a_get_and_its_response_make_one_transaction() {
    let mut client = preface();
    client.extend(headers(1, &fields(&get("/a?x=1")), true));
    let mut server = settings(&[(frame::SETTINGS_MAX_FRAME_SIZE, 32768)]);
    server.extend(frame(frame::SETTINGS, frame::FLAG_ACK, 0, &[]));
    server.extend(headers(1, &fields(&ok("200")), false));
    server.extend(data(1, b"hello ", false));
    server.extend(data(1, b"world", true));
    let (out, ctx) = replay_all(&[c(client), s(server)], false);
    assert_eq!(out.len(), 1, "{out:#?}");
    let tx = &out[0];
    assert_eq!(tx.request.method, "GET");
    assert_eq!(tx.request.target, "/a?x=1");
    assert_eq!(tx.request.version, HttpVersion::Http2);
    let names: Vec<&str> = tx.request.headers.iter().map(|h| &*h.name).collect();
    assert_eq!(names, [":method", ":scheme", ":authority", ":path"]);
    assert_eq!(tx.host(), "a.test");
    let r = tx.response.as_ref().expect("a response");
    assert_eq!(r.status, 200);
    assert_eq!(r.body.data, b"hello world");
    assert_eq!(r.body.len, 11);
    assert!(r.headers.iter().all(|h| h.name != ":status"));
    assert_eq!(r.headers.len(), 1);
    assert!(tx.request.complete && r.complete);
    assert!(tx.anomalies.is_empty(), "{:?}", tx.anomalies);
    let h2 = tx.h2.as_ref().expect("h2 stream info");
    assert_eq!(h2.stream_id, 1);
    assert!(!h2.pushed && h2.error_code.is_none());
    assert_eq!(h2.headers_compressed.0, tx.request.head_len);
    assert!(h2.headers_compressed.0 > 0 && h2.headers_compressed.1 > 0);
    // Packet times: request in the first step, response in the second.
    assert_eq!(tx.request.first_ts.0, 100 * 1_000_000_000);
    assert_eq!(r.first_ts.0, 101 * 1_000_000_000);
    assert_eq!(ctx.h2.h2_streams, 1);
    assert_eq!(ctx.h2.h2_sessions, 1);
    assert_eq!(ctx.h2.h2_frames, 7);
    assert_eq!(ctx.counters.transactions, 1);
    assert_eq!(ctx.h2.h2_preface_missing, 0);
}

#[test]
fn bodies_trailers_and_interim_responses() {
    let mut req = get("/up");
    req[0].1 = "POST".into();
    req.push(("content-encoding", "identity".into()));
    let mut client = preface();
    client.extend(headers(1, &fields(&req), false));
    client.extend(data(1, b"part1-", false));
    client.extend(data(1, b"part2", false));
    client.extend(headers(1, &[("x-checksum", "abc")], true));
    let mut server = headers(1, &[(":status", "100")], false);
    server.extend(headers(
        1,
        &[(":status", "103"), ("link", "</s.css>")],
        false,
    ));
    server.extend(headers(1, &fields(&ok("201")), false));
    server.extend(data(1, b"done", false));
    server.extend(headers(1, &[("grpc-status", "0")], true));
    let (out, ctx) = replay_all(&[c(client), s(server)], false);
    assert_eq!(out.len(), 1);
    let tx = &out[0];
    assert_eq!(tx.request.method, "POST");
    assert_eq!(tx.request.body.data, b"part1-part2");
    assert_eq!(tx.request.body.trailers.len(), 1);
    assert_eq!(tx.request.body.trailers[0].name, "x-checksum");
    let r = tx.response.as_ref().unwrap();
    assert_eq!(r.status, 201);
    let interim: Vec<u16> = r.interim.iter().map(|i| i.status).collect();
    assert_eq!(interim, [100, 103]);
    assert_eq!(r.interim[1].headers[0].name, "link");
    assert_eq!(r.body.data, b"done");
    assert_eq!(r.body.trailers[0].value, "0");
    assert!(tx.anomalies.is_empty(), "{:?}", tx.anomalies);
    assert_eq!(ctx.counters.interim_responses, 2);
}

#[test]
fn interleaved_streams_each_become_a_transaction_in_the_order_they_end() {
    let mut client = preface();
    for id in [1, 3, 5] {
        client.extend(headers(id, &fields(&get(&format!("/s{id}"))), true));
    }
    let mut server = Vec::new();
    for id in [5, 1, 3] {
        server.extend(headers(id, &fields(&ok("200")), false));
    }
    server.extend(data(3, b"three-", false));
    server.extend(data(1, b"one", false));
    server.extend(data(5, b"five", true));
    server.extend(data(3, b"3", true));
    server.extend(data(1, b"", true));
    let (out, _) = replay_all(&[c(client), s(server)], false);
    let got: Vec<(u32, &str, &[u8])> = out
        .iter()
        .map(|t| {
            (
                t.h2.as_ref().unwrap().stream_id,
                t.request.target.as_str(),
                t.response.as_ref().unwrap().body.data.as_slice(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (5, "/s5", &b"five"[..]),
            (3, "/s3", b"three-3"),
            (1, "/s1", b"one")
        ]
    );
    // Depth follows the order streams opened.
    let depths: Vec<u32> = out.iter().map(|t| t.depth).collect();
    assert_eq!(depths, [3, 2, 1]);
}

#[test]
fn padding_priority_and_continuation_are_undone() {
    let blk = block(&fields(&get("/padded")));
    let (a, b) = blk.split_at(7);
    // HEADERS: PADDED (3 bytes of padding) and PRIORITY (5 bytes), no END_HEADERS.
    let mut payload = vec![3];
    payload.extend_from_slice(&[0x80, 0, 0, 0, 16]);
    payload.extend_from_slice(a);
    payload.extend_from_slice(&[0, 0, 0]);
    let mut client = preface();
    client.extend(frame(
        frame::HEADERS,
        FLAG_PADDED | FLAG_PRIORITY | FLAG_END_STREAM,
        1,
        &payload,
    ));
    let (b1, b2) = b.split_at(3);
    client.extend(frame(frame::CONTINUATION, 0, 1, b1));
    client.extend(frame(frame::CONTINUATION, FLAG_END_HEADERS, 1, b2));
    let mut server = headers(1, &fields(&ok("200")), false);
    // Padded DATA: pad length 4.
    let mut dp = vec![4];
    dp.extend_from_slice(b"body");
    dp.extend_from_slice(&[0; 4]);
    server.extend(frame(frame::DATA, FLAG_PADDED | FLAG_END_STREAM, 1, &dp));
    // Unknown frame types, PING, WINDOW_UPDATE, PRIORITY in between are skipped.
    let mut noise = frame(0x42, 0xff, 0, b"ext");
    noise.extend(frame(frame::PING, 0, 0, &[1; 8]));
    noise.extend(frame(frame::WINDOW_UPDATE, 0, 0, &[0, 0, 1, 0]));
    noise.extend(frame(frame::PRIORITY, 0, 3, &[0, 0, 0, 1, 7]));
    let (out, ctx) = replay_all(&[c(client), c(noise), s(server)], false);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].request.target, "/padded");
    assert_eq!(out[0].request.head_len, blk.len() as u64);
    let r = out[0].response.as_ref().unwrap();
    assert_eq!(r.body.data, b"body");
    assert_eq!(r.body.len, 4, "padding is not body");
    assert_eq!(ctx.h2.h2_frames_unknown, 1);
    assert_eq!(ctx.h2.h2_continuation_errors, 0);
    assert!(out[0].anomalies.is_empty());
}

#[test]
fn a_push_promise_makes_a_pushed_stream() {
    let mut client = preface();
    client.extend(headers(1, &fields(&get("/index.html")), true));
    let mut promise = vec![0, 0, 0, 2];
    promise.extend(block(&fields(&get("/style.css"))));
    let mut server = frame(frame::PUSH_PROMISE, FLAG_END_HEADERS, 1, &promise);
    server.extend(headers(1, &fields(&ok("200")), false));
    server.extend(headers(2, &fields(&ok("200")), false));
    server.extend(data(2, b"body{}", true));
    server.extend(data(1, b"<html>", true));
    let (out, ctx) = replay_all(&[c(client), s(server)], false);
    assert_eq!(out.len(), 2);
    let pushed = &out[0];
    assert_eq!(pushed.request.target, "/style.css");
    let h2 = pushed.h2.as_ref().unwrap();
    assert!(h2.pushed);
    assert_eq!(h2.stream_id, 2);
    assert_eq!(pushed.response.as_ref().unwrap().body.data, b"body{}");
    assert!(!out[1].h2.as_ref().unwrap().pushed);
    assert_eq!(ctx.h2.h2_pushes, 1);
}

#[test]
fn rst_stream_ends_a_stream_early_exported_and_flagged() {
    let mut client = preface();
    client.extend(headers(1, &fields(&get("/slow")), true));
    client.extend(headers(3, &fields(&get("/fast")), true));
    let mut server = headers(1, &fields(&ok("200")), false);
    server.extend(data(1, b"partial", false));
    // CANCEL (0x8) from the client; the server sends nothing more on stream 1.
    let rst = frame(frame::RST_STREAM, 0, 1, &[0, 0, 0, 8]);
    let more = headers(3, &fields(&ok("404")), true);
    let (out, ctx) = replay_all(&[c(client), s(server), c(rst), s(more)], false);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].response.as_ref().unwrap().status, 404);
    let reset = &out[1];
    assert_eq!(reset.request.target, "/slow");
    assert_eq!(reset.h2.as_ref().unwrap().error_code, Some(8));
    assert!(reset.anomalies.contains(&Anomaly::StreamReset));
    assert!(reset.anomalies.contains(&Anomaly::ResponseInterrupted));
    assert_eq!(reset.response.as_ref().unwrap().body.data, b"partial");
    assert_eq!(ctx.h2.h2_resets, 1);
}

/// What the other end had in flight when the RST_STREAM went out still belongs to the
/// stream (the fixture h2c-upgrade-hypercorn: the client resets with STREAM_CLOSED while
/// the server's last DATA is on its way): it completes it, unflagged.
#[test]
fn frames_in_flight_after_a_rst_stream_still_complete_the_stream() {
    let mut client = preface();
    client.extend(headers(1, &fields(&get("/done")), true));
    let mut server = headers(1, &fields(&ok("200")), false);
    server.extend(data(1, b"most", false));
    let rst = frame(frame::RST_STREAM, 0, 1, &[0, 0, 0, 5]);
    let rest = data(1, b"-rest", true);
    let late = data(1, b"late", true);
    let (out, ctx) = replay_all(&[c(client), s(server), c(rst), s(rest), s(late)], false);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].response.as_ref().unwrap().body.data, b"most-rest");
    assert!(out[0].anomalies.is_empty(), "{:?}", out[0].anomalies);
    assert_eq!(out[0].h2.as_ref().unwrap().error_code, Some(5));
    assert_eq!(
        ctx.h2.h2_frames_closed_stream, 1,
        "after its end, DATA is late"
    );
}

#[test]
fn a_rst_stream_before_any_response_is_unanswered_stream_reset() {
    let mut client = preface();
    client.extend(headers(1, &fields(&get("/x")), true));
    client.extend(frame(frame::RST_STREAM, 0, 1, &[0, 0, 0, 8]));
    let (out, _) = replay_all(&[c(client)], false);
    assert_eq!(out.len(), 1);
    assert!(out[0]
        .anomalies
        .contains(&Anomaly::Unanswered(Unanswered::StreamReset)));
}

#[test]
fn goaway_ends_the_streams_above_its_last_stream_id() {
    let mut client = preface();
    for id in [1, 3, 5] {
        client.extend(headers(id, &fields(&get(&format!("/g{id}"))), true));
    }
    // The server processed up to stream 3 (NO_ERROR... then REFUSED for the rest).
    let mut server = frame(frame::GOAWAY, 0, 0, &[0, 0, 0, 3, 0, 0, 0, 0]);
    server.extend(headers(1, &fields(&ok("200")), true));
    server.extend(headers(3, &fields(&ok("200")), true));
    let (out, ctx) = replay_all(&[c(client), s(server)], false);
    let got: Vec<(&str, Option<u32>)> = out
        .iter()
        .map(|t| (t.request.target.as_str(), t.h2.as_ref().unwrap().error_code))
        .collect();
    assert_eq!(got, [("/g5", Some(0)), ("/g1", None), ("/g3", None)]);
    assert!(out[0]
        .anomalies
        .contains(&Anomaly::Unanswered(Unanswered::StreamReset)));
    assert_eq!(ctx.h2.h2_goaways, 1);
}

#[test]
fn the_connection_closing_exports_open_streams_flagged() {
    let mut client = preface();
    client.extend(headers(1, &fields(&get("/open")), true));
    client.extend(headers(3, &fields(&get("/half")), true));
    let mut server = headers(3, &fields(&ok("200")), false);
    server.extend(data(3, b"cut", false));
    let (out, _) = replay_all(&[c(client), s(server)], false);
    assert_eq!(out.len(), 2);
    assert!(out[0]
        .anomalies
        .contains(&Anomaly::Unanswered(Unanswered::ConnectionClosed)));
    assert!(out[1].anomalies.contains(&Anomaly::ResponseInterrupted));
    assert!(!out[1].response.as_ref().unwrap().complete);
}

#[test]
fn a_gap_inside_data_is_missing_body_bytes_and_the_stream_goes_on() {
    let mut client = preface();
    client.extend(headers(1, &fields(&get("/big")), true));
    let mut server = headers(1, &fields(&ok("200")), false);
    let mut d = data(1, &[b'x'; 100], true);
    let tail = d.split_off(9 + 40);
    server.extend(d);
    let mut after = tail[20..].to_vec();
    after.extend(headers(3, &fields(&ok("200")), true)); // an unknown stream: lost request
    let steps = [c(client), s(server), Step::Gap(ToClient, 20), s(after)];
    let (out, ctx) = replay_all(&steps, false);
    assert_eq!(out.len(), 2, "{out:#?}");
    let r = out[0].response.as_ref().unwrap();
    assert_eq!((r.body.len, r.body.missing), (100, 20));
    assert!(out[0].anomalies.contains(&Anomaly::BodyGap));
    assert!(out[1].anomalies.contains(&Anomaly::RequestLost));
    assert_eq!(ctx.h2.h2_resyncs, 0);
}

#[test]
fn a_lost_headers_segment_flags_its_stream_and_later_streams_are_still_exported() {
    let mut client = preface();
    client.extend(headers(1, &fields(&get("/one")), true));
    let lost = headers(3, &fields(&get("/two")), true);
    let mut later = headers(5, &fields(&get("/three")), true);
    later.extend(headers(7, &fields(&get("/four")), true));
    let mut server = Vec::new();
    for id in [1, 3, 5, 7] {
        server.extend(headers(id, &fields(&ok("200")), false));
        server.extend(data(id, format!("r{id}").as_bytes(), true));
    }
    let steps = [
        c(client),
        Step::Gap(ToServer, lost.len() as u64),
        c(later),
        s(server),
    ];
    let (out, ctx) = replay_all(&steps, false);
    let got: Vec<(u32, &str, bool)> = out
        .iter()
        .map(|t| {
            (
                t.h2.as_ref().unwrap().stream_id,
                t.request.target.as_str(),
                t.anomalies.contains(&Anomaly::RequestLost),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (1, "/one", false),
            (3, "", true),
            (5, "/three", false),
            (7, "/four", false)
        ]
    );
    // Blocks decoded after the gap are flagged: the gap may have held table insertions.
    assert!(out[2].anomalies.contains(&Anomaly::HpackDesync));
    assert!(out[3].anomalies.contains(&Anomaly::HpackDesync));
    assert!(!out[0].anomalies.contains(&Anomaly::HpackDesync));
    assert_eq!(ctx.h2.h2_resyncs, 1);
    assert_eq!(
        ctx.h2.h2_resync_skipped_bytes, 0,
        "the gap ended at a frame boundary"
    );
}

#[test]
fn a_mid_stream_pickup_finds_the_frames_without_the_preface() {
    // The capture starts inside a DATA frame of stream 1, then stream 3 follows.
    let mut server = data(1, &[b'z'; 30], true);
    server.drain(..15);
    server.extend(headers(3, &fields(&ok("200")), false));
    server.extend(data(3, b"three", true));
    let mut client = headers(5, &fields(&get("/five")), true);
    client.extend(frame(frame::WINDOW_UPDATE, 0, 0, &[0, 0, 1, 0]));
    let mut server2 = headers(5, &fields(&ok("204")), true);
    server2.extend(frame(frame::PING, 0, 0, &[0; 8]));
    // A stream opened before the pickup (1 < 3) still ends after it.
    server2.extend(headers(1, &fields(&ok("200")), true));
    let (out, ctx) = replay_all(&[s(server), c(client), s(server2)], true);
    let got: Vec<(u32, u16)> = out
        .iter()
        .map(|t| {
            (
                t.h2.as_ref().unwrap().stream_id,
                t.response.as_ref().unwrap().status,
            )
        })
        .collect();
    assert_eq!(got, [(3, 200), (5, 204), (1, 200)]);
    assert_eq!(out[1].request.target, "/five");
    assert!(out[2].anomalies.contains(&Anomaly::RequestLost));
    assert!(out
        .iter()
        .all(|t| t.anomalies.contains(&Anomaly::MidStreamPickup)));
    assert!(out
        .iter()
        .all(|t| t.anomalies.contains(&Anomaly::HpackDesync)));
    assert_eq!(ctx.h2.h2_resyncs, 2);
    assert_eq!(ctx.h2.h2_preface_missing, 0);
}

#[test]
fn limits_streams_and_header_lists() {
    let limits = crate::http::HttpLimits {
        max_headers: 3,
        ..Default::default()
    };
    let mut client = preface();
    client.extend(headers(1, &fields(&get("/many")), true));
    let (out, ctx) = replay_with(&[c(client)], Split::Whole, false, limits);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].request.headers.len(), 3);
    assert!(out[0].anomalies.contains(&Anomaly::HeadTooLarge));
    assert_eq!(ctx.h2.h2_header_list_limit_hits, 1);
}

#[test]
fn memory_is_charged_and_returned() {
    use crate::reassembly::StreamHandler;
    let conn = conn_info(false);
    let mut ctx = crate::http::HttpCtx::new(Default::default());
    let mut h = crate::h2::H2Conn::new(&mut ctx, false);
    let empty = h.mem_bytes();
    let mut client = preface();
    client.extend(headers(1, &fields(&get("/m")), false));
    client.extend(data(1, &[7; 5000], false));
    h.on_data(
        &mut ctx,
        &conn,
        ToServer,
        &client,
        crate::time::Timestamp::default(),
    );
    assert!(h.mem_bytes() >= empty + 5000);
    assert!(h.shed_memory(&mut ctx));
    assert!(h.mem_bytes() < empty + 5000);
    assert_eq!(h.open_streams(), 1);
}

/// RFC 7541 §2.3.2: dynamic-table indices shift with every insertion, so a lost block
/// that inserted makes later references point at the wrong entries. After the loss they
/// must come out as visible placeholders, flagged, never as another entry's field.
#[test]
fn a_lost_header_block_never_gives_a_wrong_header_later() {
    let stream = |id: u32, extra: &dyn Fn(&mut Vec<u8>)| {
        let mut b = block(&fields(&get(&format!("/p{id}"))));
        extra(&mut b);
        frame(frame::HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, id, &b)
    };
    let mut client = preface();
    client.extend(stream(1, &|b| indexed_literal(b, "x-token", "first")));
    let lost = stream(3, &|b| indexed_literal(b, "x-token", "second"));
    // Stream 5 refers to the newest entry (62: "second") and the older one (63: "first").
    let mut later = stream(5, &|b| {
        indexed(b, 62);
        indexed(b, 63);
    });
    // A frame after it, as clients send (the reader needs two chained frames to find
    // the boundary again before the response comes).
    later.extend(frame(frame::WINDOW_UPDATE, 0, 0, &[0, 1, 0, 0]));
    let mut server = Vec::new();
    for id in [1, 3, 5] {
        server.extend(headers(id, &fields(&ok("200")), true));
    }
    // Without the loss, the references resolve.
    let mut whole = client.clone();
    whole.extend(lost.clone());
    whole.extend(later.clone());
    let (out, _) = replay_all(&[c(whole), s(server.clone())], false);
    let tokens = |t: &crate::model::Transaction| -> Vec<String> {
        t.request
            .headers
            .iter()
            .filter(|h| !h.name.starts_with(':'))
            .map(|h| format!("{}={}", h.name, h.value))
            .collect()
    };
    assert_eq!(tokens(&out[2]), ["x-token=second", "x-token=first"]);
    // With stream 3's block lost: stream 5's references are placeholders, flagged.
    let steps = [
        c(client),
        Step::Gap(ToServer, lost.len() as u64),
        c(later),
        s(server),
    ];
    let (out, ctx) = replay_all(&steps, false);
    let five = out
        .iter()
        .find(|t| t.request.target == "/p5")
        .unwrap_or_else(|| panic!("stream 5 not exported: {out:#?}"));
    assert!(five.anomalies.contains(&Anomaly::HpackDesync));
    let got = tokens(five);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got.iter()
            .all(|f| f.starts_with(crate::h2::hpack::UNKNOWN_INDEX_PREFIX)),
        "placeholders, not a wrong field: {got:?}"
    );
    assert!(ctx.h2.h2_hpack_desync_blocks >= 1);
}

#[test]
fn a_gap_that_loses_the_frame_boundary_ends_open_streams_flagged_at_the_close() {
    let mut client = preface();
    client.extend(headers(1, &fields(&get("/cut")), true));
    client.extend(headers(3, &fields(&get("/after")), true));
    let mut server = headers(1, &fields(&ok("200")), false);
    server.extend(data(1, b"abc", false));
    // Lost: the rest of stream 1 (its END_STREAM) and whatever else; then stream 3.
    let mut after = headers(3, &fields(&ok("200")), false);
    after.extend(data(3, b"fine", true));
    let steps = [c(client), s(server), Step::Gap(ToClient, 30), s(after)];
    let (out, ctx) = replay_all(&steps, false);
    let got: Vec<(&str, bool, bool)> = out
        .iter()
        .map(|t| {
            (
                t.request.target.as_str(),
                t.anomalies.contains(&Anomaly::FramesLost),
                t.anomalies.contains(&Anomaly::ResponseInterrupted),
            )
        })
        .collect();
    // Stream 3 was open in that direction too (its response not begun): frames of it
    // (a 1xx, say) may have been in the lost bytes, so it is flagged as well.
    assert_eq!(got, [("/after", true, false), ("/cut", true, true)]);
    assert_eq!(out[0].response.as_ref().unwrap().body.data, b"fine");
    assert_eq!(out[1].response.as_ref().unwrap().body.data, b"abc");
    assert!(
        out[0].anomalies.contains(&Anomaly::HpackDesync),
        "decoded after the loss"
    );
    assert_eq!(ctx.h2.h2_resyncs, 1);
}

#[test]
fn a_reset_stream_whose_other_side_never_ends_goes_out_at_a_tick_after_the_grace() {
    use crate::reassembly::StreamHandler;
    use crate::time::Timestamp;
    let conn = conn_info(false);
    let mut ctx = crate::http::HttpCtx::new(Default::default());
    let mut h = crate::h2::H2Conn::new(&mut ctx, false);
    let t =
        |ms: i64| Timestamp::from_secs_nanos(100, 0) + std::time::Duration::from_millis(ms as u64);
    let mut client = preface();
    client.extend(headers(1, &fields(&get("/cancel")), true));
    h.on_data(&mut ctx, &conn, ToServer, &client, t(0));
    h.on_data(
        &mut ctx,
        &conn,
        ToClient,
        &headers(1, &fields(&ok("200")), false),
        t(10),
    );
    h.on_data(
        &mut ctx,
        &conn,
        ToServer,
        &frame(frame::RST_STREAM, 0, 1, &[0, 0, 0, 8]),
        t(20),
    );
    h.on_tick(&mut ctx, &conn, t(500));
    assert!(ctx.out.is_empty(), "still within the grace");
    h.on_tick(&mut ctx, &conn, t(1020));
    assert_eq!(ctx.out.len(), 1);
    assert!(ctx.out[0].anomalies.contains(&Anomaly::StreamReset));
    assert!(ctx.out[0].anomalies.contains(&Anomaly::ResponseInterrupted));
    assert_eq!(h.open_streams(), 0);
}

/// Fuzz target `h2` (crash-07ca09fc...): at a pickup the first stream id was taken as
/// one inside the lost range (0, MAX), so `highest` stayed 0 and a lower id then closed
/// the range below its start (an overflow). Ids after a pickup, in any order, open.
#[test]
fn stream_ids_after_a_pickup_in_any_order() {
    let mut server = Vec::new();
    for id in [7, 3, 9, 1, 5] {
        server.extend(headers(id, &fields(&ok("200")), true));
    }
    // Two chained frames first, so the reader finds its boundary at once.
    let mut lead = frame(frame::PING, 0, 0, &[0; 8]);
    lead.extend(server);
    let (out, ctx) = replay_all(&[s(lead)], true);
    let ids: Vec<u32> = out
        .iter()
        .map(|t| t.h2.as_ref().unwrap().stream_id)
        .collect();
    assert_eq!(ids, [7, 3, 9, 1, 5]);
    assert_eq!(ctx.h2.h2_frames_closed_stream, 0);
}
