//! `H2Conn` stream life cycles not covered in `tests.rs`: the early ends each side can
//! cause (a server's RST_STREAM, a client's GOAWAY on pushed streams), frames up to the
//! announced SETTINGS_MAX_FRAME_SIZE, and per-stream packet times. Replayed whole, byte
//! by byte and at seeded random split points, which must agree.

use crate::h2::frame::{self, FLAG_END_HEADERS, FLAG_END_STREAM};
use crate::h2::testing::*;
use crate::model::{Anomaly, Direction::ToClient, Direction::ToServer, Transaction, Unanswered};
use crate::time::Timestamp;

fn c(bytes: Vec<u8>) -> Step {
    Step::Data(ToServer, bytes)
}
fn s(bytes: Vec<u8>) -> Step {
    Step::Data(ToClient, bytes)
}

fn replay_all(steps: &[Step]) -> (Vec<Transaction>, crate::http::HttpCtx) {
    let (whole, ctx) = replay(steps, Split::Whole, false);
    for split in [Split::Bytes, Split::Random(4), Split::Random(77)] {
        let (out, other) = replay(steps, split, false);
        assert_eq!(out, whole, "{split:?} differs from whole");
        assert_eq!(other.h2, ctx.h2, "{split:?}: counters differ");
    }
    (whole, ctx)
}

fn by_id(out: &[Transaction], id: u32) -> &Transaction {
    out.iter()
        .find(|t| t.h2.as_ref().is_some_and(|h| h.stream_id == id))
        .unwrap_or_else(|| panic!("no stream {id}"))
}

/// The server resets a stream in the middle of its response (INTERNAL_ERROR), and
/// refuses another before answering (REFUSED_STREAM): both are exported at once,
/// flagged, with their error codes; the third stream is untouched.
#[test]
fn a_server_rst_stream_ends_its_stream_early_exported_and_flagged() {
    let mut client = preface();
    for id in [1, 3, 5] {
        client.extend(headers(id, &fields(&get(&format!("/r{id}"))), true));
    }
    let mut server = headers(1, &[(":status", "200")], false);
    server.extend(data(1, b"half", false));
    server.extend(frame(frame::RST_STREAM, 0, 1, &[0, 0, 0, 2]));
    server.extend(frame(frame::RST_STREAM, 0, 3, &[0, 0, 0, 7]));
    server.extend(headers(5, &[(":status", "200")], true));
    let (out, ctx) = replay_all(&[c(client), s(server)]);
    assert_eq!(out.len(), 3);
    let order: Vec<u32> = out
        .iter()
        .map(|t| t.h2.as_ref().unwrap().stream_id)
        .collect();
    assert_eq!(
        order,
        [1, 3, 5],
        "each exported when it ended, not at the close"
    );
    let cut = by_id(&out, 1);
    assert_eq!(cut.h2.as_ref().unwrap().error_code, Some(2));
    assert!(cut.anomalies.contains(&Anomaly::StreamReset));
    assert!(cut.anomalies.contains(&Anomaly::ResponseInterrupted));
    assert_eq!(cut.response.as_ref().unwrap().body.data, b"half");
    let refused = by_id(&out, 3);
    assert_eq!(refused.h2.as_ref().unwrap().error_code, Some(7));
    assert!(refused.response.is_none());
    assert!(refused
        .anomalies
        .contains(&Anomaly::Unanswered(Unanswered::StreamReset)));
    assert!(by_id(&out, 5).anomalies.is_empty());
    assert_eq!(ctx.h2.h2_resets, 2);
}

/// The client's GOAWAY names the last pushed (even) stream it will process: a pushed
/// stream above it ends there (exported, flagged, `_h2ErrorCode`); one at or below it
/// completes; client streams are not touched by it.
#[test]
fn a_client_goaway_ends_the_pushed_streams_above_its_last_id() {
    let mut client = preface();
    client.extend(headers(1, &fields(&get("/page")), true));
    let mut server = Vec::new();
    for (id, path) in [(2u32, "/a.css"), (4, "/b.js")] {
        let mut p = id.to_be_bytes().to_vec();
        p.extend(block(&fields(&get(path))));
        server.extend(frame(frame::PUSH_PROMISE, FLAG_END_HEADERS, 1, &p));
    }
    server.extend(headers(2, &[(":status", "200")], false));
    let goaway = frame(frame::GOAWAY, 0, 0, &[0, 0, 0, 2, 0, 0, 0, 0]);
    let mut rest = data(2, b"css", true);
    rest.extend(headers(1, &[(":status", "200")], true));
    let (out, ctx) = replay_all(&[c(client), s(server), c(goaway), s(rest)]);
    assert_eq!(out.len(), 3);
    let refused = by_id(&out, 4);
    assert!(refused.h2.as_ref().unwrap().pushed);
    assert_eq!(refused.request.target, "/b.js");
    assert_eq!(refused.h2.as_ref().unwrap().error_code, Some(0));
    assert!(refused
        .anomalies
        .contains(&Anomaly::Unanswered(Unanswered::StreamReset)));
    let kept = by_id(&out, 2);
    assert_eq!(kept.response.as_ref().unwrap().body.data, b"css");
    assert!(kept.anomalies.is_empty(), "{:?}", kept.anomalies);
    assert!(by_id(&out, 1).anomalies.is_empty());
    assert_eq!(ctx.h2.h2_goaways, 1);
}

