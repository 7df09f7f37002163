//! The connection table of one worker: finds a segment's connection by its 4-tuple, opens,
//! evicts, times out and closes connections, and keeps the memory budget.
//!
//! Invariants: `index`, `slots` and the recency list hold exactly the same connections;
//! the recency list is ordered by `now` of each connection's last packet (most recent
//! first), which makes eviction O(1) and the idle scan proportional to what it closes.
//!
//! What it does not do: look at a connection's bytes (`conn.rs`), or decide which end is
//! the client (`role.rs`).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

use super::conn::{Conn, Env};
use super::half::{HalfLimits, HalfStream, MAX_WINDOW_SIGNED};
use super::role::server_is_dst;
use super::window::{CausalWindow, Held};
use super::{
    CloseReason, Ctx, HandlerFactory, ReassemblyCounters, ReassemblyLimits, StreamHandler,
    EVICTION_SCAN, LARGE_CONNECTION_SHARE, RECENCY_WALK_MAX, RECENTLY_CLOSED_LINGER,
    RECENTLY_CLOSED_MAX, RETAIN_RESUME_SHARE,
};
use crate::hosts::ServerSet;
use crate::model::{ConnInfo, Direction};
use crate::time::Timestamp;
use crate::wire::{SeqNum, TcpSegment};

/// The connection key: the two endpoints in a fixed order, so both directions find it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ConnKey {
    lo: SocketAddr,
    hi: SocketAddr,
}

/// The addresses and ports in one write: the derived `Hash` fed SipHash the enum tags,
/// addresses, ports, flow labels and scope ids one by one, 3% of a worker's time. Equal
/// keys write equal bytes (a subset of what `Eq` compares); the hasher stays the map's
/// keyed SipHash, so crafted 4-tuples still cannot aim at one bucket.
impl std::hash::Hash for ConnKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        fn put(buf: &mut [u8; 36], at: usize, e: &SocketAddr) -> usize {
            let end = match e {
                SocketAddr::V4(a) => {
                    buf[at..at + 4].copy_from_slice(&a.ip().octets());
                    at + 4
                }
                SocketAddr::V6(a) => {
                    buf[at..at + 16].copy_from_slice(&a.ip().octets());
                    at + 16
                }
            };
            buf[end..end + 2].copy_from_slice(&e.port().to_be_bytes());
            end + 2
        }
        let mut buf = [0u8; 36];
        let mid = put(&mut buf, 0, &self.lo);
        let end = put(&mut buf, mid, &self.hi);
        state.write(&buf[..end]);
    }
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

/// A link of the recency list, parallel to `slots`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Recency {
    prev: u32,
    next: u32,
    last_seen: Timestamp,
}

const NIL: u32 = u32::MAX;

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

/// What a SYN without ACK on a tracked 4-tuple is (`ConnTable::syn_kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SynKind {
    /// Another connection on the 4-tuple: the old one closes (`Reused`).
    New,
    /// The client's SYN again (retransmitted, or captured late), or not a SYN question.
    Same,
    /// The client's SYN with a new ISN before anything else came: replaces the first.
    Restart,
    /// The server's SYN in a simultaneous open.
    Simultaneous,
}

/// All connections of one worker.
pub struct ConnTable<F: HandlerFactory> {
    factory: F,
    servers: ServerSet,
    limits: ReassemblyLimits,
    counters: ReassemblyCounters,
    index: HashMap<ConnKey, u32>,
    /// The last key found in `index`, and its slot: consecutive segments are mostly of one
    /// connection (a burst of data, its ACKs), and hashing the key was 2% of a worker.
    /// Kept equal to `index`'s entry by `open` and `close`, the only ones that change it.
    last_found: Option<(ConnKey, u32)>,
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
    /// The last segments, released in causal order (bounded by `causal_window`; not
    /// charged to the budget: at most that many frames).
    window: CausalWindow,
    /// The memory budget released the retained bytes: none are kept until `on_tick`
    /// sees usage at `1 / RETAIN_RESUME_SHARE` of the budget.
    retain_suspended: bool,
    /// Connections that kept retained bytes by their place in the batch being processed
    /// (`Retained::push`): `detach_window` copies them before the batch goes. At most a
    /// batch's segments; a slot closed or reused meanwhile is harmless.
    retained_in_batch: Vec<u32>,
}

