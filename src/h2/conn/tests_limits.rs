//! `H2Conn` at each of its limits (docs/limits.md, HTTP/2 and HPACK): streams per
//! connection, header block and frame buffers, the header list, the HPACK table cap and
//! the kept DATA. Each must be counted when hit, flag what it touched, and leave the
//! session decoding correctly afterwards.

use crate::h2::frame::{self, FLAG_END_HEADERS, FLAG_END_STREAM, MAX_FRAME_BUFFER};
use crate::h2::testing::*;
use crate::h2::{MAX_HEADER_BLOCK, MAX_STREAMS};
use crate::http::HttpLimits;
use crate::model::{Anomaly, Direction::ToClient, Direction::ToServer, Transaction};

fn c(bytes: Vec<u8>) -> Step {
    Step::Data(ToServer, bytes)
}
fn s(bytes: Vec<u8>) -> Step {
    Step::Data(ToClient, bytes)
}

fn find<'a>(out: &'a [Transaction], target: &str) -> &'a Transaction {
    out.iter()
        .find(|t| t.request.target == target)
        .unwrap_or_else(|| panic!("no {target}"))
}

fn header<'a>(t: &'a Transaction, name: &str) -> Option<&'a str> {
    t.request
        .headers
        .iter()
        .find(|h| h.name == name)
        .map(|h| h.value.as_str())
}

/// `MAX_STREAMS` open streams: one more is not tracked (counted), but its header block
/// is still decoded, so an entry it added to the client's HPACK table resolves in a later
/// stream's block. A stream that ends frees room for the next.
#[test]
fn streams_beyond_the_limit_are_counted_and_hpack_stays_in_step() {
    let mut client = preface();
    for i in 0..MAX_STREAMS as u32 {
        client.extend(headers(2 * i + 1, &fields(&get(&format!("/s{i}"))), true));
    }
    let over = 2 * MAX_STREAMS as u32 + 1;
    let mut b = block(&fields(&get("/over")));
    indexed_literal(&mut b, "x-kept", "yes");
    client.extend(frame(
        frame::HEADERS,
        FLAG_END_HEADERS | FLAG_END_STREAM,
        over,
        &b,
    ));
    let server = headers(1, &[(":status", "204")], true);
    let mut later = Vec::new();
    let mut b = block(&fields(&get("/after")));
    indexed(&mut b, 62);
    later.extend(frame(
        frame::HEADERS,
        FLAG_END_HEADERS | FLAG_END_STREAM,
        over + 2,
        &b,
    ));
    let (out, ctx) = replay(&[c(client), s(server), c(later)], Split::Whole, false);
    assert_eq!(ctx.h2.h2_stream_limit_hits, 1);
    assert!(out.iter().all(|t| t.request.target != "/over"));
    assert_eq!(out.len(), MAX_STREAMS + 1, "every tracked stream exported");
    let after = find(&out, "/after");
    assert_eq!(header(after, "x-kept"), Some("yes"));
    assert!(!after.anomalies.contains(&Anomaly::HpackDesync));
    assert_eq!(find(&out, "/s0").response.as_ref().unwrap().status, 204);
}

/// A header block over `MAX_HEADER_BLOCK` (HEADERS + CONTINUATION) is dropped: its
/// stream is flagged `head-too-large`, the direction's HPACK state is lost (later blocks
/// flagged `hpack-desync`). A non-DATA frame over `MAX_FRAME_BUFFER` is skipped unread
/// (`h2_frames_oversized`), its stream flagged. The streams after both still come out.
#[test]
fn header_blocks_and_frames_over_their_limits_are_dropped_counted_and_flagged() {
    let mut client = preface();
    let half = vec![0x10u8; MAX_HEADER_BLOCK / 2 + 1];
    client.extend(frame(frame::HEADERS, FLAG_END_STREAM, 1, &half));
    client.extend(frame(frame::CONTINUATION, 0, 1, &half));
    client.extend(frame(frame::CONTINUATION, FLAG_END_HEADERS, 1, b"x"));
    client.extend(frame(
        frame::HEADERS,
        FLAG_END_HEADERS | FLAG_END_STREAM,
        3,
        &vec![0x10u8; MAX_FRAME_BUFFER + 1],
    ));
    client.extend(headers(5, &fields(&get("/fine")), true));
    let mut server = headers(1, &[(":status", "431")], true);
    server.extend(headers(3, &[(":status", "431")], true));
    server.extend(headers(5, &[(":status", "200")], true));
    let (out, ctx) = replay(&[c(client), s(server)], Split::Random(5), false);
    assert_eq!(ctx.h2.h2_header_block_limit_hits, 1);
    assert_eq!(ctx.h2.h2_frames_oversized, 1);
    let by_id = |id: u32| {
        out.iter()
            .find(|t| t.h2.as_ref().is_some_and(|h| h.stream_id == id))
            .unwrap_or_else(|| panic!("no stream {id}"))
    };
    assert!(by_id(1).anomalies.contains(&Anomaly::HeadTooLarge));
    assert_eq!(by_id(1).response.as_ref().unwrap().status, 431);
    // Stream 3's request head was in the skipped frame: only its response is there.
    assert!(by_id(3).anomalies.contains(&Anomaly::RequestLost));
    let fine = find(&out, "/fine");
    assert_eq!(fine.response.as_ref().unwrap().status, 200);
    assert!(fine.anomalies.contains(&Anomaly::HpackDesync));
}

