//! Lost bytes through the table: acknowledged holes declared lost (by patience, a tick,
//! an ACK beyond them, a FIN), and the out-of-order limits that force a gap.

use super::tests::{d, Piece, C, H, S};
use super::*;
use crate::hosts::ServerSet;
use Direction::{ToClient, ToServer};

/// Pure ACKs from the client (acknowledging `ack`) until an acknowledged hole's patience
/// runs out.
fn patience(h: &mut H, ack: u32) {
    for _ in 0..super::half::ACK_GAP_PATIENCE {
        h.pkt(C, S, "A", 19, ack, b"");
    }
}

#[test]
fn an_ack_captured_before_its_data_makes_no_gap() {
    let mut h = H::new();
    h.handshake(0, 0);
    h.pkt(S, C, "A", 1, 1, b"0123456789");
    h.pkt(C, S, "A", 1, 21, b""); // the capture reordered: the ACK first,
    h.pkt(S, C, "A", 16, 1, b"fghij"); // a later segment,
    h.pkt(S, C, "A", 11, 1, b"abcde"); // then the data it acknowledged
    assert_eq!(h.stream(0, ToClient), vec![d(b"0123456789abcdefghij")]);
    assert_eq!(h.c().gaps, 0);
}

#[test]
fn a_tick_declares_an_acknowledged_hole_lost() {
    let mut h = H::new();
    h.handshake(0, 0);
    h.pkt(S, C, "A", 1, 1, b"0123456789");
    h.pkt(S, C, "A", 21, 1, b"klmnopqrst");
    h.pkt(C, S, "A", 1, 31, b"");
    h.tick(1);
    assert_eq!(
        h.stream(0, ToClient),
        vec![d(b"0123456789"), Piece::G(10), d(b"klmnopqrst")]
    );
}

#[test]
fn an_ack_beyond_a_hole_declares_it_lost() {
    let mut h = H::new();
    h.handshake(0, 0);
    h.pkt(S, C, "A", 1, 1, b"0123456789");
    h.pkt(S, C, "A", 21, 1, b"klmnopqrst"); // [10,20) lost by the capture
    h.pkt(C, S, "A", 1, 16, b""); // the client got up to 15
                                  // Not at once: the capture may have reordered the ACK before its data.
    assert_eq!(h.stream(0, ToClient), vec![d(b"0123456789")]);
    patience(&mut h, 16);
    assert_eq!(h.stream(0, ToClient), vec![d(b"0123456789"), Piece::G(5)]);
    h.pkt(S, C, "A", 16, 1, b"fghij"); // [15,20) still comes
    assert_eq!(
        h.stream(0, ToClient),
        vec![d(b"0123456789"), Piece::G(5), d(b"fghijklmnopqrst")]
    );
    h.pkt(S, C, "A", 41, 1, b"UVWXY"); // [30,40) lost
    h.pkt(C, S, "A", 1, 46, b"");
    patience(&mut h, 46);
    assert_eq!(h.stream(0, ToClient)[3..], [Piece::G(10), d(b"UVWXY")]);
    assert_eq!(h.c().ack_gaps, 2);
    assert!(h.closes().is_empty(), "gaps are delivered before the close");
}

#[test]
fn an_ack_without_data_beyond_the_hole_waits_for_close() {
    let mut h = H::new();
    h.handshake(0, 0);
    h.pkt(S, C, "A", 1, 1, b"0123456789");
    h.pkt(C, S, "A", 1, 31, b""); // [10,30) acknowledged, never seen
    assert_eq!(h.stream(0, ToClient), vec![d(b"0123456789")]);
    h.pkt(C, S, "A", 1, 0x8000_0000, b""); // absurd: ignored
    h.close_all();
    assert_eq!(h.stream(0, ToClient), vec![d(b"0123456789"), Piece::G(20)]);
    assert_eq!(h.c().close_gaps, 1);
}

