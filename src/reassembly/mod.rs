//! TCP reassembly: segments in, per-direction ordered byte streams out, with missing bytes
//! delivered as gaps of N bytes, never spliced.
//!
//! `ConnTable` keys connections by their 4-tuple (both directions map to one connection),
//! decides which side is the client, orders each direction's bytes, and calls the
//! connection's `StreamHandler` (made by a `HandlerFactory`, as gopacket's StreamFactory).
//! Every buffer is bounded by `ReassemblyLimits`; hitting a limit is counted.
//!
//! What it does not do: validate checksums, windows or RST sequence numbers (a passive
//! observer has no window to enforce, and an injected RST ends the connection for the
//! endpoints too; the exception is a RST carrying a TCP-MD5/TCP-AO option on a connection
//! that does not use them, which the receiver discards: it is counted and ignored),
//! reassemble IP fragments, or look into the bytes beyond the first
//! packet's role decision (see `server_is_dst`).
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
//! FINs and RSTs never open one). Its handler is created at its first byte, gap or FIN, so a
//! SYN-only connection (scan, flood) costs a fixed ~0.5 KB and no handler call. It ends at
//! both FINs delivered, a RST, the idle timeout, eviction (`max_connections`, least
//! recently active first), a new SYN on its 4-tuple, or end of capture. 4-tuples closed by
//! FIN or RST are remembered for `RECENTLY_CLOSED_LINGER` so stragglers do not reopen them.
//!
//! Invariants: `index`, `slots` and the recency list hold exactly the same connections;
//! the recency list is ordered by `now` of each connection's last packet (most recent
//! first), which makes eviction O(1) and the idle scan proportional to what it closes.
//!
//! Mid-stream pickup: a direction with no SYN seen starts at its first segment with
//! payload (or FIN); bytes before that point, if they arrive later, are dropped as old.
//! The HTTP layer resynchronises at the next message start.

mod half;
mod ooo;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use half::{Emit, HalfLimits, HalfStream};

use crate::hosts::ServerSet;
use crate::model::{ConnInfo, Direction};
use crate::time::Timestamp;
use crate::wire::TcpSegment;

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
        /// Connections closed because a new SYN reused their 4-tuple.
        connections_reused,
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
        /// Segments whose repeated bytes differed from the buffered copy (first copy wins).
        overlap_conflicts,
        /// Bytes that differed in those segments.
        overlap_conflict_bytes,
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
        /// Segments held back because they acknowledge bytes of the other direction that
        /// the capture had not delivered yet (cross-direction capture reordering).
        causal_holds,
        /// Held segments released before the bytes they acknowledge came (patience, age,
        /// hold limit or close): those bytes were lost by the capture or never existed.
        causal_hold_expired,
        /// Times the worker's memory budget (its share of `-memory-limit`) was exceeded
        /// and its policy applied (see `ConnTable::enforce_budget`).
        memory_limit_hits,
        /// Connections closed to get back under the memory budget (pending requests
        /// exported flagged `unanswered-evicted`; also counted in `connections_evicted`).
        memory_limit_evictions,
        /// Times a connection's out-of-order and held segments were released early (holes
        /// delivered as gaps) to get back under the memory budget.
        memory_limit_buffers_released,
    }
}

/// A connection holding more than this fraction of the memory budget is the one to stop
/// keeping body bytes when the budget runs out (see `ConnTable::enforce_budget`).
pub const LARGE_CONNECTION_SHARE: usize = 8;

/// Least recently active connections looked at to find one that never carried a byte,
/// the cheapest to evict.
pub const EVICTION_SCAN: usize = 64;

/// 4-tuples closed by FIN or RST remembered at most, so stragglers do not open a bogus
/// mid-stream connection. Beyond it the oldest is forgotten (`recently_closed_overflow`).
pub const RECENTLY_CLOSED_MAX: usize = 16_384;

/// How long a closed 4-tuple is remembered: Linux's TIME_WAIT (RFC 9293 §3.6.1 asks 2 MSL;
/// retransmitted FINs and final ACKs come within a few RTOs).
pub const RECENTLY_CLOSED_LINGER: Duration = Duration::from_secs(60);

/// The connection key: the two endpoints in a fixed order, so both directions find it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct ConnKey {
    lo: SocketAddr,
    hi: SocketAddr,
}

impl ConnKey {
    fn new(a: SocketAddr, b: SocketAddr) -> ConnKey {
        if a <= b {
            ConnKey { lo: a, hi: b }
        } else {
            ConnKey { lo: b, hi: a }
        }
    }
}

