//! One direction of a connection: TCP sequence numbers in, ordered bytes and gaps out.
//!
//! Sequence numbers are 32-bit and wrap (RFC 9293 §3.4, `wire::SeqNum`); internally every
//! byte has an absolute 64-bit stream offset (0 = first data byte), read from a sequence
//! number as the nearer of the two readings around the next expected byte, so a stream may
//! cross 2^32 any number of times. Signed offsets (`i64`) are before-the-start aware: a
//! negative one lies before offset 0.
//!
//! Policy (the one place it is decided):
//! - Bytes already delivered are never changed; a later copy is dropped. While the peer
//!   has not acknowledged them, delivered bytes are kept (`retained.rs`, bounded): a later
//!   copy is compared with them and differing bytes are counted (`overlap_conflicts`,
//!   `overlap_conflicts_delivered`) and reported (`Emit::conflict` with an offset before
//!   the next byte to deliver).
//! - For buffered (out-of-order) bytes the first copy received wins; later copies are
//!   compared and differing bytes are counted (`overlap_conflicts`), never substituted;
//!   the handler is told which bytes (`Emit::conflict`) before they are delivered, so the
//!   message they belong to is flagged.
//! - Missing bytes are delivered as a gap of N bytes, never spliced, and only when they can
//!   no longer come: the out-of-order limit is hit; the peer acknowledged them (the peer got
//!   them, the capture did not) and they are still missing `ACK_GAP_PATIENCE` segments
//!   later; the FIN is due (acknowledged, or at close); the connection closes (RST, idle,
//!   eviction, end of capture).
//! - The patience is there because captures reorder too: with several capture queues, an
//!   ACK can be captured before the data it acknowledges (Wireshark's "ACKed unseen
//!   segment"). Declaring the hole lost at the ACK would turn a late segment into a gap.
//!
//! Invariant: every buffered chunk starts after `next` (anything at `next` is delivered at
//! once). Checked with `debug_assert!`.

use super::ooo::OooBuffer;
use super::retained::{Retained, MAX_RETAINED_BYTES_PER_DIRECTION};
use super::ReassemblyCounters;
use crate::time::Timestamp;
use crate::wire::{signed_offset, SeqNum};

/// Largest distance ahead of the next expected byte that a segment or an ACK may be: the
/// largest TCP window (2^30 with window scaling, RFC 7323 §2.3). Beyond it a segment is
/// out of window (dropped, counted) and an ACK is ignored.
pub(crate) const MAX_WINDOW: u64 = 1 << 30;

/// `MAX_WINDOW` as a signed offset distance.
pub(crate) const MAX_WINDOW_SIGNED: i64 = 1 << 30;

/// Segments of the connection (either direction) after the peer acknowledged bytes this
/// direction is missing before they are declared lost. Covers capture reordering; the
/// out-of-order limits, `on_tick` and close still declare the hole earlier when they apply.
pub(crate) const ACK_GAP_PATIENCE: u32 = 16;

/// An acknowledged hole still open this long after it was seen is declared lost at the next
/// `on_tick`, for connections that go quiet before `ACK_GAP_PATIENCE` segments.
pub(crate) const ACK_GAP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// Where ordered output goes.
pub(crate) trait Emit {
    /// In-order bytes. `fresh`: they come straight from the segment being processed (not
    /// from the out-of-order buffer), so that segment's ACK applies to them.
    fn data(&mut self, data: &[u8], fresh: bool);
    fn gap(&mut self, len: u64);
    fn fin(&mut self);
    /// A later copy of the bytes `offset..offset + len` differed from the copy kept (the
    /// first): for buffered bytes, reported before they are delivered; for bytes already
    /// delivered (retained until acknowledged), `offset + len` is at or before the next
    /// byte to deliver.
    fn conflict(&mut self, offset: u64, len: u64);
    /// The worker's batch of frames the delivered bytes may lie in (`Retained::push` keeps
    /// such bytes by their place until the batch ends); empty when there is none.
    fn batch(&self) -> &[u8] {
        &[]
    }
}

/// Limits of one direction's buffer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HalfLimits {
    pub max_bytes: usize,
    pub max_chunks: usize,
    /// Delivered-but-unacknowledged bytes are kept for comparison (up to
    /// `MAX_RETAINED_BYTES_PER_DIRECTION`); false under memory pressure.
    pub retain: bool,
}

