//! Issue 9, item 5: TCP cases a passive observer meets and must read the way the endpoints'
//! stacks do: TCP Fast Open, keep-alive and zero-window probes, simultaneous open, a SYN
//! retransmitted with a new ISN, overlapping retransmissions with different bytes.

use super::tests::{d, C, H, S};
use super::*;
use Direction::{ToClient, ToServer};

const REQ: &[u8] = b"GET / HTTP/1.1\r\n\r\n";
const RESP: &[u8] = b"HTTP/1.1 200 OK\r\n\r\n";

#[test]
fn tcp_fast_open_data_on_the_syn_is_the_start_of_the_stream() {
    let mut h = H::new();
    // RFC 7413: the SYN carries the request; the SYN-ACK acknowledges it.
    h.pkt(C, S, "S", 1000, 0, &REQ[..10]);
    h.pkt(S, C, "SA", 5000, 1011, b"");
    h.pkt(C, S, "A", 1011, 5001, &REQ[10..]);
    h.pkt(S, C, "A", 5001, 1019, RESP);
    h.close_all();
    assert_eq!(h.stream(0, ToServer), vec![d(REQ)]);
    assert_eq!(h.stream(0, ToClient), vec![d(RESP)]);
    assert!(!h.info(0).midstream);
    assert_eq!(h.c().retransmitted_segments, 0);
}

#[test]
fn keepalive_probes_are_neither_data_nor_retransmissions() {
    let mut h = H::new();
    h.handshake(1000, 5000);
    h.pkt(C, S, "A", 1001, 5001, REQ);
    h.pkt(S, C, "A", 5001, 1019, RESP);
    // RFC 9293 §3.8.4: a probe is sent at SND.NXT - 1, with no byte or one garbage byte.
    h.pkt(C, S, "A", 1018, 5020, b"");
    h.pkt(C, S, "A", 1018, 5020, b"\0");
    h.pkt(S, C, "A", 5019, 1019, b"");
    h.pkt(S, C, "A", 5019, 1019, b"\0");
    h.close_all();
    assert_eq!(h.stream(0, ToServer), vec![d(REQ)]);
    assert_eq!(h.stream(0, ToClient), vec![d(RESP)]);
    let c = h.c();
    assert_eq!(c.keepalive_probes, 4);
    assert_eq!(c.retransmitted_segments, 0);
}

#[test]
fn zero_window_probes_are_not_data() {
    let mut h = H::new();
    h.handshake(1000, 5000);
    h.pkt(C, S, "A", 1001, 5001, REQ);
    // The client's window closes; the server probes with the next byte (RFC 9293
    // §3.8.6.1), which the client does not take (its ACK does not move).
    h.pkt_win(C, S, "A", 1019, 5001, b"", 0);
    h.pkt(S, C, "A", 5001, 1019, &RESP[..1]);
    h.pkt_win(C, S, "A", 1019, 5001, b"", 0);
    h.pkt(S, C, "A", 5001, 1019, b"X");
    h.pkt_win(C, S, "A", 1019, 5001, b"", 4096);
    h.pkt(S, C, "A", 5001, 1019, RESP);
    h.close_all();
    assert_eq!(h.stream(0, ToClient), vec![d(RESP)]);
    let c = h.c();
    assert_eq!(c.zero_window_probes, 2);
    assert_eq!((c.retransmitted_segments, c.overlapping_segments), (0, 0));
    assert_eq!(
        c.overlap_conflicts, 0,
        "the second probe's byte was not taken"
    );
}

#[test]
fn simultaneous_open_is_one_connection() {
    let mut h = H::new();
    // RFC 9293 §3.5, figure 8: both ends send a SYN, then both a SYN-ACK.
    h.pkt(C, S, "S", 1000, 0, b"");
    h.pkt(S, C, "S", 5000, 0, b"");
    h.pkt(C, S, "SA", 1000, 5001, b"");
    h.pkt(S, C, "SA", 5000, 1001, b"");
    h.pkt(C, S, "A", 1001, 5001, REQ);
    h.pkt(S, C, "A", 5001, 1019, RESP);
    h.close_all();
    assert_eq!(h.closes(), vec![(0, CloseReason::EndOfCapture)]);
    assert_eq!(h.stream(0, ToServer), vec![d(REQ)]);
    assert_eq!(h.stream(0, ToClient), vec![d(RESP)]);
    let c = h.c();
    assert_eq!((c.simultaneous_opens, c.connections_reused), (1, 0));
}

#[test]
fn a_syn_retransmitted_with_a_new_isn_restarts_the_handshake() {
    let mut h = H::new();
    h.pkt(C, S, "S", 1000, 0, b"");
    // No SYN-ACK came: the client tries again with another ISN.
    h.pkt(C, S, "S", 90_000, 0, b"");
    h.pkt(S, C, "SA", 5000, 90_001, b"");
    h.pkt(C, S, "A", 90_001, 5001, REQ);
    h.pkt(S, C, "A", 5001, 90_019, RESP);
    h.close_all();
    assert_eq!(h.closes(), vec![(0, CloseReason::EndOfCapture)]);
    assert_eq!(h.stream(0, ToServer), vec![d(REQ)]);
    assert_eq!(h.stream(0, ToClient), vec![d(RESP)]);
    assert!(!h.info(0).midstream);
    let c = h.c();
    assert_eq!((c.syn_isn_changes, c.connections_reused), (1, 0));
    // Once the handshake is done, a SYN with a new ISN is a new connection (4-tuple reuse).
    let mut h = H::new();
    h.handshake(1000, 5000);
    h.pkt(C, S, "A", 1001, 5001, REQ);
    h.pkt(C, S, "S", 90_000, 0, b"");
    h.close_all();
    assert_eq!(h.c().connections_reused, 1);
}

#[test]
fn overlapping_retransmissions_with_different_bytes_keep_the_first_copy() {
    let mut h = H::new();
    h.handshake(1000, 5000);
    // Bytes 8.. arrive first (buffered), then a segment covering 0..12 whose bytes 8..12
    // differ: the first copy received wins (docs/robustness.md), the conflict is counted.
    h.pkt(C, S, "A", 1009, 5001, &REQ[8..]);
    h.pkt(C, S, "A", 1001, 5001, b"GET / HTXXXX");
    // A retransmission of delivered bytes with other content changes nothing delivered;
    // not yet acknowledged, it is compared with the retained copy ("GET " and "POST"
    // differ in all 4 bytes) and reported.
    h.pkt(C, S, "A", 1001, 5001, b"POST");
    // After the server's ACK the bytes are released: a later copy is not compared.
    h.pkt(S, C, "A", 5001, 1019, b"");
    h.pkt(C, S, "A", 1001, 5001, b"HEAD");
    h.close_all();
    assert_eq!(h.stream(0, ToServer), vec![d(REQ)]);
    let c = h.c();
    assert_eq!((c.overlap_conflicts, c.overlap_conflict_bytes), (2, 8));
    assert_eq!(c.overlap_conflicts_delivered, 1);
    assert_eq!(c.retransmitted_segments, 2);
    // The handler heard of bytes 8..12 before they were delivered (8 bytes were), and
    // of bytes 0..4 after (all 18 were).
    assert_eq!(h.conflicts(0, ToServer), vec![(8, 4, 8), (0, 4, 18)]);
    assert!(h.conflicts(0, ToClient).is_empty());
}