type Ctx<F> = <<F as HandlerFactory>::Handler as StreamHandler>::Ctx;

/// One tracked connection. Buffers (`HalfStream::ooo`) and the handler are allocated only
/// when bytes arrive.
struct Conn<H> {
    info: ConnInfo,
    handler: Option<Box<H>>,
    /// Indexed by `Direction::index`.
    halves: [HalfStream; 2],
    /// Segments held back for causal order (see `Held`); empty (no allocation) normally.
    held: Vec<Held>,
    /// A SYN of this connection carried a TCP-MD5 or TCP-AO option: its endpoints
    /// authenticate segments, so a signed RST may be genuine.
    signed: bool,
    /// Bytes charged to the memory budget for this connection at its last update.
    charged: usize,
}

impl<H: StreamHandler> Conn<H> {
    /// Memory the connection holds: its slot, recency link and index entry, its
    /// out-of-order and held segments, and its handler.
    fn mem_bytes(&self) -> usize {
        let base = std::mem::size_of::<Option<Conn<H>>>()
            + std::mem::size_of::<Recency>()
            // A hash map slot, at the worst load factor after growth.
            + 2 * (std::mem::size_of::<(ConnKey, u32)>() + 1);
        let held = self.held.capacity() * std::mem::size_of::<Held>()
            + self.held.iter().map(|h| h.payload.len()).sum::<usize>();
        base + self.halves[0].mem_bytes()
            + self.halves[1].mem_bytes()
            + held
            + self.handler.as_ref().map_or(0, |h| h.mem_bytes())
    }
}

/// A segment that acknowledges bytes of the other direction which have not been delivered
/// yet: the capture reordered it ahead of them (it was sent after they were received).
/// Delivering it now would show the HTTP layer, say, a response before its request; it
/// waits until the other direction has delivered up to its ACK, for at most
/// `half::ACK_GAP_PATIENCE` segments of the connection or `half::ACK_GAP_TIMEOUT`, and at
/// most `HalfLimits::max_bytes` bytes per connection.
struct Held {
    dir: Direction,
    /// Sequence number of the first payload byte.
    seq: u32,
    payload: Box<[u8]>,
    fin: bool,
    ts: Timestamp,
    /// The other direction's stream offset this segment acknowledges.
    needs: u64,
    /// Segments of the connection seen since it was held.
    waited: u32,
}

/// A link of the recency list, parallel to `slots`.
#[derive(Clone, Copy, Debug)]
struct Recency {
    prev: u32,
    next: u32,
    last_seen: Timestamp,
}

const NIL: u32 = u32::MAX;

/// Delivers one direction's output to the connection's handler, creating it on first use.
struct Out<'a, F: HandlerFactory> {
    factory: &'a mut F,
    handler: &'a mut Option<Box<F::Handler>>,
    info: &'a ConnInfo,
    ctx: &'a mut Ctx<F>,
    dir: Direction,
    ts: Timestamp,
    /// The ACK of the segment being delivered, as an offset of the other direction's
    /// stream (`StreamHandler::on_ack`); `None` when unknown or not applicable.
    ack: Option<u64>,
}

impl<F: HandlerFactory> Emit for Out<'_, F> {
    fn data(&mut self, data: &[u8], fresh: bool) {
        let h = self
            .handler
            .get_or_insert_with(|| Box::new(self.factory.new_handler(self.info)));
        if let Some(ack) = self.ack.filter(|_| fresh) {
            h.on_ack(self.ctx, self.info, self.dir, ack);
        }
        h.on_data(self.ctx, self.info, self.dir, data, self.ts);
    }

    fn gap(&mut self, len: u64) {
        let h = self
            .handler
            .get_or_insert_with(|| Box::new(self.factory.new_handler(self.info)));
        h.on_gap(self.ctx, self.info, self.dir, len, self.ts);
    }

    fn fin(&mut self) {
        let h = self
            .handler
            .get_or_insert_with(|| Box::new(self.factory.new_handler(self.info)));
        h.on_fin(self.ctx, self.info, self.dir, self.ts);
    }
}

/// 4-tuples recently closed by FIN or RST, oldest first; bounded by `RECENTLY_CLOSED_MAX`.
#[derive(Default)]
struct RecentlyClosed {
    at: HashMap<ConnKey, Timestamp>,
    /// Insertion order; may hold stale entries (forgotten or re-remembered keys), which are
    /// skipped by comparing the time with `at`.
    order: VecDeque<(ConnKey, Timestamp)>,
}