#[test]
fn a_fin_beyond_a_hole_gives_a_gap_once_acknowledged() {
    let mut h = H::new();
    h.handshake(0, 0);
    h.pkt(C, S, "A", 1, 1, b"GET / HTTP/1.1\r\n\r\n");
    h.pkt(S, C, "A", 1, 19, b"HTTP/1.1 200 OK\r\n");
    // [17,27) lost, then [27,30) and the FIN at 30 (out of order: held).
    h.pkt(S, C, "FA", 28, 19, b"end");
    assert_eq!(h.stream(0, ToClient), vec![d(b"HTTP/1.1 200 OK\r\n")]);
    h.pkt(C, S, "FA", 19, 32, b""); // acknowledges the server's FIN
    patience(&mut h, 32);
    assert_eq!(
        h.stream(0, ToClient),
        vec![
            d(b"HTTP/1.1 200 OK\r\n"),
            Piece::G(10),
            d(b"end"),
            Piece::Fin
        ]
    );
    assert_eq!(
        h.stream(0, ToServer),
        vec![d(b"GET / HTTP/1.1\r\n\r\n"), Piece::Fin]
    );
    assert_eq!(h.closes(), vec![(0, CloseReason::Fin)]);
}

#[test]
fn a_fin_beyond_a_hole_gives_a_gap_at_close_without_an_ack() {
    let mut h = H::new();
    h.handshake(0, 0);
    h.pkt(S, C, "A", 1, 1, b"abc");
    h.pkt(S, C, "FA", 10, 1, b""); // [3,9) lost
    h.close_all();
    assert_eq!(
        h.stream(0, ToClient),
        vec![d(b"abc"), Piece::G(6), Piece::Fin]
    );
}

#[test]
fn the_ooo_byte_limit_forces_a_gap_up_to_the_first_buffered_byte() {
    let limits = ReassemblyLimits {
        max_ooo_bytes_per_direction: 10,
        ..Default::default()
    };
    let mut h = H::with(limits, ServerSet::default());
    h.handshake(0, 0);
    h.pkt(C, S, "A", 1, 1, b"01234");
    h.pkt(C, S, "A", 11, 1, b"abcdefgh"); // [10,18) buffered
    h.pkt(C, S, "A", 21, 1, b"VWXYZ"); // [20,25): 13 bytes > 10
    assert_eq!(
        h.stream(0, ToServer),
        vec![d(b"01234"), Piece::G(5), d(b"abcdefgh")]
    );
    assert_eq!(h.c().ooo_limit_hits, 1);
    // A piece larger than the limit on its own: gap up to it, then delivered directly.
    h.pkt(C, S, "A", 41, 1, b"0123456789abcdef");
    assert_eq!(
        h.stream(0, ToServer)[3..],
        [
            Piece::G(2),
            d(b"VWXYZ"),
            Piece::G(15),
            d(b"0123456789abcdef")
        ]
    );
    assert_eq!(h.c().ooo_limit_hits, 3, "each forced gap is counted");
}

#[test]
fn the_ooo_segment_limit_forces_a_gap() {
    let limits = ReassemblyLimits {
        max_ooo_segments_per_direction: 2,
        ..Default::default()
    };
    let mut h = H::with(limits, ServerSet::default());
    h.handshake(0, 0);
    h.pkt(C, S, "A", 3, 1, b"c");
    h.pkt(C, S, "A", 4, 1, b"d"); // appended: still one chunk
    h.pkt(C, S, "A", 7, 1, b"g");
    h.pkt(C, S, "A", 10, 1, b"j"); // a third chunk
    assert_eq!(h.stream(0, ToServer), vec![Piece::G(2), d(b"cd")]);
    h.pkt(C, S, "A", 5, 1, b"e");
    h.pkt(C, S, "A", 6, 1, b"f");
    h.pkt(C, S, "A", 8, 1, b"hi");
    assert_eq!(h.stream(0, ToServer), vec![Piece::G(2), d(b"cdefghij")]);
}
