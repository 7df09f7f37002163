//! Pairing with TCP ACKs (`StreamHandler::on_ack`): the reassembler tells the HTTP layer
//! how far the other direction had been received when each segment was sent. These tests
//! drive `HttpConn` directly, stating each delivery's ACK as an offset of the other stream,
//! with the gaps a lossy capture leaves.

mod http_support;

use http_support::{conn_info, limits};
use httshark::http::{HttpConn, HttpCtx};
use httshark::model::{Anomaly, ConnInfo, Direction, Transaction};
use httshark::reassembly::{CloseReason, StreamHandler};
use httshark::time::Timestamp;

use Direction::{ToClient, ToServer};

struct Drive {
    h: HttpConn,
    ctx: HttpCtx,
    conn: ConnInfo,
    t: i64,
    /// Bytes (and gaps) so far per direction: the offsets ACKs are stated in.
    len: [u64; 2],
}

impl Drive {
    fn new(midstream: bool) -> Drive {
        let conn = conn_info(midstream);
        Drive {
            h: HttpConn::new(&conn),
            ctx: HttpCtx::new(limits()),
            conn,
            t: 1000,
            len: [0, 0],
        }
    }

    fn ts(&mut self) -> Timestamp {
        self.t += 1;
        Timestamp::from_secs_nanos(self.t, 0)
    }

    /// Bytes of `dir`, sent after the other direction's offset `ack` (`None`: unknown).
    fn data(&mut self, dir: Direction, bytes: &[u8], ack: Option<u64>) {
        let ts = self.ts();
        if let Some(a) = ack {
            self.h.on_ack(&mut self.ctx, &self.conn, dir, a);
        }
        self.h.on_data(&mut self.ctx, &self.conn, dir, bytes, ts);
        self.len[dir.index()] += bytes.len() as u64;
    }

    /// Bytes of `dir` sent after everything of the other direction so far.
    fn after_all(&mut self, dir: Direction, bytes: &[u8]) {
        let ack = self.len[dir.reverse().index()];
        self.data(dir, bytes, Some(ack));
    }

    fn gap(&mut self, dir: Direction, len: u64) {
        let ts = self.ts();
        self.h.on_gap(&mut self.ctx, &self.conn, dir, len, ts);
        self.len[dir.index()] += len;
    }

    fn end(mut self) -> (Vec<Transaction>, HttpCtx) {
        let ts = self.ts();
        self.h
            .on_close(&mut self.ctx, &self.conn, CloseReason::Fin, ts);
        let out = std::mem::take(&mut self.ctx.out);
        (out, self.ctx)
    }
}

/// (method, target, status or 0, anomaly names) of each transaction, in output order.
fn summary(txs: &[Transaction]) -> Vec<(String, String, u16, Vec<&'static str>)> {
    txs.iter()
        .map(|t| {
            (
                t.request.method.clone(),
                t.request.target.clone(),
                t.response.as_ref().map_or(0, |r| r.status),
                t.anomalies.iter().map(Anomaly::name).collect(),
            )
        })
        .collect()
}