impl RecentlyClosed {
    fn remember(&mut self, key: ConnKey, now: Timestamp, c: &mut ReassemblyCounters) {
        self.at.insert(key, now);
        self.order.push_back((key, now));
        while self.order.len() > RECENTLY_CLOSED_MAX {
            if let Some((k, t)) = self.order.pop_front() {
                if self.at.get(&k) == Some(&t) {
                    self.at.remove(&k);
                    c.recently_closed_overflow += 1;
                }
            }
        }
    }

    fn is_recent(&mut self, key: &ConnKey, now: Timestamp) -> bool {
        match self.at.get(key) {
            Some(&t) if now.since(t) <= RECENTLY_CLOSED_LINGER => true,
            Some(_) => {
                self.at.remove(key);
                false
            }
            None => false,
        }
    }

    fn forget(&mut self, key: &ConnKey) {
        self.at.remove(key);
    }

    fn expire(&mut self, now: Timestamp) {
        while let Some(&(k, t)) = self.order.front() {
            if now.since(t) <= RECENTLY_CLOSED_LINGER {
                break;
            }
            self.order.pop_front();
            if self.at.get(&k) == Some(&t) {
                self.at.remove(&k);
            }
        }
    }
}

/// Decides, at a connection's first packet, whether its destination is the server. The
/// first rule that applies wins:
/// 1. SYN without ACK: the sender is the client (active open, RFC 9293 §3.5).
/// 2. SYN+ACK: the sender is the server.
/// 3. Payload that begins like a request line (a token of 1..=20 of `A-Z`, `-`, `_`, then a
///    space): the sender is the client.
/// 4. Payload that begins with `HTTP/`: the sender is the server.
/// 5. `-hosts` lists the destination: it is the server; else if it lists the source, the
///    source is.
/// 6. The lower port is the server (servers listen on well-known ports, clients use
///    ephemeral ones); on a tie, the destination.
pub fn server_is_dst(seg: &TcpSegment<'_>, servers: &ServerSet) -> bool {
    let f = seg.flags;
    if f.syn {
        return !f.ack;
    }
    if looks_like_request(seg.payload) {
        return true;
    }
    if seg.payload.starts_with(b"HTTP/") {
        return false;
    }
    if servers.is_server(&seg.dst) {
        return true;
    }
    if servers.is_server(&seg.src) {
        return false;
    }
    seg.dst.port() <= seg.src.port()
}

/// A method token (uppercase letters, `-`, `_`; 1..=20 of them) followed by a space.
fn looks_like_request(p: &[u8]) -> bool {
    let token = p
        .iter()
        .take(21)
        .take_while(|b| b.is_ascii_uppercase() || **b == b'-' || **b == b'_')
        .count();
    (1..=20).contains(&token) && p.get(token) == Some(&b' ')
}

/// All connections of one worker.
pub struct ConnTable<F: HandlerFactory> {
    factory: F,
    servers: ServerSet,
    limits: ReassemblyLimits,
    counters: ReassemblyCounters,
    index: HashMap<ConnKey, u32>,
    slots: Vec<Option<Conn<F::Handler>>>,
    recency: Vec<Recency>,
    free: Vec<u32>,
    /// Most recently active connection.
    head: u32,
    /// Least recently active connection: the next to evict or to time out.
    tail: u32,
    closed: RecentlyClosed,
    /// Bytes charged to the memory budget: the sum of the connections' `charged`.
    mem_used: usize,
}

impl<F: HandlerFactory> ConnTable<F> {
    pub fn new(factory: F, servers: ServerSet, limits: ReassemblyLimits) -> Self {
        ConnTable {
            factory,
            servers,
            limits,
            counters: ReassemblyCounters::default(),
            index: HashMap::new(),
            slots: Vec::new(),
            recency: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            closed: RecentlyClosed::default(),
            mem_used: 0,
        }
    }

