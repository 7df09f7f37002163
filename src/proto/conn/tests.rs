//! Unit tests of `ProtoConn`: detection and replay, skipping, fallbacks, a layer, a handoff.
use std::net::SocketAddr;

use super::*;
use crate::http::HttpLimits;
use crate::proto::detect::H2_PREFACE;
use Direction::{ToClient, ToServer};

fn conn(midstream: bool) -> ConnInfo {
    let client: SocketAddr = "10.0.0.1:40000".parse().unwrap();
    let server: SocketAddr = "10.0.0.2:80".parse().unwrap();
    ConnInfo {
        id: 1,
        client,
        server,
        syn_ts: (!midstream).then(|| Timestamp::from_secs_nanos(10, 0)),
        synack_ts: None,
        established_ts: None,
        midstream,
    }
}

fn ts(s: i64) -> Timestamp {
    Timestamp::from_secs_nanos(s, 0)
}

const REQ: &[u8] = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi";
const RESP: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";

/// Feeds the exchange, the request in pieces of `piece` bytes, and closes.
fn exchange(p: &mut ProtoConn, ctx: &mut ProtoCtx, c: &ConnInfo, piece: usize) {
    for chunk in REQ.chunks(piece) {
        p.on_data(ctx, c, ToServer, chunk, ts(11));
    }
    p.on_data(ctx, c, ToClient, RESP, ts(12));
    p.on_close(ctx, c, CloseReason::Fin, ts(13));
}

#[test]
fn http1_passes_through_whole_and_byte_by_byte() {
    let c = conn(false);
    let mut whole = ProtoCtx::new(HttpLimits::default());
    exchange(&mut ProtoConn::new(&c), &mut whole, &c, REQ.len());
    let mut bytes = ProtoCtx::new(HttpLimits::default());
    exchange(&mut ProtoConn::new(&c), &mut bytes, &c, 1);
    assert_eq!(whole.http.out.len(), 1);
    assert_eq!(whole.http.out[0].request.method, "POST");
    assert_eq!(
        whole.http.out, bytes.http.out,
        "held first bytes are replayed exactly"
    );
    assert_eq!(whole.http.counters, bytes.http.counters);
    assert_eq!(bytes.counters.http1_connections, 1);
    assert_eq!(bytes.counters.detection_fallbacks, 0);
}

#[test]
fn an_h2_prior_knowledge_connection_goes_to_the_h2_session() {
    let c = conn(false);
    let mut ctx = ProtoCtx::new(HttpLimits::default());
    let mut p = ProtoConn::new(&c);
    let mut client = H2_PREFACE.to_vec();
    client.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]); // empty SETTINGS
    for chunk in client.chunks(5) {
        p.on_data(&mut ctx, &c, ToServer, chunk, ts(11));
    }
    p.on_data(&mut ctx, &c, ToClient, &[0, 0, 0, 4, 1, 0, 0, 0, 0], ts(12));
    p.on_close(&mut ctx, &c, CloseReason::Fin, ts(13));
    assert!(ctx.http.out.is_empty(), "no PRI / SM garbage entries");
    assert_eq!(ctx.counters.h2_connections, 1);
    assert_eq!(ctx.counters.http1_connections, 0);
    assert_eq!(ctx.counters.skipped_protocol_bytes, 0);
    assert_eq!(ctx.http.counters, Default::default(), "HTTP/1 saw nothing");
    // Both SETTINGS frames were read by the HTTP/2 session, the preface skipped.
    assert_eq!(ctx.http.h2.h2_frames, 2);
    assert_eq!(ctx.http.h2.h2_preface_missing, 0);
    assert_eq!(p.protocol(), Some(Protocol::Http2));
}

#[test]
fn tls_and_binary_connections_are_counted_and_skipped() {
    let c = conn(false);
    let mut ctx = ProtoCtx::new(HttpLimits::default());
    let mut tls = ProtoConn::new(&c);
    tls.on_data(
        &mut ctx,
        &c,
        ToServer,
        &[22, 3, 1, 0, 5, 1, 0, 0, 1, 0],
        ts(11),
    );
    let mut bin = ProtoConn::new(&c);
    bin.on_data(&mut ctx, &c, ToClient, &[0, 1, 2, 3], ts(11));
    bin.on_data(&mut ctx, &c, ToServer, REQ, ts(11));
    assert_eq!(ctx.counters.tls_connections, 1);
    assert_eq!(ctx.counters.unknown_protocol_connections, 1);
    assert_eq!(
        ctx.counters.skipped_protocol_bytes,
        10 + 4 + REQ.len() as u64
    );
    assert!(ctx.http.out.is_empty());
}

