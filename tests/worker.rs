//! The `Worker` (the core's one entry point) on generated TCP connections: HTTP/1 and
//! HTTP/2 prior knowledge come out as transactions (issue 8: an h2 prior-knowledge
//! connection used to give two garbage entries, `PRI` and `SM`; issue 11: one entry per
//! stream); connections detected as something else (TLS, binary) come out as counters
//! and no entry.

use std::net::SocketAddr;
use std::time::Duration;

use httshark::config::Config;
use httshark::model::Transaction;
use httshark::time::Timestamp;
use httshark::wire::LinkType;
use httshark::worker::{Worker, WorkerConfig, WorkerCounters};
use httshark_gen::tcp::{Packet, TcpConn, TcpParams};
use httshark_gen::Direction as GenDirection;

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// One connection on port `port` carrying `exchanges` (client bytes, server bytes).
fn connection(id: u32, port: u16, exchanges: &[(&[u8], &[u8])], mss: usize) -> Vec<Packet> {
    let client: SocketAddr = format!("10.0.0.{}:4{id:04}", id + 1).parse().unwrap();
    let server: SocketAddr = format!("10.0.1.1:{port}").parse().unwrap();
    let params = TcpParams {
        mss,
        ..TcpParams::default()
    };
    let start = httshark_gen::Timestamp::from_secs_nanos(1_700_000_000 + i64::from(id), 0);
    let mut c = TcpConn::new(id, client, server, params, start).unwrap();
    c.handshake();
    for (req, resp) in exchanges {
        c.send(GenDirection::ToServer, req);
        c.wait(Duration::from_millis(5));
        if !resp.is_empty() {
            c.send(GenDirection::ToClient, resp);
        }
        c.wait(Duration::from_millis(5));
    }
    c.close(GenDirection::ToClient);
    c.finish()
}

/// Runs `packets` (sorted by time) through a worker with the binary's defaults.
fn run(mut packets: Vec<Packet>) -> (Vec<Transaction>, WorkerCounters) {
    packets.sort_by_key(|p| p.ts);
    let ts = |p: &Packet| Timestamp(p.ts.as_nanos());
    let mut w = Worker::new(WorkerConfig::from_config(
        &Config::default(),
        LinkType::Ethernet,
    ));
    let mut txs = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        w.on_frame(&p.data, i as u64, ts(p));
        w.on_tick(ts(p));
        txs.extend(w.take_transactions());
    }
    let end = packets.last().map(ts).unwrap_or_default();
    w.finish(end + Duration::from_secs(1));
    txs.extend(w.take_transactions());
    assert_eq!(w.open_connections(), 0);
    assert_eq!(w.memory_used(), 0, "every charge returned at the end");
    (txs, w.counters())
}

