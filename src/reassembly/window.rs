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
//! Bounded: at most `causal_window + 1` segments are held (their indices lie within the
//! window), each at most one frame
//! (64 KiB); their buffers are reused.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

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
/// windows of the newest segment pushed (`CausalWindow::released`): a segment is released
/// a window after its position, so this leaves one more window in which a late one is seen.
const RELEASED_REACH: u64 = 2;

/// Largest sequence distance read as causal (16 MiB): more than a window of frames can
/// carry, far less than the sequence space.
pub const CAUSAL_SEQ_REACH: i32 = 1 << 24;

/// What ordering needs to know of a segment.
#[derive(Clone, Copy, Debug)]
struct Meta {
    src: SocketAddr,
    dst: SocketAddr,
    seq: SeqNum,
    ack: SeqNum,
    flags: TcpFlags,
    /// Sequence space occupied: payload, plus one each for SYN and FIN.
    len: u32,
    /// The same for both directions of a 4-tuple (`pair_key`): most segments of other
    /// connections are told apart by it alone when `conn` is given.
    pair: u32,
    /// The connection's number in this window: equal for every held and recently released
    /// segment of one 4-tuple (given by `CausalWindow::push`), so that ordering compares
    /// numbers, not addresses.
    conn: u64,
    /// `src` sorts before `dst`: the direction within the connection.
    fwd: bool,
    /// `src == dst` (a connection to itself: both directions look alike).
    self_loop: bool,
}

/// A symmetric key of the endpoints (equal keys do not mean equal pairs).
fn pair_key(a: &SocketAddr, b: &SocketAddr) -> u32 {
    fn fold(e: &SocketAddr) -> u32 {
        let ip = match e.ip() {
            std::net::IpAddr::V4(v4) => u32::from(v4),
            std::net::IpAddr::V6(v6) => {
                let x = u128::from(v6);
                (x as u32) ^ ((x >> 32) as u32) ^ ((x >> 64) as u32) ^ ((x >> 96) as u32)
            }
        };
        (ip ^ u32::from(e.port()).rotate_left(16)).wrapping_mul(0x9E37_79B1)
    }
    fold(a) ^ fold(b)
}

impl Meta {
    fn of(seg: &TcpSegment<'_>) -> Meta {
        let f = seg.flags;
        let payload = u32::try_from(seg.payload.len()).unwrap_or(u32::MAX);
        Meta {
            src: seg.src,
            dst: seg.dst,
            seq: SeqNum(seg.seq),
            ack: SeqNum(seg.ack),
            flags: f,
            len: payload
                .saturating_add(u32::from(f.syn))
                .saturating_add(u32::from(f.fin)),
            pair: pair_key(&seg.src, &seg.dst),
            conn: 0,
            fwd: seg.src < seg.dst,
            self_loop: seg.src == seg.dst,
        }
    }