#[test]
fn a_pickup_in_a_binary_body_stays_http1() {
    let c = conn(true);
    let mut ctx = ProtoCtx::new(HttpLimits::default());
    let mut p = ProtoConn::new(&c);
    p.on_data(&mut ctx, &c, ToClient, &[0x1f, 0x8b, 0, 0, 0], ts(11));
    p.on_data(&mut ctx, &c, ToServer, REQ, ts(12));
    p.on_data(&mut ctx, &c, ToClient, RESP, ts(12));
    p.on_close(&mut ctx, &c, CloseReason::Fin, ts(13));
    assert_eq!(ctx.counters.http1_connections, 1);
    assert_eq!(ctx.http.out.len(), 1, "HTTP/1 resyncs at the next message");
}

#[test]
fn undecided_first_bytes_fall_back_to_http1_at_a_gap_a_close_or_the_hold_limit() {
    let c = conn(false);
    // "P" then a gap: HTTP/1 gets the "P" and the gap, as before detection existed.
    let mut ctx = ProtoCtx::new(HttpLimits::default());
    let mut p = ProtoConn::new(&c);
    p.on_data(&mut ctx, &c, ToServer, b"P", ts(11));
    assert_eq!(p.protocol(), None);
    p.on_gap(&mut ctx, &c, ToServer, 10, ts(11));
    assert_eq!(p.protocol(), Some(Protocol::Http1));
    assert_eq!(ctx.counters.detection_fallbacks, 1);
    // "PRI" held while the server sends more than the hold limit of text.
    let mut ctx = ProtoCtx::new(HttpLimits::default());
    let mut p = ProtoConn::new(&c);
    p.on_data(&mut ctx, &c, ToServer, b"PRI", ts(11));
    p.on_data(&mut ctx, &c, ToClient, &[0x7f; 10], ts(11));
    assert_eq!(
        p.protocol(),
        Some(Protocol::Unknown),
        "the server's bytes decide too"
    );
    let mut ctx = ProtoCtx::new(HttpLimits::default());
    let mut p = ProtoConn::new(&c);
    p.on_data(&mut ctx, &c, ToServer, b"PRI", ts(11));
    assert!(
        p.mem_bytes() > std::mem::size_of::<ProtoConn>(),
        "held bytes are charged"
    );
    p.on_close(&mut ctx, &c, CloseReason::EndOfCapture, ts(12));
    assert_eq!(ctx.counters.detection_fallbacks, 1);
    assert_eq!(ctx.counters.http1_connections, 1);
}

/// A layer that undoes a XOR with a fixed byte: the simplest byte transform, standing in
/// for TLS to show that a layer slots under the session.
struct Xor(u8);

impl Layer for Xor {
    fn on_data(
        &mut self,
        _ctx: &mut ProtoCtx,
        _conn: &ConnInfo,
        dir: Direction,
        data: &[u8],
        ts: Timestamp,
        out: &mut Vec<Emitted>,
    ) {
        let plain = data.iter().map(|b| b ^ self.0).collect();
        out.push(Emitted {
            dir,
            event: LayerEvent::Data(plain),
            ts,
        });
    }
    fn on_gap(
        &mut self,
        _ctx: &mut ProtoCtx,
        _conn: &ConnInfo,
        dir: Direction,
        len: u64,
        ts: Timestamp,
        out: &mut Vec<Emitted>,
    ) {
        out.push(Emitted {
            dir,
            event: LayerEvent::Gap(len),
            ts,
        });
    }
    fn mem_bytes(&self) -> usize {
        std::mem::size_of_val(self)
    }
}