#[derive(Debug, Default)]
pub(crate) struct HalfStream {
    /// Sequence number of stream offset 0 (ISN+1 after a SYN; the first payload byte seen
    /// when picked up mid-stream). `None` until known.
    base: Option<SeqNum>,
    /// The ISN, when this direction's SYN was seen.
    isn: Option<SeqNum>,
    /// Offset of the next byte to deliver: everything before it was delivered as data or gap.
    next: u64,
    /// Offset of the FIN (the stream's length), once seen.
    fin: Option<u64>,
    /// `on_fin` was delivered.
    fin_done: bool,
    /// Highest offset the peer acknowledged.
    acked: Option<u64>,
    /// Before synchronisation: the highest sequence number the peer acknowledged.
    ack_hint: Option<SeqNum>,
    /// Lowest offset of this direction's bytes held back by the connection for causal
    /// order (see `reassembly::Held`): captured, so never declared lost.
    held_from: Option<u64>,
    /// Segments seen since the peer acknowledged bytes this direction is missing (while
    /// later bytes wait), and the packet time when that was first seen; `None` while there
    /// is no such hole.
    ack_hole_wait: Option<(u32, Timestamp)>,
    ooo: OooBuffer,
    /// Delivered bytes the peer has not acknowledged yet, to compare later copies with.
    /// Boxed: a connection that never carries a byte (a SYN scan) pays one pointer.
    retained: Option<Box<Retained>>,
    /// The most bytes the last retained range held (`Retained::with_hint`), kept when the
    /// range's allocation goes.
    retained_hint: u32,
    /// `HalfLimits::retain` at the last segment (deliveries outside `on_payload`, at a
    /// gap or a close, follow it too).
    retain: bool,
}

impl HalfStream {
    pub(crate) fn isn(&self) -> Option<SeqNum> {
        self.isn
    }

    pub(crate) fn is_synchronised(&self) -> bool {
        self.base.is_some()
    }

    /// A FIN was seen in this direction.
    pub(crate) fn fin_seen(&self) -> bool {
        self.fin.is_some()
    }

    /// `on_fin` was delivered.
    pub(crate) fn finished(&self) -> bool {
        self.fin_done
    }

    /// This direction's SYN: data starts at `isn + 1`. Once synchronised (picked up
    /// mid-stream, the SYN captured late) only the ISN is recorded, when the SYN lies at or
    /// before the stream start, so that its retransmissions are recognised.
    pub(crate) fn on_syn(&mut self, isn: SeqNum) {
        if self.base.is_none() {
            self.isn = Some(isn);
            self.base = Some(isn + 1u32);
        } else if self.isn.is_none() && self.offset_of(isn + 1u32).is_some_and(|off| off <= 0) {
            self.isn = Some(isn);
        }
    }

    /// Synchronises without a SYN: offset 0 is at `seq`, or earlier at the peer's ACK
    /// hint when that lies within a window before `seq` (see `on_ack_hint`). Ignored once
    /// synchronised.
    pub(crate) fn sync_at(&mut self, seq: SeqNum) {
        if self.base.is_none() {
            // The hint counts when `seq` is after it by less than a window.
            let within = |h: SeqNum| (1..MAX_WINDOW_SIGNED).contains(&i64::from(seq.distance(h)));
            self.base = match self.ack_hint {
                Some(h) if within(h) => Some(h),
                _ => Some(seq),
            };
        }
    }

    /// Before this direction is synchronised (picked up mid-stream), the peer acknowledged
    /// everything before `ack`: this direction's next new byte is at `ack`. When the first
    /// segment captured starts later than that (the capture reordered it ahead of the ones
    /// before it), the stream starts at the hint and the bytes between are awaited like
    /// any out-of-order hole, instead of being lost.
    pub(crate) fn on_ack_hint(&mut self, ack: SeqNum) {
        if self.base.is_none() {
            let later = self.ack_hint.is_none_or(|h| ack > h);
            if later {
                self.ack_hint = Some(ack);
            }
        }
    }

    /// The absolute offset of `seq` (negative: before the stream start), taking the nearer
    /// of the two readings around the next expected byte.
    pub(crate) fn offset_of(&self, seq: SeqNum) -> Option<i64> {
        let next_seq = self.base?.plus_offset(self.next);
        Some(seq.offset(next_seq, self.next))
    }

