//! TCP reassembly: segments in, per-direction ordered byte streams out, with missing bytes
//! delivered as gaps of N bytes, never spliced.
//!
//! `ConnTable` keys connections by their 4-tuple (both directions map to one connection),
//! decides which side is the client, orders each direction's bytes, and calls the
//! connection's `StreamHandler` (made by a `HandlerFactory`, as gopacket's StreamFactory).
//! Every buffer is bounded by `ReassemblyLimits`; hitting a limit is counted.
//!
//! Control segments are validated the way the receiving stack would (`control.rs`): a RST
//! or FIN that fails PAWS (RFC 7323), lies outside its sender's sequence window (RFC 5961),
//! does not acknowledge the SYN in the handshake, or carries an unexpected TCP-MD5/TCP-AO
//! option, is counted by reason and ignored.
//!
//! What it does not do: validate checksums or data segments' windows (a passive observer
//! sees retransmissions and reordering the receiver drops harmlessly),
//! reassemble IP fragments, or know any application protocol: at a connection's first
//! packet without a handshake, the factory is asked which end sent the payload
//! (`HandlerFactory::probe_role`, see `server_is_dst`); bytes are never looked at after that.
//!
//! Policy, in one place (`half.rs` implements it):
//! - Bytes already delivered are never changed. For buffered bytes the first copy received
//!   wins; overlaps are counted and differing content is counted as a conflict.
//! - Missing bytes are delivered as `on_gap(len)` only once they cannot come any more: the
//!   out-of-order limit is hit, the peer acknowledged them, the FIN is acknowledged, or the
//!   connection closes (RST, idle, eviction, reuse, end of capture).
//! - Data is delivered with the packet time of the segment that completed it (at a close
//!   not caused by a packet: the clock `now`), and, when it comes straight from a segment,
//!   after that segment's ACK as an offset of the other direction (`on_ack`).
//!
//! Lifecycle: a connection opens at a SYN or at a segment with payload (pure ACKs, bare
//! FINs and RSTs never open one; data on a SYN, TCP Fast Open, is the stream's start). Its handler is created at its first byte, gap or FIN, so a
//! SYN-only connection (scan, flood) costs a fixed ~0.5 KB and no handler call. It ends at
//! both FINs delivered, a RST, the idle timeout, eviction (`max_connections`, least
//! recently active first), a new SYN on its 4-tuple, or end of capture. 4-tuples closed by
//! FIN or RST are remembered for `RECENTLY_CLOSED_LINGER` so stragglers do not reopen them.
//!
//! Invariants: `index`, `slots` and the recency list hold exactly the same connections;
//! the recency list is ordered by `now` of each connection's last packet (most recent
//! first), which makes eviction O(1) and the idle scan proportional to what it closes.
//!
//! Layout: `window.rs` releases the last few segments in causal order (capture reordering
//! by a few positions, undone before any connection sees them), with `tuples.rs` (its
//! 4-tuples) and `in_order.rs` (the bounds that spare in-order segments its comparisons);
//! `table.rs` finds, opens,
//! evicts, times out and closes connections and keeps the memory budget; `conn.rs` applies
//! one segment to its connection (keep-alive and zero-window probes are not data) and
//! emits to the handler; `control.rs` judges RSTs and FINs; `causal.rs` holds segments that
//! acknowledge bytes not delivered yet; `role.rs` picks the client; `half.rs` orders one
//! direction (sequence numbers are `wire::SeqNum`); `ooo.rs` is its out-of-order buffer.
//!
//! SYNs on a tracked 4-tuple (`table.rs`): the client's SYN again or captured late is the
//! same connection; a client SYN with a new ISN before any SYN-ACK or byte replaces the
//! first attempt; the server's SYN without ACK then is a simultaneous open; any other SYN
//! starts a new connection (`Reused`).
//!
//! Mid-stream pickup: a direction with no SYN seen starts at its first segment with
//! payload (or FIN); bytes before that point, if they arrive later, are dropped as old.
//! The HTTP layer resynchronises at the next message start.

mod causal;
mod conn;
mod control;
mod half;
mod in_order;
mod ooo;
mod retained;
mod role;
mod table;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_cases;
#[cfg(test)]
mod tests_control;
#[cfg(test)]
mod tests_gaps;
#[cfg(test)]
mod tests_lifetime;
#[cfg(test)]
mod tests_retained;
mod tuples;
mod window;

use std::time::Duration;

pub use control::CONTROL_WINDOW;
pub use retained::MAX_RETAINED_BYTES_PER_DIRECTION;
pub use role::{server_is_dst, Role};
pub use table::ConnTable;
pub use window::{CAUSAL_SEQ_REACH, CAUSAL_WINDOW, CAUSAL_WINDOW_DELAY};