#[test]
fn a_layer_under_the_session_gives_the_plaintext_transactions() {
    let c = conn(false);
    let mut plain = ProtoCtx::new(HttpLimits::default());
    exchange(&mut ProtoConn::new(&c), &mut plain, &c, 7);
    let mut ctx = ProtoCtx::new(HttpLimits::default());
    let mut p = ProtoConn::with_layers(&c, vec![Box::new(Xor(0x5a))]);
    let enc = |b: &[u8]| b.iter().map(|x| x ^ 0x5a).collect::<Vec<u8>>();
    for chunk in enc(REQ).chunks(7) {
        p.on_data(&mut ctx, &c, ToServer, chunk, ts(11));
    }
    p.on_data(&mut ctx, &c, ToClient, &enc(RESP), ts(12));
    p.on_close(&mut ctx, &c, CloseReason::Fin, ts(13));
    assert_eq!(ctx.http.out, plain.http.out);
}

/// Two requests on one plaintext connection, the conflict reported (in TCP stream offsets)
/// while the first bytes are still held by detection: only the request the bytes fall in
/// is flagged. Under a layer (TLS's stand-in) the offsets cannot be placed: what the
/// connection emits from then on is flagged.
#[test]
fn overlap_conflicts_reach_the_message_or_flag_what_follows_under_a_layer() {
    let c = conn(false);
    let flagged = |ctx: &ProtoCtx| -> Vec<bool> {
        ctx.http
            .out
            .iter()
            .map(|t| t.anomalies.contains(&Anomaly::OverlapConflict))
            .collect()
    };
    let mut reqs = REQ.to_vec();
    reqs.extend_from_slice(REQ);
    let mut resps = RESP.to_vec();
    resps.extend_from_slice(RESP);
    // The second request's body (its last two bytes), delivered in 5-byte pieces.
    let at = reqs.len() as u64 - 2;
    let mut ctx = ProtoCtx::new(HttpLimits::default());
    let mut p = ProtoConn::new(&c);
    p.on_overlap_conflict(&mut ctx, &c, ToServer, at, 2);
    for chunk in reqs.chunks(5) {
        p.on_data(&mut ctx, &c, ToServer, chunk, ts(11));
    }
    p.on_data(&mut ctx, &c, ToClient, &resps, ts(12));
    p.on_close(&mut ctx, &c, CloseReason::Fin, ts(13));
    assert_eq!(flagged(&ctx), vec![false, true]);
    assert_eq!(ctx.http.counters.overlap_conflict_messages, 1);

    // Under a layer: the first exchange is done before the conflict is reported.
    let mut ctx = ProtoCtx::new(HttpLimits::default());
    let mut p = ProtoConn::with_layers(&c, vec![Box::new(Xor(0x5a))]);
    let enc = |b: &[u8]| b.iter().map(|x| x ^ 0x5a).collect::<Vec<u8>>();
    p.on_data(&mut ctx, &c, ToServer, &enc(REQ), ts(11));
    p.on_data(&mut ctx, &c, ToClient, &enc(RESP), ts(12));
    p.on_overlap_conflict(&mut ctx, &c, ToServer, REQ.len() as u64 + 1, 1);
    p.on_data(&mut ctx, &c, ToServer, &enc(REQ), ts(13));
    p.on_data(&mut ctx, &c, ToClient, &enc(RESP), ts(14));
    p.on_close(&mut ctx, &c, CloseReason::Fin, ts(15));
    assert_eq!(flagged(&ctx), vec![false, true]);
}

