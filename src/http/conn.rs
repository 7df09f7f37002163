//! `HttpConn`: the HTTP/1.x parser of one TCP connection, both directions, and the
//! `StreamHandler` glue that feeds it: data, gaps, ACKs, ends, ticks and the memory budget.
//!
//! The parser is split along its seams, each a file of `impl HttpConn` over the state it
//! owns:
//! - `half.rs`: each direction (`Half`) is a small state machine: `Start` (looking for a
//!   start line; strict at a clean message boundary, tolerant in resync), `Head` (the start
//!   line matched, waiting for the empty line), `Body`, and the tunnel phases;
//! - `message.rs`: a parsed head becomes a message (request, interim or final response),
//!   and a message's end fills in its entry;
//! - `queue.rs`: requests enter a queue (`Entry`) when their head is parsed, so that a
//!   response (or a 100 Continue) can pair with a request whose body is still arriving;
//!   entries are emitted in order as `Transaction`s;
//! - `pairing.rs`: which entry a response answers: the oldest without a final response
//!   (RFC 9112 §9.3.2), unless TCP acknowledgments (`AckPairing`) say otherwise after a
//!   loss (docs/architecture.md, "Pairing when the capture lost packets");
//! - `tunnel.rs`: CONNECT and Upgrade: held request bytes, the tunnel probe, tunnels.
//!
//! Gap policy (here, `gap`): a gap inside a body of known length (Content-Length, or inside
//! a chunk's data) is counted in `Body::missing` and flagged `BodyGap`, and parsing goes on.
//! A gap anywhere else ends the message in progress (`RequestInterrupted` /
//! `ResponseInterrupted`) and the direction resynchronises at the next start line:
//! - a request with a parsed head (even a partial one: its complete lines) is still emitted,
//!   `complete == false`;
//! - a response whose status line was lost (gap before or inside its start line): the
//!   oldest waiting request is emitted without a response, flagged `ResponseInterrupted`,
//!   so the next response found by resync is not paired with the wrong request;
//! - a gap in a close-delimited body counts its bytes as missing, and ends the message as
//!   interrupted.
//!
//! Invariants: every buffer is bounded (`max_head_bytes` for heads, held bytes and
//! trailers; `max_body_keep` per body; `max_pending_requests` entries, tombstones included;
//! `MAX_INTERIM` interim responses per request); every byte is looked at a bounded number
//! of times (no rescans of a head); nothing here panics on any input.

use crate::model::{Anomaly, ConnInfo, Direction, PerDirection, Unanswered};
use crate::reassembly::{CloseReason, StreamHandler};
use crate::time::Timestamp;

use super::body::{BodyReader, GapEffect, Progress};
use super::half::{Half, Phase};
use super::pairing::AckPairing;
use super::queue::{add_anomaly, EntryQueue};
use super::HttpCtx;

/// Per direction, a span `[start, end)` of stream offsets whose copies differed.
pub(super) type ConflictSpans = PerDirection<Option<(u64, u64)>>;

/// Interim (1xx) responses kept per request; more are counted but not kept.
pub const MAX_INTERIM: usize = 16;

/// The HTTP parser of one connection.
pub struct HttpConn {
    /// The request side (`to_server`) and the response side (`to_client`).
    pub(super) halves: PerDirection<Half>,
    pub(super) queue: EntryQueue,
    /// Responses still to come for requests dropped at the pending limit: skipped. A
    /// `u32` as `depth`: both count requests of one connection.
    pub(super) skip_responses: u32,
    /// The depth of the last entry made.
    pub(super) depth: u32,
    /// ACK-based pairing after loss: both streams' offsets and what the ACKs showed.
    pub(super) pairing: AckPairing,
    /// An h2c Upgrade happened (`tunnel.rs`): what the HTTP/2 session takes over, and the
    /// bytes after the switch as they arrive, until `Session::take_handoff` takes it.
    pub(super) switch: Option<Box<super::tunnel::H2cSwitch>>,
    /// Per direction, the span of stream offsets (`AckPairing::delivered`'s) still to be
    /// parsed whose copies differed in the capture (`Session::overlap_conflict`): the
    /// messages whose bytes fall in it are flagged. One span, widened to cover every
    /// report, so it stays bounded (a span may then cover a message between two reports).
    /// Boxed: rare, and every connection carries the field.
    pub(super) conflicts: Option<Box<ConflictSpans>>,
}