    /// Feeds one segment. `packet_index` is the capture index of the packet (the new
    /// connection's id when it opens one); `ts` its packet time, `now` the worker's
    /// monotonic clock.
    pub fn on_segment(
        &mut self,
        ctx: &mut Ctx<F>,
        seg: &TcpSegment<'_>,
        packet_index: u64,
        ts: Timestamp,
        now: Timestamp,
    ) {
        self.counters.segments += 1;
        let key = ConnKey::new(seg.src, seg.dst);
        let f = seg.flags;
        let active_open = f.syn && !f.ack && !f.rst;
        let idx = match self.index.get(&key).copied() {
            Some(idx) if active_open && self.is_new_syn(idx, seg) => {
                self.close(ctx, idx, CloseReason::Reused, ts, now);
                self.open(ctx, key, seg, packet_index, now)
            }
            Some(idx) => idx,
            None => {
                if self.closed.is_recent(&key, now) {
                    if !active_open {
                        self.counters.segments_after_close += 1;
                        return;
                    }
                    self.closed.forget(&key);
                }
                if f.rst || (!f.syn && seg.payload.is_empty()) {
                    self.counters.segments_ignored += 1;
                    return;
                }
                self.open(ctx, key, seg, packet_index, now)
            }
        };
        self.touch(idx, now);
        let lim = HalfLimits {
            max_bytes: self.limits.max_ooo_bytes_per_direction,
            max_chunks: self.limits.max_ooo_segments_per_direction,
        };
        let Some(conn) = self.slots.get_mut(idx as usize).and_then(Option::as_mut) else {
            return;
        };
        if let Some(reason) = process(
            conn,
            &mut self.factory,
            &mut self.counters,
            lim,
            ctx,
            seg,
            ts,
        ) {
            self.close(ctx, idx, reason, ts, now);
            return;
        }
        self.recharge(idx);
        self.enforce_budget(ctx, Some(idx), now);
    }

    /// Time advanced: closes connections idle longer than `idle_timeout` (by `now` of
    /// their last packet) and calls `on_tick` of every live handler (connections that
    /// carried no byte, gap or FIN have none).
    pub fn on_tick(&mut self, ctx: &mut Ctx<F>, now: Timestamp) {
        // The recency list is ordered by last activity: only the expired tail is visited.
        while self.tail != NIL {
            let last = self.recency[self.tail as usize].last_seen;
            if now.since(last) <= self.limits.idle_timeout {
                break;
            }
            self.close(ctx, self.tail, CloseReason::Idle, now, now);
        }
        let lim = HalfLimits {
            max_bytes: self.limits.max_ooo_bytes_per_direction,
            max_chunks: self.limits.max_ooo_segments_per_direction,
        };
        let mut used = self.mem_used;
        for conn in self.slots.iter_mut().flatten() {
            let Conn {
                info,
                handler,
                halves,
                held,
                ..
            } = conn;
            if !held.is_empty() {
                let [a, b] = halves;
                let (f, c) = (&mut self.factory, &mut self.counters);
                release_held(held, [a, b], f, handler, info, ctx, lim, c, Some(now));
            }
            // Holes the peer acknowledged and that are still open are lost by now.
            for dir in [Direction::ToServer, Direction::ToClient] {
                let mut out = Out {
                    factory: &mut self.factory,
                    handler: &mut *handler,
                    info,
                    ctx: &mut *ctx,
                    dir,
                    ts: now,
                    ack: None,
                };
                halves[dir.index()].on_tick(now, &mut self.counters, &mut out);
            }
            if let Some(h) = handler.as_mut() {
                h.on_tick(ctx, info, now);
            }
            let cost = conn.mem_bytes();
            used = used - conn.charged + cost;
            conn.charged = cost;
        }
        self.mem_used = used;
        self.enforce_budget(ctx, None, now);
        self.closed.expire(now);
    }