impl<F: HandlerFactory> ConnTable<F> {
    pub fn new(factory: F, servers: ServerSet, limits: ReassemblyLimits) -> Self {
        ConnTable {
            factory,
            servers,
            limits,
            counters: ReassemblyCounters::default(),
            index: HashMap::new(),
            last_found: None,
            slots: Vec::new(),
            recency: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            closed: RecentlyClosed::default(),
            mem_used: 0,
            window: CausalWindow::default(),
            retain_suspended: false,
            retained_in_batch: Vec::new(),
        }
    }

    /// Feeds one segment. `packet_index` is the capture index of the packet (the new
    /// connection's id when it opens one); `ts` its packet time, `now` the worker's
    /// monotonic clock. The segment goes through the causal window first: it is processed
    /// once `causal_window` later segments came, in the order TCP says they were sent.
    pub fn on_segment(
        &mut self,
        ctx: &mut Ctx<F>,
        seg: &TcpSegment<'_>,
        packet_index: u64,
        ts: Timestamp,
        now: Timestamp,
    ) {
        self.on_segment_in(ctx, seg, packet_index, ts, now, &[]);
    }

    /// `on_segment` for a segment whose frame lies in `batch`: the causal window holds
    /// it by position, not by a copy, until `detach_window(batch)`, which must come
    /// before the bytes of `batch` change.
    pub fn on_segment_in(
        &mut self,
        ctx: &mut Ctx<F>,
        seg: &TcpSegment<'_>,
        packet_index: u64,
        ts: Timestamp,
        now: Timestamp,
        batch: &[u8],
    ) {
        let limit = self.limits.causal_window;
        if limit == 0 && self.window.is_empty() {
            self.process_segment(ctx, seg, packet_index, ts, now, batch);
            return;
        }
        // What was due before this packet goes first: with the connections spread over
        // fewer workers it went at an earlier packet, before this segment joined the
        // window, so this segment must not be able to jump ahead of it (`pipeline`
        // target, 1 worker vs 3: a reused 4-tuple's SYN went before the old connection's
        // request on 3 workers only).
        let before = packet_index.saturating_sub(1);
        self.release_window(ctx, now, batch, |w, c| w.pop_full(before, limit, c));
        self.window
            .push(seg, batch, packet_index, ts, limit, &mut self.counters);
        self.release_window(ctx, now, batch, |w, c| w.pop_full(packet_index, limit, c));
    }

    /// Processes the segments `next` takes from the causal window, in that order, until it
    /// takes none; `batch` is the batch the held payloads may lie in (`on_segment_in`).
    fn release_window(
        &mut self,
        ctx: &mut Ctx<F>,
        now: Timestamp,
        batch: &[u8],
        mut next: impl FnMut(&mut CausalWindow, &mut ReassemblyCounters) -> Option<Held>,
    ) {
        while let Some(h) = next(&mut self.window, &mut self.counters) {
            self.process_segment(ctx, &h.segment(batch), h.index, h.ts, now, batch);
            self.window.recycle(h);
        }
    }

    /// The batch given to `on_segment_in` goes: what the causal window and the
    /// connections' retained bytes still hold of it is copied.
    pub fn detach_window(&mut self, batch: &[u8]) {
        self.window.detach(batch);
        let mut list = std::mem::take(&mut self.retained_in_batch);
        for &idx in &list {
            if let Some(conn) = self.slots.get_mut(idx as usize).and_then(Option::as_mut) {
                for half in &mut conn.halves {
                    half.detach_retained(batch);
                }
            }
            // The copy's allocation replaces the pieces' bytes in the charge.
            self.recharge(idx);
        }
        list.clear();
        self.retained_in_batch = list;
    }

