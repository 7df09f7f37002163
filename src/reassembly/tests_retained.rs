//! Issue 9: a later copy of bytes already delivered (retained until the peer acknowledges
//! them, `retained.rs`) is compared with the copy delivered.

use super::tests::{d, C, H, S};
use super::*;
use crate::hosts::ServerSet;
use Direction::ToServer;

#[test]
fn an_identical_copy_of_delivered_bytes_is_only_a_retransmission() {
    let mut h = H::new();
    h.handshake(0, 0);
    h.pkt(C, S, "A", 1, 1, b"abcdef");
    h.pkt(C, S, "A", 1, 1, b"abcdef");
    h.pkt(C, S, "A", 3, 1, b"cdefgh");
    assert_eq!(h.stream(0, ToServer), vec![d(b"abcdefgh")]);
    let c = h.c();
    assert_eq!((c.retransmitted_segments, c.overlapping_segments), (1, 1));
    assert_eq!((c.overlap_conflicts, c.overlap_conflict_bytes), (0, 0));
    assert!(h.conflicts(0, ToServer).is_empty());
}

#[test]
fn a_different_copy_of_delivered_bytes_is_counted_and_reported_after_them() {
    let mut h = H::new();
    h.handshake(0, 0);
    h.pkt(C, S, "A", 1, 1, b"abcdef");
    h.pkt(C, S, "A", 1, 1, b"abXYef");
    // Partly delivered, partly new: the delivered part is compared.
    h.pkt(C, S, "A", 5, 1, b"eZgh");
    // The first copy wins.
    assert_eq!(h.stream(0, ToServer), vec![d(b"abcdefgh")]);
    let c = h.c();
    assert_eq!(
        (
            c.overlap_conflicts,
            c.overlap_conflicts_delivered,
            c.overlap_conflict_bytes
        ),
        (2, 2, 3)
    );
    // (offset, length, bytes delivered when reported): wholly before the next byte.
    assert_eq!(h.conflicts(0, ToServer), vec![(2, 2, 6), (5, 1, 6)]);
}

#[test]
fn the_peer_ack_releases_retained_bytes_and_retention_does_not_grow() {
    let mut h = H::new();
    h.handshake(0, 0);
    h.pkt(C, S, "A", 1, 1, b"abcdef");
    let retaining = h.mem();
    h.pkt(S, C, "A", 1, 7, b"");
    assert!(h.mem() < retaining, "the ACK released the retained bytes");
    // A spurious retransmission after the ACK is not compared: the receiver has the bytes.
    h.pkt(C, S, "A", 1, 1, b"XXXXXX");
    assert_eq!(h.c().overlap_conflicts, 0);
    assert_eq!(h.c().retransmitted_segments, 1);
    // A long exchange, each segment acknowledged: the charge stays flat.
    let mut seq = 7u32;
    let seg = [b'x'; 1000];
    let mut most = 0;
    for _ in 0..1000 {
        h.pkt(C, S, "A", seq, 1, &seg);
        seq += 1000;
        h.pkt(S, C, "A", 1, seq, b"");
        most = most.max(h.mem());
    }
    assert!(
        most <= retaining + 4096,
        "charged {most} bytes, {retaining} after the first segment"
    );
    // Partly acknowledged: only the unacknowledged part is still compared.
    h.pkt(C, S, "A", seq, 1, b"0123456789");
    h.pkt(S, C, "A", 1, seq + 5, b"");
    h.pkt(C, S, "A", seq, 1, b"ABCDEFGHIJ");
    assert_eq!(h.c().overlap_conflict_bytes, 5);
    let at = u64::from(seq - 1);
    assert_eq!(h.conflicts(0, ToServer), vec![(at + 5, 5, at + 10)]);
}

#[test]
fn retention_stops_at_its_limit_keeping_the_oldest_bytes() {
    let mut h = H::new();
    h.handshake(0, 0);
    let seg = [b'x'; 1000];
    let n = MAX_RETAINED_BYTES_PER_DIRECTION / 1000 + 2;
    for i in 0..n {
        h.pkt(C, S, "A", 1 + (i * 1000) as u32, 1, &seg);
    }
    assert_eq!(h.c().retained_limit_hits, 1, "once per range");
    // The last segment was not kept: a different copy of it is not seen.
    let last = 1 + ((n - 1) * 1000) as u32;
    h.pkt(C, S, "A", last, 1, &[b'y'; 1000]);
    assert_eq!(h.c().overlap_conflicts, 0);
    // The oldest are: a different copy of the first (what an RTO resends) is.
    h.pkt(C, S, "A", 1, 1, b"y");
    assert_eq!(h.c().overlap_conflicts, 1);
    // Once everything is acknowledged, retention starts again.
    h.pkt(S, C, "A", 1, last + 1000, b"");
    h.pkt(C, S, "A", last + 1000, 1, b"abc");
    h.pkt(C, S, "A", last + 1000, 1, b"abd");
    assert_eq!(h.c().overlap_conflicts, 2);
}

#[test]
fn a_conflict_after_the_fin_is_counted_but_not_reported() {
    let mut h = H::new();
    h.handshake(0, 0);
    h.pkt(C, S, "FA", 1, 1, b"abc");
    h.pkt(C, S, "A", 1, 1, b"abX");
    assert_eq!(h.c().overlap_conflicts_delivered, 1);
    assert!(h.conflicts(0, ToServer).is_empty());
}

#[test]
fn the_memory_budget_releases_retained_bytes_first_and_counts_it() {
    let limits = ReassemblyLimits {
        memory_budget: 16 * 1024,
        ..Default::default()
    };
    let mut h = H::with(limits, ServerSet::default());
    h.handshake(0, 0);
    let seg = [b'x'; 1000];
    for i in 0..32u32 {
        h.pkt(C, S, "A", 1 + i * 1000, 1, &seg);
    }
    let c = h.c();
    assert!(c.memory_limit_hits >= 1);
    assert_eq!(
        c.memory_limit_retained_released, 1,
        "one pass, then suspended"
    );
    assert_eq!(
        (c.memory_limit_evictions, c.memory_limit_buffers_released),
        (0, 0),
        "nothing else was given up"
    );
    assert!(h.mem() < 16 * 1024);
    assert_eq!(h.stream(0, ToServer), vec![d(&[b'x'; 32_000])]);
    // Suspended: not compared.
    h.pkt(C, S, "A", 31_001, 1, b"y");
    assert_eq!(h.c().overlap_conflicts, 0);
    // Usage is low at the next tick: retention resumes.
    h.tick(1);
    h.pkt(C, S, "A", 32_001, 1, b"abc");
    h.pkt(C, S, "A", 32_001, 1, b"abd");
    assert_eq!(h.c().overlap_conflicts, 1);
    assert_eq!(h.c().memory_limit_retained_released, 1);
}