    /// Closes every connection (end of capture), delivering what is buffered first, in
    /// the order of their ids.
    pub fn close_all(&mut self, ctx: &mut Ctx<F>, now: Timestamp) {
        let mut live: Vec<(u64, u32)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|c| (c.info.id, i as u32)))
            .collect();
        live.sort_unstable();
        for (_, idx) in live {
            self.close(ctx, idx, CloseReason::EndOfCapture, now, now);
        }
    }

    /// Connections tracked now.
    pub fn open_connections(&self) -> usize {
        self.index.len()
    }

    /// Bytes charged to the memory budget now.
    pub fn memory_used(&self) -> usize {
        self.mem_used
    }

    /// Bytes charged for connection `idx`.
    fn charged(&self, idx: u32) -> usize {
        self.slots
            .get(idx as usize)
            .and_then(Option::as_ref)
            .map_or(0, |c| c.charged)
    }

    /// Asks connection `idx`'s handler to drop what it can (body bytes), then re-measures.
    fn shed(&mut self, ctx: &mut Ctx<F>, idx: u32) {
        let conn = self.slots.get_mut(idx as usize).and_then(Option::as_mut);
        if let Some(h) = conn.and_then(|c| c.handler.as_mut()) {
            h.shed_memory(ctx);
        }
        self.recharge(idx);
    }

    /// The connection to close next (for `max_connections` or the memory budget), never
    /// `keep`: among the `EVICTION_SCAN` least recently active, the oldest that never
    /// carried a byte (no handler: closing it loses nothing), else the least recently
    /// active of all.
    fn eviction_victim(&self, keep: Option<u32>) -> Option<u32> {
        let mut idx = self.tail;
        let mut fallback = None;
        for _ in 0..EVICTION_SCAN {
            if idx == NIL {
                break;
            }
            if Some(idx) != keep {
                let conn = self.slots.get(idx as usize).and_then(Option::as_ref);
                if conn.is_some_and(|c| c.handler.is_none()) {
                    return Some(idx);
                }
                fallback = fallback.or(Some(idx));
            }
            idx = self.recency[idx as usize].prev;
        }
        fallback
    }

    /// Re-measures connection `idx` and updates the budget's total.
    fn recharge(&mut self, idx: u32) {
        if let Some(conn) = self.slots.get_mut(idx as usize).and_then(Option::as_mut) {
            let cost = conn.mem_bytes();
            self.mem_used = self.mem_used - conn.charged + cost;
            conn.charged = cost;
        }
    }

    /// Gets back under `memory_budget` after `current` (the connection that just grew,
    /// if any) was charged. The policy, in order, each step counted:
    /// 1. if `current` holds more than `1 / LARGE_CONNECTION_SHARE` of the budget, it is the
    ///    one growing memory: it stops keeping body bytes and drops those it kept (sizes
    ///    stay exact; messages flagged `body-dropped-memory-limit`);
    /// 2. other connections are closed, least recently active first, preferring those that
    ///    never carried a byte (half-open: nothing is lost), their pending requests
    ///    exported flagged (`unanswered-evicted`), until the total fits;
    /// 3. if `current` alone is still over, it drops its body bytes, then its out-of-order
    ///    and held segments are released at once, holes delivered as gaps.
    ///
    /// What stays charged after that (a head being read, at most `max_head_bytes` per
    /// direction) is bounded per connection.
    fn enforce_budget(&mut self, ctx: &mut Ctx<F>, current: Option<u32>, now: Timestamp) {
        let budget = self.limits.memory_budget;
        if self.mem_used <= budget {
            return;
        }
        self.counters.memory_limit_hits += 1;
        let large = budget / LARGE_CONNECTION_SHARE;
        if let Some(idx) = current {
            if self.charged(idx) > large {
                self.shed(ctx, idx);
            }
        }
        while self.mem_used > budget {
            let Some(victim) = self.eviction_victim(current) else {
                break;
            };
            self.counters.memory_limit_evictions += 1;
            self.close(ctx, victim, CloseReason::Evicted, now, now);
        }
        if let Some(idx) = current.filter(|_| self.mem_used > budget) {
            self.shed(ctx, idx);
        }
        let Some(idx) = current.filter(|_| self.mem_used > budget) else {
            return;
        };
        let lim = HalfLimits {
            max_bytes: self.limits.max_ooo_bytes_per_direction,
            max_chunks: self.limits.max_ooo_segments_per_direction,
        };
        let Some(conn) = self.slots.get_mut(idx as usize).and_then(Option::as_mut) else {
            return;
        };
        let Conn {
            info,
            handler,
            halves,
            held,
            ..
        } = conn;
        let buffered = !held.is_empty() || halves.iter().any(|h| h.mem_bytes() > 0);
        if !buffered {
            return;
        }
        self.counters.memory_limit_buffers_released += 1;
        let (f, c) = (&mut self.factory, &mut self.counters);
        if !held.is_empty() {
            let [a, b] = halves;
            let all = Some(Timestamp(i64::MAX));
            release_held(held, [a, b], f, handler, info, ctx, lim, c, all);
        }
        for dir in [Direction::ToServer, Direction::ToClient] {
            let mut out = Out {
                factory: &mut *f,
                handler: &mut *handler,
                info,
                ctx: &mut *ctx,
                dir,
                ts: now,
                ack: None,
            };
            halves[dir.index()].release_buffered(c, &mut out);
        }
        self.recharge(idx);
    }

    pub fn counters(&self) -> &ReassemblyCounters {
        &self.counters
    }

    /// A SYN without ACK on a tracked 4-tuple starts a new connection unless it repeats
    /// the client's SYN (same sender, same ISN).
    fn is_new_syn(&self, idx: u32, seg: &TcpSegment<'_>) -> bool {
        let Some(conn) = self.slots.get(idx as usize).and_then(Option::as_ref) else {
            return true;
        };
        let to_server = &conn.halves[Direction::ToServer.index()];
        let open = !conn.halves.iter().any(HalfStream::fin_seen);
        let retransmitted = seg.src == conn.info.client && to_server.isn() == Some(seg.seq) && open;
        // The capture reordered the client's SYN after the SYN-ACK or after its first data
        // (the connection was then picked up there), and the SYN starts at or just before
        // the client's stream: the same connection, not a reuse of the 4-tuple.
        let late = seg.src == conn.info.client
            && to_server.isn().is_none()
            && open
            && to_server
                .offset_of(seg.seq.wrapping_add(1))
                .is_some_and(|off| off <= 0 && off > -(half::MAX_WINDOW as i64));
        !(retransmitted || late)
    }

    /// Opens a connection for `seg` (evicting the least recently active one when full) and
    /// returns its slot.
    fn open(
        &mut self,
        ctx: &mut Ctx<F>,
        key: ConnKey,
        seg: &TcpSegment<'_>,
        id: u64,
        now: Timestamp,
    ) -> u32 {
        while self.index.len() >= self.limits.max_connections.max(1) {
            let Some(victim) = self.eviction_victim(None) else {
                break;
            };
            self.close(ctx, victim, CloseReason::Evicted, now, now);
        }
        let (client, server) = if server_is_dst(seg, &self.servers) {
            (seg.src, seg.dst)
        } else {
            (seg.dst, seg.src)
        };
        let midstream = !seg.flags.syn;
        let conn = Conn {
            info: ConnInfo {
                id,
                client,
                server,
                syn_ts: None,
                synack_ts: None,
                established_ts: None,
                midstream,
            },
            handler: None,
            halves: Default::default(),
            held: Vec::new(),
            signed: seg.flags.syn && seg.auth_option,
            charged: 0,
        };
        let link = Recency {
            prev: NIL,
            next: NIL,
            last_seen: now,
        };
        let idx = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(conn);
                self.recency[i as usize] = link;
                i
            }
            None => {
                self.slots.push(Some(conn));
                self.recency.push(link);
                (self.slots.len() - 1) as u32
            }
        };
        self.push_front(idx);
        self.index.insert(key, idx);
        self.recharge(idx);
        self.counters.connections_opened += 1;
        if midstream {
            self.counters.midstream_pickups += 1;
        }
        idx
    }

    /// Ends connection `idx`: delivers what it still holds (gaps for holes), calls
    /// `on_close`, frees its slot. `ts` is the time given to the final calls.
    fn close(
        &mut self,
        ctx: &mut Ctx<F>,
        idx: u32,
        reason: CloseReason,
        ts: Timestamp,
        now: Timestamp,
    ) {
        let Some(mut conn) = self.slots.get_mut(idx as usize).and_then(Option::take) else {
            return;
        };
        self.unlink(idx);
        self.free.push(idx);
        self.mem_used -= conn.charged;
        let key = ConnKey::new(conn.info.client, conn.info.server);
        self.index.remove(&key);
        let Conn {
            info,
            handler,
            halves,
            held,
            ..
        } = &mut conn;
        if !held.is_empty() {
            let lim = HalfLimits {
                max_bytes: self.limits.max_ooo_bytes_per_direction,
                max_chunks: self.limits.max_ooo_segments_per_direction,
            };
            let [a, b] = halves;
            let (f, c) = (&mut self.factory, &mut self.counters);
            let all = Some(Timestamp(i64::MAX));
            release_held(held, [a, b], f, handler, info, ctx, lim, c, all);
        }
        for dir in [Direction::ToServer, Direction::ToClient] {
            let mut out = Out {
                factory: &mut self.factory,
                handler,
                info,
                ctx,
                dir,
                ts,
                ack: None,
            };
            halves[dir.index()].close(&mut self.counters, &mut out);
        }
        if let Some(h) = handler.as_mut() {
            h.on_close(ctx, info, reason, ts);
        }
        let c = &mut self.counters;
        c.connections_closed += 1;
        match reason {
            CloseReason::Fin => c.connections_fin_closed += 1,
            CloseReason::Reset => c.connections_reset += 1,
            CloseReason::Idle => c.connections_idle_closed += 1,
            CloseReason::Evicted => c.connections_evicted += 1,
            CloseReason::Reused => c.connections_reused += 1,
            CloseReason::EndOfCapture => {}
        }
        // Idle and evicted connections may legitimately resume: only a FIN or RST close
        // makes later segments stragglers.
        if matches!(reason, CloseReason::Fin | CloseReason::Reset) {
            self.closed.remember(key, now, &mut self.counters);
        }
    }

    fn touch(&mut self, idx: u32, now: Timestamp) {
        if let Some(r) = self.recency.get_mut(idx as usize) {
            r.last_seen = now;
        }
        if self.head != idx {
            self.unlink(idx);
            self.push_front(idx);
        }
    }

    fn push_front(&mut self, idx: u32) {
        let old = self.head;
        self.recency[idx as usize].prev = NIL;
        self.recency[idx as usize].next = old;
        if old != NIL {
            self.recency[old as usize].prev = idx;
        } else {
            self.tail = idx;
        }
        self.head = idx;
    }

    fn unlink(&mut self, idx: u32) {
        let Recency { prev, next, .. } = self.recency[idx as usize];
        if prev != NIL {
            self.recency[prev as usize].next = next;
        } else if self.head == idx {
            self.head = next;
        }
        if next != NIL {
            self.recency[next as usize].prev = prev;
        } else if self.tail == idx {
            self.tail = prev;
        }
        self.recency[idx as usize].prev = NIL;
        self.recency[idx as usize].next = NIL;
    }
}

