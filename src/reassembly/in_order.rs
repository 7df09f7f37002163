//! The causal window's shortcut: per 4-tuple in the window, bounds that prove a segment
//! must precede none captured before it, so that the window need not compare it with them.
//!
//! The window (`window.rs`) compares a pushed segment with the released segments of its
//! connection (is it late?) and, before releasing its connection's oldest held segment,
//! every later held one with it (must it wait?). Nearly every segment is sent in the order
//! it is captured, and both answers are then "no". A segment `b` must precede an earlier
//! `i` (`must_precede(b, i)`, window.rs) only when
//! - same direction: `b`'s sequence space ends at or before `i`'s sequence number;
//! - other direction: `i` acknowledges all of `b`'s sequence space.
//!
//! So per 4-tuple and direction this keeps two edges: the highest sequence number taken
//! and the highest acknowledgment number taken (each moved forward only by less than
//! `STEP`; a number behind its edge by less than `STEP` leaves it; anything else breaks the
//! proof for the 4-tuple until it leaves the window). Every segment the window compares
//! `b` with lies within `3 * limit + 2` segments of the 4-tuple before it (released ones
//! within `2 * limit` positions, held ones within `limit`, positions rising per 4-tuple),
//! so each edge is at most `(3 * limit + 3) * STEP` past the numbers of those segments,
//! and with `limit <= PROVEN_WINDOW_MAX` every sum below stays under 2^31 (no reading the
//! wrong way round the sequence circle). Then `b` precedes none of them when
//! - it starts past its direction's sequence edge (by less than `STEP`), or at it and
//!   either occupies space or no segment taken at the edge did (a pure ACK precedes data
//!   at its own number), and its space is shorter than `STEP`;
//! - and it occupies no space, or its space ends past the other direction's
//!   acknowledgment edge (by less than `AHEAD`);
//! - or it is a RST (which the window never orders before anything).
//!
//! The window must keep its held segments within `limit` positions (it releases every
//! due segment after each push: `ConnTable::on_segment_in`), and positions must rise
//! along a 4-tuple (else the bounds break for it).
//!
//! What it does not do: decide anything. A segment not proven goes through the window's
//! full comparison, which stays the definition (`tests_window.rs`: the window with and
//! without the shortcut releases the same segments in the same order and counts the
//! same).
//!
//! Bounded: a few words per 4-tuple in the window (`tuples.rs` keeps them).

use super::window::Meta;
use crate::wire::SeqNum;

/// Largest `ReassemblyLimits::causal_window` the bounds hold for (module docs); a larger
/// window compares every segment.
pub(super) const PROVEN_WINDOW_MAX: usize = 24;

/// Largest move of an edge, and the farthest behind it a number may lie, 16 MiB.
const STEP: i32 = 1 << 24;

/// How far past the acknowledgment edge a segment's end may lie, 256 MiB.
const AHEAD: i32 = 1 << 28;

/// Where a number lies from an edge.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Place {
    /// Past it, by less than `STEP` (or the edge was unset).
    Ahead,
    At,
    /// Before it, by less than `STEP`.
    Behind,
    /// Anywhere else: the edge no longer bounds the numbers.
    Far,
}

/// The highest number taken, if any.
#[derive(Clone, Copy, Default)]
struct Edge(Option<SeqNum>);

impl Edge {
    fn place(self, x: SeqNum) -> Place {
        let Some(at) = self.0 else {
            return Place::Ahead;
        };
        match x.distance(at) {
            0 => Place::At,
            d if d > 0 && d < STEP => Place::Ahead,
            d if d < 0 && d > -STEP => Place::Behind,
            _ => Place::Far,
        }
    }
}

/// One direction of a 4-tuple.
#[derive(Clone, Copy, Default)]
struct Dir {
    seq: Edge,
    /// A segment taken at `seq`'s edge occupied sequence space.
    space_at_seq: bool,
    ack: Edge,
}

/// The bounds of one 4-tuple in the window.
#[derive(Default)]
pub(super) struct Bounds {
    /// They no longer hold: every later segment is compared.
    broken: bool,
    last_index: Option<u64>,
    dirs: [Dir; 2],
}

