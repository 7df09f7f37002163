//! Causal holding: a segment that acknowledges bytes of the other direction which have not
//! been delivered yet waits for them.
//!
//! The capture reordered it ahead of them (it was sent after they were received).
//! Delivering it now would show the HTTP layer, say, a response before its request. It
//! waits until the other direction has delivered up to its ACK, for at most
//! `half::ACK_GAP_PATIENCE` segments of the connection or `half::ACK_GAP_TIMEOUT`, and at
//! most `HalfLimits::max_bytes` bytes per connection (the caller checks that limit).
//!
//! What it does not do: reorder within a direction (`half.rs` does), or wait for bytes the
//! capture lost: when patience runs out the other direction's missing bytes are declared a
//! gap before the held segment is delivered, so the HTTP layer sees the loss first.

use super::conn::{deliver, Conn, Env};
use super::half::{HalfLimits, HalfStream, ACK_GAP_PATIENCE, ACK_GAP_TIMEOUT};
use super::{HandlerFactory, ReassemblyCounters, StreamHandler};
use crate::model::Direction;
use crate::time::Timestamp;
use crate::wire::SeqNum;

/// A segment held back for causal order.
pub(super) struct Held {
    pub(super) dir: Direction,
    /// Sequence number of the first payload byte.
    pub(super) seq: SeqNum,
    pub(super) payload: Box<[u8]>,
    pub(super) fin: bool,
    pub(super) ts: Timestamp,
    /// The other direction's stream offset this segment acknowledges.
    pub(super) needs: u64,
    /// Segments of the connection seen since it was held.
    pub(super) waited: u32,
}

/// The stream offset of `seq` in `half`, counting bytes before the stream start as at it.
fn held_offset(half: &HalfStream, seq: SeqNum) -> Option<u64> {
    half.offset_of(seq).map(|o| u64::try_from(o).unwrap_or(0))
}

impl<H: StreamHandler> Conn<H> {
    /// Holds a segment of direction `dir` until the other direction has delivered up to
    /// `needs`, and lowers the direction's `held_from` (held bytes are captured, so never
    /// declared lost).
    pub(super) fn hold(
        &mut self,
        dir: Direction,
        seq: SeqNum,
        payload: &[u8],
        fin: bool,
        ts: Timestamp,
        needs: u64,
    ) {
        self.held.push(Held {
            dir,
            seq,
            payload: payload.into(),
            fin,
            ts,
            needs,
            waited: 0,
        });
        let me = &mut self.halves[dir.index()];
        let from = held_offset(me, seq);
        if from.is_some_and(|f| me.held_from().is_none_or(|h| f < h)) {
            me.set_held_from(from);
        }
    }

    /// Recomputes each direction's lowest causally held offset.
    fn update_held_from(&mut self) {
        for dir in [Direction::ToServer, Direction::ToClient] {
            let half = &mut self.halves[dir.index()];
            let from = self
                .held
                .iter()
                .filter(|h| h.dir == dir)
                .filter_map(|h| held_offset(half, h.seq))
                .min();
            half.set_held_from(from);
        }
    }

    /// Delivers the held segments whose acknowledged bytes have now been delivered, whose
    /// patience ran out, or that are older than `ACK_GAP_TIMEOUT` at `now` (on ticks); with
    /// `now == Some(Timestamp(i64::MAX))`, all of them (close). Repeats while releasing one
    /// lets another go.
    pub(super) fn release_held<F: HandlerFactory<Handler = H>>(
        &mut self,
        env: &mut Env<'_, F>,
        c: &mut ReassemblyCounters,
        lim: HalfLimits,
        now: Option<Timestamp>,
    ) {
        loop {
            let halves = &self.halves;
            let ready = self.held.iter().position(|h| {
                let peer = &halves[h.dir.reverse().index()];
                peer.delivered() >= h.needs
                    || h.waited >= ACK_GAP_PATIENCE
                    || now.is_some_and(|n| n.since(h.ts) >= ACK_GAP_TIMEOUT)
            });
            let Some(i) = ready else {
                break;
            };
            let h = self.held.remove(i);
            self.update_held_from();
            let peer = &mut self.halves[h.dir.reverse().index()];
            if peer.delivered() < h.needs {
                // The bytes it acknowledges will not come: the capture lost them. Say so on
                // the other direction first, so the HTTP layer sees the loss before this
                // segment (a response after a lost request is then not paired with the next).
                c.causal_hold_expired += 1;
                let mut out = self.app.emitter(env, h.dir.reverse(), h.ts, None);
                peer.declare_lost_to(h.needs, c, &mut out);
            }
            let me = &mut self.halves[h.dir.index()];
            let mut out = self.app.emitter(env, h.dir, h.ts, Some(h.needs));
            deliver(me, h.seq, &h.payload, h.fin, lim, c, &mut out);
        }
        if self.held.is_empty() && self.held.capacity() > 0 {
            self.held = Vec::new();
        }
    }
}