/// The header list limits (`max_headers`, `max_head_bytes`) cut a decoded list:
/// counted, flagged `head-too-large`, the fields within the limit kept.
#[test]
fn header_lists_over_the_limit_are_cut_counted_and_flagged() {
    let limits = HttpLimits {
        max_head_bytes: 200,
        ..Default::default()
    };
    let mut req = get("/long");
    req.push(("cookie", "c".repeat(300)));
    req.push(("x-after", "1".into()));
    let mut client = preface();
    client.extend(headers(1, &fields(&req), true));
    client.extend(headers(3, &fields(&get("/short")), true));
    let (out, ctx) = replay_with(&[c(client)], Split::Bytes, false, limits);
    assert_eq!(ctx.h2.h2_header_list_limit_hits, 1);
    let long = find(&out, "/long");
    assert!(long.anomalies.contains(&Anomaly::HeadTooLarge));
    assert!(header(long, "cookie").is_none());
    assert!(!find(&out, "/short")
        .anomalies
        .contains(&Anomaly::HeadTooLarge));
}

/// A dynamic table size update above `HPACK_TABLE_CAP` is clamped and counted; the
/// fields are right, and an entry the cap pushed out is a placeholder, flagged, never
/// another entry's field.
#[test]
fn an_hpack_table_over_the_cap_is_clamped_counted_and_never_wrong() {
    let cap = crate::h2::HPACK_TABLE_CAP;
    // The client allows a 1 MiB table; the server's encoder uses it.
    let mut client = preface();
    client.extend(settings(&[(frame::SETTINGS_HEADER_TABLE_SIZE, 1 << 20)]));
    for id in [1, 3] {
        client.extend(headers(id, &fields(&get(&format!("/t{id}"))), true));
    }
    let mut b = Vec::new();
    int(&mut b, 0x20, 5, 1 << 20);
    indexed_literal(&mut b, ":status", "200");
    let value = "v".repeat(1000);
    let n = cap / 1000 + 8;
    for i in 0..n {
        indexed_literal(&mut b, &format!("x-{i:03}"), &value);
    }
    let mut server = frame(frame::HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, 1, &b);
    // Stream 3: the newest entry (62) and the oldest header (beyond the cap).
    let mut b3 = Vec::new();
    indexed(&mut b3, 8); // :status 200
    indexed(&mut b3, 62);
    indexed(&mut b3, 61 + n as u64);
    server.extend(frame(
        frame::HEADERS,
        FLAG_END_HEADERS | FLAG_END_STREAM,
        3,
        &b3,
    ));
    // A header list larger than the cap must be kept whole for this test.
    let limits = HttpLimits {
        max_head_bytes: 4 * cap,
        ..Default::default()
    };
    let (out, ctx) = replay_with(&[c(client), s(server)], Split::Random(3), false, limits);
    assert_eq!(ctx.h2.h2_hpack_table_cap_hits, 1);
    assert_eq!(ctx.h2.h2_header_list_limit_hits, 0);
    let first = find(&out, "/t1").response.as_ref().unwrap();
    assert_eq!(first.headers.len(), n, "every field of the capped block");
    let t3 = find(&out, "/t3");
    let r3 = t3.response.as_ref().unwrap();
    assert_eq!(r3.headers[0].name, format!("x-{:03}", n - 1));
    assert!(r3.headers[1]
        .name
        .starts_with(crate::h2::hpack::UNKNOWN_INDEX_PREFIX));
    assert!(t3.anomalies.contains(&Anomaly::HpackDesync));
}

/// DATA beyond `max_body_keep` is counted but not kept (`bodies_truncated`,
/// `body-truncated`); the body's length is still the whole.
#[test]
fn data_beyond_the_keep_limit_is_counted_not_kept() {
    let limits = HttpLimits {
        max_body_keep: 10,
        ..Default::default()
    };
    let mut client = preface();
    client.extend(headers(1, &fields(&get("/big")), true));
    let mut server = headers(1, &[(":status", "200")], false);
    server.extend(data(1, &[b'x'; 60], false));
    server.extend(data(1, &[b'y'; 40], true));
    let (out, ctx) = replay_with(&[c(client), s(server)], Split::Bytes, false, limits);
    let r = out[0].response.as_ref().unwrap();
    assert_eq!(r.body.data, b"xxxxxxxxxx");
    assert_eq!(r.body.len, 100);
    assert!(r.body.truncated);
    assert!(out[0].anomalies.contains(&Anomaly::BodyTruncated));
    assert_eq!(ctx.counters.bodies_truncated, 1);
}