/// A conflict on bytes already delivered (offsets before the next byte) goes to the
/// session, which flags the request awaiting its response; under a layer, what the
/// connection emits from then on is flagged.
#[test]
fn delivered_conflicts_reach_the_session_or_flag_what_follows_under_a_layer() {
    let c = conn(false);
    let flagged = |ctx: &ProtoCtx| -> Vec<bool> {
        ctx.http
            .out
            .iter()
            .map(|t| t.anomalies.contains(&Anomaly::OverlapConflict))
            .collect()
    };
    let mut ctx = ProtoCtx::new(HttpLimits::default());
    let mut p = ProtoConn::new(&c);
    p.on_data(&mut ctx, &c, ToServer, REQ, ts(11));
    p.on_data(&mut ctx, &c, ToClient, RESP, ts(12));
    p.on_data(&mut ctx, &c, ToServer, REQ, ts(13));
    // Bytes 2..4 of the second request, already delivered.
    p.on_overlap_conflict(&mut ctx, &c, ToServer, REQ.len() as u64 + 2, 2);
    p.on_data(&mut ctx, &c, ToClient, RESP, ts(14));
    p.on_close(&mut ctx, &c, CloseReason::Fin, ts(15));
    assert_eq!(flagged(&ctx), vec![false, true]);
    assert_eq!(ctx.http.counters.overlap_conflict_messages, 1);

    let mut ctx = ProtoCtx::new(HttpLimits::default());
    let mut p = ProtoConn::with_layers(&c, vec![Box::new(Xor(0x5a))]);
    let enc = |b: &[u8]| b.iter().map(|x| x ^ 0x5a).collect::<Vec<u8>>();
    p.on_data(&mut ctx, &c, ToServer, &enc(REQ), ts(11));
    p.on_data(&mut ctx, &c, ToClient, &enc(RESP), ts(12));
    p.on_overlap_conflict(&mut ctx, &c, ToServer, 1, 1);
    p.on_data(&mut ctx, &c, ToServer, &enc(REQ), ts(13));
    p.on_data(&mut ctx, &c, ToClient, &enc(RESP), ts(14));
    p.on_close(&mut ctx, &c, CloseReason::Fin, ts(15));
    assert_eq!(flagged(&ctx), vec![false, true]);
}

/// A session that reads nothing and, at its first bytes, hands everything it was given
/// on: stands in for HTTP/1 at a 101 to h2c.
struct HandsOn(Option<Handoff>);

impl StreamHandler for HandsOn {
    type Ctx = crate::http::HttpCtx;
    fn on_data(
        &mut self,
        _: &mut Self::Ctx,
        _: &ConnInfo,
        dir: Direction,
        data: &[u8],
        _: Timestamp,
    ) {
        let mut h = Handoff::default();
        h.rest[dir] = data.to_vec();
        self.0 = Some(h);
    }
    fn on_gap(&mut self, _: &mut Self::Ctx, _: &ConnInfo, _: Direction, _: u64, _: Timestamp) {}
    fn on_fin(&mut self, _: &mut Self::Ctx, _: &ConnInfo, _: Direction, _: Timestamp) {}
    fn on_close(&mut self, _: &mut Self::Ctx, _: &ConnInfo, _: CloseReason, _: Timestamp) {}
    fn on_tick(&mut self, _: &mut Self::Ctx, _: &ConnInfo, _: Timestamp) {}
}

impl Session for HandsOn {
    fn take_handoff(&mut self) -> Option<Handoff> {
        self.0.take()
    }
}

#[test]
fn a_session_hands_the_connection_on_to_detection() {
    let c = conn(false);
    let mut ctx = ProtoCtx::new(HttpLimits::default());
    let mut p = ProtoConn::new(&c);
    p.top = Top::Session(Protocol::Http1, Box::new(HandsOn(None)));
    p.on_data(&mut ctx, &c, ToServer, H2_PREFACE, ts(11));
    assert_eq!(ctx.counters.protocol_handoffs, 1);
    assert_eq!(ctx.counters.h2_connections, 1);
    assert_eq!(p.protocol(), Some(Protocol::Http2));
}

mod h2c {
    use super::*;
    use crate::h2::testing::{data, fields, get, headers, preface, settings};
    use crate::model::HttpVersion;

    const UPGRADE: &[u8] = b"GET /robots.txt HTTP/1.1\r\nHost: up.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n";
    const SWITCH: &[u8] =
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";

    /// The whole exchange: the upgrade on stream 1, then stream 3 in HTTP/2.
    fn exchange(p: &mut ProtoConn, ctx: &mut ProtoCtx, c: &ConnInfo, piece: usize) {
        let mut client = UPGRADE.to_vec();
        client.extend(preface());
        client.extend(headers(3, &fields(&get("/humans.txt")), true));
        let mut server = SWITCH.to_vec();
        server.extend(settings(&[]));
        server.extend(headers(1, &[(":status", "200")], false));
        server.extend(data(1, b"User-agent: *", true));
        server.extend(headers(3, &[(":status", "404")], true));
        // The client sends its preface only after the 101: the upgrade request first.
        let (req, rest) = client.split_at(UPGRADE.len());
        for chunk in req.chunks(piece) {
            p.on_data(ctx, c, ToServer, chunk, ts(11));
        }
        let (switch, h2) = server.split_at(SWITCH.len() + 9);
        for chunk in switch.chunks(piece) {
            p.on_data(ctx, c, ToClient, chunk, ts(12));
        }
        for chunk in rest.chunks(piece) {
            p.on_data(ctx, c, ToServer, chunk, ts(13));
        }
        for chunk in h2.chunks(piece) {
            p.on_data(ctx, c, ToClient, chunk, ts(14));
        }
        p.on_close(ctx, c, CloseReason::Fin, ts(15));
    }

