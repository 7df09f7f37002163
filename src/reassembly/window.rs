//! The causal window: the last few segments of a worker, released in the order TCP says
//! they were sent, before any connection sees them (issue 9).
//!
//! On multi-queue NICs and in merged captures a connection's packets are captured out of
//! causal order by a few positions: the SYN after the first data, a response before its
//! request, a FIN before the last data segment. Sequence and acknowledgment numbers say
//! what came first. The window holds each segment until it is
//! `ReassemblyLimits::causal_window` capture positions old, then releases, of its
//! connection's held segments, the earliest captured that no other must precede
//! (`must_precede`). Positions in the capture (packet indices), and decisions per
//! connection, so that the release of a connection's segments does not depend on how
//! connections are spread over workers: a replay gives the same output with any
//! `-workers` (the pipeline's ticks carry the capture position to every worker). A swap of two packets at most that many
//! positions apart is thereby undone exactly: each packet keeps its own timestamp, so the
//! reassembler, and everything after it, sees the in-order capture.
//!
//! "Must precede", between two segments of one 4-tuple (`a` before `b`):
//! - same direction: `a` occupies sequence space (payload, SYN or FIN) that ends at or
//!   before `b`'s sequence number (RFC 9293 §3.4: a sender numbers its bytes in order),
//!   or `a` occupies none (an ACK carries the sender's next sequence number) and `b`
//!   occupies space from there on, or is an ACK with a higher number;
//! - other direction: `b` acknowledges all of `a`'s sequence space (`b` was sent after `a`
//!   arrived, RFC 9293 §3.10.7.4).
//!
//! Both are read only within `CAUSAL_SEQ_REACH` of each other, so an unrelated segment of
//! an older connection on the same 4-tuple is practically never taken for a cause.
//!
//! What it does not do: look at payload bytes, decide connections, or wait for a packet
//! further away than the window (`causal.rs` holds data that acknowledges bytes not seen
//! yet; `half.rs` orders each direction). Held segments are also released when all are
//! `CAUSAL_WINDOW_DELAY` older than the clock (a quiet live capture) and at the end.
//!
//! Counted: `causal_reorders` (a segment released ahead of one captured before it),
//! `causal_window_late` (a handshake segment, or one acknowledged by a segment already
//! released, arrived after the window let that segment go: the reordering was wider than
//! the window; a spurious retransmission sent after its ACK was captured counts too), and
//! `causal_window_forced` (every held segment waited on another: forged segments; the
//! earliest captured goes).
//!
//! Cost: a segment `in_order.rs` proves in order (nearly all) is compared with none;
//! `tuples.rs` finds its 4-tuple's number by a hash, not a scan of the window. Without
//! them each segment was compared with every held and remembered one of its connection.
//!
//! Bounded: at most `causal_window + 1` segments are held (their indices lie within the
//! window), each at most one frame
//! (64 KiB); their buffers are reused. The 4-tuple entries are bounded by the window
//! (`tuples.rs`).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use super::tuples::Tuples;
use super::ReassemblyCounters;
use crate::time::Timestamp;
use crate::wire::{SeqNum, TcpFlags, TcpSegment};

/// Default of `ReassemblyLimits::causal_window`: covers packets each moved up to 5
/// positions from their place (swaps within a window of 6), two neighbours then being up to
/// 11 apart the wrong way round, with one to spare.
pub const CAUSAL_WINDOW: usize = 12;

/// A held segment older than this (by packet time) than the worker's clock is released at
/// the next tick, so a quiet live capture is not delayed further.
pub const CAUSAL_WINDOW_DELAY: Duration = Duration::from_millis(100);

/// Released segments are remembered while their capture position is within this many
/// windows of the newest segment pushed (`Tuple::released`): a segment is released
/// a window after its position, so this leaves one more window in which a late one is seen.
const RELEASED_REACH: u64 = 2;

/// Largest sequence distance read as causal (16 MiB): more than a window of frames can
/// carry, far less than the sequence space.
pub const CAUSAL_SEQ_REACH: i32 = 1 << 24;

/// What ordering needs to know of a segment.
#[derive(Clone, Copy, Debug)]
pub(super) struct Meta {
    pub(super) seq: SeqNum,
    pub(super) ack: SeqNum,
    pub(super) flags: TcpFlags,
    /// Sequence space occupied: payload, plus one each for SYN and FIN.
    pub(super) len: u32,
    /// The connection's number in this window: equal for every held and recently released
    /// segment of one 4-tuple (given by `CausalWindow::push`), so that ordering compares
    /// numbers, not addresses.
    pub(super) conn: u64,
    /// The 4-tuple's entry in `CausalWindow::tuples` (given with `conn`).
    pub(super) slot: u32,
    /// The direction within the connection: `src` is the 4-tuple's first source
    /// (`Tuple::src`; any fixed choice of the two does).
    pub(super) fwd: bool,
    /// `src == dst` (a connection to itself: both directions look alike).
    pub(super) self_loop: bool,
}