impl HttpConn {
    pub fn new(conn: &ConnInfo) -> Self {
        // Mid-stream pickup: neither direction is known to be at a message start.
        let resync = conn.midstream;
        HttpConn {
            halves: PerDirection::new(Half::new(true, resync), Half::new(false, resync)),
            queue: EntryQueue::default(),
            skip_responses: 0,
            depth: 0,
            pairing: AckPairing::default(),
            switch: None,
            conflicts: None,
        }
    }

    /// Requests waiting for a response.
    pub fn pending(&self) -> usize {
        self.queue
            .iter()
            .filter(|e| !e.is_tombstone() && !e.resp_done)
            .count()
    }

    // ---------------------------------------------------------------- data path

    /// Feeds `data` of `dir` whose stream offsets are not known (bytes held earlier).
    pub(super) fn feed(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        data: &[u8],
        ts: Timestamp,
    ) {
        self.feed_at(ctx, conn, dir, data, ts, None);
    }

    /// `feed`, with `base` the stream offset of `data[0]` when known.
    fn feed_at(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        data: &[u8],
        ts: Timestamp,
        base: Option<u64>,
    ) {
        let mut pos = 0usize;
        let mut stalls = 0u32;
        while pos < data.len() {
            let rest: &[u8] = data.get(pos..).unwrap_or_default();
            self.pairing.at[dir] = base.map(|b| b + pos as u64);
            let rest = match base {
                Some(b) => self.conflict_cut(dir, b + pos as u64, rest),
                None => rest,
            };
            let held = self.halves[dir].buf.len();
            let n = self.step(ctx, conn, dir, rest, ts);
            pos += n;
            // Every step consumes bytes, changes phase, or shrinks the held head (an
            // abandoned malformed head re-feeds all but its first line, which may start
            // another candidate: one line less each time, so this ends). A step that does
            // none of these several times in a row would be a bug: stop rather than spin.
            let shrank = self.halves[dir].buf.len() < held;
            stalls = if n == 0 && !shrank { stalls + 1 } else { 0 };
            if stalls > 4 {
                debug_assert!(false, "http parser made no progress");
                break;
            }
        }
    }