    /// A tick of the pipeline at time `tick`, when the capture had reached packet index
    /// `latest` (every worker gets it at the same place in the capture): the held segments
    /// that are `causal_window` positions older, or stamped before the tick, go.
    pub fn captured_up_to(&mut self, ctx: &mut Ctx<F>, latest: u64, tick: Timestamp) {
        let limit = self.limits.causal_window;
        self.release_window(ctx, tick, &[], |w, c| w.pop_at_tick(latest, tick, limit, c));
    }

    /// Releases what the causal window holds: the segments `CAUSAL_WINDOW_DELAY` older
    /// than `now`, or (`all`) every one.
    fn drain_window(&mut self, ctx: &mut Ctx<F>, now: Timestamp, all: bool) {
        self.release_window(ctx, now, &[], |w, c| {
            if all {
                w.pop(c)
            } else {
                w.pop_aged(now, c)
            }
        });
    }

    /// Applies one segment, in causal order, to its connection.
    fn process_segment(
        &mut self,
        ctx: &mut Ctx<F>,
        seg: &TcpSegment<'_>,
        packet_index: u64,
        ts: Timestamp,
        now: Timestamp,
        batch: &[u8],
    ) {
        self.counters.segments += 1;
        let key = ConnKey::new(seg.src, seg.dst);
        let f = seg.flags;
        let active_open = f.syn && !f.ack && !f.rst;
        let found = match self.last_found {
            Some((k, idx)) if k == key => {
                debug_assert_eq!(self.index.get(&key), Some(&idx), "last_found is stale");
                Some(idx)
            }
            _ => {
                let idx = self.index.get(&key).copied();
                self.last_found = idx.map(|i| (key, i));
                idx
            }
        };
        let kind = match found {
            Some(idx) if active_open => Some((idx, self.syn_kind(idx, seg))),
            Some(idx) => Some((idx, SynKind::Same)),
            None => None,
        };
        let idx = match kind {
            Some((idx, SynKind::New)) => {
                self.close(ctx, idx, CloseReason::Reused, ts, now, batch);
                self.open(ctx, key, seg, packet_index, now, batch)
            }
            Some((idx, SynKind::Restart)) => {
                // The client gave up on its SYN and sent another with a new ISN before any
                // SYN-ACK: the stack's new attempt replaces the old one (RFC 9293 §3.10.7.2:
                // the listener has nothing of the first yet).
                self.counters.syn_isn_changes += 1;
                if let Some(conn) = self.slots.get_mut(idx as usize).and_then(Option::as_mut) {
                    conn.halves[Direction::ToServer.index()] = HalfStream::default();
                }
                idx
            }
            Some((idx, SynKind::Simultaneous)) => {
                self.counters.simultaneous_opens += 1;
                idx
            }
            Some((idx, SynKind::Same)) => idx,
            None => {
                if self.closed.is_recent(&key, ts.min(now)) {
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
                self.open(ctx, key, seg, packet_index, now, batch)
            }
        };
        // Activity is dated by the segment's own time (never past the clock), not by when
        // the causal window let it go: a segment released at a tick, or by later segments
        // of other connections of the same worker, was still seen when it was stamped, so
        // idle timeouts do not depend on how connections are spread over workers.
        self.touch(idx, ts.min(now));
        let lim = self.half_limits();
        let Some(conn) = self.slots.get_mut(idx as usize).and_then(Option::as_mut) else {
            return;
        };
        let mut env = Env {
            factory: &mut self.factory,
            ctx: &mut *ctx,
            batch,
        };
        if let Some(reason) = conn.process(&mut env, &mut self.counters, lim, seg, ts) {
            self.close(ctx, idx, reason, ts, now, batch);
            return;
        }
        if conn.halves.iter().any(HalfStream::retained_in_batch)
            && self.retained_in_batch.last() != Some(&idx)
        {
            self.retained_in_batch.push(idx);
        }
        self.recharge(idx);
        self.enforce_budget(ctx, Some(idx), now, batch);
    }

    /// Time advanced: closes connections idle longer than `idle_timeout` (by `now` of
    /// their last packet) and calls `on_tick` of every live handler (connections that
    /// carried no byte, gap or FIN have none).
    pub fn on_tick(&mut self, ctx: &mut Ctx<F>, now: Timestamp) {
        self.drain_window(ctx, now, false);
        // The recency list is ordered by last activity: only the expired tail is visited.
        while self.tail != NIL {
            let last = self.recency[self.tail as usize].last_seen;
            if now.since(last) <= self.limits.idle_timeout {
                break;
            }
            self.close(ctx, self.tail, CloseReason::Idle, now, now, &[]);
        }
        let lim = self.half_limits();
        let mut used = self.mem_used;
        let c = &mut self.counters;
        for conn in self.slots.iter_mut().flatten() {
            let mut env = Env {
                factory: &mut self.factory,
                ctx: &mut *ctx,
                batch: &[],
            };
            if !conn.held.is_empty() {
                conn.release_held(&mut env, c, lim, Some(now));
            }
            // Holes the peer acknowledged and that are still open are lost by now.
            for dir in [Direction::ToServer, Direction::ToClient] {
                let mut out = conn.app.emitter(&mut env, dir, now, None);
                conn.halves[dir.index()].on_tick(now, c, &mut out);
            }
            if let Some(h) = conn.app.handler.as_mut() {
                h.on_tick(ctx, &conn.app.info, now);
            }
            let cost = conn.mem_bytes();
            used = used - conn.charged + cost;
            conn.charged = cost;
        }
        self.mem_used = used;
        self.enforce_budget(ctx, None, now, &[]);
        if self.retain_suspended && self.mem_used <= self.limits.memory_budget / RETAIN_RESUME_SHARE
        {
            self.retain_suspended = false;
        }
        self.closed.expire(now);
    }

    /// Closes every connection (end of capture), delivering what is buffered first, in
    /// the order of their ids.
    pub fn close_all(&mut self, ctx: &mut Ctx<F>, now: Timestamp) {
        self.drain_window(ctx, now, true);
        let mut live: Vec<(u64, u32)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((s.as_ref()?.info().id, u32::try_from(i).ok()?)))
            .collect();
        live.sort_unstable();
        for (_, idx) in live {
            self.close(ctx, idx, CloseReason::EndOfCapture, now, now, &[]);
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
        if let Some(h) = conn.and_then(|c| c.app.handler.as_mut()) {
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
                if conn.is_some_and(|c| c.app.handler.is_none()) {
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
    /// 0. every connection's retained bytes (delivered, not yet acknowledged: kept only to
    ///    compare later copies) are released, and no more are kept until usage falls to
    ///    `1 / RETAIN_RESUME_SHARE` of the budget (one pass over the connections per
    ///    suspension, not per segment);
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
    /// `batch`: the batch of frames being processed, if any (`Env::batch`).
    fn enforce_budget(
        &mut self,
        ctx: &mut Ctx<F>,
        current: Option<u32>,
        now: Timestamp,
        batch: &[u8],
    ) {
        let budget = self.limits.memory_budget;
        if self.mem_used <= budget {
            return;
        }
        self.counters.memory_limit_hits += 1;
        if !self.retain_suspended {
            self.release_retained();
            if self.mem_used <= budget {
                return;
            }
        }
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
            self.close(ctx, victim, CloseReason::Evicted, now, now, batch);
        }
        if let Some(idx) = current.filter(|_| self.mem_used > budget) {
            self.shed(ctx, idx);
        }
        let Some(idx) = current.filter(|_| self.mem_used > budget) else {
            return;
        };
        let lim = self.half_limits();
        let Some(conn) = self.slots.get_mut(idx as usize).and_then(Option::as_mut) else {
            return;
        };
        let buffered =
            !conn.held.is_empty() || conn.halves.iter().any(|h| h.buffered_mem_bytes() > 0);
        if !buffered {
            return;
        }
        let c = &mut self.counters;
        c.memory_limit_buffers_released += 1;
        let mut env = Env {
            factory: &mut self.factory,
            ctx,
            batch,
        };
        if !conn.held.is_empty() {
            conn.release_held(&mut env, c, lim, Some(Timestamp(i64::MAX)));
        }
        for dir in [Direction::ToServer, Direction::ToClient] {
            let mut out = conn.app.emitter(&mut env, dir, now, None);
            conn.halves[dir.index()].release_buffered(c, &mut out);
        }
        self.recharge(idx);
    }

    /// Step 0 of `enforce_budget`: every connection's retained bytes go, and retention
    /// stops until `on_tick` resumes it.
    fn release_retained(&mut self) {
        self.retain_suspended = true;
        let mut released = false;
        let mut used = self.mem_used;
        for conn in self.slots.iter_mut().flatten() {
            let mut any = false;
            for h in &mut conn.halves {
                any |= h.release_retained();
            }
            if any {
                released = true;
                let cost = conn.mem_bytes();
                used = used - conn.charged + cost;
                conn.charged = cost;
            }
        }
        self.mem_used = used;
        if released {
            self.counters.memory_limit_retained_released += 1;
        }
    }

    /// The out-of-order and retention limits of one direction.
    fn half_limits(&self) -> HalfLimits {
        HalfLimits {
            max_bytes: self.limits.max_ooo_bytes_per_direction,
            max_chunks: self.limits.max_ooo_segments_per_direction,
            retain: !self.retain_suspended,
        }
    }

    pub fn counters(&self) -> &ReassemblyCounters {
        &self.counters
    }

    /// What a SYN without ACK on a tracked 4-tuple is: a new connection, unless it
    /// repeats the client's SYN (same sender, same ISN, or captured late), is the client's
    /// new attempt before any SYN-ACK or byte, or the server's own SYN of a simultaneous
    /// open (RFC 9293 §3.5, figure 8: both ends send a SYN without ACK).
    fn syn_kind(&self, idx: u32, seg: &TcpSegment<'_>) -> SynKind {
        let Some(conn) = self.slots.get(idx as usize).and_then(Option::as_ref) else {
            return SynKind::New;
        };
        let to_server = &conn.halves[Direction::ToServer.index()];
        let to_client = &conn.halves[Direction::ToClient.index()];
        let open = !conn.halves.iter().any(HalfStream::fin_seen);
        let client = conn.info().client;
        let seq = SeqNum(seg.seq);
        let retransmitted = seg.src == client && to_server.isn() == Some(seq) && open;
        // The capture reordered the client's SYN after the SYN-ACK or after its first data
        // (the connection was then picked up there), and the SYN starts at or just before
        // the client's stream: the same connection, not a reuse of the 4-tuple.
        let late = seg.src == client
            && to_server.isn().is_none()
            && open
            && to_server
                .offset_of(seq + 1u32)
                .is_some_and(|off| off <= 0 && off > -MAX_WINDOW_SIGNED);
        if retransmitted || late {
            return SynKind::Same;
        }
        // Nothing but the client's SYN so far: no SYN-ACK, no byte either way.
        let bare = conn.info().synack_ts.is_none()
            && conn.app.handler.is_none()
            && !to_client.is_synchronised()
            && to_server.isn().is_some()
            && to_server.delivered() == 0;
        if bare && seg.src == client {
            return SynKind::Restart;
        }
        if bare && seg.src == conn.info().server {
            return SynKind::Simultaneous;
        }
        SynKind::New
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
        batch: &[u8],
    ) -> u32 {
        while self.index.len() >= self.limits.max_connections.max(1) {
            let Some(victim) = self.eviction_victim(None) else {
                break;
            };
            self.close(ctx, victim, CloseReason::Evicted, now, now, batch);
        }
        let (client, server) = if server_is_dst(seg, &self.servers, &self.factory) {
            (seg.src, seg.dst)
        } else {
            (seg.dst, seg.src)
        };
        let midstream = !seg.flags.syn;
        let info = ConnInfo {
            id,
            client,
            server,
            syn_ts: None,
            synack_ts: None,
            established_ts: None,
            midstream,
        };
        let conn = Conn::new(info, seg.flags.syn && seg.auth_option);
        let link = Recency {
            prev: NIL,
            next: NIL,
            // Set by the `touch` that follows every `open`, to the segment's time.
            last_seen: Timestamp(i64::MIN),
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
        self.last_found = Some((key, idx));
        self.recharge(idx);
        self.counters.connections_opened += 1;
        if midstream {
            self.counters.midstream_pickups += 1;
        }
        idx
    }

    /// Ends connection `idx`: delivers what it still holds (gaps for holes), calls
    /// `on_close`, frees its slot. `ts` is the time given to the final calls; `batch` the
    /// batch of frames being processed, if any (its retained bytes may lie in it).
    fn close(
        &mut self,
        ctx: &mut Ctx<F>,
        idx: u32,
        reason: CloseReason,
        ts: Timestamp,
        now: Timestamp,
        batch: &[u8],
    ) {
        let Some(mut conn) = self.slots.get_mut(idx as usize).and_then(Option::take) else {
            return;
        };
        self.unlink(idx);
        self.free.push(idx);
        self.mem_used -= conn.charged;
        let key = ConnKey::new(conn.info().client, conn.info().server);
        self.index.remove(&key);
        if self.last_found.is_some_and(|(k, _)| k == key) {
            self.last_found = None;
        }
        let lim = self.half_limits();
        let mut env = Env {
            factory: &mut self.factory,
            ctx: &mut *ctx,
            batch,
        };
        conn.flush_at_close(&mut env, &mut self.counters, lim, ts);
        if let Some(h) = conn.app.handler.as_mut() {
            h.on_close(ctx, &conn.app.info, reason, ts);
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
            // Dated by the closing segment, as stragglers are by their own: whether a
            // later segment is a straggler does not depend on the worker's clock (which
            // other connections of the same worker advance).
            self.closed.remember(key, ts.min(now), &mut self.counters);
        }
    }

    /// Marks connection `idx` active at `seen` (its last activity never goes back: a
    /// segment stamped earlier than one already seen does not make it older), and keeps
    /// the recency list ordered by last activity, latest first: a segment stamped earlier
    /// than other connections' latest activity goes behind them. Moving it to the front
    /// instead let a connection stamped long ago sit before one active since, so the idle
    /// scan (which stops at the first tail entry not expired) missed it when the worker
    /// held other connections and not when it did not (`pipeline` target, 1 worker vs 3).
    fn touch(&mut self, idx: u32, seen: Timestamp) {
        let Some(r) = self.recency.get_mut(idx as usize) else {
            return;
        };
        r.last_seen = r.last_seen.max(seen);
        let seen = r.last_seen;
        self.unlink(idx);
        let (mut before, mut at) = (NIL, self.head);
        let mut walked = 0;
        while at != NIL && self.recency[at as usize].last_seen > seen {
            if walked == RECENCY_WALK_MAX {
                self.counters.recency_walk_limit_hits += 1;
                break;
            }
            before = at;
            at = self.recency[at as usize].next;
            walked += 1;
        }
        if before == NIL {
            self.push_front(idx);
            return;
        }
        // Between `before` and `at`.
        self.recency[idx as usize].prev = before;
        self.recency[idx as usize].next = at;
        self.recency[before as usize].next = idx;
        if at != NIL {
            self.recency[at as usize].prev = idx;
        } else {
            self.tail = idx;
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