    /// The same 4-tuple, by the addresses (what `conn` is given by).
    fn same_endpoints(&self, o: &Meta) -> bool {
        self.pair == o.pair
            && ((self.src == o.src && self.dst == o.dst)
                || (self.src == o.dst && self.dst == o.src))
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
    payload: Payload,
    auth_option: bool,
    timestamp: Option<(u32, u32)>,
    window: u16,
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
            src: m.src,
            dst: m.dst,
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
    /// The segments released whose capture position lies within `RELEASED_REACH` windows
    /// of the newest pushed, with that position, sorted by it: what a late segment is
    /// checked against.
    /// Kept by position, not by count, so that a connection's released segments are the
    /// same whatever other connections share the worker (a count of the last few let one
    /// worker forget what three workers remembered: `pipeline` fuzz finding, 1 vs 3
    /// workers, `causal_window_late` 2 against 3).
    released: VecDeque<(Meta, u64)>,
    /// Payload buffers to reuse.
    spare: Vec<Vec<u8>>,
    /// Scratch list of one connection's held segments (`pop_for`), kept for its buffer.
    mine: Vec<usize>,
    /// The last connection number given (`Meta::conn`).
    next_conn: u64,
}

impl CausalWindow {
    /// Takes `seg` (its payload by position when it lies in `batch`, else a copy),
    /// counting it late if a released segment needed it first. Before the bytes of
    /// `batch` change, `detach` from it.
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
        // `released` is sorted by position: the ones out of reach are a prefix.
        while self
            .released
            .front()
            .is_some_and(|&(_, at)| at.saturating_add(reach) < index)
        {
            self.released.pop_front();
        }
        let mut meta = Meta::of(seg);
        // Every held or recently released segment of a 4-tuple has one number: take it
        // from any of them, or a new one.
        // The newest first: the connection's last segment is usually near the back.
        let known = self
            .held
            .iter()
            .rev()
            .map(|h| &h.meta)
            .chain(self.released.iter().rev().map(|(m, _)| m))
            .find(|m| m.same_endpoints(&meta))
            .map(|m| m.conn);
        meta.conn = known.unwrap_or_else(|| {
            self.next_conn += 1;
            self.next_conn
        });
        // A SYN or SYN-ACK after a segment of its connection it must precede, or a segment
        // that a released one acknowledges: the window was too small for this reordering.
        // (Same-direction data is left out: a retransmission cannot be told from it, and
        // the out-of-order buffer absorbs it.) A new number has no released segment, and
        // a pure ACK (no SYN, no sequence space) is acknowledged by none.
        let late = known.is_some()
            && (meta.flags.syn || meta.len > 0)
            && self
                .released
                .iter()
                .map(|(r, _)| r)
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
            payload,
            auth_option: seg.auth_option,
            timestamp: seg.timestamp,
            window: seg.window,
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
        if !self.held.front().is_some_and(due) {
            return None;
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
        // Nearly always the first due segment is its connection's earliest held and none
        // held must precede it: it goes, found in one pass with no list built.
        let at = if held.iter().take(first).all(|h| !h.meta.same_conn(&conn))
            && !held
                .iter()
                .skip(first + 1)
                .any(|h| must_precede(&h.meta, &conn))
        {
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
        // Kept sorted by position (a segment released ahead of an earlier one goes before
        // it; nearly always at the back), so `push` drops the ones out of reach from the
        // front instead of scanning them all.
        if self.released.back().is_none_or(|&(_, at)| at <= h.index) {
            self.released.push_back((h.meta, h.index));
        } else {
            let before = self.released.partition_point(|&(_, at)| at <= h.index);
            self.released.insert(before, (h.meta, h.index));
        }
        Some(h)
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
mod tests {
    use super::*;

    fn seg<'a>(
        from_client: bool,
        flags: &str,
        seq: u32,
        ack: u32,
        payload: &'a [u8],
    ) -> TcpSegment<'a> {
        let (c, s): (SocketAddr, SocketAddr) = (
            "10.0.0.1:40000".parse().unwrap(),
            "10.0.0.2:80".parse().unwrap(),
        );
        let (src, dst) = if from_client { (c, s) } else { (s, c) };
        TcpSegment {
            src,
            dst,
            seq,
            ack,
            flags: TcpFlags {
                syn: flags.contains('S'),
                ack: flags.contains('A'),
                fin: flags.contains('F'),
                rst: flags.contains('R'),
            },
            payload,
            auth_option: false,
            timestamp: None,
            window: 1000,
        }
    }

    /// Pushes `segs` in the given order through a window of `limit` (`run`); the indices
    /// of the segments in release order.
    fn order(limit: usize, segs: &[(u64, TcpSegment<'_>)]) -> (Vec<u64>, ReassemblyCounters) {
        let capture: Vec<(u16, TcpSegment<'_>)> = segs.iter().map(|(_, s)| (0, *s)).collect();
        let (out, c) = run(&capture, None, limit);
        // The window reads capture positions (arrival order); the test names segments by
        // their place in the sender's order.
        (out.iter().map(|&(_, at)| segs[at as usize].0).collect(), c)
    }

    static BYTES: [u8; 1400] = [b'x'; 1400];

    /// Connection `k`'s packets in the order its ends sent them (client port 40000 + k):
    /// handshake, a request in `req` segments, a response in `resp` segments with an ACK
    /// every second one, FINs. Sequence numbers start at `isn` (near the wrap, say).
    fn flow(k: u16, isn: (u32, u32), req: &[u16], resp: &[u16]) -> Vec<TcpSegment<'static>> {
        let c: SocketAddr = SocketAddr::from(([10, 0, 0, 1], 40000 + k));
        let s: SocketAddr = SocketAddr::from(([10, 0, 0, 2], 80));
        let mk = |from_client: bool, flags: &str, seq: u32, ack: u32, len: u16| {
            let mut t = seg(from_client, flags, seq, ack, &BYTES[..usize::from(len)]);
            (t.src, t.dst) = if from_client { (c, s) } else { (s, c) };
            t
        };
        let (mut cs, mut ss) = isn;
        let mut v = vec![mk(true, "S", cs, 0, 0)];
        cs = cs.wrapping_add(1);
        v.push(mk(false, "SA", ss, cs, 0));
        ss = ss.wrapping_add(1);
        v.push(mk(true, "A", cs, ss, 0));
        for &n in req {
            v.push(mk(true, "A", cs, ss, n));
            cs = cs.wrapping_add(u32::from(n));
        }
        for (i, &n) in resp.iter().enumerate() {
            v.push(mk(false, "A", ss, cs, n));
            ss = ss.wrapping_add(u32::from(n));
            if i % 2 == 1 {
                v.push(mk(true, "A", cs, ss, 0));
            }
        }
        v.push(mk(false, "AF", ss, cs, 0));
        ss = ss.wrapping_add(1);
        v.push(mk(true, "AF", cs, ss, 0));
        cs = cs.wrapping_add(1);
        v.push(mk(false, "A", ss, cs, 0));
        v
    }

    /// The window over `capture` (connection, segment) as a worker runs it (what was due
    /// before a packet goes before it is pushed), holding only the segments of `only`
    /// when given (a worker that has only those connections sees every capture position
    /// through its ticks). The (connection, position) of each segment in release order.
    fn run(
        capture: &[(u16, TcpSegment<'_>)],
        only: Option<u16>,
        limit: usize,
    ) -> (Vec<(u16, u64)>, ReassemblyCounters) {
        let mut w = CausalWindow::default();
        let mut c = ReassemblyCounters::default();
        let mut out = Vec::new();
        let conn_of = |i: u64| capture[i as usize].0;
        for (pos, (k, s)) in capture.iter().enumerate() {
            let pos = pos as u64;
            let mut release = |w: &mut CausalWindow, c: &mut ReassemblyCounters, at: u64| {
                while let Some(h) = w.pop_full(at, limit, c) {
                    out.push((conn_of(h.index), h.index));
                    w.recycle(h);
                }
            };
            release(&mut w, &mut c, pos.saturating_sub(1));
            if only.is_none_or(|o| o == *k) {
                w.push(s, &[], pos, Timestamp(0), limit, &mut c);
            }
            release(&mut w, &mut c, pos);
        }
        while let Some(h) = w.pop(&mut c) {
            out.push((conn_of(h.index), h.index));
        }
        (out, c)
    }

    /// Initial sequence numbers: any, near the wrap, or in a narrow range that
    /// connections share (so that one connection's numbers could be read as another's
    /// cause, which the window must not do).
    fn isn() -> impl proptest::strategy::Strategy<Value = u32> {
        use proptest::prelude::*;
        prop_oneof![any::<u32>(), Just(u32::MAX - 3), 1000u32..1100]
    }

    proptest::proptest! {
        /// Several connections interleaved, then two packets at most five places apart
        /// swapped: every pair TCP orders comes out in that order, nothing is counted late
        /// or forced, and each connection's segments come out in the order they do when
        /// its worker holds no other connection (the window decides per connection).
        #[test]
        fn connections_interleaved_come_out_in_causal_order_each_as_if_alone(
            flows in proptest::collection::vec(
                (
                    isn(),
                    isn(),
                    proptest::collection::vec(1u16..1400, 1..3),
                    proptest::collection::vec(1u16..1400, 1..7),
                ),
                1..5,
            ),
            picks in proptest::collection::vec(0usize..4, 0..200),
            swap in (0usize..1000, 1usize..6),
        ) {
            use proptest::prelude::*;
            // Interleave: each pick takes the next packet of a connection (round robin
            // over the ones left when picks run out).
            let mut queues: Vec<std::collections::VecDeque<TcpSegment<'static>>> = flows
                .iter()
                .enumerate()
                .map(|(k, (a, b, req, resp))| flow(k as u16, (*a, *b), req, resp).into())
                .collect();
            let mut capture = Vec::new();
            let mut picks = picks.into_iter();
            while queues.iter().any(|q| !q.is_empty()) {
                let live: Vec<usize> = (0..queues.len()).filter(|&k| !queues[k].is_empty()).collect();
                let k = live[picks.next().unwrap_or(capture.len()) % live.len()];
                capture.push((k as u16, queues[k].pop_front().unwrap()));
            }
            let sent = capture.clone();
            let (i, d) = swap;
            let i = i % capture.len();
            let j = (i + d).min(capture.len() - 1);
            capture.swap(i, j);
            // Capture position of each sent packet.
            let at: Vec<usize> = (0..sent.len())
                .map(|x| if x == i { j } else if x == j { i } else { x })
                .collect();

            let (mixed, c) = run(&capture, None, CAUSAL_WINDOW);
            prop_assert_eq!(mixed.len(), capture.len());
            prop_assert_eq!((c.causal_window_late, c.causal_window_forced), (0, 0));
            let out_pos = |x: usize| mixed.iter().position(|&(_, p)| p == at[x] as u64).unwrap();
            for a in 0..sent.len() {
                for b in 0..sent.len() {
                    if sent[a].0 == sent[b].0
                        && must_precede(&Meta::of(&sent[a].1), &Meta::of(&sent[b].1))
                    {
                        prop_assert!(out_pos(a) < out_pos(b), "{} before {}: {:?}", a, b, mixed);
                    }
                }
            }
            let mut reorders = 0;
            for k in 0..flows.len() as u16 {
                let (alone, ck) = run(&capture, Some(k), CAUSAL_WINDOW);
                let mine: Vec<_> = mixed.iter().filter(|&&(o, _)| o == k).copied().collect();
                prop_assert_eq!(&alone, &mine, "connection {}", k);
                reorders += ck.causal_reorders;
            }
            prop_assert_eq!(reorders, c.causal_reorders);
        }
    }

    /// A connection's in-order packets: handshake, request, response, FINs.
    fn conn() -> Vec<(u64, TcpSegment<'static>)> {
        vec![
            (0, seg(true, "S", 100, 0, b"")),
            (1, seg(false, "SA", 500, 101, b"")),
            (2, seg(true, "A", 101, 501, b"")),
            (3, seg(true, "A", 101, 501, b"GET / HTTP/1.1\r\n\r\n")),
            (4, seg(false, "A", 501, 119, b"HTTP/1.1 200 OK\r\n")),
            (5, seg(false, "A", 518, 119, b"Content-Length: 0\r\n\r\n")),
            (6, seg(false, "AF", 539, 119, b"")),
            (7, seg(true, "AF", 119, 540, b"")),
            (8, seg(false, "A", 540, 120, b"")),
        ]
    }

    #[test]
    fn every_swap_within_the_window_is_undone() {
        let clean = conn();
        let want: Vec<u64> = (0..clean.len() as u64).collect();
        for i in 0..clean.len() {
            for j in i + 1..clean.len().min(i + 7) {
                let mut s = clean.clone();
                s.swap(i, j);
                let (got, c) = order(CAUSAL_WINDOW, &s);
                // Two pure ACKs (2, 8) or the two segments that carry no order between
                // them may legitimately stay swapped; the ones TCP orders may not.
                let pos = |x: u64| got.iter().position(|&g| g == x).unwrap();
                for a in 0..clean.len() {
                    for b in 0..clean.len() {
                        if must_precede(&Meta::of(&clean[a].1), &Meta::of(&clean[b].1)) {
                            assert!(pos(a as u64) < pos(b as u64), "swap {i},{j}: {got:?}");
                        }
                    }
                }
                assert_eq!(got.len(), want.len());
                assert_eq!(c.causal_window_late, 0, "swap {i},{j}");
            }
        }
    }

    #[test]
    fn the_handshake_and_request_come_before_what_depends_on_them() {
        let c = conn();
        let m = |i: usize| Meta::of(&c[i].1);
        assert!(must_precede(&m(0), &m(1)), "SYN before SYN-ACK");
        assert!(must_precede(&m(0), &m(3)), "SYN before the client's data");
        assert!(must_precede(&m(1), &m(2)), "SYN-ACK before the ACK of it");
        assert!(must_precede(&m(3), &m(4)), "request before response");
        assert!(must_precede(&m(5), &m(6)), "last data before the FIN");
        assert!(
            must_precede(&m(2), &m(3)),
            "the handshake's ACK before data at its seq"
        );
        assert!(!must_precede(&m(3), &m(2)));
        assert!(!must_precede(&m(2), &m(2)), "a duplicate ACK");
        assert!(!must_precede(&m(4), &m(3)));
        assert!(!must_precede(&m(3), &m(3)), "a duplicate");
    }

    #[test]
    fn wider_reordering_is_counted_late_and_cycles_are_forced() {
        let mut s = conn();
        // The response (4) captured 4 places before its request (3): beyond a window of 2.
        let req = s.remove(3);
        s.insert(6, req);
        let (_, c) = order(2, &s);
        assert!(c.causal_window_late >= 1);
        let (got, c) = order(CAUSAL_WINDOW, &s);
        assert!(got.iter().position(|&g| g == 3) < got.iter().position(|&g| g == 4));
        assert_eq!((c.causal_window_late, c.causal_window_forced), (0, 0));
        assert!(c.causal_reorders >= 1);
        // Forged: each acknowledges the other's data.
        let cyc = vec![
            (0, seg(true, "A", 100, 510, b"0123456789")),
            (1, seg(false, "A", 500, 110, b"0123456789")),
        ];
        let (got, c) = order(CAUSAL_WINDOW, &cyc);
        assert_eq!((got, c.causal_window_forced), (vec![0, 1], 1));
    }
}