use crate::model::{ConnInfo, Direction};
use crate::time::Timestamp;

/// Why a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// Both directions finished with FIN.
    Fin,
    /// A RST was seen.
    Reset,
    /// No packet for `idle_timeout`.
    Idle,
    /// Evicted to stay within `max_connections`.
    Evicted,
    /// A new connection (SYN) reused the 4-tuple.
    Reused,
    /// The capture ended.
    EndOfCapture,
}

/// Receives one connection's reassembled streams. Calls for one direction come in stream
/// order; `on_close` is the last call.
pub trait StreamHandler {
    /// Per-worker state shared by all handlers (output queue, counters, limits).
    type Ctx;
    /// In-order bytes of direction `dir`; `ts` is the packet time of the segment that
    /// completed them.
    fn on_data(
        &mut self,
        ctx: &mut Self::Ctx,
        conn: &ConnInfo,
        dir: Direction,
        data: &[u8],
        ts: Timestamp,
    );
    /// The bytes of direction `dir` given by the next `on_data` call were sent after their
    /// sender had received the other direction's stream up to offset `ack` (the segment's
    /// acknowledgment number as an offset of the other direction's stream: 0 is its first
    /// byte, or where it was picked up; gaps count). Called before `on_data` only for bytes
    /// that come straight from the segment carrying that ACK: bytes that waited in the
    /// out-of-order buffer, and ACKs before the other direction's start (mid-stream
    /// pickup) or of a direction not yet seen, give no call. The default ignores it.
    fn on_ack(&mut self, ctx: &mut Self::Ctx, conn: &ConnInfo, dir: Direction, ack: u64) {
        let _ = (ctx, conn, dir, ack);
    }
    /// The capture held two different copies of the bytes `offset..offset + len` of
    /// direction `dir` (stream offsets, as `on_ack`'s): the first copy received is the one
    /// delivered (docs/robustness.md). Called before the `on_data` that delivers them, so
    /// the message they belong to can be flagged. The default ignores it.
    fn on_overlap_conflict(
        &mut self,
        ctx: &mut Self::Ctx,
        conn: &ConnInfo,
        dir: Direction,
        offset: u64,
        len: u64,
    ) {
        let _ = (ctx, conn, dir, offset, len);
    }
    /// `len` bytes of direction `dir` that the capture lost.
    fn on_gap(
        &mut self,
        ctx: &mut Self::Ctx,
        conn: &ConnInfo,
        dir: Direction,
        len: u64,
        ts: Timestamp,
    );
    /// Direction `dir` ended in order (FIN after all its bytes).
    fn on_fin(&mut self, ctx: &mut Self::Ctx, conn: &ConnInfo, dir: Direction, ts: Timestamp);
    /// The connection is gone; flush everything pending.
    fn on_close(
        &mut self,
        ctx: &mut Self::Ctx,
        conn: &ConnInfo,
        reason: CloseReason,
        ts: Timestamp,
    );
    /// Time advanced to `now` (called at most once per check interval per connection).
    fn on_tick(&mut self, ctx: &mut Self::Ctx, conn: &ConnInfo, now: Timestamp);
    /// Heap memory the handler holds, its own size included (charged to the memory budget).
    fn mem_bytes(&self) -> usize {
        std::mem::size_of_val(self)
    }
    /// The memory budget ran out while this connection grew: drop what can be dropped
    /// without losing a message (body bytes). Returns whether anything was dropped.
    fn shed_memory(&mut self, _ctx: &mut Self::Ctx) -> bool {
        false
    }
}

/// Makes the handler of each new connection.
pub trait HandlerFactory {
    type Handler: StreamHandler;
    fn new_handler(&mut self, conn: &ConnInfo) -> Self::Handler;
    /// Which end sent `payload`, the first payload of a connection picked up without its
    /// handshake, judging by the application protocol (an HTTP request line comes from the
    /// client, a status line from the server); `None` when the bytes do not tell. The table
    /// asks before falling back to `-hosts` and ports (see `server_is_dst`), so the
    /// reassembler itself knows no protocol. The default knows none.
    fn probe_role(&self, payload: &[u8]) -> Option<Role> {
        let _ = payload;
        None
    }
}