    /// A segment's payload, starting at sequence number `seq`.
    pub(crate) fn on_payload(
        &mut self,
        seq: SeqNum,
        data: &[u8],
        lim: HalfLimits,
        c: &mut ReassemblyCounters,
        out: &mut impl Emit,
    ) {
        let Some(start) = self.offset_of(seq) else {
            return;
        };
        self.retain = lim.retain;
        if !lim.retain {
            self.retained = None;
        }
        let next = signed_offset(self.next);
        let end = start.saturating_add(signed_offset(data.len() as u64));
        if start < next {
            // A later copy of delivered bytes: compared with the retained copy.
            let upto = usize::try_from(next.min(end) - start).unwrap_or(usize::MAX);
            self.compare_delivered(start, data.get(..upto).unwrap_or(data), c, out);
        }
        if end <= next {
            c.retransmitted_segments += 1;
            return;
        }
        if self.fin_done {
            c.data_after_fin += 1;
            return;
        }
        if start > next + MAX_WINDOW_SIGNED {
            c.out_of_window_segments += 1;
            return;
        }
        // `end > next >= 0`.
        let Ok(end) = u64::try_from(end) else {
            return;
        };
        // Bytes of `data` between two absolute offsets (both within [start, end]).
        let index = |a: u64| usize::try_from(signed_offset(a) - start).unwrap_or(usize::MAX);
        let piece = |a: u64, b: u64| -> &[u8] { data.get(index(a)..index(b)).unwrap_or(&[]) };
        let mut overlapped = start < next;
        let mut fresh = false;
        let mut buffered = false;
        let mut conflicts = 0u64;
        // The first byte not yet delivered: `max(start, next)`.
        let mut cur = u64::try_from(start).map_or(self.next, |s| s.max(self.next));
        while cur < end {
            if cur < self.next {
                // A forced gap or a flush moved past these bytes.
                cur = self.next;
                continue;
            }
            if let Some((cstart, cend)) = self.ooo.containing(cur) {
                // Already buffered: the first copy wins; compare to count conflicts.
                let upto = cend.min(end);
                overlapped = true;
                let differing = self.ooo.count_differences(cur, piece(cur, upto));
                if differing > 0 {
                    conflicts += differing;
                    out.conflict(cur, upto - cur);
                }
                cur = upto;
                if cstart == self.next {
                    self.flush_one(c, out);
                }
                continue;
            }
            let hole_end = self.ooo.next_start_from(cur).map_or(end, |n| n.min(end));
            if cur == self.next {
                // In order: straight from the packet, no copy.
                fresh = true;
                self.deliver(piece(cur, hole_end), true, c, out);
                cur = hole_end;
                continue;
            }
            let len = usize::try_from(hole_end - cur).unwrap_or(usize::MAX);
            if self.ooo.can_insert(cur, len, lim.max_bytes, lim.max_chunks) {
                fresh = true;
                buffered = true;
                self.ooo.insert(cur, piece(cur, hole_end));
                cur = hole_end;
                continue;
            }
            // Out-of-order limit: the earliest hole is declared lost. What follows it (the
            // first buffered byte, or this piece if it comes first) is then in order.
            c.ooo_limit_hits += 1;
            let to = self.ooo.first_start().map_or(cur, |f| f.min(cur));
            self.gap(to - self.next, c, out);
            self.flush(c, out);
        }
        self.flush(c, out);
        if !fresh {
            c.retransmitted_segments += 1;
        } else if overlapped {
            c.overlapping_segments += 1;
        }
        if buffered {
            c.out_of_order_segments += 1;
        }
        if conflicts > 0 {
            c.overlap_conflicts += 1;
            c.overlap_conflict_bytes += conflicts;
        }
        self.check_fin(out);
    }

    /// The FIN, at sequence number `seq` (after the segment's payload).
    pub(crate) fn on_fin(&mut self, seq: SeqNum, c: &mut ReassemblyCounters, out: &mut impl Emit) {
        let Some(off) = self.offset_of(seq) else {
            return;
        };
        if off > signed_offset(self.next) + MAX_WINDOW_SIGNED {
            c.out_of_window_segments += 1;
            return;
        }
        match self.fin {
            Some(_) => c.retransmitted_fins += 1,
            // A FIN before the stream start is at the start.
            None => self.fin = Some(u64::try_from(off).unwrap_or(0)),
        }
        self.check_fin(out);
    }