const GET: &[u8] = b"GET /x HTTP/1.1\r\nHost: a.test\r\n\r\n";
const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/// An HTTP/2 frame.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    v.extend_from_slice(&[kind, flags]);
    v.extend_from_slice(&stream.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// A HEADERS frame (END_HEADERS) of literal never-indexed fields (RFC 7541 §6.2.3).
fn headers(stream: u32, fields: &[(&str, &str)], end_stream: bool) -> Vec<u8> {
    let mut block = Vec::new();
    for (n, v) in fields {
        block.push(0x10);
        block.push(n.len() as u8);
        block.extend_from_slice(n.as_bytes());
        block.push(v.len() as u8);
        block.extend_from_slice(v.as_bytes());
    }
    frame(1, 0x4 | u8::from(end_stream), stream, &block)
}

#[test]
fn h2_prior_knowledge_gives_one_entry_per_stream() {
    let mut h2_client = H2_PREFACE.to_vec();
    h2_client.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    for (id, path) in [(1, "/one"), (3, "/two")] {
        let f = [
            (":method", "GET"),
            (":scheme", "http"),
            (":authority", "h2.test"),
            (":path", path),
        ];
        h2_client.extend(headers(id, &f, true));
    }
    let mut h2_server = vec![0u8, 0, 0, 4, 0, 0, 0, 0, 0];
    h2_server.extend(headers(3, &[(":status", "404")], true));
    h2_server.extend(headers(1, &[(":status", "200")], false));
    h2_server.extend(frame(0, 1, 1, b"hello"));
    for mss in [1448, 5, 1] {
        let mut packets = connection(0, 8080, &[(&h2_client, &h2_server)], mss);
        packets.extend(connection(1, 80, &[(GET, OK)], mss));
        let (txs, counters) = run(packets);
        let got: Vec<(String, u16, u32)> = txs
            .iter()
            .map(|t| {
                (
                    t.request.target.clone(),
                    t.response.as_ref().map_or(0, |r| r.status),
                    t.h2.as_ref().map_or(0, |h| h.stream_id),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("/two".to_string(), 404, 3),
                ("/one".to_string(), 200, 1),
                ("/x".to_string(), 200, 0)
            ],
            "mss {mss}"
        );
        assert_eq!(txs[1].response.as_ref().unwrap().body.data, b"hello");
        assert_eq!(txs[0].host(), "h2.test");
        assert_eq!(counters.proto.h2_connections, 1);
        assert_eq!(counters.proto.http1_connections, 1);
        assert_eq!(counters.proto.skipped_protocol_bytes, 0);
        assert_eq!(counters.h2.h2_streams, 2);
        assert_eq!(counters.h2.h2_sessions, 1);
        assert_eq!(counters.http.transactions, 3);
        assert_eq!(counters.http.parse_errors, 0);
        assert_eq!(counters.http.resync_skipped_bytes, 0);
    }
}

#[test]
fn tls_and_binary_connections_are_skipped_and_counted() {
    // A ClientHello record header and the start of its body; a server answer.
    let hello: &[u8] = &[22, 3, 1, 0, 60, 1, 0, 0, 56, 3, 3, 9, 9, 9];
    let server_hello: &[u8] = &[22, 3, 3, 0, 40, 2, 0, 0, 36, 3, 3];
    let mut packets = connection(0, 443, &[(hello, server_hello)], 1448);
    packets.extend(connection(
        1,
        6379,
        &[(b"\x00\x01binary", b"\x00\x02")],
        1448,
    ));
    packets.extend(connection(2, 80, &[(GET, OK), (GET, OK)], 3));
    let (txs, counters) = run(packets);
    assert_eq!(txs.len(), 2);
    assert_eq!(counters.proto.tls_connections, 1);
    assert_eq!(counters.proto.unknown_protocol_connections, 1);
    assert_eq!(counters.proto.http1_connections, 1);
    assert_eq!(counters.http.parse_errors, 0);
}

#[test]
fn a_request_fed_a_byte_a_segment_is_the_same_transaction() {
    let body_post: &[u8] = b"POST /p HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\n\r\nabc";
    let (whole, _) = run(connection(0, 80, &[(body_post, OK)], 1448));
    let (bytes, counters) = run(connection(0, 80, &[(body_post, OK)], 1));
    assert_eq!(whole.len(), 1);
    assert_eq!(whole[0].request.method, "POST");
    assert_eq!(
        whole[0].request.body.wire_len,
        bytes[0].request.body.wire_len
    );
    assert_eq!(whole[0].request.target, bytes[0].request.target);
    assert_eq!(
        whole[0].response.as_ref().map(|r| r.status),
        bytes[0].response.as_ref().map(|r| r.status)
    );
    assert_eq!(counters.proto.detection_fallbacks, 0);
}

/// Issue 9, item 3: a server answering an HTTP/1.1 request with a bare body and no status
/// line, then closing (an HTTP/0.9 reply, also an evasion trick): the body is attached to
/// the request with status 0, sized, flagged `no-status-line`, whatever the segmentation.
#[test]
fn a_response_without_status_line_is_an_http09_reply_to_the_request() {
    use httshark::model::{Anomaly, HttpVersion};
    let body: &[u8] = b"<html>a bare body, no status line</html>\n";
    for mss in [1448, 7, 1] {
        let (txs, counters) = run(connection(0, 80, &[(GET, body)], mss));
        assert_eq!(txs.len(), 1, "mss {mss}: {txs:#?}");
        let tx = &txs[0];
        assert_eq!(tx.request.target, "/x");
        let r = tx.response.as_ref().expect("answered");
        assert_eq!((r.status, r.version), (0, HttpVersion::Http09));
        assert_eq!(r.body.wire_len, body.len() as u64, "mss {mss}");
        assert_eq!(r.body.data, body);
        assert!(r.complete, "ended by the server's FIN");
        assert!(
            tx.anomalies.contains(&Anomaly::NoStatusLine),
            "{:?}",
            tx.anomalies
        );
        assert_eq!(Anomaly::NoStatusLine.name(), "no-status-line");
        assert_eq!(counters.http.responses_without_status_line, 1);
        assert_eq!(counters.http.unanswered, 0);
    }
    // A malformed status line is not taken for a bare body.
    let (txs, counters) = run(connection(1, 80, &[(GET, b"HTTP/1.1 abc\r\n\r\n")], 1448));
    assert_eq!(counters.http.responses_without_status_line, 0);
    assert!(txs.iter().all(|t| t.response.is_none()), "{txs:#?}");
}

/// A transaction completed after a tick by a packet stamped before it (timestamps going
/// backwards: merged captures, a live ring read after an idle tick) is stamped 1 ns after
/// the tick, counted: processors take a tick at `now` to mean every transaction with
/// `completed_at <= now` has reached them, and with several workers one completed after
/// the tick could otherwise reach them before or after it (HAR files differed between
/// runs). Its packets' own times are kept. Without the tick, the packet's time stays.
#[test]
fn a_transaction_completed_after_a_tick_is_stamped_after_it() {
    let mut packets = connection(0, 80, &[(GET, OK)], 1448);
    packets.sort_by_key(|p| p.ts);
    let ts = |p: &Packet| Timestamp(p.ts.as_nanos());
    // The response's packet completes the transaction; the close follows.
    let response = packets
        .iter()
        .position(|p| p.data.windows(6).any(|w| w == b"200 OK"))
        .expect("a response packet");
    let late_tick = ts(&packets[response]) + Duration::from_millis(1);
    for tick_first in [false, true] {
        let mut w = Worker::new(WorkerConfig::from_config(
            &Config::default(),
            LinkType::Ethernet,
        ));
        let mut txs = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            if i == response && tick_first {
                w.pipeline_tick(i.saturating_sub(1) as u64, late_tick);
            }
            w.on_frame(&p.data, i as u64, ts(p));
            txs.extend(w.take_transactions());
        }
        w.finish(late_tick + Duration::from_secs(1));
        txs.extend(w.take_transactions());
        assert_eq!(txs.len(), 1, "tick first: {tick_first}");
        let tx = &txs[0];
        let response_ts = tx.response.as_ref().expect("answered").last_ts;
        assert_eq!(
            response_ts,
            ts(&packets[response]),
            "its own times are kept"
        );
        let raised = w.counters().http.completed_after_tick;
        if tick_first {
            assert_eq!(tx.completed_at, late_tick + Duration::from_nanos(1));
            assert_eq!(raised, 1);
        } else {
            assert_eq!(tx.completed_at, ts(&packets[response]));
            assert_eq!(raised, 0);
        }
    }
}