    /// Before a step over `rest`, the bytes at stream offset `at` on: when `at` lies in
    /// the span of conflicting bytes, the message that takes them is flagged; when the
    /// span starts inside `rest`, the step only gets the bytes before it, so that no step
    /// ends a message and starts the next across the span's start (the parser takes any
    /// split of its input, as segments split it).
    fn conflict_cut<'d>(&mut self, dir: Direction, at: u64, rest: &'d [u8]) -> &'d [u8] {
        let Some(spans) = self.conflicts.as_deref_mut() else {
            return rest;
        };
        let Some((s, e)) = spans[dir] else {
            return rest;
        };
        if e <= at {
            spans[dir] = None;
            if spans.iter().all(Option::is_none) {
                self.conflicts = None;
            }
            return rest;
        }
        if s <= at {
            self.halves[dir].overlap_conflict = true;
            return rest;
        }
        let before = usize::try_from(s - at).unwrap_or(usize::MAX);
        rest.get(..before).unwrap_or(rest)
    }

    /// Bytes `start..start + len` of the next `on_data` of `dir` had two different copies
    /// in the capture (`Session::overlap_conflict`).
    pub(crate) fn overlap_conflict(&mut self, dir: Direction, start: u64, len: u64) {
        let s = self.pairing.delivered[dir].saturating_add(start);
        let e = s.saturating_add(len);
        let spans = self
            .conflicts
            .get_or_insert_with(|| Box::new(PerDirection::new(None, None)));
        spans[dir] = Some(match spans[dir] {
            Some((a, b)) => (a.min(s), b.max(e)),
            None => (s, e),
        });
    }

    /// A later copy of bytes of `dir` already parsed differed from the copy parsed
    /// (`Session::delivered_conflict`). Flagged: the message in progress (it holds those
    /// bytes, or they ended just before its bytes so far); else, on the request side, the
    /// last request whose transaction is not emitted yet (its response is awaited); else
    /// the next message of `dir`. In a tunnel or after the FIN nothing is flagged (the
    /// reassembler's `overlap_conflicts_delivered` counts it).
    pub(crate) fn delivered_conflict(&mut self, ctx: &mut HttpCtx, dir: Direction) {
        match self.halves[dir].phase {
            Phase::Head | Phase::Body(_) => self.halves[dir].overlap_conflict = true,
            Phase::Start { .. } => {
                let waiting = match dir {
                    Direction::ToServer => self
                        .queue
                        .back_mut()
                        .filter(|e| !e.is_tombstone() && e.req_done),
                    Direction::ToClient => None,
                };
                match waiting {
                    Some(e) if e.req_anomalies.contains(&Anomaly::OverlapConflict) => {}
                    Some(e) => {
                        e.req_anomalies.push(Anomaly::OverlapConflict);
                        ctx.counters.overlap_conflict_messages += 1;
                    }
                    None => self.overlap_conflict(dir, 0, 1),
                }
            }
            Phase::AwaitSwitch { .. } | Phase::TunnelProbe | Phase::Tunnel | Phase::Ended => {}
        }
    }

    /// One step of `dir`'s state machine over the start of `data`. Returns the bytes used.
    fn step(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        data: &[u8],
        ts: Timestamp,
    ) -> usize {
        match &mut self.halves[dir].phase {
            Phase::Start { resync } => {
                let resync = *resync;
                self.step_start(ctx, conn, dir, data, ts, resync)
            }
            Phase::Head => self.step_head(ctx, conn, dir, data, ts),
            Phase::Body(reader) => {
                let (n, progress) = reader.feed(data);
                match progress {
                    Progress::More => {}
                    Progress::Done => self.finish_message(ctx, conn, dir, ts, true, None),
                    Progress::Invalid => {
                        self.finish_message(ctx, conn, dir, ts, false, Some(Anomaly::InvalidChunk));
                        self.halves[dir].resync(true);
                    }
                }
                n
            }
            Phase::AwaitSwitch { .. } => self.step_await_switch(ctx, dir, data),
            Phase::TunnelProbe => self.step_tunnel_probe(ctx, conn, data, ts),
            Phase::Tunnel => self.step_tunnel(ctx, dir, data),
            Phase::Ended => data.len(),
        }
    }

    // ---------------------------------------------------------------- gaps, ends

    /// A gap of `len` bytes in `dir`. Returns true when it lay inside a body of known
    /// length, or in bytes that are not HTTP messages (tunnel, ended direction): it cannot
    /// have hidden a whole message.
    pub(super) fn gap(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        len: u64,
        ts: Timestamp,
    ) -> bool {
        if len == 0 {
            return true;
        }
        match &mut self.halves[dir].phase {
            Phase::Body(reader) => {
                let close = reader.is_close_delimited();
                match reader.gap(len) {
                    GapEffect::Absorbed => {
                        ctx.counters.body_gaps += 1;
                        self.halves[dir].body_gap = true;
                        true
                    }
                    GapEffect::Done { rest } => {
                        ctx.counters.body_gaps += 1;
                        self.halves[dir].body_gap = true;
                        self.finish_message(ctx, conn, dir, ts, true, None);
                        rest == 0 || self.gap(ctx, conn, dir, rest, ts)
                    }
                    GapEffect::Broken => {
                        if close {
                            ctx.counters.body_gaps += 1;
                            self.halves[dir].body_gap = true;
                        }
                        self.finish_message(ctx, conn, dir, ts, false, None);
                        self.halves[dir].resync(true);
                        false
                    }
                }
            }
            Phase::Head => {
                self.interrupt_head(ctx, conn, dir, ts, None);
                self.halves[dir].at_line_start = true;
                false
            }
            Phase::Start { resync } => {
                let resync = *resync;
                let h = &mut self.halves[dir];
                let had_bytes = !h.buf.is_empty();
                if had_bytes {
                    ctx.counters.resync_skipped_bytes += h.buf.len() as u64;
                }
                if !resync && dir == Direction::ToClient {
                    // Between responses (or inside a status line): the lost bytes most
                    // likely held the response to the oldest waiting request.
                    if had_bytes || self.front_waiting().is_some_and(|e| e.response.is_none()) {
                        self.lose_front_response(ctx, ts);
                        self.pop_done(ctx, conn, ts);
                    }
                }
                self.halves[dir].resync(true);
                false
            }
            Phase::AwaitSwitch { .. } => {
                self.halves[dir].held_lost = true;
                false
            }
            Phase::TunnelProbe => {
                // The tunnel's first bytes are lost: what it carries stays unknown.
                let h = &mut self.halves[dir];
                ctx.counters.tunnel_bytes += h.held.len() as u64;
                h.held = Vec::new();
                h.reset_candidate();
                h.phase = Phase::Tunnel;
                true
            }
            Phase::Tunnel | Phase::Ended => true,
        }
    }

    /// Direction `dir` ended: finish what the end delimits, interrupt what it cuts.
    /// `close_ends_body`: a close-delimited body is complete (FIN, RST).
    fn end_direction(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        ts: Timestamp,
        close_ends_body: bool,
    ) {
        match &self.halves[dir].phase {
            Phase::Body(reader) => {
                let complete = close_ends_body && reader.is_close_delimited();
                self.finish_message(ctx, conn, dir, ts, complete, None);
            }
            Phase::Head => self.interrupt_head(ctx, conn, dir, ts, None),
            Phase::Start { resync } if !self.halves[dir].buf.is_empty() => {
                let strict = !*resync;
                ctx.counters.resync_skipped_bytes += self.halves[dir].buf.len() as u64;
                if dir == Direction::ToClient && strict {
                    self.lose_front_response(ctx, ts);
                }
            }
            _ => {}
        }
        let h = &mut self.halves[dir];
        h.reset_candidate();
        if !matches!(h.phase, Phase::AwaitSwitch { .. }) {
            h.phase = Phase::Ended;
        }
    }
}