    /// The peer acknowledged everything before sequence number `ack` of this direction.
    /// When that covers bytes we are missing while holding later ones (buffered data or
    /// the FIN), those bytes will not be retransmitted: they become a gap once they are
    /// still missing `ACK_GAP_PATIENCE` segments later (see `on_segment_seen`).
    pub(crate) fn on_peer_ack(&mut self, ack: SeqNum) {
        // Before the stream start (negative) or beyond a window: ignored.
        let Some(Ok(off)) = self.offset_of(ack).map(u64::try_from) else {
            return;
        };
        if off > self.next + MAX_WINDOW {
            return;
        }
        if self.acked.is_none_or(|a| off > a) {
            self.acked = Some(off);
            // The receiver has these bytes: a later copy cannot change what it kept.
            // All released: the allocation goes too (an idle connection holds none).
            if self
                .retained
                .as_deref_mut()
                .is_some_and(|r| r.release_to(off))
            {
                if let Some(r) = self.retained.take() {
                    self.retained_hint = u32::try_from(r.hint()).unwrap_or(u32::MAX);
                }
            }
        }
    }

    /// `data`, a later copy of bytes starting at `start` before the next byte to deliver,
    /// against the retained copy: differing bytes are counted and reported.
    fn compare_delivered(
        &mut self,
        start: i64,
        data: &[u8],
        c: &mut ReassemblyCounters,
        out: &mut impl Emit,
    ) {
        if let Some(d) = self
            .retained
            .as_deref()
            .and_then(|r| r.compare(start, data, out.batch()))
        {
            c.overlap_conflicts += 1;
            c.overlap_conflicts_delivered += 1;
            c.overlap_conflict_bytes += d.count;
            // After the FIN no message of this direction is left to flag: counted only.
            if !self.fin_done {
                out.conflict(d.first, d.end - d.first);
            }
        }
    }

    /// Where a RST (or, with `fin`, a FIN) at `seq` from this direction's sender lies
    /// relative to what it can have sent: `Some(true)` when between what the receiver
    /// acknowledged (for a FIN: what was delivered, since no byte follows a FIN) and
    /// `window` past the furthest byte or FIN known; `None` before synchronisation
    /// (nothing to judge by). RFC 5961 §3.2 and §5.2 in spirit: the observer does not know
    /// the receiver's window, so `window` stands for it.
    pub(crate) fn control_in_window(&self, seq: SeqNum, fin: bool, window: u64) -> Option<bool> {
        let off = self.offset_of(seq)?;
        let acked = self.acked.unwrap_or(0);
        let lo = if fin { self.next } else { acked.min(self.next) };
        let known = [
            self.next,
            acked,
            self.ooo.last_end().unwrap_or(0),
            self.fin.map_or(0, |f| f + 1),
        ];
        let hi = known.into_iter().max().unwrap_or(0).saturating_add(window);
        Some(off >= signed_offset(lo) && off <= signed_offset(hi))
    }

    /// The offset just past the furthest byte seen (delivered or buffered).
    fn seen_end(&self) -> i64 {
        signed_offset(self.next.max(self.ooo.last_end().unwrap_or(0)))
    }

    /// A keep-alive probe: no byte or one, at the sender's next sequence number minus one
    /// (RFC 9293 §3.8.4), before any FIN.
    pub(crate) fn is_keepalive(&self, seq: SeqNum, len: usize) -> bool {
        len <= 1
            && self.fin.is_none()
            && self
                .offset_of(seq)
                .is_some_and(|off| off == self.seen_end() - 1)
    }

    /// One new byte right after the furthest seen: a zero-window probe when the receiver's
    /// window is closed (RFC 9293 §3.8.6.1).
    pub(crate) fn is_window_probe(&self, seq: SeqNum, len: usize) -> bool {
        len == 1
            && self.fin.is_none()
            && self
                .offset_of(seq)
                .is_some_and(|off| off == self.seen_end())
    }

    /// Offset of the next byte to deliver: everything before it was delivered (as data or
    /// gap).
    pub(crate) fn delivered(&self) -> u64 {
        self.next
    }