/// Each side announces a larger SETTINGS_MAX_FRAME_SIZE; the other then sends frames up
/// to it: a 40,000-byte HEADERS (a header block in one frame), a 30,000-byte request
/// HEADERS and a 200,000-byte DATA frame are all read whole.
#[test]
fn frames_up_to_the_announced_max_frame_size_are_read() {
    let big = 1 << 20;
    let mut client = preface();
    client.extend(settings(&[(frame::SETTINGS_MAX_FRAME_SIZE, big)]));
    let mut req = get("/large");
    req.push(("cookie", "c".repeat(30_000)));
    let block_len = block(&fields(&req)).len();
    assert!(block_len > frame::DEFAULT_MAX_FRAME as usize);
    let mut server = settings(&[(frame::SETTINGS_MAX_FRAME_SIZE, big)]);
    let mut c2 = headers(1, &fields(&req), true);
    let resp = [
        (":status", "200".to_string()),
        ("x-big", "b".repeat(40_000)),
    ];
    server.extend(frame(
        frame::HEADERS,
        FLAG_END_HEADERS,
        1,
        &block(&fields(&resp)),
    ));
    let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    server.extend(frame(frame::DATA, FLAG_END_STREAM, 1, &body));
    let mut steps = vec![c(client)];
    steps.push(s(server.drain(..15).collect()));
    steps.push(c(std::mem::take(&mut c2)));
    steps.push(s(server));
    let (out, ctx) = replay_all(&steps);
    assert_eq!(out.len(), 1);
    let t = &out[0];
    let cookie = t.request.headers.iter().find(|h| h.name == "cookie");
    assert_eq!(cookie.map(|h| h.value.len()), Some(30_000));
    let r = t.response.as_ref().unwrap();
    assert_eq!(r.headers[0].value.len(), 40_000);
    assert_eq!(r.body.data, body);
    assert!(t.anomalies.is_empty(), "{:?}", t.anomalies);
    assert_eq!(ctx.h2.h2_frames_oversized, 0);
    assert_eq!(ctx.h2.h2_frames_invalid, 0);
}

/// Interleaved streams each get their own packet times: the request's first and last
/// (send), its response's first (wait) and last (receive), whatever the other streams
/// did meanwhile. `replay` gives step i the time 100 + i seconds.
#[test]
fn timings_are_per_stream_from_packet_times() {
    let t = |i: i64| Timestamp::from_secs_nanos(100 + i, 0);
    let mut a = preface();
    a.extend(headers(1, &fields(&get("/slow")), false));
    let a_end = data(1, b"up", true);
    let b = headers(3, &fields(&get("/fast")), true);
    let b_resp = headers(3, &[(":status", "204")], true);
    let a_resp = headers(1, &[(":status", "200")], false);
    let a_body = data(1, b"down", true);
    let steps = [
        c(a),      // 0: /slow's head
        c(b),      // 1: /fast, whole
        c(a_end),  // 2: /slow's body ends
        s(b_resp), // 3: /fast answered
        s(a_resp), // 4: /slow's response head
        s(a_body), // 5: /slow's response ends
    ];
    let (out, _) = replay_all(&steps);
    let slow = by_id(&out, 1);
    let fast = by_id(&out, 3);
    assert_eq!((slow.request.first_ts, slow.request.last_ts), (t(0), t(2)));
    let r = slow.response.as_ref().unwrap();
    assert_eq!((r.first_ts, r.last_ts), (t(4), t(5)));
    assert_eq!((fast.request.first_ts, fast.request.last_ts), (t(1), t(1)));
    let r = fast.response.as_ref().unwrap();
    assert_eq!((r.first_ts, r.last_ts), (t(3), t(3)));
    // The HAR view: send, wait and receive from those times, connect for the first
    // stream of the connection only.
    let slow_view = crate::har::view::EntryView::new(slow);
    assert_eq!(slow_view.timings.send, std::time::Duration::from_secs(2));
    assert_eq!(slow_view.timings.wait, std::time::Duration::from_secs(2));
    assert_eq!(slow_view.timings.receive, std::time::Duration::from_secs(1));
    let fast_view = crate::har::view::EntryView::new(fast);
    assert_eq!(fast_view.timings.wait, std::time::Duration::from_secs(2));
    assert_eq!(fast_view.timings.connect, None);
    assert_eq!((slow.depth, fast.depth), (1, 2));
}

/// At a pickup (frame boundaries unknown), a lone request HEADERS in its segment is read
/// when the server answers (`FrameReader::settle`), not held until the client's next
/// frame: the stream has its request, whole, at every split. Without that, its response
/// would be exported first under a `request-lost` placeholder.
#[test]
fn at_a_pickup_a_lone_request_is_read_when_the_server_answers() {
    // The answer is two frames: the server's direction finds its boundary at once.
    let mut answer = headers(7, &[(":status", "200")], false);
    answer.extend(data(7, b"ok", true));
    let steps = [
        c(headers(7, &fields(&get("/lone")), true)),
        s(answer),
        c(headers(9, &fields(&get("/next")), true)),
        s(headers(9, &[(":status", "204")], true)),
    ];
    let (whole, ctx) = replay(&steps, Split::Whole, true);
    for split in [Split::Bytes, Split::Random(8), Split::Random(21)] {
        let (out, other) = replay(&steps, split, true);
        assert_eq!(out, whole, "{split:?} differs from whole");
        assert_eq!(other.h2, ctx.h2, "{split:?}: counters differ");
    }
    let got: Vec<(&str, u16)> = whole
        .iter()
        .map(|t| {
            (
                t.request.target.as_str(),
                t.response.as_ref().unwrap().status,
            )
        })
        .collect();
    assert_eq!(got, [("/lone", 200), ("/next", 204)]);
    assert!(whole
        .iter()
        .all(|t| !t.anomalies.contains(&Anomaly::RequestLost)));
    assert_eq!(ctx.h2.h2_frames_closed_stream, 0);
}