    #[test]
    fn an_h2c_upgrade_is_one_entry_with_the_101_as_interim_then_h2_streams() {
        let c = conn(false);
        let mut runs = Vec::new();
        for piece in [usize::MAX, 1, 7] {
            let mut ctx = ProtoCtx::new(HttpLimits::default());
            let mut p = ProtoConn::new(&c);
            exchange(&mut p, &mut ctx, &c, piece.min(10_000));
            assert_eq!(p.protocol(), Some(Protocol::Http2));
            runs.push((std::mem::take(&mut ctx.http.out), ctx));
        }
        let (out, ctx) = &runs[0];
        for (other, _) in &runs[1..] {
            assert_eq!(other, out);
        }
        assert_eq!(out.len(), 2, "{out:#?}");
        let up = &out[0];
        assert_eq!(up.request.target, "/robots.txt");
        assert_eq!(up.request.version, HttpVersion::Http11);
        let r = up.response.as_ref().unwrap();
        assert_eq!((r.status, r.version), (200, HttpVersion::Http2));
        assert_eq!(r.body.data, b"User-agent: *");
        let interim: Vec<u16> = r.interim.iter().map(|i| i.status).collect();
        assert_eq!(interim, [101]);
        let h2 = up.h2.as_ref().unwrap();
        assert!(h2.upgraded);
        assert_eq!((h2.stream_id, up.depth), (1, 1));
        assert!(up.anomalies.is_empty(), "{:?}", up.anomalies);
        let second = &out[1];
        assert_eq!(second.request.target, "/humans.txt");
        assert_eq!(second.response.as_ref().unwrap().status, 404);
        assert_eq!(
            (second.h2.as_ref().unwrap().stream_id, second.depth),
            (3, 2)
        );
        assert_eq!(ctx.http.h2.h2_upgrades, 1);
        assert_eq!(ctx.http.h2.h2_preface_missing, 0);
        assert_eq!(ctx.counters.protocol_handoffs, 1);
        assert_eq!(ctx.http.counters.tunnels, 0);
        assert_eq!(ctx.http.counters.responses, 2);
        assert_eq!(ctx.http.counters.interim_responses, 1);
    }

    /// `HTTP2-Settings` of the upgrade request are the client's first SETTINGS (RFC 7540
    /// §3.2.1): here SETTINGS_MAX_FRAME_SIZE = 65,536, so after a gap that loses the
    /// server direction's framing, its 40,000-byte DATA frames are plausible and the
    /// boundary is found again at the next one; at the default 16,384 it would only be
    /// found at stream 3's HEADERS, and stream 1 would lose its end.
    #[test]
    fn http2_settings_of_the_upgrade_are_applied() {
        let c = conn(false);
        let mut ctx = ProtoCtx::new(HttpLimits::default());
        let mut p = ProtoConn::new(&c);
        let up = b"GET /big HTTP/1.1\r\nHost: up.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAUAAQAA\r\n\r\n";
        p.on_data(&mut ctx, &c, ToServer, up, ts(11));
        let mut server = SWITCH.to_vec();
        server.extend(settings(&[]));
        server.extend(headers(1, &[(":status", "200")], false));
        let a = data(1, &[0xaa; 40_000], false);
        let b = data(1, &[0xbb; 40_000], false);
        let last = data(1, &[0xcc; 40_000], true);
        // The capture has A's first 1,000 payload bytes, then loses the rest of A, B's
        // header and 100 bytes of B's payload.
        let cut = server.len() + 9 + 1_000;
        server.extend(&a);
        let lost = (server.len() - cut) + 9 + 100;
        let mut after = b[9 + 100..].to_vec();
        after.extend(&last);
        after.extend(headers(3, &[(":status", "404")], true));
        p.on_data(&mut ctx, &c, ToClient, &server[..cut], ts(12));
        let mut client = preface();
        client.extend(headers(3, &fields(&get("/small")), true));
        p.on_data(&mut ctx, &c, ToServer, &client, ts(13));
        p.on_gap(&mut ctx, &c, ToClient, lost as u64, ts(14));
        p.on_data(&mut ctx, &c, ToClient, &after, ts(15));
        p.on_close(&mut ctx, &c, CloseReason::Fin, ts(16));
        let out = &ctx.http.out;
        let big = out
            .iter()
            .find(|t| t.request.target == "/big")
            .expect("the upgraded request");
        let r = big.response.as_ref().unwrap();
        let tail = r.body.data.iter().filter(|&&b| b == 0xcc).count();
        assert_eq!(tail, 40_000, "the last DATA frame was read");
        assert!(r.complete, "its END_STREAM was read");
        assert!(r.body.data.starts_with(&[0xaa; 1_000]));
        assert!(out.iter().any(|t| t.request.target == "/small"));
        assert_eq!(ctx.http.h2.h2_resyncs, 1);
    }