/// Applies one segment to its connection. Returns the reason to close it, if any.
fn process<F: HandlerFactory>(
    conn: &mut Conn<F::Handler>,
    factory: &mut F,
    c: &mut ReassemblyCounters,
    lim: HalfLimits,
    ctx: &mut Ctx<F>,
    seg: &TcpSegment<'_>,
    ts: Timestamp,
) -> Option<CloseReason> {
    let f = seg.flags;
    if f.syn && seg.auth_option {
        conn.signed = true;
    }
    if f.rst {
        // A signature option on a connection whose SYNs had none: the receiver discards
        // the segment (Linux counts it as TCPMD5Unexpected), so the connection goes on.
        // This is how injected RSTs are made harmless; Suricata flags the same RST as
        // "suspected RST injection" and keeps following the stream.
        if seg.auth_option && !conn.signed {
            c.signed_rsts_ignored += 1;
            return None;
        }
        return Some(CloseReason::Reset);
    }
    let Conn {
        info,
        handler,
        halves,
        held,
        ..
    } = conn;
    let dir = if seg.src == info.client {
        Direction::ToServer
    } else {
        Direction::ToClient
    };
    let [to_server, to_client] = halves;
    let (me, peer) = match dir {
        Direction::ToServer => (to_server, to_client),
        Direction::ToClient => (to_client, to_server),
    };
    if f.syn {
        me.on_syn(seg.seq);
        if f.ack {
            // The SYN-ACK acknowledges the client's ISN + 1: where the client's data starts.
            peer.sync_at(seg.ack);
            if dir == Direction::ToClient {
                info.synack_ts.get_or_insert(ts);
            }
        } else if dir == Direction::ToServer {
            info.syn_ts.get_or_insert(ts);
        }
    } else if f.ack
        && dir == Direction::ToServer
        && info.established_ts.is_none()
        && info.synack_ts.is_some()
        && peer.isn().is_some_and(|isn| seg.ack == isn.wrapping_add(1))
    {
        info.established_ts = Some(ts);
    }
    // A SYN takes one sequence number; data on it (TCP Fast Open, RFC 7413) follows it.
    let data_seq = seg.seq.wrapping_add(f.syn as u32);
    if !seg.payload.is_empty() || f.fin {
        // Mid-stream: this direction starts at its first segment seen.
        me.sync_at(data_seq);
    }
    if f.ack {
        if peer.is_synchronised() {
            peer.on_peer_ack(seg.ack);
        } else if !f.syn {
            peer.on_ack_hint(seg.ack);
        }
    }
    // Where the other direction stood when this segment was sent (`StreamHandler::on_ack`).
    let ack = (f.ack && !f.syn)
        .then(|| peer.offset_of(seg.ack))
        .flatten()
        .and_then(|o| u64::try_from(o).ok());
    let info: &ConnInfo = info;
    for h in held.iter_mut() {
        h.waited += 1;
    }
    if !seg.payload.is_empty() || f.fin {
        let needs = (f.ack && !f.syn)
            .then(|| peer.lagging_offset(seg.ack))
            .flatten();
        let held_bytes: usize = held.iter().map(|h| h.payload.len()).sum();
        match needs {
            Some(needs) if held_bytes + seg.payload.len() <= lim.max_bytes => {
                c.causal_holds += 1;
                held.push(Held {
                    dir,
                    seq: data_seq,
                    payload: seg.payload.into(),
                    fin: f.fin,
                    ts,
                    needs,
                    waited: 0,
                });
                let from = me.offset_of(data_seq).map(|o| o.max(0) as u64);
                if from.is_some_and(|f| me.held_from().is_none_or(|h| f < h)) {
                    me.set_held_from(from);
                }
            }
            _ => {
                let mut out = Out {
                    factory: &mut *factory,
                    handler: &mut *handler,
                    info,
                    ctx: &mut *ctx,
                    dir,
                    ts,
                    ack,
                };
                deliver(me, data_seq, seg.payload, f.fin, lim, c, &mut out);
            }
        }
    }
    if !held.is_empty() {
        let [a, b] = halves;
        release_held(held, [a, b], factory, handler, info, ctx, lim, c, None);
    }
    let [to_server, to_client] = halves;
    let (me, peer) = match dir {
        Direction::ToServer => (to_server, to_client),
        Direction::ToClient => (to_client, to_server),
    };
    for (half, d) in [(&mut *me, dir), (&mut *peer, dir.reverse())] {
        let mut out = Out {
            factory: &mut *factory,
            handler: &mut *handler,
            info,
            ctx: &mut *ctx,
            dir: d,
            ts,
            ack: None,
        };
        half.on_segment_seen(ts, c, &mut out);
    }
    (me.finished() && peer.finished()).then_some(CloseReason::Fin)
}