impl Meta {
    /// `seg`'s, sent the way `fwd` says (`Meta::fwd`); `conn` and `slot` are given later.
    fn of(seg: &TcpSegment<'_>, fwd: bool) -> Meta {
        let f = seg.flags;
        let payload = u32::try_from(seg.payload.len()).unwrap_or(u32::MAX);
        Meta {
            seq: SeqNum(seg.seq),
            ack: SeqNum(seg.ack),
            flags: f,
            len: payload
                .saturating_add(u32::from(f.syn))
                .saturating_add(u32::from(f.fin)),
            conn: 0,
            slot: 0,
            fwd,
            self_loop: seg.src == seg.dst,
        }
    }

    fn same_conn(&self, o: &Meta) -> bool {
        self.conn == o.conn
    }

    /// Of the same connection: sent the same way.
    fn same_dir(&self, o: &Meta) -> bool {
        self.self_loop || self.fwd == o.fwd
    }

    /// Whether `b` acknowledges all of `self`'s sequence space (other direction).
    fn acked_by(&self, b: &Meta) -> bool {
        self.len > 0
            && b.flags.ack
            && self.same_conn(b)
            && (self.self_loop || self.fwd != b.fwd)
            && within(b.ack.distance(self.seq + self.len))
    }
}

/// Where `part` starts in `batch`, when it lies wholly inside it: bytes of the worker's
/// batch of frames are kept by their place until the batch ends (the held segments here,
/// the retained bytes in `retained.rs`).
pub(super) fn position_in(batch: &[u8], part: &[u8]) -> Option<usize> {
    let (base, at) = (batch.as_ptr() as usize, part.as_ptr() as usize);
    (at >= base && at + part.len() <= base + batch.len()).then(|| at - base)
}

/// `0 <= d < CAUSAL_SEQ_REACH`.
fn within(d: i32) -> bool {
    (0..CAUSAL_SEQ_REACH).contains(&d)
}

/// Whether `a` was sent before `b` (see the module docs).
fn must_precede(a: &Meta, b: &Meta) -> bool {
    if !a.same_conn(b) || a.flags.rst {
        return false;
    }
    if a.same_dir(b) {
        let d = b.seq.distance(a.seq + a.len);
        // A segment without sequence space (an ACK) carries the sender's next sequence
        // number: it was sent before a segment that occupies space from there on, and
        // before an ACK with a higher number.
        return within(d) && (a.len > 0 || b.len > 0 || d > 0);
    }
    a.acked_by(b)
}

/// Where a held segment's payload is.
enum Payload {
    /// A copy of its own.
    Owned(Vec<u8>),
    /// `len` bytes at `at` in the batch of frames being processed (`push`'s `batch`):
    /// no copy while the batch lives; `detach` copies what is still held before it goes.
    InBatch { at: usize, len: usize },
}

/// A segment held by the window.
pub(super) struct Held {
    meta: Meta,
    src: SocketAddr,
    dst: SocketAddr,
    payload: Payload,
    auth_option: bool,
    timestamp: Option<(u32, u32)>,
    window: u16,
    /// Proven to precede none of its connection's segments captured before it
    /// (`in_order.rs`).
    proven: bool,
    pub(super) index: u64,
    pub(super) ts: Timestamp,
}

impl Held {
    /// The segment; `batch` is the batch of frames `push` was given (any slice once the
    /// window was detached from it).
    pub(super) fn segment<'a>(&'a self, batch: &'a [u8]) -> TcpSegment<'a> {
        let m = &self.meta;
        let payload: &[u8] = match &self.payload {
            Payload::Owned(v) => v,
            Payload::InBatch { at, len } => {
                debug_assert!(at + len <= batch.len(), "a held segment outlived its batch");
                batch.get(*at..at + len).unwrap_or_default()
            }
        };
        TcpSegment {
            src: self.src,
            dst: self.dst,
            seq: m.seq.0,
            ack: m.ack.0,
            flags: m.flags,
            payload,
            auth_option: self.auth_option,
            timestamp: self.timestamp,
            window: self.window,
        }
    }
}