fn row(m: &str, t: &str, s: u16, a: &[&'static str]) -> (String, String, u16, Vec<&'static str>) {
    (m.to_string(), t.to_string(), s, a.to_vec())
}

const REQ_A: &[u8] = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
const REQ_B: &[u8] = b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n";
const REQ_C: &[u8] = b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n";
const RESP_A: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na";
const RESP_B: &[u8] = b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nbb";
const RESP_C: &[u8] = b"HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nccc";

#[test]
fn a_response_to_a_request_the_capture_lost_is_a_placeholder_not_the_next_ones() {
    let mut d = Drive::new(false);
    d.after_all(ToServer, REQ_A);
    d.after_all(ToClient, RESP_A);
    // Request B lost whole; C captured before B's response (a second capture queue).
    d.gap(ToServer, REQ_B.len() as u64);
    let b_end = d.len[0];
    d.after_all(ToServer, REQ_C);
    // B's response acknowledges up to B's end: it was sent before any byte of C arrived.
    d.data(ToClient, RESP_B, Some(b_end));
    d.after_all(ToClient, RESP_C);
    let (out, ctx) = d.end();
    assert_eq!(
        summary(&out),
        vec![
            row("GET", "/a", 200, &[]),
            row("", "", 404, &["request-lost"]),
            row("GET", "/c", 201, &[]),
        ]
    );
    // C was parsed before B's response came (a capture reordering): B's placeholder takes
    // the next depth, C keeps the one it got.
    assert_eq!(
        out.iter().map(|t| t.depth).collect::<Vec<_>>(),
        vec![1, 3, 2]
    );
    assert_eq!(out[1].response.as_ref().map(|r| r.body.len), Some(2));
    assert_eq!(ctx.counters.responses_to_lost_requests, 1);
    assert_eq!(ctx.counters.responses_paired_by_ack, 2);
    assert_eq!(ctx.counters.orphan_responses, 0);
}

#[test]
fn without_a_gap_a_response_ruled_out_by_its_ack_is_an_orphan_not_paired() {
    let mut d = Drive::new(false);
    d.after_all(ToServer, REQ_A);
    // A 408 sent before the server had any byte of the request (ACK 0): not its answer.
    d.data(
        ToClient,
        b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n",
        Some(0),
    );
    d.after_all(ToClient, RESP_A);
    let (out, ctx) = d.end();
    assert_eq!(summary(&out), vec![row("GET", "/a", 200, &[])]);
    assert_eq!(ctx.counters.orphan_responses, 1);
    assert_eq!(ctx.counters.responses_to_lost_requests, 0);
}

#[test]
fn pipelined_requests_pair_in_order_when_every_ack_covers_the_batch() {
    let mut d = Drive::new(false);
    for r in [REQ_A, REQ_B, REQ_C] {
        d.data(ToServer, r, Some(0));
    }
    for r in [RESP_A, RESP_B, RESP_C] {
        d.after_all(ToClient, r);
    }
    let (out, ctx) = d.end();
    assert_eq!(
        summary(&out),
        vec![
            row("GET", "/a", 200, &[]),
            row("GET", "/b", 404, &[]),
            row("GET", "/c", 201, &[]),
        ]
    );
    assert_eq!(ctx.counters.responses_paired_by_ack, 3);
    assert_eq!(ctx.counters.uncertain_pairings, 0);
}

#[test]
fn a_pipelined_batch_that_lost_a_request_is_flagged_not_silently_shifted() {
    let mut d = Drive::new(false);
    d.data(ToServer, REQ_A, Some(0));
    d.gap(ToServer, REQ_B.len() as u64);
    d.data(ToServer, REQ_C, Some(0));
    // Every response was sent after the whole batch arrived: the ACK cannot tell.
    for r in [RESP_A, RESP_B, RESP_C] {
        d.after_all(ToClient, r);
    }
    let (out, ctx) = d.end();
    assert_eq!(
        summary(&out),
        vec![
            row("GET", "/a", 200, &[]),
            row("GET", "/c", 404, &["pairing-uncertain"]),
            row("", "", 201, &["request-lost"]),
        ]
    );
    assert_eq!(ctx.counters.uncertain_pairings, 1);
}

#[test]
fn the_clients_acks_show_a_response_lost_whole() {
    // Picked up mid-stream: the response side resyncs, so a lost status line is not
    // noticed by the gap alone.
    let mut d = Drive::new(true);
    d.data(ToServer, REQ_A, None);
    // A's response: its head lost, its body skipped by the resync.
    d.gap(ToClient, 30);
    d.data(ToClient, b"body of a", Some(REQ_A.len() as u64));
    // B was sent after the client had received all of that.
    d.after_all(ToServer, REQ_B);
    d.after_all(ToClient, RESP_B);
    let (out, ctx) = d.end();
    assert_eq!(
        summary(&out),
        vec![
            row(
                "GET",
                "/a",
                0,
                &["midstream-pickup", "response-interrupted"]
            ),
            row("GET", "/b", 404, &["midstream-pickup"]),
        ]
    );
    assert_eq!(ctx.counters.responses_lost_by_ack, 1);
}

#[test]
fn a_pipelining_client_gives_no_such_proof() {
    let mut d = Drive::new(true);
    d.data(ToServer, REQ_A, None);
    d.data(ToServer, REQ_B, Some(0));
    d.gap(ToClient, 30);
    d.after_all(ToClient, RESP_B);
    let (out, ctx) = d.end();
    // B's client ACK equals A's: nothing tells that A's response was lost, in order.
    assert_eq!(ctx.counters.responses_lost_by_ack, 0);
    assert_eq!(out[0].response.as_ref().map(|r| r.status), Some(404));
}

#[test]
fn a_lost_head_request_ends_its_placeholder_response_at_the_clients_next_ack() {
    let mut d = Drive::new(false);
    d.after_all(ToServer, REQ_A);
    d.after_all(ToClient, RESP_A);
    d.gap(ToServer, 28);
    // The answer to a lost HEAD: a Content-Length and no body.
    d.after_all(ToClient, b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n");
    // The client asked again having received exactly that head: it had no body.
    d.after_all(ToServer, REQ_C);
    d.after_all(ToClient, RESP_C);
    let (out, ctx) = d.end();
    assert_eq!(
        summary(&out),
        vec![
            row("GET", "/a", 200, &[]),
            row("", "", 200, &["request-lost"]),
            row("GET", "/c", 201, &[]),
        ]
    );
    assert_eq!(ctx.counters.lost_responses_ended_by_ack, 1);
}

#[test]
fn request_resync_restarts_where_the_server_acknowledged() {
    let mut d = Drive::new(false);
    d.after_all(
        ToServer,
        b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n",
    );
    // The rest of the head and 7 body bytes lost: B is cut, the request side resyncs.
    d.gap(ToServer, 9);
    // B's last body bytes and C came in one delivery: "xyzGET" looks like a method.
    let b_end = d.len[0] + 3;
    d.data(ToClient, RESP_B, Some(b_end));
    let mut tail = b"xyz".to_vec();
    tail.extend_from_slice(REQ_C);
    d.data(ToServer, &tail, Some(RESP_B.len() as u64));
    d.after_all(ToClient, RESP_C);
    let (out, _) = d.end();
    // The lost bytes began inside B, which was cut, and B's response acknowledged them
    // all: they were B's own, so C pairs with no doubt.
    assert_eq!(
        summary(&out),
        vec![
            row("POST", "/b", 404, &["request-interrupted"]),
            row("GET", "/c", 201, &[]),
        ]
    );
}