impl StreamHandler for HttpConn {
    type Ctx = HttpCtx;

    fn on_data(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        data: &[u8],
        ts: Timestamp,
    ) {
        if dir == Direction::ToServer {
            self.end_lost_bodyless(ctx, conn, ts);
        }
        let base = self.pairing.deliver(dir, data.len() as u64);
        self.feed_at(ctx, conn, dir, data, ts, Some(base));
        self.pairing.end_delivery(dir);
    }

    /// Kept for the bytes that follow (see `AckPairing::on_ack`).
    fn on_ack(&mut self, _ctx: &mut HttpCtx, _conn: &ConnInfo, dir: Direction, ack: u64) {
        self.pairing.on_ack(dir, ack);
    }

    fn on_gap(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        len: u64,
        ts: Timestamp,
    ) {
        let start = self.pairing.deliver(dir, len);
        self.pairing.clear_acks();
        let absorbed = self.gap(ctx, conn, dir, len, ts);
        self.pairing.after_gap(dir, start, len, absorbed);
    }

    /// The server's FIN ends close-delimited responses and means nothing more will be
    /// answered. The client's FIN only ends the request side: a half-closed connection
    /// can still carry the answers to requests already sent (RFC 9112 §9.6).
    fn on_fin(&mut self, ctx: &mut HttpCtx, conn: &ConnInfo, dir: Direction, ts: Timestamp) {
        self.end_direction(ctx, conn, dir, ts, true);
        if dir == Direction::ToClient {
            self.release_held(ctx, conn, ts, true);
            self.abandon_waiting(ctx, conn, Unanswered::ConnectionClosed, ts);
        }
    }