impl Bounds {
    /// Takes the 4-tuple's next segment (in capture order, at position `index`, which
    /// must rise along the 4-tuple) within a window of `limit`: whether it is proven to
    /// precede none of the segments taken before it. A connection to itself (both
    /// directions look alike) is never proven.
    pub(super) fn take(&mut self, s: &Meta, index: u64, limit: usize) -> bool {
        if s.self_loop
            || limit > PROVEN_WINDOW_MAX
            || self.last_index.is_some_and(|last| index <= last)
        {
            self.broken = true;
        }
        self.last_index = Some(index);
        if self.broken {
            return false;
        }
        let (mine, theirs) = match &mut self.dirs {
            [a, b] if s.fwd => (a, &*b),
            [a, b] => (b, &*a),
        };
        let at_seq = mine.seq.place(s.seq);
        let own = match at_seq {
            Place::Ahead => true,
            Place::At => s.len > 0 || !mine.space_at_seq,
            Place::Behind | Place::Far => false,
        };
        let end = s.seq + s.len;
        let unacked = s.len == 0
            || theirs
                .ack
                .0
                .is_none_or(|ack| (1..AHEAD).contains(&end.distance(ack)));
        let short = i32::try_from(s.len).is_ok_and(|n| n < STEP);
        let proven = s.flags.rst || (own && unacked && short);
        match at_seq {
            Place::Ahead => {
                mine.seq = Edge(Some(s.seq));
                mine.space_at_seq = s.len > 0;
            }
            Place::At => mine.space_at_seq |= s.len > 0,
            Place::Behind => {}
            Place::Far => self.broken = true,
        }
        if s.flags.ack {
            match mine.ack.place(s.ack) {
                Place::Ahead => mine.ack = Edge(Some(s.ack)),
                Place::At | Place::Behind => {}
                Place::Far => self.broken = true,
            }
        }
        proven
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A segment sent the `fwd` way with `len` of sequence space, acknowledging `ack` when
    /// given; at position `index`.
    fn taken(fwd: bool, seq: u32, ack: Option<u32>, len: u32, index: u64) -> (Meta, u64) {
        let meta = Meta {
            seq: SeqNum(seq),
            ack: SeqNum(ack.unwrap_or(0)),
            flags: crate::wire::TcpFlags {
                ack: ack.is_some(),
                ..Default::default()
            },
            len,
            conn: 1,
            slot: 0,
            fwd,
            self_loop: false,
        };
        (meta, index)
    }

    fn take(b: &mut Bounds, (meta, index): (Meta, u64), limit: usize) -> bool {
        b.take(&meta, index, limit)
    }

    #[test]
    fn an_in_order_exchange_is_proven_and_going_back_is_not() {
        let mut t = Bounds::default();
        let w = 12;
        assert!(take(&mut t, taken(true, 100, None, 1, 0), w), "SYN");
        assert!(
            take(&mut t, taken(false, 500, Some(101), 1, 1), w),
            "SYN-ACK"
        );
        assert!(take(&mut t, taken(true, 101, Some(501), 0, 2), w), "ACK");
        assert!(
            take(&mut t, taken(true, 101, Some(501), 10, 3), w),
            "request"
        );
        assert!(
            take(&mut t, taken(false, 501, Some(111), 20, 4), w),
            "response"
        );
        // A pure ACK at the number data was already sent at: sent before that data.
        assert!(!take(&mut t, taken(true, 101, Some(501), 0, 5), w));
        // The request again, after the server acknowledged it: a retransmission.
        assert!(!take(&mut t, taken(true, 101, Some(521), 10, 6), w));
        // The next request is past both edges.
        assert!(take(&mut t, taken(true, 111, Some(521), 5, 7), w));
    }

    #[test]
    fn what_the_bounds_cannot_hold_is_never_proven() {
        let w = 12;
        let mut t = Bounds::default();
        assert!(take(&mut t, taken(true, 100, None, 10, 0), w));
        // Far ahead: the edge cannot move that far.
        assert!(!take(&mut t, taken(true, 100 + (1 << 25), None, 10, 1), w));
        assert!(
            !take(&mut t, taken(true, 200, None, 10, 2), w),
            "broken for good"
        );
        let mut t = Bounds::default();
        assert!(take(&mut t, taken(true, 100, None, 10, 5), w));
        assert!(
            !take(&mut t, taken(true, 110, None, 10, 5), w),
            "positions must rise"
        );
        let mut t = Bounds::default();
        assert!(!take(
            &mut t,
            taken(true, 100, None, 10, 0),
            PROVEN_WINDOW_MAX + 1
        ));
        let mut t = Bounds::default();
        let mut s = taken(true, 100, None, 10, 0);
        s.0.self_loop = true;
        assert!(!take(&mut t, s, w));
    }
}
