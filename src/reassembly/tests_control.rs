//! Control-segment validation (`control.rs`, issue 9 item 1) through the table: RSTs and
//! FINs the receiving stack would discard leave the session whole, each counted by reason.

use super::tests::{d, Piece, C, H, S};
use super::*;
use Direction::{ToClient, ToServer};

const REQ: &[u8] = b"GET / HTTP/1.1\r\n\r\n";
const RESP: &[u8] = b"HTTP/1.1 200 OK\r\n\r\n";

/// Request, response, FINs after a handshake with ISNs 1000 (client) and 5000 (server),
/// each segment with TSval `ts` + its index when `ts` is given.
fn exchange(h: &mut H, ts: Option<u32>) {
    let t = |i: u32| ts.map(|v| v + i);
    h.pkt_ts(C, S, "A", 1001, 5001, REQ, t(10));
    h.pkt_ts(S, C, "A", 5001, 1019, RESP, t(10));
    h.pkt_ts(S, C, "FA", 5020, 1019, b"", t(11));
    h.pkt_ts(C, S, "FA", 1019, 5021, b"", t(11));
    h.pkt_ts(S, C, "A", 5021, 1020, b"", t(12));
}

/// The exchange came through whole and closed by its FINs.
fn assert_whole(h: &mut H) {
    h.close_all();
    let closes = h.closes();
    assert_eq!(closes.len(), 1, "{closes:?}");
    let (id, reason) = closes[0];
    assert_eq!(reason, CloseReason::Fin);
    assert_eq!(h.stream(id, ToServer), vec![d(REQ), Piece::Fin]);
    assert_eq!(h.stream(id, ToClient), vec![d(RESP), Piece::Fin]);
    assert_eq!(h.c().connections_reset, 0);
}

#[test]
fn rsts_and_fins_before_and_in_the_handshake_with_another_isn_are_ignored() {
    let mut h = H::new();
    // Before the SYN: no connection to end (and none is opened).
    h.pkt(C, S, "R", 777_777, 0, b"");
    h.pkt(S, C, "RA", 888_888, 999_999, b"");
    h.pkt(C, S, "FA", 777_777, 888_888, b"");
    h.pkt(C, S, "S", 1000, 0, b"");
    // In SYN-SENT: a RST not acknowledging the SYN, and one without ACK (RFC 9293 §3.10.7.3).
    h.pkt(S, C, "RA", 0, 424_242, b"");
    h.pkt(S, C, "R", 5001, 0, b"");
    // From the client's side, for another ISN.
    h.pkt(C, S, "R", 0x4000_0000, 0, b"");
    h.pkt(C, S, "FA", 0x7000_0000, 0, b"");
    h.pkt(S, C, "SA", 5000, 1001, b"");
    h.pkt(C, S, "A", 1001, 5001, b"");
    exchange(&mut h, None);
    assert_whole(&mut h);
    let c = h.c();
    assert_eq!(c.segments_ignored, 3);
    assert_eq!(c.rsts_out_of_window, 3);
    assert_eq!(c.fins_out_of_window, 1);
}

#[test]
fn a_rst_acknowledging_the_syn_ends_the_handshake() {
    let mut h = H::new();
    h.pkt(C, S, "S", 1000, 0, b"");
    h.pkt(S, C, "RA", 0, 1001, b"");
    h.close_all();
    assert_eq!(h.c().connections_reset, 1);
    assert_eq!(h.c().rsts_out_of_window, 0);
}

#[test]
fn a_rst_outside_the_window_is_ignored_and_one_inside_closes() {
    let mut h = H::new();
    h.handshake(1000, 5000);
    h.pkt(C, S, "A", 1001, 5001, REQ);
    // 4 MiB ahead of the server's bytes, and 100 000 behind them.
    h.pkt(S, C, "RA", 5001 + (4 << 20), 1019, b"");
    h.pkt(S, C, "RA", 5001u32.wrapping_sub(100_000), 1019, b"");
    // A FIN behind the bytes already delivered, and one far ahead.
    h.pkt(C, S, "FA", 1005, 5001, b"");
    h.pkt(C, S, "FA", 1019 + (4 << 20), 5001, b"");
    h.pkt(S, C, "A", 5001, 1019, RESP);
    assert_eq!(h.closes(), vec![]);
    h.pkt(S, C, "RA", 5020, 1019, b"");
    assert_eq!(h.closes(), vec![(0, CloseReason::Reset)]);
    assert_eq!(h.stream(0, ToServer), vec![d(REQ)]);
    assert_eq!(h.stream(0, ToClient), vec![d(RESP)]);
    let c = h.c();
    assert_eq!((c.rsts_out_of_window, c.fins_out_of_window), (2, 2));
}

#[test]
fn rsts_and_fins_failing_paws_are_ignored() {
    let mut h = H::new();
    h.pkt_ts(C, S, "S", 1000, 0, b"", Some(100));
    h.pkt_ts(S, C, "SA", 5000, 1001, b"", Some(100));
    h.pkt_ts(C, S, "A", 1001, 5001, b"", Some(101));
    // In window, but with a timestamp older than the sender's latest (an injected copy).
    h.pkt_ts(S, C, "RA", 5001, 1001, b"", Some(50));
    h.pkt_ts(C, S, "FA", 1001, 5001, b"", Some(99));
    exchange(&mut h, Some(100));
    assert_whole(&mut h);
    let c = h.c();
    assert_eq!((c.rsts_rejected_paws, c.fins_rejected_paws), (1, 1));
    assert_eq!((c.rsts_out_of_window, c.fins_out_of_window), (0, 0));
}

#[test]
fn a_rst_without_timestamp_is_not_judged_by_paws() {
    let mut h = H::new();
    h.pkt_ts(C, S, "S", 1000, 0, b"", Some(100));
    h.pkt_ts(S, C, "SA", 5000, 1001, b"", Some(100));
    h.pkt_ts(C, S, "A", 1001, 5001, REQ, Some(101));
    h.pkt(S, C, "RA", 5001, 1019, b"");
    assert_eq!(h.closes(), vec![(0, CloseReason::Reset)]);
    assert_eq!(h.c().rsts_rejected_paws, 0);
}

#[test]
fn an_injected_segment_far_off_does_not_poison_paws() {
    let mut h = H::new();
    h.pkt_ts(C, S, "S", 1000, 0, b"", Some(100));
    h.pkt_ts(S, C, "SA", 5000, 1001, b"", Some(100));
    h.pkt_ts(C, S, "A", 1001, 5001, b"", Some(101));
    // A data segment 1 GiB - 1 ahead with a TSval from the future: out of window, its
    // TSval not taken as the server's latest, so the genuine FINs still pass.
    h.pkt_ts(S, C, "A", 5001 + (1 << 29), 1001, b"x", Some(0x7000_0000));
    exchange(&mut h, Some(100));
    assert_whole(&mut h);
    assert_eq!(h.c().fins_rejected_paws, 0);
}