    /// When the other direction acknowledges `ack` of this one and that is beyond what
    /// this direction has delivered (within a window), the offset it acknowledges: the
    /// other direction's segment was sent after these bytes arrived.
    pub(crate) fn lagging_offset(&self, ack: SeqNum) -> Option<u64> {
        if self.fin_done {
            return None;
        }
        let off = u64::try_from(self.offset_of(ack)?).ok()?;
        (off > self.next && off - self.next < MAX_WINDOW).then_some(off)
    }

    /// True when the peer acknowledged bytes this direction is missing while later bytes
    /// (buffered data or the FIN) wait behind them.
    fn has_acked_hole(&self) -> bool {
        let fin_pending = self.fin.is_some_and(|f| f > self.next);
        !self.fin_done
            && self.acked.is_some_and(|a| a > self.next)
            && (!self.ooo.is_empty() || fin_pending)
    }

    /// A segment of the connection was processed: counts down the patience of an
    /// acknowledged hole and declares it lost when it runs out.
    pub(crate) fn on_segment_seen(
        &mut self,
        ts: Timestamp,
        c: &mut ReassemblyCounters,
        out: &mut impl Emit,
    ) {
        if !self.has_acked_hole() {
            self.ack_hole_wait = None;
            return;
        }
        let (waited, since) = self.ack_hole_wait.map_or((0, ts), |(w, t)| (w + 1, t));
        self.ack_hole_wait = Some((waited, since));
        if waited >= ACK_GAP_PATIENCE {
            self.declare_acked_hole(c, out);
        }
    }

    /// Time advanced (`ConnTable::on_tick`): an acknowledged hole open for at least
    /// `ACK_GAP_TIMEOUT` is lost (the connection went quiet before the patience ran out).
    pub(crate) fn on_tick(
        &mut self,
        now: Timestamp,
        c: &mut ReassemblyCounters,
        out: &mut impl Emit,
    ) {
        let expired = self
            .ack_hole_wait
            .is_some_and(|(_, since)| now.since(since) >= ACK_GAP_TIMEOUT);
        if expired && self.has_acked_hole() {
            self.declare_acked_hole(c, out);
        }
    }

    /// The other direction sent a segment after receiving everything before `target` of
    /// this one, and the bytes it acknowledged never came: they are lost (delivered as
    /// gaps, with any buffered data in between).
    pub(crate) fn declare_lost_to(
        &mut self,
        target: u64,
        c: &mut ReassemblyCounters,
        out: &mut impl Emit,
    ) {
        let target = self.held_from.map_or(target, |h| target.min(h));
        if self.fin_done || target <= self.next {
            return;
        }
        let target = self.fin.map_or(target, |f| target.min(f));
        let before = c.gap_bytes;
        self.release_to(target, c, out);
        if c.gap_bytes > before {
            c.ack_gaps += 1;
        }
        self.check_fin(out);
    }

    fn declare_acked_hole(&mut self, c: &mut ReassemblyCounters, out: &mut impl Emit) {
        self.ack_hole_wait = None;
        let Some(acked) = self.acked else {
            return;
        };
        // An ACK of the FIN is one past it (the FIN takes a sequence number).
        let target = self.fin.map_or(acked, |f| acked.min(f));
        let target = self.held_from.map_or(target, |h| target.min(h));
        let before = c.gap_bytes;
        self.release_to(target, c, out);
        if c.gap_bytes > before {
            c.ack_gaps += 1;
        }
        self.check_fin(out);
    }

    /// Heap memory of the out-of-order buffer and the retained bytes (for the memory
    /// budget).
    pub(crate) fn mem_bytes(&self) -> usize {
        self.ooo.mem_bytes()
            + self
                .retained
                .as_deref()
                .map_or(0, |r| std::mem::size_of::<Retained>() + r.mem_bytes())
    }

    /// Heap memory of the out-of-order buffer alone.
    pub(crate) fn buffered_mem_bytes(&self) -> usize {
        self.ooo.mem_bytes()
    }

    /// Whether retained bytes are still in the batch of frames (`detach_retained` is due
    /// before it goes).
    pub(crate) fn retained_in_batch(&self) -> bool {
        self.retained.as_deref().is_some_and(Retained::in_batch)
    }