    fn on_close(&mut self, ctx: &mut HttpCtx, conn: &ConnInfo, reason: CloseReason, ts: Timestamp) {
        // RST after a close-delimited body is how many servers end it; idle, eviction and
        // end of capture say nothing about the body being complete.
        let ends_body = matches!(reason, CloseReason::Fin | CloseReason::Reset);
        self.release_held(ctx, conn, ts, true);
        self.end_direction(ctx, conn, Direction::ToServer, ts, ends_body);
        self.end_direction(ctx, conn, Direction::ToClient, ts, ends_body);
        let why = match reason {
            CloseReason::EndOfCapture => Unanswered::EndOfCapture,
            CloseReason::Evicted => Unanswered::Evicted,
            _ => Unanswered::ConnectionClosed,
        };
        self.abandon_waiting(ctx, conn, why, ts);
        if let Some(e) = self.pairing.lost.take() {
            // Its response was cut: `end_direction` above finished it unless it never had
            // a body reader (unreachable), so export it as it is.
            self.emit(ctx, conn, *e, ts);
        }
        // Anything left (requests still in progress were finished above) goes out now.
        while let Some(mut e) = self.queue.pop_front() {
            e.req_done = true;
            self.emit(ctx, conn, e, ts);
        }
        for h in self.halves.iter_mut() {
            h.phase = Phase::Ended;
        }
    }

    /// Heap held: head buffers, bodies in progress, and every queued request and response.
    fn mem_bytes(&self) -> usize {
        let halves: usize = self
            .halves
            .iter()
            .map(|h| {
                let body = match &h.phase {
                    Phase::Body(r) => std::mem::size_of::<BodyReader>() + r.heap_bytes(),
                    _ => 0,
                };
                h.buf.capacity() + h.held.capacity() + body
            })
            .sum();
        std::mem::size_of::<Self>()
            + halves
            + self.switch.as_ref().map_or(0, |s| s.heap_bytes())
            + self.queue.heap_bytes()
    }

    /// The memory budget ran out: bodies in progress stop keeping bytes and the kept bytes
    /// of queued messages are dropped; every size stays exact, each message is flagged.
    fn shed_memory(&mut self, ctx: &mut HttpCtx) -> bool {
        let mut dropped = false;
        for h in self.halves.iter_mut() {
            if let Phase::Body(r) = &mut h.phase {
                dropped |= r.shed();
            }
        }
        for e in self.queue.iter_mut() {
            if let Some(r) = e.request.as_mut() {
                if r.body.drop_data() {
                    dropped = true;
                    add_anomaly(&mut e.req_anomalies, Anomaly::MemoryLimit);
                }
            }
            if let Some(r) = e.response.as_mut() {
                if r.body.drop_data() {
                    dropped = true;
                    add_anomaly(&mut e.resp_anomalies, Anomaly::MemoryLimit);
                }
            }
        }
        if dropped {
            ctx.counters.memory_limit_bodies_dropped += 1;
        }
        dropped
    }

    fn on_tick(&mut self, ctx: &mut HttpCtx, conn: &ConnInfo, now: Timestamp) {
        let timeout = ctx.limits.response_timeout;
        let mut expired = Vec::new();
        for e in self.queue.iter_mut() {
            let Some(r) = e.request.as_ref() else {
                continue;
            };
            if e.req_done && !e.resp_done && e.response.is_none() && now.since(r.last_ts) >= timeout
            {
                // Export now, keep a tombstone: the late response is framed by this
                // method (HEAD!) and skipped, not paired with the next request.
                expired.push(e.expire());
            }
        }
        for e in expired {
            ctx.counters.response_timeouts += 1;
            self.emit(ctx, conn, e, now);
        }
        self.release_held(ctx, conn, now, false);
        self.pop_done(ctx, conn, now);
    }
}

#[cfg(test)]
mod tests {
    use super::HttpConn;
    use crate::http::queue::Entry;
    use crate::http::testing::{pair, pairs, Drive, REQ_A, REQ_B, REQ_C, RESP_A, RESP_B, RESP_C};
    use crate::http::HttpLimits;
    use crate::model::{Anomaly, Direction::ToClient, Direction::ToServer, Unanswered};
    use crate::reassembly::StreamHandler;
    use crate::time::Timestamp;