/// Recomputes each direction's lowest causally held offset.
fn update_held_from(held: &[Held], halves: [&mut HalfStream; 2]) {
    let [to_server, to_client] = halves;
    for (half, dir) in [
        (to_server, Direction::ToServer),
        (to_client, Direction::ToClient),
    ] {
        let from = held
            .iter()
            .filter(|h| h.dir == dir)
            .filter_map(|h| half.offset_of(h.seq).map(|o| o.max(0) as u64))
            .min();
        half.set_held_from(from);
    }
}

/// Payload and FIN of one segment into its direction's stream.
fn deliver(
    half: &mut HalfStream,
    seq: u32,
    payload: &[u8],
    fin: bool,
    lim: HalfLimits,
    c: &mut ReassemblyCounters,
    out: &mut impl Emit,
) {
    if !payload.is_empty() {
        half.on_payload(seq, payload, lim, c, out);
    }
    if fin {
        half.on_fin(seq.wrapping_add(payload.len() as u32), c, out);
    }
}

/// Delivers the held segments whose acknowledged bytes have now been delivered, whose
/// patience ran out, or that are older than `half::ACK_GAP_TIMEOUT` at `now` (on ticks);
/// with `now == Some(Timestamp(i64::MAX))`, all of them (close). Repeats while releasing
/// one lets another go.
#[allow(clippy::too_many_arguments)]
fn release_held<F: HandlerFactory>(
    held: &mut Vec<Held>,
    halves: [&mut HalfStream; 2],
    factory: &mut F,
    handler: &mut Option<Box<F::Handler>>,
    info: &ConnInfo,
    ctx: &mut Ctx<F>,
    lim: HalfLimits,
    c: &mut ReassemblyCounters,
    now: Option<Timestamp>,
) {
    let [to_server, to_client] = halves;
    loop {
        let ready = held.iter().position(|h| {
            let peer = match h.dir {
                Direction::ToServer => &*to_client,
                Direction::ToClient => &*to_server,
            };
            peer.delivered() >= h.needs
                || h.waited >= half::ACK_GAP_PATIENCE
                || now.is_some_and(|n| n.since(h.ts) >= half::ACK_GAP_TIMEOUT)
        });
        let Some(i) = ready else {
            break;
        };
        let h = held.remove(i);
        update_held_from(held, [&mut *to_server, &mut *to_client]);
        let peer_delivered = match h.dir {
            Direction::ToServer => to_client.delivered(),
            Direction::ToClient => to_server.delivered(),
        };
        let (me, peer) = match h.dir {
            Direction::ToServer => (&mut *to_server, &mut *to_client),
            Direction::ToClient => (&mut *to_client, &mut *to_server),
        };
        if peer_delivered < h.needs {
            // The bytes it acknowledges will not come: the capture lost them. Say so on
            // the other direction first, so the HTTP layer sees the loss before this
            // segment (a response after a lost request is then not paired with the next).
            c.causal_hold_expired += 1;
            let mut out = Out {
                factory: &mut *factory,
                handler: &mut *handler,
                info,
                ctx: &mut *ctx,
                dir: h.dir.reverse(),
                ts: h.ts,
                ack: None,
            };
            peer.declare_lost_to(h.needs, c, &mut out);
        }
        let mut out = Out {
            factory: &mut *factory,
            handler: &mut *handler,
            info,
            ctx: &mut *ctx,
            dir: h.dir,
            ts: h.ts,
            ack: Some(h.needs),
        };
        deliver(me, h.seq, &h.payload, h.fin, lim, c, &mut out);
    }
    if held.is_empty() && held.capacity() > 0 {
        *held = Vec::new();
    }
}