/// Bounds of the reassembler. Each is counted when hit (see `ReassemblyCounters`).
#[derive(Clone, Debug)]
pub struct ReassemblyLimits {
    /// Out-of-order bytes buffered per direction before the earliest hole is declared a gap.
    pub max_ooo_bytes_per_direction: usize,
    /// Out-of-order segments buffered per direction (bounds bookkeeping for tiny segments).
    pub max_ooo_segments_per_direction: usize,
    /// Connections tracked at once; beyond it the least recently active one is closed.
    pub max_connections: usize,
    /// This worker's share of the global memory budget (`-memory-limit`): bytes held by
    /// connections (state, out-of-order and held segments, the handlers' heads, bodies
    /// and pending messages). See `ConnTable::enforce_budget` for the policy.
    pub memory_budget: usize,
    /// A connection with no packet for this long is closed.
    pub idle_timeout: Duration,
    /// Segments held to be released in causal order (`window.rs`): packets captured out
    /// of order by at most this many positions come out in the order they were sent. 0
    /// turns the window off (each segment is processed as it comes).
    pub causal_window: usize,
}

impl Default for ReassemblyLimits {
    fn default() -> Self {
        ReassemblyLimits {
            max_ooo_bytes_per_direction: 1 << 20,
            max_ooo_segments_per_direction: 1024,
            max_connections: 100_000,
            // The pipeline sets each worker's share of `-memory-limit`.
            memory_budget: usize::MAX,
            idle_timeout: Duration::from_secs(300),
            causal_window: CAUSAL_WINDOW,
        }
    }
}

crate::counters! {
    /// Reassembly counters.
    pub struct ReassemblyCounters {
        /// TCP segments handed to the table.
        segments,
        /// Connections created.
        connections_opened,
        /// Connections closed, for any reason.
        connections_closed,
        /// Connections closed after both directions' FIN.
        connections_fin_closed,
        /// Connections closed by a RST.
        connections_reset,
        /// RSTs carrying a TCP-MD5/TCP-AO option on a connection that does not use them:
        /// ignored, as the receiving stack discards them (suspected RST injection).
        signed_rsts_ignored,
        /// RSTs whose TCP timestamp is older than their sender's latest (RFC 7323 PAWS):
        /// ignored, the connection goes on (docs/robustness.md, control segments).
        rsts_rejected_paws,
        /// RSTs outside their sender's sequence window (RFC 5961 §3.2), or, in the
        /// handshake, not acknowledging the client's SYN (RFC 9293 §3.10.7.3): ignored.
        rsts_out_of_window,
        /// FINs whose TCP timestamp is older than their sender's latest (PAWS): dropped
        /// with their segment.
        fins_rejected_paws,
        /// FINs before bytes already delivered or more than `CONTROL_WINDOW` past the
        /// furthest byte known of their sender: dropped with their segment.
        fins_out_of_window,
        /// Connections closed because a new SYN reused their 4-tuple.
        connections_reused,
        /// SYNs without ACK from the server side of a connection whose only packet was the
        /// client's SYN: a simultaneous open (RFC 9293 §3.5), one connection.
        simultaneous_opens,
        /// Client SYNs with a new ISN before any SYN-ACK or byte: the new attempt replaces
        /// the first in the same connection.
        syn_isn_changes,
        /// Keep-alive probes (RFC 9293 §3.8.4: at the sender's next sequence number minus
        /// one, with no byte or one): neither data nor retransmissions.
        keepalive_probes,
        /// Zero-window probes (RFC 9293 §3.8.6.1: one new byte sent while the receiver's
        /// window is 0), which the receiver does not take: not data.
        zero_window_probes,
        /// Connections closed because `max_connections` was reached.
        connections_evicted,
        /// Connections closed by the idle timeout.
        connections_idle_closed,
        /// Connections picked up without a SYN.
        midstream_pickups,
        /// Segments with payload that brought no new byte (all already delivered or
        /// buffered): retransmissions and duplicates.
        retransmitted_segments,
        /// Segments that brought new bytes and also repeated delivered or buffered ones.
        overlapping_segments,
        /// Segments whose repeated bytes differed from the buffered or retained copy (first
        /// copy wins).
        overlap_conflicts,
        /// Bytes that differed in those segments.
        overlap_conflict_bytes,
        /// Those of `overlap_conflicts` whose differing bytes had already been delivered
        /// (compared with the delivered-but-unacknowledged copy, `retained.rs`).
        overlap_conflicts_delivered,
        /// Times a direction's retained bytes reached `MAX_RETAINED_BYTES_PER_DIRECTION`:
        /// bytes delivered after that are not compared with later copies until the peer's
        /// ACKs release the retained ones.
        retained_limit_hits,
        /// Segments that arrived ahead of the next expected byte and were buffered.
        out_of_order_segments,
        /// Times the out-of-order byte or segment limit forced a gap.
        ooo_limit_hits,
        /// Segments (or FINs) more than 1 GiB (the largest TCP window) ahead: dropped.
        out_of_window_segments,
        /// Payload after the direction's FIN was delivered: dropped.
        data_after_fin,
        /// FINs seen again after the first (retransmissions).
        retransmitted_fins,
        /// Gaps declared because the peer acknowledged bytes the capture never saw.
        ack_gaps,
        /// Directions that ended with a gap at close (holes, or acknowledged bytes unseen).
        close_gaps,
        /// Gaps delivered.
        gaps,
        /// Bytes delivered as gaps.
        gap_bytes,
        /// Payload bytes delivered in order.
        bytes_delivered,
        /// Segments for a connection that was closed by RST or after both FINs (stragglers).
        segments_after_close,
        /// Segments of no known connection that cannot open one (pure ACK, bare FIN, RST).
        segments_ignored,
        /// Recently closed 4-tuples forgotten early because `RECENTLY_CLOSED_MAX` was reached.
        recently_closed_overflow,
        /// Segments stamped so far back that keeping the recency list ordered by last
        /// activity would walk past more than `RECENCY_WALK_MAX` connections: their
        /// connection's idle close may come late.
        recency_walk_limit_hits,
        /// Segments held back because they acknowledge bytes of the other direction that
        /// the capture had not delivered yet (cross-direction capture reordering).
        causal_holds,
        /// Held segments released before the bytes they acknowledge came (patience, age,
        /// hold limit or close): those bytes were lost by the capture or never existed.
        causal_hold_expired,
        /// Segments the causal window released ahead of one captured before them (a
        /// capture reordering undone).
        causal_reorders,
        /// Segments that arrived after the causal window had released one they must
        /// precede (a SYN, or bytes a released segment acknowledges): the capture reordered
        /// them further than `causal_window` positions.
        causal_window_late,
        /// Times every segment in the causal window waited on another (forged segments):
        /// the earliest captured was released.
        causal_window_forced,
        /// Times the worker's memory budget (its share of `-memory-limit`) was exceeded
        /// and its policy applied (docs/limits.md, the global memory budget).
        memory_limit_hits,
        /// Connections closed to get back under the memory budget (pending requests
        /// exported flagged `unanswered-evicted`; also counted in `connections_evicted`).
        memory_limit_evictions,
        /// Times a connection's out-of-order and held segments were released early (holes
        /// delivered as gaps) to get back under the memory budget.
        memory_limit_buffers_released,
        /// Times the memory budget released every connection's retained bytes (the
        /// cheapest to give up: only the comparison of later copies is lost) and stopped
        /// retaining until usage falls to `RETAIN_RESUME_SHARE` of the budget.
        memory_limit_retained_released,
    }
}