    /// The batch of frames goes: the retained bytes still in it are copied.
    pub(crate) fn detach_retained(&mut self, batch: &[u8]) {
        if let Some(r) = self.retained.as_deref_mut() {
            r.detach(batch);
        }
    }

    /// The memory budget ran out: the retained bytes go (later copies of them are no
    /// longer compared; nothing else is lost). Returns whether any were held.
    pub(crate) fn release_retained(&mut self) -> bool {
        self.retain = false;
        self.retained.take().is_some()
    }

    /// The memory budget ran out: every buffered byte is released now, the holes before
    /// them delivered as gaps (as the out-of-order limit does, for the whole buffer).
    pub(crate) fn release_buffered(&mut self, c: &mut ReassemblyCounters, out: &mut impl Emit) {
        if self.ooo.is_empty() {
            return;
        }
        if self.fin_done {
            // Bytes buffered beyond the FIN can never be delivered: drop them.
            self.ooo = OooBuffer::default();
            return;
        }
        self.release_to(u64::MAX, c, out);
        self.check_fin(out);
    }

    pub(crate) fn held_from(&self) -> Option<u64> {
        self.held_from
    }

    /// Sets the lowest offset of this direction's causally held bytes (`None`: none held).
    pub(crate) fn set_held_from(&mut self, off: Option<u64>) {
        self.held_from = off;
    }

    /// The connection is closing: deliver what is buffered with gaps for the holes, then
    /// the bytes the peer acknowledged but the capture lost, up to the FIN when it is known.
    pub(crate) fn close(&mut self, c: &mut ReassemblyCounters, out: &mut impl Emit) {
        if self.fin_done {
            return;
        }
        let before = c.gap_bytes;
        self.release_to(u64::MAX, c, out);
        if let Some(tail) = self.fin.or(self.acked) {
            self.release_to(tail, c, out);
        }
        if c.gap_bytes > before {
            c.close_gaps += 1;
        }
        self.check_fin(out);
    }

    /// Delivers everything up to `target` (or, with `u64::MAX`, everything buffered),
    /// with gaps for the holes.
    fn release_to(&mut self, target: u64, c: &mut ReassemblyCounters, out: &mut impl Emit) {
        while self.next < target {
            let to = match self.ooo.first_start() {
                Some(f) => f.min(target),
                None if target == u64::MAX => break,
                None => target,
            };
            self.gap(to - self.next, c, out);
            self.flush(c, out);
        }
    }

    fn deliver(
        &mut self,
        data: &[u8],
        fresh: bool,
        c: &mut ReassemblyCounters,
        out: &mut impl Emit,
    ) {
        if data.is_empty() {
            return;
        }
        out.data(data, fresh);
        if self.retain {
            let hint = self.retained_hint as usize;
            let r = self
                .retained
                .get_or_insert_with(|| Box::new(Retained::with_hint(hint)));
            if r.push(
                self.next,
                data,
                MAX_RETAINED_BYTES_PER_DIRECTION,
                out.batch(),
            ) {
                c.retained_limit_hits += 1;
            }
        }
        self.next += data.len() as u64;
        c.bytes_delivered += data.len() as u64;
    }

    fn gap(&mut self, len: u64, c: &mut ReassemblyCounters, out: &mut impl Emit) {
        if len == 0 {
            return;
        }
        out.gap(len);
        self.next += len;
        c.gaps += 1;
        c.gap_bytes += len;
    }

    /// Delivers the first buffered chunk if it starts at `next`.
    fn flush_one(&mut self, c: &mut ReassemblyCounters, out: &mut impl Emit) -> bool {
        match self.ooo.pop_at(self.next) {
            Some(chunk) => {
                self.deliver(&chunk, false, c, out);
                true
            }
            None => false,
        }
    }

    /// Delivers the buffered chunks that are now in order.
    fn flush(&mut self, c: &mut ReassemblyCounters, out: &mut impl Emit) {
        while self.flush_one(c, out) {}
        debug_assert!(self.ooo.first_start().is_none_or(|f| f > self.next));
    }

    fn check_fin(&mut self, out: &mut impl Emit) {
        if let Some(f) = self.fin {
            if !self.fin_done && self.next >= f {
                self.fin_done = true;
                out.fin();
            }
        }
    }
}