    /// `mem_bytes` charges the inline sizes of `HttpConn` and `Entry`: the split into
    /// files and sub-structs (`AckPairing`, `PerDirection`) must not change them, or the
    /// memory budget would act differently (480 and 640 bytes before the split, on 64-bit;
    /// the h2c switch's box made it 488, issue 11; the overlap-conflict spans' box 496,
    /// issue 9; `Body::gap_ranges` added 24 bytes to each of an entry's two bodies,
    /// issue 14; the queue's remembered heap sum 16, issue 12; the shape each direction's
    /// head scanner notes on its way, 32, issue 12).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn inline_sizes_are_as_before_the_split() {
        assert_eq!(std::mem::size_of::<HttpConn>(), 544);
        assert_eq!(std::mem::size_of::<Entry>(), 688);
    }

    #[test]
    fn a_gap_inside_a_body_of_known_length_is_flagged_and_parsing_goes_on() {
        let mut d = Drive::new(false);
        d.after_all(ToServer, REQ_A);
        d.after_all(
            ToClient,
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123",
        );
        d.gap(ToClient, 4);
        d.after_all(ToClient, b"89");
        d.after_all(ToServer, REQ_B);
        d.after_all(ToClient, RESP_B);
        let (out, ctx) = d.end();
        assert_eq!(
            pairs(&out),
            vec![pair("GET", "/a", 200), pair("GET", "/b", 404)]
        );
        assert!(out[0].anomalies.contains(&Anomaly::BodyGap));
        let body = out[0]
            .response
            .as_ref()
            .map(|r| (r.body.missing, r.complete));
        assert_eq!(body, Some((4, false)));
        // Where: after the 4 bytes kept ("0123"), 4 bytes long; "89" follows it.
        let r = out[0].response.as_ref().unwrap();
        assert_eq!(r.body.gap_ranges, [(4, 4)]);
        assert_eq!(r.body.data, b"012389");
        assert_eq!(ctx.counters.body_gaps, 1);
    }

    /// Conflicting bytes announced before a delivery flag exactly the messages they fall
    /// in: here the second of three pipelined requests, then the first response's body.
    #[test]
    fn overlap_conflicts_flag_the_messages_whose_bytes_they_cover() {
        let mut d = Drive::new(false);
        let mut reqs = REQ_A.to_vec();
        reqs.extend_from_slice(REQ_B);
        reqs.extend_from_slice(REQ_C);
        // Bytes 3..5 of REQ_B.
        d.h.overlap_conflict(ToServer, REQ_A.len() as u64 + 3, 2);
        d.after_all(ToServer, &reqs);
        // The last byte of RESP_A (its body), delivered in a later call than announced.
        d.h.overlap_conflict(ToClient, RESP_A.len() as u64 - 1, 1);
        d.after_all(ToClient, &RESP_A[..10]);
        d.after_all(ToClient, &RESP_A[10..]);
        d.after_all(ToClient, RESP_B);
        d.after_all(ToClient, RESP_C);
        let (out, ctx) = d.end();
        assert_eq!(
            pairs(&out),
            vec![
                pair("GET", "/a", 200),
                pair("GET", "/b", 404),
                pair("GET", "/c", 201)
            ]
        );
        let flagged: Vec<bool> = out
            .iter()
            .map(|t| t.anomalies.contains(&Anomaly::OverlapConflict))
            .collect();
        assert_eq!(flagged, vec![true, true, false]);
        assert_eq!(ctx.counters.overlap_conflict_messages, 2);
    }

    /// A later copy of bytes already parsed differed (`delivered_conflict`): the message
    /// in progress is flagged; a request already complete while its response is awaited
    /// is; between transactions, the next message of that direction is.
    #[test]
    fn delivered_conflicts_flag_the_message_in_progress_the_awaiting_request_or_the_next() {
        let mut d = Drive::new(false);
        // In progress: half of RESP_A delivered.
        d.after_all(ToServer, REQ_A);
        d.after_all(ToClient, &RESP_A[..10]);
        d.h.delivered_conflict(&mut d.ctx, ToClient);
        d.after_all(ToClient, &RESP_A[10..]);
        // Complete, awaiting its response.
        d.after_all(ToServer, REQ_B);
        d.h.delivered_conflict(&mut d.ctx, ToServer);
        d.after_all(ToClient, RESP_B);
        // Between transactions: the next response (not the next request's).
        d.h.delivered_conflict(&mut d.ctx, ToClient);
        d.after_all(ToServer, REQ_C);
        d.after_all(ToClient, RESP_C);
        // Nothing pending any more: the last is clean.
        d.after_all(ToServer, REQ_A);
        d.after_all(ToClient, RESP_A);
        let (out, ctx) = d.end();
        let flagged: Vec<bool> = out
            .iter()
            .map(|t| t.anomalies.contains(&Anomaly::OverlapConflict))
            .collect();
        assert_eq!(flagged, vec![true, true, true, false]);
        assert_eq!(ctx.counters.overlap_conflict_messages, 3);
    }

    /// A conflict at the very first byte of a message after one that ends just before it
    /// flags only the later one.
    #[test]
    fn an_overlap_conflict_at_a_message_start_does_not_flag_the_one_before() {
        let mut d = Drive::new(false);
        let mut reqs = REQ_A.to_vec();
        reqs.extend_from_slice(REQ_B);
        d.h.overlap_conflict(ToServer, REQ_A.len() as u64, 1);
        d.after_all(ToServer, &reqs);
        d.after_all(ToClient, RESP_A);
        d.after_all(ToClient, RESP_B);
        let (out, _) = d.end();
        let flagged: Vec<bool> = out
            .iter()
            .map(|t| t.anomalies.contains(&Anomaly::OverlapConflict))
            .collect();
        assert_eq!(flagged, vec![false, true]);
    }

    #[test]
    fn a_gap_inside_a_head_ends_the_message_and_the_direction_resyncs() {
        let mut d = Drive::new(false);
        d.after_all(ToServer, b"GET /a HTTP/1.1\r\nHost: x\r\n");
        d.gap(ToServer, 10);
        d.after_all(ToServer, b"ost: y\r\n\r\n");
        d.after_all(ToServer, REQ_B);
        d.after_all(ToClient, RESP_A);
        d.after_all(ToClient, RESP_B);
        let (out, ctx) = d.end();
        assert_eq!(
            pairs(&out),
            vec![pair("GET", "/a", 200), pair("GET", "/b", 404)]
        );
        assert!(out[0].anomalies.contains(&Anomaly::RequestInterrupted));
        assert!(!out[0].request.complete);
        assert_eq!(ctx.counters.interrupted_messages, 1);
    }

    #[test]
    fn a_timed_out_request_leaves_a_tombstone_that_consumes_its_late_response() {
        let mut d = Drive::new(false);
        d.after_all(ToServer, REQ_A);
        assert_eq!(d.h.pending(), 1);
        let later = Timestamp::from_secs_nanos(100_000, 0);
        d.h.on_tick(&mut d.ctx, &d.conn, later);
        assert_eq!(d.h.pending(), 0);
        assert_eq!(d.ctx.out.len(), 1);
        d.after_all(ToServer, REQ_B);
        d.after_all(ToClient, RESP_A);
        d.after_all(ToClient, RESP_B);
        let (out, ctx) = d.end();
        assert_eq!(
            pairs(&out),
            vec![pair("GET", "/a", 0), pair("GET", "/b", 404)]
        );
        assert!(out[0]
            .anomalies
            .contains(&Anomaly::Unanswered(Unanswered::Timeout)));
        assert_eq!(ctx.counters.late_responses, 1);
        assert_eq!(ctx.counters.response_timeouts, 1);
    }

    #[test]
    fn at_the_pending_limit_the_oldest_is_exported_and_its_response_skipped() {
        let limits = HttpLimits {
            max_pending_requests: 1,
            ..HttpLimits::default()
        };
        let mut d = Drive::with_limits(false, limits);
        d.after_all(ToServer, REQ_A);
        d.after_all(ToServer, REQ_B);
        d.after_all(ToClient, RESP_A);
        d.after_all(ToClient, RESP_B);
        let (out, ctx) = d.end();
        assert_eq!(
            pairs(&out),
            vec![pair("GET", "/a", 0), pair("GET", "/b", 404)]
        );
        assert!(out[0]
            .anomalies
            .contains(&Anomaly::Unanswered(Unanswered::PendingLimit)));
        assert_eq!(ctx.counters.pending_limit_hits, 1);
    }

    #[test]
    fn interim_responses_stay_on_their_request_and_head_responses_have_no_body() {
        let mut d = Drive::new(false);
        d.after_all(ToServer, b"HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n");
        d.after_all(ToClient, b"HTTP/1.1 100 Continue\r\n\r\n");
        d.after_all(ToClient, b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n");
        d.after_all(ToServer, REQ_B);
        d.after_all(ToClient, RESP_B);
        let (out, ctx) = d.end();
        assert_eq!(
            pairs(&out),
            vec![pair("HEAD", "/a", 200), pair("GET", "/b", 404)]
        );
        let interim = out[0].response.as_ref().map(|r| r.interim.len());
        assert_eq!(interim, Some(1));
        assert_eq!(ctx.counters.interim_responses, 1);
    }

    #[test]
    fn memory_is_charged_for_heads_and_bodies_in_progress_and_shed_on_demand() {
        let mut d = Drive::new(false);
        let empty = d.h.mem_bytes();
        assert_eq!(empty, std::mem::size_of::<HttpConn>());
        d.after_all(
            ToServer,
            b"POST /a HTTP/1.1\r\nContent-Length: 100\r\n\r\n0123456789",
        );
        assert!(d.h.mem_bytes() > empty);
        assert!(d.h.shed_memory(&mut d.ctx));
        assert_eq!(d.ctx.counters.memory_limit_bodies_dropped, 1);
        d.fin(ToClient);
    }

    /// No output reads bodies (`HttpCtx::keep_bodies` false): the same transactions, flags
    /// and counters as when they are stored, every size exact, no byte kept; a gzip body
    /// is not decoded, so a corrupt one is neither flagged nor counted.
    #[test]
    fn sizes_only_keeps_sizes_flags_and_counters() {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&[b'z'; 5000]).unwrap();
        let gz = e.finish().unwrap();
        let run = |keep_bodies: bool| {
            let mut d = Drive::new(false);
            d.ctx.keep_bodies = keep_bodies;
            d.after_all(
                ToServer,
                b"POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
            );
            d.after_all(
                ToClient,
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            );
            d.after_all(ToServer, REQ_A);
            let mut head = format!(
                "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
                gz.len()
            )
            .into_bytes();
            head.extend_from_slice(&gz);
            d.after_all(ToClient, &head);
            d.after_all(ToServer, REQ_B);
            d.after_all(
                ToClient,
                b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope",
            );
            d.end()
        };
        let (stored, stored_ctx) = run(true);
        let (counted, counted_ctx) = run(false);
        assert_eq!(stored_ctx.counters.decode_failures, 1);
        assert_eq!(counted_ctx.counters.decode_failures, 0);
        let mut decoding_aside = stored_ctx.counters.clone();
        decoding_aside.decode_failures = 0;
        // The decode-failed flag was the only one.
        decoding_aside.anomalies -= 1;
        assert_eq!(decoding_aside, counted_ctx.counters);
        assert_eq!(stored.len(), 3);
        assert_eq!(counted.len(), 3);
        for (a, b) in stored.iter().zip(&counted).take(2) {
            assert_eq!(a.anomalies, b.anomalies);
            let bodies = |t: &crate::model::Transaction| {
                [
                    t.request.body.clone(),
                    t.response.as_ref().unwrap().body.clone(),
                ]
            };
            for (x, y) in bodies(a).iter().zip(bodies(b).iter()) {
                assert_eq!(
                    (x.len, x.wire_len, x.missing),
                    (y.len, y.wire_len, y.missing)
                );
                if y.decoded != crate::model::Decoded::Skipped {
                    assert_eq!(x.content_len(), y.content_len());
                }
                assert_eq!(x.truncated, y.truncated);
                assert!(y.data.is_empty());
                assert_eq!(y.dropped, y.len > 0);
            }
        }
        let gzipped = &counted[1].response.as_ref().unwrap().body;
        assert_eq!(gzipped.decoded, crate::model::Decoded::Skipped);
        assert_eq!(gzipped.content_len(), gz.len() as u64);
        assert_eq!(
            stored[1].response.as_ref().unwrap().body.content_len(),
            5000
        );
        let decode_failed = |t: &crate::model::Transaction| {
            t.anomalies
                .iter()
                .any(|a| matches!(a, Anomaly::DecodeFailed(_)))
        };
        assert!(decode_failed(&stored[2]));
        assert!(!decode_failed(&counted[2]));
    }
}