/// The window of one worker.
#[derive(Default)]
pub(super) struct CausalWindow {
    /// Held segments, in capture order.
    held: VecDeque<Held>,
    /// Payload buffers to reuse.
    spare: Vec<Vec<u8>>,
    /// Scratch list of one connection's held segments (`pop_for`), kept for its buffer.
    mine: Vec<usize>,
    /// Each 4-tuple in the window (`Meta::slot`): its number, its held count, its released
    /// segments within reach (what a late segment is checked against: kept by position,
    /// not by count, so that a connection's released segments are the same whatever
    /// other connections share the worker; a count of the last few let one worker forget
    /// what three workers remembered, `pipeline` fuzz finding) and the bounds that spare
    /// most segments the comparisons (`in_order.rs`).
    tuples: Tuples,
    /// The highest position pushed.
    latest: u64,
    /// How far back released segments are remembered, in positions (`RELEASED_REACH`
    /// windows, of the limit last pushed with).
    reach: u64,
    /// Compare every segment, as if none were proven (tests: the shortcut must not change
    /// what is released).
    compare_all: bool,
}

impl CausalWindow {
    /// Takes `seg` (its payload by position when it lies in `batch`, else a copy),
    /// counting it late if a released segment needed it first. Before the bytes of
    /// `batch` change, `detach` from it. Positions (`index`) rise from push to push, and
    /// what is due is taken (`pop_full`) after each: `in_order.rs` relies on both.
    pub(super) fn push(
        &mut self,
        seg: &TcpSegment<'_>,
        batch: &[u8],
        index: u64,
        ts: Timestamp,
        limit: usize,
        c: &mut ReassemblyCounters,
    ) {
        let reach = (limit as u64).saturating_mul(RELEASED_REACH);
        self.reach = reach;
        self.latest = self.latest.max(index);
        self.tuples.expire(self.latest, reach);
        // Every held or recently released segment of a 4-tuple has one number: its
        // entry's, or a new one.
        let (slot, known) = self.tuples.enter(seg.src, seg.dst, self.latest, reach);
        let compare_all = self.compare_all;
        let Some(tuple) = self.tuples.get_mut(slot) else {
            debug_assert!(false, "enter gave slot {slot} with no entry");
            return;
        };
        let mut meta = Meta::of(seg, seg.src == tuple.src);
        meta.conn = tuple.conn;
        meta.slot = slot;
        let proven = tuple.bounds.take(&meta, index, limit) && !compare_all;
        tuple.hold(index, proven);
        // A SYN or SYN-ACK after a segment of its connection it must precede, or a segment
        // that a released one acknowledges: the window was too small for this reordering.
        // (Same-direction data is left out: a retransmission cannot be told from it, and
        // the out-of-order buffer absorbs it.) A new number has no released segment, a
        // pure ACK (no SYN, no sequence space) is acknowledged by none, and a proven
        // segment must precede none.
        let late = !proven
            && known
            && (meta.flags.syn || meta.len > 0)
            && tuple
                .released(self.latest, reach)
                .any(|r| must_precede(&meta, r) && (meta.flags.syn || meta.acked_by(r)));
        if late {
            c.causal_window_late += 1;
        }
        // Payload bytes inside `batch` stay there (the usual case: a worker's batch of
        // frames); any other (a single frame, a payload made by the decoder) is copied.
        let payload = match position_in(batch, seg.payload) {
            Some(at) => Payload::InBatch {
                at,
                len: seg.payload.len(),
            },
            None => Payload::Owned(self.copy(seg.payload)),
        };
        self.held.push_back(Held {
            meta,
            src: seg.src,
            dst: seg.dst,
            payload,
            auth_option: seg.auth_option,
            timestamp: seg.timestamp,
            window: seg.window,
            proven,
            index,
            ts,
        });
    }

    /// The next segment to process once one held is `limit` capture positions older than
    /// `latest` (the newest packet index seen). Capture positions, not a count of the
    /// segments this worker holds: the same segments are due whatever the number of
    /// workers the connections are spread over (with one worker the two agree).
    pub(super) fn pop_full(
        &mut self,
        latest: u64,
        limit: usize,
        c: &mut ReassemblyCounters,
    ) -> Option<Held> {
        let limit64 = limit as u64;
        let due = |h: &Held| h.index.saturating_add(limit64) <= latest;
        // Held segments are in capture order, so the first is the oldest: when it is not
        // due, none is (what every packet asks twice, `on_segment_in`).
        let front = self.held.front()?;
        if !due(front) {
            return None;
        }
        // Nearly always every later held segment of its connection is proven to precede
        // none before it: it goes, with no search.
        if self.others_proven(front) {
            let h = self.held.pop_front()?;
            self.released(&h);
            return Some(h);
        }
        self.pop_for(due, c)
    }