    /// An h2c connection picked up mid-connection (no preface; the server's segment
    /// first, at a frame boundary): HTTP/2 by its frames, the session started lost; the
    /// stream whose request went before is exported flagged `request-lost`, the next one
    /// whole; header blocks after the pickup are flagged `hpack-desync`.
    #[test]
    fn an_h2c_pickup_is_found_by_its_frames() {
        use crate::model::{Anomaly, Unanswered};
        let c = conn(true);
        let mut ctx = ProtoCtx::new(HttpLimits::default());
        let mut p = ProtoConn::new(&c);
        let mut server = headers(5, &[(":status", "200")], false);
        server.extend(data(5, b"tail", true));
        p.on_data(&mut ctx, &c, ToClient, &server, ts(11));
        assert_eq!(p.protocol(), Some(Protocol::Http2));
        p.on_data(
            &mut ctx,
            &c,
            ToServer,
            &headers(7, &fields(&get("/next")), true),
            ts(12),
        );
        let mut answer = headers(7, &[(":status", "404")], false);
        answer.extend(data(7, b"nope", true));
        p.on_data(&mut ctx, &c, ToClient, &answer, ts(13));
        p.on_close(&mut ctx, &c, CloseReason::Fin, ts(14));
        let out = &ctx.http.out;
        assert_eq!(out.len(), 2, "{out:#?}");
        assert!(out[0].anomalies.contains(&Anomaly::RequestLost));
        assert_eq!(out[0].response.as_ref().unwrap().body.data, b"tail");
        assert_eq!(out[1].request.target, "/next", "{:#?}", out[1]);
        assert_eq!(out[1].response.as_ref().unwrap().status, 404);
        assert_eq!(out[1].response.as_ref().unwrap().body.data, b"nope");
        assert!(out
            .iter()
            .all(|t| t.anomalies.contains(&Anomaly::HpackDesync)));
        assert!(!out[1]
            .anomalies
            .contains(&Anomaly::Unanswered(Unanswered::ConnectionClosed)));
        assert_eq!(ctx.counters.h2_connections, 1);
        assert_eq!(ctx.counters.http1_connections, 0);
        assert_eq!(ctx.http.h2.h2_preface_missing, 0);
    }

    #[test]
    fn a_declined_h2c_upgrade_stays_http1() {
        let c = conn(false);
        let mut ctx = ProtoCtx::new(HttpLimits::default());
        let mut p = ProtoConn::new(&c);
        p.on_data(&mut ctx, &c, ToServer, UPGRADE, ts(11));
        p.on_data(&mut ctx, &c, ToClient, RESP, ts(12));
        p.on_data(&mut ctx, &c, ToServer, REQ, ts(13));
        p.on_data(&mut ctx, &c, ToClient, RESP, ts(14));
        p.on_close(&mut ctx, &c, CloseReason::Fin, ts(15));
        assert_eq!(p.protocol(), Some(Protocol::Http1));
        let targets: Vec<&str> = ctx
            .http
            .out
            .iter()
            .map(|t| t.request.target.as_str())
            .collect();
        assert_eq!(targets, ["/robots.txt", "/a"]);
        assert!(ctx.http.out.iter().all(|t| t.h2.is_none()));
        assert_eq!(ctx.http.h2.h2_upgrades, 0);
    }
}