/// After the memory budget released the retained bytes, retention resumes at a tick
/// where the memory used is at most `1 / RETAIN_RESUME_SHARE` of the budget (hysteresis:
/// retaining again right away would fill the budget and release again at every segment).
pub const RETAIN_RESUME_SHARE: usize = 2;

/// A connection holding more than this fraction of the memory budget is the one to stop
/// keeping body bytes when the budget runs out (see `ConnTable::enforce_budget`).
pub const LARGE_CONNECTION_SHARE: usize = 8;

/// Least recently active connections looked at to find one that never carried a byte,
/// the cheapest to evict.
pub const EVICTION_SCAN: usize = 64;

/// Connections a segment stamped earlier than the latest activity is moved past to keep the
/// recency list ordered by last activity (which the idle timeout and the eviction read from
/// its tail). Captures go back in time by a few positions (merged files, multi-queue NICs);
/// a hostile file jumping back over thousands of connections at every packet must not cost
/// a walk over all of them: past this the connection stays where the walk stopped (its
/// idle close comes late, never early), counted (`recency_walk_limit_hits`).
pub const RECENCY_WALK_MAX: usize = 256;

/// 4-tuples closed by FIN or RST remembered at most, so stragglers do not open a bogus
/// mid-stream connection. Beyond it the oldest is forgotten (`recently_closed_overflow`).
pub const RECENTLY_CLOSED_MAX: usize = 16_384;

/// How long a closed 4-tuple is remembered: Linux's TIME_WAIT (RFC 9293 §3.6.1 asks 2 MSL;
/// retransmitted FINs and final ACKs come within a few RTOs).
pub const RECENTLY_CLOSED_LINGER: Duration = Duration::from_secs(60);

/// The handler context of factory `F`'s handlers.
type Ctx<F> = <<F as HandlerFactory>::Handler as StreamHandler>::Ctx;