    /// The next segment to process at a pipeline tick: one `limit` capture positions older
    /// than `latest`, or stamped before the tick's time `before`. Everything captured
    /// before the tick is then processed before it, on every worker alike (the tick is when
    /// the processors decide which HAR entries completed before it): a reordering that
    /// straddles a tick is not undone.
    pub(super) fn pop_at_tick(
        &mut self,
        latest: u64,
        before: Timestamp,
        limit: usize,
        c: &mut ReassemblyCounters,
    ) -> Option<Held> {
        let limit64 = limit as u64;
        self.pop_for(
            |h| h.index.saturating_add(limit64) <= latest || h.ts < before,
            c,
        )
    }

    /// The next segment to process once one held is `CAUSAL_WINDOW_DELAY` older than
    /// `now` (by packet time): the capture went quiet around it.
    pub(super) fn pop_aged(&mut self, now: Timestamp, c: &mut ReassemblyCounters) -> Option<Held> {
        self.pop_for(|h| now.since(h.ts) >= CAUSAL_WINDOW_DELAY, c)
    }

    /// The next segment to process, if any is held.
    pub(super) fn pop(&mut self, c: &mut ReassemblyCounters) -> Option<Held> {
        self.pop_for(|_| true, c)
    }

    /// The first held segment that is `due` decides the connection; of that connection's
    /// held segments, the earliest captured that no other must precede goes. Only the
    /// connection's own segments are looked at, so what a connection sees does not depend
    /// on which other connections share its worker.
    fn pop_for(&mut self, due: impl Fn(&Held) -> bool, c: &mut ReassemblyCounters) -> Option<Held> {
        let first = self.held.iter().position(due)?;
        let conn = self.held[first].meta;
        let held = &self.held;
        // Nearly always the first due segment is the oldest held, and every later one of
        // its connection is proven to precede none before it: it goes, with no comparison.
        // Else, when its connection has no earlier held segment and none held must precede
        // it, it goes, found in one pass with no list built.
        let goes = (first == 0 && self.others_proven(&held[first]))
            || (held.iter().take(first).all(|h| !h.meta.same_conn(&conn))
                && !held
                    .iter()
                    .skip(first + 1)
                    .any(|h| must_precede(&h.meta, &conn)));
        let at = if goes {
            first
        } else {
            let mine = &mut self.mine;
            mine.clear();
            mine.extend((0..held.len()).filter(|&i| held[i].meta.same_conn(&conn)));
            let free = |i: usize| {
                let m = &held[i].meta;
                !mine
                    .iter()
                    .any(|&j| j != i && must_precede(&held[j].meta, m))
            };
            let at = match mine.iter().copied().find(|&i| free(i)) {
                Some(i) => i,
                None => {
                    c.causal_window_forced += 1;
                    mine.first().copied().unwrap_or(first)
                }
            };
            if mine.first().is_some_and(|&i| i != at) {
                c.causal_reorders += 1;
            }
            at
        };
        let h = self.held.remove(at)?;
        self.released(&h);
        Some(h)
    }

    /// Whether every held segment of `h`'s connection but `h` is proven to precede none
    /// captured before it.
    fn others_proven(&self, h: &Held) -> bool {
        self.tuples
            .get(h.meta.slot)
            .is_some_and(|t| t.others_proven(h.proven))
    }

    /// `h` left the held segments: its connection remembers it.
    fn released(&mut self, h: &Held) {
        if let Some(t) = self.tuples.get_mut(h.meta.slot) {
            t.release(h.meta, h.index, h.proven, self.latest, self.reach);
        }
    }

    /// A released segment's buffer, for reuse.
    pub(super) fn recycle(&mut self, h: Held) {
        if let Payload::Owned(v) = h.payload {
            if self.spare.len() < 4 && v.capacity() <= 1 << 16 {
                self.spare.push(v);
            }
        }
    }

    /// A copy of `bytes` in a reused buffer.
    fn copy(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut v = self.spare.pop().unwrap_or_default();
        v.clear();
        v.extend_from_slice(bytes);
        v
    }

    /// The batch `push` was given goes: the held segments whose payload is in it get a
    /// copy of their own (at most the window's size of them per batch, instead of every
    /// segment).
    pub(super) fn detach(&mut self, batch: &[u8]) {
        for i in 0..self.held.len() {
            if let Payload::InBatch { at, len } = self.held[i].payload {
                let v = self.copy(batch.get(at..at + len).unwrap_or_default());
                self.held[i].payload = Payload::Owned(v);
            }
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

#[cfg(test)]
#[path = "tests_window.rs"]
mod tests;
